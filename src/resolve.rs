//! Which account a name on the command line means: a manifest alias, an id, an exact email
//! or label, or a unique prefix of an id or email. One set of rules and one set of typed
//! errors for every command (the CLI adds the hints).

use crate::error::Result;
use crate::manifest::{AccountRef, Manifest};
use crate::vault::Account;

pub use crate::error::ResolveError;

/// An account named on the command line, resolved against the manifest's aliases first.
#[derive(Debug, Clone)]
pub enum Named {
    /// A manifest alias (it may name an env key or auth file, not only vault accounts).
    Alias(String),
    /// A vault account, and its alias in the manifest if it has one.
    Account(Box<Account>, Option<String>),
}

/// Does `r` name vault account `a`?
pub fn ref_names(r: &AccountRef, a: &Account) -> bool {
    r.names(
        &a.id,
        a.kind,
        a.email.as_deref(),
        a.chatgpt_account_id.as_deref(),
    )
}

/// The homes `m` binds directly to `a`.
pub fn homes_bound_to<'m>(m: &'m Manifest, a: &Account) -> Vec<&'m str> {
    m.homes
        .values()
        .filter(|h| match &h.binding {
            Some(crate::manifest::Binding::Account(alias)) => {
                m.accounts.get(alias).is_some_and(|r| ref_names(r, a))
            }
            _ => false,
        })
        .map(|h| h.name.as_str())
        .collect()
}

/// Where `m` binds `a`: the homes bound to it, and `HOME (pool P)` for each home that
/// draws from a pool it is in.
pub fn bound_where(m: &Manifest, a: &Account) -> Vec<String> {
    let mut out: Vec<String> = homes_bound_to(m, a)
        .into_iter()
        .map(str::to_string)
        .collect();
    let alias = alias_of(m, a);
    for h in m.homes.values() {
        if let Some(crate::manifest::Binding::Pool { pool, .. }) = &h.binding
            && m.pools
                .get(pool)
                .is_some_and(|members| alias.as_ref().is_some_and(|al| members.contains(al)))
        {
            out.push(format!("{} (pool {pool})", h.name));
        }
    }
    out
}

/// The manifest's alias for `a`, if it has one.
pub fn alias_of(m: &Manifest, a: &Account) -> Option<String> {
    m.accounts
        .iter()
        .find(|(_, r)| ref_names(r, a))
        .map(|(alias, _)| alias.clone())
}

/// Resolve `query` against the manifest's aliases, then the vault.
pub fn named(m: Option<&Manifest>, all: &[Account], query: &str) -> Result<Named> {
    if let Some(m) = m
        && m.accounts.contains_key(query)
    {
        return Ok(Named::Alias(query.to_string()));
    }
    let account = find(all, query)?.clone();
    let alias = m.and_then(|m| alias_of(m, &account));
    Ok(Named::Account(Box::new(account), alias))
}

/// The vault account `query` names (an alias must name exactly one vault account).
pub fn account(m: Option<&Manifest>, all: &[Account], query: &str) -> Result<Account> {
    match named(m, all, query)? {
        Named::Account(a, _) => Ok(*a),
        Named::Alias(alias) => {
            let Some(r) = m.and_then(|m| m.accounts.get(&alias)) else {
                return Err(ResolveError::NoMatch { query: alias }.into());
            };
            let found: Vec<&Account> = all.iter().filter(|a| ref_names(r, a)).collect();
            match found.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(ResolveError::AliasUnknown {
                    reference: r.describe(),
                    alias,
                }
                .into()),
                _ => Err(ResolveError::AliasAmbiguous { alias }.into()),
            }
        }
    }
}

pub use crate::vault::accounts::find;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    fn key(k: &str) -> Account {
        Account::api_key(Secret::new(k), None, "t", 0)
    }

    fn login(email: &str, ws: &str) -> Account {
        let claims = serde_json::json!({"email": email,
            "https://api.openai.com/auth": {"chatgpt_account_id": ws}});
        let jwt = crate::codex::jwt::unsigned(&claims);
        let t = crate::codex::auth::ChatGptTokens {
            id_token: Secret::new(jwt.clone()),
            access_token: Secret::new(jwt),
            refresh_token: Secret::new("rt"),
            account_id: Some(ws.into()),
            last_refresh: None,
            extra: Default::default(),
        };
        Account::oauth(&t, "t", 0)
    }

    #[test]
    fn exact_then_unique_prefix_then_ambiguous() {
        let all = vec![
            login("ann@x.io", "w1"),
            login("ann@y.io", "w2"),
            login("bob@x.io", "w3"),
            key("sk-1"),
        ];
        assert_eq!(
            find(&all, "bob").unwrap().email.as_deref(),
            Some("bob@x.io")
        );
        assert_eq!(
            find(&all, "ANN@X.IO").unwrap().email.as_deref(),
            Some("ann@x.io")
        );
        match find(&all, "ann") {
            Err(ResolveError::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates.len(), 2);
                assert!(candidates[0].starts_with("ann@x.io (oauth_"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            find(&all, "zed"),
            Err(ResolveError::NoMatch {
                query: "zed".into()
            })
        );
        assert_eq!(find(&all, "  "), Err(ResolveError::Empty));
        let id = all[3].id.clone();
        assert_eq!(find(&all, &id[..12]).unwrap().id, id);
    }

    #[test]
    fn aliases_come_first_and_must_name_one_account() {
        let m = crate::manifest::parse(
            "version: 1\naccounts:\n  bob: { email: bob@x.io }\n  ghost: { email: g@x.io }\n",
            std::path::Path::new("/c/cdxs.yaml"),
        )
        .unwrap();
        let all = vec![login("bob@x.io", "w3")];
        assert!(matches!(named(Some(&m), &all, "bob"), Ok(Named::Alias(a)) if a == "bob"));
        assert_eq!(
            account(Some(&m), &all, "bob").unwrap().email.as_deref(),
            Some("bob@x.io")
        );
        assert!(matches!(
            account(Some(&m), &all, "ghost"),
            Err(crate::error::Error::Resolve(
                ResolveError::AliasUnknown { .. }
            ))
        ));
        match named(Some(&m), &all, "bob@x.io").unwrap() {
            Named::Account(a, alias) => {
                assert_eq!(a.email.as_deref(), Some("bob@x.io"));
                assert_eq!(alias.as_deref(), Some("bob"));
            }
            other => panic!("{other:?}"),
        }
    }
}
