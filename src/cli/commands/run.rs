//! `run (--home NAME | --account A [--codex-home P]) -- CMD...`: make sure the home's auth
//! is right, then become the command with `CODEX_HOME` set.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::shell::Shell;
use crate::codex::settings::launch_line;
use crate::error::{Error, Exit, Result};
use crate::manifest::select;
use crate::reconcile::observe::Scope;
use crate::resolve;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A home from cdxs.yaml
    #[arg(long, conflicts_with_all = ["account", "codex_home"], required_unless_present = "account")]
    home: Option<String>,
    /// An account to write into the home first
    #[arg(long)]
    account: Option<String>,
    /// With --account: the home folder (default: `$CODEX_HOME`, else `~/.codex`)
    #[arg(long, value_name = "PATH", requires = "account")]
    codex_home: Option<PathBuf>,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

pub fn run(sh: &mut Shell, args: RunArgs) -> Result<Exit> {
    sh.warn_codex_api_key();
    // Whether cdxs keeps this home's login in auth.json (then Codex is told to read it).
    let mut managed = true;
    let path = match (args.home, args.account) {
        (Some(name), _) => {
            let m = sh.require_manifest()?;
            let name = select::require_home(&m, &name)?;
            let mut bar = sh.progress("run");
            let scope = Scope {
                skip_processes: true,
                ..Scope::default()
            };
            if let Some(a) = sh.engine()?.converge(
                &m,
                std::slice::from_ref(&name),
                "run",
                Vec::new(),
                scope,
                &mut bar,
            )? {
                crate::output::views::report::applied(&sh.printer, &a, false);
            }
            managed = m.homes[&name].binding.is_some();
            m.homes[&name].path.clone()
        }
        (None, Some(query)) => {
            let m = sh.manifest_for_aliases()?;
            let path = match args.codex_home {
                Some(p) => crate::paths::absolute(&p),
                None => crate::paths::default_codex_home()?,
            };
            let mut bar = sh.progress("run");
            let engine = sh.engine()?;
            let all = engine.vault.accounts()?;
            let account = resolve::account(m.as_ref(), &all, &query)?;
            // Even when nothing is written: Codex would delete or ignore the login here.
            engine.codex_would_use(&account, &path)?;
            if !engine.holds_current(&account, &path)? {
                let report =
                    engine.write_account(m.as_ref(), &account, &path, "run", false, &mut bar)?;
                crate::output::views::report::done(&sh.printer, &report);
            }
            path
        }
        (None, None) => {
            return Err(Error::user(
                "`run` needs `--home NAME` or `--account ACCOUNT`",
            ));
        }
    };
    exec(&launch_line(&args.command, managed), &path)
}

/// Replace this process with `command`, `CODEX_HOME` set: signals, the terminal and the
/// exit code pass straight through.
fn exec(command: &[String], home: &Path) -> Result<Exit> {
    use std::os::unix::process::CommandExt;
    let (program, rest) = command.split_first().ok_or_else(|| {
        Error::user("no command to run")
            .with_help("put it after `--`: `cdxs run --home work -- codex`")
    })?;
    let err = std::process::Command::new(program)
        .args(rest)
        .env("CODEX_HOME", home)
        .exec();
    Err(Error::io(format!("cannot run `{program}`"), err)
        .with_help("check the command's name and that it is on `PATH`"))
}
