//! The imperative shell: parse argv once, hand typed intent to small handlers, render the
//! outcome, map it to an exit code (the table lives in `error.rs`).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{CommandFactory, Parser};

use crate::error::{Error, Exit, Result};
use crate::output::Printer;
use crate::paths;
use crate::vault::Vault;

mod accounts;
pub mod args;
mod commands;
mod homes;
mod import;
mod login;
mod manifest_cmds;
mod plan;
mod quota_cmds;
mod sessions_cmds;
mod status_view;
mod write_home;

use args::{
    AccountCommand, Cli, Command, GlobalArgs, HomeCommand, ImportCommand, LoginCommand,
    SessionCommand, VisibilityCommand,
};

/// What every handler gets: the printer, the global flags, and the clock.
pub struct Ctx {
    pub printer: Printer,
    pub global: GlobalArgs,
    pub now: DateTime<Utc>,
}

impl Ctx {
    pub fn state_dir(&self) -> Result<PathBuf> {
        paths::state_dir(self.global.state_dir.as_deref())
    }

    pub fn vault(&self) -> Result<Vault> {
        let dir = self.state_dir()?;
        self.printer.detail(format!(
            "vault: {}",
            dir.join(crate::vault::VAULT_FILE).display()
        ));
        Vault::open(&dir)
    }

    pub fn ts(&self) -> i64 {
        self.now.timestamp()
    }
}

/// `CDXS_NOW` (RFC 3339 or epoch seconds) fixes the clock for tests and demos.
fn clock() -> DateTime<Utc> {
    std::env::var("CDXS_NOW")
        .ok()
        .and_then(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|d| d.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    v.parse::<i64>()
                        .ok()
                        .and_then(|s| DateTime::from_timestamp(s, 0))
                })
        })
        .unwrap_or_else(Utc::now)
}

pub fn main() -> ExitCode {
    install_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            let _ = err.print();
            return match err.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
                // Usage errors are errors (1); 2 is reserved for "plan has changes".
                _ => ExitCode::from(Exit::Error.code()),
            };
        }
    };
    let printer = Printer::new(cli.global.color, cli.global.quiet, cli.global.verbose);
    let ctx = Ctx {
        printer,
        global: cli.global.clone(),
        now: clock(),
    };
    match run(&ctx, cli.command) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => {
            report(&ctx.printer, &err);
            ExitCode::from(err.exit().code())
        }
    }
}

/// Render an error for a person: message, causes, labelled spans, help line.
pub fn report(printer: &Printer, err: &Error) {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if printer.color_stderr() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // Wrap for people on a terminal; never wrap when piped (logs, scripts, tests grep it).
    let width = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100)
    } else {
        usize::MAX / 2
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(width);
    let mut out = String::new();
    // Several problems in one file: each as its own report, then one summary line.
    if let Error::Diagnostics(report) = err
        && report.len() > 1
    {
        for d in report.diagnostics() {
            if handler.render_report(&mut out, d).is_err() {
                out.push_str(&format!("error: {d}\n"));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "error: `{}` has {} problems; fix them, then run `cdxs validate` again\n",
            report.file(),
            report.len()
        ));
    } else if handler.render_report(&mut out, err).is_err() {
        out = format!("error: {err}\n");
    }
    eprint!("{out}");
}

fn install_panic_hook() {
    // A panic is a bug in cdxs, not bad input: say so briefly, without a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("cdxs: internal error: {msg}{loc}\nthis is a bug in cdxs; please report it");
    }));
}

fn run(ctx: &Ctx, command: Command) -> Result<Exit> {
    match command {
        Command::Import(ImportCommand::Auth {
            file,
            codex_home,
            switch,
        }) => import::auth(ctx, file, codex_home, switch),
        Command::Import(ImportCommand::Legacy { path }) => import::legacy(ctx, path),
        Command::Account(cmd) => match cmd {
            AccountCommand::AddApiKey {
                key,
                api_key_stdin,
                base_url,
                switch,
            } => accounts::add_api_key(ctx, key, api_key_stdin, base_url, switch),
            AccountCommand::List { json } => accounts::list(ctx, json),
            AccountCommand::Current { json, codex_home } => {
                accounts::current(ctx, json, codex_home)
            }
            AccountCommand::Show { account, json } => accounts::show(ctx, &account, json),
            AccountCommand::Remove { account } => accounts::remove(ctx, &account),
        },
        Command::List { json, force } => accounts::list_with_quota(ctx, json, Some(force)),
        Command::Show { json } => accounts::list_with_quota(ctx, json, None),
        Command::Login(LoginCommand::Oauth {
            manual,
            port,
            no_browser,
            switch,
        }) => login::oauth(ctx, manual, port, no_browser, switch),
        Command::RefreshToken { account } => quota_cmds::refresh_token(ctx, &account),
        Command::Quota { account, all, json } => quota_cmds::quota(ctx, account, all, json),
        Command::Remove { account } => accounts::remove(ctx, &account),
        Command::Validate => manifest_cmds::validate(ctx),
        Command::Init => manifest_cmds::init(ctx),
        Command::Plan {
            detailed_exitcode,
            json,
            out,
            targets,
            offline,
        } => plan::plan(
            ctx,
            plan::PlanArgs {
                offline,
                detailed_exitcode,
                json,
                out,
                targets,
            },
        ),
        Command::Apply {
            plan_file,
            yes,
            targets,
            offline,
        } => plan::apply(
            ctx,
            plan::ApplyArgs {
                offline,
                plan_file,
                yes,
                targets,
            },
        ),
        Command::History { generation, json } => plan::history(ctx, generation, json),
        Command::Rollback { generation, yes } => plan::rollback(ctx, generation, yes),
        Command::Status { json } => plan::status(ctx, json),
        Command::Switch {
            account,
            auto: _,
            home,
            codex_home,
        } => homes::switch(ctx, account, home, codex_home),
        Command::Home(cmd) => match cmd {
            HomeCommand::List { json } => homes::home_list(ctx, json),
            HomeCommand::Create {
                name,
                path,
                account,
            } => homes::home_create(ctx, &name, &path, account),
            HomeCommand::Bind { name, account } => homes::home_bind(ctx, &name, &account),
            HomeCommand::Path { name } => homes::home_path(ctx, &name),
            HomeCommand::Remove { name } => homes::home_remove(ctx, &name),
        },
        Command::Session(cmd) => match cmd {
            SessionCommand::List { homes, json } => sessions_cmds::list(ctx, &homes, json),
            SessionCommand::Stats {
                id,
                homes,
                lines,
                json,
            } => sessions_cmds::stats(ctx, &id, &homes, lines, json),
            SessionCommand::Trash {
                ids,
                homes,
                dry_run,
            } => sessions_cmds::trash(ctx, &ids, &homes, dry_run),
            SessionCommand::TrashList { homes, json } => {
                sessions_cmds::trash_list(ctx, &homes, json)
            }
            SessionCommand::Restore {
                ids,
                homes,
                dry_run,
            } => sessions_cmds::restore(ctx, &ids, &homes, dry_run),
            SessionCommand::Purge {
                ids,
                older_than,
                homes,
                yes,
                dry_run,
            } => sessions_cmds::purge(ctx, &ids, older_than.as_deref(), &homes, yes, dry_run),
            SessionCommand::Visibility(VisibilityCommand::Check { homes, json }) => {
                sessions_cmds::visibility(ctx, &homes, false, false, json)
            }
            SessionCommand::Visibility(VisibilityCommand::Repair {
                homes,
                dry_run,
                json,
            }) => sessions_cmds::visibility(ctx, &homes, true, dry_run, json),
            SessionCommand::SyncThreads {
                homes,
                dry_run,
                json,
            } => sessions_cmds::sync_threads(ctx, &homes, dry_run, json),
        },
        Command::Run {
            home,
            account,
            codex_home,
            command,
        } => homes::run(ctx, home, account, codex_home, command),
        Command::Sync(cmd) => commands::sync::run(ctx, cmd),
        Command::Server(cmd) => commands::server::run(ctx, cmd),
        Command::Pull(args) => commands::sync::pull(ctx, args),
        Command::Push(args) => commands::sync::push(ctx, args),
        Command::Schema => {
            ctx.printer.out_raw(crate::manifest::schema::json_schema());
            Ok(Exit::Success)
        }
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "cdxs", &mut std::io::stdout());
            Ok(Exit::Success)
        }
    }
}
