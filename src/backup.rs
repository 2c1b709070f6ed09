//! Backups of everything cdxs replaces, kept in the state folder (0700, files 0600) because
//! they may hold secrets. One folder per operation: `<state>/backups/<stamp>-<label>/`.
//!
//! Backups hold old `auth.json` files, so they are not kept forever: a [`Retention`]
//! policy (default: 30 days, and always the 10 newest folders; `backups:` in cdxs.yaml)
//! prunes them after each operation that makes backups, and `account remove` offers to
//! delete the backup files that hold the removed account's secrets. Every pruning is a
//! journaled generation (`cdxs history` shows what went).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result, tick};
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

impl Retention {
    /// The manifest's `backups:` settings, else the default.
    pub fn of(manifest: Option<&crate::manifest::Manifest>) -> Retention {
        manifest.map(|m| m.backups).unwrap_or_default()
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

/// The largest backup file searched for a secret (auth.json and config.toml backups are
/// kilobytes; database backups are skipped above this).
const MAX_SEARCHED_BYTES: u64 = 64 * 1024 * 1024;

/// Backup files that hold an account's secrets: any file containing one of `secrets`
/// (an API key, a token), and any `auth.json` whose login is `account_id` (older, rotated
/// [`holding`] the key or any token of `account`.
pub fn holding_account(state_dir: &Path, account: &crate::vault::Account) -> Vec<PathBuf> {
    let mut secrets: Vec<&str> = Vec::new();
    if let Some(k) = &account.api_key {
        secrets.push(k.expose());
    }
    if let Some(t) = &account.tokens {
        secrets.extend([
            t.id_token.expose(),
            t.access_token.expose(),
            t.refresh_token.expose(),
        ]);
    }
    holding(state_dir, &secrets, &account.id)
}

/// copies of the same login hold tokens the vault no longer has).
pub fn holding(state_dir: &Path, secrets: &[&str], account_id: &str) -> Vec<PathBuf> {
    let needles: Vec<&[u8]> = secrets
        .iter()
        .filter(|s| s.len() >= 8)
        .map(|s| s.as_bytes())
        .collect();
    let mut out = Vec::new();
    for folder in folders(state_dir) {
        let Ok(entries) = std::fs::read_dir(&folder.path) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let path = e.path();
            let Ok(Some(bytes)) = fsx::read_optional_bounded(&path, MAX_SEARCHED_BYTES) else {
                continue;
            };
            let has_secret = needles
                .iter()
                .any(|n| bytes.windows(n.len()).any(|w| w == *n));
            let same_login = matches!(
                crate::codex::auth::parse(&bytes),
                Ok(crate::codex::auth::AuthState::Credentials(c))
                    if crate::vault::Account::from_credentials(&c, None, "backup", 0).id == account_id
            );
            if has_secret || same_login {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Delete backup folders (whole) and files, as one journaled generation `command` with an
/// action per path; folders left empty go too. Nothing to delete: no generation.
pub fn prune(
    vault: &mut crate::vault::Vault,
    command: &str,
    folders: &[PathBuf],
    files: &[PathBuf],
    now: i64,
) -> Result<usize> {
    if folders.is_empty() && files.is_empty() {
        return Ok(0);
    }
    let state_dir = vault.state_dir().to_path_buf();
    let root = backups_dir(&state_dir);
    let shown = |p: &Path| {
        p.strip_prefix(&root)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let mut actions = Vec::new();
    for f in folders {
        actions.push((
            format!("backups[{}]", shown(f)),
            "delete".to_string(),
            "delete a backup folder past its retention".to_string(),
        ));
    }
    for f in files {
        actions.push((
            format!("backups[{}]", shown(f)),
            "delete".to_string(),
            "delete a backup that holds a removed account's secrets".to_string(),
        ));
    }
    let generation = vault.begin_generation(command, None, None, &actions, now)?;
    let mut done = 0;
    let targets = folders
        .iter()
        .map(|f| (f, true))
        .chain(files.iter().map(|f| (f, false)));
    for (seq, (path, is_folder)) in targets.enumerate() {
        // Only what lies in this state folder's `backups/`, never through a symlink.
        let inside = std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_symlink())
            && path.parent().is_some_and(|p| {
                if is_folder {
                    p == root
                } else {
                    p.parent() == Some(root.as_path())
                }
            });
        let result = if !inside {
            Err(Error::user(format!(
                "{} is not a backup of this state folder",
                tick(path)
            )))
        } else if is_folder {
            std::fs::remove_dir_all(path)
                .map_err(|e| Error::io(format!("cannot remove {}", tick(path)), e))
        } else {
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("cannot remove {}", tick(path)), e))
                .map(|_| {
                    // A folder left empty goes with its last file.
                    if let Some(dir) = path.parent() {
                        let _ = std::fs::remove_dir(dir);
                    }
                })
        };
        match result {
            Ok(()) => {
                done += 1;
                vault.finish_action(generation, seq, None)?;
            }
            Err(e) => vault.finish_action(generation, seq, Some(&e.to_string()))?,
        }
    }
    vault.finish_generation(generation, true, None, now)?;
    Ok(done)
}

/// Prune what `policy` says has expired (after an operation that made backups).
pub fn prune_expired(
    vault: &mut crate::vault::Vault,
    policy: &Retention,
    now: i64,
) -> Result<usize> {
    let state_dir = vault.state_dir().to_path_buf();
    let old: Vec<PathBuf> = expired(&state_dir, policy, now)
        .into_iter()
        .map(|f| f.path)
        .collect();
    prune(vault, "prune backups", &old, &[], now)
}

/// [`prune_expired`] after an operation that made backups, with the manifest's policy
/// (the default without one): a failure to prune does not fail that operation, it is
/// returned as a warning to show.
pub fn prune_after(
    vault: &mut crate::vault::Vault,
    manifest: Option<&crate::manifest::Manifest>,
    now: i64,
) -> Option<String> {
    prune_expired(vault, &Retention::of(manifest), now)
        .err()
        .map(|e| format!("could not prune old backups: {e}"))
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
