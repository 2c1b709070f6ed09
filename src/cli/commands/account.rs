//! `account ...`, `list`, `show`, `remove`: accounts in the vault, for people and scripts.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::shell::Shell;
use crate::codex::auth::{self, AuthState};
use crate::error::{Error, Exit, Result};
use crate::output::views::accounts::{AccountList, AccountShow, AccountView};
use crate::output::{Printer, sanitize, stdin_is_terminal};
use crate::paths;
use crate::resolve;
use crate::secret::Secret;
use crate::vault::Account;
use crate::vault::accounts::{Upsert, match_credentials};
use std::io::IsTerminal;

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an API-key account (the key is read from stdin or a prompt, never echoed)
    #[command(
        after_help = "Examples:\n  printf %s \"$OPENAI_API_KEY\" | cdxs account add-api-key --api-key-stdin\n  cdxs account add-api-key --api-key-stdin --base-url https://proxy.example/v1 --switch"
    )]
    AddApiKey {
        /// The key on the command line (visible to other users in `ps`; prefer --api-key-stdin)
        #[arg(long, value_name = "KEY", conflicts_with = "api_key_stdin")]
        key: Option<String>,
        /// Read the key from standard input
        #[arg(long)]
        api_key_stdin: bool,
        /// API base URL for this key (a proxy or compatible endpoint)
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Also make it the account of the default home
        #[arg(long)]
        switch: bool,
    },
    /// List accounts in the vault
    List(ShowArgs),
    /// Show the account a Codex home is using
    Current {
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
        /// The Codex home (default: `$CODEX_HOME`, else `~/.codex`)
        #[arg(long, value_name = "PATH")]
        codex_home: Option<PathBuf>,
    },
    /// Show one account
    Show {
        /// Alias, id, email or unique email prefix
        account: String,
        /// Print versioned JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove an account from the vault
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print versioned JSON
    #[arg(long)]
    json: bool,
    /// Refresh cached data even when it is fresh
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Print versioned JSON
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Alias, id, email or unique email prefix
    account: String,
    /// Also delete the backups that hold this account's secrets (asked on a terminal)
    #[arg(long)]
    purge_backups: bool,
}

pub fn run(sh: &mut Shell, cmd: AccountCommand) -> Result<Exit> {
    match cmd {
        AccountCommand::AddApiKey {
            key,
            api_key_stdin,
            base_url,
            switch,
        } => add_api_key(sh, key, api_key_stdin, base_url, switch),
        AccountCommand::List(args) => show_all(sh, args),
        AccountCommand::Current { json, codex_home } => current(sh, json, codex_home),
        AccountCommand::Show { account, json } => show(sh, &account, json),
        AccountCommand::Remove(args) => remove(sh, args),
    }
}

/// The id of the account the default home's auth.json holds.
fn current_id(all: &[Account]) -> Option<String> {
    let home = paths::default_codex_home().ok()?;
    match auth::read(&home).ok()?.state {
        AuthState::Credentials(creds) => match_credentials(all, &creds).map(|a| a.id.clone()),
        _ => None,
    }
}

fn listing(sh: &mut Shell, json: bool) -> Result<Exit> {
    let now = sh.now();
    let engine = sh.engine()?;
    let quotas = engine.vault.quotas()?;
    let all = engine.vault.accounts()?;
    let current = current_id(&all);
    if all.is_empty() && !json {
        sh.printer.status(
            "no accounts yet: `cdxs import auth`, `cdxs login oauth` or `cdxs account add-api-key --api-key-stdin`",
        );
        return Ok(Exit::Success);
    }
    let view = AccountList {
        accounts: all
            .iter()
            .map(|a| {
                AccountView::new(
                    a,
                    current.as_deref() == Some(&a.id),
                    quotas.get(&a.id).cloned(),
                )
            })
            .collect(),
        now,
    };
    sh.printer.emit(json, &view);
    Ok(Exit::Success)
}

/// `list`: refresh quota older than 5 minutes (all of it with `--force`), then list.
pub fn list(sh: &mut Shell, args: ListArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let mut bar = sh.progress("quota");
    let engine = sh.engine()?;
    let ids: Vec<String> = engine.vault.accounts()?.into_iter().map(|a| a.id).collect();
    engine.refresh_stale_quota(m.as_ref(), &ids, args.force, true, &mut bar)?;
    listing(sh, args.json)
}

/// `show`, `account list`: from the vault, never the network.
pub fn show_all(sh: &mut Shell, args: ShowArgs) -> Result<Exit> {
    sh.note_missing_manifest();
    listing(sh, args.json)
}

fn show(sh: &mut Shell, query: &str, json: bool) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let now = sh.now();
    let engine = sh.engine()?;
    let all = engine.vault.accounts()?;
    let account = resolve::account(m.as_ref(), &all, query)?;
    let quota = engine.vault.quota(&account.id)?;
    let view = AccountShow {
        account: AccountView::new(
            &account,
            current_id(&all).as_deref() == Some(&account.id),
            quota,
        ),
        base_url_raw: account.base_url.clone(),
        now,
    };
    sh.printer.emit(json, &view);
    Ok(Exit::Success)
}

fn current(sh: &mut Shell, json: bool, codex_home: Option<PathBuf>) -> Result<Exit> {
    sh.note_missing_manifest();
    let home = match codex_home {
        Some(h) => paths::absolute(&h),
        None => paths::default_codex_home()?,
    };
    let now = sh.now();
    let all = sh.engine()?.vault.accounts()?;
    let doc = auth::read(&home)?;
    let found = match &doc.state {
        AuthState::Credentials(creds) => match_credentials(&all, creds),
        _ => None,
    };
    if let Some(account) = found {
        let view = AccountShow {
            account: AccountView::new(account, true, None),
            base_url_raw: account.base_url.clone(),
            now,
        };
        sh.printer.emit(json, &view);
        return Ok(Exit::Success);
    }
    let why = match &doc.state {
        AuthState::Missing => "has no auth.json (not logged in)".to_string(),
        AuthState::Empty => "has an auth.json without credentials".to_string(),
        AuthState::Foreign { mode } => {
            format!(
                "uses auth mode `{}`, which cdxs does not manage",
                sanitize(mode)
            )
        }
        AuthState::Credentials(c) => format!("holds {}, which is not in the vault", c.describe()),
    };
    if json {
        #[derive(serde::Serialize)]
        struct Out {
            account: Option<AccountView>,
            home: String,
            reason: String,
        }
        sh.printer.json(&Out {
            account: None,
            home: home.display().to_string(),
            reason: why,
        });
        return Ok(Exit::Success);
    }
    Err(
        Error::user(format!("`{}` {why}", paths::display(&home))).with_help(
            "import it with `cdxs import auth`, or pick an account with `cdxs switch ACCOUNT`",
        ),
    )
}

pub fn remove(sh: &mut Shell, args: RemoveArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let engine = sh.engine()?;
    let all = engine.vault.accounts()?;
    let account = resolve::account(m.as_ref(), &all, &args.account)?;
    if let Some(m) = &m {
        let bound = resolve::homes_bound_to(m, &account);
        if !bound.is_empty() {
            sh.printer.warn(format!(
                "cdxs.yaml binds home(s) {} to this account: `cdxs plan` will fail until you bind another",
                bound.join(", ")
            ));
        }
    }
    let engine = sh.engine()?;
    engine.vault.remove(&account.id)?;
    sh.printer.status(format!(
        "removed {} ({}) from the vault; homes that use it keep their auth.json",
        sanitize(account.name()),
        account.id
    ));
    offer_backup_purge(sh, &account, args.purge_backups)?;
    Ok(Exit::Success)
}

/// Backups of replaced auth.json files may still hold a removed account's secrets: delete
/// them with `--purge-backups` (or when the person says yes on a terminal), else say how.
fn offer_backup_purge(sh: &mut Shell, account: &Account, purge: bool) -> Result<()> {
    let files = crate::backup::holding_account(&sh.state_dir()?, account);
    if files.is_empty() {
        return Ok(());
    }
    let n = files.len();
    let yes = purge
        || (std::io::stdin().is_terminal()
            && sh.confirm(
                &format!("{n} backup file(s) still hold this account's secrets. Delete them?"),
                "delete backups",
            )?);
    if !yes {
        sh.printer.warn(format!(
            "{n} backup file(s) still hold this account's secrets (pass `--purge-backups` to delete them with the account); delete them by hand:{}",
            files
                .iter()
                .map(|f| format!("\n  {}", crate::paths::display(f)))
                .collect::<String>()
        ));
        return Ok(());
    }
    let now = sh.now();
    let engine = sh.engine()?;
    let done = crate::backup::prune(
        &mut engine.vault,
        "account remove: purge backups",
        &[],
        &files,
        now,
    )?;
    sh.printer.status(format!(
        "deleted {done} backup file(s) that held its secrets"
    ));
    Ok(())
}

fn read_key(key: Option<String>, from_stdin: bool, printer: &Printer) -> Result<Secret> {
    let raw = if let Some(k) = key {
        printer.warn(
            "a key on the command line is visible to other users in `ps`; prefer `--api-key-stdin`",
        );
        k
    } else if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut s)
            .map_err(|e| Error::io("cannot read the key from standard input", e))?;
        s
    } else if stdin_is_terminal() {
        rpassword::prompt_password("API key: ").map_err(|e| Error::io("cannot read the key", e))?
    } else {
        return Err(Error::user("no API key given").with_help(
            "pipe it in with `--api-key-stdin` (e.g. `printf %s \"$OPENAI_API_KEY\" | cdxs account add-api-key --api-key-stdin`)",
        ));
    };
    let key = raw.trim().to_string();
    crate::secret::check_api_key(&key).map_err(|why| {
        Error::user(format!("the API key {why}")).with_help("pass exactly one key")
    })?;
    Ok(Secret::new(key))
}

fn add_api_key(
    sh: &mut Shell,
    key: Option<String>,
    from_stdin: bool,
    base_url: Option<String>,
    switch: bool,
) -> Result<Exit> {
    if let Some(url) = &base_url
        && let Err(why) = crate::codex::config::check_base_url(url)
    {
        return Err(Error::user(why)
            .with_help("pass the endpoint Codex should call, like `https://api.example.com/v1`"));
    }
    let key = read_key(key, from_stdin, &sh.printer)?;
    let now = sh.now();
    let engine = sh.engine()?;
    let account = Account::api_key(key, base_url, "add-api-key", now);
    let (outcome, stored) = engine.vault.upsert(&account)?;
    let verb = match outcome {
        Upsert::Created => "added",
        _ => "already had",
    };
    sh.printer
        .status(format!("{verb} {} ({})", stored.name(), stored.id));
    if switch {
        sh.switch_default(stored)?;
    }
    Ok(Exit::Success)
}
