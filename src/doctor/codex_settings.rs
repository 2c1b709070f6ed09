//! Doctor's view of Codex's own settings in each home (`codex::settings`): the credential
//! store and the login restrictions, each with the layer that set them. What makes Codex
//! ignore, delete or leave unused a login cdxs.yaml binds there needs doing (exit 1).
//!
//! Doctor reads no vault, so a login's kind comes from how cdxs.yaml names it: an email is
//! a ChatGPT login, `api_key_env` and `apikey_` ids are API keys; a workspace restriction
//! on a login named by email alone is shown, not judged (`cdxs plan` judges it).

use std::path::Path;

use super::{Check, Status, check};
use crate::codex::settings::{Effective, Login, MachineLayers, Refusal};
use crate::manifest::{AccountRef, Binding, Manifest};

/// The settings of the home at `path` and the checks they call for.
pub(super) fn checks(
    name: &str,
    path: &Path,
    manifest: Option<&Manifest>,
    machine: &MachineLayers,
) -> (Effective, Vec<Check>) {
    let settings = crate::codex::config::observe_with(path, machine).settings;
    let home = manifest.and_then(|m| m.homes.values().find(|h| h.path == path));
    let declared_file = home.is_some_and(|h| h.store_file);
    let judged = if declared_file {
        let place = crate::codex::config::config_path(path)
            .display()
            .to_string();
        settings.with_home_store_file(&place)
    } else {
        settings.clone()
    };
    let mut out = vec![check(
        "codex settings",
        Status::Ok,
        format!("home `{name}`: {}", settings.describe()),
        None,
    )];
    let bound = home.and_then(|h| h.binding.as_ref());
    if let Some(b) = judged.broken.first() {
        out.push(check(
            "codex settings",
            Status::Action,
            format!(
                "home `{name}`: `{}` ({}) {}: Codex does not start",
                b.from.place,
                b.from.layer.name(),
                b.why
            ),
            Some("fix that file".into()),
        ));
    }
    if let Some(r) = judged.store_refusal() {
        out.push(check(
            "codex settings",
            if bound.is_some() {
                Status::Action
            } else {
                Status::Warn
            },
            format!("home `{name}`: {}", r.message()),
            Some(r.fix),
        ));
        return (settings, out);
    }
    let (Some(binding), Some(m)) = (bound, manifest) else {
        return (settings, out);
    };
    out.extend(refused_logins(name, &judged, binding, m));
    (settings, out)
}

/// The accounts bound to the home (the alias, or a pool's members) that Codex would not use
/// there: needs doing, unless a pool has others it may use.
fn refused_logins(name: &str, judged: &Effective, binding: &Binding, m: &Manifest) -> Vec<Check> {
    let aliases: Vec<String> = match binding {
        Binding::Account(alias) => vec![alias.clone()],
        Binding::Pool { pool, .. } => m.pools.get(pool).cloned().unwrap_or_default(),
    };
    let mut refused = Vec::new();
    for alias in &aliases {
        let Some(login) = m.accounts.get(alias).and_then(kind_of) else {
            continue;
        };
        if let Some(r) = first_refusal(judged, &login) {
            refused.push((alias.clone(), r));
        }
    }
    let all_refused = !refused.is_empty() && refused.len() == aliases.len();
    let pool = matches!(binding, Binding::Pool { .. });
    refused
        .into_iter()
        .map(|(alias, r)| {
            check(
                "codex settings",
                if pool && !all_refused {
                    Status::Warn
                } else {
                    Status::Action
                },
                format!(
                    "home `{name}`: Codex would not use `{alias}` there: {}",
                    r.message()
                ),
                Some(if pool && !all_refused {
                    format!("the pool skips it there; {}", r.fix)
                } else {
                    r.fix
                }),
            )
        })
        .collect()
}

/// The first reason Codex would not use `login`; a workspace restriction is not judged for
/// a login whose workspace cdxs.yaml does not name.
fn first_refusal(judged: &Effective, login: &Login) -> Option<Refusal> {
    let unknown_workspace = matches!(login, Login::ChatGpt { workspace: None });
    judged
        .refusals(login)
        .into_iter()
        .find(|r| !(unknown_workspace && r.setting.contains("workspace")))
}

/// The kind of login an account reference names, when cdxs.yaml alone tells.
fn kind_of(r: &AccountRef) -> Option<Login> {
    match r {
        AccountRef::ApiKeyEnv { .. } => Some(Login::ApiKey),
        AccountRef::Id(id) if id.starts_with("apikey_") => Some(Login::ApiKey),
        AccountRef::Id(_) => Some(Login::ChatGpt { workspace: None }),
        AccountRef::Email { workspace, .. } => Some(Login::ChatGpt {
            workspace: workspace.clone(),
        }),
        AccountRef::AuthFile(_) => None,
    }
}
