//! The imperative shell: parse argv once into typed settings, dispatch to one small handler
//! per command (`commands/`), render the outcome, map it to an exit code (the table lives in
//! `error.rs`). Handlers import only the engine, `output::views` and [`shell`]; never each
//! other.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::error::{EXIT_CODE_HELP, Exit, Result};

mod commands;
mod dry_run;
pub mod error;
pub mod input;
pub mod settings;
pub mod shell;

use commands::*;
use settings::{GlobalArgs, Settings};
use shell::Shell;

const ABOUT: &str = "Keep OpenAI Codex CLI homes, accounts and sessions in the shape you declared";

const LONG_ABOUT: &str = "\
cdxs keeps OpenAI Codex CLI state in the shape you declared in `cdxs.yaml`: accounts (by \
reference into a local vault), CODEX_HOME folders and which account each uses, and session \
policies. `cdxs plan` shows what differs, `cdxs apply` fixes it with backups.";

#[derive(Debug, Parser)]
#[command(
    name = "cdxs",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODE_HELP,
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Import accounts from an auth.json or from the older tool
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Manage accounts in the vault
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Log in to ChatGPT (PKCE, as Codex does) and keep the tokens in the vault
    #[command(subcommand)]
    Login(login::LoginCommand),
    /// Refresh an account's ChatGPT tokens now (rotation-safe)
    #[command(after_help = "Examples:\n  cdxs refresh-token me@example.com")]
    RefreshToken(quota::RefreshArgs),
    /// Show the ChatGPT quota left (5-hour and weekly windows)
    #[command(
        after_help = "Examples:\n  cdxs quota                 # every account cdxs.yaml binds (else the default home's)\n  cdxs quota --all --json\n  cdxs quota work            # an account, or a pool's members"
    )]
    Quota(quota::QuotaArgs),
    /// List accounts with their quota (refreshes quota older than 5 minutes)
    #[command(after_help = "Examples:\n  cdxs list\n  cdxs list --json | jq '.accounts[].id'")]
    List(account::ListArgs),
    /// Show accounts (or one) from the vault only, never calling the network
    Show(account::ShowArgs),
    /// Remove an account from the vault (like `account remove`)
    Remove(account::RemoveArgs),
    /// Create cdxs.yaml from the current Codex setup (refuses to overwrite)
    #[command(
        after_help = "Examples:\n  cdxs init                         # ~/.config/cdxs/cdxs.yaml\n  cdxs -f ~/dotfiles/cdxs.yaml init"
    )]
    Init,
    /// Check cdxs.yaml: every problem with file, line, column and a hint
    #[command(
        after_help = "Examples:\n  cdxs validate\n  cdxs -f ci/cdxs.yaml validate --json   # for editors and CI"
    )]
    Validate(manifest::ValidateArgs),
    /// Show what apply would change (drift, switches, folders, harvested tokens)
    #[command(
        after_help = "Examples:\n  cdxs plan\n  cdxs plan --detailed-exitcode      # 0 no changes, 1 error, 2 changes\n  cdxs plan --out plan.json && cdxs apply plan.json\n  cdxs plan --target home.work --json"
    )]
    Plan(plan::PlanArgs),
    /// Make the Codex homes match cdxs.yaml (asks first on a terminal)
    #[command(
        after_help = "Examples:\n  cdxs apply\n  cdxs apply --yes                   # CI: no question\n  cdxs apply plan.json               # exactly a saved plan; refuses a stale one\n  cdxs apply --target home.work"
    )]
    Apply(apply::ApplyArgs),
    /// List apply generations, or show one
    History(history::HistoryArgs),
    /// Restore the files a generation changed, from its backups (a new generation)
    #[command(
        after_help = "Examples:\n  cdxs rollback            # the latest generation that changed files\n  cdxs rollback 12 --yes"
    )]
    Rollback(history::RollbackArgs),
    /// One screen: homes, bound accounts, token freshness, drift
    Status(status::StatusArgs),
    /// Point a home at an account (edits cdxs.yaml, then applies that home)
    #[command(
        after_help = "Examples:\n  cdxs switch work                   # the default home\n  cdxs switch me@corp.com --home work\n  cdxs switch oauth_4f2a --codex-home ~/codex-homes/ci\n  cdxs switch                        # pick from a list (on a terminal), else the most quota left"
    )]
    Switch(switch::SwitchArgs),
    /// Manage homes declared in cdxs.yaml
    #[command(subcommand)]
    Home(home::HomeCommand),
    /// Codex sessions (threads): list, stats, trash/restore/purge, visibility, sharing
    #[command(subcommand)]
    Session(session::SessionCommand),
    /// Run a command with CODEX_HOME set, after making sure that home's auth is right
    #[command(
        after_help = "Examples:\n  cdxs run --home work -- codex\n  cdxs run --account me@corp.com -- codex exec \"fix the tests\"\n  cdxs run --account ci --codex-home /tmp/ci-home -- codex login status"
    )]
    Run(run::RunArgs),
    /// Resume a thread with `codex resume ID` in the home that holds it, with its account
    #[command(
        after_help = "Examples:\n  cdxs resume 01a24b6c-11\n  cdxs resume 01a24b6c-11 -- --model o3"
    )]
    Resume(run::ResumeArgs),
    /// Keep the homes in the declared shape continuously (foreground; for a user service)
    Watch(watch::WatchArgs),
    /// Check the Codex releases, homes, state folder, manifest, accounts, sync logins and
    /// servers, locks and limits (exit 1 when something needs fixing, with the fix on its
    /// line; `--strict`: on warnings too)
    #[command(
        after_help = "Examples:\n  cdxs doctor\n  cdxs doctor --strict  # CI: warnings fail too\n  cdxs doctor --json    # for a bug report (no secrets)"
    )]
    Doctor(doctor::DoctorArgs),
    /// Back up or move the whole vault: one file sealed under a passphrase or the sync key
    #[command(subcommand)]
    Vault(vault::VaultCommand),
    /// Sync accounts between machines through a cdxs sync server (end-to-end encrypted)
    #[command(subcommand)]
    Sync(sync::SyncCommand),
    /// The sync server: run it, manage its users, import the older tool's users
    #[command(subcommand)]
    Server(server::ServerCommand),
    /// Pull synced accounts (like `sync pull`)
    Pull(sync::PullArgs),
    /// Pull, merge and push accounts (like `sync push`)
    Push(sync::PushArgs),
    /// Print the JSON schema of cdxs.yaml (for editors: yaml-language-server)
    Schema,
    /// Print the script a shell sources for completions that know your homes, accounts,
    /// pools and threads (cdxs answers each <TAB> itself)
    #[command(
        after_help = "Examples:\n  cdxs completions bash > ~/.local/share/bash-completion/completions/cdxs\n  cdxs completions zsh > ~/.zfunc/_cdxs\n  cdxs completions fish > ~/.config/fish/completions/cdxs.fish"
    )]
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Write man pages: `cdxs.1` and one per subcommand (`cdxs-plan.1`, ...)
    #[command(
        after_help = "Examples:\n  cdxs man --dir ~/.local/share/man/man1 && man cdxs\n  cdxs man > cdxs.1                 # the main page only, on stdout"
    )]
    Man {
        /// Write every page into this folder (default: the main page on stdout)
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

pub fn main() -> ExitCode {
    install_panic_hook();
    crate::complete::answer_if_asked(Cli::command);
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            let shown = matches!(
                err.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            );
            if shown {
                let _ = err.print();
                return ExitCode::SUCCESS;
            }
            // Usage errors are errors (1); 2 is reserved for "plan has changes".
            if json_asked() {
                let doc = crate::output::views::error::ErrorDoc::usage(&err.to_string());
                crate::output::Printer::new(Default::default(), false, false).json(&doc);
            } else {
                let _ = err.print();
            }
            return ExitCode::from(Exit::Error.code());
        }
    };
    JSON_ERRORS.store(cli.global.json, std::sync::atomic::Ordering::SeqCst);
    let settings = match Settings::from_args(&cli.global) {
        Ok(s) => s,
        Err(e) => {
            let printer = crate::output::Printer::new(cli.global.color, false, false);
            error::report(&printer.with_json(cli.global.json), &e);
            return ExitCode::from(e.exit().code());
        }
    };
    let mut shell = Shell::new(settings);
    match dispatch(&mut shell, cli.command) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(crate::error::Error::DryRun) => dry_run::report(&mut shell),
        Err(err) => {
            error::report(&shell.printer, &err);
            ExitCode::from(err.exit().code())
        }
    }
}

/// `--json` was given: errors (a panic's too) are JSON on stdout.
static JSON_ERRORS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--json` on a command line clap refused (before any `--`).
fn json_asked() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

fn install_panic_hook() {
    // A panic is a bug in cdxs, not bad input: say so briefly, without a backtrace. A closed
    // stdout (`cdxs list | head`) is not a bug: end quietly.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if JSON_ERRORS.load(std::sync::atomic::Ordering::SeqCst) {
            let doc = crate::output::views::error::ErrorDoc::internal(format!("{msg}{loc}"));
            crate::output::Printer::new(Default::default(), false, false).json(&doc);
        }
        eprintln!("cdxs: internal error: {msg}{loc}\nthis is a bug in cdxs; please report it");
        // Exit code 1 (an error), not Rust's 101: scripts see one failure code.
        std::process::exit(Exit::Error.code().into());
    }));
}

/// Commands that print no JSON document, and why (`--json` is refused before they run).
fn no_json(command: &Command) -> Option<&'static str> {
    use server::ServerCommand as S;
    use sync::SyncCommand as Y;
    Some(match command {
        Command::Run(_) | Command::Resume(_) => "it becomes the command it runs",
        Command::Completions { .. } | Command::Man { .. } => "its output is the script or page",
        Command::Server(S::Run(_)) => "it is a server: its log takes `--log-format json`",
        Command::Sync(Y::Key {
            set: false,
            action: None,
            ..
        }) => "it prints the key itself, a secret",
        _ => return None,
    })
}

fn dispatch(sh: &mut Shell, command: Command) -> Result<Exit> {
    if let Some(why) = no_json(&command).filter(|_| sh.printer.json) {
        return Err(crate::error::Error::user(format!(
            "this command has no `--json` output: {why}"
        ))
        .with_help("run it without `--json`"));
    }
    dry_run::check(sh, &command)?;
    match command {
        Command::Import(cmd) => import::run(sh, cmd),
        Command::Account(cmd) => account::run(sh, cmd),
        Command::List(args) => account::list(sh, args),
        Command::Show(args) => account::show_all(sh, args),
        Command::Remove(args) => account::remove(sh, args),
        Command::Login(cmd) => login::run(sh, cmd),
        Command::RefreshToken(args) => quota::refresh_token(sh, args),
        Command::Quota(args) => quota::quota(sh, args),
        Command::Init => manifest::init(sh),
        Command::Validate(args) => manifest::validate(sh, args),
        Command::Plan(args) => plan::run(sh, args),
        Command::Apply(args) => apply::run(sh, args),
        Command::History(args) => history::history(sh, args),
        Command::Rollback(args) => history::rollback(sh, args),
        Command::Status(args) => status::run(sh, args),
        Command::Switch(args) => switch::run(sh, args),
        Command::Home(cmd) => home::run(sh, cmd),
        Command::Session(cmd) => session::run(sh, cmd),
        Command::Run(args) => run::run(sh, args),
        Command::Resume(args) => run::resume(sh, args),
        Command::Doctor(args) => doctor::run(sh, args),
        Command::Watch(args) => watch::run(sh, args),
        Command::Vault(vault::VaultCommand::Export(a)) => vault::export(sh, a),
        Command::Vault(vault::VaultCommand::Import(a)) => vault::import(sh, a),
        Command::Sync(cmd) => sync::run(sh, cmd),
        Command::Server(cmd) => server::run(sh, cmd),
        Command::Pull(args) => sync::pull(sh, args),
        Command::Push(args) => sync::push(sh, args),
        Command::Schema if sh.printer.json => {
            let schema: serde_json::Value =
                serde_json::from_str(&crate::manifest::schema::json_schema()).unwrap_or_default();
            sh.printer.json(&serde_json::json!({ "schema": schema }));
            Ok(Exit::Success)
        }
        Command::Schema => {
            sh.printer.out_raw(crate::manifest::schema::json_schema());
            Ok(Exit::Success)
        }
        Command::Completions { shell } => {
            sh.printer.out_raw(crate::complete::registration(shell)?);
            Ok(Exit::Success)
        }
        Command::Man { dir } => man(sh, dir),
    }
}

/// Man pages from the same definitions as `--help` (clap_mangen).
fn man(sh: &Shell, dir: Option<std::path::PathBuf>) -> Result<Exit> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| crate::error::Error::io("cannot render the man page", e))?;
        sh.printer.out_raw(String::from_utf8_lossy(&out));
        return Ok(Exit::Success);
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::Error::io(format!("cannot create {}", dir.display()), e))?;
    clap_mangen::generate_to(cmd, &dir)
        .map_err(|e| crate::error::Error::io(format!("cannot write into {}", dir.display()), e))?;
    sh.printer.status(format!(
        "wrote the man pages into `{}`; `man cdxs` finds them when it is on MANPATH",
        crate::paths::display(&dir)
    ));
    Ok(Exit::Success)
}
