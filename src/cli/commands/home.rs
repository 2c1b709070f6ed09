//! `home list|create|bind|path|remove`: homes declared in cdxs.yaml, edited in place
//! (keeping comments and formatting); create and bind converge the home at once.

use std::path::PathBuf;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::manifest::{self, edit, select};
use crate::output::views::homes::HomeList;
use crate::output::views::outcome::{AccountRef, Outcome};
use crate::output::views::{self};
use crate::paths;
use crate::reconcile::engine::{ManifestEdit, SwitchTo, Target};
use crate::resolve;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum HomeCommand {
    /// List the homes declared in cdxs.yaml
    List,
    /// Declare a home (and create it)
    #[command(
        after_help = "Examples:\n  cdxs home create work --path ~/codex-homes/work --account me@corp.com"
    )]
    Create {
        /// A name: letters, digits, `-`, `_`, `.`
        name: String,
        /// The folder
        #[arg(long, value_name = "PATH")]
        path: PathBuf,
        /// The account it uses
        #[arg(long, add = crate::complete::accounts())]
        account: Option<String>,
    },
    /// Bind a home to an account (like `switch ACCOUNT --home NAME`)
    Bind {
        #[arg(add = crate::complete::homes())]
        name: String,
        #[arg(add = crate::complete::accounts())]
        account: String,
    },
    /// Print a home's folder
    Path {
        #[arg(add = crate::complete::homes())]
        name: String,
    },
    /// Stop managing a home (its folder is kept). A login left in it stays live there
    /// (cdxs writes it nowhere else) unless `--clear-login` takes it out, with a backup
    #[command(
        after_help = "Examples:\n  cdxs home remove scratch                 # asks on a terminal what to do with its login\n  cdxs home remove scratch --clear-login   # take the login out (backed up, undone by rollback)\n  cdxs home remove scratch --keep-login    # leave it there (it stays that login's one live copy)"
    )]
    Remove {
        #[arg(add = crate::complete::homes())]
        name: String,
        /// Take the login out of the folder (auth.json is backed up and removed)
        #[arg(long, conflicts_with = "keep_login")]
        clear_login: bool,
        /// Leave the login in the folder (it stays its one live copy)
        #[arg(long)]
        keep_login: bool,
    },
}

pub fn run(sh: &mut Shell, cmd: HomeCommand) -> Result<Exit> {
    let m = sh.require_manifest()?;
    match cmd {
        HomeCommand::List => sh.printer.emit(&HomeList::of(&m)),
        HomeCommand::Path { name } => {
            let name = select::require_home(&m, &name)?;
            let path = &m.homes[&name].path;
            match sh.printer.json {
                true => sh
                    .printer
                    .json(&serde_json::json!({"home": name, "path": path})),
                false => sh.printer.out(path.display().to_string()),
            }
        }
        HomeCommand::Create {
            name,
            path,
            account,
        } => {
            let shown = paths::display(&paths::absolute(&path));
            let mut bar = sh.progress("home create");
            let engine = sh.engine()?;
            let (diff, applied) =
                engine.create_home(&m, &name, &shown, account.as_deref(), &mut bar)?;
            if let Some(d) = &diff {
                let p = &sh.printer;
                p.status(views::plan::render_diff(d, p, "  ").trim_end());
            }
            if let Some(a) = &applied {
                crate::output::views::report::applied(&sh.printer, a, false);
            }
            sh.printer
                .status(format!("home `{name}` declared at `{shown}`"));
            let o = Outcome::new("home create")
                .changed(true)
                .with("home", &name);
            let o = o.with("path", paths::absolute(&path));
            sh.outcome(match &applied {
                Some(a) => o.applied(a),
                None => o,
            });
        }
        HomeCommand::Bind { name, account } => {
            let name = select::require_home(&m, &name)?;
            let mut bar = sh.progress("home bind");
            let engine = sh.engine()?;
            let all = engine.vault().accounts()?;
            let named = resolve::named(Some(&m), &all, &account)?;
            let switched = engine.switch(
                Some(&m),
                SwitchTo::Named(named),
                &Target {
                    home: Some(name),
                    ..Target::default()
                },
                &mut bar,
            )?;
            sh.report_switched(&switched);
            sh.outcome(Outcome::new("home bind").switched(&switched));
        }
        HomeCommand::Remove {
            name,
            clear_login,
            keep_login,
        } => remove(sh, &m, &name, [clear_login, keep_login])?,
    }
    Ok(Exit::Success)
}

/// `home remove`: cdxs.yaml without the home, and the login left in its folder taken out
/// (`--clear-login`) or kept there as its one live copy (`--keep-login`; without either,
/// asked on a terminal, else kept); one generation.
fn remove(sh: &mut Shell, m: &manifest::Manifest, name: &str, flags: [bool; 2]) -> Result<()> {
    let [clear_login, keep_login] = flags;
    let name = select::require_home(m, name)?;
    let text = edit::remove_home(&m.text, &name)?;
    manifest::parse(&text, &m.path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
    let folder = m.homes[&name].path.clone();
    let login = sh.engine()?.login_in(&folder)?;
    let clear = match &login {
        Some(a) if !clear_login && !keep_login && !sh.settings.dry_run && crate::output::stdin_is_terminal() => sh.confirm(
            &format!("`{}` still holds {}'s login. Take it out (backed up)? Answer anything else to keep it there, as its one live copy.", paths::display(&folder), a.name()),
            "clear the login",
        )?,
        _ => clear_login,
    };
    let edit = ManifestEdit::of(m, &text);
    let mut bar = sh.progress("home remove");
    let report = sh
        .engine()?
        .remove_home(&edit, &folder, login.as_ref(), clear, &mut bar)?;
    if let Some(d) = &edit.diff {
        sh.printer
            .status(views::plan::render_diff(d, &sh.printer, "  ").trim_end());
    }
    views::report::done(&sh.printer, &report);
    if let Some(account) = login.as_ref().filter(|_| !clear) {
        sh.printer.status(format!(
            "{}'s login stays in `{}` as its one live copy: cdxs writes it nowhere else while it is there",
            account.name(),
            paths::display(&folder),
        ));
    }
    sh.printer.status(format!(
        "home `{name}` is no longer managed; its folder `{}` is kept",
        paths::display(&folder)
    ));
    let held =
        login.map(|a| serde_json::json!({"account": AccountRef::from(&a), "cleared": clear}));
    let o = Outcome::new("home remove")
        .changed(true)
        .with("home", &name);
    sh.outcome(o.with("path", &folder).with("login", held).report(&report));
    Ok(())
}
