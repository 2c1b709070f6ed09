//! `cdxs status`: one screen with homes, bound accounts, token freshness, drift.

use serde::Serialize;

use crate::manifest::{Binding, Manifest};
use crate::output::{Printer, Table};
use crate::reconcile::Plan;
use crate::reconcile::observe::{AuthObs, CredObs, Observed};

#[derive(Debug, Serialize)]
pub struct Row {
    pub home: String,
    pub path: String,
    /// What cdxs.yaml binds (alias or `pool NAME`), if anything.
    pub declared: Option<String>,
    /// What auth.json holds now.
    pub actual: String,
    /// Access token expiry, for ChatGPT logins.
    pub token: Option<String>,
    /// `ok`, `changes`, `drift`, `error`, `unmanaged`.
    pub state: String,
    pub quota: Option<QuotaCell>,
}

#[derive(Debug, Serialize, Clone, Copy)]
pub struct QuotaCell {
    pub five_hour: Option<f64>,
    pub weekly: Option<f64>,
}

pub fn rows(m: &Manifest, o: &Observed, plan: &Plan, now: i64) -> Vec<Row> {
    m.homes
        .values()
        .filter_map(|h| {
            let obs = o.homes.get(&h.name)?;
            let prefix = format!("home.{}.", h.name);
            let declared = h.binding.as_ref().map(|b| match b {
                Binding::Account(a) => a.clone(),
                Binding::Pool { pool, .. } => format!("pool {pool}"),
            });
            let (actual, token, account_id) = match &obs.auth {
                AuthObs::Missing if !obs.dir_exists => ("(no folder)".to_string(), None, None),
                AuthObs::Missing => ("(not logged in)".to_string(), None, None),
                AuthObs::Unreadable(e) => (format!("(unreadable: {e})"), None, None),
                AuthObs::Empty => ("(no credentials)".into(), None, None),
                AuthObs::Foreign(mode) => (format!("({mode})"), None, None),
                AuthObs::Credentials(c) => {
                    let id = c.account_id().map(str::to_string);
                    let name = id
                        .as_deref()
                        .and_then(|i| o.account(i))
                        .map(|a| a.name.clone());
                    match c {
                        CredObs::ApiKey {
                            key_fingerprint, ..
                        } => (
                            name.unwrap_or_else(|| format!("API key {key_fingerprint}")),
                            None,
                            id,
                        ),
                        CredObs::ChatGpt {
                            email, freshness, ..
                        } => (
                            name.or(email.clone())
                                .unwrap_or_else(|| "ChatGPT login".into()),
                            freshness.expires_at.map(|exp| {
                                if exp > now {
                                    format!(
                                        "expires in {}",
                                        super::accounts::human_duration(exp - now)
                                    )
                                } else {
                                    format!(
                                        "expired {} ago",
                                        super::accounts::human_duration(now - exp)
                                    )
                                }
                            }),
                            id,
                        ),
                    }
                }
            };
            let state = if plan.errors.iter().any(|e| e.address.starts_with(&prefix)) {
                "error"
            } else if plan.drift.iter().any(|d| d.address.starts_with(&prefix)) {
                "drift"
            } else if plan.actions.iter().any(|a| a.address.starts_with(&prefix)) {
                "changes"
            } else if h.binding.is_none() {
                "unmanaged"
            } else {
                "ok"
            };
            let quota = account_id
                .and_then(|id| o.quota.get(&id))
                .map(|q| QuotaCell {
                    five_hour: q.five_hour,
                    weekly: q.weekly,
                });
            Some(Row {
                home: h.name.clone(),
                path: crate::paths::display(&h.path),
                declared,
                actual,
                token,
                state: state.to_string(),
                quota,
            })
        })
        .collect()
}

fn quota_text(q: Option<QuotaCell>) -> String {
    let Some(q) = q else {
        return "-".into();
    };
    let cell = |v: Option<f64>| match v {
        Some(v) => format!("{} {:>3.0}%", crate::output::bar(v, 8), v),
        None => "n/a".into(),
    };
    format!("5h {}  wk {}", cell(q.five_hour), cell(q.weekly))
}

pub fn render(m: &Manifest, rows: &[Row], plan: &Plan, p: &Printer) -> String {
    let mut out = format!("manifest: {}\n\n", crate::paths::display(&m.path));
    let mut t = Table::new([
        "HOME", "PATH", "DECLARED", "ACTUAL", "TOKEN", "QUOTA", "STATE",
    ]);
    for r in rows {
        let state = match r.state.as_str() {
            "ok" => p.green(&r.state),
            "drift" | "error" => p.red(&r.state),
            "changes" => p.yellow(&r.state),
            _ => p.dim(&r.state),
        };
        t.row([
            r.home.clone(),
            r.path.clone(),
            r.declared.clone().unwrap_or_else(|| "-".into()),
            r.actual.clone(),
            r.token.clone().unwrap_or_else(|| "-".into()),
            quota_text(r.quota),
            state,
        ]);
    }
    out.push_str(&t.render());
    out.push('\n');
    if !plan.drift.is_empty() {
        out.push_str(&format!("\n{}\n", p.bold("Drift:")));
        for d in &plan.drift {
            out.push_str(&format!("  {}: {}\n", d.address, d.description));
        }
    }
    for e in &plan.errors {
        out.push_str(&format!(
            "\n{} {} ({})\n",
            p.red("Error:"),
            e.message,
            e.address
        ));
    }
    out.push_str(&format!(
        "\n{}",
        if plan.has_changes() {
            format!(
                "{} Run `cdxs plan` for details.",
                super::super::reconcile::render::summary_line(plan)
            )
        } else {
            "Everything matches cdxs.yaml.".to_string()
        }
    ));
    out
}
