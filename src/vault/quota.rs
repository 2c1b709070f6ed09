//! The quota cache: the last answer of the usage endpoint per account, with its fetch
//! time (`list` refreshes what is older than 5 minutes; `show` never calls the network).

use rusqlite::{OptionalExtension, params};

use super::Vault;
use crate::error::Result;
use crate::quota::Quota;

impl Vault {
    pub fn quota(&self, account_id: &str) -> Result<Option<Quota>> {
        let text: Option<String> = self
            .conn()
            .query_row(
                "SELECT snapshot FROM quota WHERE account_id = ?1",
                [account_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    pub fn quotas(&self) -> Result<std::collections::BTreeMap<String, Quota>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT account_id, snapshot FROM quota")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (id, text) = row?;
            if let Ok(q) = serde_json::from_str(&text) {
                out.insert(id, q);
            }
        }
        Ok(out)
    }

    pub fn set_quota(&mut self, account_id: &str, quota: &Quota) -> Result<()> {
        let text = serde_json::to_string(quota).expect("quota serializes");
        self.write(|tx| {
            tx.execute(
                "INSERT INTO quota (account_id, fetched_at, snapshot) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO UPDATE SET fetched_at = excluded.fetched_at,
                 snapshot = excluded.snapshot",
                params![account_id, quota.fetched_at, text],
            )?;
            if let Some(plan) = &quota.plan_type {
                tx.execute(
                    "UPDATE accounts SET plan_type = ?2 WHERE id = ?1",
                    params![account_id, plan],
                )?;
            }
            Ok(())
        })
    }
}
