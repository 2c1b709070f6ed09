//! Accounts for people and scripts: the listing (`list`, `show`, `account list`), one
//! account (`account show`, `account current`) and quota (`quota`). Never a secret: keys
//! and refresh tokens show as a fingerprint.

use serde::Serialize;

use super::View;
use crate::codex::config;
use crate::output::format::{self, expiry, rfc3339, window};
use crate::output::{Col, Printer, Table, sanitize};
use crate::quota::{Quota, Window};
use crate::vault::{Account, AccountKind};

/// One account as `--json` shows it: identity and state, never a secret.
#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: String,
    pub kind: AccountKind,
    pub name: String,
    /// The alias cdxs.yaml gives it (what a person types), if any.
    pub alias: Option<String>,
    /// Where cdxs.yaml binds it: home names, and `HOME (pool P)` for pools it is in.
    pub homes: Vec<String>,
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
    pub quota: Option<Quota>,
    #[serde(skip)]
    access_expires: Option<i64>,
}

impl AccountView {
    pub fn new(a: &Account, current: bool, quota: Option<Quota>) -> Self {
        AccountView {
            id: a.id.clone(),
            kind: a.kind,
            name: a.name().to_string(),
            alias: None,
            homes: Vec::new(),
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
            quota,
            access_expires: a.access_expires_at,
        }
    }

    /// With its alias and bindings in `m`.
    pub fn in_manifest(mut self, m: Option<&crate::manifest::Manifest>, a: &Account) -> Self {
        if let Some(m) = m {
            self.alias = crate::resolve::alias_of(m, a);
            self.homes = crate::resolve::bound_where(m, a);
        }
        self
    }

    /// The smallest share of quota left (0 when the limit is reached), if known.
    pub fn remaining(&self) -> Option<f64> {
        self.quota.as_ref().and_then(Quota::remaining)
    }

    /// One word for the person (coloured by level), and the cache's age when the figures
    /// are older than what `list` keeps.
    pub fn state(&self, p: &Printer, now: i64) -> String {
        let word = if self.requires_reauth {
            p.red("needs login")
        } else if self.kind == AccountKind::ApiKey {
            p.green("ok")
        } else {
            match self.remaining() {
                None => p.dim("quota unknown"),
                Some(r) if r <= 0.0 => p.red("exhausted"),
                Some(r) if r < format::VERY_LOW => p.red("very low"),
                Some(r) if r < format::LOW => p.yellow("low"),
                Some(_) => p.green("ok"),
            }
        };
        match self
            .quota
            .as_ref()
            .and_then(|q| format::cached(q.fetched_at, now))
        {
            Some(age) if self.kind == AccountKind::OAuth => format!("{word}, {}", p.yellow(&age)),
            _ => word,
        }
    }

    /// What a person calls it here: the alias, else the email or label.
    pub fn shown_name(&self) -> String {
        sanitize(self.alias.as_deref().unwrap_or(&self.name)).into_owned()
    }

    fn token(&self, now: i64) -> String {
        match self.kind {
            AccountKind::ApiKey => "-".into(),
            AccountKind::OAuth => expiry(self.access_expires, now),
        }
    }
}

/// `list`, `show`, `account list`.
#[derive(Debug, Serialize)]
pub struct AccountList {
    pub accounts: Vec<AccountView>,
    #[serde(skip)]
    pub now: i64,
}

fn quota_cell(p: &Printer, a: &AccountView, w: Option<&Window>, now: i64, cells: usize) -> String {
    match (a.kind, w) {
        (AccountKind::ApiKey, _) => "n/a".into(),
        (_, None) => "-".into(),
        (_, Some(_)) => window(p, w, now, cells),
    }
}

/// The marks a quota table shows, explained (only those it shows).
fn quota_legend(p: &Printer, current: bool, resets: bool) -> String {
    let mut marks = Vec::new();
    if current {
        marks.push(("*", "the default Codex home uses it"));
    }
    if resets {
        marks.push(("↻", "time until the window resets"));
    }
    format::legend(p, &marks)
}

impl AccountList {
    fn table(&self, p: &Printer, cells: usize) -> Table {
        let aliases = self.accounts.iter().any(|a| a.alias.is_some());
        let bound = self.accounts.iter().any(|a| !a.homes.is_empty());
        let mut cols = vec![Col::new("", 0)];
        if aliases {
            cols.push(Col::new("ALIAS", 1).shrink(8));
        }
        cols.extend([
            Col::new(if aliases { "EMAIL / NAME" } else { "NAME" }, 0).shrink(16),
            Col::new("ID", 6),
            Col::new("KIND", 5),
            Col::new("PLAN", 3),
        ]);
        if bound {
            cols.push(Col::new("HOMES", 4).shrink(8));
        }
        cols.extend([
            Col::new("TOKEN", 4),
            Col::new("5H LEFT", 2),
            Col::new("WEEKLY LEFT", 2),
            Col::new("STATUS", 0).shrink(8),
        ]);
        let mut table = Table::with(cols);
        for a in &self.accounts {
            let q = a.quota.as_ref();
            let mut row = vec![if a.current { "*" } else { "" }.to_string()];
            if aliases {
                row.push(
                    a.alias
                        .as_deref()
                        .map(sanitize)
                        .unwrap_or_default()
                        .into_owned(),
                );
            }
            row.extend([
                sanitize(&a.name).into_owned(),
                a.id.clone(),
                a.kind.as_str().to_string(),
                a.plan_type.clone().unwrap_or_else(|| "-".into()),
            ]);
            if bound {
                row.push(a.homes.join(", "));
            }
            row.extend([
                a.token(self.now),
                quota_cell(p, a, q.and_then(|q| q.five_hour.as_ref()), self.now, cells),
                quota_cell(p, a, q.and_then(|q| q.weekly.as_ref()), self.now, cells),
                a.state(p, self.now),
            ]);
            table.row(row);
        }
        table
    }
}

impl AccountList {
    /// Every account of the vault with its cached quota, `current` marked, with aliases and
    /// bindings from `m`.
    pub fn of(
        all: &[Account],
        quotas: &std::collections::BTreeMap<String, Quota>,
        current: Option<&str>,
        m: Option<&crate::manifest::Manifest>,
        now: i64,
    ) -> AccountList {
        let view = |a: &Account| {
            AccountView::new(
                a,
                current == Some(a.id.as_str()),
                quotas.get(&a.id).cloned(),
            )
            .in_manifest(m, a)
        };
        AccountList {
            accounts: all.iter().map(view).collect(),
            now,
        }
    }

    /// The accounts as rows to pick from (`switch` on a terminal): `*` on the one the home
    /// uses now, alias and email, plan, both windows with bars, where cdxs.yaml binds each,
    /// and its state; a header row first, every row fit to `width`.
    pub fn picker_rows(&self, p: &Printer, width: Option<usize>) -> (String, Vec<String>) {
        let mut t = Table::with(vec![
            Col::new("", 0),
            Col::new("ACCOUNT", 0).shrink(16),
            Col::new("PLAN", 3),
            Col::new("5H LEFT", 1),
            Col::new("WEEKLY LEFT", 2),
            Col::new("BOUND TO", 4).shrink(8),
            Col::new("STATUS", 0).shrink(8),
        ]);
        for a in &self.accounts {
            let q = a.quota.as_ref();
            let name = match &a.alias {
                Some(alias) => format!("{} ({})", sanitize(alias), sanitize(&a.name)),
                None => sanitize(&a.name).into_owned(),
            };
            t.row([
                if a.current { "*" } else { "" }.to_string(),
                name,
                a.plan_type.clone().unwrap_or_else(|| "-".into()),
                quota_cell(p, a, q.and_then(|q| q.five_hour.as_ref()), self.now, 5),
                quota_cell(p, a, q.and_then(|q| q.weekly.as_ref()), self.now, 5),
                if a.homes.is_empty() {
                    "-".into()
                } else {
                    a.homes.join(", ")
                },
                a.state(p, self.now),
            ]);
        }
        let text = t.render_in(width);
        let mut lines = text.lines().map(str::to_string);
        let header = lines.next().unwrap_or_default();
        (header, lines.collect())
    }
}

impl View for AccountList {
    fn human(&self, p: &Printer) -> String {
        if self.accounts.is_empty() {
            return String::new();
        }
        // Ten-cell bars when they fit beside everything but the id and the kind; five
        // otherwise (columns go before a bar is cut).
        let width = p.width();
        let table = [10, 5]
            .into_iter()
            .map(|cells| self.table(p, cells))
            .find(|t| t.fits(width, 5))
            .unwrap_or_else(|| self.table(p, 5));
        let resets = self.accounts.iter().any(|a| {
            a.kind == AccountKind::OAuth
                && a.quota.as_ref().is_some_and(|q| {
                    [q.five_hour, q.weekly]
                        .iter()
                        .any(|w| w.is_some_and(|w| w.resets_at.is_some()))
                })
        });
        table.render_in(width) + &quota_legend(p, self.accounts.iter().any(|a| a.current), resets)
    }
}

/// `account show`, `account current`.
#[derive(Debug, Serialize)]
pub struct AccountShow {
    pub account: AccountView,
    #[serde(skip)]
    pub base_url_raw: Option<String>,
    #[serde(skip)]
    pub now: i64,
}

impl AccountShow {
    pub fn of(account: AccountView, a: &Account, now: i64) -> AccountShow {
        AccountShow {
            account,
            base_url_raw: a.base_url.clone(),
            now,
        }
    }
}

impl View for AccountShow {
    fn human(&self, p: &Printer) -> String {
        let a = &self.account;
        let dash = || "-".to_string();
        let mut rows: Vec<(&str, String)> = vec![
            ("id", a.id.clone()),
            ("name", sanitize(&a.name).into_owned()),
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
                rows.push((
                    "email",
                    a.email
                        .as_deref()
                        .map(|e| sanitize(e).into_owned())
                        .unwrap_or_else(dash),
                ));
                rows.push(("workspace", a.workspace.clone().unwrap_or_else(dash)));
                rows.push((
                    "organization",
                    a.organization_id.clone().unwrap_or_else(dash),
                ));
                rows.push(("plan", a.plan_type.clone().unwrap_or_else(dash)));
                rows.push(("access token", a.token(self.now)));
                rows.push(("last refresh", a.last_refresh.clone().unwrap_or_else(dash)));
                rows.push((
                    "refresh token",
                    a.secret_fingerprint.clone().unwrap_or_else(dash),
                ));
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
                rows.push(("key", a.secret_fingerprint.clone().unwrap_or_else(dash)));
                rows.push((
                    "base url",
                    a.base_url.clone().unwrap_or_else(|| "(default)".into()),
                ));
            }
        }
        rows.push((
            "current",
            if a.current {
                "yes (default home)".into()
            } else {
                "no".into()
            },
        ));
        rows.push(("last used", a.last_used_at.clone().unwrap_or_else(dash)));
        let width = rows.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
        rows.into_iter()
            .map(|(k, v)| format!("{:width$}  {v}\n", format!("{k}:")))
            .collect()
    }
}

/// One row of `quota`.
#[derive(Debug, Serialize)]
pub struct QuotaRow {
    pub id: String,
    pub name: String,
    /// The alias cdxs.yaml gives it, if any.
    pub alias: Option<String>,
    pub kind: AccountKind,
    pub plan_type: Option<String>,
    pub five_hour: Option<Window>,
    pub weekly: Option<Window>,
    pub fetched_at: Option<i64>,
    /// False for API keys: they have no ChatGPT quota.
    pub supported: bool,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct QuotaList {
    pub quota: Vec<QuotaRow>,
    #[serde(skip)]
    pub now: i64,
}

impl QuotaList {
    fn table(&self, p: &Printer, cells: usize) -> Table {
        let aliases = self.quota.iter().any(|r| r.alias.is_some());
        let mut cols = Vec::new();
        if aliases {
            cols.push(Col::new("ALIAS", 1).shrink(8));
        }
        cols.extend([
            Col::new("ACCOUNT", 0).shrink(16),
            Col::new("PLAN", 3),
            Col::new("5H LEFT", 2),
            Col::new("WEEKLY LEFT", 2),
            Col::new("STATUS", 0).shrink(12),
        ]);
        let mut t = Table::with(cols);
        for r in &self.quota {
            let cached = r.fetched_at.and_then(|f| format::cached(f, self.now));
            let left = [r.five_hour, r.weekly]
                .iter()
                .flatten()
                .map(|w| w.remaining_percent)
                .reduce(f64::min);
            let status = match (&r.error, r.supported, left) {
                (_, false, _) => p.dim("n/a: API key"),
                (Some(e), true, _) => p.red(&sanitize(e)),
                (None, _, Some(l)) if l < format::VERY_LOW => p.red("very low"),
                (None, _, Some(l)) if l < format::LOW => p.yellow("low"),
                (None, _, _) => p.green("ok"),
            };
            let status = match cached {
                Some(age) if r.supported => format!("{}, {status}", p.yellow(&age)),
                _ => status,
            };
            let mut row = Vec::new();
            if aliases {
                row.push(
                    r.alias
                        .as_deref()
                        .map(sanitize)
                        .unwrap_or_default()
                        .into_owned(),
                );
            }
            row.extend([
                sanitize(&r.name).into_owned(),
                r.plan_type.clone().unwrap_or_else(|| "-".into()),
                window(p, r.five_hour.as_ref(), self.now, cells),
                window(p, r.weekly.as_ref(), self.now, cells),
                status,
            ]);
            t.row(row);
        }
        t
    }
}

impl View for QuotaList {
    fn human(&self, p: &Printer) -> String {
        let width = p.width();
        let table = [10, 5]
            .into_iter()
            .map(|cells| self.table(p, cells))
            .find(|t| t.fits(width, 3))
            .unwrap_or_else(|| self.table(p, 5));
        let resets = self.quota.iter().any(|r| {
            [r.five_hour, r.weekly]
                .iter()
                .any(|w| w.is_some_and(|w| w.resets_at.is_some()))
        });
        table.render_in(width) + &quota_legend(p, false, resets)
    }
}

/// What `login oauth` says it did: the login, its id and plan.
pub fn logged_in(outcome: &crate::vault::accounts::Upsert, a: &Account) -> String {
    let verb = match outcome {
        crate::vault::accounts::Upsert::Created => "logged in as",
        _ => "logged in again as",
    };
    let plan = a.plan_type.as_deref().map(|p| format!(", {}", sanitize(p)));
    format!(
        "{verb} {} ({}{})",
        sanitize(a.name()),
        a.id,
        plan.unwrap_or_default()
    )
}

/// The next step after `login oauth`: where the new login goes from here.
pub fn after_login(m: Option<&crate::manifest::Manifest>, a: &Account, switched: bool) -> String {
    let name = sanitize(a.name()).into_owned();
    let homes = m
        .map(|m| crate::resolve::bound_where(m, a))
        .unwrap_or_default();
    if switched {
        return format!(
            "next: `codex` in `~/.codex` now uses {name}; `cdxs status` shows every home"
        );
    }
    if !homes.is_empty() {
        return format!(
            "next: `cdxs apply` writes the new login into the home(s) that use it: {}",
            homes.join(", ")
        );
    }
    format!(
        "next: `cdxs switch {name}` makes `~/.codex` use it, or `cdxs home bind HOME {name}` binds a home of cdxs.yaml to it; then `cdxs run --account {name} -- codex` (or `--home HOME`)"
    )
}
