//! Sessions (Codex threads) in one or more homes: list, stats, trash/restore/purge,
//! visibility check and repair, and thread sharing between homes. What Codex shows is
//! decided by Codex (codex-formats.md sections 2 to 5); cdxs keeps its files consistent with
//! that and never rewrites a rollout's bytes or deletes a database.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codex::state::{
    self, CodexDb, HISTORY_DB, KNOWN_HISTORY_VERSION, KNOWN_STATE_VERSION, STATE_DB,
};
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
    state::open(home, STATE_DB, KNOWN_STATE_VERSION, write)
}

pub fn open_history(home: &Path, write: bool) -> Result<Option<CodexDb>> {
    state::open(home, HISTORY_DB, KNOWN_HISTORY_VERSION, write)
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
    let canon_home = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    path.starts_with(home) || path.starts_with(&canon_home)
}
