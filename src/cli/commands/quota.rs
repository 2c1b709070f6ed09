//! `quota` and `refresh-token`.

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::accounts::{QuotaList, QuotaRow};
use crate::output::views::outcome::{AccountRef, Outcome};
use crate::output::{sanitize, views};
use crate::resolve;
use crate::vault::AccountKind;

#[derive(Debug, Args)]
pub struct QuotaArgs {
    /// An account (alias, id, email or unique prefix) or a pool of cdxs.yaml (default: every
    /// account cdxs.yaml binds, else the default home's)
    #[arg(add = crate::complete::accounts_and_pools())]
    account: Option<String>,
    /// Every account in the vault
    #[arg(long, conflicts_with = "account")]
    all: bool,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// Alias, id, email or unique email prefix
    #[arg(add = crate::complete::accounts())]
    account: String,
}

pub fn quota(sh: &mut Shell, args: QuotaArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let now = sh.now();
    let mut bar = sh.progress("quota");
    let engine = sh.engine()?;
    let all = engine.vault().accounts()?;
    let targets =
        crate::account_use::quota_targets(m.as_ref(), &all, args.account.as_deref(), args.all)?;
    if targets.is_empty() {
        return Err(Error::user("no ChatGPT account in the vault")
            .with_help("log in with `cdxs login oauth`"));
    }
    let mut rows = Vec::new();
    let mut failures = 0;
    for a in &targets {
        let (q, error) = match engine.fetch_quota(m.as_ref(), &a.id, true, &mut bar)? {
            Ok(q) => (Some(q), None),
            Err(e) if a.kind == AccountKind::ApiKey => (None, Some(e.to_string())),
            Err(e) => {
                failures += 1;
                (engine.vault().quota(&a.id)?, Some(e.to_string()))
            }
        };
        let a = engine.vault().account(&a.id)?.unwrap_or_else(|| a.clone());
        rows.push(QuotaRow {
            id: a.id.clone(),
            name: a.name().to_string(),
            alias: m.as_ref().and_then(|m| resolve::alias_of(m, &a)),
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
    let total = rows.len();
    sh.printer.emit(&QuotaList { quota: rows, now });
    if failures > 0 && sh.printer.json {
        return Ok(Exit::Error); // each row says why (`error`)
    }
    if failures > 0 {
        return Err(Error::user(format!(
            "quota could not be fetched for {failures} of {total} account(s); the others are shown (with cached figures where there are some)"
        )));
    }
    Ok(Exit::Success)
}

pub fn refresh_token(sh: &mut Shell, args: RefreshArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases()?;
    let mut bar = sh.progress("refresh");
    let engine = sh.engine()?;
    let all = engine.vault().accounts()?;
    let a = resolve::account(m.as_ref(), &all, &args.account)?;
    let report = engine.refresh(m.as_ref(), &a.id, true, "refresh-token", &mut bar)?;
    let message = report
        .done
        .first()
        .map(|d| d.message.clone())
        .unwrap_or_else(|| format!("refreshed {}", a.name()));
    for part in message.split("; ") {
        sh.printer.status(sanitize(part));
    }
    views::report::done_backups(&sh.printer, &report);
    let o = Outcome::new("refresh-token").report(&report);
    sh.outcome(o.with("account", AccountRef::from(&a)));
    Ok(Exit::Success)
}
