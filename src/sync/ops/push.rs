//! `sync push`: encrypt local changes with the base revision; on 409 pull, merge and retry;
//! `--force` makes the local copy the new revision after a backup.

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub revision: i64,
    pub pushed: usize,
    pub deleted: usize,
    pub retries: usize,
    pub pull: PullReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// Local changes left out: their records on the server do not open here (or the server
    /// holds a version of them this machine never read). Account ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The push was fenced by a refresh lease that had moved on: the vault was saved
    /// (`backup`), the other machine's copy pulled and merged, and what stayed newer here
    /// pushed without the fence.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lease_lost: bool,
}

/// One local change to push.
struct Change {
    record_id: String,
    account_id: String,
    payload: Option<AccountPayload>,
    version: u64,
}

/// Local changes since the last sync: accounts whose payload differs from what was synced,
/// and deletions of accounts the server still has. Records in `skip` are left out.
fn changes(
    vault: &Vault,
    t: &Target,
    key: &SyncKey,
    skip: &std::collections::BTreeSet<String>,
) -> Result<Vec<Change>> {
    let synced = vault.sync_records(&t.name)?;
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for a in vault.accounts()? {
        let rid = key.record_id(&a.id);
        if skip.contains(&rid) {
            seen.insert(a.id.clone(), ());
            continue;
        }
        let p = payload_of(vault, t, &a)?;
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
        if !s.deleted && !seen.contains_key(&s.account_id) && !skip.contains(rid) {
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

/// How many local changes wait for a push (those left out as unreadable on the server
/// are not counted: a push cannot send them).
pub fn pending(vault: &Vault, t: &Target) -> Result<Option<usize>> {
    match &t.key {
        Some(k) => {
            let skip = unreadable(vault, &t.name)?.into_keys().collect();
            Ok(Some(changes(vault, t, k, &skip)?.len()))
        }
        None => Ok(None),
    }
}

/// Pull, merge, push local changes with the base revision; on 409 pull and retry. With
/// `force`, the server's records are saved to a backup first and every local account is
/// written as a new version (records the vault lacks become tombstones, which other
/// machines apply after a backup of their vault), as new revisions: nothing on the server
/// is deleted first.
pub fn push(vault: &mut Vault, target: Option<&str>, force: bool, now: i64) -> Result<PushReport> {
    push_fenced(vault, target, force, None, now)
}

/// [`push`], fenced by a refresh lease: the server stores it only while that lease
/// generation is current. When it moved on (another machine took the lease after it
/// expired), the vault is saved first, the other machine's copy pulled and merged, and
/// what stays newer here is pushed without the fence.
pub fn push_fenced(
    vault: &mut Vault,
    target: Option<&str>,
    force: bool,
    fence: Option<LeaseFence>,
    now: i64,
) -> Result<PushReport> {
    let t = settle_rotation(vault, pick_target(vault, target)?)?;
    let key = require_key(&t)?;
    let c = client(&t)?;
    let mut report = PushReport::default();
    if force {
        return push_forced(vault, &t, &key, &c, now);
    }
    let mut fence = fence;
    let mut stale: std::collections::BTreeSet<String> = Default::default();
    for attempt in 0..PUSH_ATTEMPTS {
        let pulled = pull(vault, Some(&t.name), false, now)?;
        if attempt == 0 {
            report.pull = pulled;
        }
        let base = vault.sync_target(&t.name)?.map_or(0, |x| x.revision);
        let mut skip: std::collections::BTreeSet<String> =
            unreadable(vault, &t.name)?.into_keys().collect();
        skip.extend(stale.iter().cloned());
        let todo = changes(vault, &t, &key, &skip)?;
        report.skipped = skipped_accounts(vault, &t, &key, &skip)?;
        if todo.is_empty() {
            report.revision = base;
            vault.set_sync_times(&t.name, None, Some(now))?;
            return Ok(report);
        }
        match send(vault, &t, &key, &c, base, &todo, fence.as_ref(), now) {
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
            Err(ApiError::StaleRecord { record_id }) if !stale.contains(&record_id) => {
                // The server has a version of it this machine never read (the pull left it
                // out): leave it alone, send the rest.
                stale.insert(record_id);
                report.retries += 1;
                continue;
            }
            Err(ApiError::LeaseLost) if fence.is_some() => {
                report.backup = Some(backup_vault(vault, "sync-lease-lost")?);
                report.lease_lost = true;
                fence = None;
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

/// The accounts whose changes `skip` leaves out (for the report).
fn skipped_accounts(
    vault: &Vault,
    t: &Target,
    key: &SyncKey,
    skip: &std::collections::BTreeSet<String>,
) -> Result<Vec<String>> {
    if skip.is_empty() {
        return Ok(Vec::new());
    }
    let all = changes(vault, t, key, &Default::default())?;
    Ok(all
        .into_iter()
        .filter(|c| skip.contains(&c.record_id))
        .map(|c| c.account_id)
        .collect())
}

/// Seal and send `todo` in batches, each one revision; the cursor moves with each batch
/// (it was the base revision, so nothing else happened in between).
#[allow(clippy::too_many_arguments)]
fn send(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    c: &SyncClient,
    base: i64,
    todo: &[Change],
    fence: Option<&LeaseFence>,
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
            lease: fence.cloned(),
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
        report.backup = Some(save_server_side(vault, t, revision, &records)?);
        let todo = forced_changes(vault, t, key, &records)?;
        vault.reset_sync_records(&t.name)?;
        match send(vault, t, key, c, revision, &todo, None, now) {
            Ok(rev) => {
                forget_overwritten(vault, t, &todo)?;
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

/// The server's side, as it was, encrypted (it never held anything else). Returns where it
/// was saved.
fn save_server_side(
    vault: &Vault,
    t: &Target,
    revision: i64,
    records: &[Record],
) -> Result<String> {
    let mut backups = Backups::new(vault.state_dir(), "sync-push-force");
    let bytes = serde_json::to_vec_pretty(&serde_json::json!({
        "server": redact_url(&t.server_url), "user": t.username, "revision": revision, "records": records,
    }))
    .unwrap_or_default();
    let saved = backups.save(Path::new("server-records.json"), &bytes)?;
    Ok(saved.display().to_string())
}

/// What a forced push sends: every account of the vault, each one version above the
/// server's newest; and a tombstone for each live server record this vault does not have.
fn forced_changes(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    records: &[Record],
) -> Result<Vec<Change>> {
    let mut versions: HashMap<String, (u64, bool)> = HashMap::new();
    for r in records {
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
            payload: Some(payload_of(vault, t, &a)?),
            version: v + 1,
        });
    }
    // Server records this vault does not have: tombstones (the account id is only
    // inside the ciphertext, so open each one).
    let mut unused = PullReport::default();
    for (rec, plain) in open_all(vault, t, key, records, &mut unused)? {
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
    Ok(todo)
}

/// What this push overwrote opens here now: pushes leave it alone no more.
fn forget_overwritten(vault: &mut Vault, t: &Target, todo: &[Change]) -> Result<()> {
    let mut noted = unreadable(vault, &t.name)?;
    let before = noted.len();
    for ch in todo {
        noted.remove(&ch.record_id);
    }
    if noted.len() != before {
        save_unreadable(vault, &t.name, &noted)?;
    }
    Ok(())
}
