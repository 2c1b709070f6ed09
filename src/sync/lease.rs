//! Refresh leases (SPEC 8), fenced: Codex rotates refresh tokens, so two machines that
//! refresh the same login at once leave one of them logged out (`refresh_token_reused`).
//!
//! Before refreshing a synced ChatGPT account a machine takes the lease on its record (held
//! by its device id; the server gives each new holder a larger *generation*), pulls
//! (someone may have refreshed it already), then refreshes under its vault and home locks.
//! Right before the token request, under those locks, the [`Fence`] pulls again (a token
//! another machine rotated meanwhile is taken instead of spending ours) and checks that the
//! lease still has time for the whole request; if not it renews exactly its generation or
//! gives up. Time is measured by the larger of the monotonic and the wall clock since the
//! lease was asked for, so a stop or a suspend in between counts. The token request may
//! take no longer than the lease has left. The push of the new tokens carries the
//! generation, and the server refuses it when the generation moved on (the vault is saved,
//! the other copy pulled and merged). Then the lease is released.
//!
//! Another machine that needs the account meanwhile waits for the lease, pulling as it
//! waits, and takes the new token instead of refreshing.
//!
//! The lease rule holds while the server answers. When it fails (unreachable, a 5xx, an
//! expired sync login), a machine refreshes locally the logins bound on it (local work
//! never waits on sync) and says so once; others are left to the machines that use them.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use super::client::{ApiError, SyncClient, redact_url};
use super::ops::{self, api_error};
use super::state::{HeldLease, Target};
use super::wire::LeaseFence;
use crate::auth::refresh::{Fenced, RequestFence};
use crate::error::{Error, Result};
use crate::vault::{Account, AccountKind, Vault};

/// The longest a token request may take (the issuer's client timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The least time a lease must have left for a token request to start (else renew).
pub const MIN_REQUEST_WINDOW: Duration = Duration::from_secs(5);
/// Kept free at the end of the lease: a request ends this long before the lease could.
pub const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// The default lease: well above a lock wait and an HTTP timeout together (the fence
/// renews it when a lock wait ran long).
pub const DEFAULT_TTL: Duration = Duration::from_secs(120);

/// How a guarded refresh is run.
#[derive(Debug, Clone)]
pub struct LeaseOptions {
    /// How long the server keeps the lease if this machine dies while holding it.
    pub ttl: Duration,
    /// How long to wait for another machine's lease.
    pub wait: Duration,
    /// How often to look again while waiting.
    pub poll: Duration,
    /// The account is bound to a home on this machine (allowed to refresh when the server
    /// fails).
    pub bound_here: bool,
    /// Refresh even when the token is not about to expire (another machine's new token
    /// still counts as done).
    pub force: bool,
}

impl Default for LeaseOptions {
    fn default() -> Self {
        let ttl = ttl_from_env();
        LeaseOptions {
            ttl,
            // A holder that died leaves its lease for `ttl`: wait that long, and a little.
            wait: ttl + Duration::from_secs(30),
            poll: Duration::from_millis(250),
            bound_here: true,
            force: false,
        }
    }
}

/// The lease's time to live: `CDXS_SYNC_LEASE_TTL` seconds (5 to 600), else twice a lock
/// wait (`CDXS_LOCK_TIMEOUT`) and a token request together, at least 120 s and at most the
/// server's 600 s. A lock wait longer than that is covered by the fence's renewal.
pub fn ttl_from_env() -> Duration {
    if let Some(s) = std::env::var("CDXS_SYNC_LEASE_TTL")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(s.clamp(5, 600));
    }
    let both = crate::fsx::lock_timeout() + REQUEST_TIMEOUT;
    (both * 2).clamp(DEFAULT_TTL, Duration::from_secs(600))
}

/// What happened.
#[derive(Debug)]
pub enum Guarded<T> {
    /// This machine held the lease and ran the refresh. `warning`: the new tokens did not
    /// reach the server as planned (they are in the vault; the next push sends them).
    Refreshed { result: T, warning: Option<String> },
    /// Another machine refreshed it meanwhile; the vault took its tokens.
    TookNewer,
    /// Not synced (no target, or an API key): refreshed without a lease.
    Unsynced(T),
    /// The server failed (`why`); refreshed locally because the account is bound on this
    /// machine. The new tokens are pushed by the next `cdxs sync push`.
    Local { result: T, why: String },
}

/// When a lease was asked for, by both clocks.
#[derive(Debug, Clone, Copy)]
struct Asked {
    mono: Instant,
    wall: SystemTime,
}

impl Asked {
    fn now() -> Asked {
        Asked {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// Time since, by the clock that says more: the monotonic clock may stand still over
    /// a suspend, the wall clock may be set back; neither makes a lease look younger.
    fn elapsed(&self) -> Duration {
        let mono = self.mono.elapsed();
        let wall = self.wall.elapsed().unwrap_or_default();
        mono.max(wall)
    }
}

/// A held lease: its record, generation, and how long it has left.
#[derive(Debug, Clone)]
pub struct Lease {
    target: Target,
    record_id: String,
    account_id: String,
    pub generation: i64,
    pub until: i64,
    ttl: Duration,
    asked: Asked,
}

impl Lease {
    /// Time left, counted from before the request that granted it.
    pub fn left(&self) -> Duration {
        self.ttl.saturating_sub(self.asked.elapsed())
    }

    /// Extend exactly this generation (refused as [`ApiError::LeaseLost`] when it moved on).
    fn renew(&mut self, vault: &mut Vault) -> std::result::Result<(), ApiError> {
        let asked = Asked::now();
        let c = lease_client(&self.target)?;
        let g = c.take_lease(&self.record_id, self.ttl.as_secs(), Some(self.generation))?;
        if g.generation != self.generation {
            return Err(ApiError::LeaseLost);
        }
        self.until = g.until;
        self.asked = asked;
        self.ttl = granted_ttl(g.ttl_s, self.ttl);
        vault.note_lease(
            &self.target.name,
            Some(&HeldLease {
                record_id: self.record_id.clone(),
                account_id: self.account_id.clone(),
                until: g.until,
            }),
            &self.record_id,
        )?;
        Ok(())
    }

    pub fn release(self, vault: &mut Vault) -> Result<()> {
        let c = lease_client(&self.target).map_err(|e| api_error(&self.target, e))?;
        let released = c.release_lease(&self.record_id, Some(self.generation));
        vault.note_lease(&self.target.name, None, &self.record_id)?;
        released.map_err(|e| api_error(&self.target, e))
    }

    fn fence(&self) -> LeaseFence {
        LeaseFence {
            record_id: self.record_id.clone(),
            generation: self.generation,
        }
    }
}

/// The ttl the server granted (older servers do not say: the one asked for).
fn granted_ttl(granted_s: u64, asked: Duration) -> Duration {
    if granted_s == 0 {
        asked
    } else {
        Duration::from_secs(granted_s).min(asked)
    }
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
    let asked = Asked::now();
    let g = c.take_lease(&record_id, ttl.as_secs().max(1), None)?;
    vault.note_lease(
        &target.name,
        Some(&HeldLease {
            record_id: record_id.clone(),
            account_id: account_id.to_string(),
            until: g.until,
        }),
        &record_id,
    )?;
    Ok(Lease {
        target: target.clone(),
        record_id,
        account_id: account_id.to_string(),
        generation: g.generation,
        until: g.until,
        ttl: granted_ttl(g.ttl_s, ttl),
        asked,
    })
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

/// Is the account bound to a home of this machine: by the manifest (directly, or as a
/// member of a pool a home draws from), or placed by cdxs in a folder here (`switch`,
/// `run --account`)? Only such a login is refreshed here when the server fails.
pub fn bound_here(m: Option<&crate::manifest::Manifest>, vault: &Vault, account: &Account) -> bool {
    let placed = vault
        .placements_of(&account.id)
        .is_ok_and(|p| !p.is_empty());
    placed || bound_by_manifest(m, account)
}

fn bound_by_manifest(m: Option<&crate::manifest::Manifest>, account: &Account) -> bool {
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

/// Why the server could not decide, in words (with how to log in again when the sync
/// login expired).
fn failure(target: &Target, e: ApiError) -> String {
    let relogin = matches!(e, ApiError::Unauthorized);
    let mut why = api_error(target, e).to_string();
    if relogin {
        why.push_str(&format!("; {}", ops::relogin_hint(target)));
    }
    why
}

/// The fence a leased refresh runs under (see the module doc). Shared with the refresh
/// through [`crate::auth::refresh::install_fence`].
struct LeaseFenceCheck {
    target: Target,
    lease: RefCell<Lease>,
    now: Box<dyn Fn() -> i64>,
    /// The lease could not be confirmed: why (the refresh was not sent).
    lost: RefCell<Option<String>>,
    /// A token request was let through.
    sent: std::cell::Cell<bool>,
    /// A pull under the locks brought another machine's tokens.
    changed: std::cell::Cell<bool>,
}

impl RequestFence for LeaseFenceCheck {
    fn before_request(&self, vault: &mut Vault, account_id: &str) -> Result<Fenced> {
        let before = vault
            .account(account_id)?
            .and_then(|a| a.secret_fingerprint());
        // A token another machine rotated before this one took the lease, or while it
        // waited for the locks: take it instead of spending ours. A failed pull does not
        // stop the refresh: this machine holds the lease.
        let pulled = ops::pull_locked(vault, &self.target.name, (self.now)());
        let after = vault
            .account(account_id)?
            .and_then(|a| a.secret_fingerprint());
        if after != before {
            self.changed.set(true);
            return Ok(Fenced::Changed);
        }
        let mut lease = self.lease.borrow_mut();
        if lease.left() < MIN_REQUEST_WINDOW + LEASE_MARGIN
            && let Err(e) = lease.renew(vault)
        {
            let mut why = match e {
                ApiError::LeaseLost | ApiError::LeaseHeld { .. } => format!(
                    "the sync lease ran out while this machine waited ({} s); another machine may have refreshed the login",
                    lease.ttl.as_secs()
                ),
                other => format!(
                    "the sync lease ran short and could not be renewed ({})",
                    failure(&self.target, other)
                ),
            };
            if let Err(p) = pulled {
                why.push_str(&format!(" (and its tokens could not be pulled: {p})"));
            }
            *self.lost.borrow_mut() = Some(why.clone());
            return Err(Error::user(format!("did not refresh: {why}")).with_help(
                "nothing was sent to the issuer; `cdxs sync pull` takes the other machine's tokens",
            ));
        }
        let left = lease.left().saturating_sub(LEASE_MARGIN);
        self.sent.set(true);
        Ok(Fenced::Proceed(left.min(REQUEST_TIMEOUT)))
    }
}

/// Run `refresh` for `account_id` under its lease (see the module doc). `expiring` says
/// whether a copy needs a refresh; it is asked again after every pull: once the copy is
/// fresh (and, for a forced refresh, is not the one this started with), another machine
/// did the work.
///
/// This is the hook for `auth::refresh`: call it around `refresh_locked` (which takes the
/// vault lock itself), never while holding the vault lock, since it may wait.
pub fn refresh_guard<T>(
    vault: &mut Vault,
    account_id: &str,
    opts: &LeaseOptions,
    expiring: impl Fn(&Account) -> bool,
    mut refresh: impl FnMut(&mut Vault) -> Result<T>,
    now: impl Fn() -> i64 + 'static,
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
    let first = account.secret_fingerprint();
    let force = opts.force;
    let done_elsewhere =
        move |a: &Account| !expiring(a) && (!force || a.secret_fingerprint() != first);
    let lease = match wait_for_lease(vault, &target, &account, opts, &done_elsewhere, &now)? {
        Waited::Taken(lease) => *lease,
        Waited::TookNewer => return Ok(Guarded::TookNewer),
        Waited::NoAnswer(why) => {
            return refresh_locally(vault, &mut refresh, opts, &target, &account, why);
        }
    };
    let fence = Rc::new(LeaseFenceCheck {
        target: target.clone(),
        lease: RefCell::new(lease),
        now: Box::new(now),
        lost: RefCell::new(None),
        sent: std::cell::Cell::new(false),
        changed: std::cell::Cell::new(false),
    });
    let outcome = run_leased(
        vault,
        &target,
        account_id,
        &done_elsewhere,
        &mut refresh,
        &fence,
    );
    let lease = fence.lease.borrow().clone();
    // A lease that is not released expires by itself: a failed release is no failure.
    let _ = lease.release(vault);
    outcome
}

/// How waiting for the refresh lease ended.
enum Waited {
    /// This machine holds the lease.
    Taken(Box<Lease>),
    /// Another machine refreshed the login meanwhile: its token is in the vault.
    TookNewer,
    /// The server answered nothing it can be held to (why): local work goes on.
    NoAnswer(String),
}

/// Take the lease on `account`'s record; while another machine holds it, take that
/// machine's token as soon as it arrives, until `opts.wait` runs out.
fn wait_for_lease(
    vault: &mut Vault,
    target: &Target,
    account: &Account,
    opts: &LeaseOptions,
    done_elsewhere: &impl Fn(&Account) -> bool,
    now: &impl Fn() -> i64,
) -> Result<Waited> {
    let deadline = Instant::now() + opts.wait;
    loop {
        match take(vault, target, &account.id, opts.ttl) {
            Ok(lease) => return Ok(Waited::Taken(Box::new(lease))),
            Err(ApiError::LeaseHeld { holder, until }) => {
                // Someone else refreshes it: take their token as soon as it arrives.
                if let Err(e) = ops::pull(vault, Some(&target.name), false, now()) {
                    return Ok(Waited::NoAnswer(e.to_string()));
                }
                if let Some(a) = vault.account(&account.id)?
                    && done_elsewhere(&a)
                {
                    return Ok(Waited::TookNewer);
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
            // The server answered nothing it can be held to: local work goes on.
            Err(e) => return Ok(Waited::NoAnswer(failure(target, e))),
        }
    }
}

/// Refresh without the lease because the server did not decide (`why`): only a login
/// bound to a home on this machine is refreshed here.
fn refresh_locally<T>(
    vault: &mut Vault,
    refresh: &mut dyn FnMut(&mut Vault) -> Result<T>,
    opts: &LeaseOptions,
    target: &Target,
    account: &Account,
    why: String,
) -> Result<Guarded<T>> {
    if !opts.bound_here {
        return Err(Error::user(format!(
            "the sync server `{}` cannot decide who refreshes {} ({why}); it is not bound to a home on this machine, so it is not refreshed here",
            redact_url(&target.server_url),
            account.name()
        ))
        .with_help("the machine that uses it refreshes it; or try again when the server answers"));
    }
    Ok(Guarded::Local {
        result: refresh(vault)?,
        why,
    })
}

fn run_leased<T>(
    vault: &mut Vault,
    target: &Target,
    account_id: &str,
    done_elsewhere: &impl Fn(&Account) -> bool,
    refresh: &mut impl FnMut(&mut Vault) -> Result<T>,
    fence: &Rc<LeaseFenceCheck>,
) -> Result<Guarded<T>> {
    let now = || (fence.now)();
    // The fence pulls again under the locks; this one spares the locks when another
    // machine already did the work.
    let _ = ops::pull(vault, Some(&target.name), false, now());
    let Some(before) = vault.account(account_id)? else {
        return Err(Error::user(format!(
            "account `{account_id}` was removed (on this machine or another) meanwhile"
        )));
    };
    if done_elsewhere(&before) {
        return Ok(Guarded::TookNewer);
    }
    let fenced = |vault: &mut Vault, refresh: &mut dyn FnMut(&mut Vault) -> Result<T>| {
        let _installed = crate::auth::refresh::install_fence(fence.clone());
        refresh(vault)
    };
    let result = match fenced(vault, refresh) {
        Ok(r) => r,
        Err(e) => {
            // The fence stopped the request, or `invalid_grant`: a newer token may be on
            // the server already. Pull, and take it, or (a refusal only) try once more
            // with it when it too needs a refresh.
            let lost = fence.lost.borrow().is_some();
            let _ = ops::pull(vault, Some(&target.name), false, now());
            let Some(after) = vault.account(account_id)? else {
                return Err(e);
            };
            if done_elsewhere(&after) {
                return Ok(Guarded::TookNewer);
            }
            if lost || after.secret_fingerprint() == before.secret_fingerprint() {
                return Err(e);
            }
            fenced(vault, refresh)?
        }
    };
    if fence.changed.get() && !fence.sent.get() {
        // Nothing went to the issuer: the pull under the locks brought the other
        // machine's new tokens, and the refresh wrote them where they belong.
        drop(result);
        return Ok(Guarded::TookNewer);
    }
    let pushed = ops::push_fenced(
        vault,
        Some(&target.name),
        false,
        Some(fence.lease.borrow().fence()),
        now(),
    );
    let warning = match pushed {
        Ok(r) if r.lease_lost => Some(format!(
            "the refresh lease moved on to another machine before the new tokens were pushed; the vault was saved to `{}`, the other machine's copy merged, and the newer one kept",
            r.backup.unwrap_or_default()
        )),
        Ok(_) => None,
        Err(e) => Some(format!(
            "could not push the new tokens to `{}` ({}): run `cdxs sync push` as soon as the server is reachable, other machines hold the old refresh token",
            redact_url(&target.server_url),
            e
        )),
    };
    Ok(Guarded::Refreshed { result, warning })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_counts_time_by_the_clock_that_says_more() {
        // A suspend: the monotonic clock stood still, the wall clock moved 100 s on.
        let suspended = Asked {
            mono: Instant::now(),
            wall: SystemTime::now() - Duration::from_secs(100),
        };
        assert!(suspended.elapsed() >= Duration::from_secs(100));
        // A wall clock set back: the monotonic clock still counts.
        let set_back = Asked {
            mono: Instant::now() - Duration::from_secs(50),
            wall: SystemTime::now() + Duration::from_secs(3600),
        };
        assert!(set_back.elapsed() >= Duration::from_secs(50));
        let t = Target {
            name: "t".into(),
            server_url: "http://127.0.0.1:1".into(),
            username: "u".into(),
            device_id: "dev_1".into(),
            device_name: "d".into(),
            token: None,
            token_expires_at: None,
            key: None,
            key_id: None,
            revision: 0,
            last_pull_at: None,
            last_push_at: None,
            created_at: 0,
        };
        let lease = Lease {
            target: t,
            record_id: "r_1".into(),
            account_id: "a".into(),
            generation: 1,
            until: 0,
            ttl: Duration::from_secs(120),
            asked: suspended,
        };
        assert!(lease.left() <= Duration::from_secs(20));
        assert_eq!(
            granted_ttl(0, Duration::from_secs(120)),
            Duration::from_secs(120)
        );
        assert_eq!(
            granted_ttl(60, Duration::from_secs(120)),
            Duration::from_secs(60)
        );
    }
}
