//! Backups and the vault: which backup files still hold an account's secrets (`account
//! remove --purge-backups`), and deleting backups (retention, purges) as a journaled
//! generation.

use std::path::{Path, PathBuf};

use crate::backup::{Retention, backups_dir, expired, folders};
use crate::error::{Error, Result, tick};
use crate::fsx;

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
    policy: &Retention,
    now: i64,
) -> Option<String> {
    prune_expired(vault, policy, now)
        .err()
        .map(|e| format!("could not prune old backups: {e}"))
}
