//! `run (--home NAME | --account A [--codex-home P]) -- CMD...`: make sure the home's auth
//! is right, then become the command with `CODEX_HOME` set (exec on Unix; on Windows spawn,
//! wait, exit with its code).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::shell::Shell;
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
    let command = command_line(&args.command, &path)?;
    // Nothing of cdxs stays open while the command runs (on Windows cdxs waits for it).
    sh.close_engine();
    Err(hand_over(command))
}

/// The command `run` hands over to: the user's command, with `CODEX_HOME` set to the home.
fn command_line(command: &[String], home: &Path) -> Result<std::process::Command> {
    let (program, rest) = command.split_first().ok_or_else(|| {
        Error::user("no command to run")
            .with_help("put it after `--`: `cdxs run --home work -- codex`")
    })?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest).env("CODEX_HOME", home);
    Ok(cmd)
}

/// Become `cmd` (exec on Unix; on Windows wait, then exit with its code: see
/// [`crate::platform::run`]); returns only the error of a command that could not start.
fn hand_over(cmd: std::process::Command) -> Error {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let err = crate::platform::run::hand_over(cmd);
    Error::io(format!("cannot run `{program}`"), err)
        .with_help("check the command's name and that it is on `PATH`")
}
