//! Imperative commands that change homes or bindings edit cdxs.yaml in place (only the
//! bytes that change), refuse an edit that would make it invalid or leave the affected home
//! unplannable, and record the edit in the generation that converges the home.

use super::{Engine, Quiet};
use crate::backup::Backups;
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, edit};
use crate::reconcile::apply::FileChange;
use crate::reconcile::engine::Applied;
use crate::reconcile::observe::Scope;
use crate::reconcile::text_diff::TextDiff;
use crate::resolve::Named;
use crate::secret::fingerprint;

impl Engine {
    /// Validate `new_text`, check that `home` can be planned with it (a known login, a set
    /// variable), then write it with a backup. The returned change goes into the journal of
    /// the generation that converges the home.
    pub fn edit_manifest(
        &mut self,
        m: &Manifest,
        new_text: &str,
        home: Option<&str>,
    ) -> Result<(Manifest, Vec<FileChange>)> {
        if new_text == m.text {
            return Ok((m.clone(), Vec::new()));
        }
        let edited =
            manifest::parse(new_text, &m.path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
        if let Some(home) = home {
            let scope = Scope {
                homes: Some(vec![home.to_string()]),
                skip_processes: true,
                skip_sessions: true,
                offline: true,
            };
            let o = self.observe_cached(&edited, &scope, &mut Quiet)?;
            let plan = crate::reconcile::plan::plan(&edited, &o, &self.plan_inputs());
            let errors: Vec<_> = plan
                .errors
                .into_iter()
                .filter(|e| e.address.in_home(home))
                .collect();
            if !errors.is_empty() {
                return Err(crate::reconcile::plan_failed(errors));
            }
        }
        let mut backups = Backups::new(&self.state_dir, "manifest");
        let written = edit::write(&m.path, new_text, &mut backups)?;
        let backup = backups.saved().first().map(|(_, b)| b.clone());
        Ok((
            written,
            vec![FileChange {
                path: m.path.clone(),
                backup,
                before: Some(fingerprint(m.text.as_bytes())),
                after: Some(fingerprint(new_text.as_bytes())),
                diff: crate::reconcile::text_diff::between(
                    &crate::paths::display(&m.path),
                    &m.text,
                    new_text,
                ),
            }],
        ))
    }

    /// The manifest text with `home` bound to `named` (an account without an alias gets
    /// one). Returns the text and the alias.
    pub fn bind_text(&self, m: &Manifest, home: &str, named: &Named) -> Result<(String, String)> {
        let (mut text, alias) = match named {
            Named::Alias(alias) | Named::Account(_, Some(alias)) => (m.text.clone(), alias.clone()),
            Named::Account(a, None) => {
                let alias = manifest::alias::new_alias(m, a);
                let (key, value) = manifest::alias::reference_for(&self.vault.accounts()?, a);
                (edit::add_account(&m.text, &alias, key, &value)?, alias)
            }
        };
        text = edit::set_home_account(&text, home, &alias)?;
        Ok((text, alias))
    }

    /// `home create`: declare `name` at `shown_path` in cdxs.yaml (bound to `account` when
    /// given), then converge that home. What changed in cdxs.yaml, and what apply did.
    pub fn create_home(
        &mut self,
        m: &Manifest,
        name: &str,
        shown_path: &str,
        account: Option<&str>,
        progress: &mut dyn super::Progress,
    ) -> Result<(Option<TextDiff>, Option<Applied>)> {
        if m.homes.contains_key(name) {
            return Err(
                Error::user(format!("cdxs.yaml already declares home `{name}`")).with_help(
                    format!("bind it with `cdxs home bind {name} ACCOUNT`, or pick another name"),
                ),
            );
        }
        let mut text = edit::add_home(&m.text, name, shown_path, None)?;
        if let Some(query) = account {
            let named = crate::resolve::named(Some(m), &self.vault.accounts()?, query)?;
            let with_home =
                manifest::parse(&text, &m.path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
            text = self.bind_text(&with_home, name, &named)?.0;
        }
        let (edited, extra) = self.edit_manifest(m, &text, Some(name))?;
        let diff = extra.first().and_then(|c| c.diff.clone());
        let homes = [name.to_string()];
        let scope = Scope::default();
        let applied = self.converge(&edited, &homes, "home create", extra, scope, progress)?;
        Ok((diff, applied))
    }
}
