//! `run (--home NAME | --account A [--codex-home P]) -- CMD...`: make sure the home's auth
//! is right, then become the command with `CODEX_HOME` set (exec on Unix; on Windows spawn,
//! wait, exit with its code).

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
    #[arg(long, conflicts_with_all = ["account", "codex_home"], required_unless_present = "account", add = crate::complete::homes())]
    home: Option<String>,
    /// An account to write into the home first
    #[arg(long, add = crate::complete::accounts())]
    account: Option<String>,
    /// With --account: the home folder (default: `$CODEX_HOME`, else `~/.codex`)
    #[arg(long, value_name = "PATH", requires = "account")]
    codex_home: Option<PathBuf>,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The thread (its id or a unique prefix), in whichever home holds it
    #[arg(add = crate::complete::threads())]
    id: String,
    /// More arguments for `codex resume`
    #[arg(last = true, value_name = "ARGS")]
    extra: Vec<String>,
}

pub fn run(sh: &mut Shell, args: RunArgs) -> Result<Exit> {
    sh.warn_codex_api_key();
    let (path, managed) = match (args.home, args.account) {
        (Some(name), _) => converge(sh, &sh.require_manifest()?, &name)?,
        (None, Some(query)) => {
            let m = sh.manifest_for_aliases()?;
            let path = crate::paths::codex_home_or_default(args.codex_home.as_deref())?;
            let mut bar = sh.progress("run");
            let engine = sh.engine()?;
            let all = engine.vault().accounts()?;
            let account = resolve::account(m.as_ref(), &all, &query)?;
            // Even when nothing is written: Codex would delete or ignore the login here.
            engine.codex_would_use(&account, &path)?;
            if !engine.holds_current(&account, &path)? {
                let report =
                    engine.write_account(m.as_ref(), &account, &path, "run", false, &mut bar)?;
                crate::output::views::report::done(&sh.printer, &report);
            }
            (path, true)
        }
        (None, None) => {
            return Err(Error::user(
                "`run` needs `--home NAME` or `--account ACCOUNT`",
            ));
        }
    };
    exec(sh, &launch_line(&args.command, managed), &path)
}

/// Make a declared home match cdxs.yaml (as `apply` would for it alone): its folder, and
/// whether cdxs keeps its login in auth.json (then Codex is told to read it).
fn converge(sh: &mut Shell, m: &crate::manifest::Manifest, name: &str) -> Result<(PathBuf, bool)> {
    let name = select::require_home(m, name)?;
    let mut bar = sh.progress("run");
    let scope = Scope {
        skip_processes: true,
        ..Scope::default()
    };
    let names = std::slice::from_ref(&name);
    if let Some(a) = sh
        .engine()?
        .converge(m, names, "run", None, scope, &mut bar)?
    {
        crate::output::views::report::applied(&sh.printer, &a, false);
    }
    Ok((
        m.homes[&name].path.clone(),
        m.homes[&name].binding.is_some(),
    ))
}

/// `resume ID`: `codex resume ID` in the home that holds the thread, run as `cdxs run
/// --home` runs it there (that home's account written first when cdxs.yaml declares it).
pub fn resume(sh: &mut Shell, args: ResumeArgs) -> Result<Exit> {
    sh.warn_codex_api_key();
    let m = sh.manifest_for_aliases()?;
    let all = select::Selection {
        all_homes: true,
        ..Default::default()
    };
    let default = crate::paths::default_codex_home()?;
    let homes = select::session_homes(m.as_ref(), &all, &default)?;
    let (home, thread) = crate::sessions::list::find(&homes, &args.id)?;
    let (path, managed) = match m.as_ref().filter(|m| m.homes.contains_key(&home.name)) {
        Some(m) => {
            m.require_expanded()?;
            converge(sh, m, &home.name)?
        }
        None => (home.path.clone(), false),
    };
    sh.printer.status(format!(
        "resuming thread {} in home `{}` (`{}`)",
        thread.id,
        home.name,
        crate::paths::display(&path)
    ));
    let mut command = vec!["codex".to_string(), "resume".into(), thread.id];
    command.extend(args.extra);
    exec(sh, &launch_line(&command, managed), &path)
}

/// Hand over to `command` in `home`: nothing of cdxs stays open while it runs (on Windows
/// cdxs waits for it and exits with its code).
fn exec(sh: &mut Shell, command: &[String], home: &Path) -> Result<Exit> {
    if sh.settings.dry_run {
        // Nothing to write (a write would have stopped at the executor's door).
        sh.printer.status(format!(
            "dry run: nothing to write; would run `{}` with CODEX_HOME={}",
            command.join(" "),
            crate::paths::display(home)
        ));
        return Ok(Exit::Success);
    }
    let command = command_line(command, home)?;
    sh.close_engine();
    Err(hand_over(command))
}

/// The command `run` hands over to: the user's command, with `CODEX_HOME` set to the home.
fn command_line(command: &[String], home: &Path) -> Result<std::process::Command> {
    let (program, rest) = command.split_first().ok_or_else(|| {
        Error::user("no command to run")
            .with_help("put it after `--`: `cdxs run --home work -- codex`")
    })?;
    let path_var = std::env::var_os("PATH");
    let mut cmd = std::process::Command::new(crate::platform::path::program(
        program.as_ref(),
        path_var.as_deref(),
    ));
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
