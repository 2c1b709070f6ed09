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
//!
//! The rule spans machines: a synced account record carries where each machine has the
//! login live ([`Vault::live_placements_of`] is this machine's part), and what the other
//! machines said is kept here ([`RemotePlacement`]). A login another machine holds is not
//! written into a folder of this one ([`on_another_machine`], the one rule the planner and
//! the door share) until that machine lets it go and pushes, and this one pulls.

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

    /// Name the placement of `home` after the manifest home it is declared as (`None`: a
    /// folder no manifest declares). Other machines see the name in the refusal.
    pub fn name_placement(&mut self, home: &Path, name: Option<&str>) -> Result<()> {
        let key = placement_key(home);
        self.write(|tx| {
            tx.execute(
                "UPDATE placements SET home = ?2 WHERE path = ?1",
                params![key.to_string_lossy(), name],
            )?;
            Ok(())
        })
    }

    /// This machine's placements of `account_id` whose folder holds that login now: what
    /// its synced record says this machine has. `(folder, home name)`.
    pub fn live_placements_of(&self, account_id: &str) -> Result<Vec<(PathBuf, Option<String>)>> {
        let mut stmt = self
            .conn()
            .prepare("SELECT path, home FROM placements WHERE account_id = ?1 ORDER BY path")?;
        let rows = stmt.query_map([account_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })?;
        let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.accounts()?;
        Ok(rows
            .into_iter()
            .map(|(p, h)| (PathBuf::from(p), h))
            .filter(|(p, _)| holds(&all, p, account_id))
            .collect())
    }

    /// Forget the placements whose folder no longer holds the login put there (Codex
    /// logged out, another login went in): the next push says the login left. How many.
    /// Tests only: cdxs forgets them through the executor (`Op::ForgetPlacement`).
    #[cfg(test)]
    pub fn forget_stale_placements(&mut self) -> Result<usize> {
        let stale = self.stale_placements()?;
        for (folder, _) in &stale {
            self.clear_placement(folder)?;
        }
        Ok(stale.len())
    }

    /// The placements whose folder no longer holds the login put there: (folder, account).
    pub fn stale_placements(&self) -> Result<Vec<(PathBuf, String)>> {
        let all = self.accounts()?;
        Ok(self
            .placements()?
            .into_iter()
            .filter(|(p, id)| !holds(&all, p, id))
            .collect())
    }

    /// Forget the placement of `folder` if it is still stale (the executor, under the
    /// vault lock: a login written there since is kept). Whether it went.
    pub fn forget_placement_if_stale(&mut self, folder: &Path) -> Result<bool> {
        let key = placement_key(folder);
        let stale = self
            .stale_placements()?
            .into_iter()
            .any(|(p, _)| placement_key(&p) == key);
        if stale {
            self.clear_placement(folder)?;
        }
        Ok(stale)
    }

    /// Where the other machines have `account_id` live, as the last pulled record said.
    pub fn remote_placements_of(&self, account_id: &str) -> Result<Vec<RemotePlacement>> {
        self.remote_rows("WHERE account_id = ?1", [account_id])
    }

    /// Every login the other machines have live, as the last pulled records said.
    pub fn remote_placements(&self) -> Result<Vec<RemotePlacement>> {
        self.remote_rows("", rusqlite::params![])
    }

    fn remote_rows<P: rusqlite::Params>(
        &self,
        filter: &str,
        params: P,
    ) -> Result<Vec<RemotePlacement>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT account_id, device_id, device_name, folder, home FROM remote_placements \
             {filter} ORDER BY account_id, device_id, folder"
        ))?;
        let rows = stmt.query_map(params, |r| {
            Ok(RemotePlacement {
                account_id: r.get(0)?,
                device_id: r.get(1)?,
                device_name: r.get(2)?,
                folder: r.get(3)?,
                home: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// A pulled record of `account_id` states where the other machines have it: it
    /// replaces what was known (the record is the newest word of every machine but this
    /// one, whose own placements are only ever this vault's).
    pub fn replace_remote_placements(
        &mut self,
        account_id: &str,
        this_device: &str,
        rows: &[RemotePlacement],
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM remote_placements WHERE account_id = ?1",
                [account_id],
            )?;
            for r in rows.iter().filter(|r| r.device_id != this_device) {
                tx.execute(
                    "INSERT OR REPLACE INTO remote_placements \
                     (account_id, device_id, device_name, folder, home) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![account_id, r.device_id, r.device_name, r.folder, r.home],
                )?;
            }
            Ok(())
        })
    }

    /// Forget what the other machines said about `device` (its id, or its name): a machine
    /// lost or wiped never lets go of its logins itself. The rows that went: (account, device
    /// name). The next push carries the records without it; a device that comes back states
    /// its placements again at its own next push.
    pub fn forget_device(&mut self, device: &str) -> Result<Vec<(String, String)>> {
        let gone: Vec<(String, String)> = self
            .remote_placements()?
            .into_iter()
            .filter(|r| r.device_id == device || r.device_name == device)
            .map(|r| (r.account_id, r.device_name))
            .collect();
        self.write(|tx| {
            tx.execute(
                "DELETE FROM remote_placements WHERE device_id = ?1 OR device_name = ?1",
                [device],
            )?;
            Ok(())
        })?;
        Ok(gone)
    }

    /// The machine other than this one where the ChatGPT login `account_id` is live, as
    /// far as this vault has pulled ([`on_another_machine`]).
    pub fn live_on_another_machine(&self, account_id: &str) -> Result<Option<RemotePlacement>> {
        let rows = self.remote_placements_of(account_id)?;
        Ok(on_another_machine(&rows, account_id).cloned())
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
            if holds(&all, folder, account_id) {
                return Ok((Some(folder.clone()), stale));
            }
            if placed.iter().any(|p| placement_key(p) == key) {
                stale.push(folder.clone());
            }
        }
        Ok((None, stale))
    }
}

/// Does `folder`'s auth.json hold (any copy of) the login `account_id`?
fn holds(all: &[super::Account], folder: &Path, account_id: &str) -> bool {
    matches!(
        auth::read(folder).map(|d| d.state),
        Ok(AuthState::Credentials(c))
            if match_credentials(all, &c).is_some_and(|a| a.id == account_id)
    )
}

/// Where another machine has a login live, as its synced record said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePlacement {
    pub account_id: String,
    pub device_id: String,
    /// The machine's name (`sync login --device`).
    pub device_name: String,
    /// The folder as that machine shows it (`~/...`).
    pub folder: String,
    /// The manifest home it is declared as there, if any.
    pub home: Option<String>,
}

impl RemotePlacement {
    /// `home `work` on machine `laptop-a` (~/.codex-work)`, or `` `~/x` on machine `laptop-a` ``.
    pub fn describe(&self) -> String {
        match &self.home {
            Some(h) => format!(
                "home `{h}` on machine `{}` ({})",
                self.device_name, self.folder
            ),
            None => format!("`{}` on machine `{}`", self.folder, self.device_name),
        }
    }

    /// How that machine lets the login go: `on `laptop-a`, switch it to another login
    /// (`cdxs switch OTHER --home work`) or unbind it`.
    pub fn let_go(&self) -> String {
        let away = match &self.home {
            Some(h) => format!("`cdxs switch OTHER --home {h}`"),
            None => format!("`cdxs switch OTHER --codex-home {}`", self.folder),
        };
        format!(
            "on `{}`, switch it to another login ({away}) or unbind it (a machine gone for good: `cdxs sync forget-device {}` here)",
            self.device_name, self.device_name
        )
    }
}

/// The one rule across machines: the placement, if any, that keeps the ChatGPT login
/// `account_id` from going into a folder of this machine (`rows` are the other machines'
/// placements as pulled; this machine's own never are among them). The planner asks it of
/// what it observed, the executor's door of the vault right before the write.
pub fn on_another_machine<'a>(
    rows: &'a [RemotePlacement],
    account_id: &str,
) -> Option<&'a RemotePlacement> {
    rows.iter().find(|r| r.account_id == account_id)
}

/// The refusal to write `account` into `here` (described) while `there` holds it.
pub fn refusal(account: &str, here: String, there: &RemotePlacement) -> crate::error::Error {
    crate::error::Error::LiveOnAnotherMachine {
        account: account.to_string(),
        here,
        there: there.describe(),
        let_go: there.let_go(),
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
            vec![crate::platform::path::canonicalize(&home).unwrap()],
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

    #[test]
    fn other_machines_placements_are_replaced_per_record_and_never_this_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        let r = |device: &str, folder: &str| RemotePlacement {
            account_id: "oauth_a".into(),
            device_id: device.into(),
            device_name: format!("{device}-name"),
            folder: folder.into(),
            home: Some("work".into()),
        };
        v.replace_remote_placements("oauth_a", "me", &[r("dev-a", "~/w"), r("me", "~/x")])
            .unwrap();
        assert_eq!(
            v.remote_placements_of("oauth_a").unwrap(),
            vec![r("dev-a", "~/w")]
        );
        let there = v.live_on_another_machine("oauth_a").unwrap().unwrap();
        assert_eq!(
            there.describe(),
            "home `work` on machine `dev-a-name` (~/w)"
        );
        assert!(v.live_on_another_machine("oauth_b").unwrap().is_none());
        // A newer record without dev-a: forgotten.
        v.replace_remote_placements("oauth_a", "me", &[]).unwrap();
        assert!(v.live_on_another_machine("oauth_a").unwrap().is_none());
        assert!(v.remote_placements().unwrap().is_empty());
    }

    #[test]
    fn only_placements_that_still_hold_their_login_are_live_and_the_rest_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        let t = login("a@x.io", "rt-1");
        let a = Account::oauth(&t, "t", 1);
        v.upsert(&a).unwrap();
        let (kept, emptied) = (dir.path().join("kept"), dir.path().join("emptied"));
        for f in [&kept, &emptied] {
            std::fs::create_dir_all(f).unwrap();
            std::fs::write(
                f.join("auth.json"),
                auth::render(&Credentials::ChatGpt(t.clone())),
            )
            .unwrap();
            v.set_placement(f, &a.id, 1).unwrap();
        }
        v.name_placement(&kept, Some("work")).unwrap();
        std::fs::remove_file(emptied.join("auth.json")).unwrap();
        let live = v.live_placements_of(&a.id).unwrap();
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(live[0].1.as_deref(), Some("work"));
        assert_eq!(v.forget_stale_placements().unwrap(), 1);
        assert_eq!(v.placements_of(&a.id).unwrap().len(), 1);
    }
}
