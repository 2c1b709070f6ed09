//! `switch [ACCOUNT]`: point a home at an account (edits cdxs.yaml, then applies that home);
//! without a manifest, write it into the folder.

use std::path::PathBuf;

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Exit, Result};
use crate::reconcile::engine::{SwitchTo, Target};
use crate::resolve;

#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Alias, id, email or unique email prefix (none: the most quota left)
    account: Option<String>,
    /// Pick the account with the most quota left (the same as naming none)
    #[arg(long, conflicts_with = "account")]
    auto: bool,
    /// The home (a name from cdxs.yaml); default: `default`
    #[arg(long, conflicts_with = "codex_home")]
    home: Option<String>,
    /// A Codex home folder (without a manifest: written directly)
    #[arg(long, value_name = "PATH")]
    codex_home: Option<PathBuf>,
    /// Move a ChatGPT login that lives in another folder here (that folder's auth.json is
    /// removed, with a backup): there is never a second live copy of one login
    #[arg(long = "move")]
    move_login: bool,
}

pub fn run(sh: &mut Shell, args: SwitchArgs) -> Result<Exit> {
    let m = sh.manifest()?;
    let mut bar = sh.progress("switch");
    let engine = sh.engine()?;
    let to = match (&args.account, args.auto) {
        (Some(q), _) => {
            let all = engine.vault.accounts()?;
            SwitchTo::Named(resolve::named(m.as_ref(), &all, q)?)
        }
        (None, _) => SwitchTo::Auto,
    };
    let target = Target {
        home: args.home,
        codex_home: args.codex_home.map(|p| crate::paths::absolute(&p)),
        allow_move: args.move_login,
    };
    let switched = engine.switch(m.as_ref(), to, &target, &mut bar)?;
    sh.report_switched(&switched);
    if m.is_none() {
        sh.printer
            .status("note: no cdxs.yaml found: run `cdxs init` to declare your homes");
    }
    Ok(Exit::Success)
}
