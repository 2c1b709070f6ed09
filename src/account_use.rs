//! Where an account is used: which one a folder's auth.json holds, which accounts cdxs.yaml
//! binds (directly or through a pool), which folders hold a login now, and what removing
//! it from the vault does to them. Read only.

use std::path::{Path, PathBuf};

use crate::codex::auth::{self, AuthState};
use crate::manifest::{Binding, Manifest};
use crate::vault::accounts::match_credentials;
use crate::vault::{Account, Vault};

/// The vault account a folder's auth.json holds, if any.
pub fn held_in(home: &Path, all: &[Account]) -> Option<Account> {
    match auth::read(home).ok()?.state {
        AuthState::Credentials(c) => match_credentials(all, &c).cloned(),
        _ => None,
    }
}

/// The home `switch` writes (a declared home's name, if it is one) and its folder:
/// `--home NAME`, the home at `--codex-home PATH` or that folder, else `default`.
pub fn switch_target(
    m: Option<&Manifest>,
    home: Option<&str>,
    codex_home: Option<&Path>,
) -> crate::error::Result<(Option<String>, PathBuf)> {
    let default = crate::paths::default_codex_home()?;
    let name = match m {
        Some(m) => crate::manifest::select::target_home(m, home, codex_home, &default)?,
        None => None,
    };
    let folder = match (m, &name) {
        (Some(m), Some(h)) => m.homes[h].path.clone(),
        _ => codex_home.map(Path::to_path_buf).unwrap_or(default),
    };
    Ok((name, folder))
}

/// The vault account the default Codex home holds.
pub fn current(all: &[Account]) -> Option<Account> {
    held_in(&crate::paths::default_codex_home().ok()?, all)
}

/// Every vault account cdxs.yaml binds to a home, directly or as a member of a pool a home
/// draws from, in the order of the homes (each once; aliases that name no vault account
/// are left out).
pub fn bound_accounts(m: &Manifest, all: &[Account]) -> Vec<Account> {
    let mut out: Vec<Account> = Vec::new();
    for h in m.homes.values() {
        let aliases: Vec<&String> = match &h.binding {
            Some(Binding::Account(alias)) => vec![alias],
            Some(Binding::Pool { pool, .. }) => m.pools.get(pool).into_iter().flatten().collect(),
            None => Vec::new(),
        };
        for alias in aliases {
            if let Ok(a) = crate::resolve::account(Some(m), all, alias)
                && !out.iter().any(|o| o.id == a.id)
            {
                out.push(a);
            }
        }
    }
    out
}

/// The folders whose auth.json holds `account` now: declared homes, the default home, and
/// every folder cdxs wrote it into.
pub fn live_in(vault: &Vault, m: Option<&Manifest>, account: &Account) -> Vec<PathBuf> {
    let all = vault.accounts().unwrap_or_default();
    let mut folders: Vec<PathBuf> = m
        .map(|m| m.homes.values().map(|h| h.path.clone()).collect())
        .unwrap_or_default();
    folders.extend(crate::paths::default_codex_home().ok());
    folders.extend(vault.placements_of(&account.id).unwrap_or_default());
    let mut out: Vec<PathBuf> = Vec::new();
    for f in folders {
        let key = crate::vault::placement::placement_key(&f);
        if out
            .iter()
            .any(|o| crate::vault::placement::placement_key(o) == key)
        {
            continue;
        }
        if held_in(&f, &all).is_some_and(|a| a.id == account.id) {
            out.push(f);
        }
    }
    out
}

/// What removing `account` from the vault does to the homes, one line each (empty: it is
/// neither bound nor live anywhere, and removing it touches no home).
pub fn removal_effects(m: Option<&Manifest>, live: &[PathBuf], account: &Account) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = m {
        for home in crate::resolve::bound_where(m, account) {
            out.push(format!(
                "cdxs.yaml binds home {home} to it: `cdxs plan` and `apply` stop on that home until you bind another account (`cdxs switch OTHER --home {}`)",
                home.split(' ').next().unwrap_or(&home)
            ));
        }
    }
    for f in live {
        let declared = m.is_some_and(|m| m.homes.values().any(|h| &h.path == f));
        out.push(format!(
            "`{}` holds it: that auth.json stays as it is (Codex keeps using the login there){}",
            crate::paths::display(f),
            if declared {
                ", and the next `cdxs plan`, `apply` or `watch` takes it back into the vault from there"
            } else {
                ""
            }
        ));
    }
    out
}

/// Whose quota `cdxs quota` shows: every account (`all`), a pool's members (a pool's name
/// that is not also an alias), the one named, else every account cdxs.yaml binds, else the
/// default home's (or the first ChatGPT login).
pub fn quota_targets(
    m: Option<&Manifest>,
    all: &[Account],
    query: Option<&str>,
    every: bool,
) -> crate::error::Result<Vec<Account>> {
    let pool = (query.zip(m))
        .filter(|(q, m)| !m.accounts.contains_key(*q))
        .and_then(|(q, m)| m.pools.get(q));
    if every {
        return Ok(all.to_vec());
    }
    if let Some(members) = pool {
        let each = members.iter().map(|a| crate::resolve::account(m, all, a));
        return each.collect();
    }
    if let Some(q) = query {
        return Ok(vec![crate::resolve::account(m, all, q)?]);
    }
    if let Some(bound) = m.map(|m| bound_accounts(m, all)).filter(|b| !b.is_empty()) {
        return Ok(bound);
    }
    let first_login = || {
        all.iter()
            .find(|a| a.kind == crate::vault::AccountKind::OAuth)
            .cloned()
    };
    Ok(current(all).or_else(first_login).into_iter().collect())
}
