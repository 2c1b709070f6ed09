//! Sessions (Codex threads) in one or more homes: list, stats, trash/restore/purge,
//! visibility check and repair, and thread sharing between homes. What Codex shows is
//! decided by Codex (codex-formats.md sections 2 to 5); cdxs keeps its files consistent with
//! that and never rewrites a rollout's bytes or deletes a database.

use std::path::{Path, PathBuf};

use crate::codex::state::{self, CodexDb, HISTORY_DB, STATE_DB};
use crate::error::Result;

pub mod ids;
mod in_order;
pub mod list;
pub mod share;
pub mod stats;
pub mod trash;
pub mod visibility;

pub use crate::manifest::HomeRef;

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
    crate::fsx::read_optional_bounded(
        &home.join("config.toml"),
        crate::codex::config::MAX_CONFIG_BYTES,
    )
    .ok()
    .flatten()
    .and_then(|b| String::from_utf8(b).ok())
    .and_then(|t| t.parse::<toml::Table>().ok())
    .and_then(|t| {
        t.get("model_provider")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    })
    .unwrap_or_else(|| "openai".to_string())
}

/// Is `path` inside `home`? A lexical test (no `..` anywhere, a whole-component prefix of
/// the home as written or as resolved); for display and listing. Before anything is
/// renamed, copied or removed, use [`Root::rollout_of`] or [`Root::resolve`], which resolve
/// symlinks.
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
            canonical: crate::platform::path::canonicalize(home)
                .unwrap_or_else(|_| home.to_path_buf()),
        }
    }

    /// A root from what was observed of it (no I/O: the planner's way).
    pub fn observed(home: &Path, canonical: &Path) -> Root {
        let canonical = if canonical.as_os_str().is_empty() {
            home // an observation from before cdxs recorded it
        } else {
            canonical
        };
        Root {
            plain: home.to_path_buf(),
            canonical: canonical.to_path_buf(),
        }
    }

    /// The folders under this home's `sessions/` and `archived_sessions/` (a few levels
    /// deep: `YYYY/MM/DD`), each with whether it is a real folder (`false`: a symlink or
    /// not a folder), resolved spelling: what [`Root::rollout_target_in`] needs, read once.
    pub fn session_dirs(&self) -> std::collections::BTreeMap<PathBuf, bool> {
        let mut out = std::collections::BTreeMap::new();
        let mut todo: Vec<(PathBuf, usize)> = [
            crate::codex::rollout::SESSIONS,
            crate::codex::rollout::ARCHIVED,
        ]
        .iter()
        .map(|d| (self.canonical.join(d), 0))
        .collect();
        while let Some((dir, depth)) = todo.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&dir) else {
                continue;
            };
            let real = meta.is_dir();
            out.insert(dir.clone(), real);
            if !real || depth >= 4 {
                continue;
            }
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry
                    .file_type()
                    .is_ok_and(|t| t.is_dir() || t.is_symlink())
                {
                    todo.push((entry.path(), depth + 1));
                }
            }
        }
        out
    }

    /// The home's folder, resolved.
    pub fn canonical(&self) -> &Path {
        &self.canonical
    }

    /// A byte-prefix test on whole components (much cheaper than `Path::starts_with`, which
    /// matters for tens of thousands of rows); a path with a `..` component is never inside.
    pub fn contains(&self, path: &Path) -> bool {
        !has_parent_dir(path) && (under(path, &self.plain) || under(path, &self.canonical))
    }

    /// An existing path resolved (symlinks included), if the result lies inside the home.
    pub fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let real = crate::platform::path::canonicalize(path).ok()?;
        under(&real, &self.canonical).then_some(real)
    }

    /// `path` when it is an existing rollout file of thread `id` in this home: a regular
    /// file (not a symlink) named `rollout-...-<id>...jsonl[.zst]`, whose resolved path lies
    /// under the home's own `sessions/` or `archived_sessions/`. Returns the resolved path.
    pub fn rollout_of(&self, path: &Path, id: &str) -> Option<PathBuf> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let real = self.resolve(path)?;
        self.rollout_place(&real, id).then_some(real)
    }

    /// Where a rollout of `id` may be put back or copied to: a rollout file name of `id`,
    /// under this home's `sessions/` or `archived_sessions/`, with no `..`, and every folder
    /// on the way that exists already resolving inside the home (no symlink out). Returns
    /// the path to write, spelled with the resolved home.
    pub fn rollout_target(&self, path: &Path, id: &str) -> Option<PathBuf> {
        let target = self.rollout_name(path, id)?;
        // The deepest folder that exists must resolve to itself (no symlink on the way).
        let mut dir = target.parent()?;
        while !dir.exists() {
            dir = dir.parent()?;
        }
        let real = crate::platform::path::canonicalize(dir).ok()?;
        (real == dir && under(&real, &self.canonical)).then_some(target)
    }

    /// [`Root::rollout_target`] judged on what was observed of the home's session folders
    /// ([`Root::session_dirs`]) instead of the disk: the planner's way. The executor judges
    /// the disk again when it copies.
    pub fn rollout_target_in(
        &self,
        path: &Path,
        id: &str,
        dirs: &std::collections::BTreeMap<PathBuf, bool>,
    ) -> Option<PathBuf> {
        let target = self.rollout_name(path, id)?;
        let mut dir = target.parent()?;
        loop {
            if let Some(real) = dirs.get(dir) {
                return real.then_some(target.clone());
            }
            if dir == self.canonical {
                return Some(target.clone());
            }
            dir = dir.parent()?;
        }
    }

    /// `path`, spelled from the resolved home, when it names a rollout of `id` in this
    /// home's session folders (no `..`, absolute).
    fn rollout_name(&self, path: &Path, id: &str) -> Option<PathBuf> {
        if has_parent_dir(path) || !path.is_absolute() {
            return None;
        }
        let rel = path
            .strip_prefix(&self.canonical)
            .or_else(|_| path.strip_prefix(&self.plain))
            .ok()?;
        let target = self.canonical.join(rel);
        self.rollout_place(&target, id).then_some(target)
    }

    /// A resolved path names a rollout of `id` in this home's session folders.
    fn rollout_place(&self, real: &Path, id: &str) -> bool {
        let named = real
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(crate::codex::rollout::thread_id_of)
            .is_some_and(|t| t == id);
        named
            && [
                crate::codex::rollout::SESSIONS,
                crate::codex::rollout::ARCHIVED,
            ]
            .iter()
            .any(|d| under(real, &self.canonical.join(d)))
    }
}

fn has_parent_dir(path: &Path) -> bool {
    path.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
}

/// `path` is `dir` or lies below it (on Windows after normalising spellings: `\\?\C:\`
/// is `C:\`, case folded; see [`crate::platform::path`]).
pub fn under(path: &Path, dir: &Path) -> bool {
    crate::platform::path::under(path, dir)
}
