//! `validate` and `init`: the manifest itself.

use crate::cli::shell::Shell;
use crate::codex::auth::{self, AuthState};
use crate::error::{Error, Exit, Result, tick};
use crate::manifest::{self, diagnostics::Validation};
use crate::output::sanitize;
use crate::output::views::outcome::{AccountRef, Outcome};
use crate::reconcile::observe::Scope;
use crate::vault::Account;

/// `--json`: every problem in Terraform's `validate -json` shape, nothing on stderr.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {}

/// The file only: a variable its paths use that is not set here is a warning (plan and
/// apply, where it must be set, stop on it).
pub fn validate(sh: &mut Shell, _args: ValidateArgs) -> Result<Exit> {
    let m = match manifest::require(sh.settings.manifest_flag()) {
        Err(e) if sh.printer.json => {
            sh.printer.json(&match &e {
                Error::Diagnostics(report) => report.to_json(),
                other => Validation::failed(other.to_string(), crate::cli::error::help(other)),
            });
            return Ok(Exit::Error);
        }
        m => m?,
    };
    if sh.printer.json {
        sh.printer.json(&m.warnings_report().to_json());
        return Ok(Exit::Success);
    }
    if !m.warnings.is_empty() {
        let report = m.warnings_report();
        let report = if manifest::is_yaml_name(&m.path) {
            report
        } else {
            report.without_source()
        };
        crate::output::errors::warnings(&sh.printer, &report);
    }
    sh.printer.status(format!(
        "`{}` is valid: {} accounts, {} pools, {} homes{}",
        crate::paths::display(&m.path),
        m.accounts.len(),
        m.pools.len(),
        m.homes.len(),
        match m.warnings.len() {
            0 => String::new(),
            n => format!(" ({n} warning(s) above: `plan` and `apply` stop until they are fixed)"),
        }
    ));
    Ok(Exit::Success)
}

/// `cdxs init`: a manifest from the current state. The default home's login goes into the
/// vault and becomes its binding; other vault accounts get aliases, unbound.
pub fn init(sh: &mut Shell) -> Result<Exit> {
    let path = crate::paths::new_manifest_path(sh.settings.manifest_flag())?;
    if path.exists() {
        return Err(Error::user(format!(
            "{} already exists; `init` never overwrites",
            tick(&path)
        ))
        .with_help("edit it, or pass `-f OTHER.yaml` to create another"));
    }
    let home = crate::paths::default_codex_home()?;
    let now = sh.now();
    let mut bound: Option<String> = None;
    let mut imported = None;
    if home.is_dir() {
        match auth::read(&home)?.state {
            AuthState::Credentials(creds) => {
                let account = Account::from_credentials(&creds, None, "init", now);
                let (_, stored) = sh.engine()?.put_account(account, None, "init")?;
                sh.printer.status(format!(
                    "imported {} from `{}`",
                    sanitize(stored.name()),
                    crate::paths::display(&home)
                ));
                imported = Some(AccountRef::from(&stored));
                bound = Some(stored.id);
            }
            AuthState::Foreign { mode } => sh.printer.warn(format!(
                "`{}` uses auth mode `{}`; it is declared without an account",
                crate::paths::display(&home),
                sanitize(&mode)
            )),
            _ => {}
        }
    }
    let accounts = sh.engine()?.vault().accounts()?;
    let aliases = manifest::alias::aliases_for(&accounts);
    let bound_alias = bound.and_then(|id| {
        accounts
            .iter()
            .position(|a| a.id == id)
            .map(|i| aliases[i].0.clone())
    });
    let text = manifest::init::render(
        &aliases,
        &crate::paths::display(&home),
        bound_alias.as_deref(),
        &sh.settings.clock.now().format("%Y-%m-%d").to_string(),
    );
    // Never write something `validate` would reject.
    manifest::parse(&text, &path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
    let edit = crate::reconcile::engine::ManifestEdit::new(&path, None, &text);
    let mut bar = sh.progress("init");
    sh.engine()?
        .write_manifest(&edit, Vec::new(), "init", &mut bar)?;
    sh.printer.status(format!("created {}", tick(&path)));
    // What matches now becomes the drift baseline.
    let m = manifest::load(&path)?;
    let scope = Scope {
        skip_processes: true,
        ..Scope::default()
    };
    let default = ["default".to_string()];
    match sh
        .engine()?
        .converge(&m, &default, "init", None, scope, &mut bar)
    {
        Err(Error::DryRun) => return Err(Error::DryRun),
        Err(e) => sh
            .printer
            .warn(format!("the default home does not match yet: {e}")),
        Ok(_) => {}
    }
    sh.printer.status("next: review it, then `cdxs plan`");
    let o = Outcome::new("init").changed(true).with("manifest", &path);
    sh.outcome(o.with("imported", imported).with("default_home", &home));
    Ok(Exit::Success)
}
