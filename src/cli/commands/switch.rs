//! `switch [ACCOUNT]`: point a home at an account (edits cdxs.yaml, then applies that home);
//! without a manifest, write it into the folder.

use std::path::PathBuf;

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::manifest::Manifest;
use crate::output::prompt;
use crate::output::views::accounts::AccountList;
use crate::output::views::outcome::Outcome;
use crate::reconcile::engine::{SwitchTo, Target};
use crate::resolve;
use crate::{account_use, paths};

#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Alias, id, email or unique email prefix (none: a picker on a terminal, else the most
    /// quota left)
    #[arg(add = crate::complete::accounts())]
    account: Option<String>,
    /// Pick the account with the most quota left (the same as naming none)
    #[arg(long, conflicts_with = "account")]
    auto: bool,
    /// The home (a name from cdxs.yaml); default: `default`
    #[arg(long, conflicts_with = "codex_home", add = crate::complete::homes())]
    home: Option<String>,
    /// A Codex home folder (without a manifest: written directly)
    #[arg(long, value_name = "PATH")]
    codex_home: Option<PathBuf>,
    /// Move a ChatGPT login that lives in another folder of this machine here (that
    /// folder's auth.json is removed, with a backup): there is never a second live copy of
    /// one login. A login live on another machine (as synced) is not moved: on that
    /// machine switch it away and `cdxs sync push`, then `cdxs sync pull` here
    #[arg(long = "move")]
    move_login: bool,
}

pub fn run(sh: &mut Shell, args: SwitchArgs) -> Result<Exit> {
    let m = sh.manifest()?;
    let target = Target {
        home: args.home,
        codex_home: args.codex_home.map(|p| crate::paths::absolute(&p)),
        allow_move: args.move_login,
    };
    let to = match (&args.account, args.auto) {
        (Some(q), _) => {
            let all = sh.engine()?.vault().accounts()?;
            SwitchTo::Named(resolve::named(m.as_ref(), &all, q)?)
        }
        (None, false) if prompt::interactive() => pick(sh, m.as_ref(), &target)?,
        (None, _) => SwitchTo::Auto,
    };
    let mut bar = sh.progress("switch");
    let engine = sh.engine()?;
    let switched = engine.switch(m.as_ref(), to, &target, &mut bar)?;
    sh.report_switched(&switched);
    sh.outcome(Outcome::new("switch").switched(&switched));
    if m.is_none() {
        sh.printer
            .status("note: no cdxs.yaml found: run `cdxs init` to declare your homes");
    }
    Ok(Exit::Success)
}

/// On a terminal, without an account: every account with its plan, quota and bindings, the
/// one `--auto` would take preselected.
fn pick(sh: &mut Shell, m: Option<&Manifest>, target: &Target) -> Result<SwitchTo> {
    let (now, codex_home) = (sh.now(), target.codex_home.as_deref());
    let (home, folder) = account_use::switch_target(m, target.home.as_deref(), codex_home)?;
    let mut bar = sh.progress("switch");
    let engine = sh.engine()?;
    let best = engine.best_free_login(m, home.as_deref().unwrap_or("default"), &mut bar);
    let (all, quotas) = (engine.vault().accounts()?, engine.vault().quotas()?);
    let current = account_use::held_in(&folder, &all).map(|a| a.id);
    let list = AccountList::of(&all, &quotas, current.as_deref(), m, now);
    let (header, rows) = list.picker_rows(&sh.printer, prompt::width());
    let best = best
        .ok()
        .and_then(|b| all.iter().position(|a| a.id == b.id));
    let question = format!(
        "Switch `{}` to (↑/↓, enter takes it, esc cancels):",
        paths::display(&folder)
    );
    let Some(i) = prompt::pick(&sh.printer, &question, &header, &rows, best.unwrap_or(0))? else {
        return Err(Error::user("switch cancelled: nothing changed"));
    };
    let alias = m.and_then(|m| resolve::alias_of(m, &all[i]));
    Ok(SwitchTo::Named(resolve::Named::Account(
        Box::new(all[i].clone()),
        alias,
    )))
}
