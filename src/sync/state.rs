//! The client's sync state in the vault (migration 4): targets (server, user, device,
//! token, key, cursor), what was last synced per record, high-water marks per account, and
//! the leases this machine holds. Secrets stay in the vault (0600) and leave it only
//! through [`Secret::expose`] and [`SyncKey::expose_bytes`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::crypto::SyncKey;
use super::merge::TokenStamp;
use crate::error::Result;
use crate::secret::Secret;
use crate::vault::Vault;

/// One configured sync target (a server and a user on it).
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub server_url: String,
    pub username: String,
    pub device_id: String,
    pub device_name: String,
    pub token: Option<Secret>,
    pub token_expires_at: Option<i64>,
    pub key: Option<SyncKey>,
    pub key_id: Option<String>,
    /// The server revision everything up to which has been pulled.
    pub revision: i64,
    pub last_pull_at: Option<i64>,
    pub last_push_at: Option<i64>,
    pub created_at: i64,
}

/// What was last synced for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synced {
    pub account_id: String,
    pub version: u64,
    pub deleted: bool,
    /// Fingerprint of the payload as last synced; `None` when the local copy lost a merge
    /// and still has to be pushed.
    pub fingerprint: Option<String>,
}

/// A lease this machine holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLease {
    pub record_id: String,
    pub account_id: String,
    pub until: i64,
}

const TARGET_COLUMNS: &str = "name, server_url, username, device_id, device_name, token, \
    token_expires_at, sync_key, key_id, revision, last_pull_at, last_push_at, created_at";

fn target_row(r: &Row) -> rusqlite::Result<Target> {
    let key: Option<Vec<u8>> = r.get(7)?;
    Ok(Target {
        name: r.get(0)?,
        server_url: r.get(1)?,
        username: r.get(2)?,
        device_id: r.get(3)?,
        device_name: r.get(4)?,
        token: r.get::<_, Option<String>>(5)?.map(Secret::new),
        token_expires_at: r.get(6)?,
        key: key.as_deref().and_then(SyncKey::from_slice),
        key_id: r.get(8)?,
        revision: r.get(9)?,
        last_pull_at: r.get(10)?,
        last_push_at: r.get(11)?,
        created_at: r.get(12)?,
    })
}

impl Vault {
    pub fn sync_targets(&self) -> Result<Vec<Target>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {TARGET_COLUMNS} FROM sync_targets ORDER BY name"
        ))?;
        let rows = stmt.query_map([], target_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn sync_target(&self, name: &str) -> Result<Option<Target>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {TARGET_COLUMNS} FROM sync_targets WHERE name = ?1"),
                [name],
                target_row,
            )
            .optional()?)
    }

    /// Insert or replace a target's configuration (not its records).
    pub fn save_sync_target(&mut self, t: &Target) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO sync_targets ({TARGET_COLUMNS}) VALUES \
                     (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                     ON CONFLICT (name) DO UPDATE SET server_url = excluded.server_url, \
                     username = excluded.username, device_id = excluded.device_id, \
                     device_name = excluded.device_name, token = excluded.token, \
                     token_expires_at = excluded.token_expires_at, sync_key = excluded.sync_key, \
                     key_id = excluded.key_id, revision = excluded.revision, \
                     last_pull_at = excluded.last_pull_at, last_push_at = excluded.last_push_at"
                ),
                params![
                    t.name,
                    t.server_url,
                    t.username,
                    t.device_id,
                    t.device_name,
                    t.token.as_ref().map(Secret::expose),
                    t.token_expires_at,
                    t.key.as_ref().map(|k| k.expose_bytes().to_vec()),
                    t.key_id,
                    t.revision,
                    t.last_pull_at,
                    t.last_push_at,
                    t.created_at,
                ],
            )?;
            Ok(())
        })
    }

    /// Forget what was synced with a target (a new user or server starts from zero).
    pub fn reset_sync_records(&mut self, target: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sync_records WHERE target = ?1", [target])?;
            tx.execute("DELETE FROM sync_leases WHERE target = ?1", [target])?;
            tx.execute(
                "UPDATE sync_targets SET revision = 0 WHERE name = ?1",
                [target],
            )?;
            Ok(())
        })
    }

    pub fn sync_records(&self, target: &str) -> Result<HashMap<String, Synced>> {
        let mut stmt = self.conn().prepare(
            "SELECT record_id, account_id, version, deleted, fingerprint FROM sync_records \
             WHERE target = ?1",
        )?;
        let rows = stmt.query_map([target], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Synced {
                    account_id: r.get(1)?,
                    version: r.get::<_, i64>(2)?.max(0) as u64,
                    deleted: r.get::<_, i64>(3)? != 0,
                    fingerprint: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    /// Record what was synced for these records, and move the cursor, in one transaction.
    pub fn record_synced(
        &mut self,
        target: &str,
        records: &[(String, Synced)],
        revision: Option<i64>,
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            for (record_id, s) in records {
                tx.execute(
                    "INSERT INTO sync_records (target, record_id, account_id, version, deleted, \
                     fingerprint, synced_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT (target, record_id) DO UPDATE SET account_id = excluded.account_id, \
                     version = excluded.version, deleted = excluded.deleted, \
                     fingerprint = excluded.fingerprint, synced_at = excluded.synced_at",
                    params![
                        target,
                        record_id,
                        s.account_id,
                        s.version as i64,
                        s.deleted as i64,
                        s.fingerprint,
                        now
                    ],
                )?;
            }
            if let Some(rev) = revision {
                tx.execute(
                    "UPDATE sync_targets SET revision = ?2 WHERE name = ?1",
                    params![target, rev],
                )?;
            }
            Ok(())
        })
    }

    pub fn set_sync_times(
        &mut self,
        target: &str,
        pulled: Option<i64>,
        pushed: Option<i64>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE sync_targets SET last_pull_at = COALESCE(?2, last_pull_at), \
                 last_push_at = COALESCE(?3, last_push_at) WHERE name = ?1",
                params![target, pulled, pushed],
            )?;
            Ok(())
        })
    }

    /// The freshest token stamp this vault has seen for an account.
    pub fn high_water(&self, account_id: &str) -> Result<Option<TokenStamp>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT issued_at, last_refresh, expires_at FROM sync_high_water \
                 WHERE account_id = ?1",
                [account_id],
                |r| {
                    let lr: Option<String> = r.get(1)?;
                    Ok(TokenStamp {
                        issued_at: r.get(0)?,
                        last_refresh: lr
                            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                            .map(|d| d.with_timezone(&Utc)),
                        expires_at: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Raise an account's high-water mark to `stamp` (never lowers it unless `replace`).
    pub fn raise_high_water(
        &mut self,
        account_id: &str,
        stamp: TokenStamp,
        replace: bool,
        now: i64,
    ) -> Result<()> {
        if !stamp.is_known() {
            return Ok(());
        }
        let current = self.high_water(account_id)?;
        let next = if replace {
            stamp
        } else {
            super::merge::newest(current, stamp)
        };
        if Some(next) == current {
            return Ok(());
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sync_high_water (account_id, issued_at, last_refresh, expires_at, \
                 updated_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (account_id) DO UPDATE SET \
                 issued_at = excluded.issued_at, last_refresh = excluded.last_refresh, \
                 expires_at = excluded.expires_at, updated_at = excluded.updated_at",
                params![
                    account_id,
                    next.issued_at,
                    next.last_refresh
                        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
                    next.expires_at,
                    now
                ],
            )?;
            Ok(())
        })
    }

    /// Accounts this vault deleted, with when.
    pub fn tombstones(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT account_id, deleted_at FROM tombstones")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<HashMap<_, _>>>()?)
    }

    pub fn held_leases(&self, target: &str) -> Result<Vec<HeldLease>> {
        let mut stmt = self.conn().prepare(
            "SELECT record_id, account_id, until FROM sync_leases WHERE target = ?1 \
             ORDER BY account_id",
        )?;
        let rows = stmt.query_map([target], |r| {
            Ok(HeldLease {
                record_id: r.get(0)?,
                account_id: r.get(1)?,
                until: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn note_lease(
        &mut self,
        target: &str,
        lease: Option<&HeldLease>,
        record_id: &str,
    ) -> Result<()> {
        self.write(|tx| {
            match lease {
                Some(l) => tx.execute(
                    "INSERT OR REPLACE INTO sync_leases (target, record_id, account_id, until) \
                     VALUES (?1, ?2, ?3, ?4)",
                    params![target, l.record_id, l.account_id, l.until],
                )?,
                None => tx.execute(
                    "DELETE FROM sync_leases WHERE target = ?1 AND record_id = ?2",
                    params![target, record_id],
                )?,
            };
            Ok(())
        })
    }

    /// This vault's device id (made once, random): the merge's last tie-break.
    pub fn sync_device_id(&mut self) -> Result<String> {
        if let Some(id) = self.meta_get("sync.device_id")? {
            return Ok(id);
        }
        let mut bytes = [0u8; 8];
        rand::fill(&mut bytes);
        let id = format!("dev_{}", crate::secret::hex(&bytes));
        self.meta_set("sync.device_id", &id)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Target {
        Target {
            name: name.into(),
            server_url: "http://127.0.0.1:1".into(),
            username: "alice".into(),
            device_id: "dev_1".into(),
            device_name: "laptop".into(),
            token: Some(Secret::new("cdxs_tok")),
            token_expires_at: Some(99),
            key: Some(SyncKey::generate()),
            key_id: None,
            revision: 0,
            last_pull_at: None,
            last_push_at: None,
            created_at: 1,
        }
    }

    #[test]
    fn targets_records_and_high_water_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(dir.path()).unwrap();
        let t = target("home");
        v.save_sync_target(&t).unwrap();
        let back = v.sync_target("home").unwrap().unwrap();
        assert_eq!(back.token.unwrap().expose(), "cdxs_tok");
        assert_eq!(
            back.key.unwrap().expose_bytes(),
            t.key.as_ref().unwrap().expose_bytes()
        );
        let s = Synced {
            account_id: "a".into(),
            version: 3,
            deleted: false,
            fingerprint: Some("f".into()),
        };
        v.record_synced("home", &[("r_1".into(), s.clone())], Some(7), 5)
            .unwrap();
        assert_eq!(v.sync_records("home").unwrap()["r_1"], s);
        assert_eq!(v.sync_target("home").unwrap().unwrap().revision, 7);
        let hi = TokenStamp {
            issued_at: Some(200),
            ..TokenStamp::default()
        };
        let lo = TokenStamp {
            issued_at: Some(100),
            ..TokenStamp::default()
        };
        v.raise_high_water("a", hi, false, 1).unwrap();
        v.raise_high_water("a", lo, false, 2).unwrap();
        assert_eq!(v.high_water("a").unwrap(), Some(hi));
        v.raise_high_water("a", lo, true, 3).unwrap();
        assert_eq!(v.high_water("a").unwrap(), Some(lo));
        let d1 = v.sync_device_id().unwrap();
        assert_eq!(d1, v.sync_device_id().unwrap());
        v.reset_sync_records("home").unwrap();
        assert!(v.sync_records("home").unwrap().is_empty());
    }
}
