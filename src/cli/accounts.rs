//! `account ...`, `list`, `show`, `remove`: accounts in the vault, for people and scripts.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Ctx;
use crate::codex::auth::{self, AuthState};
use crate::codex::config;
use crate::error::{Error, Exit, Result};
use crate::output::{Printer, Table, stdin_is_terminal};
use crate::paths;
use crate::secret::Secret;
use crate::vault::accounts::{Upsert, match_credentials};
use crate::vault::{Account, AccountKind};

/// One account as `--json` shows it: identity and state, never a secret.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub kind: AccountKind,
    pub name: String,
    pub email: Option<String>,
    pub workspace: Option<String>,
    pub organization_id: Option<String>,
    pub plan_type: Option<String>,
    pub base_url: Option<String>,
    pub requires_reauth: bool,
    pub access_token_expires_at: Option<String>,
    pub last_refresh: Option<String>,
    pub last_used_at: Option<String>,
    /// `sha256:xxxxxxxx` of the API key or refresh token: tells copies apart, reveals nothing.
    pub secret_fingerprint: Option<String>,
    /// Whether the default Codex home uses this account now.
    pub current: bool,
    /// Cached quota (`null` for API keys and before the first fetch).
    pub quota: Option<crate::quota::Quota>,
}

fn rfc3339(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

impl AccountView {
    pub fn new(a: &Account, current: bool) -> Self {
        AccountView {
            id: a.id.clone(),
            kind: a.kind,
            name: a.name().to_string(),
            email: a.email.clone(),
            workspace: a.chatgpt_account_id.clone(),
            organization_id: a.organization_id.clone(),
            plan_type: a.plan_type.clone(),
            base_url: a.base_url.as_deref().map(config::display_url),
            requires_reauth: a.requires_reauth,
            access_token_expires_at: rfc3339(a.access_expires_at),
            last_refresh: a
                .last_refresh
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            last_used_at: rfc3339(a.last_used_at),
            secret_fingerprint: a.secret_fingerprint(),
            current,
            quota: None,
        }
    }
}

/// The id of the account the home's auth.json holds (None when missing, foreign, unknown).
fn current_account_id(all: &[Account], home: &Path) -> Option<String> {
    match auth::read(home).ok()?.state {
        AuthState::Credentials(creds) => match_credentials(all, &creds).map(|a| a.id.clone()),
        _ => None,
    }
}

/// "expires in 3d", "expired 2h ago", "-".
pub fn token_age(a: &Account, now: i64) -> String {
    match a.kind {
        AccountKind::ApiKey => "-".into(),
        AccountKind::OAuth => match a.access_expires_at {
            None => "unknown".into(),
            Some(exp) if exp > now => format!("expires in {}", human_duration(exp - now)),
            Some(exp) => format!("expired {} ago", human_duration(now - exp)),
        },
    }
}

pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn list(ctx: &Ctx, json: bool) -> Result<Exit> {
    list_with_quota(ctx, json, None)
}

/// The account listing with quota columns. `refresh`: `None` never calls the network
/// (`show`, `account list`); `Some(force)` first refreshes cached quota older than 5 minutes
/// (all of it with `force`), as `list` does.
pub fn list_with_quota(ctx: &Ctx, json: bool, refresh: Option<bool>) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    if let Some(force) = refresh {
        let m = crate::manifest::optional(ctx.global.manifest.as_deref())
            .ok()
            .flatten();
        let ids: Vec<String> = vault.accounts()?.into_iter().map(|a| a.id).collect();
        super::quota_cmds::refresh_stale(ctx, &mut vault, m.as_ref(), &ids, force)?;
    }
    let quotas = vault.quotas()?;
    let all = vault.accounts()?;
    let current = paths::default_codex_home()
        .ok()
        .and_then(|home| current_account_id(&all, &home));
    if json {
        #[derive(Serialize)]
        struct Out {
            accounts: Vec<AccountView>,
        }
        ctx.printer.json(&Out {
            accounts: all
                .iter()
                .map(|a| {
                    let mut v = AccountView::new(a, current.as_deref() == Some(&a.id));
                    v.quota = quotas.get(&a.id).cloned();
                    v
                })
                .collect(),
        });
        return Ok(Exit::Success);
    }
    if all.is_empty() {
        ctx.printer.status(
            "no accounts yet: `cdxs import auth`, `cdxs login oauth` or `cdxs account add-api-key --api-key-stdin`",
        );
        return Ok(Exit::Success);
    }
    let mut table = Table::new([
        "",
        "ID",
        "NAME",
        "KIND",
        "PLAN",
        "TOKEN",
        "5H LEFT",
        "WEEKLY LEFT",
        "STATUS",
    ]);
    for a in &all {
        let marker = if current.as_deref() == Some(&a.id) {
            "*"
        } else {
            ""
        };
        table.row([
            marker.to_string(),
            a.id.clone(),
            a.name().to_string(),
            a.kind.as_str().to_string(),
            a.plan_type.clone().unwrap_or_else(|| "-".into()),
            token_age(a, ctx.ts()),
            quota_cell(
                a,
                quotas.get(&a.id).and_then(|q| q.five_hour.as_ref()),
                ctx.ts(),
            ),
            quota_cell(
                a,
                quotas.get(&a.id).and_then(|q| q.weekly.as_ref()),
                ctx.ts(),
            ),
            status_word(&ctx.printer, a),
        ]);
    }
    ctx.printer.out(table.render());
    Ok(Exit::Success)
}

fn quota_cell(a: &Account, w: Option<&crate::quota::Window>, now: i64) -> String {
    match (a.kind, w) {
        (AccountKind::ApiKey, _) => "n/a".into(),
        (_, None) => "-".into(),
        (_, Some(_)) => super::quota_cmds::window_cell(w, now),
    }
}

fn status_word(p: &Printer, a: &Account) -> String {
    if a.requires_reauth {
        p.red("needs login")
    } else {
        p.green("ok")
    }
}

pub fn show(ctx: &Ctx, query: &str, json: bool) -> Result<Exit> {
    let vault = ctx.vault()?;
    let all = vault.accounts()?;
    let m = crate::manifest::optional(ctx.global.manifest.as_deref())
        .ok()
        .flatten();
    let account = &super::homes::resolve_vault_account(m.as_ref(), &vault, query)?;
    let current = paths::default_codex_home()
        .ok()
        .and_then(|home| current_account_id(&all, &home));
    print_account(ctx, account, current.as_deref() == Some(&account.id), json);
    Ok(Exit::Success)
}

fn print_account(ctx: &Ctx, a: &Account, current: bool, json: bool) {
    if json {
        #[derive(Serialize)]
        struct Out {
            account: AccountView,
        }
        ctx.printer.json(&Out {
            account: AccountView::new(a, current),
        });
        return;
    }
    let p = &ctx.printer;
    let dash = || "-".to_string();
    let mut rows: Vec<(&str, String)> = vec![
        ("id", a.id.clone()),
        ("name", a.name().to_string()),
        (
            "kind",
            match a.kind {
                AccountKind::OAuth => "oauth (ChatGPT login)".into(),
                AccountKind::ApiKey => "apikey".into(),
            },
        ),
    ];
    match a.kind {
        AccountKind::OAuth => {
            rows.push(("email", a.email.clone().unwrap_or_else(dash)));
            rows.push((
                "workspace",
                a.chatgpt_account_id.clone().unwrap_or_else(dash),
            ));
            rows.push((
                "organization",
                a.organization_id.clone().unwrap_or_else(dash),
            ));
            rows.push(("plan", a.plan_type.clone().unwrap_or_else(dash)));
            rows.push(("access token", token_age(a, ctx.ts())));
            rows.push((
                "last refresh",
                a.last_refresh
                    .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(dash),
            ));
            rows.push(("refresh token", a.secret_fingerprint().unwrap_or_else(dash)));
            rows.push((
                "needs login",
                if a.requires_reauth {
                    p.red("yes: run `cdxs login oauth`")
                } else {
                    "no".into()
                },
            ));
        }
        AccountKind::ApiKey => {
            rows.push(("key", a.secret_fingerprint().unwrap_or_else(dash)));
            rows.push((
                "base url",
                a.base_url.clone().unwrap_or_else(|| "(default)".into()),
            ));
        }
    }
    rows.push((
        "current",
        if current {
            "yes (default home)".into()
        } else {
            "no".into()
        },
    ));
    rows.push(("last used", rfc3339(a.last_used_at).unwrap_or_else(dash)));
    let width = rows.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    for (k, v) in rows {
        p.out(format!("{:width$}  {v}", format!("{k}:")));
    }
}

pub fn current(ctx: &Ctx, json: bool, codex_home: Option<PathBuf>) -> Result<Exit> {
    let home = match codex_home {
        Some(h) => paths::absolute(&h),
        None => paths::default_codex_home()?,
    };
    let vault = ctx.vault()?;
    let all = vault.accounts()?;
    let doc = auth::read(&home)?;
    let found = match &doc.state {
        AuthState::Credentials(creds) => match_credentials(&all, creds),
        _ => None,
    };
    if let Some(account) = found {
        print_account(ctx, account, true, json);
        return Ok(Exit::Success);
    }
    let why = match &doc.state {
        AuthState::Missing => "has no auth.json (not logged in)".to_string(),
        AuthState::Empty => "has an auth.json without credentials".to_string(),
        AuthState::Foreign { mode } => {
            format!("uses auth mode `{mode}`, which cdxs does not manage")
        }
        AuthState::Credentials(c) => format!("holds {}, which is not in the vault", c.describe()),
    };
    if json {
        #[derive(Serialize)]
        struct Out {
            account: Option<AccountView>,
            home: String,
            reason: String,
        }
        ctx.printer.json(&Out {
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

pub fn remove(ctx: &Ctx, query: &str, purge_backups: bool) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    let m = crate::manifest::optional(ctx.global.manifest.as_deref())
        .ok()
        .flatten();
    let account = super::homes::resolve_vault_account(m.as_ref(), &vault, query)?;
    if let Some(m) = &m {
        let bound: Vec<&str> = m
            .homes
            .values()
            .filter(|h| match &h.binding {
                Some(crate::manifest::Binding::Account(alias)) => m
                    .accounts
                    .get(alias)
                    .is_some_and(|r| super::homes::ref_names(r, &account)),
                _ => false,
            })
            .map(|h| h.name.as_str())
            .collect();
        if !bound.is_empty() {
            ctx.printer.warn(format!(
                "cdxs.yaml binds home(s) {} to this account: `cdxs plan` will fail until you bind another",
                bound.join(", ")
            ));
        }
    }
    vault.remove(&account.id)?;
    ctx.printer.status(format!(
        "removed {} ({}) from the vault; homes that use it keep their auth.json",
        account.name(),
        account.id
    ));
    offer_backup_purge(ctx, &mut vault, &account, purge_backups)?;
    Ok(Exit::Success)
}

/// Backups of replaced auth.json files may still hold a removed account's secrets: delete
/// them with `--purge-backups` (or when the person says yes on a terminal), else say how.
fn offer_backup_purge(
    ctx: &Ctx,
    vault: &mut crate::vault::Vault,
    account: &Account,
    purge: bool,
) -> Result<()> {
    let mut secrets: Vec<&str> = Vec::new();
    if let Some(k) = &account.api_key {
        secrets.push(k.expose());
    }
    if let Some(t) = &account.tokens {
        secrets.extend([
            t.id_token.expose(),
            t.access_token.expose(),
            t.refresh_token.expose(),
        ]);
    }
    let files = crate::backup::holding(vault.state_dir(), &secrets, &account.id);
    if files.is_empty() {
        return Ok(());
    }
    let n = files.len();
    let yes = purge
        || (stdin_is_terminal()
            && crate::output::confirm(
                &format!("{n} backup file(s) still hold this account's secrets. Delete them?"),
                "delete backups",
            )?);
    if !yes {
        ctx.printer.warn(format!(
            "{n} backup file(s) still hold this account's secrets (pass `--purge-backups` to delete them with the account); delete them by hand:{}",
            files
                .iter()
                .map(|f| format!("\n  {}", f.display()))
                .collect::<String>()
        ));
        return Ok(());
    }
    let done = crate::backup::prune(
        vault,
        "account remove: purge backups",
        &[],
        &files,
        ctx.ts(),
    )?;
    ctx.printer.status(format!(
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
    if key.is_empty() {
        return Err(Error::user("the API key is empty"));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(
            Error::user("the API key contains spaces or control characters")
                .with_help("pass exactly one key"),
        );
    }
    Ok(Secret::new(key))
}

pub fn add_api_key(
    ctx: &Ctx,
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
    let key = read_key(key, from_stdin, &ctx.printer)?;
    let mut vault = ctx.vault()?;
    let account = Account::api_key(key, base_url, "add-api-key", ctx.ts());
    let (outcome, stored) = vault.upsert(&account)?;
    let verb = match outcome {
        Upsert::Created => "added",
        _ => "already had",
    };
    ctx.printer
        .status(format!("{verb} {} ({})", stored.name(), stored.id));
    if switch {
        super::write_home::switch_default_home(ctx, &mut vault, &stored, "account add-api-key")?;
    }
    Ok(Exit::Success)
}
