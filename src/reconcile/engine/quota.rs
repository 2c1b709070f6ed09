//! Quota in the engine: fetch and cache, with the token rules. A token about to expire is
//! refreshed before the request; a 401 triggers at most one refresh, and only when the
//! token that was refused is still the vault's (otherwise the newer one is tried); a 403
//! or any other error is reported as it is and never taken for a revoked token. `plan`
//! never refreshes on a 401 at all.

use super::{Engine, Progress};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::quota::{self, FetchError, Quota};
use crate::vault::AccountKind;

/// Why a quota could not be fetched (shown in listings; the cache is used).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("API keys have no ChatGPT quota")]
    ApiKey,
    #[error("needs a new login (`cdxs login oauth`)")]
    NeedsLogin,
    #[error("no access token stored")]
    NoToken,
    #[error("{0}")]
    Fetch(String),
    /// The usage endpoint could not be reached (watch backs off).
    #[error("{0}")]
    Network(String),
}

impl Engine {
    /// Fetch and cache one account's quota. `refresh_on_401`: one refresh when the usage
    /// endpoint refuses the vault's current access token (`list`, `quota`; not `plan`).
    pub fn fetch_quota(
        &mut self,
        m: Option<&Manifest>,
        account_id: &str,
        refresh_on_401: bool,
        progress: &mut dyn Progress,
    ) -> Result<std::result::Result<Quota, QuotaError>> {
        let Some(account) = self.vault.account(account_id)? else {
            return Ok(Err(QuotaError::NoToken));
        };
        if account.kind == AccountKind::ApiKey {
            return Ok(Err(QuotaError::ApiKey));
        }
        if account.requires_reauth {
            return Ok(Err(QuotaError::NeedsLogin));
        }
        if self.dry_run() {
            // A dry run writes nothing, and a fetch may refresh the login and caches what
            // it gets: the cache answers.
            return Ok(self.vault.quota(account_id)?.ok_or_else(|| {
                QuotaError::Fetch("not fetched under --dry-run (nothing cached yet)".into())
            }));
        }
        if self.online
            && self.expiring(&account)
            && let Err(e) = self.refresh(m, account_id, false, "quota", progress)
        {
            return Ok(Err(QuotaError::Fetch(e.to_string())));
        }
        let mut refreshed = false;
        loop {
            let Some(current) = self.vault.account(account_id)? else {
                return Ok(Err(QuotaError::NoToken));
            };
            let Some(token) = current.tokens.as_ref().map(|t| t.access_token.clone()) else {
                return Ok(Err(QuotaError::NoToken));
            };
            match quota::fetch(
                &token,
                current.chatgpt_account_id.as_deref(),
                self.clock.ts(),
            ) {
                Ok(q) => {
                    self.network_error = None;
                    self.vault.set_quota(account_id, &q)?;
                    return Ok(Ok(q));
                }
                Err(FetchError::Unauthorized) if refresh_on_401 && !refreshed => {
                    refreshed = true;
                    // Only the token in use is refreshed: if another process already
                    // replaced it, the newer one is tried as it is.
                    let now_held = self
                        .vault
                        .account(account_id)?
                        .and_then(|a| a.tokens.map(|t| t.access_token.fingerprint()));
                    if now_held.as_deref() == Some(token.fingerprint().as_str())
                        && let Err(e) = self.refresh(m, account_id, true, "quota", progress)
                    {
                        return Ok(Err(QuotaError::Fetch(e.to_string())));
                    }
                }
                Err(FetchError::Network(e)) => {
                    self.network_error = Some(e.clone());
                    return Ok(Err(QuotaError::Network(e)));
                }
                Err(e) => return Ok(Err(QuotaError::Fetch(e.to_string()))),
            }
        }
    }

    fn expiring(&self, a: &crate::vault::Account) -> bool {
        crate::vault::freshness::refresh_due(
            a.access_expires_at,
            self.clock.ts(),
            self.refresh_window,
        )
    }

    /// Refresh cached quota of `ids` older than 5 minutes (all of them with `force`);
    /// failures are warned about, not fatal (the cache is used).
    pub fn refresh_stale_quota(
        &mut self,
        m: Option<&Manifest>,
        ids: &[String],
        force: bool,
        refresh_on_401: bool,
        progress: &mut dyn Progress,
    ) -> Result<Vec<(String, QuotaError)>> {
        let cached = self.vault.quotas()?;
        let mut failed = Vec::new();
        for id in ids {
            let Some(account) = self.vault.account(id)? else {
                continue;
            };
            if account.kind != AccountKind::OAuth || account.requires_reauth {
                continue;
            }
            let fresh = cached
                .get(id)
                .is_some_and(|q| self.clock.ts() - q.fetched_at < quota::STALE_AFTER_SECS);
            if fresh && !force {
                continue;
            }
            if let Err(e) = self.fetch_quota(m, id, refresh_on_401, progress)? {
                progress.warn(format!(
                    "quota of {}: {e} (using the cached figures)",
                    account.name()
                ));
                failed.push((id.clone(), e));
            }
        }
        Ok(failed)
    }

    /// Refresh one login now, as a generation of its own (`refresh-token`, and before a
    /// quota request): the vault lock, every folder holding it, the issuer, the write-back.
    pub fn refresh(
        &mut self,
        m: Option<&Manifest>,
        account_id: &str,
        force: bool,
        command: &str,
        progress: &mut dyn Progress,
    ) -> Result<crate::reconcile::apply::Report> {
        let plan = crate::reconcile::ops::refresh(account_id, force);
        self.run(m, &plan, command, None, progress)
    }
}
