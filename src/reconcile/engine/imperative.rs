//! The imperative commands on the engine: `switch` (with a manifest: edit it and converge
//! the home; without: write the account into the folder), `run --account`, `--switch` on
//! imports. A ChatGPT login never gets a second live copy unless the person moves it.

use std::path::{Path, PathBuf};

use super::{Applied, Engine, Progress};
use crate::codex::auth::{self, AuthState};
use crate::error::{Error, Result};
use crate::manifest::{Binding, Manifest, select};
use crate::reconcile::apply::Report;
use crate::reconcile::observe::Scope;
use crate::reconcile::ops::{self, WriteInto};
use crate::resolve::{self, Named};
use crate::vault::placement::placement_key;
use crate::vault::{Account, AccountKind};

/// What `switch` did.
#[derive(Debug)]
pub enum Switched {
    /// cdxs.yaml now binds `home` to `alias`; `applied` is what converging it did (`None`:
    /// it already held the account).
    Manifest {
        home: String,
        alias: String,
        /// The edit of cdxs.yaml (`None`: it already said so).
        edit: Option<crate::reconcile::text_diff::TextDiff>,
        applied: Option<Box<Applied>>,
    },
    /// No manifest home: the account was written into the folder.
    Folder {
        path: PathBuf,
        account: Box<Account>,
        report: Report,
    },
}

/// Who `switch` picks.
#[derive(Debug, Clone)]
pub enum SwitchTo {
    /// The usable login with the most quota left that no other home uses.
    Auto,
    Named(Named),
}

/// Where `switch` writes.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub home: Option<String>,
    pub codex_home: Option<PathBuf>,
    /// `--move`: take the login out of the folder it lives in now.
    pub allow_move: bool,
}

impl Engine {
    /// The folder where OAuth login `account` is live now other than `target` (its auth.json
    /// holds it): a home the manifest binds it to, a declared home that holds it, or a
    /// folder cdxs wrote it into. `(folder, home name)`.
    pub fn live_elsewhere(
        &self,
        m: Option<&Manifest>,
        account: &Account,
        target: &Path,
    ) -> Result<Option<(PathBuf, Option<String>)>> {
        if account.kind != AccountKind::OAuth {
            return Ok(None);
        }
        let target_key = placement_key(target);
        let holds = |folder: &Path| -> bool {
            matches!(auth::read(folder).map(|d| d.state),
                Ok(AuthState::Credentials(c)) if self.vault.accounts().ok().is_some_and(|all|
                    crate::vault::accounts::match_credentials(&all, &c).is_some_and(|a| a.id == account.id)))
        };
        if let Some(m) = m {
            for h in m.homes.values() {
                if placement_key(&h.path) == target_key {
                    continue;
                }
                let bound = matches!(&h.binding, Some(Binding::Account(alias))
                    if m.accounts.get(alias).is_some_and(|r| resolve::ref_names(r, account)));
                if bound || holds(&h.path) {
                    return Ok(Some((h.path.clone(), Some(h.name.clone()))));
                }
            }
        }
        for folder in self.vault.placements_of(&account.id)? {
            if placement_key(&folder) != target_key && holds(&folder) {
                return Ok(Some((folder, None)));
            }
        }
        Ok(None)
    }

    /// Does `home` already hold `account` as cdxs would write it (tokens at least as new as
    /// the vault's and not spent, not about to expire, the endpoint set)? Then `run` has
    /// nothing to write.
    pub fn holds_current(&self, account: &Account, home: &Path) -> Result<bool> {
        let Ok(doc) = auth::read(home) else {
            return Ok(false);
        };
        let AuthState::Credentials(creds) = doc.state else {
            return Ok(false);
        };
        let all = self.vault.accounts()?;
        if crate::vault::accounts::match_credentials(&all, &creds).map(|a| a.id.as_str())
            != Some(account.id.as_str())
        {
            return Ok(false);
        }
        if let auth::Credentials::ChatGpt(t) = &creds {
            let file = crate::vault::accounts::tokens_freshness(t);
            if self.vault.is_spent(&t.refresh_token.fingerprint())?
                || crate::vault::freshness::compare(&account.freshness(), &file)
                    == std::cmp::Ordering::Greater
                || crate::vault::freshness::refresh_due(
                    file.expires_at,
                    self.now(),
                    self.refresh_window,
                )
            {
                return Ok(false);
            }
        }
        let config = crate::codex::config::observe(home);
        let known = |u: &str| all.iter().any(|a| a.base_url.as_deref() == Some(u));
        Ok(crate::codex::config::base_url_change(
            account.base_url.as_deref(),
            config.base_url.as_deref(),
            &known,
        )
        .is_none())
    }

    /// The vault account whose login `folder`'s auth.json holds, if any.
    pub fn login_in(&self, folder: &Path) -> Result<Option<Account>> {
        let Ok(AuthState::Credentials(c)) = auth::read(folder).map(|d| d.state) else {
            return Ok(None);
        };
        let all = self.vault.accounts()?;
        Ok(crate::vault::accounts::match_credentials(&all, &c).cloned())
    }

    /// `Err` when the folder's Codex settings would make Codex ignore, delete or leave
    /// unused `account`'s login there (the rules plan applies to declared homes).
    pub fn codex_would_use(&self, account: &Account, path: &Path) -> Result<()> {
        ops::codex_would_use(account, path, &crate::codex::config::observe(path))
    }

    /// Write `account` into the folder `path` outside plan/apply, as one generation.
    pub fn write_account(
        &mut self,
        m: Option<&Manifest>,
        account: &Account,
        path: &Path,
        command: &str,
        allow_move: bool,
        progress: &mut dyn Progress,
    ) -> Result<Report> {
        // Another machine's copy is not this machine's to take, `--move` or not: that
        // machine lets it go and pushes first (its next pull would not know to remove it).
        if account.kind == AccountKind::OAuth
            && let Some(there) = self.vault.live_on_another_machine(&account.id)?
        {
            let here = format!("`{}`", crate::paths::display(path));
            return Err(crate::vault::placement::refusal(
                account.name(),
                here,
                &there,
            ));
        }
        let moved_from = match self.live_elsewhere(m, account, path)? {
            None => None,
            Some((folder, None)) if allow_move => Some(folder),
            Some((folder, home)) => {
                return Err(Error::LiveElsewhere {
                    account: account.name().to_string(),
                    folder,
                    home,
                });
            }
        };
        let all = self.vault.accounts()?;
        let known_urls: Vec<String> = all.iter().filter_map(|a| a.base_url.clone()).collect();
        let config = crate::codex::config::observe(path);
        let refresh_first = self.online
            && crate::vault::freshness::refresh_due(
                account.access_expires_at,
                self.now(),
                self.refresh_window,
            );
        let plan = ops::write_into(&WriteInto {
            account,
            home: path,
            config: &config,
            known_urls: &known_urls,
            refresh_first,
            moved_from: moved_from.as_deref(),
        })?;
        self.run(m, &plan, command, None, progress)
    }

    /// `switch`: bind a home to an account and converge it, or (no manifest home) write
    /// the account into the folder.
    pub fn switch(
        &mut self,
        m: Option<&Manifest>,
        to: SwitchTo,
        target: &Target,
        progress: &mut dyn Progress,
    ) -> Result<Switched> {
        let default_path = crate::paths::default_codex_home()?;
        let home = match m {
            Some(m) => select::target_home(
                m,
                target.home.as_deref(),
                target.codex_home.as_deref(),
                &default_path,
            )?,
            None if target.home.is_some() => {
                return Err(Error::NoManifest {
                    path: PathBuf::from("cdxs.yaml"),
                    explicit: false,
                });
            }
            None => None,
        };
        let named = match to {
            SwitchTo::Named(n) => n,
            SwitchTo::Auto => {
                let best =
                    self.best_free_login(m, home.as_deref().unwrap_or("default"), progress)?;
                let alias = m.and_then(|m| resolve::alias_of(m, &best));
                Named::Account(Box::new(best), alias)
            }
        };
        let (Some(m), Some(home)) = (m, home) else {
            // Imperative fallback, as the older tool did: write the account into the folder.
            let account = match named {
                Named::Account(a, _) => *a,
                Named::Alias(alias) => {
                    return Err(Error::user(format!(
                        "`{alias}` is an alias; name the home with `--home`"
                    )));
                }
            };
            let path = target.codex_home.clone().unwrap_or(default_path);
            let report =
                self.write_account(m, &account, &path, "switch", target.allow_move, progress)?;
            return Ok(Switched::Folder {
                path,
                account: Box::new(account),
                report,
            });
        };
        let (text, alias) = self.bind_text(m, &home, &named)?;
        let (edited, edit) = self.edit_manifest(m, &text, Some(&home))?;
        let diff = edit.as_ref().and_then(|e| e.diff.clone());
        let applied = self.converge(
            &edited,
            std::slice::from_ref(&home),
            "switch",
            edit,
            Scope::default(),
            progress,
        )?;
        Ok(Switched::Manifest {
            home,
            alias,
            edit: diff,
            applied: applied.map(Box::new),
        })
    }

    /// The usable ChatGPT login with the most quota left that no other home is bound to
    /// (unknown quota ranks last, never as "most remaining").
    pub fn best_free_login(
        &mut self,
        m: Option<&Manifest>,
        target_home: &str,
        progress: &mut dyn Progress,
    ) -> Result<Account> {
        let all = self.vault.accounts()?;
        let mut taken: Vec<String> = Vec::new();
        if let Some(m) = m {
            for h in m.homes.values().filter(|h| h.name != target_home) {
                if let Some(Binding::Account(alias)) = &h.binding
                    && let Ok(a) = resolve::account(Some(m), &all, alias)
                {
                    taken.push(a.id);
                }
            }
        }
        let candidates: Vec<&Account> = all
            .iter()
            .filter(|a| a.kind == AccountKind::OAuth && !a.requires_reauth && a.tokens.is_some())
            .filter(|a| !taken.contains(&a.id))
            .filter(|a| {
                // One live on another machine (as pulled) is not free either.
                !matches!(self.vault.live_on_another_machine(&a.id), Ok(Some(_)))
            })
            .collect();
        if candidates.is_empty() {
            return Err(
                Error::user("no ChatGPT login is free to switch to").with_help(
                    "log in with `cdxs login oauth`, or name an account: `cdxs switch ACCOUNT`",
                ),
            );
        }
        let ids: Vec<String> = candidates.iter().map(|a| a.id.clone()).collect();
        if self.online {
            self.refresh_stale_quota(m, &ids, false, true, progress)?;
        }
        let quotas = self.vault.quotas()?;
        let remaining = |a: &Account| quotas.get(&a.id).and_then(crate::quota::Quota::remaining);
        let best = candidates
            .iter()
            .copied()
            .max_by(|a, b| {
                remaining(a)
                    .unwrap_or(-1.0)
                    .total_cmp(&remaining(b).unwrap_or(-1.0))
            })
            .cloned()
            .ok_or_else(|| Error::user("no ChatGPT login is free to switch to"))?;
        progress.status(format!(
            "best quota: {} ({})",
            best.name(),
            remaining(&best)
                .map(|r| format!("{r:.0}% left"))
                .unwrap_or_else(|| "quota unknown".into())
        ));
        Ok(best)
    }
}
