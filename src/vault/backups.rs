//! Backups and the vault: which backup files still hold an account's secrets (`account
//! remove --purge-backups`). Deleting backups is an operation of the executor
//! ([`crate::reconcile::Op::DeleteBackup`]).

use std::path::{Path, PathBuf};

use crate::backup::folders;
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
