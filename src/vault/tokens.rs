//! Rotation safety in the vault: which refresh tokens are spent, and where cdxs put each
//! login.
//!
//! A refresh token is *spent* once it was sent to the issuer and answered with new tokens,
//! or answered `refresh_token_reused`: any copy holding it is dead. Such a copy is never
//! harvested (it may look newer by a skewed `last_refresh`) and never written anywhere.
//!
//! A *placement* is a folder cdxs wrote a login into (a declared home, `run --account
//! --codex-home`, `switch` without a manifest): a refresh writes the new tokens into every
//! folder that still holds the login, so no copy is left behind to go stale.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

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

    /// Every spent fingerprint (plan observes them once).
    pub fn spent(&self) -> Result<BTreeSet<String>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT fingerprint FROM spent_tokens")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<rusqlite::Result<BTreeSet<_>>>()?)
    }

    /// Record that cdxs wrote `account_id` into the folder `home`.
    pub fn set_placement(&mut self, home: &Path, account_id: &str, now: i64) -> Result<()> {
        let key = placement_key(home);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO placements (path, account_id, written_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET account_id = excluded.account_id,
                 written_at = excluded.written_at",
                params![key.to_string_lossy(), account_id, now],
            )?;
            Ok(())
        })
    }

    /// The folder no longer holds a login cdxs put there.
    pub fn clear_placement(&mut self, home: &Path) -> Result<()> {
        let key = placement_key(home);
        self.write(|tx| {
            tx.execute(
                "DELETE FROM placements WHERE path = ?1",
                [key.to_string_lossy()],
            )?;
            Ok(())
        })
    }

    /// Folders cdxs wrote `account_id` into (they may hold something else by now).
    pub fn placements_of(&self, account_id: &str) -> Result<Vec<PathBuf>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT path FROM placements WHERE account_id = ?1 ORDER BY path")?;
        let rows = stmt.query_map([account_id], |r| r.get::<_, String>(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(PathBuf::from)
            .collect())
    }

    /// Every placement: (folder, account id).
    pub fn placements(&self) -> Result<Vec<(PathBuf, String)>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT path, account_id FROM placements ORDER BY path")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(|(p, a)| (PathBuf::from(p), a))
            .collect())
    }
}

/// One spelling per folder: resolved when it exists, so two spellings are one placement.
pub fn placement_key(home: &Path) -> PathBuf {
    crate::paths::resolved_key(home)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_tokens_and_placements_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        assert!(!v.is_spent("sha256:1").unwrap());
        v.mark_spent("oauth_a", "sha256:1", Spent::Refreshed, 10)
            .unwrap();
        v.mark_spent("oauth_a", "sha256:1", Spent::Refused, 11)
            .unwrap();
        assert!(v.is_spent("sha256:1").unwrap());
        assert_eq!(v.spent().unwrap().len(), 1);
        let home = dir.path().join("h");
        std::fs::create_dir_all(&home).unwrap();
        v.set_placement(&home.join("."), "oauth_a", 1).unwrap();
        v.set_placement(&home, "oauth_a", 2).unwrap();
        assert_eq!(
            v.placements_of("oauth_a").unwrap(),
            vec![std::fs::canonicalize(&home).unwrap()],
            "two spellings, one placement"
        );
        v.clear_placement(&home).unwrap();
        assert!(v.placements_of("oauth_a").unwrap().is_empty());
    }
}
