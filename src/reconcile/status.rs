//! `status`: one row per declared home (what cdxs.yaml binds, what auth.json holds, token
//! freshness, quota, and a state), derived from an observation and its plan.

use serde::Serialize;

use super::Plan;
use super::observe::{AuthObs, CredObs, Observed};
use crate::manifest::{Binding, Manifest};

/// Where a home stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HomeState {
    /// It matches cdxs.yaml.
    Ok,
    /// apply would change it.
    Changes,
    /// Someone else changed a file cdxs wrote.
    Drift,
    /// plan cannot decide it (unknown account, unset variable).
    Error,
    /// No account is declared: cdxs leaves its auth.json alone.
    Unmanaged,
}

impl HomeState {
    pub fn as_str(self) -> &'static str {
        match self {
            HomeState::Ok => "ok",
            HomeState::Changes => "changes",
            HomeState::Drift => "drift",
            HomeState::Error => "error",
            HomeState::Unmanaged => "unmanaged",
        }
    }
}

/// What auth.json holds, for the person.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    pub home: String,
    pub path: String,
    /// What cdxs.yaml binds (alias or `pool NAME`), if anything.
    pub declared: Option<String>,
    /// What auth.json holds now.
    pub actual: String,
    /// Access token expiry (Unix time), for ChatGPT logins.
    pub expires_at: Option<i64>,
    pub state: HomeState,
    pub quota: Option<QuotaCell>,
    /// The settings Codex acts on there (credential store, login restrictions), each with
    /// the layer that set it.
    pub codex_settings: crate::codex::settings::Effective,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq)]
pub struct QuotaCell {
    pub five_hour: Option<f64>,
    pub weekly: Option<f64>,
    /// When the figures were fetched (Unix time).
    pub fetched_at: i64,
}

pub fn rows(m: &Manifest, o: &Observed, plan: &Plan) -> Vec<Row> {
    m.homes
        .values()
        .filter_map(|h| {
            let obs = o.homes.get(&h.name)?;
            let declared = h.binding.as_ref().map(|b| match b {
                Binding::Account(a) => a.clone(),
                Binding::Pool { pool, .. } => format!("pool {pool}"),
            });
            let (actual, expires_at, account_id) = match &obs.auth {
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
                            freshness.expires_at,
                            id,
                        ),
                    }
                }
            };
            let state = if plan.errors.iter().any(|e| e.address.in_home(&h.name)) {
                HomeState::Error
            } else if plan.drift.iter().any(|d| d.address.in_home(&h.name)) {
                HomeState::Drift
            } else if plan.actions.iter().any(|a| a.address.in_home(&h.name)) {
                HomeState::Changes
            } else if h.binding.is_none() {
                HomeState::Unmanaged
            } else {
                HomeState::Ok
            };
            let quota = account_id
                .and_then(|id| o.quota.get(&id))
                .map(|q| QuotaCell {
                    five_hour: q.five_hour,
                    weekly: q.weekly,
                    fetched_at: q.fetched_at,
                });
            Some(Row {
                home: h.name.clone(),
                path: crate::paths::display(&h.path),
                declared,
                actual,
                expires_at,
                state,
                quota,
                codex_settings: obs.config.settings.clone(),
            })
        })
        .collect()
}
