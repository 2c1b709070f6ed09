//! `sync pull`: fetch, decrypt and merge per account; `--force` takes the server's copy
//! after a backup.

use super::*;

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

/// Every record of the user, all pages, from `since`; checks the server's key id first.
pub(super) fn fetch_all(
    c: &SyncClient,
    t: &Target,
    key: &SyncKey,
    since: i64,
) -> Result<(i64, Vec<Record>)> {
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
    let _lock = crate::vault::lock::vault(vault.state_dir(), "cdxs sync pull")?;
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

pub(super) fn open_all(
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
