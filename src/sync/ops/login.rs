//! Logging in to a sync server, making or joining the sync key, logging out.

use super::*;

pub struct LoginArgs {
    pub target: String,
    pub server_url: String,
    pub username: String,
    pub password: Secret,
    pub device_name: Option<String>,
    /// `--key-stdin`: join with this key.
    pub key: Option<SyncKey>,
    /// `--allow-insecure-http`: plain http to a host that is not this machine.
    pub allow_insecure_http: bool,
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
    let url = crate::sync::client::check_url(&args.server_url, args.allow_insecure_http)?;
    let device_id = vault.sync_device_id()?;
    let existing = vault.sync_target(&args.target)?;
    let mut target = fresh_target(&args, &url, device_id, existing.as_ref());
    let resp = log_in(&target, &args.password)?;
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
    let key_state = match_key(&authed, &target, candidate.as_ref(), server_kid.as_ref())?;
    if let KeyState::Ready(_) = key_state {
        target.key = candidate;
        target.key_id = target.key.as_ref().map(SyncKey::key_id);
    }
    target.token = Some(token);
    target.token_expires_at = Some(resp.expires_at);
    if let Some(old) = existing.as_ref().filter(|_| same_identity) {
        keep_progress(&mut target, old);
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

/// The target a login starts from: this machine's device, the name it had (or the one
/// given), nothing synced and no token yet.
fn fresh_target(
    args: &LoginArgs,
    url: &str,
    device_id: String,
    existing: Option<&Target>,
) -> Target {
    let device_name = args
        .device_name
        .clone()
        .or_else(|| existing.map(|t| t.device_name.clone()))
        .unwrap_or_else(default_device_name);
    Target {
        name: args.target.clone(),
        server_url: url.to_string(),
        username: args.username.trim().to_lowercase(),
        device_id,
        device_name,
        token: None,
        token_expires_at: None,
        key: None,
        key_id: None,
        revision: 0,
        last_pull_at: None,
        last_push_at: None,
        created_at: args.now,
    }
}

/// Ask the server (after its health check) for a token for `target`'s user and device; a
/// refused password says what to check.
fn log_in(target: &Target, password: &Secret) -> Result<crate::sync::wire::LoginResponse> {
    let url = &target.server_url;
    let anon = SyncClient::new(url, None)?;
    anon.health().map_err(|e| api_error(target, e))?;
    anon.login(&LoginRequest {
        username: target.username.clone(),
        password: password.expose().to_string(),
        device: Some(format!("{} ({})", target.device_name, target.device_id)),
        device_id: Some(target.device_id.clone()),
    })
    .map_err(|e| match e {
        ApiError::Unauthorized => Error::user(format!(
            "the sync server `{url}` refused the login of `{}`",
            target.username
        ))
        .with_help(
            "check the user name and password; an admin adds users with `cdxs server user add`",
        ),
        other => api_error(target, other),
    })
}

/// This machine's key (`candidate`) against the server's key id: ready when they match,
/// registered when the server has none, refused (the new token revoked) when they differ.
fn match_key(
    authed: &SyncClient,
    target: &Target,
    candidate: Option<&SyncKey>,
    server_kid: Option<&String>,
) -> Result<KeyState> {
    Ok(match (candidate, server_kid) {
        (Some(k), Some(server)) if &k.key_id() != server => {
            // Refused before anything is written: revoke the token we just got.
            let _ = authed.logout();
            return Err(key_mismatch(target, server, &k.key_id()));
        }
        (Some(k), Some(_)) => KeyState::Ready(k.key_id()),
        (Some(k), None) => {
            authed
                .set_key_id(&k.key_id())
                .map_err(|e| api_error(target, e))?;
            KeyState::Ready(k.key_id())
        }
        (None, Some(server)) => KeyState::JoinNeeded(server.clone()),
        (None, None) => KeyState::InitNeeded,
    })
}

/// Same user, same server: keep the cursor and what was synced (the cursor starts over
/// when the key changed).
fn keep_progress(target: &mut Target, old: &Target) {
    target.revision = old.revision;
    target.last_pull_at = old.last_pull_at;
    target.last_push_at = old.last_push_at;
    target.created_at = old.created_at;
    if old.key_id != target.key_id {
        target.revision = 0;
    }
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
            t.username,
            crate::sync::client::redact_url(&t.server_url)
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
            .find(|d| d.url == crate::sync::client::normalize_url(url)),
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
