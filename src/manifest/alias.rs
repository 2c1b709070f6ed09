//! The one naming policy for accounts that get an alias in cdxs.yaml (`switch` with an
//! account the manifest has no alias for, `init`, `import legacy`): the email's local part,
//! made unique with the email's domain, then a number.

use super::Manifest;
use crate::vault::{Account, AccountKind};

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

/// A new alias for `a` that `taken` does not hold. `with_domain`: start from
/// `local-domain` (when several accounts share a local part).
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
    // Some number is free: `taken` holds finitely many names.
    let numbered = (2u64..).map(|n| format!("{base}-{n}"));
    candidates
        .into_iter()
        .chain(numbered)
        .find(|c| !taken(c))
        .unwrap_or(base)
}

/// A new alias for `a` in `m` (not an alias or pool name already).
pub fn new_alias(m: &Manifest, a: &Account) -> String {
    alias_with(
        a,
        &|c| m.accounts.contains_key(c) || m.pools.contains_key(c),
        false,
    )
}

/// How the manifest refers to a vault account: by email when that names one login only,
/// else by id. Returns (key, value).
pub fn reference_for(all: &[Account], a: &Account) -> (&'static str, String) {
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

/// Aliases for every account (for `init`): (alias, flow mapping), in order.
pub fn aliases_for(accounts: &[Account]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let local = |x: &Account| {
        x.email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .map(str::to_lowercase)
    };
    for a in accounts {
        let shared =
            local(a).is_some() && accounts.iter().filter(|o| local(o) == local(a)).count() > 1;
        let alias = alias_with(a, &|c| out.iter().any(|(x, _)| x == c), shared);
        let (key, value) = reference_for(accounts, a);
        out.push((
            alias,
            format!("{{ {key}: {} }}", super::edit::scalar(&value)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn login(email: &str, ws: &str) -> Account {
        let claims = serde_json::json!({"email": email,
            "https://api.openai.com/auth": {"chatgpt_account_id": ws}});
        let jwt = crate::codex::jwt::unsigned(&claims);
        Account::oauth(
            &crate::codex::auth::ChatGptTokens {
                id_token: Secret::new(jwt.clone()),
                access_token: Secret::new(jwt),
                refresh_token: Secret::new("rt"),
                account_id: Some(ws.into()),
                last_refresh: None,
                extra: Default::default(),
            },
            "t",
            0,
        )
    }

    #[test]
    fn local_part_then_domain_then_number() {
        let a = login("Jane.Doe@corp.example.com", "w");
        assert_eq!(alias_with(&a, &|_| false, false), "jane-doe");
        assert_eq!(alias_with(&a, &|c| c == "jane-doe", false), "jane-doe-corp");
        assert_eq!(alias_with(&a, &|_| false, true), "jane-doe-corp");
        assert_eq!(
            alias_with(&a, &|c| c == "jane-doe" || c == "jane-doe-corp", false),
            "jane-doe-2"
        );
        let key = Account::api_key(Secret::new("sk-x"), None, "t", 0);
        assert!(alias_with(&key, &|_| false, false).starts_with("api-key-"));
    }

    #[test]
    fn same_local_part_gets_domains_and_same_email_gets_ids() {
        let all = vec![
            login("me@a.io", "w1"),
            login("me@b.io", "w2"),
            login("me@b.io", "w3"),
        ];
        let got = aliases_for(&all);
        assert_eq!(got[0].0, "me-a");
        assert_eq!(got[1].0, "me-b");
        assert_eq!(got[2].0, "me");
        assert_eq!(got[0].1, "{ email: me@a.io }");
        assert!(got[1].1.starts_with("{ id: oauth_"), "{}", got[1].1);
    }
}
