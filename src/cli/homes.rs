//! `switch`, `home list|create|bind|path|remove`, `run`: imperative commands that edit
//! cdxs.yaml in place (keeping comments and formatting) and then converge the affected home.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Ctx;
use super::plan::converge;
use super::write_home::write_into_home;
use crate::backup::Backups;
use crate::error::{Error, Exit, Result, tick};
use crate::manifest::{self, AccountRef, Binding, Manifest, edit};
use crate::output::Table;
use crate::paths;
use crate::reconcile::apply::FileChange;
use crate::secret::fingerprint;
use crate::vault::accounts::find_in;
use crate::vault::{Account, AccountKind, Vault};

/// An account named on the command line, resolved against the manifest's aliases first.
pub enum Named {
    /// A manifest alias (it may name an env key or auth file, not only vault accounts).
    Alias(String),
    /// A vault account, and its alias in the manifest if it has one.
    Account(Box<Account>, Option<String>),
}

/// Does `r` name vault account `a`?
pub fn ref_names(r: &AccountRef, a: &Account) -> bool {
    r.names(
        &a.id,
        a.kind,
        a.email.as_deref(),
        a.chatgpt_account_id.as_deref(),
    )
}

pub fn resolve(m: Option<&Manifest>, vault: &Vault, query: &str) -> Result<Named> {
    if let Some(m) = m
        && m.accounts.contains_key(query)
    {
        return Ok(Named::Alias(query.to_string()));
    }
    let all = vault.accounts()?;
    let account = find_in(&all, query)?.clone();
    let alias = m.and_then(|m| {
        m.accounts
            .iter()
            .find(|(_, r)| ref_names(r, &account))
            .map(|(alias, _)| alias.clone())
    });
    Ok(Named::Account(Box::new(account), alias))
}

/// The vault account an alias or query names, for commands that need a vault account.
pub fn resolve_vault_account(m: Option<&Manifest>, vault: &Vault, query: &str) -> Result<Account> {
    match resolve(m, vault, query)? {
        Named::Account(a, _) => Ok(*a),
        Named::Alias(alias) => {
            let r = &m.expect("aliases come from a manifest").accounts[&alias];
            let all = vault.accounts()?;
            let found: Vec<&Account> = all.iter().filter(|a| ref_names(r, a)).collect();
            match found.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(Error::user(format!(
                    "alias `{alias}` ({}) does not name an account in the vault",
                    r.describe()
                ))
                .with_help(
                    "import or log in to it first (`cdxs import auth`, `cdxs login oauth`)",
                )),
                _ => Err(
                    Error::user(format!("alias `{alias}` matches several accounts"))
                        .with_help("add `workspace:` to the alias in cdxs.yaml"),
                ),
            }
        }
    }
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

/// A new alias for an account: the email's local part, else its label, made unique with
/// the email's domain, then a number.
pub fn alias_for(a: &Account, taken: &dyn Fn(&str) -> bool) -> String {
    alias_with(a, taken, false)
}

/// `with_domain`: start from `local-domain` (when several accounts share a local part).
pub fn alias_with(a: &Account, taken: &dyn Fn(&str) -> bool, with_domain: bool) -> String {
    let (local, domain) = match a.email.as_deref().and_then(|e| e.split_once('@')) {
        Some((l, d)) => (slug(l), slug(d.split('.').next().unwrap_or(d))),
        None => (slug(a.label.as_deref().unwrap_or(&a.id)), String::new()),
    };
    let base = if local.is_empty() {
        "account".to_string()
    } else {
        local
    };
    let mut candidates = vec![base.clone()];
    if !domain.is_empty() {
        candidates.insert(usize::from(!with_domain), format!("{base}-{domain}"));
    }
    candidates
        .into_iter()
        .chain((2..).map(|n| format!("{base}-{n}")))
        .find(|c| !taken(c))
        .expect("some suffix is free")
}

fn new_alias(m: &Manifest, a: &Account) -> String {
    alias_for(a, &|c| {
        m.accounts.contains_key(c) || m.pools.contains_key(c)
    })
}

/// How the manifest refers to a vault account it has no alias for.
fn reference_for(all: &[Account], a: &Account) -> (&'static str, String) {
    match (a.kind, &a.email) {
        (AccountKind::OAuth, Some(email))
            if all
                .iter()
                .filter(|o| o.kind == AccountKind::OAuth && o.email.as_deref() == Some(email))
                .count()
                == 1 =>
        {
            ("email", email.clone())
        }
        _ => ("id", a.id.clone()),
    }
}

/// Edit the manifest text so that `home` uses the named account; returns the new text
/// and the alias used.
fn bind_text(m: &Manifest, vault: &Vault, home: &str, named: Named) -> Result<(String, String)> {
    let (mut text, alias) = match named {
        Named::Alias(alias) => (m.text.clone(), alias),
        Named::Account(_, Some(alias)) => (m.text.clone(), alias),
        Named::Account(a, None) => {
            let alias = new_alias(m, &a);
            let (key, value) = reference_for(&vault.accounts()?, &a);
            (edit::add_account(&m.text, &alias, key, &value)?, alias)
        }
    };
    text = edit::set_home_account(&text, home, &alias)?;
    Ok((text, alias))
}

/// Validate the edited text, check the affected home can be planned, then write it.
fn write_manifest(
    ctx: &Ctx,
    m: &Manifest,
    new_text: &str,
    home: &str,
) -> Result<(Manifest, Vec<FileChange>)> {
    if new_text == m.text {
        return Ok((m.clone(), Vec::new()));
    }
    let edited = manifest::parse(new_text, &m.path).map_err(|r| {
        ctx.printer
            .warn("that change would make cdxs.yaml invalid; nothing was written");
        Error::Diagnostics(Box::new(r))
    })?;
    // Refuse before writing when the home could not be converged (unknown login, unset key).
    {
        let vault = ctx.vault()?;
        let scope = crate::reconcile::observe::Scope {
            homes: Some(vec![home.to_string()]),
            skip_processes: true,
            skip_sessions: true,
            ..crate::reconcile::observe::Scope::default()
        };
        let observed = crate::reconcile::apply::observe_now(&edited, &vault, &scope)?;
        let plan = crate::reconcile::plan::plan(&edited, &observed, ctx.ts());
        if let Some(e) = plan
            .errors
            .iter()
            .find(|e| e.address.starts_with(&format!("home.{home}.")))
        {
            return Err(
                Error::user(format!("{}; cdxs.yaml was not changed", e.message))
                    .with_help(e.help.clone()),
            );
        }
    }
    let mut backups = Backups::new(&ctx.state_dir()?, "manifest");
    let before = Some(fingerprint(m.text.as_bytes()));
    let written = edit::write(&m.path, new_text, &mut backups)?;
    let backup = backups.saved().first().map(|(_, b)| b.clone());
    ctx.printer.detail(format!("edited {}", tick(&m.path)));
    Ok((
        written,
        vec![FileChange {
            path: m.path.clone(),
            backup,
            before,
            after: Some(fingerprint(new_text.as_bytes())),
        }],
    ))
}

/// The manifest home for `--home`/`--codex-home`/default.
fn pick_home(
    m: &Manifest,
    home: Option<&str>,
    codex_home: Option<&Path>,
) -> Result<Option<String>> {
    if let Some(name) = home {
        return known_home(m, name).map(Some);
    }
    let path = match codex_home {
        Some(p) => paths::absolute(p),
        None => {
            if m.homes.contains_key("default") {
                return Ok(Some("default".into()));
            }
            paths::default_codex_home()?
        }
    };
    Ok(m.homes
        .values()
        .find(|h| h.path == path)
        .map(|h| h.name.clone()))
}

fn known_home(m: &Manifest, name: &str) -> Result<String> {
    if m.homes.contains_key(name) {
        return Ok(name.to_string());
    }
    let names: Vec<&str> = m.homes.keys().map(String::as_str).collect();
    let e = Error::user(format!("cdxs.yaml declares no home `{name}`"));
    Err(
        match manifest::load::did_you_mean(name, names.iter().copied()) {
            Some(best) => e.with_help(format!("did you mean `{best}`?")),
            None => e.with_help(format!("declared homes: {}", names.join(", "))),
        },
    )
}

fn no_manifest_help() -> &'static str {
    "no cdxs.yaml found: run `cdxs init` to declare your homes"
}

pub fn switch(
    ctx: &Ctx,
    account: Option<String>,
    home: Option<String>,
    codex_home: Option<PathBuf>,
) -> Result<Exit> {
    let m = manifest::optional(ctx.global.manifest.as_deref())?;
    let mut vault = ctx.vault()?;
    let Some(query) = account else {
        return super::quota_cmds::switch_auto(ctx, m.as_ref(), &mut vault, home, codex_home);
    };
    let named = resolve(m.as_ref(), &vault, &query)?;
    bind_named(ctx, m, &mut vault, named, home, codex_home)
}

/// Bind a resolved account to a home (the heart of `switch`).
pub fn bind_named(
    ctx: &Ctx,
    m: Option<Manifest>,
    vault: &mut Vault,
    named: Named,
    home: Option<String>,
    codex_home: Option<PathBuf>,
) -> Result<Exit> {
    let target_home = match &m {
        Some(m) => pick_home(m, home.as_deref(), codex_home.as_deref())?,
        None => {
            if home.is_some() {
                return Err(Error::user("`--home` needs cdxs.yaml").with_help(no_manifest_help()));
            }
            None
        }
    };
    let (Some(m), Some(home)) = (m, target_home) else {
        // Imperative fallback, as the older tool did: write the account into the folder.
        let account = match named {
            Named::Account(a, _) => *a,
            Named::Alias(alias) => {
                return Err(Error::user(format!(
                    "`{alias}` is an alias; name the home with `--home`"
                )));
            }
        };
        let path = match codex_home {
            Some(p) => paths::absolute(&p),
            None => paths::default_codex_home()?,
        };
        write_into_home(ctx, vault, &account, &path, "switch")?;
        ctx.printer.status(format!("note: {}", no_manifest_help()));
        return Ok(Exit::Success);
    };
    drop(std::mem::replace(vault, ctx.vault()?));
    let (text, alias) = bind_text(&m, vault, &home, named)?;
    let (edited, extra) = write_manifest(ctx, &m, &text, &home)?;
    let changed = converge(
        ctx,
        &edited,
        std::slice::from_ref(&home),
        "switch",
        extra,
        false,
    )?;
    ctx.printer.status(format!(
        "home `{home}` {} {alias}",
        if changed { "now uses" } else { "already uses" }
    ));
    Ok(Exit::Success)
}

pub fn home_list(ctx: &Ctx, json: bool) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    #[derive(Serialize)]
    struct HomeView {
        name: String,
        path: String,
        account: Option<String>,
        pool: Option<String>,
        exists: bool,
    }
    let homes: Vec<HomeView> = m
        .homes
        .values()
        .map(|h| HomeView {
            name: h.name.clone(),
            path: h.path.display().to_string(),
            account: match &h.binding {
                Some(Binding::Account(a)) => Some(a.clone()),
                _ => None,
            },
            pool: match &h.binding {
                Some(Binding::Pool { pool, .. }) => Some(pool.clone()),
                _ => None,
            },
            exists: h.path.is_dir(),
        })
        .collect();
    if json {
        #[derive(Serialize)]
        struct Out {
            homes: Vec<HomeView>,
        }
        ctx.printer.json(&Out { homes });
        return Ok(Exit::Success);
    }
    let mut t = Table::new(["NAME", "PATH", "ACCOUNT", "EXISTS"]);
    for h in &homes {
        t.row([
            h.name.clone(),
            paths::display(Path::new(&h.path)),
            h.account
                .clone()
                .or(h.pool.as_ref().map(|p| format!("pool {p}")))
                .unwrap_or_else(|| "-".into()),
            if h.exists { "yes".into() } else { "no".into() },
        ]);
    }
    ctx.printer.out(t.render());
    Ok(Exit::Success)
}

pub fn home_path(ctx: &Ctx, name: &str) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    let name = known_home(&m, name)?;
    ctx.printer.out(m.homes[&name].path.display().to_string());
    Ok(Exit::Success)
}

pub fn home_create(ctx: &Ctx, name: &str, path: &Path, account: Option<String>) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    if m.homes.contains_key(name) {
        return Err(
            Error::user(format!("cdxs.yaml already declares home `{name}`")).with_help(format!(
                "bind it with `cdxs home bind {name} ACCOUNT`, or pick another name"
            )),
        );
    }
    let abs = paths::absolute(path);
    let shown = paths::display(&abs);
    let mut text = edit::add_home(&m.text, name, &shown, None)?;
    if let Some(query) = account {
        let vault = ctx.vault()?;
        let named = resolve(Some(&m), &vault, &query)?;
        let with_home =
            manifest::parse(&text, &m.path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
        text = bind_text(&with_home, &vault, name, named)?.0;
    }
    let (edited, extra) = write_manifest(ctx, &m, &text, name)?;
    converge(
        ctx,
        &edited,
        &[name.to_string()],
        "home create",
        extra,
        false,
    )?;
    ctx.printer
        .status(format!("home `{name}` declared at `{shown}`"));
    Ok(Exit::Success)
}

pub fn home_bind(ctx: &Ctx, name: &str, account: &str) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    let name = known_home(&m, name)?;
    let mut vault = ctx.vault()?;
    let named = resolve(Some(&m), &vault, account)?;
    bind_named(ctx, Some(m), &mut vault, named, Some(name), None)
}

pub fn home_remove(ctx: &Ctx, name: &str) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    let name = known_home(&m, name)?;
    let text = edit::remove_home(&m.text, &name)?;
    let edited = manifest::parse(&text, &m.path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
    let mut backups = Backups::new(&ctx.state_dir()?, "manifest");
    edit::write(&m.path, &text, &mut backups)?;
    let _ = edited;
    ctx.printer.status(format!(
        "home `{name}` is no longer managed; its folder `{}` is kept",
        paths::display(&m.homes[&name].path)
    ));
    Ok(Exit::Success)
}

pub fn run(
    ctx: &Ctx,
    home: Option<String>,
    account: Option<String>,
    codex_home: Option<PathBuf>,
    command: Vec<String>,
) -> Result<Exit> {
    let path = match (home, account) {
        (Some(name), _) => {
            let m = manifest::require(ctx.global.manifest.as_deref())?;
            let name = known_home(&m, &name)?;
            converge(
                ctx,
                &m,
                std::slice::from_ref(&name),
                "run",
                Vec::new(),
                true,
            )?;
            m.homes[&name].path.clone()
        }
        (None, Some(query)) => {
            let m = manifest::optional(ctx.global.manifest.as_deref())?;
            let mut vault = ctx.vault()?;
            let account = resolve_vault_account(m.as_ref(), &vault, &query)?;
            let path = match codex_home {
                Some(p) => paths::absolute(&p),
                None => paths::default_codex_home()?,
            };
            let (_, base_url) = super::write_home::base_url_change(&vault, &account, &path)?;
            if !holds_current(&vault, &account, &path)? || base_url.is_some() {
                write_into_home(ctx, &mut vault, &account, &path, "run")?;
            }
            path
        }
        (None, None) => {
            return Err(Error::user(
                "`run` needs `--home NAME` or `--account ACCOUNT`",
            ));
        }
    };
    exec(&command, &path)
}

/// Does `home` already hold `account` with tokens at least as new as the vault's?
fn holds_current(vault: &Vault, account: &Account, home: &Path) -> Result<bool> {
    let Ok(doc) = crate::codex::auth::read(home) else {
        return Ok(false);
    };
    let crate::codex::auth::AuthState::Credentials(creds) = doc.state else {
        return Ok(false);
    };
    let all = vault.accounts()?;
    let Some(found) = crate::vault::accounts::match_credentials(&all, &creds) else {
        return Ok(false);
    };
    if found.id != account.id {
        return Ok(false);
    }
    Ok(match &creds {
        crate::codex::auth::Credentials::ChatGpt(t) => {
            crate::auth::freshness::compare(
                &account.freshness(),
                &crate::vault::accounts::tokens_freshness(t),
            ) != std::cmp::Ordering::Greater
        }
        crate::codex::auth::Credentials::ApiKey { .. } => true,
    })
}

/// Replace this process with `command`, `CODEX_HOME` set: signals, the terminal and the
/// exit code pass straight through.
fn exec(command: &[String], home: &Path) -> Result<Exit> {
    use std::os::unix::process::CommandExt;
    let (program, args) = command.split_first().ok_or_else(|| {
        Error::user("no command to run")
            .with_help("put it after `--`: `cdxs run --home work -- codex`")
    })?;
    let err = std::process::Command::new(program)
        .args(args)
        .env("CODEX_HOME", home)
        .exec();
    Err(Error::io(format!("cannot run `{program}`"), err)
        .with_help("check the command's name and that it is on `PATH`"))
}
