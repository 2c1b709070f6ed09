//! Each Codex home: the schema of its databases and the structural gate's verdict.

use std::path::{Path, PathBuf};

use super::binaries::supported_list;
use super::{Check, DbReport, HomeReport, Inputs, Status, check};
use crate::codex::schema::{RELEASES, Verdict};
use crate::codex::state::{self, HISTORY_DB, STATE_DB};
use crate::paths;

pub(super) fn home_list(inputs: &Inputs) -> Vec<(String, PathBuf)> {
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

pub(super) fn home_report(name: &str, path: &Path) -> (HomeReport, Vec<Check>) {
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
