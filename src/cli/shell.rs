//! What every command handler gets: the settings, the one Printer, the engine (the vault
//! opened once, on first use) and the manifest (found once). Shared presentation of engine
//! results lives here too, so that no handler imports another.

use std::path::{Path, PathBuf};

use super::settings::Settings;
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest};
use crate::output::{Printer, sanitize};
use crate::reconcile::engine::{Engine, Progress, Switched};

pub struct Shell {
    pub settings: Settings,
    pub printer: Printer,
    engine: Option<Engine>,
}

impl Shell {
    pub fn new(settings: Settings) -> Shell {
        let printer = Printer::new(settings.color, settings.quiet, settings.verbose);
        Shell {
            settings,
            printer,
            engine: None,
        }
    }

    pub fn now(&self) -> i64 {
        self.settings.clock.ts()
    }

    pub fn state_dir(&self) -> Result<PathBuf> {
        self.settings.state_dir().map(Path::to_path_buf)
    }

    /// The engine, with the vault opened on first use.
    pub fn engine(&mut self) -> Result<&mut Engine> {
        if self.engine.is_none() {
            let dir = self.state_dir()?;
            if let Some(w) = crate::paths::state_dir_warning(&dir) {
                self.printer.warn(w);
            }
            self.printer.detail(format!(
                "vault: {}",
                dir.join(crate::vault::VAULT_FILE).display()
            ));
            self.engine = Some(Engine::open(dir, self.settings.clock.clone())?);
        }
        match self.engine.as_mut() {
            Some(e) => Ok(e),
            None => Err(Error::user("internal: the engine did not open")),
        }
    }

    /// Close the vault and drop every lock the engine holds (before `run` hands over).
    pub fn close_engine(&mut self) {
        self.engine = None;
    }

    /// The manifest, for commands that need one (`plan`, `apply`, `home ...`): every
    /// variable its paths use must be set.
    pub fn require_manifest(&self) -> Result<Manifest> {
        let m = manifest::require(self.settings.manifest_flag())?;
        m.require_expanded()?;
        Ok(m)
    }

    /// The manifest if there is one (a named file that is missing or bad is an error), for
    /// commands that use its homes: every variable its paths use must be set.
    pub fn manifest(&self) -> Result<Option<Manifest>> {
        let m = self.manifest_file()?;
        if let Some(m) = &m {
            m.require_expanded()?;
        }
        Ok(m)
    }

    /// The manifest as a file (`validate`, aliases, sync targets): paths may use variables
    /// that are not set here.
    pub fn manifest_file(&self) -> Result<Option<Manifest>> {
        manifest::optional(self.settings.manifest_flag())
    }

    /// For commands that use the manifest only for aliases (`list`, `quota`, `account ...`):
    /// a named manifest that does not exist yet is a one-line note, not an error.
    pub fn manifest_for_aliases(&self) -> Result<Option<Manifest>> {
        match self.manifest_file() {
            Err(Error::NoManifest {
                path,
                explicit: true,
            }) => {
                self.note_missing(&path);
                Ok(None)
            }
            other => other,
        }
    }

    /// For listings that never read the manifest (`show`, `account list|current`): the same
    /// one-line note as the others when the named one does not exist yet.
    pub fn note_missing_manifest(&self) {
        let at = crate::paths::manifest_location(self.settings.manifest_flag());
        if at.explicit && !at.exists {
            self.note_missing(&at.path);
        }
    }

    fn note_missing(&self, path: &Path) {
        self.printer.status(format!(
            "note: {} does not exist yet (`cdxs init` creates it); working from the vault",
            crate::error::tick(path)
        ));
    }

    /// Live progress on this terminal.
    pub fn progress(&self, what: &str) -> Bar {
        Bar {
            printer: self.printer.clone(),
            what: what.to_string(),
            bar: None,
        }
    }

    /// The vault (through the engine, which opened it).
    pub fn vault(&mut self) -> Result<&mut crate::vault::Vault> {
        Ok(&mut self.engine()?.vault)
    }

    /// Ask for `yes` on a terminal; refuse without one.
    pub fn confirm(&self, question: &str, what: &str) -> Result<bool> {
        crate::output::confirm(question, what)
    }

    /// `--switch` (imports, logins, `add-api-key`): make `account` the default home's
    /// account, as `cdxs switch ACCOUNT` does.
    pub fn switch_default(&mut self, account: crate::vault::Account) -> Result<()> {
        use crate::reconcile::engine::{SwitchTo, Target};
        let m = self.manifest()?;
        let alias = m
            .as_ref()
            .and_then(|m| crate::resolve::alias_of(m, &account));
        let mut bar = self.progress("switch");
        let switched = self.engine()?.switch(
            m.as_ref(),
            SwitchTo::Named(crate::resolve::Named::Account(Box::new(account), alias)),
            &Target::default(),
            &mut bar,
        )?;
        self.report_switched(&switched);
        Ok(())
    }

    /// What `switch` (and `--switch` on imports and logins) did.
    pub fn report_switched(&self, s: &Switched) {
        let p = &self.printer;
        match s {
            Switched::Manifest {
                home,
                alias,
                edit,
                applied,
            } => {
                if let Some(d) = edit {
                    p.status(crate::output::views::plan::render_diff(d, p, "  ").trim_end());
                }
                if let Some(a) = applied {
                    crate::output::views::report::applied(p, a, false);
                }
                let changed = applied.as_ref().is_some_and(|a| a.plan.has_changes());
                p.status(format!(
                    "home `{home}` {} {alias}",
                    if changed { "now uses" } else { "already uses" }
                ));
            }
            Switched::Folder {
                path,
                account,
                report,
            } => {
                crate::output::views::report::done(p, report);
                p.status(format!(
                    "`{}` now uses {}",
                    crate::paths::display(path),
                    sanitize(account.name())
                ));
            }
        }
    }
}

/// [`Progress`] drawn by the Printer: a bar for long applies (on a terminal), warnings and
/// details as lines.
pub struct Bar {
    printer: Printer,
    what: String,
    bar: Option<indicatif::ProgressBar>,
}

impl Progress for Bar {
    fn start(&mut self, n: usize) {
        self.bar = Some(self.printer.progress(n, &self.what));
    }

    fn action(&mut self, a: &crate::reconcile::Action) {
        match &self.bar {
            Some(b) if !b.is_hidden() => b.inc(1),
            _ => self
                .printer
                .detail(format!("{}: {}", a.address, sanitize(&a.description))),
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    fn warn(&mut self, message: String) {
        self.printer.warn(sanitize(&message));
    }

    fn detail(&mut self, message: String) {
        self.printer.detail(sanitize(&message));
    }

    fn status(&mut self, message: String) {
        self.printer.status(sanitize(&message));
    }
}
