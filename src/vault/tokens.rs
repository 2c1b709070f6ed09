//! Rotation safety in the vault: which refresh tokens are spent (where cdxs put each login
//! is [`super::placement`]).
//!
//! A refresh token is *spent* once it was sent to the issuer and answered with new tokens,
//! or answered `refresh_token_reused`: any copy holding it is dead. Such a copy is never
//! harvested (it may look newer by a skewed `last_refresh`) and never written anywhere.

use std::collections::BTreeSet;

use rusqlite::params;

use super::Vault;
use crate::error::Result;

/// Why a token counts as spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// cdxs sent it and the issuer answered with a new pair.
    Refreshed,
    /// The issuer answered `refresh_token_reused` (or another permanent refusal).
    Refused,
}

impl Spent {
    fn as_str(self) -> &'static str {
        match self {
            Spent::Refreshed => "refreshed",
            Spent::Refused => "refused",
        }
    }
}

impl Vault {
    /// Remember that a refresh token (by fingerprint) is spent.
    pub fn mark_spent(
        &mut self,
        account_id: &str,
        fingerprint: &str,
        why: Spent,
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO spent_tokens (fingerprint, account_id, spent_at, why) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (fingerprint) DO NOTHING",
                params![fingerprint, account_id, now, why.as_str()],
            )?;
            Ok(())
        })
    }

    pub fn is_spent(&self, fingerprint: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM spent_tokens WHERE fingerprint = ?1",
                [fingerprint],
                |_| Ok(()),
            )
            .map(|_| true)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(false),
                e => Err(e),
            })?)
    }

    /// Every spent token: (fingerprint, account id, when, why), for a vault archive.
    pub fn spent_tokens(&self) -> Result<Vec<(String, String, i64, String)>> {
        let mut stmt = self.conn().prepare(
            "SELECT fingerprint, account_id, spent_at, why FROM spent_tokens ORDER BY spent_at",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every spent fingerprint (plan observes them once).
    pub fn spent(&self) -> Result<BTreeSet<String>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT fingerprint FROM spent_tokens")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<BTreeSet<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_tokens_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        assert!(!v.is_spent("sha256:1").unwrap());
        v.mark_spent("oauth_a", "sha256:1", Spent::Refreshed, 10)
            .unwrap();
        v.mark_spent("oauth_a", "sha256:1", Spent::Refused, 11)
            .unwrap();
        assert!(v.is_spent("sha256:1").unwrap());
        assert_eq!(v.spent().unwrap().len(), 1);
    }
}
