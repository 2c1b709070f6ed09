//! `cdxs doctor`: what a person or a bug report needs on one screen. Every check is read
//! only (doctor creates no folder, opens no database for writing, takes no lock): the Codex
//! releases on `PATH`, the schema of each home's databases and the structural gate's
//! verdict, the state folder's permissions, the manifest, who holds which lock, the inotify
//! limits `watch` needs, and stray cdxs binaries.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

mod codex_settings;
mod vault_checks;

use crate::codex::schema::{RELEASES, Verdict};
use crate::codex::state::{self, HISTORY_DB, STATE_DB};
use crate::fsx;
use crate::manifest::Manifest;
use crate::paths;
use crate::platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Worth knowing, nothing is broken (or only for a moment: a lock held, a server away):
    /// doctor exits 1 on it only with `--strict`.
    Warn,
    /// Something needs doing: doctor exits 1.
    Action,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `codex`, `codex settings`, `home`, `state`, `manifest`, `accounts`, `sync`, `locks`,
    /// `watch`, `service`, `path`.
    pub area: &'static str,
    pub status: Status,
    pub message: String,
    /// What to do, when something needs doing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodexBinary {
    pub path: PathBuf,
    pub version: Option<String>,
    pub supported: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DbReport {
    pub file: &'static str,
    pub version: i64,
    /// `known`, `older`, `same-structure`, `different`.
    pub verdict: &'static str,
    pub writable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HomeReport {
    pub name: String,
    pub path: PathBuf,
    pub exists: bool,
    pub databases: Vec<DbReport>,
    /// The settings Codex acts on there, each with the layer that set it.
    pub codex_settings: crate::codex::settings::Effective,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub cdxs_version: &'static str,
    pub supported_codex: Vec<&'static str>,
    pub codex: Vec<CodexBinary>,
    pub homes: Vec<HomeReport>,
    pub checks: Vec<Check>,
    pub needs_action: bool,
    /// How many checks are at `warn`.
    pub warnings: usize,
}

/// Where doctor looks.
pub struct Inputs<'a> {
    pub state_dir: &'a Path,
    pub manifest_path: PathBuf,
    /// The manifest, or why it could not be loaded (`None`: there is none).
    pub manifest: Option<std::result::Result<Manifest, String>>,
    pub default_home: Option<PathBuf>,
    /// `$PATH`.
    pub path_var: Option<std::ffi::OsString>,
    pub now: i64,
}

fn check(area: &'static str, status: Status, message: String, fix: Option<String>) -> Check {
    Check {
        area,
        status,
        message,
        fix,
    }
}

pub fn run(inputs: &Inputs) -> Report {
    let mut checks = Vec::new();
    let codex = codex_binaries(inputs.path_var.as_deref());
    checks.extend(codex_checks(&codex));
    let homes = home_list(inputs);
    let mut reports = Vec::new();
    let machine = crate::codex::settings::MachineLayers::read();
    let manifest = match &inputs.manifest {
        Some(Ok(m)) => Some(m),
        _ => None,
    };
    let mut settings_checks = Vec::new();
    for (name, path) in &homes {
        let (mut r, c) = home_report(name, path);
        let (settings, s) = codex_settings::checks(name, path, manifest, &machine);
        r.codex_settings = settings;
        reports.push(r);
        checks.extend(c);
        settings_checks.extend(s);
    }
    checks.extend(settings_checks);
    checks.extend(state_checks(inputs.state_dir));
    checks.push(manifest_check(inputs));
    checks.extend(vault_checks::account_checks(inputs.state_dir));
    checks.extend(vault_checks::sync_checks(inputs.state_dir, inputs.now));
    checks.extend(lock_checks(inputs.state_dir, &homes));
    checks.extend(watch_checks(homes.len()));
    checks.extend(service_checks());
    checks.extend(cdxs_on_path(inputs.path_var.as_deref()));
    let needs_action = checks.iter().any(|c| c.status == Status::Action);
    let warnings = checks.iter().filter(|c| c.status == Status::Warn).count();
    Report {
        cdxs_version: env!("CARGO_PKG_VERSION"),
        supported_codex: RELEASES.iter().map(|r| r.codex).collect(),
        codex,
        homes: reports,
        checks,
        needs_action,
        warnings,
    }
}

/// Every executable named `name` in the folders of `$PATH`, in order, without duplicates
/// (on Windows `name.exe`, `name.cmd`, ...: every `%PATHEXT%` spelling).
fn on_path(path_var: Option<&OsStr>, name: &str) -> Vec<PathBuf> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let names = platform::path::executable_names(name);
    for dir in std::env::split_paths(path_var.unwrap_or_default()) {
        for file in &names {
            let candidate = dir.join(file);
            let Ok(meta) = std::fs::metadata(&candidate) else {
                continue;
            };
            if !platform::fs::is_executable(&meta) {
                continue;
            }
            let real = platform::path::canonicalize(&candidate).unwrap_or(candidate.clone());
            if seen.insert(real) {
                out.push(candidate);
            }
        }
    }
    out
}

/// `PROGRAM --version`, bounded in time (a hung binary must not hang doctor).
fn version_of(program: &Path) -> Option<String> {
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

fn codex_binaries(path_var: Option<&OsStr>) -> Vec<CodexBinary> {
    on_path(path_var, "codex")
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

fn supported_list() -> String {
    RELEASES
        .iter()
        .map(|r| r.codex)
        .collect::<Vec<_>>()
        .join(", ")
}

fn codex_checks(found: &[CodexBinary]) -> Vec<Check> {
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

fn home_list(inputs: &Inputs) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = match &inputs.manifest {
        Some(Ok(m)) => m
            .homes
            .values()
            .map(|h| (h.name.clone(), h.path.clone()))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(d) = &inputs.default_home
        && !out.iter().any(|(_, p)| p == d)
    {
        let name = if out.iter().any(|(n, _)| n == "default") {
            paths::display(d)
        } else {
            "default".to_string()
        };
        out.push((name, d.clone()));
    }
    out
}

fn home_report(name: &str, path: &Path) -> (HomeReport, Vec<Check>) {
    let mut checks = Vec::new();
    let mut dbs = Vec::new();
    let exists = path.is_dir();
    let shown = paths::display(path);
    if !exists {
        checks.push(check(
            "home",
            Status::Ok,
            format!("home `{name}` (`{shown}`) does not exist yet"),
            None,
        ));
    } else {
        for file in [STATE_DB, HISTORY_DB] {
            if let Some((c, report)) = database_report(name, &shown, path, file) {
                checks.push(c);
                dbs.extend(report);
            }
        }
        if checks.is_empty() {
            checks.push(check(
                "home",
                Status::Ok,
                format!("home `{name}` (`{shown}`): Codex has not made its databases here yet"),
                None,
            ));
        }
    }
    (
        HomeReport {
            name: name.to_string(),
            path: path.to_path_buf(),
            exists,
            databases: dbs,
            codex_settings: Default::default(),
        },
        checks,
    )
}

/// One database of a home (`None`: Codex has not made it): how its schema compares with
/// the Codex releases cdxs knows, and whether cdxs writes it.
fn database_report(
    name: &str,
    shown: &str,
    path: &Path,
    file: &'static str,
) -> Option<(Check, Option<DbReport>)> {
    let db = match state::open(path, file, false) {
        Ok(Some(db)) => db,
        Ok(None) => return None,
        Err(e) => {
            let c = check(
                "home",
                Status::Action,
                format!("home `{name}`: {e}"),
                Some("run Codex there once; never delete the database".into()),
            );
            return Some((c, None));
        }
    };
    let verdict = match db.judge() {
        Ok(v) => v,
        Err(e) => {
            let c = check(
                "home",
                Status::Action,
                format!("home `{name}`: cannot read the schema of `{file}`: {e}"),
                None,
            );
            return Some((c, None));
        }
    };
    let message = state::gate_message(&db.path, db.version, &verdict);
    let (word, status, what) = verdict_words(&verdict);
    let c = check(
        "home",
        status,
        match (&verdict, &message) {
            (Verdict::Different { .. }, Some(m)) => format!("home `{name}`: {m}"),
            _ => format!(
                "home `{name}` (`{shown}`): `{file}` schema {} ({what})",
                db.version
            ),
        },
        (status == Status::Action).then(|| {
            format!(
                "upgrade cdxs (this one knows Codex {}); reading keeps working",
                supported_list()
            )
        }),
    );
    let report = DbReport {
        file,
        version: db.version,
        verdict: word,
        writable: verdict.writable(),
        message,
    };
    Some((c, Some(report)))
}

/// A schema verdict as its word in `--json`, its status, and what it means.
fn verdict_words(verdict: &Verdict) -> (&'static str, Status, String) {
    match verdict {
        Verdict::Known { codex } => ("known", Status::Ok, format!("Codex {codex}")),
        Verdict::Older => (
            "older",
            Status::Warn,
            format!(
                "older than Codex {}; Codex migrates it when it next runs there",
                RELEASES[0].codex
            ),
        ),
        Verdict::Same { like, .. } => (
            "same-structure",
            Status::Ok,
            format!("unknown to cdxs, same structure as Codex {like}'s: written"),
        ),
        Verdict::Different { .. } => ("different", Status::Action, "read only".into()),
    }
}

fn state_checks(dir: &Path) -> Vec<Check> {
    let shown = paths::display(dir);
    let Ok(meta) = std::fs::metadata(dir) else {
        return vec![check(
            "state",
            Status::Ok,
            format!("state folder `{shown}` does not exist yet (created 0700 on first use)"),
            None,
        )];
    };
    let mut out = Vec::new();
    let Some(mode) = platform::fs::mode(&meta).map(|m| m & 0o777) else {
        // Windows: no mode bits; the folder has the ACL its parent passes on.
        return vec![check(
            "state",
            Status::Ok,
            format!("state folder `{shown}` (private through its parent folder's ACL)"),
            None,
        )];
    };
    if mode & 0o077 != 0 {
        out.push(check(
            "state",
            Status::Action,
            format!(
                "state folder `{shown}` is {mode:03o}: other users can reach the vault's folder"
            ),
            Some(format!("`chmod 700 {shown}`")),
        ));
    } else {
        out.push(check(
            "state",
            Status::Ok,
            format!("state folder `{shown}` is {mode:03o}"),
            None,
        ));
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.join(format!("{}{suffix}", crate::vault::VAULT_FILE));
        if let Some(m) = fsx::mode_of(&file)
            && m & 0o077 != 0
        {
            out.push(check(
                "state",
                Status::Action,
                format!("`{}` is {m:03o}: it holds tokens", paths::display(&file)),
                Some(format!("`chmod 600 {}`", paths::display(&file))),
            ));
        }
    }
    out
}

fn manifest_check(inputs: &Inputs) -> Check {
    let shown = paths::display(&inputs.manifest_path);
    match &inputs.manifest {
        None => check(
            "manifest",
            Status::Warn,
            format!("no manifest at `{shown}`"),
            Some("`cdxs init` creates one from your current setup".into()),
        ),
        Some(Ok(m)) => check(
            "manifest",
            Status::Ok,
            format!(
                "`{shown}` is valid: {} accounts, {} pools, {} homes",
                m.accounts.len(),
                m.pools.len(),
                m.homes.len()
            ),
            None,
        ),
        Some(Err(why)) => check(
            "manifest",
            Status::Action,
            format!("`{shown}`: {why}"),
            Some(format!("`cdxs -f {shown} validate` shows every problem")),
        ),
    }
}

/// Lock files of cdxs (in the state folder) and of Codex (in each home), and who holds them
/// now, where the OS says (Linux: nothing is locked or opened for writing to find out).
fn lock_checks(state_dir: &Path, homes: &[(String, PathBuf)]) -> Vec<Check> {
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

fn watch_checks(homes: usize) -> Vec<Check> {
    let Some(limits) = platform::inotify::limits() else {
        return vec![check(
            "watch",
            Status::Ok,
            "no inotify limits to read here; `cdxs watch` polls if it cannot watch".into(),
            None,
        )];
    };
    let (watches, instances) = (limits.max_watches, limits.max_instances);
    // One watch per home folder and one for the manifest's folder.
    let needed = homes as u64 + 1;
    let used = limits.instances_in_use;
    let mut out = Vec::new();
    if watches < needed {
        out.push(check(
            "watch",
            Status::Action,
            format!("inotify allows {watches} watches; `cdxs watch` needs {needed}"),
            Some("`sudo sysctl fs.inotify.max_user_watches=524288` (and in /etc/sysctl.d/ to keep it)".into()),
        ));
    }
    match used {
        Some(u) if u >= instances => out.push(check(
            "watch",
            Status::Action,
            format!("inotify instances: {u} of {instances} in use; `cdxs watch` needs one more (it would fall back to polling)"),
            Some("`sudo sysctl fs.inotify.max_user_instances=512` (and in /etc/sysctl.d/ to keep it)".into()),
        )),
        _ => {}
    }
    if out.is_empty() {
        out.push(check(
            "watch",
            Status::Ok,
            format!(
                "inotify: {watches} watches, {instances} instances{} (watch needs 1 instance, {needed} watches)",
                used.map(|u| format!(", {u} in use")).unwrap_or_default()
            ),
            None,
        ));
    }
    out
}

/// The `cdxs watch` service this OS runs (systemd user unit, LaunchAgent, scheduled task):
/// optional, but when there is one, the cdxs it starts must exist, and should be this one.
fn service_checks() -> Vec<Check> {
    use platform::service::{Lookup, lookup};
    let folders = platform::dirs::current();
    let Some(profile) = folders.profile else {
        return Vec::new();
    };
    vec![match lookup(&profile, folders.config.as_deref()) {
        Lookup::Absent { kind, .. } => check(
            "service",
            Status::Ok,
            format!(
                "no {} runs `cdxs watch` (optional: `{}` sets one up)",
                kind.noun(),
                kind.example()
            ),
            None,
        ),
        Lookup::Unknown { kind, why } => check(
            "service",
            Status::Warn,
            format!(
                "cannot tell whether a {} runs `cdxs watch`: {why}",
                kind.noun()
            ),
            None,
        ),
        Lookup::Found(found) => installed_service(found),
    }]
}

/// The service found: the program it starts exists, and is this cdxs (or its version).
fn installed_service(found: platform::service::Found) -> Check {
    let (noun, place) = (
        found.kind.noun(),
        paths::display(Path::new(&found.location)),
    );
    let Some(program) = found.program else {
        return check(
            "service",
            Status::Action,
            format!("the {noun} `{place}` names no program that doctor can read"),
            Some(format!("compare it with `{}`", found.kind.example())),
        );
    };
    let shown = paths::display(&program);
    if !program.is_file() {
        return check(
            "service",
            Status::Action,
            format!("the {noun} `{place}` starts `{shown}`, which does not exist"),
            Some(format!(
                "write the path of cdxs there (this one is `{}`)",
                std::env::current_exe()
                    .map(|p| paths::display(&p))
                    .unwrap_or_else(|_| "?".into())
            )),
        );
    }
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| platform::path::canonicalize(&p).ok());
    let same = platform::path::canonicalize(&program)
        .ok()
        .is_some_and(|p| Some(p) == me);
    if same {
        return check(
            "service",
            Status::Ok,
            format!("the {noun} `{place}` runs this cdxs (`{shown}`)"),
            None,
        );
    }
    let theirs = version_of(&program).unwrap_or_else(|| "?".into());
    let mine = env!("CARGO_PKG_VERSION");
    check(
        "service",
        if theirs == mine {
            Status::Ok
        } else {
            Status::Warn
        },
        format!("the {noun} `{place}` runs `{shown}` (cdxs {theirs}; this one is {mine})"),
        None,
    )
}

fn cdxs_on_path(path_var: Option<&OsStr>) -> Vec<Check> {
    let found = on_path(path_var, "cdxs");
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
