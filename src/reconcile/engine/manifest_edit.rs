//! Imperative commands that change homes or bindings edit cdxs.yaml in place (only the
//! bytes that change), refuse an edit that would make it invalid or leave the affected home
//! unplannable, and hand the edit to the executor: it is the first write of the generation
//! that converges the home, so `rollback` puts both back and `--dry-run` shows it.

use std::path::{Path, PathBuf};

use super::{Engine, Quiet};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, edit};
use crate::reconcile::apply::Report;
use crate::reconcile::engine::Applied;
use crate::reconcile::observe::Scope;
use crate::reconcile::text_diff::TextDiff;
use crate::reconcile::{Action, ops};
use crate::resolve::Named;
use crate::secret::fingerprint;

/// An edit of cdxs.yaml on its way to the executor ([`crate::reconcile::Op::WriteManifest`]).
#[derive(Debug, Clone)]
pub struct ManifestEdit {
    pub path: PathBuf,
    /// Fingerprint of the text it was made from (`None`: a new file).
    pub before: Option<String>,
    pub text: String,
    /// What changes, for people.
    pub diff: Option<TextDiff>,
}

impl ManifestEdit {
    /// The edit of `m` into `text`.
    pub fn of(m: &Manifest, text: &str) -> ManifestEdit {
        ManifestEdit::new(&m.path, Some(&m.text), text)
    }

    /// `old`: the text now (`None`: no file yet).
    pub fn new(path: &Path, old: Option<&str>, text: &str) -> ManifestEdit {
        ManifestEdit {
            path: path.to_path_buf(),
            before: old.map(|t| fingerprint(t.as_bytes())),
            text: text.to_string(),
            diff: crate::reconcile::text_diff::between(
                &crate::paths::display(path),
                old.unwrap_or(""),
                text,
            ),
        }
    }

    pub fn action(&self) -> Action {
        ops::write_manifest(&self.path, self.before.clone(), self.text.clone())
    }

    /// `Err` when the file is no longer the text the edit was made from.
    pub fn check_unchanged(&self) -> Result<()> {
        let now = crate::fsx::read_optional(&self.path)?;
        if now.as_deref().map(fingerprint) == self.before {
            return Ok(());
        }
        Err(Error::user(format!(
            "{} changed while this command waited for its locks",
            crate::error::tick(&self.path)
        ))
        .with_help("nothing was written; run the command again"))
    }
}

impl Engine {
    /// Validate `new_text` and check that `home` can be planned with it (a known login, a
    /// set variable). Returns the manifest as it will be, and the edit for the executor
    /// (`None`: the text does not change).
    pub fn edit_manifest(
        &mut self,
        m: &Manifest,
        new_text: &str,
        home: Option<&str>,
    ) -> Result<(Manifest, Option<ManifestEdit>)> {
        if new_text == m.text {
            return Ok((m.clone(), None));
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
        Ok((edited, Some(ManifestEdit::of(m, new_text))))
    }

    /// Write cdxs.yaml (`init`, `import legacy`, `home remove`) as a generation that
    /// `rollback` undoes; `first` runs before it in the same generation (`home remove`
    /// takes the login out of the folder, or keeps it there as a placement).
    pub fn write_manifest(
        &mut self,
        edit: &ManifestEdit,
        first: Vec<Action>,
        command: &str,
        progress: &mut dyn super::Progress,
    ) -> Result<Report> {
        // Before `first` runs (it may take a login out of a folder): cdxs.yaml must still be
        // what the edit was made from. The executor checks again right before writing it.
        edit.check_unchanged()?;
        let mut actions = first;
        actions.push(edit.action());
        // The new text's `backups:` policy governs the pruning after it.
        let m = manifest::parse(&edit.text, &edit.path).ok();
        self.run(m.as_ref(), &ops::plan_of(actions), command, None, progress)
    }

    /// `home remove`: cdxs.yaml without the home, after the login left in its `folder`
    /// (if any) is taken out with a backup (`clear`) or kept there as a placement; one
    /// generation.
    pub fn remove_home(
        &mut self,
        edit: &ManifestEdit,
        folder: &Path,
        login: Option<&crate::vault::Account>,
        clear: bool,
        progress: &mut dyn super::Progress,
    ) -> Result<Report> {
        let first = match login {
            Some(a) if clear => ops::remove_login(folder, a).actions,
            Some(a) => vec![ops::keep_placement(folder, a)],
            None => Vec::new(),
        };
        self.write_manifest(edit, first, "home remove", progress)
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
        let (edited, edit) = self.edit_manifest(m, &text, Some(name))?;
        let diff = edit.as_ref().and_then(|e| e.diff.clone());
        let homes = [name.to_string()];
        let scope = Scope::default();
        let applied = self.converge(&edited, &homes, "home create", edit, scope, progress)?;
        Ok((diff, applied))
    }
}
