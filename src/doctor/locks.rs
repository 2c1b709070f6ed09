//! Who holds the lock files of cdxs and of Codex, where the OS says.

use std::path::{Path, PathBuf};

use super::{Check, Status, check};
use crate::paths;
use crate::platform;

/// Lock files of cdxs (in the state folder) and of Codex (in each home), and who holds them
/// now, where the OS says (Linux: nothing is locked or opened for writing to find out).
pub(super) fn lock_checks(state_dir: &Path, homes: &[(String, PathBuf)]) -> Vec<Check> {
    let table = platform::locks::LockTable::read();
    if !table.can_tell() {
        return vec![check(
            "locks",
            Status::Ok,
            format!(
                "this system ({}) does not say who holds a lock, and doctor takes none to find out; a command that waits for one says so",
                platform::OS
            ),
            None,
        )];
    }
    let mut files = cdxs_lock_files(state_dir, homes);
    for (name, home) in homes {
        for f in ["auth.lock", "auth.json.lock", "session_index.jsonl.lock"] {
            files.push((format!("home `{name}`"), home.join(f)));
        }
        if let Ok(entries) = std::fs::read_dir(home.join("thread-writer-locks")) {
            for e in entries.flatten() {
                files.push((format!("home `{name}`"), e.path()));
            }
        }
    }
    files.sort();
    let mut out: Vec<Check> = files
        .iter()
        .filter_map(|(owner, file)| Some(held_check(owner, file, table.holder(file)?)))
        .collect();
    if out.is_empty() {
        out.push(check("locks", Status::Ok, "no lock is held".into(), None));
    }
    out
}

/// The lock files in cdxs's state folder, each with whose it is.
fn cdxs_lock_files(state_dir: &Path, homes: &[(String, PathBuf)]) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    // cdxs's per-home locks are named by a hash of the folder: say which home.
    let by_file: Vec<(String, &String, &PathBuf)> = homes
        .iter()
        .map(|(name, path)| (crate::vault::lock::home_file(path), name, path))
        .collect();
    if let Ok(entries) = std::fs::read_dir(state_dir.join("locks")) {
        for e in entries.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let owner = match by_file.iter().find(|(f, _, _)| *f == file) {
                Some((_, name, path)) => format!(
                    "cdxs, the lock of home `{name}` (`{}`)",
                    paths::display(path)
                ),
                None if file.starts_with("home-") => {
                    "cdxs, the lock of a home cdxs.yaml does not declare".into()
                }
                None => "cdxs".into(),
            };
            files.push((owner, e.path()));
        }
    }
    files
}

/// Lock `file` of `owner` is held by process `pid`: a live thread (Codex has it open) is
/// fine; any other lock held may be a stuck process.
fn held_check(owner: &str, file: &Path, pid: u32) -> Check {
    let comm = platform::process::command_name(pid);
    let what = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let who = match comm {
        Some(c) => format!("pid {pid} ({})", crate::output::sanitize(&c)),
        None => format!("pid {pid}"),
    };
    let live_thread = file
        .parent()
        .is_some_and(|p| p.ends_with("thread-writer-locks"))
        && what != ".coordination.lock";
    check(
        "locks",
        if live_thread {
            Status::Ok
        } else {
            Status::Warn
        },
        if live_thread {
            format!(
                "{owner}: thread {} is live, held by {who}",
                what.trim_end_matches(".lock")
            )
        } else {
            format!("{owner}: `{what}` is held by {who}")
        },
        (!live_thread).then(|| {
            "if that process is stuck, stop it; cdxs and Codex wait for this lock".to_string()
        }),
    )
}
