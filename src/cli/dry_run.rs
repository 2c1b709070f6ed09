//! `--dry-run` (a flag of every command): a command that writes runs up to the executor's
//! door, which keeps the plan it was handed and stops the command ([`Error::DryRun`]); this
//! shows that plan. Commands whose writes do not go through the door refuse the flag.

use std::process::ExitCode;

use clap::CommandFactory;

use super::shell::Shell;
use super::{Cli, Command};
use crate::error::{Error, Result};
use crate::output::views::outcome::Outcome;

/// Commands that write elsewhere than through the executor, and why `--dry-run` cannot
/// show their writes.
pub fn refused(command: &Command) -> Option<&'static str> {
    use super::commands::server::ServerCommand as S;
    use super::commands::sync::SyncCommand as Y;
    use super::commands::vault::VaultCommand as V;
    Some(match command {
        Command::Login(_) => "it signs in first; `cdxs plan` afterwards shows what apply would do",
        Command::Watch(_) => "`cdxs plan` shows what its next pass would do",
        Command::Vault(V::Export(_)) => "it writes only the archive you name",
        Command::Man { dir: Some(_) } => "it writes only the pages you asked for",
        Command::Server(S::Run(_)) => "it is a server",
        Command::Server(_) => "it changes the sync server's own database",
        Command::Sync(
            Y::Push(_) | Y::Pull(_) | Y::Status | Y::Refresh { .. } | Y::ForgetDevice { .. },
        ) => return None,
        Command::Sync(_) => "it talks to the sync server first",
        _ => return None,
    })
}

/// Refuse `--dry-run` for a command that cannot honour it.
pub fn check(sh: &Shell, command: &Command) -> Result<()> {
    match refused(command).filter(|_| sh.settings.dry_run) {
        Some(why) => Err(
            Error::user(format!("this command has no `--dry-run`: {why}"))
                .with_help("run it without `--dry-run`"),
        ),
        None => Ok(()),
    }
}

/// Show the plan a dry run stopped at: what would have been written, nothing more.
pub fn report(sh: &mut Shell) -> ExitCode {
    let plan = sh
        .take_dry_run_plan()
        .unwrap_or_else(|| crate::reconcile::ops::plan_of(vec![]));
    let command = typed_command();
    if sh.printer.json {
        let doc = crate::reconcile::plan_file::PlanDoc::new(plan);
        let o = Outcome::new(&command).with("dry_run", true);
        sh.printer.json(&o.with("plan", doc));
        return ExitCode::SUCCESS;
    }
    let p = &sh.printer;
    let now = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    p.out(crate::output::views::plan::render_dry_run(&plan, p, &now));
    p.status(format!(
        "dry run: nothing was written (`cdxs {command}` without `--dry-run` does it; a step after this one waits on it)"
    ));
    ExitCode::SUCCESS
}

/// The command as typed after `cdxs` (`home bind`, `sync push`), from argv: each word that
/// names a subcommand of the one before; an option's value is skipped.
fn typed_command() -> String {
    let mut cmd = Cli::command();
    let mut words: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1).take_while(|a| a != "--");
    while let Some(arg) = args.next() {
        if let Some(flag) = arg.strip_prefix("--").filter(|f| !f.contains('=')) {
            let takes_value = cmd
                .get_arguments()
                .chain(Cli::command().get_arguments())
                .any(|a| a.get_long() == Some(flag) && a.get_action().takes_values());
            if takes_value {
                args.next();
            }
            continue;
        }
        if arg == "-f" {
            args.next();
            continue;
        }
        let Some(sub) = cmd.find_subcommand(&arg).cloned() else {
            continue;
        };
        words.push(sub.get_name().to_string());
        cmd = sub;
    }
    match words.join(" ").as_str() {
        "remove" => "account remove".into(),
        "push" => "sync push".into(),
        "pull" => "sync pull".into(),
        other => other.to_string(),
    }
}
