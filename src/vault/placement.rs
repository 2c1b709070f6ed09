//! Placements: every folder cdxs wrote a ChatGPT login into (a declared home of any
//! manifest, `switch --codex-home`, `run --account`, rollback, a home since removed from the
//! manifest), and the door every write of a login goes through.
//!
//! Codex rotates refresh tokens: two live copies of one login end in
//! `refresh_token_reused`, and the issuer then revokes the login everywhere. So a write that
//! would leave one ChatGPT login in two folders is refused, whoever asks (plan and apply
//! under any manifest, switch, run, rollback): [`Vault::live_elsewhere`] is asked right
//! before the write, under the vault lock. A refresh writes the new tokens into every folder
//! that still holds the login, so no copy is left behind to go stale.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::Vault;
use super::accounts::match_credentials;
use crate::codex::auth::{self, AuthState};
use crate::error::Result;

impl Vault {
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

    /// A folder other than `target` where the login `account_id` is live now: its auth.json
    /// holds that login (any copy of it: a Codex there would send it). Looked for in `also`
    /// (the declared homes, the default home) and in every folder the vault placed it in;
    /// a placement that no longer holds it is forgotten on the way.
    pub fn live_elsewhere(
        &mut self,
        account_id: &str,
        target: &Path,
        also: &[PathBuf],
    ) -> Result<Option<PathBuf>> {
        let (found, stale) = self.find_live_copy(account_id, target, also)?;
        for folder in stale {
            self.clear_placement(&folder)?;
        }
        Ok(found)
    }

    /// [`Vault::live_elsewhere`] without forgetting anything (a preview): the folder that
    /// holds the login, and the placements that no longer do.
    pub fn find_live_copy(
        &self,
        account_id: &str,
        target: &Path,
        also: &[PathBuf],
    ) -> Result<(Option<PathBuf>, Vec<PathBuf>)> {
        let target_key = placement_key(target);
        let placed = self.placements_of(account_id)?;
        let all = self.accounts()?;
        let mut seen = BTreeSet::new();
        let mut stale = Vec::new();
        for folder in also.iter().chain(placed.iter()) {
            let key = placement_key(folder);
            if key == target_key || !seen.insert(key.clone()) {
                continue;
            }
            let holds = matches!(
                auth::read(folder).map(|d| d.state),
                Ok(AuthState::Credentials(c))
                    if match_credentials(&all, &c).is_some_and(|a| a.id == account_id)
            );
            if holds {
                return Ok((Some(folder.clone()), stale));
            }
            if placed.iter().any(|p| placement_key(p) == key) {
                stale.push(folder.clone());
            }
        }
        Ok((None, stale))
    }
}

/// One spelling per folder: resolved when it exists, so two spellings are one placement.
pub fn placement_key(home: &Path) -> PathBuf {
    crate::paths::resolved_key(home)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::auth::{ChatGptTokens, Credentials};
    use crate::secret::Secret;
    use crate::vault::Account;

    fn login(email: &str, rt: &str) -> ChatGptTokens {
        let claims = serde_json::json!({"email": email,
            "https://api.openai.com/auth": {"chatgpt_account_id": "ws"}, "iat": 1, "exp": 2});
        ChatGptTokens {
            id_token: Secret::new(crate::codex::jwt::unsigned(&claims)),
            access_token: Secret::new(crate::codex::jwt::unsigned(&claims)),
            refresh_token: Secret::new(rt),
            account_id: Some("ws".into()),
            last_refresh: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn placements_are_remembered_under_one_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
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

    #[test]
    fn a_login_is_live_where_a_folder_holds_it_and_stale_placements_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        let t = login("a@x.io", "rt-1");
        let a = Account::oauth(&t, "t", 1);
        v.upsert(&a).unwrap();
        let (placed, declared, target) = (
            dir.path().join("placed"),
            dir.path().join("declared"),
            dir.path().join("target"),
        );
        for f in [&placed, &declared, &target] {
            std::fs::create_dir_all(f).unwrap();
        }
        let bytes = auth::render(&Credentials::ChatGpt(t));
        std::fs::write(placed.join("auth.json"), &bytes).unwrap();
        v.set_placement(&placed, &a.id, 1).unwrap();
        assert_eq!(
            v.live_elsewhere(&a.id, &target, &[]).unwrap(),
            Some(placed.clone())
        );
        // Not in the folder it is about to be written to.
        assert_eq!(v.live_elsewhere(&a.id, &placed, &[]).unwrap(), None);
        // Gone from the placement: forgotten.
        std::fs::remove_file(placed.join("auth.json")).unwrap();
        assert_eq!(v.live_elsewhere(&a.id, &target, &[]).unwrap(), None);
        assert!(v.placements_of(&a.id).unwrap().is_empty());
        // A declared home holding it is found.
        std::fs::write(declared.join("auth.json"), &bytes).unwrap();
        assert_eq!(
            v.live_elsewhere(&a.id, &target, std::slice::from_ref(&declared))
                .unwrap(),
            Some(declared.clone())
        );
        std::fs::write(declared.join("auth.json"), b"{}").unwrap();
        assert_eq!(v.live_elsewhere(&a.id, &target, &[declared]).unwrap(), None);
    }
}
