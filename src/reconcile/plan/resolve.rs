//! Which account an alias of the manifest names: a vault account (by email, id or an
//! imported auth file) or an API key in an environment variable.

use std::cmp::Ordering;
use std::path::Path;

use super::Planner;
use crate::manifest::AccountRef;
use crate::reconcile::observe::{AccountObs, CredObs, FileObs};
use crate::vault::freshness;

/// A target, and whether an import is needed first; or what is wrong and the next step.
pub(super) type Resolved = Result<(Target, bool), (String, &'static str)>;

/// What a home's auth.json should hold.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Target {
    Vault {
        account_id: String,
    },
    Env {
        var: String,
        key_fingerprint: String,
    },
}

impl Planner<'_> {
    /// The manifest alias of an account id, or the id.
    pub(super) fn alias_of(&self, id: &str) -> String {
        for (alias, r) in &self.m.accounts {
            if let Some(Target::Vault { account_id }) = self.target_of(r)
                && account_id == id
            {
                return alias.clone();
            }
        }
        id.to_string()
    }

    /// Resolve a reference without reporting errors.
    pub(super) fn target_of(&self, r: &AccountRef) -> Option<Target> {
        self.resolve_ref(r).ok().map(|(t, _)| t)
    }

    pub(super) fn resolve_quiet(&self, alias: &str) -> Option<Target> {
        self.m.accounts.get(alias).and_then(|r| self.target_of(r))
    }

    /// Resolve a reference to a target, and whether an import is needed first.
    pub(super) fn resolve_ref(&self, r: &AccountRef) -> Resolved {
        match r {
            AccountRef::Email { email, .. } => self.resolve_email(r, email),
            AccountRef::Id(id) => match self.o.account(id) {
                Some(a) => Ok((
                    Target::Vault {
                        account_id: a.id.clone(),
                    },
                    false,
                )),
                None => Err((
                    format!("no account `{id}` in the vault"),
                    "see `cdxs account list`; import it with `cdxs import auth` or `cdxs import legacy`",
                )),
            },
            AccountRef::ApiKeyEnv { var, .. } => match self.o.env_keys.get(var) {
                Some(Some(fp)) => Ok((
                    Target::Env {
                        var: var.clone(),
                        key_fingerprint: fp.clone(),
                    },
                    false,
                )),
                _ => Err((
                    format!("environment variable `{var}` is not set"),
                    "export the API key in that variable before `cdxs plan`/`apply`",
                )),
            },
            AccountRef::AuthFile(path) => self.resolve_auth_file(path),
        }
    }

    /// The one vault login of an email (and workspace, when `r` names one).
    fn resolve_email(&self, r: &AccountRef, email: &str) -> Resolved {
        let found: Vec<&AccountObs> = self
            .o
            .accounts
            .iter()
            .filter(|a| r.names(&a.id, a.kind, a.email.as_deref(), a.workspace.as_deref()))
            .collect();
        match found.as_slice() {
            [one] => Ok((
                Target::Vault {
                    account_id: one.id.clone(),
                },
                false,
            )),
            [] => Err((
                format!("no login for {} in the vault", r.describe()),
                "log in with `cdxs login oauth`, or import it with `cdxs import auth`",
            )),
            many => Err((
                format!(
                    "{email} has {} logins in the vault (workspaces {})",
                    many.len(),
                    many.iter()
                        .map(|a| a.workspace.as_deref().unwrap_or("none"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "add `workspace: <id>` to the alias to pick one",
            )),
        }
    }

    /// The account a mounted auth file holds; it is imported first when the vault lacks it
    /// or holds an older copy.
    fn resolve_auth_file(&self, path: &Path) -> Resolved {
        let c = match self.o.auth_files.get(path) {
            Some(FileObs::Credentials(c)) => c,
            Some(FileObs::NoCredentials(why)) => {
                return Err((
                    format!("{} cannot be used: {why}", path.display()),
                    "mount an auth.json written by `codex login` or `cdxs`",
                ));
            }
            Some(FileObs::Unreadable(why)) => {
                return Err((
                    format!("cannot read {}: {why}", path.display()),
                    "check the path and the file's permissions",
                ));
            }
            None => {
                return Err((
                    format!("{} was not observed", path.display()),
                    "this is a bug in cdxs; please report it",
                ));
            }
        };
        let (id, needs_import) = match c {
            CredObs::ChatGpt {
                identity_id,
                account_id,
                freshness: file,
                ..
            } => match account_id.as_deref().and_then(|id| self.o.account(id)) {
                Some(v) => (
                    v.id.clone(),
                    freshness::compare(file, &v.freshness) == Ordering::Greater,
                ),
                None => (identity_id.clone(), true),
            },
            CredObs::ApiKey {
                identity_id,
                account_id,
                ..
            } => match account_id {
                Some(id) => (id.clone(), false),
                None => (identity_id.clone(), true),
            },
        };
        Ok((Target::Vault { account_id: id }, needs_import))
    }
}
