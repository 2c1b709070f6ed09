//! What the sync commands do, on a vault and a server: log in, make or join the sync key,
//! pull (decrypt, merge per account), push (encrypt local changes with the base revision;
//! on 409 pull, merge and retry), forced resyncs after a backup, and the status.
//!
//! No printing here: every function returns a report the CLI renders.

use std::collections::HashMap;
use std::path::Path;

use super::client::{ApiError, SyncClient, redact_url};
use super::crypto::SyncKey;
use super::merge::{self, Local, Outcome, TokenStamp, Why};
use super::record::{self, AccountPayload, PLAINTEXT_FORMAT, PlacementPayload, Plaintext};
use super::state::{Synced, Target};
use super::wire::{LeaseFence, LoginRequest, PushRequest, Record, RotateRequest};
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
    let url = redact_url(&t.server_url);
    match e {
        ApiError::Other(e) | ApiError::Failed(e) => e,
        ApiError::Offline(why) => Error::user(format!(
            "cannot reach the sync server `{url}`: {why}"
        ))
        .with_help("check that the server runs and the URL is right (`cdxs sync status`); nothing was changed"),
        ApiError::Unauthorized => Error::user(format!(
            "the sync server `{url}` refused this machine's login as `{}` (expired, revoked or logged out)",
            t.username
        ))
        .with_help(relogin_hint(t)),
        ApiError::KeyMismatch { server_key_id } => key_mismatch(
            t,
            &server_key_id,
            t.key_id.as_deref().unwrap_or("(none)"),
        ),
        ApiError::Conflict { revision } => Error::user(format!(
            "the sync server `{url}` kept changing while cdxs pushed (now at revision {revision})"
        ))
        .with_help("run `cdxs sync push` again"),
        ApiError::LeaseHeld { holder, until } => Error::user(format!(
            "`{holder}` holds the refresh lease until {}",
            fmt_time(until)
        ))
        .with_help("wait for it, or try again later"),
        ApiError::LeaseLost => Error::user(
            "the refresh lease moved on to another machine (it expired while this one waited)",
        )
        .with_help("run `cdxs sync pull`: the other machine's tokens are on the server"),
        ApiError::StaleRecord { record_id } => Error::user(format!(
            "the sync server `{url}` holds a newer version of record `{record_id}` than this machine can read"
        ))
        .with_help("`cdxs sync pull` reports it; `cdxs sync push --force` overwrites it with this vault's copy (after a backup)"),
    }
}

/// How to log in again to a target (an expired or revoked sync login).
pub fn relogin_hint(t: &Target) -> String {
    format!(
        "log in again: `cdxs sync login --server {} --user {} --password-stdin`",
        redact_url(&t.server_url),
        t.username
    )
}

/// The refusal when a machine's key is not the user's key on the server.
pub fn key_mismatch(t: &Target, server_key_id: &str, local_key_id: &str) -> Error {
    Error::user(format!(
        "the sync key of this machine ({local_key_id}) is not the key `{}` syncs with on `{}` ({server_key_id}); nothing was written",
        t.username,
        redact_url(&t.server_url)
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
            redact_url(&t.server_url),
            t.name
        ))
        .with_help(relogin_hint(t))
    })?;
    SyncClient::new(&t.server_url, Some(token))
}

fn require_key(t: &Target) -> Result<SyncKey> {
    t.key.clone().ok_or_else(|| {
        Error::user(format!(
            "this machine has no sync key for `{}` on `{}`",
            t.username,
            redact_url(&t.server_url)
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

/// The payload of a local account as it would travel, from machine `t.device_id`: with
/// where machines have the login live (this one's placements that hold it now, the other
/// machines' as last pulled).
fn payload_of(vault: &Vault, t: &Target, a: &Account) -> Result<AccountPayload> {
    let mut p = AccountPayload::from_account(a, vault.quota(&a.id)?);
    if a.kind == AccountKind::OAuth {
        let own = vault
            .live_placements_of(&a.id)?
            .into_iter()
            .map(|(folder, home)| PlacementPayload {
                device_id: t.device_id.clone(),
                device_name: t.device_name.clone(),
                folder: crate::paths::display(&folder),
                home,
            })
            .collect();
        let others = vault
            .remote_placements_of(&a.id)?
            .iter()
            .map(PlacementPayload::of_remote)
            .collect();
        p.placements = merge::outgoing_placements(&t.device_id, own, others);
    }
    Ok(p)
}

/// Keep what a pulled record says of the other machines' placements of its account (the
/// account is in the vault), or forget them (it is not).
fn take_placements(vault: &mut Vault, t: &Target, plain: &Plaintext) -> Result<()> {
    let kept = match &plain.account {
        Some(p) if vault.account(&plain.account_id)?.is_some() => {
            merge::others_placements(&t.device_id, &p.placements)
        }
        _ => Vec::new(),
    };
    let rows: Vec<_> = kept
        .iter()
        .map(|p| p.to_remote(&plain.account_id))
        .collect();
    vault.replace_remote_placements(&plain.account_id, &t.device_id, &rows)
}

/// A copy of the vault (SQLite backup API) under `<state>/backups/<label>/`, 0600.
pub fn backup_vault(vault: &Vault, label: &str) -> Result<String> {
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

mod key;
mod login;
mod pull;
mod push;
mod status;

pub use key::*;
pub use login::*;
pub use pull::*;
pub use push::*;
pub use status::*;
// A push that meets a 409 pulls first (in push.rs).
use pull::{fetch_all, open_all, save_unreadable};
