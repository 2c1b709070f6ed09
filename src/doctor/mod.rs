//! `cdxs doctor`: what a person or a bug report needs on one screen. Every check is read
//! only (doctor creates no folder, opens no database for writing, takes no lock): the Codex
//! releases on `PATH`, the schema of each home's databases and the structural gate's
//! verdict, the state folder's permissions, the manifest, who holds which lock, the inotify
//! limits `watch` needs, and stray cdxs binaries.

use std::path::{Path, PathBuf};

use serde::Serialize;

mod binaries;
mod codex_settings;
mod homes;
mod locks;
mod services;
mod vault_checks;

use binaries::{cdxs_on_path, codex_binaries, codex_checks};
use homes::{home_list, home_report};
use locks::lock_checks;
use services::{service_checks, watch_checks};

use crate::codex::schema::RELEASES;
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
