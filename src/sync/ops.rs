//! What the sync commands do, on a vault and a server: log in, make or join the sync key,
//! pull (decrypt, merge per account), push (encrypt local changes with the base revision;
//! on 409 pull, merge and retry), forced resyncs after a backup, and the status.
//!
//! No printing here: every function returns a report the CLI renders.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::client::{ApiError, SyncClient};
use super::crypto::SyncKey;
use super::merge::{self, Local, Outcome, TokenStamp, Why};
use super::record::{self, AccountPayload, PLAINTEXT_FORMAT, Plaintext};
use super::state::{Synced, Target};
use super::wire::{LoginRequest, PushRequest, Record};
use crate::backup::Backups;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::vault::{Account, AccountKind, Vault};

/// The target name used when neither the command nor the manifest names one.
pub const DEFAULT_TARGET: &str = "default";
/// Pushes retried after a 409 (each retry first pulls and merges).
const PUSH_ATTEMPTS: usize = 8;
/// Records per push (the server's default cap is larger).
pub const PUSH_BATCH: usize = 200;

/// Turn an API failure into an error a person can act on.
pub fn api_error(t: &Target, e: ApiError) -> Error {
    match e {
        ApiError::Other(e) => e,
        ApiError::Offline(why) => Error::user(format!(
            "cannot reach the sync server `{}`: {why}",
            t.server_url
        ))
        .with_help("check that the server runs and the URL is right (`cdxs sync status`); nothing was changed"),
        ApiError::Unauthorized => Error::user(format!(
            "the sync server `{}` refused this machine's login as `{}` (expired, revoked or logged out)",
            t.server_url, t.username
        ))
        .with_help(format!(
            "log in again: `cdxs sync login --server {} --user {} --password-stdin`",
            t.server_url, t.username
        )),
        ApiError::KeyMismatch { server_key_id } => key_mismatch(
            t,
            &server_key_id,
            t.key_id.as_deref().unwrap_or("(none)"),
        ),
        ApiError::Conflict { revision } => Error::user(format!(
            "the sync server `{}` kept changing while cdxs pushed (now at revision {revision})",
            t.server_url
        ))
        .with_help("run `cdxs sync push` again"),
        ApiError::LeaseHeld { holder, until } => Error::user(format!(
            "`{holder}` holds the refresh lease until {}",
            fmt_time(until)
        ))
        .with_help("wait for it, or try again later"),
    }
}

/// The refusal when a machine's key is not the user's key on the server.
pub fn key_mismatch(t: &Target, server_key_id: &str, local_key_id: &str) -> Error {
    Error::user(format!(
        "the sync key of this machine ({local_key_id}) is not the key `{}` syncs with on `{}` ({server_key_id}); nothing was written",
        t.username, t.server_url
    ))
    .with_help(
        "on a machine that already syncs, run `cdxs sync key` to see the recovery phrase, then here run `cdxs sync key --set` and paste it",
    )
}

fn fmt_time(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| ts.to_string())
}

/// Which target a command means: the one named, else the only one, else `default`.
pub fn pick_target(vault: &Vault, name: Option<&str>) -> Result<Target> {
    let all = vault.sync_targets()?;
    if let Some(n) = name {
        return all.into_iter().find(|t| t.name == n).ok_or_else(|| {
            Error::user(format!("no sync target `{n}` on this machine")).with_help(
                "log in first: `cdxs sync login --server URL --user NAME --password-stdin`",
            )
        });
    }
    match all.len() {
        0 => Err(Error::user("this machine is not set up for sync").with_help(
            "log in first: `cdxs sync login --server URL --user NAME --password-stdin`, then `cdxs sync init` (first machine) or `cdxs sync key --set` (to join)",
        )),
        1 => Ok(all.into_iter().next().unwrap_or_else(|| unreachable!())),
        _ => Err(Error::user(format!(
            "this machine syncs with {} targets: {}",
            all.len(),
            all.iter()
                .map(|t| format!("`{}`", t.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_help("name one with `--target NAME`")),
    }
}

fn client(t: &Target) -> Result<SyncClient> {
    let token = t.token.clone().ok_or_else(|| {
        Error::user(format!(
            "this machine is logged out of `{}` (target `{}`)",
            t.server_url, t.name
        ))
        .with_help(format!(
            "log in: `cdxs sync login --server {} --user {} --password-stdin`",
            t.server_url, t.username
        ))
    })?;
    SyncClient::new(&t.server_url, Some(token))
}

fn require_key(t: &Target) -> Result<SyncKey> {
    t.key.clone().ok_or_else(|| {
        Error::user(format!(
            "this machine has no sync key for `{}` on `{}`",
            t.username, t.server_url
        ))
        .with_help(
            "on the first machine run `cdxs sync init`; to join one that syncs, run `cdxs sync key --set` with its recovery phrase",
        )
    })
}

/// This machine's name for the server (`server user list`, lease holders).
pub fn default_device_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "device".into())
}

pub struct LoginArgs {
    pub target: String,
    pub server_url: String,
    pub username: String,
    pub password: Secret,
    pub device_name: Option<String>,
    /// `--key-stdin`: join with this key.
    pub key: Option<SyncKey>,
    pub now: i64,
}

/// What a login found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// This machine has the user's key.
    Ready(String),
    /// The user has a key on the server; this machine must join it (`sync key --set`).
    JoinNeeded(String),
    /// Nobody made a key yet (`sync init`).
    InitNeeded,
}

pub struct LoginReport {
    pub target: Target,
    pub expires_at: i64,
    pub key: KeyState,
}

pub fn login(vault: &mut Vault, args: LoginArgs) -> Result<LoginReport> {
    let url = super::client::normalize_url(&args.server_url);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::user(format!("`{url}` is not an http(s) URL"))
            .with_help("pass the server's URL, e.g. `--server https://cdxs.example.net`"));
    }
    let device_id = vault.sync_device_id()?;
    let existing = vault.sync_target(&args.target)?;
    let device_name = args
        .device_name
        .clone()
        .or_else(|| existing.as_ref().map(|t| t.device_name.clone()))
        .unwrap_or_else(default_device_name);
    let mut target = Target {
        name: args.target.clone(),
        server_url: url.clone(),
        username: args.username.trim().to_lowercase(),
        device_id: device_id.clone(),
        device_name: device_name.clone(),
        token: None,
        token_expires_at: None,
        key: None,
        key_id: None,
        revision: 0,
        last_pull_at: None,
        last_push_at: None,
        created_at: args.now,
    };
    let anon = SyncClient::new(&url, None)?;
    anon.health().map_err(|e| api_error(&target, e))?;
    let resp = anon
        .login(&LoginRequest {
            username: target.username.clone(),
            password: args.password.expose().to_string(),
            device: Some(format!("{device_name} ({device_id})")),
        })
        .map_err(|e| match e {
            ApiError::Unauthorized => Error::user(format!(
                "the sync server `{url}` refused the login of `{}`",
                target.username
            ))
            .with_help(
                "check the user name and password; an admin adds users with `cdxs server user add`",
            ),
            other => api_error(&target, other),
        })?;
    target.username = resp.user.clone();
    let token = Secret::new(resp.token.clone());
    let authed = SyncClient::new(&url, Some(token.clone()))?;
    let server_kid = authed.key_id().map_err(|e| api_error(&target, e))?;
    let same_identity = existing
        .as_ref()
        .is_some_and(|t| t.server_url == url && t.username == target.username);
    // The key belongs to the user's accounts, not to a server: moving to a new server
    // (SQLite to PostgreSQL, another host) keeps it, and registers it there if that server
    // has none yet.
    let candidate = args
        .key
        .clone()
        .or_else(|| existing.as_ref().and_then(|t| t.key.clone()));
    let key_state = match (&candidate, &server_kid) {
        (Some(k), Some(server)) if &k.key_id() != server => {
            // Refused before anything is written: revoke the token we just got.
            let _ = authed.logout();
            return Err(key_mismatch(&target, server, &k.key_id()));
        }
        (Some(k), Some(_)) => KeyState::Ready(k.key_id()),
        (Some(k), None) => {
            authed
                .set_key_id(&k.key_id())
                .map_err(|e| api_error(&target, e))?;
            KeyState::Ready(k.key_id())
        }
        (None, Some(server)) => KeyState::JoinNeeded(server.clone()),
        (None, None) => KeyState::InitNeeded,
    };
    if let KeyState::Ready(_) = key_state {
        target.key = candidate;
        target.key_id = target.key.as_ref().map(SyncKey::key_id);
    }
    target.token = Some(token);
    target.token_expires_at = Some(resp.expires_at);
    if let Some(old) = existing.as_ref().filter(|_| same_identity) {
        // Same user, same server: keep the cursor and what was synced.
        target.revision = old.revision;
        target.last_pull_at = old.last_pull_at;
        target.last_push_at = old.last_push_at;
        target.created_at = old.created_at;
        if old.key_id != target.key_id {
            target.revision = 0;
        }
    }
    let reset = existing.is_some() && (!same_identity || target.revision == 0);
    vault.save_sync_target(&target)?;
    if reset {
        vault.reset_sync_records(&target.name)?;
    }
    Ok(LoginReport {
        target,
        expires_at: resp.expires_at,
        key: key_state,
    })
}

/// `sync init`: make the sync key, register its id on the server, return the phrase
/// (shown once).
pub fn init(vault: &mut Vault, target: Option<&str>) -> Result<(Target, Secret)> {
    let mut t = pick_target(vault, target)?;
    if let Some(k) = &t.key {
        return Err(Error::user(format!(
            "this machine already has the sync key {} for `{}`",
            k.key_id(),
            t.username
        ))
        .with_help("`cdxs sync key` shows its recovery phrase"));
    }
    let c = client(&t)?;
    if let Some(server) = c.key_id().map_err(|e| api_error(&t, e))? {
        return Err(Error::user(format!(
            "`{}` already has a sync key on `{}` ({server}), made on another machine",
            t.username, t.server_url
        ))
        .with_help(
            "join it: on a machine that syncs run `cdxs sync key`, then here `cdxs sync key --set` with that phrase",
        ));
    }
    let key = SyncKey::generate();
    c.set_key_id(&key.key_id()).map_err(|e| api_error(&t, e))?;
    let phrase = key.phrase();
    t.key_id = Some(key.key_id());
    t.key = Some(key);
    t.revision = 0;
    vault.save_sync_target(&t)?;
    vault.reset_sync_records(&t.name)?;
    Ok((t, phrase))
}

/// `sync key --set`: take a phrase, refused (before anything is written) when the server's
/// user has another key.
pub fn set_key(vault: &mut Vault, target: Option<&str>, key: SyncKey) -> Result<Target> {
    let mut t = pick_target(vault, target)?;
    let c = client(&t)?;
    match c.key_id().map_err(|e| api_error(&t, e))? {
        Some(server) if server != key.key_id() => {
            return Err(key_mismatch(&t, &server, &key.key_id()));
        }
        Some(_) => {}
        None => c.set_key_id(&key.key_id()).map_err(|e| api_error(&t, e))?,
    }
    let changed = t.key_id.as_deref() != Some(key.key_id().as_str());
    t.key_id = Some(key.key_id());
    t.key = Some(key);
    if changed {
        t.revision = 0;
    }
    vault.save_sync_target(&t)?;
    if changed {
        vault.reset_sync_records(&t.name)?;
    }
    Ok(t)
}

/// `sync logout`: revoke the token on the server and forget it here (the key stays, so a
/// later login resumes).
pub fn logout(vault: &mut Vault, target: Option<&str>) -> Result<(Target, bool)> {
    let mut t = pick_target(vault, target)?;
    let mut revoked = false;
    if let Some(token) = t.token.clone() {
        let c = SyncClient::new(&t.server_url, Some(token))?;
        match c.logout() {
            Ok(()) => revoked = true,
            Err(ApiError::Unauthorized) => {}
            Err(e) => return Err(api_error(&t, e)),
        }
    }
    t.token = None;
    t.token_expires_at = None;
    vault.save_sync_target(&t)?;
    Ok((t, revoked))
}

/// Counts of what a pull did.
/// Which target, server and user `sync login` means: the flags, else the manifest's
/// `sync.targets` entry (named by `--target`, matching `--server`, or the only one).
pub fn login_target(
    declared: &[crate::manifest::SyncTarget],
    target: Option<String>,
    server: Option<String>,
    user: Option<String>,
) -> Result<(String, String, String)> {
    let from_manifest = match (&target, &server) {
        (Some(t), _) => declared.iter().find(|d| &d.name == t),
        (None, Some(url)) => declared
            .iter()
            .find(|d| d.url == super::client::normalize_url(url)),
        (None, None) if declared.len() == 1 => declared.first(),
        _ => None,
    };
    let server = server
        .or_else(|| from_manifest.map(|d| d.url.clone()))
        .ok_or_else(|| {
            Error::user("which sync server? pass `--server URL`")
                .with_help("or declare it under `sync.targets` in cdxs.yaml")
        })?;
    let user = user
        .or_else(|| from_manifest.map(|d| d.user.clone()))
        .ok_or_else(|| Error::user("which user? pass `--user NAME`"))?;
    let target = target
        .or_else(|| from_manifest.map(|d| d.name.clone()))
        .unwrap_or_else(|| DEFAULT_TARGET.to_string());
    Ok((target, server, user))
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PullReport {
    pub revision: i64,
    pub records: usize,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    /// Records whose local copy is newer (pushed next).
    pub kept_local: usize,
    /// Older tokens refused by the high-water mark.
    pub refused_older: usize,
    /// Records that could not be opened (another key, tampering) and were skipped.
    pub unreadable: usize,
    /// Where a forced pull saved the vault first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub revision: i64,
    pub pushed: usize,
    pub deleted: usize,
    pub retries: usize,
    pub pull: PullReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// Every record of the user, all pages, from `since`; checks the server's key id first.
fn fetch_all(c: &SyncClient, t: &Target, key: &SyncKey, since: i64) -> Result<(i64, Vec<Record>)> {
    let mut since = since;
    let mut out = Vec::new();
    loop {
        let page = c.records(since).map_err(|e| api_error(t, e))?;
        if let Some(server) = &page.key_id
            && server != &key.key_id()
        {
            return Err(key_mismatch(t, server, &key.key_id()));
        }
        out.extend(page.page.records);
        if !page.page.more || page.page.revision <= since {
            return Ok((page.page.revision, out));
        }
        since = page.page.revision;
    }
}

/// The payload of a local account as it would travel.
fn payload_of(vault: &Vault, a: &Account) -> Result<AccountPayload> {
    Ok(AccountPayload::from_account(a, vault.quota(&a.id)?))
}

/// Pull everything new since the cursor and merge it (or, with `force`, everything, and
/// make the vault equal to the server after a backup).
pub fn pull(vault: &mut Vault, target: Option<&str>, force: bool, now: i64) -> Result<PullReport> {
    let t = pick_target(vault, target)?;
    let key = require_key(&t)?;
    let c = client(&t)?;
    let since = if force { 0 } else { t.revision };
    let (revision, records) = fetch_all(&c, &t, &key, since)?;
    // The merge reads and writes accounts: hold the vault lock (as harvest and refresh do)
    // for that part only, never across the network.
    let _lock = crate::reconcile::locks::vault(vault.state_dir(), "cdxs sync pull")?;
    let mut report = if force {
        let backup = backup_vault(vault, "sync-pull-force")?;
        let mut r = apply_forced(vault, &t, &key, &records, now)?;
        r.backup = Some(backup);
        r
    } else {
        apply_records(vault, &t, &key, &records, now)?
    };
    vault.record_synced(&t.name, &[], Some(revision), now)?;
    vault.set_sync_times(&t.name, Some(now), None)?;
    report.revision = revision;
    Ok(report)
}

fn open_all(
    t: &Target,
    key: &SyncKey,
    records: &[Record],
    report: &mut PullReport,
) -> Vec<(Record, Plaintext)> {
    // The newest version of each record only (pages may repeat an id across revisions).
    let mut latest: BTreeMap<&str, &Record> = BTreeMap::new();
    for r in records {
        let keep = latest
            .get(r.record_id.as_str())
            .is_none_or(|old| old.version < r.version);
        if keep {
            latest.insert(&r.record_id, r);
        }
    }
    let mut out = Vec::new();
    for r in latest.into_values() {
        report.records += 1;
        match record::open(key, &t.username, r) {
            Ok(p) => out.push((r.clone(), p)),
            Err(_) => report.unreadable += 1,
        }
    }
    out
}

fn apply_records(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    records: &[Record],
    now: i64,
) -> Result<PullReport> {
    let mut report = PullReport::default();
    let synced = vault.sync_records(&t.name)?;
    let tombstones = vault.tombstones()?;
    let mut done: Vec<(String, Synced)> = Vec::new();
    for (rec, plain) in open_all(t, key, records, &mut report) {
        let known = synced.get(&rec.record_id);
        if known.is_some_and(|s| s.version >= rec.version) {
            continue;
        }
        let remote_account = match plain
            .account
            .as_ref()
            .map(|p| p.to_account(&plain.account_id))
        {
            Some(Ok(a)) => Some(a),
            Some(Err(_)) => {
                report.unreadable += 1;
                continue;
            }
            None => None,
        };
        let local = vault.account(&plain.account_id)?;
        let quota = vault.quota(&plain.account_id)?;
        let local_fp = match &local {
            Some(a) => Some(payload_of(vault, a)?.fingerprint()),
            None => None,
        };
        let dirty = match (known, &local_fp) {
            (Some(s), Some(fp)) => s.fingerprint.as_deref() != Some(fp.as_str()) || s.deleted,
            (None, Some(_)) => true,
            (_, None) => tombstones.contains_key(&plain.account_id),
        };
        let hw = vault.high_water(&plain.account_id)?;
        let outcome = merge::merge(
            &Local {
                account: local.as_ref(),
                quota: quota.as_ref(),
                deleted_at: tombstones.get(&plain.account_id).copied(),
                high_water: hw,
                device_id: &t.device_id,
                dirty,
            },
            &plain,
            remote_account,
        );
        let remote_fp = plain.account.as_ref().map(AccountPayload::fingerprint);
        let fingerprint = match &outcome {
            Outcome::Take {
                account,
                quota,
                created,
            } => {
                vault.put(account)?;
                if let Some(q) = quota {
                    vault.set_quota(&account.id, q)?;
                }
                if account.kind == AccountKind::OAuth {
                    vault.raise_high_water(&account.id, TokenStamp::of(account), false, now)?;
                }
                if *created {
                    report.created += 1;
                } else {
                    report.updated += 1;
                }
                remote_fp
            }
            Outcome::Delete => {
                vault.remove(&plain.account_id)?;
                report.deleted += 1;
                None
            }
            Outcome::Keep(Why::Same | Why::AlreadyGone) => remote_fp,
            Outcome::Keep(Why::BelowHighWater) => {
                report.refused_older += 1;
                None
            }
            Outcome::Keep(_) => {
                report.kept_local += 1;
                None
            }
        };
        done.push((
            rec.record_id.clone(),
            Synced {
                account_id: plain.account_id.clone(),
                version: rec.version,
                deleted: rec.deleted,
                fingerprint,
            },
        ));
    }
    vault.record_synced(&t.name, &done, None, now)?;
    Ok(report)
}

/// `pull --force`: the vault's synced accounts become exactly the server's (high-water
/// marks included); accounts the server does not have are removed here.
fn apply_forced(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    records: &[Record],
    now: i64,
) -> Result<PullReport> {
    let mut report = PullReport::default();
    let mut done = Vec::new();
    let mut live: HashMap<String, ()> = HashMap::new();
    for (rec, plain) in open_all(t, key, records, &mut report) {
        let fp = plain.account.as_ref().map(AccountPayload::fingerprint);
        match plain
            .account
            .as_ref()
            .map(|p| p.to_account(&plain.account_id))
        {
            Some(Ok(mut a)) => {
                let existed = vault.account(&a.id)?;
                a.last_used_at = existed.as_ref().and_then(|e| e.last_used_at);
                vault.put(&a)?;
                if let Some(q) = plain.account.as_ref().and_then(|p| p.quota.as_ref()) {
                    vault.set_quota(&a.id, q)?;
                }
                vault.raise_high_water(&a.id, TokenStamp::of(&a), true, now)?;
                if existed.is_some() {
                    report.updated += 1;
                } else {
                    report.created += 1;
                }
                live.insert(a.id.clone(), ());
            }
            Some(Err(_)) => {
                report.unreadable += 1;
                continue;
            }
            None => {}
        }
        done.push((
            rec.record_id.clone(),
            Synced {
                account_id: plain.account_id.clone(),
                version: rec.version,
                deleted: rec.deleted,
                fingerprint: fp,
            },
        ));
    }
    for a in vault.accounts()? {
        if !live.contains_key(&a.id) {
            vault.remove(&a.id)?;
            report.deleted += 1;
        }
    }
    vault.reset_sync_records(&t.name)?;
    vault.record_synced(&t.name, &done, None, now)?;
    Ok(report)
}

fn backup_vault(vault: &Vault, label: &str) -> Result<String> {
    let mut backups = Backups::new(vault.state_dir(), label);
    let dest = backups.path_for(&vault.path())?;
    vault.conn().backup(
        rusqlite::MAIN_DB,
        &dest,
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    crate::fsx::restrict_file(&dest)?;
    Ok(dest.display().to_string())
}

/// One local change to push.
struct Change {
    record_id: String,
    account_id: String,
    payload: Option<AccountPayload>,
    version: u64,
}

/// Local changes since the last sync: accounts whose payload differs from what was synced,
/// and deletions of accounts the server still has.
fn changes(vault: &Vault, t: &Target, key: &SyncKey) -> Result<Vec<Change>> {
    let synced = vault.sync_records(&t.name)?;
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for a in vault.accounts()? {
        let rid = key.record_id(&a.id);
        let p = payload_of(vault, &a)?;
        let fp = p.fingerprint();
        let s = synced.get(&rid);
        seen.insert(a.id.clone(), ());
        if s.is_some_and(|s| !s.deleted && s.fingerprint.as_deref() == Some(fp.as_str())) {
            continue;
        }
        out.push(Change {
            record_id: rid,
            account_id: a.id.clone(),
            payload: Some(p),
            version: s.map_or(1, |s| s.version + 1),
        });
    }
    for (rid, s) in &synced {
        if !s.deleted && !seen.contains_key(&s.account_id) {
            out.push(Change {
                record_id: rid.clone(),
                account_id: s.account_id.clone(),
                payload: None,
                version: s.version + 1,
            });
        }
    }
    out.sort_by(|a, b| a.record_id.cmp(&b.record_id));
    Ok(out)
}

/// How many local changes wait for a push.
pub fn pending(vault: &Vault, t: &Target) -> Result<Option<usize>> {
    match &t.key {
        Some(k) => Ok(Some(changes(vault, t, k)?.len())),
        None => Ok(None),
    }
}

/// Pull, merge, push local changes with the base revision; on 409 pull and retry. With
/// `force`, the server's records are saved to a backup first and every local account is
/// written as a new version (records the vault lacks become tombstones), as new
/// revisions: nothing on the server is deleted first.
pub fn push(vault: &mut Vault, target: Option<&str>, force: bool, now: i64) -> Result<PushReport> {
    let t = pick_target(vault, target)?;
    let key = require_key(&t)?;
    let c = client(&t)?;
    let mut report = PushReport::default();
    if force {
        return push_forced(vault, &t, &key, &c, now);
    }
    for attempt in 0..PUSH_ATTEMPTS {
        let pulled = pull(vault, Some(&t.name), false, now)?;
        if attempt == 0 {
            report.pull = pulled;
        }
        let base = vault.sync_target(&t.name)?.map_or(0, |x| x.revision);
        let todo = changes(vault, &t, &key)?;
        if todo.is_empty() {
            report.revision = base;
            vault.set_sync_times(&t.name, None, Some(now))?;
            return Ok(report);
        }
        match send(vault, &t, &key, &c, base, &todo, now) {
            Ok(rev) => {
                report.revision = rev;
                report.pushed += todo.iter().filter(|c| c.payload.is_some()).count();
                report.deleted += todo.iter().filter(|c| c.payload.is_none()).count();
                vault.set_sync_times(&t.name, None, Some(now))?;
                return Ok(report);
            }
            Err(ApiError::Conflict { .. }) => {
                report.retries += 1;
                continue;
            }
            Err(e) => return Err(api_error(&t, e)),
        }
    }
    Err(api_error(
        &t,
        ApiError::Conflict {
            revision: report.revision,
        },
    ))
}

/// Seal and send `todo` in batches, each one revision; the cursor moves with each batch
/// (it was the base revision, so nothing else happened in between).
fn send(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    c: &SyncClient,
    base: i64,
    todo: &[Change],
    now: i64,
) -> std::result::Result<i64, ApiError> {
    let mut base = base;
    for batch in todo.chunks(PUSH_BATCH) {
        let records: Vec<Record> = batch
            .iter()
            .map(|ch| {
                let plain = Plaintext {
                    format: PLAINTEXT_FORMAT.into(),
                    record_id: ch.record_id.clone(),
                    account_id: ch.account_id.clone(),
                    device_id: t.device_id.clone(),
                    written_at: now,
                    account: ch.payload.clone(),
                };
                record::seal(key, &t.username, ch.version, &plain)
            })
            .collect();
        let rev = c.push(&PushRequest {
            base_revision: base,
            key_id: Some(key.key_id()),
            records,
        })?;
        let done: Vec<(String, Synced)> = batch
            .iter()
            .map(|ch| {
                (
                    ch.record_id.clone(),
                    Synced {
                        account_id: ch.account_id.clone(),
                        version: ch.version,
                        deleted: ch.payload.is_none(),
                        fingerprint: ch.payload.as_ref().map(AccountPayload::fingerprint),
                    },
                )
            })
            .collect();
        vault.record_synced(&t.name, &done, Some(rev), now)?;
        for ch in batch {
            if let Some(p) = &ch.payload
                && p.kind == "oauth"
            {
                let stamp = TokenStamp {
                    issued_at: p.token_issued_at,
                    last_refresh: p.last_refresh,
                    expires_at: p.access_expires_at,
                };
                vault.raise_high_water(&ch.account_id, stamp, false, now)?;
            }
        }
        base = rev;
    }
    Ok(base)
}

fn push_forced(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    c: &SyncClient,
    now: i64,
) -> Result<PushReport> {
    let mut report = PushReport::default();
    for _ in 0..PUSH_ATTEMPTS {
        let (revision, records) = fetch_all(c, t, key, 0)?;
        // The server's side, as it was, encrypted (it never held anything else).
        let mut backups = Backups::new(vault.state_dir(), "sync-push-force");
        let bytes = serde_json::to_vec_pretty(&serde_json::json!({
            "server": t.server_url, "user": t.username, "revision": revision, "records": records,
        }))
        .unwrap_or_default();
        let saved = backups.save(Path::new("server-records.json"), &bytes)?;
        report.backup = Some(saved.display().to_string());
        let mut versions: HashMap<String, (u64, bool)> = HashMap::new();
        for r in &records {
            let e = versions
                .entry(r.record_id.clone())
                .or_insert((0, r.deleted));
            if r.version >= e.0 {
                *e = (r.version, r.deleted);
            }
        }
        let mut todo = Vec::new();
        let mut local_ids = HashMap::new();
        for a in vault.accounts()? {
            let rid = key.record_id(&a.id);
            let v = versions.get(&rid).map_or(0, |x| x.0);
            local_ids.insert(rid.clone(), ());
            todo.push(Change {
                record_id: rid,
                account_id: a.id.clone(),
                payload: Some(payload_of(vault, &a)?),
                version: v + 1,
            });
        }
        // Server records this vault does not have: tombstones (the account id is only
        // inside the ciphertext, so open each one).
        let mut unused = PullReport::default();
        for (rec, plain) in open_all(t, key, &records, &mut unused) {
            if !rec.deleted
                && !local_ids.contains_key(&rec.record_id)
                && versions
                    .get(&rec.record_id)
                    .is_some_and(|v| v.0 == rec.version)
            {
                todo.push(Change {
                    record_id: rec.record_id.clone(),
                    account_id: plain.account_id.clone(),
                    payload: None,
                    version: rec.version + 1,
                });
            }
        }
        vault.reset_sync_records(&t.name)?;
        match send(vault, t, key, c, revision, &todo, now) {
            Ok(rev) => {
                report.revision = rev;
                report.pushed = todo.iter().filter(|c| c.payload.is_some()).count();
                report.deleted = todo.iter().filter(|c| c.payload.is_none()).count();
                vault.set_sync_times(&t.name, None, Some(now))?;
                return Ok(report);
            }
            Err(ApiError::Conflict { .. }) => {
                report.retries += 1;
                continue;
            }
            Err(e) => return Err(api_error(t, e)),
        }
    }
    Err(api_error(t, ApiError::Conflict { revision: 0 }))
}

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
            server: t.server_url,
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
