//! What every command handler gets: the settings, the one Printer, the engine (the vault
//! opened once, on first use) and the manifest (found once). Shared presentation of engine
//! results lives here too, so that no handler imports another.

use std::path::{Path, PathBuf};

use super::settings::Settings;
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest};
use crate::output::Printer;
use crate::reconcile::engine::{Engine, Switched};

pub struct Shell {
    pub settings: Settings,
    pub printer: Printer,
    engine: Option<Engine>,
}

impl Shell {
    pub fn new(settings: Settings) -> Shell {
        let printer =
            Printer::new(settings.color, settings.quiet, settings.verbose).with_json(settings.json);
        Shell {
            settings,
            printer,
            engine: None,
        }
    }

    /// Once per process: `CODEX_API_KEY` overrides every login in `codex exec` (its name only).
    pub fn warn_codex_api_key(&self) {
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if let Some(w) = crate::codex::settings::codex_api_key_warning()
            && !WARNED.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            self.printer.warn(w);
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
            let mut engine = Engine::open(dir, self.settings.clock.clone())?;
            engine.set_dry_run(self.settings.dry_run);
            self.engine = Some(engine);
        }
        match self.engine.as_mut() {
            Some(e) => Ok(e),
            None => Err(Error::user("internal: the engine did not open")),
        }
    }

    /// The plan a `--dry-run` stopped at (the engine's door kept it).
    pub fn take_dry_run_plan(&mut self) -> Option<crate::reconcile::Plan> {
        self.engine.as_mut()?.take_dry_run_plan()
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

    /// Take the tokens Codex rotated in this machine's homes into the vault (before a
    /// `sync push`: they go up, not the vault's older copy of the login).
    pub fn harvest_known(&mut self, command: &str) -> Result<()> {
        let m = self.manifest_for_aliases().ok().flatten();
        self.engine()?.harvest_known(m.as_ref(), command)
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
    pub fn progress(&self, what: &str) -> crate::output::progress::Bar {
        crate::output::progress::Bar::new(&self.printer, what)
    }

    /// The vault (through the engine, which opened it).
    pub fn vault(&mut self) -> Result<&mut crate::vault::Vault> {
        Ok(self.engine()?.vault_mut())
    }

    /// Ask for `yes` on a terminal; refuse without one. A dry run asks nothing: it stops
    /// before the first write anyway.
    pub fn confirm(&self, question: &str, what: &str) -> Result<bool> {
        if self.settings.dry_run {
            return Ok(true);
        }
        crate::output::confirm(question, what)
    }

    /// Under `--json`: what the command did, as one document on stdout.
    pub fn outcome(&self, o: crate::output::views::outcome::Outcome) {
        if self.printer.json {
            self.printer.json(&o);
        }
    }

    /// `--switch` given: [`Shell::switch_default`], and what it did added to `o`.
    pub fn switch_if(
        &mut self,
        switch: bool,
        account: crate::vault::Account,
        o: crate::output::views::outcome::Outcome,
    ) -> Result<crate::output::views::outcome::Outcome> {
        Ok(match switch {
            true => o.switched(&self.switch_default(account)?),
            false => o,
        })
    }

    /// `--switch` (imports, logins, `add-api-key`): make `account` the default home's
    /// account, as `cdxs switch ACCOUNT` does.
    pub fn switch_default(&mut self, account: crate::vault::Account) -> Result<Switched> {
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
        Ok(switched)
    }

    /// What `switch` (and `--switch` on imports and logins) did.
    pub fn report_switched(&self, s: &Switched) {
        crate::output::views::report::switched(&self.printer, s);
    }
}
