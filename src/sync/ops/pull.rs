//! `sync pull`: fetch, decrypt and merge per account; `--force` takes the server's copy
//! after a backup.
//!
//! What a server sends is untrusted: a pull reads at most [`MAX_PAGES`] pages,
//! [`MAX_PULL_RECORDS`] records and [`MAX_PULL_BYTES`] of record text (each answer at most
//! [`crate::sync::client::MAX_ANSWER_BYTES`]); the cursor never moves past the newest
//! revision a page holds; a record that does not open is reported once and left out.

use std::collections::BTreeMap;

use super::*;

/// Pages one pull follows at most.
pub const MAX_PAGES: usize = 1_000;
/// Records one pull keeps at most (the server's default cap per user is 10,000).
pub const MAX_PULL_RECORDS: usize = 20_000;
/// Bytes of record text (nonces and ciphertexts) one pull keeps at most.
pub const MAX_PULL_BYTES: usize = 64 * 1024 * 1024;

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
    /// Tokens a forced pull refused because this vault knows they were spent.
    pub refused_spent: usize,
    /// Records that could not be opened (another key, tampering) and were skipped.
    pub unreadable: usize,
    /// Of those, the ones not seen (in that version) by an earlier pull: reported once.
    pub newly_unreadable: usize,
    /// Where the pull saved the vault first: a forced pull, or one that removes accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
}

/// A page or a pull that cannot be trusted.
fn bad_answer(t: &Target, why: &str) -> Error {
    Error::user(format!(
        "the sync server `{}` sent {why}; nothing of this pull was used",
        redact_url(&t.server_url)
    ))
    .with_help("the server (or a proxy in front of it) is broken or hostile: check `cdxs sync status` and the server's log")
}

/// Every record of the user, all pages, from `since`; checks the server's key id first.
/// The revision returned is the newest one the pages hold (or `since` when they hold
/// nothing new): a page cannot move the cursor past its own records. A server whose
/// revision went back below `since` (restored from a backup, or an earlier lie) is read
/// again from 0.
pub(super) fn fetch_all(
    c: &SyncClient,
    t: &Target,
    key: &SyncKey,
    since: i64,
) -> Result<(i64, Vec<Record>)> {
    let mut cursor = since;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    let mut restarted = false;
    for _ in 0..MAX_PAGES {
        let page = c.records(cursor).map_err(|e| api_error(t, e))?;
        if let Some(server) = &page.key_id
            && server != &key.key_id()
        {
            return Err(key_mismatch(t, server, &key.key_id()));
        }
        let page = page.page;
        if page.revision < cursor && !restarted {
            // The server is behind what this machine saw: start over from 0.
            restarted = true;
            cursor = 0;
            out.clear();
            bytes = 0;
            continue;
        }
        let mut newest: Option<i64> = None;
        for r in &page.records {
            if let Some(rev) = r.revision {
                if rev <= cursor || rev > page.revision {
                    return Err(bad_answer(
                        t,
                        "a page whose records do not lie between the revision asked from and the revision it claims",
                    ));
                }
                newest = Some(newest.map_or(rev, |n| n.max(rev)));
            }
            bytes += r.ciphertext.len() + r.nonce.len() + r.record_id.len();
        }
        let next = match newest {
            Some(n) => n,
            // Nothing new: the cursor stays, whatever revision the page claims.
            None if page.records.is_empty() => cursor,
            // An older server that does not say the records' revisions.
            None => page.revision,
        };
        out.extend(page.records);
        if out.len() > MAX_PULL_RECORDS || bytes > MAX_PULL_BYTES {
            return Err(bad_answer(
                t,
                &format!(
                    "more than {MAX_PULL_RECORDS} records or {} MiB in one pull",
                    MAX_PULL_BYTES / (1024 * 1024)
                ),
            ));
        }
        if !page.more {
            return Ok((next, out));
        }
        if next <= cursor {
            return Err(bad_answer(
                t,
                "a page that says more follow, with nothing new",
            ));
        }
        cursor = next;
    }
    Err(bad_answer(
        t,
        &format!("more than {MAX_PAGES} pages in one pull"),
    ))
}

/// Pull everything new since the cursor and merge it (or, with `force`, everything, and
/// make the vault equal to the server after a backup).
pub fn pull(vault: &mut Vault, target: Option<&str>, force: bool, now: i64) -> Result<PullReport> {
    let t = settle_rotation(vault, pick_target(vault, target)?)?;
    let key = require_key(&t)?;
    let c = client(&t)?;
    let since = if force { 0 } else { t.revision };
    let (revision, records) = fetch_all(&c, &t, &key, since)?;
    // The merge reads and writes accounts: hold the vault lock (as harvest and refresh do)
    // for that part only, never across the network.
    let _lock = crate::vault::lock::vault(vault.state_dir(), "cdxs sync pull")?;
    merge_pulled(vault, &t, &key, &records, revision, force, now)
}

/// A pull by a caller that already holds the vault lock (a refresh, right before its
/// token request, under its locks): the network is waited on under the lock here, bounded
/// by the client's timeouts.
pub fn pull_locked(vault: &mut Vault, target: &str, now: i64) -> Result<PullReport> {
    let t = pick_target(vault, Some(target))?;
    let key = require_key(&t)?;
    let c = client(&t)?;
    let (revision, records) = fetch_all(&c, &t, &key, t.revision)?;
    merge_pulled(vault, &t, &key, &records, revision, false, now)
}

fn merge_pulled(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    records: &[Record],
    revision: i64,
    force: bool,
    now: i64,
) -> Result<PullReport> {
    let mut report = if force {
        let backup = backup_vault(vault, "sync-pull-force")?;
        let mut r = apply_forced(vault, t, key, records, now)?;
        r.backup = Some(backup);
        r
    } else {
        apply_records(vault, t, key, records, now)?
    };
    // The cursor never goes back (a server behind it was read from 0 above).
    let current = vault.sync_target(&t.name)?.map_or(0, |x| x.revision);
    let revision = if force {
        revision
    } else {
        revision.max(current)
    };
    vault.record_synced(&t.name, &[], Some(revision), now)?;
    vault.set_sync_times(&t.name, Some(now), None)?;
    report.revision = revision;
    Ok(report)
}

/// The key of the vault's note of records that did not open, per target.
fn unreadable_key(target: &str) -> String {
    format!("sync.unreadable.{target}")
}

/// Records of `target` that did not open here: record id -> version.
pub fn unreadable(vault: &Vault, target: &str) -> Result<BTreeMap<String, u64>> {
    Ok(vault
        .meta_get(&unreadable_key(target))?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

pub(super) fn save_unreadable(
    vault: &mut Vault,
    target: &str,
    map: &BTreeMap<String, u64>,
) -> Result<()> {
    vault.meta_set(
        &unreadable_key(target),
        &serde_json::to_string(map).unwrap_or_else(|_| "{}".into()),
    )
}

/// Open the newest version of each record. Those that do not open are counted, and noted
/// so that the next pull does not report them again (and pushes leave their ids alone).
pub(super) fn open_all(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    records: &[Record],
    report: &mut PullReport,
) -> Result<Vec<(Record, Plaintext)>> {
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
    let mut noted = unreadable(vault, &t.name)?;
    let before = noted.clone();
    let mut out = Vec::new();
    for r in latest.into_values() {
        report.records += 1;
        match record::open(key, &t.username, r) {
            Ok(p) => {
                noted.remove(&r.record_id);
                out.push((r.clone(), p));
            }
            Err(_) => {
                report.unreadable += 1;
                if noted.get(&r.record_id) != Some(&r.version) {
                    report.newly_unreadable += 1;
                }
                noted.insert(r.record_id.clone(), r.version);
            }
        }
    }
    if noted != before {
        save_unreadable(vault, &t.name, &noted)?;
    }
    Ok(out)
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
    for (rec, plain) in open_all(vault, t, key, records, &mut report)? {
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
        let dirty = changed_here(vault, t, local.as_ref(), known, &tombstones, &plain)?;
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
        let fingerprint = take_outcome(vault, &outcome, &plain, remote_fp, &mut report, now)?;
        // Whoever won the tokens, the record is the other machines' newest word on where
        // they have the login.
        take_placements(vault, t, &plain)?;
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

/// Was the local copy of `plain`'s account changed since it was last synced (or removed
/// here, a tombstone)?
fn changed_here(
    vault: &Vault,
    t: &Target,
    local: Option<&Account>,
    known: Option<&Synced>,
    tombstones: &HashMap<String, i64>,
    plain: &Plaintext,
) -> Result<bool> {
    let local_fp = match local {
        Some(a) => Some(payload_of(vault, t, a)?.fingerprint()),
        None => None,
    };
    Ok(match (known, &local_fp) {
        (Some(s), Some(fp)) => s.fingerprint.as_deref() != Some(fp.as_str()) || s.deleted,
        (None, Some(_)) => true,
        (_, None) => tombstones.contains_key(&plain.account_id),
    })
}

/// Carry out what the merge decided for one record, counted in `report`. Returns the
/// fingerprint the vault now has in common with the server, if any.
fn take_outcome(
    vault: &mut Vault,
    outcome: &Outcome,
    plain: &Plaintext,
    remote_fp: Option<String>,
    report: &mut PullReport,
    now: i64,
) -> Result<Option<String>> {
    Ok(match outcome {
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
            // Another machine removed it (or pushed with `--force` without it): the
            // vault is saved first, once per pull, so that nothing is lost here.
            if report.backup.is_none() {
                report.backup = Some(backup_vault(vault, "sync-pull-removal")?);
            }
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
    })
}

/// Why a forced pull does not take a remote token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Its refresh token was sent to the issuer from this vault already.
    Spent,
    /// It is older than the freshest token this vault has seen.
    Older,
}

/// Would taking `remote` bring back a token this vault knows is dead or older?
fn refused_token(vault: &Vault, remote: &Account) -> Result<Option<Refusal>> {
    if remote.kind != AccountKind::OAuth {
        return Ok(None);
    }
    if let Some(fp) = remote.secret_fingerprint()
        && vault.is_spent(&fp)?
    {
        return Ok(Some(Refusal::Spent));
    }
    if let Some(hw) = vault.high_water(&remote.id)?
        && merge::token_cmp(&TokenStamp::of(remote), &hw) == std::cmp::Ordering::Less
    {
        return Ok(Some(Refusal::Older));
    }
    Ok(None)
}

/// `pull --force`: the vault's synced accounts become the server's; accounts the server
/// does not have are removed here (the vault was saved first). Two things are never taken:
/// a refresh token this vault knows is spent, and a token older than the high-water mark
/// (which only ever rises: a forced pull merges it, never replaces it). The local copy
/// stays then, and is pushed next.
fn apply_forced(
    vault: &mut Vault,
    t: &Target,
    key: &SyncKey,
    records: &[Record],
    now: i64,
) -> Result<PullReport> {
    let mut report = PullReport::default();
    let mut done = Vec::new();
    let mut live: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (rec, plain) in open_all(vault, t, key, records, &mut report)? {
        let mut fp = plain.account.as_ref().map(AccountPayload::fingerprint);
        match plain
            .account
            .as_ref()
            .map(|p| p.to_account(&plain.account_id))
        {
            Some(Ok(mut a)) => {
                let existed = vault.account(&a.id)?;
                match refused_token(vault, &a)? {
                    Some(why) => {
                        match why {
                            Refusal::Older => report.refused_older += 1,
                            Refusal::Spent => report.refused_spent += 1,
                        }
                        if existed.is_some() {
                            // Ours stays, and goes up with the next push.
                            live.insert(a.id.clone());
                            report.kept_local += 1;
                        }
                        fp = None;
                    }
                    None => {
                        a.last_used_at = existed.as_ref().and_then(|e| e.last_used_at);
                        vault.put(&a)?;
                        if let Some(q) = plain.account.as_ref().and_then(|p| p.quota.as_ref()) {
                            vault.set_quota(&a.id, q)?;
                        }
                        vault.raise_high_water(&a.id, TokenStamp::of(&a), false, now)?;
                        if existed.is_some() {
                            report.updated += 1;
                        } else {
                            report.created += 1;
                        }
                        live.insert(a.id.clone());
                    }
                }
            }
            Some(Err(_)) => {
                report.unreadable += 1;
                continue;
            }
            None => {}
        }
        take_placements(vault, t, &plain)?;
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
        if !live.contains(&a.id) {
            vault.remove(&a.id)?;
            report.deleted += 1;
        }
    }
    vault.reset_sync_records(&t.name)?;
    vault.record_synced(&t.name, &done, None, now)?;
    Ok(report)
}
