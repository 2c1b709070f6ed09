//! Refreshing ChatGPT tokens without ever burning a refresh token.
//!
//! Codex rotates the refresh token on every refresh, so the rules (SPEC 5) are:
//! - hold the vault lock (the caller does) and the `auth.lock` of every home holding the
//!   login, so Codex waits instead of spending the same token at the same moment;
//! - harvest first: any home holding a newer copy wins before anything is sent;
//! - one request, no blind retry;
//! - a permanent refusal (`refresh_token_reused`, `invalid_grant`, 401...) first looks for a
//!   newer token in the homes (Codex may have rotated it meanwhile) and only then marks the
//!   account `requires_reauth`;
//! - the new tokens go into the vault and, at once, into every home that held the login
//!   (its copy of the old refresh token is dead now).

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::backup::Backups;
use crate::clock::Clock;
use crate::codex::auth::{self, AuthState, WriteOutcome};
use crate::endpoints;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::vault::accounts::{OAuthTokens, claims_of, match_credentials};
use crate::vault::home_write as homes;
use crate::vault::placement::placement_key;
use crate::vault::tokens::Spent;
use crate::vault::{Account, AccountKind, Vault};

/// Refresh when the access token expires within this many seconds (as Codex does), unless
/// the caller's window (`watch.refresh_before_expiry`) says otherwise.
pub const REFRESH_WINDOW_SECS: i64 = crate::vault::freshness::CODEX_WINDOW_SECS;

/// The issuer's answer. Its `Debug` hides the tokens.
#[derive(Clone, Default, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Tokens never reach a log or a panic message: only whether each is present.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |t: &Option<String>| t.as_ref().map(|_| "(sensitive)");
        f.debug_struct("TokenResponse")
            .field("id_token", &shown(&self.id_token))
            .field("access_token", &shown(&self.access_token))
            .field("refresh_token", &shown(&self.refresh_token))
            .finish()
    }
}

/// Why a refresh request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The issuer will never accept this refresh token again.
    Permanent { code: String },
    /// Network trouble or a server error: try later.
    Transient(String),
}

/// Classify an error answer the way Codex does (`classify_refresh_token_failure`): the code
/// is `error.code`, or `error` when it is a string, or a top-level `code`;
/// `refresh_token_expired|reused|invalidated` (any case), any 401 and 400 `invalid_grant`
/// are permanent.
pub fn classify(status: u16, body: &str) -> Failure {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let code = v
        .get("error")
        .and_then(|e| {
            e.get("code")
                .and_then(|c| c.as_str())
                .or_else(|| e.as_str())
        })
        .or_else(|| v.get("code").and_then(|c| c.as_str()))
        .unwrap_or("")
        .to_string();
    let lower = code.to_ascii_lowercase();
    let permanent = matches!(
        lower.as_str(),
        "refresh_token_expired" | "refresh_token_reused" | "refresh_token_invalidated"
    ) || status == 401
        || (status == 400 && lower == "invalid_grant");
    if permanent {
        Failure::Permanent {
            code: if code.is_empty() {
                format!("HTTP {status}")
            } else {
                code
            },
        }
    } else {
        Failure::Transient(if code.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} ({code})")
        })
    }
}

/// A check run right before a refresh token is sent, under the vault and home locks: the
/// sync lease's fence (`sync::lease`). A refresh that is not fenced sends as always.
pub trait RequestFence {
    /// `Proceed(limit)`: send, and stop waiting for the answer after `limit`. `Changed`:
    /// the vault took another refresh token meanwhile (look again before sending). An
    /// error: send nothing.
    fn before_request(&self, vault: &mut Vault, account_id: &str) -> Result<Fenced>;
}

/// What a [`RequestFence`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fenced {
    Proceed(Duration),
    Changed,
}

thread_local! {
    /// The fence of the refresh running on this thread, if any. A scoped setting (as a
    /// tracing dispatcher is) rather than a parameter: the refresh runs inside the one
    /// executor, whose operations do not know about sync.
    static FENCE: RefCell<Option<Rc<dyn RequestFence>>> = const { RefCell::new(None) };
}

/// Until dropped, every refresh on this thread asks `fence` before each token request.
pub fn install_fence(fence: Rc<dyn RequestFence>) -> FenceInstalled {
    let previous = FENCE.with(|f| f.borrow_mut().replace(fence));
    FenceInstalled { previous }
}

/// Puts back the fence that was there before (see [`install_fence`]).
pub struct FenceInstalled {
    previous: Option<Rc<dyn RequestFence>>,
}

impl Drop for FenceInstalled {
    fn drop(&mut self) {
        let previous = self.previous.take();
        FENCE.with(|f| *f.borrow_mut() = previous);
    }
}

fn current_fence() -> Option<Rc<dyn RequestFence>> {
    FENCE.with(|f| f.borrow().clone())
}

/// One refresh request, exactly as Codex 0.169 sends it; `limit` caps the wait for the
/// answer below the client's own timeout (a fenced request never outlives its lease).
pub fn request(
    refresh_token: &Secret,
    reason: &str,
    limit: Option<Duration>,
) -> std::result::Result<TokenResponse, Failure> {
    let client = endpoints::client().map_err(|e| Failure::Transient(e.to_string()))?;
    let body = serde_json::json!({
        "client_id": endpoints::CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_reason": reason,
        "refresh_token": refresh_token.expose(),
    });
    let mut req = client.post(endpoints::token_url()).json(&body);
    if let Some(limit) = limit {
        req = req.timeout(limit);
    }
    let resp = req
        .send()
        .map_err(|e| Failure::Transient(endpoints::describe(&e)))?;
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(classify(status, &text));
    }
    let parsed: TokenResponse = serde_json::from_str(&text).map_err(|_| {
        Failure::Transient("the token endpoint answered something that is not JSON".into())
    })?;
    if parsed.access_token.as_deref().is_none_or(str::is_empty) {
        return Err(Failure::Transient(
            "the token endpoint answered without an access token".into(),
        ));
    }
    Ok(parsed)
}

/// Take a token response into an account (fields absent from the answer are kept).
/// `stamp` is the `last_refresh` the new copy carries (see [`crate::clock::stamp_after`]).
pub fn adopt(account: &mut Account, resp: &TokenResponse, stamp: DateTime<Utc>) {
    let old = account.tokens.clone();
    let pick = |new: &Option<String>, old: Option<&Secret>| -> Secret {
        new.as_deref()
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .or_else(|| old.cloned())
            .unwrap_or_else(|| Secret::new(""))
    };
    let tokens = OAuthTokens {
        id_token: pick(&resp.id_token, old.as_ref().map(|t| &t.id_token)),
        access_token: pick(&resp.access_token, old.as_ref().map(|t| &t.access_token)),
        refresh_token: pick(&resp.refresh_token, old.as_ref().map(|t| &t.refresh_token)),
    };
    let (id, access) = claims_of(&tokens);
    account.access_expires_at = access.exp.or(id.exp);
    account.token_issued_at = access.iat.or(id.iat);
    if let Some(p) = id.plan_type.or(access.plan_type) {
        account.plan_type = Some(p);
    }
    account.tokens = Some(tokens);
    account.last_refresh = Some(stamp);
    account.requires_reauth = false;
    account.updated_at = stamp.timestamp();
}

/// What happened.
#[derive(Debug)]
pub struct Outcome {
    pub result: Refreshed,
    /// Homes whose auth.json got the new tokens: (auth.json, backup of the old one).
    pub written: Vec<(PathBuf, Option<PathBuf>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// A new token pair from the issuer.
    Refreshed,
    /// A home held a newer copy; no request was needed.
    TookNewer,
    /// The token was fresh enough.
    NotNeeded,
}

/// Whether `account` is due for a refresh within `window` (the one rule,
/// [`crate::vault::freshness::refresh_due`]).
pub fn expiring(account: &Account, now: i64, window: i64) -> bool {
    crate::vault::freshness::refresh_due(account.access_expires_at, now, window)
}

/// Where to look for copies of `account_id`: the given homes and every folder cdxs ever
/// wrote it into, one spelling each.
fn candidates(vault: &Vault, homes: &[PathBuf], account_id: &str) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    for h in homes
        .iter()
        .cloned()
        .chain(vault.placements_of(account_id)?)
    {
        if keys.insert(placement_key(&h)) {
            out.push(h);
        }
    }
    Ok(out)
}

/// The folders (among `candidates`) whose auth.json holds `account_id`, in any copy (a
/// spent one included: it needs the new tokens most).
fn holders(vault: &Vault, candidates: &[PathBuf], account_id: &str) -> Result<Vec<PathBuf>> {
    let all = vault.accounts()?;
    let mut out = Vec::new();
    for h in candidates {
        if let Ok(doc) = auth::read(h)
            && let AuthState::Credentials(c) = doc.state
            && match_credentials(&all, &c).is_some_and(|a| a.id == account_id)
        {
            out.push(h.clone());
        }
    }
    Ok(out)
}

fn harvest_all(vault: &mut Vault, homes: &[PathBuf], now: i64) -> Result<()> {
    for h in homes {
        if let Some(bytes) = crate::fsx::read_optional(&auth::auth_path(h))? {
            homes::harvest(vault, &bytes, now)?;
        }
    }
    Ok(())
}

/// Refresh `account_id`; the caller holds the vault lock. `homes` are the homes cdxs knows
/// (declared ones and the default); every folder the vault placed the login in is searched
/// too. All of them that hold the login are locked first (Codex waits meanwhile; if one
/// cannot be locked, nothing is refreshed), searched for newer copies, and get the new
/// tokens. The clock is read when the new copy is stamped, never earlier. Unless `force`,
/// the login is refreshed only when it is due within `window` seconds, the same rule the
/// plan that asked for it used: a plan never asks for a refresh this would skip.
pub fn refresh_locked(
    vault: &mut Vault,
    backups: &mut Backups,
    homes: &[PathBuf],
    account_id: &str,
    force: bool,
    window: i64,
    clock: &dyn Clock,
) -> Result<Outcome> {
    let account = vault
        .account(account_id)?
        .ok_or_else(|| Error::user(format!("no account `{account_id}` in the vault")))?;
    if account.kind != AccountKind::OAuth {
        return Err(Error::user(format!(
            "{} is an API key: there is nothing to refresh",
            account.name()
        )));
    }
    let searched = candidates(vault, homes, account_id)?;
    // Codex waits on these while we work: all of them, or no refresh at all.
    let holding = holders(vault, &searched, account_id)?;
    let locks = holding
        .iter()
        .map(|h| auth::lock_home(h))
        .collect::<Result<Vec<_>>>()?;
    let before = account.secret_fingerprint();
    harvest_all(vault, &searched, clock.ts())?;
    let mut account = still_there(vault, account_id)?;
    let took_newer = account.secret_fingerprint() != before;
    let spent = match account.secret_fingerprint() {
        Some(fp) => vault.is_spent(&fp)?,
        None => false,
    };
    if !force && !spent && !expiring(&account, clock.ts(), window) {
        let result = if took_newer {
            Refreshed::TookNewer
        } else {
            Refreshed::NotNeeded
        };
        let written = write_back(vault, backups, &locks, account_id, clock.ts())?;
        return Ok(Outcome { result, written });
    }
    let Some(tokens) = account
        .tokens
        .clone()
        .filter(|t| !t.refresh_token.is_empty())
    else {
        account.requires_reauth = true;
        vault.put(&account)?;
        return Err(needs_login(&account, "it has no refresh token"));
    };
    let reason = if force { "forced" } else { "proactive_expiry" };
    Attempt {
        vault,
        backups,
        locks: &locks,
        searched: &searched,
        account_id,
        account: &account,
        force,
        window,
        clock,
        sent: tokens.refresh_token,
        second_try: false,
        looked_again: 0,
    }
    .run(reason)
}

/// Sending a refresh token under the locks, until the issuer answers or a newer token
/// (another machine's, or one Codex rotated meanwhile) makes the request unneeded.
struct Attempt<'a> {
    vault: &'a mut Vault,
    backups: &'a mut Backups,
    locks: &'a [auth::HomeAuthLock],
    /// The folders searched for copies of the login.
    searched: &'a [PathBuf],
    account_id: &'a str,
    /// The login as it was before the first request (for its name).
    account: &'a Account,
    force: bool,
    window: i64,
    clock: &'a dyn Clock,
    /// The refresh token sent (next).
    sent: Secret,
    /// The issuer refused one token already: the newer one found after it is the last sent.
    second_try: bool,
    /// How often the fence found the tokens changed before a request.
    looked_again: u32,
}

/// What the fence of a sync lease said before a request.
enum Gate {
    /// Send, waiting at most this long for the answer.
    Send(Option<Duration>),
    /// The tokens changed: ask the fence again.
    Again,
    /// Another machine's newer token was taken: nothing to send.
    Took(Outcome),
}

impl Attempt<'_> {
    fn run(mut self, reason: &str) -> Result<Outcome> {
        loop {
            let limit = match self.pass_fence()? {
                Gate::Send(limit) => limit,
                Gate::Again => continue,
                Gate::Took(outcome) => return Ok(outcome),
            };
            match request(&self.sent, reason, limit) {
                Ok(resp) => {
                    self.take_response(&resp)?;
                    return self.finish(Refreshed::Refreshed);
                }
                Err(Failure::Transient(why)) => {
                    return Err(Error::user(format!(
                        "cannot refresh {}: {why}",
                        self.account.name()
                    ))
                    .with_help("try again later; nothing was changed"));
                }
                Err(Failure::Permanent { code }) => {
                    if let Some(outcome) = self.after_refusal(&code)? {
                        return Ok(outcome);
                    }
                }
            }
        }
    }

    /// A fenced refresh (the sync lease) checks right here, under the locks.
    fn pass_fence(&mut self) -> Result<Gate> {
        let Some(fence) = current_fence() else {
            return Ok(Gate::Send(None));
        };
        match fence.before_request(self.vault, self.account_id)? {
            Fenced::Proceed(limit) => Ok(Gate::Send(Some(limit))),
            Fenced::Changed if self.looked_again < 3 => {
                self.looked_again += 1;
                let latest = still_there(self.vault, self.account_id)?;
                if let Some(t) = unspent_newer(self.vault, &latest, &self.sent)? {
                    // Another machine refreshed meanwhile: its token is here now.
                    if !expiring(&latest, self.clock.ts(), self.window) || self.force {
                        return self.finish(Refreshed::TookNewer).map(Gate::Took);
                    }
                    self.sent = t;
                }
                Ok(Gate::Again)
            }
            Fenced::Changed => Err(Error::user(format!(
                "cannot refresh {}: its tokens kept changing while cdxs was about to send one",
                self.account.name()
            ))
            .with_help("try again; nothing was sent")),
        }
    }

    /// The issuer's new tokens into the vault.
    fn take_response(&mut self, resp: &TokenResponse) -> Result<()> {
        // The token we sent is dead now, whatever copies of it still exist.
        self.vault.mark_spent(
            self.account_id,
            &self.sent.fingerprint(),
            Spent::Refreshed,
            self.clock.ts(),
        )?;
        let mut latest = still_there(self.vault, self.account_id)?;
        let stamp = crate::clock::stamp_after(self.clock.now(), latest.last_refresh);
        adopt(&mut latest, resp, stamp);
        self.vault.put(&latest)
    }

    /// The issuer refused the token sent. `None`: send the newer one found meanwhile;
    /// `Some`: that newer one is fresh enough and was taken.
    fn after_refusal(&mut self, code: &str) -> Result<Option<Outcome>> {
        self.vault.mark_spent(
            self.account_id,
            &self.sent.fingerprint(),
            Spent::Refused,
            self.clock.ts(),
        )?;
        // Before giving up: did Codex (or another home) rotate it meanwhile?
        harvest_all(self.vault, self.searched, self.clock.ts())?;
        let mut latest = still_there(self.vault, self.account_id)?;
        let newer = unspent_newer(self.vault, &latest, &self.sent)?;
        let Some(newer) = newer.filter(|_| !self.second_try) else {
            latest.requires_reauth = true;
            self.vault.put(&latest)?;
            return Err(needs_login(
                &latest,
                &format!("the issuer refused its refresh token ({code})"),
            ));
        };
        if !expiring(&latest, self.clock.ts(), self.window) && !self.force {
            return self.finish(Refreshed::TookNewer).map(Some);
        }
        // A different, newer token: one request with it is not a blind retry.
        self.sent = newer;
        self.second_try = true;
        Ok(None)
    }

    /// Every home that held the login gets the vault's tokens.
    fn finish(&mut self, result: Refreshed) -> Result<Outcome> {
        let written = write_back(
            self.vault,
            self.backups,
            self.locks,
            self.account_id,
            self.clock.ts(),
        )?;
        Ok(Outcome { result, written })
    }
}

/// The refresh token `latest` holds when it is another one than `sent` and not spent.
fn unspent_newer(vault: &Vault, latest: &Account, sent: &Secret) -> Result<Option<Secret>> {
    let newer = latest
        .tokens
        .as_ref()
        .map(|t| t.refresh_token.clone())
        .filter(|t| !t.is_empty() && t.fingerprint() != sent.fingerprint());
    match newer {
        Some(t) if !vault.is_spent(&t.fingerprint())? => Ok(Some(t)),
        _ => Ok(None),
    }
}

/// The account again (another cdxs may have removed it meanwhile).
fn still_there(vault: &Vault, account_id: &str) -> Result<Account> {
    vault.account(account_id)?.ok_or_else(|| {
        Error::user(format!(
            "account `{account_id}` was removed from the vault meanwhile"
        ))
    })
}

fn needs_login(account: &Account, why: &str) -> Error {
    Error::NeedsLogin {
        account: account.name().to_string(),
        why: format!("{why}; cdxs marked the account `requires_reauth`"),
    }
}

/// Write the vault's tokens into the homes that held the login (under their held
/// `auth.lock`), harvesting first as always: a copy in a home that is newer and not spent
/// wins; a spent or older one is replaced.
fn write_back(
    vault: &mut Vault,
    backups: &mut Backups,
    locks: &[auth::HomeAuthLock],
    account_id: &str,
    now: i64,
) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let mut written = Vec::new();
    for lock in locks {
        let outcome = lock.write_with(
            |current| {
                if let Some(bytes) = current {
                    homes::harvest(vault, bytes, now)?;
                }
                let a = still_there(vault, account_id)?;
                Ok(a.credentials().map(|c| auth::render(&c)))
            },
            |orig, bytes| backups.save(orig, bytes),
        )?;
        vault.set_placement(lock.home(), account_id, now)?;
        if let WriteOutcome::Written { backup } = outcome {
            written.push((auth::auth_path(lock.home()), backup));
        }
    }
    Ok(written)
}

/// Every home cdxs should look at for newer copies: the declared ones and the default.
pub fn known_homes(manifest: Option<&crate::manifest::Manifest>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = manifest
        .map(|m| m.homes.values().map(|h| h.path.clone()).collect())
        .unwrap_or_default();
    if let Ok(h) = crate::paths::default_codex_home()
        && !out.contains(&h)
    {
        out.push(h);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_like_codex() {
        let p = |code: &str| Failure::Permanent { code: code.into() };
        assert_eq!(
            classify(401, r#"{"error":{"code":"refresh_token_reused"}}"#),
            p("refresh_token_reused")
        );
        assert_eq!(
            classify(400, r#"{"error":"invalid_grant"}"#),
            p("invalid_grant")
        );
        assert_eq!(
            classify(400, r#"{"code":"REFRESH_TOKEN_EXPIRED"}"#),
            p("REFRESH_TOKEN_EXPIRED")
        );
        assert_eq!(classify(401, "not json"), p("HTTP 401"));
        assert!(matches!(
            classify(500, r#"{"error":{"code":"server_error"}}"#),
            Failure::Transient(_)
        ));
        assert!(matches!(
            classify(400, r#"{"error":"invalid_request"}"#),
            Failure::Transient(_)
        ));
        assert!(matches!(classify(429, ""), Failure::Transient(_)));
    }

    #[test]
    fn adopt_keeps_fields_the_answer_lacks() {
        let claims = serde_json::json!({"email": "a@b.c", "exp": 2000, "iat": 1000,
            "https://api.openai.com/auth": {"chatgpt_plan_type": "pro"}});
        let t = crate::codex::auth::ChatGptTokens {
            id_token: Secret::new(crate::codex::jwt::unsigned(&claims)),
            access_token: Secret::new("old-access"),
            refresh_token: Secret::new("rt-1"),
            account_id: None,
            last_refresh: None,
            extra: crate::codex::auth::AuthExtra::from_value(Some(&serde_json::json!({
                "tokens": {"login_owner_id": "lo_1", "oauth_provenance": {"issuer": "i"}}
            }))),
        };
        let mut a = Account::oauth(&t, "t", 0);
        a.requires_reauth = true;
        let new_access =
            crate::codex::jwt::unsigned(&serde_json::json!({"exp": 9000, "iat": 5000}));
        adopt(
            &mut a,
            &TokenResponse {
                id_token: None,
                access_token: Some(new_access),
                refresh_token: Some("rt-2".into()),
            },
            DateTime::from_timestamp(5000, 0).unwrap(),
        );
        let tokens = a.tokens.as_ref().unwrap();
        assert_eq!(tokens.refresh_token.expose(), "rt-2");
        assert_eq!(tokens.id_token.expose(), t.id_token.expose());
        assert_eq!(a.access_expires_at, Some(9000));
        assert_eq!(a.token_issued_at, Some(5000));
        assert!(!a.requires_reauth);
        assert_eq!(a.last_refresh.unwrap().timestamp(), 5000);
        // The issuer never sends the login's own members: they stay with the login.
        assert_eq!(
            a.auth_extra, t.extra,
            "login_owner_id and oauth_provenance kept"
        );
    }
}
