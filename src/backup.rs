//! Backups of everything cdxs replaces, kept in the state folder (0700, files 0600) because
//! they may hold secrets. One folder per operation: `<state>/backups/<stamp>-<label>/`.
//!
//! Backups hold old `auth.json` files, so they are not kept forever: a [`Retention`]
//! policy (default: 30 days, and always the 10 newest folders; `backups:` in cdxs.yaml)
//! prunes them after each operation that makes backups, and `account remove` offers to
//! delete the backup files that hold the removed account's secrets. Every pruning is a
//! journaled generation (`cdxs history` shows what went).

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fsx;

#[derive(Debug)]
pub struct Backups {
    dir: PathBuf,
    saved: Vec<(PathBuf, PathBuf)>,
}

impl Backups {
    /// Backups for one operation; the folder is created on the first save.
    pub fn new(state_dir: &Path, label: &str) -> Self {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let mut suffix = [0u8; 3];
        rand::fill(&mut suffix);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Backups {
            dir: backups_dir(state_dir)
                .join(format!("{stamp}-{label}-{}", crate::secret::hex(&suffix))),
            saved: Vec::new(),
        }
    }

    /// Save `bytes` (the current content of `original`) and return where they went.
    pub fn save(&mut self, original: &Path, bytes: &[u8]) -> Result<PathBuf> {
        let target = self.path_for(original)?;
        if let Err(e) = fsx::write_atomic(&target, bytes, fsx::SECRET_FILE_MODE) {
            self.saved.pop();
            return Err(e);
        }
        Ok(target)
    }

    /// A path in this operation's backup folder (for SQLite online backups).
    pub fn path_for(&mut self, original: &Path) -> Result<PathBuf> {
        fsx::ensure_private_dir(&self.dir)?;
        let name = original
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let target = self.dir.join(format!("{:03}-{name}", self.saved.len() + 1));
        self.saved.push((original.to_path_buf(), target.clone()));
        Ok(target)
    }

    /// (original, backup) pairs saved so far.
    pub fn saved(&self) -> &[(PathBuf, PathBuf)] {
        &self.saved
    }

    /// Remove what this operation saved: it turned out to change nothing, so these are
    /// copies of files as they still are. Best effort (a leftover folder is pruned later).
    pub fn discard(&self) {
        if !self.saved.is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `<state>/backups`.
pub fn backups_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("backups")
}

/// How long backups are kept: folders older than `max_age` go, except the `keep_last`
/// newest (so the last operations can always be rolled back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age_secs: u64,
    pub keep_last: usize,
}

/// The documented default: 30 days, and always the 10 newest folders.
pub const DEFAULT_RETENTION: Retention = Retention {
    max_age_secs: 30 * 86_400,
    keep_last: 10,
};

impl Default for Retention {
    fn default() -> Self {
        DEFAULT_RETENTION
    }
}

/// One operation's backup folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub path: PathBuf,
    /// When it was made (from its name), seconds since 1970.
    pub made_at: i64,
}

/// The backup folders cdxs made, newest first: real folders (not symlinks) whose name
/// starts with the time stamp [`Backups::new`] gives them. Anything else in `backups/` is
/// never touched.
pub fn folders(state_dir: &Path) -> Vec<Folder> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(backups_dir(state_dir)) else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else { continue };
        if !kind.is_dir() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(made_at) = stamp_of(&name) {
            out.push(Folder {
                path: e.path(),
                made_at,
            });
        }
    }
    out.sort_by(|a, b| b.made_at.cmp(&a.made_at).then_with(|| b.path.cmp(&a.path)));
    out
}

/// `20261126T083603.039Z-label-abc123` -> its time.
fn stamp_of(name: &str) -> Option<i64> {
    let stamp = name.get(..20)?;
    let t = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ").ok()?;
    Some(t.and_utc().timestamp())
}

/// The folders `policy` says go, at `now`.
pub fn expired(state_dir: &Path, policy: &Retention, now: i64) -> Vec<Folder> {
    let max_age = i64::try_from(policy.max_age_secs).unwrap_or(i64::MAX);
    folders(state_dir)
        .into_iter()
        .skip(policy.keep_last)
        .filter(|f| now.saturating_sub(f.made_at) > max_age)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(state: &Path, name: &str) -> PathBuf {
        let p = backups_dir(state).join(name);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("001-auth.json"), "{}").unwrap();
        p
    }

    #[test]
    fn retention_keeps_the_newest_and_young_folders_and_ignores_strangers() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
            .unwrap()
            .timestamp();
        let old1 = folder(state, "20260101T000000.000Z-apply-aaaaaa");
        let old2 = folder(state, "20260102T000000.000Z-apply-bbbbbb");
        let young = folder(state, "20261130T000000.000Z-apply-cccccc");
        let stranger = folder(state, "my-notes");
        let policy = Retention {
            max_age_secs: 7 * 86_400,
            keep_last: 1,
        };
        let gone: Vec<PathBuf> = expired(state, &policy, now)
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(gone, vec![old2.clone(), old1.clone()]);
        let keep_more = Retention {
            keep_last: 2,
            ..policy
        };
        let gone: Vec<PathBuf> = expired(state, &keep_more, now)
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(gone, vec![old1]);
        assert!(young.exists() && stranger.exists());
    }
}
