//! `account ...`, `list`, `show`, `remove`: accounts in the vault, for people and scripts.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::account_use;
use crate::cli::input::{Stdin, read_secret};
use crate::cli::shell::Shell;
use crate::codex::auth::{self, AuthState};
use crate::error::{Error, Exit, Result};
use crate::output::views::accounts::{AccountList, AccountShow, AccountView};
use crate::output::views::outcome::{AccountRef, Outcome};
use crate::output::{Printer, sanitize, stdin_is_terminal};
use crate::paths;
use crate::resolve;
use crate::secret::Secret;
use crate::vault::Account;
use crate::vault::accounts::{Upsert, match_credentials};

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an API-key account (the key is read from stdin or a prompt, never echoed)
    #[command(
        after_help = "Examples:\n  printf %s \"$OPENAI_API_KEY\" | cdxs account add-api-key --api-key-stdin --name ci\n  cdxs account add-api-key --api-key-stdin --base-url https://proxy.example/v1 --switch"
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
        /// Its name (default: `api-key-` and 8 hex digits of its id)
        #[arg(long)]
        name: Option<String>,
        /// Also make it the account of the default home
        #[arg(long)]
        switch: bool,
    },
    /// Rename an API-key account (ChatGPT logins are named by their email)
    #[command(after_help = "Examples:\n  cdxs account rename api-key-6bca628c ci")]
    Rename {
        /// Alias, id, email, name or unique prefix
        #[arg(add = crate::complete::accounts())]
        account: String,
        /// The new name
        name: String,
    },
    /// List accounts in the vault
    List(ShowArgs),
    /// Show the account a Codex home is using
    Current {
        /// The Codex home (default: `$CODEX_HOME`, else `~/.codex`)
        #[arg(long, value_name = "PATH")]
        codex_home: Option<PathBuf>,
    },
    /// Show one account
    Show(ShowArgs),
    /// Remove an account from the vault
    Remove(RemoveArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Refresh cached data even when it is fresh
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// One account (alias, id, email, name or unique prefix); default: every account
    #[arg(add = crate::complete::accounts())]
    account: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Alias, id, email or unique email prefix
    #[arg(add = crate::complete::accounts())]
    account: String,
    /// Also delete the backups that hold this account's secrets (asked on a terminal)
    #[arg(long)]
    purge_backups: bool,
    /// Remove a bound or live account without asking
    #[arg(long, short = 'y')]
    yes: bool,
}

pub fn run(sh: &mut Shell, cmd: AccountCommand) -> Result<Exit> {
    match cmd {
        AccountCommand::AddApiKey {
            key,
            api_key_stdin,
            base_url,
            name,
            switch,
        } => add_api_key(sh, key, api_key_stdin, base_url, name, switch),
        AccountCommand::Rename { account, name } => rename(sh, &account, &name),
        AccountCommand::List(args) | AccountCommand::Show(args) => show_all(sh, args),
        AccountCommand::Current { codex_home } => current(sh, codex_home),
        AccountCommand::Remove(args) => remove(sh, args),
    }
}

fn listing(sh: &mut Shell, m: Option<&crate::manifest::Manifest>) -> Result<Exit> {
    let now = sh.now();
    let engine = sh.engine()?;
    let quotas = engine.vault().quotas()?;
    let all = engine.vault().accounts()?;
    let current = account_use::current(&all).map(|a| a.id);
    if all.is_empty() && !sh.printer.json {
        sh.printer.status(
            "no accounts yet: `cdxs import auth`, `cdxs login oauth` or `cdxs account add-api-key --api-key-stdin`",
        );
        return Ok(Exit::Success);
    }
    let view = AccountList::of(&all, &quotas, current.as_deref(), m, now);
    sh.printer.emit(&view);
    Ok(Exit::Success)
}

/// `list`: refresh quota older than 5 minutes (all of it with `--force`), then list.
pub fn list(sh: &mut Shell, args: ListArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let mut bar = sh.progress("quota");
    let engine = sh.engine()?;
    let ids: Vec<String> = engine
        .vault()
        .accounts()?
        .into_iter()
        .map(|a| a.id)
        .collect();
    engine.refresh_stale_quota(m.as_ref(), &ids, args.force, true, &mut bar)?;
    listing(sh, m.as_ref())
}

/// `show [ACCOUNT]`, `account list`, `account show ACCOUNT`: from the vault, never the
/// network.
pub fn show_all(sh: &mut Shell, args: ShowArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let Some(query) = args.account else {
        return listing(sh, m.as_ref());
    };
    let now = sh.now();
    let engine = sh.engine()?;
    let all = engine.vault().accounts()?;
    let account = resolve::account(m.as_ref(), &all, &query)?;
    let quota = engine.vault().quota(&account.id)?;
    let current = account_use::current(&all).is_some_and(|c| c.id == account.id);
    let view = AccountView::new(&account, current, quota).in_manifest(m.as_ref(), &account);
    sh.printer.emit(&AccountShow::of(view, &account, now));
    Ok(Exit::Success)
}

fn current(sh: &mut Shell, codex_home: Option<PathBuf>) -> Result<Exit> {
    sh.note_missing_manifest();
    let home = paths::codex_home_or_default(codex_home.as_deref())?;
    let now = sh.now();
    let all = sh.engine()?.vault().accounts()?;
    let doc = auth::read(&home)?;
    let found = match &doc.state {
        AuthState::Credentials(creds) => match_credentials(&all, creds),
        _ => None,
    };
    if let Some(account) = found {
        let view = AccountView::new(account, true, None);
        sh.printer.emit(&AccountShow::of(view, account, now));
        return Ok(Exit::Success);
    }
    let why = doc.state.not_in_vault();
    if sh.printer.json {
        let home = home.display().to_string();
        let doc = serde_json::json!({"account": null, "home": home, "reason": why});
        sh.printer.json(&doc);
        return Ok(Exit::Success);
    }
    Err(
        Error::user(format!("`{}` {why}", paths::display(&home))).with_help(
            "import it with `cdxs import auth`, or pick an account with `cdxs switch ACCOUNT`",
        ),
    )
}

/// `account remove`: an account that cdxs.yaml binds or a folder holds is removed only
/// after saying what happens to those homes, and asking (or `--yes`).
pub fn remove(sh: &mut Shell, args: RemoveArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let engine = sh.engine()?;
    let all = engine.vault().accounts()?;
    let account = resolve::account(m.as_ref(), &all, &args.account)?;
    let live = account_use::live_in(engine.vault(), m.as_ref(), &account);
    let effects = account_use::removal_effects(m.as_ref(), &live, &account);
    let name = sanitize(account.name()).into_owned();
    if !effects.is_empty() {
        for e in &effects {
            sh.printer.warn(e);
        }
        if !args.yes && !stdin_is_terminal() {
            return Err(Error::user(format!(
                "refusing to remove {name} without a terminal to ask on"
            ))
            .with_help("read what happens above, then pass `--yes` to remove it anyway"));
        }
        let ask = format!("Remove {name} from the vault anyway?");
        if !args.yes && !sh.confirm(&ask, &format!("remove {name}"))? {
            return Err(Error::user(format!(
                "{name} stays in the vault: only 'yes' approves"
            )));
        }
    }
    let report = sh.engine()?.remove_account(&account, "account remove")?;
    let o = Outcome::new("account remove").report(&report).changed(true);
    let o = o
        .with("account", AccountRef::from(&account))
        .with("effects", &effects);
    sh.printer.status(format!(
        "removed {name} ({}) from the vault{}",
        account.id,
        if live.is_empty() {
            ""
        } else {
            "; the homes that hold it keep their auth.json"
        }
    ));
    let (deleted, left) = offer_backup_purge(sh, &account, args.purge_backups)?;
    sh.outcome(
        o.with("backups_deleted", deleted)
            .with("backups_left", left),
    );
    Ok(Exit::Success)
}

/// Backups of replaced auth.json files may still hold a removed account's secrets: delete
/// them with `--purge-backups` (or when the person says yes on a terminal), else say how.
/// How many backup files it deleted, and how many still hold the secrets.
fn offer_backup_purge(sh: &mut Shell, account: &Account, purge: bool) -> Result<(usize, usize)> {
    let files = crate::vault::backups::holding_account(&sh.state_dir()?, account);
    if files.is_empty() {
        return Ok((0, 0));
    }
    let n = files.len();
    let yes = purge
        || (stdin_is_terminal()
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
        return Ok((0, n));
    }
    let done = sh
        .engine()?
        .delete_backups(&files, "account remove: purge backups")?;
    sh.printer.status(format!(
        "deleted {done} backup file(s) that held its secrets"
    ));
    Ok((done, n - done.min(n)))
}

/// An API key: exactly one, from the flag, standard input or a prompt.
fn read_key(key: Option<String>, from_stdin: bool, printer: &Printer) -> Result<Secret> {
    let hint = "pipe it in with `--api-key-stdin` (e.g. `printf %s \"$OPENAI_API_KEY\" | cdxs account add-api-key --api-key-stdin`)";
    let mut stdin = Stdin::new();
    let (who, from) = (
        ("API key", "--api-key-stdin"),
        from_stdin.then_some(&mut stdin),
    );
    let raw = read_secret(who, key, from, printer, hint)?;
    let more = from_stdin && !stdin.rest()?.trim().is_empty();
    let key = raw.expose().trim().to_string();
    let why = crate::secret::check_api_key(&key).err();
    if let Some(why) = why.or(more.then_some("holds more than one line")) {
        return Err(Error::user(format!("the API key {why}")).with_help("pass exactly one key"));
    }
    Ok(Secret::new(key))
}

fn add_api_key(
    sh: &mut Shell,
    key: Option<String>,
    from_stdin: bool,
    base_url: Option<String>,
    name: Option<String>,
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
    if let Some(name) = &name {
        engine.vault().check_name(&account.id, name)?;
    }
    let (outcome, stored) = engine.put_account(account, name, "account add-api-key")?;
    let verb = match outcome {
        Upsert::Created => "added",
        _ => "already had",
    };
    sh.printer
        .status(format!("{verb} {} ({})", stored.name(), stored.id));
    let o = Outcome::new("account add-api-key").changed(outcome == Upsert::Created);
    let o = o
        .with("account", AccountRef::from(&stored))
        .with("outcome", outcome.code());
    let o = sh.switch_if(switch, stored, o)?;
    sh.outcome(o);
    Ok(Exit::Success)
}

/// `account rename`: an API key's name (ChatGPT logins are named by their email; an alias
/// in cdxs.yaml names them for commands).
fn rename(sh: &mut Shell, query: &str, name: &str) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let engine = sh.engine()?;
    let account = resolve::account(m.as_ref(), &engine.vault().accounts()?, query)?;
    if account.kind == crate::vault::AccountKind::OAuth {
        return Err(Error::user(format!(
            "{} is a ChatGPT login, named by its email",
            sanitize(account.name())
        ))
        .with_help("give it an alias in cdxs.yaml (`accounts: { NAME: { email: ... } }`): every command takes the alias"));
    }
    engine.vault().check_name(&account.id, name)?;
    let report = engine.rename_account(&account, name, "account rename")?;
    sh.printer.status(format!(
        "renamed {} ({}) to {}",
        sanitize(account.name()),
        account.id,
        sanitize(name.trim())
    ));
    let renamed = sh.vault()?.account(&account.id)?.unwrap_or(account.clone());
    let o = Outcome::new("account rename").report(&report).changed(true);
    sh.outcome(
        o.with("account", AccountRef::from(&renamed))
            .with("previous_name", account.name()),
    );
    Ok(Exit::Success)
}
