//! `quota`, `refresh-token`, the quota refresh behind `list` and `plan`, and `switch`
//! without an account (the login with the most quota left).

use std::path::PathBuf;

use serde::Serialize;

use super::Ctx;
use super::homes::{Named, bind_named, resolve_vault_account};
use crate::auth::refresh::{self, Outcome, Refreshed};
use crate::backup::Backups;
use crate::error::{Error, Exit, Result};
use crate::manifest::{Binding, Manifest};
use crate::output::{Table, bar};
use crate::quota::{self, FetchError, Quota, Window};
use crate::reconcile::locks;
use crate::vault::{Account, AccountKind, Vault};

/// Refresh one login under the vault lock, journaling the homes it rewrote.
pub fn refresh_journaled(
    ctx: &Ctx,
    vault: &mut Vault,
    m: Option<&Manifest>,
    account_id: &str,
    force: bool,
    command: &str,
) -> Result<Outcome> {
    let state_dir = ctx.state_dir()?;
    let _lock = locks::vault(&state_dir, &format!("cdxs {command}"))?;
    vault.mark_interrupted(ctx.ts())?;
    let homes = refresh::known_homes(m);
    let mut backups = Backups::new(&state_dir, "refresh");
    let outcome = refresh::refresh_locked(vault, &mut backups, &homes, account_id, force, ctx.clock.as_ref())?;
    if !outcome.written.is_empty() {
        let actions: Vec<(String, String, String)> = outcome
            .written
            .iter()
            .map(|(f, _)| {
                (
                    f.display().to_string(),
                    "update".into(),
                    "write refreshed tokens".into(),
                )
            })
            .collect();
        let generation = vault.begin_generation(command, None, None, &actions, ctx.ts())?;
        for (seq, w) in outcome.written.iter().enumerate() {
            vault.record_auth_writes(
                generation,
                seq,
                std::slice::from_ref(w),
                account_id,
                ctx.ts(),
            )?;
            vault.finish_action(generation, seq, None)?;
        }
        vault.finish_generation(generation, true, None, ctx.ts())?;
    }
    Ok(outcome)
}

/// Fetch and cache one account's quota (refreshing its token first when needed).
pub fn fetch_quota(
    ctx: &Ctx,
    vault: &mut Vault,
    m: Option<&Manifest>,
    account: &Account,
) -> Result<Quota> {
    if account.kind == AccountKind::ApiKey {
        return Err(Error::user("API keys have no ChatGPT quota"));
    }
    if account.requires_reauth {
        return Err(Error::user("needs a new login (`cdxs login oauth`)"));
    }
    if refresh::expiring(account, ctx.ts()) {
        refresh_journaled(ctx, vault, m, &account.id, false, "quota")?;
    }
    let current = vault
        .account(&account.id)?
        .unwrap_or_else(|| account.clone());
    let token = current
        .tokens
        .as_ref()
        .map(|t| t.access_token.clone())
        .ok_or_else(|| Error::user("no access token stored"))?;
    let q = match quota::fetch(&token, current.chatgpt_account_id.as_deref(), ctx.ts()) {
        Ok(q) => q,
        Err(FetchError::Unauthorized) => {
            // The access token was revoked early: one forced refresh, then one more try.
            refresh_journaled(ctx, vault, m, &account.id, true, "quota")?;
            let again = vault.account(&account.id)?.ok_or_else(|| {
                Error::user(format!(
                    "{} was removed from the vault meanwhile",
                    account.name()
                ))
            })?;
            let token = again
                .tokens
                .as_ref()
                .map(|t| t.access_token.clone())
                .ok_or_else(|| Error::user("no access token after the refresh"))?;
            quota::fetch(&token, again.chatgpt_account_id.as_deref(), ctx.ts()).map_err(
                |e| match e {
                    FetchError::Unauthorized => {
                        Error::user("the usage endpoint refused the refreshed token")
                    }
                    FetchError::Other(s) => Error::user(s),
                },
            )?
        }
        Err(FetchError::Other(s)) => return Err(Error::user(s)),
    };
    vault.set_quota(&account.id, &q)?;
    Ok(q)
}

/// Refresh cached quota of `ids` that is older than 5 minutes (or all, `force`); failures
/// are warned about, not fatal (the cache is used).
pub fn refresh_stale(
    ctx: &Ctx,
    vault: &mut Vault,
    m: Option<&Manifest>,
    ids: &[String],
    force: bool,
) -> Result<()> {
    let cached = vault.quotas()?;
    for id in ids {
        let Some(account) = vault.account(id)? else {
            continue;
        };
        if account.kind != AccountKind::OAuth || account.requires_reauth {
            continue;
        }
        let fresh = cached
            .get(id)
            .is_some_and(|q| ctx.ts() - q.fetched_at < quota::STALE_AFTER_SECS);
        if fresh && !force {
            continue;
        }
        if let Err(e) = fetch_quota(ctx, vault, m, &account) {
            ctx.printer.warn(format!(
                "quota of {}: {e} (using the cached figures)",
                account.name()
            ));
        }
    }
    Ok(())
}

/// Pool members whose quota plan needs.
/// Members of the pools that `homes` (all when `None`) draw from.
pub fn pool_accounts(m: &Manifest, vault: &Vault, homes: Option<&[String]>) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    for home in m
        .homes
        .values()
        .filter(|h| homes.is_none_or(|only| only.contains(&h.name)))
    {
        if let Some(Binding::Pool { pool, .. }) = &home.binding {
            for alias in m.pools.get(pool).into_iter().flatten() {
                if let Ok(a) = resolve_vault_account(Some(m), vault, alias)
                    && !ids.contains(&a.id)
                {
                    ids.push(a.id);
                }
            }
        }
    }
    Ok(ids)
}

#[derive(Debug, Serialize)]
pub struct QuotaRow {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub plan_type: Option<String>,
    pub five_hour: Option<Window>,
    pub weekly: Option<Window>,
    pub fetched_at: Option<i64>,
    /// False for API keys: they have no ChatGPT quota.
    pub supported: bool,
    pub error: Option<String>,
}

pub fn window_cell(w: Option<&Window>, now: i64) -> String {
    match w {
        None => "n/a".into(),
        Some(w) => {
            let reset = w
                .resets_at
                .map(|t| format!(" {}", super::accounts::human_duration(t - now)))
                .unwrap_or_default();
            format!(
                "{} {:>3.0}%{reset}",
                bar(w.remaining_percent, 10),
                w.remaining_percent
            )
        }
    }
}

pub fn quota(ctx: &Ctx, account: Option<String>, all: bool, json: bool) -> Result<Exit> {
    let m = crate::manifest::optional(ctx.global.manifest.as_deref())?;
    let mut vault = ctx.vault()?;
    let targets: Vec<Account> = if all {
        vault.accounts()?
    } else if let Some(q) = account {
        vec![resolve_vault_account(m.as_ref(), &vault, &q)?]
    } else {
        let home = crate::paths::default_codex_home()?;
        let all = vault.accounts()?;
        let current = crate::codex::auth::read(&home)
            .ok()
            .and_then(|d| match d.state {
                crate::codex::auth::AuthState::Credentials(c) => {
                    crate::vault::accounts::match_credentials(&all, &c).cloned()
                }
                _ => None,
            });
        match current.or_else(|| all.iter().find(|a| a.kind == AccountKind::OAuth).cloned()) {
            Some(a) => vec![a],
            None => {
                return Err(Error::user("no ChatGPT account in the vault")
                    .with_help("log in with `cdxs login oauth`"));
            }
        }
    };
    let mut rows = Vec::new();
    let mut failures = 0;
    for a in &targets {
        let (q, error) = match fetch_quota(ctx, &mut vault, m.as_ref(), a) {
            Ok(q) => (Some(q), None),
            Err(e) if a.kind == AccountKind::ApiKey => (None, Some(e.to_string())),
            Err(e) => {
                failures += 1;
                (vault.quota(&a.id)?, Some(e.to_string()))
            }
        };
        let a = vault.account(&a.id)?.unwrap_or_else(|| a.clone());
        rows.push(QuotaRow {
            id: a.id.clone(),
            name: a.name().to_string(),
            kind: a.kind,
            plan_type: q
                .as_ref()
                .and_then(|q| q.plan_type.clone())
                .or(a.plan_type.clone()),
            five_hour: q.as_ref().and_then(|q| q.five_hour),
            weekly: q.as_ref().and_then(|q| q.weekly),
            fetched_at: q.as_ref().map(|q| q.fetched_at),
            supported: a.kind == AccountKind::OAuth,
            error,
        });
    }
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            quota: &'a [QuotaRow],
        }
        ctx.printer.json(&Out { quota: &rows });
    } else {
        let mut t = Table::new(["ACCOUNT", "PLAN", "5H LEFT", "WEEKLY LEFT", "STATUS"]);
        for r in &rows {
            t.row([
                r.name.clone(),
                r.plan_type.clone().unwrap_or_else(|| "-".into()),
                window_cell(r.five_hour.as_ref(), ctx.ts()),
                window_cell(r.weekly.as_ref(), ctx.ts()),
                match (&r.error, r.supported) {
                    (Some(_), false) => ctx.printer.dim("n/a: API key"),
                    (Some(e), true) => ctx.printer.red(e),
                    (None, _) => ctx.printer.green("ok"),
                },
            ]);
        }
        ctx.printer.out(t.render());
    }
    if failures > 0 {
        return Err(Error::user(format!(
            "quota could not be fetched for {failures} of {} account(s); the others are shown",
            rows.len()
        )));
    }
    Ok(Exit::Success)
}

pub fn refresh_token(ctx: &Ctx, account: &str) -> Result<Exit> {
    let m = crate::manifest::optional(ctx.global.manifest.as_deref())?;
    let mut vault = ctx.vault()?;
    let a = resolve_vault_account(m.as_ref(), &vault, account)?;
    let outcome = refresh_journaled(ctx, &mut vault, m.as_ref(), &a.id, true, "refresh-token")?;
    let msg = match outcome.result {
        Refreshed::Refreshed => format!("refreshed {}", a.name()),
        Refreshed::TookNewer => format!(
            "a home held newer tokens of {}; the vault took them",
            a.name()
        ),
        Refreshed::NotNeeded => format!("{}'s tokens are fresh", a.name()),
    };
    ctx.printer.status(msg);
    for (file, _) in &outcome.written {
        ctx.printer.status(format!(
            "  wrote the new tokens into `{}`",
            crate::paths::display(file)
        ));
    }
    Ok(Exit::Success)
}

/// `switch` without an account: the usable login with the most quota left that no other
/// home uses.
pub fn switch_auto(
    ctx: &Ctx,
    m: Option<&Manifest>,
    vault: &mut Vault,
    home: Option<String>,
    codex_home: Option<PathBuf>,
) -> Result<Exit> {
    let all = vault.accounts()?;
    // Logins bound to other homes are not candidates (one login, one home).
    let target_home = home.clone().unwrap_or_else(|| "default".into());
    let mut taken: Vec<String> = Vec::new();
    if let Some(m) = m {
        for h in m.homes.values().filter(|h| h.name != target_home) {
            if let Some(Binding::Account(alias)) = &h.binding
                && let Ok(a) = resolve_vault_account(Some(m), vault, alias)
            {
                taken.push(a.id);
            }
        }
    }
    let candidates: Vec<&Account> = all
        .iter()
        .filter(|a| a.kind == AccountKind::OAuth && !a.requires_reauth && a.tokens.is_some())
        .filter(|a| !taken.contains(&a.id))
        .collect();
    if candidates.is_empty() {
        return Err(
            Error::user("no ChatGPT login is free to switch to").with_help(
                "log in with `cdxs login oauth`, or name an account: `cdxs switch ACCOUNT`",
            ),
        );
    }
    let ids: Vec<String> = candidates.iter().map(|a| a.id.clone()).collect();
    refresh_stale(ctx, vault, m, &ids, false)?;
    let quotas = vault.quotas()?;
    let best = candidates
        .iter()
        .max_by(|a, b| {
            let r = |x: &Account| quotas.get(&x.id).and_then(Quota::remaining).unwrap_or(-1.0);
            r(a).total_cmp(&r(b))
        })
        .expect("non-empty");
    let left = quotas
        .get(&best.id)
        .and_then(Quota::remaining)
        .map(|r| format!("{r:.0}% left"))
        .unwrap_or_else(|| "quota unknown".into());
    ctx.printer
        .status(format!("best quota: {} ({left})", best.name()));
    let named = Named::Account(Box::new((*best).clone()), None);
    let named = match (m, named) {
        (Some(m), Named::Account(a, _)) => {
            let alias = m
                .accounts
                .iter()
                .find(|(_, r)| super::homes::ref_names(r, &a))
                .map(|(alias, _)| alias.clone());
            Named::Account(a, alias)
        }
        (_, n) => n,
    };
    bind_named(ctx, m.cloned(), vault, named, home, codex_home)
}
