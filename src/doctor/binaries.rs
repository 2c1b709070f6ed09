//! The programs on `PATH` doctor looks at: each Codex release (and whether cdxs supports it),
//! and stray cdxs binaries.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Check, CodexBinary, Status, check};
use crate::codex::schema::RELEASES;
use crate::paths;
use crate::platform;

/// `PROGRAM --version`, bounded in time (a hung binary must not hang doctor).
pub(super) fn version_of(program: &Path) -> Option<String> {
    let mut child = std::process::Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .last()
        .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|v| v.chars().take(40).collect())
}

pub(super) fn codex_binaries(path_var: Option<&OsStr>) -> Vec<CodexBinary> {
    platform::path::on_path(path_var, "codex")
        .into_iter()
        .map(|path| {
            let version = version_of(&path);
            let supported = version
                .as_deref()
                .is_some_and(|v| RELEASES.iter().any(|r| r.codex == v));
            CodexBinary {
                path,
                version,
                supported,
            }
        })
        .collect()
}

/// `0.171.0` -> (0, 171, 0), for "newer than" comparisons.
fn semver(v: &str) -> Option<(u64, u64, u64)> {
    let mut it = v.split(['.', '-']).map(|p| p.parse::<u64>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

pub(super) fn supported_list() -> String {
    RELEASES
        .iter()
        .map(|r| r.codex)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn codex_checks(found: &[CodexBinary]) -> Vec<Check> {
    if found.is_empty() {
        return vec![check(
            "codex",
            Status::Warn,
            "no `codex` on PATH (cdxs manages its files without it)".into(),
            Some(format!(
                "install a supported release: `npm install -g @openai/codex@{}`",
                RELEASES[RELEASES.len() - 1].codex
            )),
        )];
    }
    let newest = RELEASES[RELEASES.len() - 1].codex;
    let mut out: Vec<Check> = found
        .iter()
        .map(|b| {
            let shown = paths::display(&b.path);
            match (&b.version, b.supported) {
                (Some(v), true) => check(
                    "codex",
                    Status::Ok,
                    format!("codex {v} at `{shown}` (supported)"),
                    None,
                ),
                (Some(v), false) if semver(v) > semver(newest) => check(
                    "codex",
                    Status::Warn,
                    format!(
                        "codex {v} at `{shown}` is newer than cdxs knows ({}): cdxs writes its homes while their structure matches Codex {newest}'s (see the homes below)",
                        supported_list()
                    ),
                    None,
                ),
                (Some(v), false) => check(
                    "codex",
                    Status::Action,
                    format!(
                        "codex {v} at `{shown}` is older than cdxs supports ({})",
                        supported_list()
                    ),
                    Some(format!("upgrade it: `npm install -g @openai/codex@{newest}`")),
                ),
                (None, _) => check(
                    "codex",
                    Status::Warn,
                    format!("`{shown}` did not answer `--version`"),
                    None,
                ),
            }
        })
        .collect();
    if found.len() > 1 {
        out.push(check(
            "codex",
            Status::Warn,
            format!(
                "{} codex binaries on PATH: `{}` is the one that runs",
                found.len(),
                paths::display(&found[0].path)
            ),
            None,
        ));
    }
    out
}

pub(super) fn cdxs_on_path(path_var: Option<&OsStr>) -> Vec<Check> {
    let found = platform::path::on_path(path_var, "cdxs");
    let running = std::env::current_exe()
        .ok()
        .and_then(|p| platform::path::canonicalize(&p).ok());
    let first_is_me = found
        .first()
        .and_then(|p| platform::path::canonicalize(p).ok())
        .is_some_and(|p| Some(p) == running);
    match found.len() {
        0 => vec![check(
            "path",
            Status::Warn,
            "no `cdxs` on PATH (services and scripts will not find this one)".into(),
            Some("`cargo install --path .`, or put the binary in a folder on PATH".into()),
        )],
        1 => vec![check(
            "path",
            Status::Ok,
            format!(
                "`{}` is the cdxs on PATH{}",
                paths::display(&found[0]),
                if first_is_me { " (this one)" } else { "" }
            ),
            None,
        )],
        _ => {
            let versions: Vec<String> = found
                .iter()
                .map(|p| {
                    format!(
                        "`{}` ({})",
                        paths::display(p),
                        version_of(p).unwrap_or_else(|| "?".into())
                    )
                })
                .collect();
            vec![check(
                "path",
                Status::Action,
                format!(
                    "{} cdxs binaries on PATH: {}; the first wins (a service may run another)",
                    found.len(),
                    versions.join(", ")
                ),
                Some("remove the ones you do not use".into()),
            )]
        }
    }
}
