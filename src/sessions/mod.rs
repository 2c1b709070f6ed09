//! Sessions (Codex threads) in one or more homes: list, stats, trash/restore/purge,
//! visibility check and repair, and thread sharing between homes. What Codex shows is
//! decided by Codex (codex-formats.md sections 2 to 5); cdxs keeps its files consistent with
//! that and never rewrites a rollout's bytes or deletes a database.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codex::state::{self, CodexDb, HISTORY_DB, STATE_DB};
use crate::error::Result;

pub mod list;
pub mod share;
pub mod stats;
pub mod trash;
pub mod visibility;

/// A home sessions are read from: its name (from cdxs.yaml, or `default`) and folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HomeRef {
    pub name: String,
    pub path: PathBuf,
}

/// Open a home's state DB (`None` when Codex never ran there).
pub fn open_state(home: &Path, write: bool) -> Result<Option<CodexDb>> {
    state::open(home, STATE_DB, write)
}

pub fn open_history(home: &Path, write: bool) -> Result<Option<CodexDb>> {
    state::open(home, HISTORY_DB, write)
}

/// What the structural gate says about a home's databases, one line each, for the ones
/// where it did more than recognise a release (written anyway, or only read); and whether
/// cdxs may write its sessions.
pub fn gate(home: &Path) -> Result<(bool, Vec<String>)> {
    let mut writable = true;
    let mut notes = Vec::new();
    for db in [open_state(home, false)?, open_history(home, false)?]
        .into_iter()
        .flatten()
    {
        let verdict = db.judge()?;
        writable &= verdict.writable();
        notes.extend(state::gate_message(&db.path, db.version, &verdict));
    }
    Ok((writable, notes))
}

/// The model provider Codex uses in this home (`model_provider` in config.toml; default
/// `openai`): its picker shows only this provider's threads.
pub fn home_provider(home: &Path) -> String {
    std::fs::read_to_string(home.join("config.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("model_provider")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "openai".to_string())
}

/// Is `path` inside `home` (after resolving symlinks where possible)?
pub fn inside(path: &Path, home: &Path) -> bool {
    Root::new(home).contains(path)
}

/// A home's folder as written and as resolved, computed once for many checks.
pub struct Root {
    plain: PathBuf,
    canonical: PathBuf,
}

impl Root {
    pub fn new(home: &Path) -> Root {
        Root {
            plain: home.to_path_buf(),
            canonical: std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf()),
        }
    }

    /// A byte-prefix test on whole components (much cheaper than `Path::starts_with`, which
    /// matters for tens of thousands of rows).
    pub fn contains(&self, path: &Path) -> bool {
        under(path, &self.plain) || under(path, &self.canonical)
    }
}

/// `path` is `dir` or lies below it (`dir` given without a trailing slash).
pub fn under(path: &Path, dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
    let d = d.strip_suffix(b"/").unwrap_or(d);
    p.starts_with(d) && (p.len() == d.len() || p[d.len()] == b'/')
}
