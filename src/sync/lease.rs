//! Refresh leases (SPEC 8): Codex rotates refresh tokens, so two machines that refresh the
//! same login at once leave one of them logged out. Before refreshing a synced ChatGPT
//! account a machine takes the lease on its record, pulls (someone may have refreshed it
//! already), refreshes, pushes the new tokens and releases. Another machine that needs the
//! account meanwhile waits for the lease, pulling as it waits, and takes the new token
//! instead of refreshing. Offline, a machine refreshes only accounts bound on it.

use std::time::{Duration, Instant};

use super::client::{ApiError, SyncClient};
use super::ops::{self, api_error};
use super::state::{HeldLease, Target};
use crate::error::{Error, Result};
use crate::vault::{Account, AccountKind, Vault};

/// How a guarded refresh is run.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// How long the server keeps the lease if this machine dies while holding it.
    pub ttl: Duration,
    /// How long to wait for another machine's lease.
    pub wait: Duration,
    /// How often to look again while waiting.
    pub poll: Duration,
    /// The account is bound to a home on this machine (allowed to refresh offline).
    pub bound_here: bool,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        LeaseOptions {
            ttl: Duration::from_secs(60),
            wait: Duration::from_secs(90),
            poll: Duration::from_millis(250),
            bound_here: true,
        }
    }
}

/// What happened.
#[derive(Debug)]
pub enum Guarded<T> {
    /// This machine held the lease and ran the refresh; the new tokens were pushed.
    Refreshed(T),
    /// Another machine refreshed it meanwhile; the vault took its tokens.
    TookNewer,
    /// Not synced (no target, or an API key): refreshed without a lease.
    Unsynced(T),
    /// The server could not be reached; refreshed locally because the account is bound on
    /// this machine. The new tokens are pushed by the next `cdxs sync push`.
    Offline(T),
}

/// A held lease, released on [`Lease::release`] (or by the server after its ttl).
pub struct Lease {
    target: Target,
    record_id: String,
    pub until: i64,
}

/// Take the lease on `account_id`'s record, or say who holds it.
pub fn take(
    vault: &mut Vault,
    target: &Target,
    account_id: &str,
    ttl: Duration,
) -> std::result::Result<Lease, ApiError> {
    let key = target
        .key
        .clone()
        .ok_or_else(|| ApiError::Other(Error::user("no sync key")))?;
    let record_id = key.record_id(account_id);
    let c = lease_client(target)?;
    let until = c.take_lease(&record_id, ttl.as_secs().max(1))?;
    vault.note_lease(
        &target.name,
        Some(&HeldLease {
            record_id: record_id.clone(),
            account_id: account_id.to_string(),
            until,
        }),
        &record_id,
    )?;
    Ok(Lease {
        target: target.clone(),
        record_id,
        until,
    })
}

impl Lease {
    pub fn release(self, vault: &mut Vault) -> Result<()> {
        let c = lease_client(&self.target).map_err(|e| api_error(&self.target, e))?;
        let released = c.release_lease(&self.record_id);
        vault.note_lease(&self.target.name, None, &self.record_id)?;
        released.map_err(|e| api_error(&self.target, e))
    }
}

fn lease_client(t: &Target) -> std::result::Result<SyncClient, ApiError> {
    let token = t.token.clone().ok_or(ApiError::Unauthorized)?;
    Ok(SyncClient::new(&t.server_url, Some(token))?)
}

/// Does this machine sync accounts (a target logged in, with a key)? Then refreshes of
/// ChatGPT logins run under the lease.
pub fn syncing(vault: &Vault) -> Result<bool> {
    Ok(ready_target(vault)?.is_some())
}

/// Is the account bound to a home of this machine's manifest (directly, or as a member of
/// a pool a home draws from)? Only such a login is refreshed here when the server is down.
pub fn bound_here(m: Option<&crate::manifest::Manifest>, account: &Account) -> bool {
    let Some(m) = m else { return false };
    let names = |alias: &str| {
        m.accounts.get(alias).is_some_and(|r| {
            r.names(
                &account.id,
                account.kind,
                account.email.as_deref(),
                account.chatgpt_account_id.as_deref(),
            )
        })
    };
    m.homes.values().any(|h| match &h.binding {
        Some(crate::manifest::Binding::Account(alias)) => names(alias),
        Some(crate::manifest::Binding::Pool { pool, .. }) => m
            .pools
            .get(pool)
            .is_some_and(|members| members.iter().any(|a| names(a))),
        None => false,
    })
}

/// The target that syncs accounts, when this machine has one ready (logged in, with a key).
fn ready_target(vault: &Vault) -> Result<Option<Target>> {
    Ok(vault
        .sync_targets()?
        .into_iter()
        .find(|t| t.token.is_some() && t.key.is_some()))
}

/// Run `refresh` for `account_id` under its lease (see the module doc). `needs_refresh`
/// is asked again after every pull: once it says no, another machine did the work.
///
/// This is the hook for `auth::refresh`: call it around `refresh_locked` (which takes the
/// vault lock itself), never while holding the vault lock, since it may wait.
pub fn refresh_guard<T>(
    vault: &mut Vault,
    account_id: &str,
    opts: &LeaseOptions,
    needs_refresh: impl Fn(&Account) -> bool,
    mut refresh: impl FnMut(&mut Vault) -> Result<T>,
    now: impl Fn() -> i64,
) -> Result<Guarded<T>> {
    let account = vault
        .account(account_id)?
        .ok_or_else(|| Error::user(format!("no account `{account_id}` in the vault")))?;
    let Some(target) = ready_target(vault)? else {
        return Ok(Guarded::Unsynced(refresh(vault)?));
    };
    if account.kind != AccountKind::OAuth {
        return Ok(Guarded::Unsynced(refresh(vault)?));
    }
    let deadline = Instant::now() + opts.wait;
    let lease = loop {
        match take(vault, &target, account_id, opts.ttl) {
            Ok(lease) => break lease,
            Err(ApiError::LeaseHeld { holder, until }) => {
                // Someone else refreshes it: take their token as soon as it arrives.
                ops::pull(vault, Some(&target.name), false, now())?;
                if let Some(a) = vault.account(account_id)?
                    && !needs_refresh(&a)
                {
                    return Ok(Guarded::TookNewer);
                }
                if Instant::now() >= deadline {
                    return Err(Error::lock_timeout(
                        format!(
                            "`{holder}` holds the refresh lease of {} until {}",
                            account.name(),
                            chrono::DateTime::from_timestamp(until, 0)
                                .map(|d| d.to_rfc3339())
                                .unwrap_or_default()
                        ),
                        "another machine is refreshing this login; try again when it is done",
                    ));
                }
                std::thread::sleep(opts.poll);
            }
            Err(ApiError::Offline(why)) => {
                if !opts.bound_here {
                    return Err(Error::user(format!(
                        "cannot reach the sync server `{}` ({why}); {} is not bound to a home on this machine, so it is not refreshed here",
                        target.server_url,
                        account.name()
                    ))
                    .with_help("the machine that uses it refreshes it; or try again when the server is back"));
                }
                return Ok(Guarded::Offline(refresh(vault)?));
            }
            Err(e) => return Err(api_error(&target, e)),
        }
    };
    let outcome = run_leased(
        vault,
        &target,
        account_id,
        &needs_refresh,
        &mut refresh,
        &now,
    );
    let released = lease.release(vault);
    let outcome = outcome?;
    released?;
    Ok(outcome)
}

fn run_leased<T>(
    vault: &mut Vault,
    target: &Target,
    account_id: &str,
    needs_refresh: &impl Fn(&Account) -> bool,
    refresh: &mut impl FnMut(&mut Vault) -> Result<T>,
    now: &impl Fn() -> i64,
) -> Result<Guarded<T>> {
    ops::pull(vault, Some(&target.name), false, now())?;
    let Some(before) = vault.account(account_id)? else {
        return Err(Error::user(format!(
            "account `{account_id}` was removed (on this machine or another) meanwhile"
        )));
    };
    if !needs_refresh(&before) {
        return Ok(Guarded::TookNewer);
    }
    let result = match refresh(vault) {
        Ok(r) => r,
        Err(e) => {
            // An `invalid_grant` may mean a newer token is on the server already: pull, and
            // take it, or try once more with it when it too needs a refresh.
            ops::pull(vault, Some(&target.name), false, now())?;
            let Some(after) = vault.account(account_id)? else {
                return Err(e);
            };
            if !needs_refresh(&after) {
                return Ok(Guarded::TookNewer);
            }
            if after.secret_fingerprint() == before.secret_fingerprint() {
                return Err(e);
            }
            refresh(vault)?
        }
    };
    ops::push(vault, Some(&target.name), false, now()).map_err(|e| {
        Error::user(format!(
            "refreshed the login, but could not push the new tokens to `{}`: {e}",
            target.server_url
        ))
        .with_help("run `cdxs sync push` as soon as the server is reachable: other machines hold the old refresh token")
    })?;
    Ok(Guarded::Refreshed(result))
}
