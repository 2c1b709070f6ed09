//! `plan(manifest, observed, now) -> Plan`: pure, no I/O, no clock (time is passed in).
//!
//! Order of actions: folders first, then imports and harvests (the vault takes newer tokens
//! before anything is overwritten), then auth.json writes.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::observe::{AccountObs, AuthObs, CredObs, FileObs, HomeObs, Observed};
use super::{
    Action, ActionKind, Change, CredentialSource, Drift, HomeFingerprint, Note, Op, Plan, PlanError,
};
use crate::auth::freshness;
use crate::codex::auth::auth_path;
use crate::codex::config;
use crate::manifest::{AccountRef, Binding, Home, Manifest};
use crate::vault::AccountKind;

mod describe;
mod pool;
mod sessions;

use describe::{describe_account, describe_auth};

/// What a home's auth.json should hold.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    Vault {
        account_id: String,
    },
    Env {
        var: String,
        key_fingerprint: String,
    },
}

struct Planner<'a> {
    m: &'a Manifest,
    o: &'a Observed,
    dirs: Vec<Action>,
    reads: Vec<Action>,
    writes: Vec<Action>,
    drift: Vec<Drift>,
    errors: Vec<PlanError>,
    notes: Vec<Note>,
    imported: BTreeSet<String>,
    harvested: BTreeSet<String>,
    refreshed: BTreeSet<String>,
    refreshes: Vec<Action>,
    accepted: Vec<super::Accepted>,
    now: i64,
}

pub fn plan(m: &Manifest, o: &Observed, now: i64) -> Plan {
    let mut p = Planner {
        m,
        o,
        dirs: Vec::new(),
        reads: Vec::new(),
        writes: Vec::new(),
        drift: Vec::new(),
        errors: Vec::new(),
        notes: Vec::new(),
        imported: BTreeSet::new(),
        harvested: BTreeSet::new(),
        refreshed: BTreeSet::new(),
        refreshes: Vec::new(),
        accepted: Vec::new(),
        now,
    };
    let mut observed = BTreeMap::new();
    // Harvest first, from every declared home: the vault must hold the newest tokens
    // before any file is written or any account is picked.
    for (name, _) in &m.homes {
        if let Some(obs) = o.homes.get(name) {
            p.harvest_from(name, obs);
        }
    }
    // Accounts directly bound somewhere may not be picked by pools.
    let mut taken: BTreeSet<String> = BTreeSet::new();
    for home in m.homes.values() {
        if let Some(Binding::Account(alias)) = &home.binding
            && let Some(Target::Vault { account_id }) = p.resolve_quiet(alias)
        {
            taken.insert(account_id);
        }
    }
    for (name, home) in &m.homes {
        let Some(obs) = o.homes.get(name) else {
            continue;
        };
        observed.insert(
            name.clone(),
            HomeFingerprint {
                path: home.path.clone(),
                dir_exists: obs.dir_exists,
                auth: obs.auth_fingerprint.clone(),
            },
        );
        p.home(home, obs, &mut taken);
    }
    let sessions = sessions::actions(m, o, now, &mut p.notes);
    let mut actions = p.dirs;
    actions.extend(p.reads);
    actions.extend(p.refreshes);
    actions.extend(p.writes);
    actions.extend(sessions);
    Plan {
        manifest: m.path.clone(),
        manifest_fingerprint: m.fingerprint(),
        actions,
        drift: p.drift,
        errors: p.errors,
        notes: p.notes,
        observed,
        accepted: p.accepted,
    }
}

impl Planner<'_> {
    fn error(&mut self, address: String, message: String, help: &str) {
        self.errors.push(PlanError {
            address,
            message,
            help: help.to_string(),
        });
    }

    /// A home holds a vault login whose tokens are newer than the vault's copy.
    fn harvest_from(&mut self, name: &str, obs: &HomeObs) {
        let AuthObs::Credentials(CredObs::ChatGpt {
            freshness: file,
            account_id: Some(id),
            refresh_fingerprint,
            ..
        }) = &obs.auth
        else {
            return;
        };
        let Some(vault) = self.o.account(id) else {
            return;
        };
        if vault.secret_fingerprint.as_deref() == Some(refresh_fingerprint.as_str())
            || freshness::compare(file, &vault.freshness) != Ordering::Greater
            || !self.harvested.insert(id.clone())
        {
            return;
        }
        self.reads.push(Action {
            address: format!("account.{}.harvest", self.alias_of(id)),
            kind: ActionKind::Read,
            description: format!(
                "take the newer tokens Codex wrote into home `{name}` into the vault (Codex rotated them)"
            ),
            changes: vec![],
            op: Op::Harvest {
                home: name.to_string(),
                path: obs.path.clone(),
                account_id: id.clone(),
            },
        });
    }

    /// The manifest alias of an account id, or the id.
    fn alias_of(&self, id: &str) -> String {
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
    fn target_of(&self, r: &AccountRef) -> Option<Target> {
        self.resolve_ref(r).ok().map(|(t, _)| t)
    }

    fn resolve_quiet(&self, alias: &str) -> Option<Target> {
        self.m.accounts.get(alias).and_then(|r| self.target_of(r))
    }

    /// Resolve a reference to a target, and whether an import is needed first.
    fn resolve_ref(&self, r: &AccountRef) -> Result<(Target, bool), (String, &'static str)> {
        match r {
            AccountRef::Email { email, .. } => {
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
            AccountRef::AuthFile(path) => match self.o.auth_files.get(path) {
                Some(FileObs::Credentials(c)) => {
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
                Some(FileObs::NoCredentials(why)) => Err((
                    format!("{} cannot be used: {why}", path.display()),
                    "mount an auth.json written by `codex login` or `cdxs`",
                )),
                Some(FileObs::Unreadable(why)) => Err((
                    format!("cannot read {}: {why}", path.display()),
                    "check the path and the file's permissions",
                )),
                None => Err((
                    format!("{} was not observed", path.display()),
                    "this is a bug in cdxs; please report it",
                )),
            },
        }
    }

    /// A login written into a home is refreshed first when it expires within 5 minutes,
    /// as Codex itself does (or noted, offline).
    fn refresh_if_expiring(&mut self, alias: &str, a: &AccountObs, address: &str) {
        if a.kind != AccountKind::OAuth || a.requires_reauth {
            return;
        }
        let left = a.freshness.expires_at.map(|e| e - self.now);
        if left.is_some_and(|l| l >= crate::auth::refresh::REFRESH_WINDOW_SECS) {
            return;
        }
        let when = match left {
            Some(l) if l > 0 => format!("its access token expires in {}s", l),
            Some(_) => "its access token has expired".to_string(),
            None => "its access token's expiry is unknown".to_string(),
        };
        if !self.o.online {
            self.notes.push(Note {
                address: address.to_string(),
                message: format!("{alias}: {when}; offline, so Codex will refresh it itself"),
            });
            return;
        }
        if self.refreshed.insert(a.id.clone()) {
            self.refreshes.push(Action {
                address: format!("account.{alias}.refresh"),
                kind: ActionKind::Update,
                description: format!("refresh {alias}'s tokens first: {when}"),
                changes: vec![],
                op: Op::Refresh {
                    account_id: a.id.clone(),
                },
            });
        }
    }

    fn home(&mut self, home: &Home, obs: &HomeObs, taken: &mut BTreeSet<String>) {
        let name = &home.name;
        if !obs.dir_exists {
            self.dirs.push(Action {
                address: format!("home.{name}.dir"),
                kind: ActionKind::Create,
                description: format!(
                    "create the Codex home folder `{}` (0700)",
                    crate::paths::display(&home.path)
                ),
                changes: vec![],
                op: Op::CreateHomeDir {
                    home: name.clone(),
                    path: home.path.clone(),
                },
            });
        }
        self.drift(home, obs);
        let Some(binding) = &home.binding else {
            return;
        };
        let address = format!("home.{name}.auth");
        if let Some(store) = &obs.config.credentials_store {
            self.notes.push(Note {
                address: address.clone(),
                message: format!(
                    "this home's config.toml sets `cli_auth_credentials_store = \"{store}\"`: Codex reads credentials from the OS keyring there, not from auth.json"
                ),
            });
        }
        let (alias, reason) = match binding {
            Binding::Account(alias) => (alias.clone(), None),
            Binding::Pool {
                pool,
                strategy,
                switch_below,
            } => {
                let members = self.m.pools.get(pool).cloned().unwrap_or_default();
                let candidates: Vec<pool::Candidate> = members
                    .iter()
                    .map(|alias| {
                        let target = self.resolve_quiet(alias);
                        let account = match &target {
                            Some(Target::Vault { account_id }) => self.o.account(account_id),
                            _ => None,
                        };
                        pool::Candidate {
                            alias: alias.clone(),
                            account_id: match target {
                                Some(Target::Vault { account_id }) => Some(account_id),
                                _ => None,
                            },
                            usable: account
                                .is_some_and(|a| a.has_credentials && !a.requires_reauth),
                            remaining: account
                                .and_then(|a| self.o.quota.get(&a.id))
                                .and_then(|q| q.remaining()),
                        }
                    })
                    .collect();
                let current = match &obs.auth {
                    AuthObs::Credentials(c) => c.account_id().map(str::to_string),
                    _ => None,
                };
                match pool::pick(
                    &candidates,
                    *strategy,
                    *switch_below,
                    current.as_deref(),
                    taken,
                ) {
                    Ok(pick) => {
                        if let Some(id) = &pick.account_id {
                            taken.insert(id.clone());
                        }
                        (pick.alias, Some(pick.reason))
                    }
                    Err(why) => {
                        self.error(
                            address,
                            format!("pool `{pool}` has no member for home `{name}`: {why}"),
                            "add accounts to the pool, or log them in again (`cdxs login oauth`)",
                        );
                        return;
                    }
                }
            }
        };
        let Some(r) = self.m.accounts.get(&alias).cloned() else {
            return; // validate() rejects undeclared aliases
        };
        let (target, needs_import) = match self.resolve_ref(&r) {
            Ok(t) => t,
            Err((message, help)) => {
                self.error(address, format!("account `{alias}`: {message}"), help);
                return;
            }
        };
        if needs_import
            && let AccountRef::AuthFile(path) = &r
            && self.imported.insert(alias.clone())
        {
            self.reads.push(Action {
                address: format!("account.{alias}.import"),
                kind: ActionKind::Read,
                description: format!("import `{}` into the vault", path.display()),
                changes: vec![],
                op: Op::ImportAuthFile {
                    alias: alias.clone(),
                    path: path.clone(),
                },
            });
        }
        let target_account = match &target {
            Target::Vault { account_id } => self.o.account(account_id),
            Target::Env { .. } => None,
        };
        if let Some(a) = target_account {
            if !a.has_credentials {
                self.error(
                    address,
                    format!("account `{alias}` ({}) has no stored credentials", a.name),
                    "log in again with `cdxs login oauth` or import an auth.json",
                );
                return;
            }
            let a = a.clone();
            self.refresh_if_expiring(&alias, &a, &address);
            if a.requires_reauth {
                self.notes.push(Note {
                    address: address.clone(),
                    message: format!(
                        "account `{alias}` ({}) needs a new login: its refresh token was refused; run `cdxs login oauth`",
                        a.name
                    ),
                });
            }
        }
        let want_base_url = match &r {
            AccountRef::ApiKeyEnv { base_url, .. } => base_url.clone(),
            _ => target_account.and_then(|a| a.base_url.clone()),
        };
        self.base_url(home, obs, &alias, want_base_url.as_deref());
        let after = match (&target, target_account) {
            (_, Some(a)) => format!("{alias} = {}", describe_account(a, self.o)),
            (
                Target::Env {
                    var,
                    key_fingerprint,
                },
                _,
            ) => {
                format!("{alias} = API key from ${var} ({key_fingerprint})")
            }
            (Target::Vault { .. }, None) => format!("{alias} = {}", r.describe()),
        };
        // Does the file already hold the target?
        let in_sync = match (&obs.auth, &target) {
            (AuthObs::Credentials(c), Target::Vault { account_id }) => {
                let holds = c.account_id() == Some(account_id.as_str())
                    || matches!(c, CredObs::ChatGpt { identity_id, .. } | CredObs::ApiKey { identity_id, .. } if identity_id == account_id);
                match (holds, c, target_account) {
                    (false, _, _) => false,
                    (
                        true,
                        CredObs::ChatGpt {
                            freshness: file,
                            refresh_fingerprint,
                            ..
                        },
                        Some(v),
                    ) => {
                        // Same login: rewrite only when the vault holds newer tokens.
                        v.secret_fingerprint.as_deref() == Some(refresh_fingerprint.as_str())
                            || freshness::compare(&v.freshness, file) != Ordering::Greater
                    }
                    (true, _, _) => true,
                }
            }
            (
                AuthObs::Credentials(CredObs::ApiKey {
                    key_fingerprint, ..
                }),
                Target::Env {
                    key_fingerprint: want,
                    ..
                },
            ) => key_fingerprint == want,
            _ => false,
        };
        if in_sync {
            let account_id = match &target {
                Target::Vault { account_id } => Some(account_id.clone()),
                Target::Env { .. } => None,
            };
            let path = auth_path(&home.path);
            let known = self.o.baselines.get(&path).is_some_and(|b| {
                Some(&b.fingerprint) == obs.auth_fingerprint.as_ref() && b.account_id == account_id
            });
            if let (Some(fp), false) = (&obs.auth_fingerprint, known) {
                self.accepted.push(super::Accepted {
                    home: name.clone(),
                    path,
                    fingerprint: fp.clone(),
                    account_id,
                });
            }
            return;
        }
        let before = describe_auth(&obs.auth, self.o);
        let refresh_only = matches!(
            (&obs.auth, &target),
            (AuthObs::Credentials(c), Target::Vault { account_id }) if c.account_id() == Some(account_id.as_str())
        );
        let mut description = match (&obs.auth, refresh_only) {
            (AuthObs::Missing, _) => format!("write auth.json: {alias}"),
            (_, true) => format!("write the vault's newer tokens of {alias}"),
            _ => format!("switch auth.json to {alias}"),
        };
        if let Some(reason) = reason {
            description.push_str(&format!(" ({reason})"));
        }
        if !refresh_only && !obs.processes.is_empty() {
            self.notes.push(Note {
                address: address.clone(),
                message: format!(
                    "running Codex processes keep the old credentials until restarted: {} (restart them; for the daemon: `codex app-server daemon restart`)",
                    obs.processes
                        .iter()
                        .map(|p| format!("pid {} `{}`", p.pid, p.command))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        self.writes.push(Action {
            address,
            kind: if obs.auth == AuthObs::Missing {
                ActionKind::Create
            } else {
                ActionKind::Update
            },
            description,
            changes: vec![Change {
                field: "account".into(),
                before,
                after: Some(after),
            }],
            op: Op::WriteAuth {
                home: name.clone(),
                path: home.path.clone(),
                source: match target {
                    Target::Vault { account_id } => CredentialSource::Vault { account_id },
                    Target::Env {
                        var,
                        key_fingerprint,
                    } => CredentialSource::Env {
                        var,
                        key_fingerprint,
                    },
                },
                expect: obs.auth_fingerprint.clone(),
            },
        });
    }

    /// Point the home's `openai_base_url` at the bound account's endpoint, or take away one
    /// that cdxs put there for another account.
    fn base_url(&mut self, home: &Home, obs: &HomeObs, alias: &str, want: Option<&str>) {
        let address = format!("home.{}.base_url", home.name);
        let have = obs.config.base_url.as_deref();
        let known =
            |u: &str| {
                self.o
                    .accounts
                    .iter()
                    .any(|a| a.base_url.as_deref() == Some(u))
                    || self.m.accounts.values().any(
                        |r| matches!(r, AccountRef::ApiKeyEnv { base_url: Some(b), .. } if b == u),
                    )
            };
        let Some(url) = config::base_url_change(want, have, &known) else {
            return;
        };
        if let Some(why) = &obs.config.error {
            self.error(
                address,
                format!("cannot read this home's config.toml to set `openai_base_url`: {why}"),
                "fix config.toml (Codex cannot read it either), then plan again",
            );
            return;
        }
        let (kind, description) = match (&url, have) {
            (Some(_), None) => (
                ActionKind::Create,
                format!("set `openai_base_url` in config.toml: {alias} calls its own endpoint"),
            ),
            (Some(_), Some(_)) => (
                ActionKind::Update,
                format!("change `openai_base_url` in config.toml to {alias}'s endpoint"),
            ),
            (None, _) => (
                ActionKind::Delete,
                format!(
                    "remove `openai_base_url` from config.toml: {alias} uses the default endpoint"
                ),
            ),
        };
        self.writes.push(Action {
            address,
            kind,
            description,
            changes: vec![Change {
                field: "openai_base_url".into(),
                before: have.map(config::display_url),
                after: url.as_deref().map(config::display_url),
            }],
            op: Op::SetBaseUrl {
                home: home.name.clone(),
                path: home.path.clone(),
                url,
                expect: obs.config.fingerprint.clone(),
            },
        });
    }

    /// A file cdxs wrote that now holds something else (not just newer tokens).
    fn drift(&mut self, home: &Home, obs: &HomeObs) {
        let path = auth_path(&home.path);
        let Some(base) = self.o.baselines.get(&path) else {
            return;
        };
        if obs.auth_fingerprint.as_deref() == Some(base.fingerprint.as_str()) {
            return;
        }
        let same_account = match &obs.auth {
            AuthObs::Credentials(c) => {
                base.account_id.is_some() && c.account_id() == base.account_id.as_deref()
            }
            _ => false,
        };
        if same_account {
            return; // Codex refreshed the tokens: expected, harvested above.
        }
        let wrote = base
            .account_id
            .as_deref()
            .and_then(|id| self.o.account(id))
            .map(|a| describe_account(a, self.o))
            .or(base.account_id.clone())
            .unwrap_or_else(|| "a file".into());
        let now = describe_auth(&obs.auth, self.o)
            .unwrap_or_else(|| "nothing (the file was deleted)".into());
        self.drift.push(Drift {
            address: format!("home.{}.auth", home.name),
            path,
            description: format!(
                "changed outside cdxs: now holds {now}; cdxs last left it holding {wrote}{}",
                base.generation
                    .map(|g| format!(" (generation {g})"))
                    .unwrap_or_default()
            ),
        });
    }
}

#[cfg(test)]
mod tests;
