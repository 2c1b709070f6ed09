//! How plan describes accounts and auth.json contents in diffs: names, plans, quota, key
//! fingerprints, never a secret.

use super::super::observe::{AccountObs, AuthObs, CredObs, Observed};
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
