//! How plan describes accounts and auth.json contents in diffs: names, plans, quota, key
//! fingerprints, never a secret.

use super::super::observe::{AccountObs, AuthObs, CredObs, Observed};
use crate::reconcile::ChangeValue;
use crate::vault::AccountKind;

/// "me@x.io (plus, 5h 80% / wk 60% left)".
pub(super) fn describe_account(a: &AccountObs, o: &Observed) -> String {
    let mut extra = Vec::new();
    if let Some(p) = &a.plan_type {
        extra.push(p.clone());
    }
    if let Some(q) = o.quota.get(&a.id) {
        let pct = |v: Option<f64>| v.map(|v| format!("{v:.0}%")).unwrap_or_else(|| "?".into());
        extra.push(format!(
            "5h {} / wk {} left",
            pct(q.five_hour),
            pct(q.weekly)
        ));
    }
    if a.kind == AccountKind::ApiKey {
        extra.push(format!(
            "key {}",
            a.secret_fingerprint.as_deref().unwrap_or("?")
        ));
    }
    if extra.is_empty() {
        a.name.clone()
    } else {
        format!("{} ({})", a.name, extra.join(", "))
    }
}

pub(super) fn describe_auth(auth: &AuthObs, o: &Observed) -> Option<String> {
    Some(match auth {
        AuthObs::Missing => return None,
        AuthObs::Unreadable(e) => format!("an unreadable auth.json ({e})"),
        AuthObs::Empty => "no credentials".into(),
        AuthObs::Foreign(mode) => format!("auth mode `{mode}` (not managed by cdxs)"),
        AuthObs::Credentials(c) => match c.account_id().and_then(|id| o.account(id)) {
            Some(a) => describe_account(a, o),
            None => match c {
                CredObs::ApiKey {
                    key_fingerprint, ..
                } => format!("API key {key_fingerprint} (not in the vault)"),
                CredObs::ChatGpt {
                    email, plan_type, ..
                } => format!(
                    "{}{} (not in the vault)",
                    email.as_deref().unwrap_or("a ChatGPT login"),
                    plan_type
                        .as_deref()
                        .map(|p| format!(", {p}"))
                        .unwrap_or_default()
                ),
            },
        },
    })
}

/// A vault account as a typed change value (`alias`: the name the plan gives it).
pub(super) fn account_value(a: &AccountObs, o: &Observed, alias: Option<&str>) -> ChangeValue {
    let q = o.quota.get(&a.id);
    ChangeValue::Account {
        alias: alias.map(str::to_string),
        id: Some(a.id.clone()),
        name: Some(a.name.clone()),
        kind: Some(a.kind),
        email: a.email.clone(),
        plan_type: a.plan_type.clone(),
        key_fingerprint: (a.kind == AccountKind::ApiKey)
            .then(|| a.secret_fingerprint.clone())
            .flatten(),
        five_hour_left: q.and_then(|q| q.five_hour),
        weekly_left: q.and_then(|q| q.weekly),
        in_vault: true,
    }
}

/// What an auth.json holds, typed (`None`: it is absent).
pub(super) fn auth_value(auth: &AuthObs, o: &Observed) -> Option<ChangeValue> {
    Some(match auth {
        AuthObs::Missing => return None,
        AuthObs::Unreadable(e) => ChangeValue::Unreadable { error: e.clone() },
        AuthObs::Empty => ChangeValue::NoCredentials,
        AuthObs::Foreign(mode) => ChangeValue::Foreign { mode: mode.clone() },
        AuthObs::Credentials(c) => match c.account_id().and_then(|id| o.account(id)) {
            Some(a) => account_value(a, o, None),
            None => {
                let (kind, email, plan_type, key_fingerprint) = match c {
                    CredObs::ApiKey {
                        key_fingerprint, ..
                    } => (AccountKind::ApiKey, None, None, Some(key_fingerprint)),
                    CredObs::ChatGpt {
                        email, plan_type, ..
                    } => (AccountKind::OAuth, email.clone(), plan_type.clone(), None),
                };
                ChangeValue::Account {
                    alias: None,
                    id: None,
                    name: email.clone(),
                    kind: Some(kind),
                    email,
                    plan_type,
                    key_fingerprint: key_fingerprint.cloned(),
                    five_hour_left: None,
                    weekly_left: None,
                    in_vault: false,
                }
            }
        },
    })
}
