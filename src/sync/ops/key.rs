//! `sync key rotate`: a leaked sync key is replaced. Every record this machine can open is
//! re-sealed under a new key and replaces the server's copy, and the user's key id changes,
//! in one transaction on the server. Other machines are refused with both key ids until
//! they `sync key --set` the new phrase.
//!
//! Journaled: the server's records (sealed with the old key) and the vault (with the old
//! key) are saved first, the rotation is a generation of `cdxs history`, and the new key is
//! written into the vault as pending *before* the server is asked. A rotation cut short
//! (a crash, a lost answer) is settled by the next sync command: the server's key id says
//! whether it happened, and the pending key is then adopted or dropped. The new key is
//! never lost, and never adopted unless the server took it.

use super::*;

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotateReport {
    pub target: String,
    pub old_key_id: String,
    pub new_key_id: String,
    /// Records re-sealed under the new key.
    pub records: usize,
    /// Records that did not open with the old key either: left out (they are in the backup).
    pub left_out: usize,
    pub revision: i64,
    /// Where the server's records and the vault were saved first.
    pub backups: Vec<String>,
    /// The generation in `cdxs history`.
    pub generation: i64,
}

/// A rotation started on this machine and not yet known to be done.
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    /// The new key, hex (the vault file is private, as for the key itself).
    new_key: String,
    old_key_id: String,
    new_key_id: String,
    generation: i64,
}

fn pending_key(target: &str) -> String {
    format!("sync.rotation.{target}")
}

fn pending(vault: &Vault, target: &str) -> Result<Option<Pending>> {
    Ok(vault
        .meta_get(&pending_key(target))?
        .filter(|s| !s.is_empty())
        .and_then(|s| serde_json::from_str(&s).ok()))
}

fn clear_pending(vault: &mut Vault, target: &str) -> Result<()> {
    vault.meta_set(&pending_key(target), "")
}

fn key_from_hex(hex: &str) -> Option<SyncKey> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    SyncKey::from_slice(&bytes?)
}

/// Take the new key into the target: the server holds records sealed with it now.
fn adopt(vault: &mut Vault, mut t: Target, key: SyncKey) -> Result<Target> {
    t.key_id = Some(key.key_id());
    t.key = Some(key);
    t.revision = 0;
    vault.save_sync_target(&t)?;
    // Everything is read again under the new key (the next pull takes it as it is).
    vault.reset_sync_records(&t.name)?;
    vault.meta_set(&format!("sync.unreadable.{}", t.name), "{}")?;
    Ok(t)
}

/// Settle a rotation this machine left unfinished: adopt its key when the server took it,
/// drop it when the server still has the old one. Every pull and push calls this first.
pub fn settle_rotation(vault: &mut Vault, t: Target) -> Result<Target> {
    let Some(p) = pending(vault, &t.name)? else {
        return Ok(t);
    };
    let c = client(&t)?;
    let server = c.key_id().map_err(|e| api_error(&t, e))?;
    let now = chrono::Utc::now().timestamp();
    match server.as_deref() {
        Some(k) if k == p.new_key_id => {
            let key = key_from_hex(&p.new_key).ok_or_else(|| {
                Error::user("the pending sync key of an unfinished rotation is damaged")
                    .with_help("restore the vault from the backup the rotation made, then rotate again")
            })?;
            let t = adopt(vault, t, key)?;
            clear_pending(vault, &t.name)?;
            let _ = vault.finish_action(p.generation, 0, None);
            let _ = vault.finish_generation(p.generation, true, None, now);
            Ok(t)
        }
        Some(k) if k == p.old_key_id => {
            clear_pending(vault, &t.name)?;
            let why = "the server kept the old key: the rotation did not happen";
            let _ = vault.finish_action(p.generation, 0, Some(why));
            let _ = vault.finish_generation(p.generation, false, Some(why), now);
            Ok(t)
        }
        other => Err(Error::user(format!(
            "a sync key rotation on this machine is unfinished, and the server has neither key (it has {})",
            other.unwrap_or("none")
        ))
        .with_help("`cdxs history` shows the rotation and its backups")),
    }
}

/// `sync key rotate`: see the module doc. Returns the new key's recovery phrase (shown
/// once).
pub fn rotate(vault: &mut Vault, target: Option<&str>, now: i64) -> Result<(RotateReport, Secret)> {
    let t = settle_rotation(vault, pick_target(vault, target)?)?;
    let old = require_key(&t)?;
    let c = client(&t)?;
    let base = c.remote_revision(0).map_err(|e| api_error(&t, e))?;
    let (_, records) = fetch_all(&c, &t, &old, 0)?;
    let new = SyncKey::generate();
    let (resealed, left_out) = reseal_all(vault, &t, &old, &new, &records)?;
    let backup_list = save_backups(vault, &t, &old, base, &records)?;
    let generation = journal_rotation(vault, &t, &old, &new, resealed.len(), &backup_list, now)?;
    let n = resealed.len();
    let sent = c.rotate_key(&RotateRequest {
        old_key_id: old.key_id(),
        new_key_id: new.key_id(),
        base_revision: base,
        records: resealed,
    });
    let revision = rotation_answer(vault, &t, sent, generation, now)?;
    let t = adopt(vault, t, new.clone())?;
    clear_pending(vault, &t.name)?;
    vault.finish_action(generation, 0, None)?;
    vault.finish_generation(generation, true, None, now)?;
    Ok((
        RotateReport {
            target: t.name.clone(),
            old_key_id: old.key_id(),
            new_key_id: new.key_id(),
            records: n,
            left_out,
            revision,
            backups: backup_list,
            generation,
        },
        new.phrase(),
    ))
}

/// Every record this machine can open, re-sealed under the new key, and how many did not
/// open with the old key either (left out). Record ids come from the key too: each record
/// gets its new id, at version 1 (the server replaces them all).
fn reseal_all(
    vault: &mut Vault,
    t: &Target,
    old: &SyncKey,
    new: &SyncKey,
    records: &[Record],
) -> Result<(Vec<Record>, usize)> {
    let mut unused = PullReport::default();
    let opened = open_all(vault, t, old, records, &mut unused)?;
    let resealed = opened
        .into_iter()
        .map(|(_, mut plain)| {
            plain.record_id = new.record_id(&plain.account_id);
            record::seal(new, &t.username, 1, &plain)
        })
        .collect();
    Ok((resealed, unused.unreadable))
}

/// Backups first: the server's side as it was, and the vault with the old key. Returns
/// where they are.
fn save_backups(
    vault: &Vault,
    t: &Target,
    old: &SyncKey,
    base: i64,
    records: &[Record],
) -> Result<Vec<String>> {
    let mut backups = Backups::new(vault.state_dir(), "sync-key-rotate");
    let bytes = serde_json::to_vec_pretty(&serde_json::json!({
        "server": redact_url(&t.server_url), "user": t.username, "revision": base,
        "key_id": old.key_id(), "records": records,
    }))
    .unwrap_or_default();
    let saved = backups.save(Path::new("server-records.json"), &bytes)?;
    let vault_copy = backup_vault(vault, "sync-key-rotate")?;
    Ok(vec![saved.display().to_string(), vault_copy])
}

/// The journal: a generation, and the new key pending in the vault before the server
/// hears of it. Returns the generation.
fn journal_rotation(
    vault: &mut Vault,
    t: &Target,
    old: &SyncKey,
    new: &SyncKey,
    records: usize,
    backups: &[String],
    now: i64,
) -> Result<i64> {
    let generation = vault.begin_generation(
        "sync key rotate",
        None,
        None,
        &[(
            format!("sync.{}.key", t.name),
            "update".into(),
            format!(
                "re-encrypt {records} record(s) under a new sync key ({} -> {}); backups: {}",
                old.key_id(),
                new.key_id(),
                backups.join(", ")
            ),
        )],
        now,
    )?;
    let p = Pending {
        new_key: crate::secret::hex(new.expose_bytes()),
        old_key_id: old.key_id(),
        new_key_id: new.key_id(),
        generation,
    };
    vault.meta_set(
        &pending_key(&t.name),
        &serde_json::to_string(&p).unwrap_or_default(),
    )?;
    Ok(generation)
}

/// The server's answer to the rotation: its new revision, or the error. A lost answer
/// keeps the pending key (the next sync command settles it); a refusal drops it and
/// closes the generation as failed.
fn rotation_answer(
    vault: &mut Vault,
    t: &Target,
    sent: std::result::Result<i64, ApiError>,
    generation: i64,
    now: i64,
) -> Result<i64> {
    match sent {
        Ok(rev) => Ok(rev),
        Err(e @ (ApiError::Offline(_) | ApiError::Failed(_))) => {
            // The answer was lost: the server may or may not have taken it. The pending
            // key stays; the next sync command asks the server and settles it.
            Err(api_error(t, e).with_help(
                "the rotation may or may not have reached the server: the next `cdxs sync pull` settles it (the new key is kept in the vault until then)",
            ))
        }
        Err(e) => {
            clear_pending(vault, &t.name)?;
            let err = api_error(t, e);
            let cause = err.full_message();
            let _ = vault.finish_action(generation, 0, Some(&cause));
            let _ = vault.finish_generation(generation, false, Some(&cause), now);
            Err(err)
        }
    }
}
