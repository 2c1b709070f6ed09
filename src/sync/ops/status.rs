//! `sync status`: each target, its login, key, revision and leases.

use super::*;

/// What `sync status` shows for one target (never a token or the key).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub server: String,
    pub user: String,
    pub device: String,
    pub device_id: String,
    pub logged_in: bool,
    pub token_expires_at: Option<i64>,
    pub key_id: Option<String>,
    pub revision: i64,
    pub last_pull_at: Option<i64>,
    pub last_push_at: Option<i64>,
    /// Local changes waiting for a push (`None` without a key).
    pub pending: Option<usize>,
    pub records: usize,
    pub leases: Vec<LeaseStatus>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LeaseStatus {
    pub account_id: String,
    pub until: i64,
}

pub fn status(vault: &Vault) -> Result<Vec<TargetStatus>> {
    let mut out = Vec::new();
    for t in vault.sync_targets()? {
        out.push(TargetStatus {
            pending: pending(vault, &t)?,
            records: vault
                .sync_records(&t.name)?
                .values()
                .filter(|s| !s.deleted)
                .count(),
            leases: vault
                .held_leases(&t.name)?
                .into_iter()
                .map(|l| LeaseStatus {
                    account_id: l.account_id,
                    until: l.until,
                })
                .collect(),
            target: t.name,
            server: crate::sync::client::redact_url(&t.server_url),
            user: t.username,
            device: t.device_name,
            device_id: t.device_id,
            logged_in: t.token.is_some(),
            token_expires_at: t.token_expires_at,
            key_id: t.key_id,
            revision: t.revision,
            last_pull_at: t.last_pull_at,
            last_push_at: t.last_push_at,
        });
    }
    Ok(out)
}
