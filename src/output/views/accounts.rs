//! Accounts for people and scripts: the listing (`list`, `show`, `account list`), one
//! account (`account show`, `account current`) and quota (`quota`). Never a secret: keys
//! and refresh tokens show as a fingerprint.

use serde::Serialize;

use super::View;
use crate::codex::config;
use crate::output::format::{expiry, rfc3339, window};
use crate::output::{Printer, Table, sanitize};
use crate::quota::{Quota, Window};
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

fn quota_cell(a: &AccountView, w: Option<&Window>, now: i64) -> String {
    match (a.kind, w) {
        (AccountKind::ApiKey, _) => "n/a".into(),
        (_, None) => "-".into(),
        (_, Some(_)) => window(w, now),
    }
}

impl View for AccountList {
    fn human(&self, p: &Printer) -> String {
        if self.accounts.is_empty() {
            return String::new();
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
        for a in &self.accounts {
            table.row([
                if a.current { "*" } else { "" }.to_string(),
                a.id.clone(),
                sanitize(&a.name).into_owned(),
                a.kind.as_str().to_string(),
                a.plan_type.clone().unwrap_or_else(|| "-".into()),
                a.token(self.now),
                quota_cell(
                    a,
                    a.quota.as_ref().and_then(|q| q.five_hour.as_ref()),
                    self.now,
                ),
                quota_cell(
                    a,
                    a.quota.as_ref().and_then(|q| q.weekly.as_ref()),
                    self.now,
                ),
                if a.requires_reauth {
                    p.red("needs login")
                } else {
                    p.green("ok")
                },
            ]);
        }
        table.render()
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

impl View for QuotaList {
    fn human(&self, p: &Printer) -> String {
        let mut t = Table::new(["ACCOUNT", "PLAN", "5H LEFT", "WEEKLY LEFT", "STATUS"]);
        for r in &self.quota {
            t.row([
                sanitize(&r.name).into_owned(),
                r.plan_type.clone().unwrap_or_else(|| "-".into()),
                window(r.five_hour.as_ref(), self.now),
                window(r.weekly.as_ref(), self.now),
                match (&r.error, r.supported) {
                    (Some(_), false) => p.dim("n/a: API key"),
                    (Some(e), true) => p.red(&sanitize(e)),
                    (None, _) => p.green("ok"),
                },
            ]);
        }
        t.render()
    }
}
