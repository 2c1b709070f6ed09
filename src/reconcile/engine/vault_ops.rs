//! The vault's own changes as one-action plans through the one executor: put accounts,
//! remove one, name one. Each runs under the vault lock as a generation of its own, which
//! `history` lists and `rollback` says it cannot undo.

use super::{Engine, Quiet};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::reconcile::apply::Report;
use crate::reconcile::ops;
use crate::reconcile::staged::StagedAccount;
use crate::vault::Account;
use crate::vault::accounts::Upsert;

/// An account put into the vault: what the vault made of it, and the account as stored.
pub type Put = (Upsert, Account);

impl Engine {
    /// Put accounts into the vault (merged by the high-water rule), in one generation.
    pub fn put_accounts(&mut self, staged: Vec<StagedAccount>, command: &str) -> Result<Vec<Put>> {
        let n = staged.len();
        let report = self.run(None, &ops::put_accounts(staged), command, None, &mut Quiet)?;
        let mut out = Vec::with_capacity(n);
        for (outcome, id) in report.done.into_iter().filter_map(|d| d.account) {
            let stored = self.vault.account(&id)?.ok_or_else(|| {
                Error::user(format!("{id} is not in the vault after it was put there"))
            })?;
            out.push((outcome, stored));
        }
        Ok(out)
    }

    /// Put one account into the vault; `name` names it (`--name`).
    pub fn put_account(
        &mut self,
        account: Account,
        name: Option<String>,
        command: &str,
    ) -> Result<Put> {
        self.put(account, false, name, command)
    }

    /// Put a login cdxs itself just made (`login oauth`): it replaces the vault's copy.
    pub fn put_new_login(&mut self, account: Account, command: &str) -> Result<Put> {
        self.put(account, true, None, command)
    }

    fn put(
        &mut self,
        account: Account,
        new_login: bool,
        name: Option<String>,
        command: &str,
    ) -> Result<Put> {
        let staged = StagedAccount {
            account: Box::new(account),
            new_login,
            name,
        };
        self.put_accounts(vec![staged], command)?
            .pop()
            .ok_or_else(|| Error::user("the account was not put into the vault"))
    }

    /// Take the tokens Codex rotated on this machine into the vault (`sync push` runs it
    /// first): every home `m` declares, the default home and every folder the vault placed a
    /// login in (a placement that no longer holds its login is forgotten first). Only newer
    /// tokens are taken (the high-water rule); a folder whose login is not in the vault is
    /// left alone. A generation only when something was taken.
    pub fn harvest_known(&mut self, m: Option<&Manifest>, command: &str) -> Result<()> {
        // A placement whose folder no longer holds its login is forgotten: the next push
        // tells the other machines the login left it.
        let stale = self.vault.stale_placements()?;
        // The declared homes and the default one, then the vault's placements.
        let mut folders = self.known_homes(m);
        folders.extend(self.vault.placements()?.into_iter().map(|(p, _)| p));
        let mut seen = std::collections::BTreeSet::new();
        let mut holding = Vec::new();
        for folder in folders {
            if !seen.insert(crate::vault::placement::placement_key(&folder)) {
                continue;
            }
            if let Some(account) = self.login_in(&folder)?
                && account.kind == crate::vault::AccountKind::OAuth
            {
                holding.push((folder, account));
            }
        }
        let mut actions = ops::forget_placements(&stale);
        actions.extend(ops::harvest(&holding).actions);
        if actions.is_empty() {
            return Ok(());
        }
        // Under `--dry-run` these come first in the plan the command's own write shows.
        if self.dry_run() {
            self.dry_run_before(actions);
            return Ok(());
        }
        self.run(m, &ops::plan_of(actions), command, None, &mut Quiet)?;
        Ok(())
    }

    /// Take an account out of the vault; its secrets are erased from the vault's files.
    pub fn remove_account(&mut self, account: &Account, command: &str) -> Result<Report> {
        self.run(
            None,
            &ops::remove_account(account),
            command,
            None,
            &mut Quiet,
        )
    }

    /// Name an account (`account rename`).
    pub fn rename_account(
        &mut self,
        account: &Account,
        name: &str,
        command: &str,
    ) -> Result<Report> {
        self.run(
            None,
            &ops::rename_account(account, name),
            command,
            None,
            &mut Quiet,
        )
    }

    /// Take a vault archive into the vault (`vault import`), as a generation of its own.
    pub fn import_archive(
        &mut self,
        m: Option<&Manifest>,
        file: &std::path::Path,
        contents: crate::archive::Contents,
    ) -> Result<crate::archive::Imported> {
        let report = self.run(
            m,
            &ops::import_archive(file, contents),
            "vault import",
            None,
            &mut Quiet,
        )?;
        report
            .done
            .into_iter()
            .find_map(|d| d.imported)
            .map(|i| *i)
            .ok_or_else(|| Error::user("the archive was not imported"))
    }

    /// `sync forget-device`: forget what the other machines said about `device`, as a
    /// generation (the command pushes after it, so that every machine forgets it at its
    /// next pull).
    pub fn forget_device(&mut self, device: &str) -> Result<Report> {
        self.run(
            None,
            &ops::forget_device(device),
            "sync forget-device",
            None,
            &mut Quiet,
        )
    }
}
