//! Planning one declared home: its folder, drift, the account its auth.json should hold
//! (bound directly or picked from a pool) and the endpoint its config.toml names.

use crate::reconcile::{AccountPart, Address, HomePart};
use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::codex_settings::login_of;
use super::describe::{account_value, auth_value, describe_account, describe_auth};
use super::resolve::Target;
use super::{Planner, pool};
use crate::codex::auth::auth_path;
use crate::codex::config;
use crate::codex::settings::Effective;
use crate::manifest::{AccountRef, Binding, Home};
use crate::reconcile::observe::{AccountObs, AuthObs, CredObs, HomeObs, Observed};
use crate::reconcile::{
    Accepted, Action, ActionKind, Change, ChangeValue, CredentialSource, Drift, Note, Op,
};
use crate::vault::freshness;

/// What a home's auth.json gets, once resolved.
struct Chosen {
    alias: String,
    /// Why a pool picked it.
    reason: Option<String>,
    target: Target,
    /// The redacted "after" side of the diff, for people and typed.
    after: String,
    after_value: ChangeValue,
}

impl Planner<'_> {
    pub(super) fn home(&mut self, home: &Home, obs: &HomeObs, taken: &mut BTreeSet<String>) {
        let o = self.o;
        self.create_dir(home, obs);
        self.drift(home, obs);
        self.codex_config(home, obs);
        let Some(binding) = &home.binding else {
            return;
        };
        let address = Address::home(&home.name, HomePart::Auth);
        // What Codex will act on once this plan ran (the store cdxs writes included).
        let settings = self.settings_after(home, obs);
        if !self.codex_reads_auth_json(&settings, &address) {
            return;
        }
        let Some((alias, reason)) = self.pick_alias(home, obs, binding, taken, &address, &settings)
        else {
            return;
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
        if needs_import && let AccountRef::AuthFile(path) = &r {
            self.import_first(&alias, path);
        }
        let target_account = match &target {
            Target::Vault { account_id } => o.account(account_id),
            Target::Env { .. } => None,
        };
        if let Some(a) = target_account
            && !self.usable(a, &alias, &address)
        {
            return;
        }
        if self.refused(&settings, &alias, &target, target_account, &address) {
            return;
        }
        let want_base_url = match &r {
            AccountRef::ApiKeyEnv { base_url, .. } => base_url.clone(),
            _ => target_account.and_then(|a| a.base_url.clone()),
        };
        self.base_url(home, obs, &alias, want_base_url.as_deref());
        if holds_target(&obs.auth, &target, target_account, &o.spent) {
            self.accept(home, obs, &target);
            return;
        }
        let (after, after_value) = after_side(o, &alias, &r, &target, target_account);
        let chosen = Chosen {
            alias,
            reason,
            target,
            after,
            after_value,
        };
        self.write_auth(home, obs, address, chosen);
    }

    /// Would Codex delete or leave unused the login of `alias` in this home? Each reason is
    /// an error.
    fn refused(
        &mut self,
        settings: &Effective,
        alias: &str,
        target: &Target,
        target_account: Option<&AccountObs>,
        address: &Address,
    ) -> bool {
        let refusals = settings.refusals(&login_of(target, target_account));
        for r in &refusals {
            self.error(
                address.clone(),
                format!(
                    "Codex would not use `{alias}` in this home: {}",
                    r.message()
                ),
                &r.fix,
            );
        }
        !refusals.is_empty()
    }

    fn create_dir(&mut self, home: &Home, obs: &HomeObs) {
        if let Some(risk) = &obs.shared_fs {
            self.notes.push(Note {
                address: Address::home(&home.name, HomePart::Dir),
                message: risk.clone(),
            });
        }
        if obs.dir_exists {
            return;
        }
        self.dirs.push(Action {
            address: Address::home(&home.name, HomePart::Dir),
            kind: ActionKind::Create,
            description: format!(
                "create the Codex home folder `{}` (0700)",
                self.shown(&home.path)
            ),
            changes: vec![],
            op: Op::CreateHomeDir {
                home: crate::reconcile::HomeId::Named(home.name.clone()),
                path: home.path.clone(),
            },
        });
    }

    /// The alias a binding names, with the reason a pool picked it. `None` (an error is
    /// recorded) when a pool has no member to give.
    fn pick_alias(
        &mut self,
        home: &Home,
        obs: &HomeObs,
        binding: &Binding,
        taken: &mut BTreeSet<String>,
        address: &Address,
        settings: &Effective,
    ) -> Option<(String, Option<String>)> {
        let (pool, strategy, switch_below) = match binding {
            Binding::Account(alias) => return Some((alias.clone(), None)),
            Binding::Pool {
                pool,
                strategy,
                switch_below,
            } => (pool, *strategy, *switch_below),
        };
        let members = self.m.pools.get(pool).cloned().unwrap_or_default();
        let mut skipped: Vec<String> = Vec::new();
        let candidates: Vec<pool::Candidate> = members
            .iter()
            .map(|alias| self.candidate(alias, settings, &mut skipped))
            .collect();
        if !skipped.is_empty() {
            self.notes.push(Note {
                address: address.clone(),
                message: format!(
                    "pool `{pool}` skips for home `{}` what it cannot give it: {}",
                    home.name,
                    skipped.join("; ")
                ),
            });
        }
        let current = match &obs.auth {
            AuthObs::Credentials(c) => c.account_id(),
            _ => None,
        };
        match pool::pick(&candidates, strategy, switch_below, current, taken) {
            Ok(pick) => {
                if let Some(id) = &pick.account_id {
                    taken.insert(id.clone());
                }
                Some((pick.alias, Some(pick.reason)))
            }
            Err(why) => {
                self.error(
                    address.clone(),
                    format!(
                        "pool `{pool}` has no member for home `{}`: {why}",
                        home.name
                    ),
                    "add accounts to the pool, or log them in again (`cdxs login oauth`)",
                );
                None
            }
        }
    }

    /// A pool member as a candidate for this home; why it cannot be one goes into `skipped`.
    fn candidate(
        &self,
        alias: &str,
        settings: &Effective,
        skipped: &mut Vec<String>,
    ) -> pool::Candidate {
        let account_id = match self.resolve_quiet(alias) {
            Some(Target::Vault { account_id }) => Some(account_id),
            _ => None,
        };
        let account = account_id.as_deref().and_then(|id| self.o.account(id));
        // A member Codex would delete or leave unused in this home is skipped.
        let refused = account.and_then(|a| {
            settings
                .refusals(&login_of(
                    &Target::Vault {
                        account_id: a.id.clone(),
                    },
                    Some(a),
                ))
                .into_iter()
                .next()
        });
        if let Some(r) = &refused {
            skipped.push(format!("`{alias}` ({})", r.message()));
        }
        // A login live in a folder outside this manifest stays where it is.
        let outside = account.and_then(|a| self.live_outside(&a.id));
        if let Some(f) = &outside {
            skipped.push(format!(
                "`{alias}` (live in `{}`, outside this cdxs.yaml)",
                self.shown(f)
            ));
        }
        // And one live on another machine stays there.
        let away = account.and_then(|a| {
            crate::vault::placement::on_another_machine(&self.o.other_machines, &a.id)
        });
        if let Some(r) = away {
            skipped.push(format!("`{alias}` (live in {})", r.describe()));
        }
        pool::Candidate {
            alias: alias.to_string(),
            usable: refused.is_none()
                && outside.is_none()
                && away.is_none()
                && account.is_some_and(|a| a.has_credentials && !a.requires_reauth),
            remaining: account
                .and_then(|a| self.o.quota.get(&a.id))
                .and_then(|q| q.remaining()),
            account_id,
        }
    }

    /// Import a mounted auth file into the vault before it is written anywhere (once).
    fn import_first(&mut self, alias: &str, path: &std::path::Path) {
        if !self.imported.insert(alias.to_string()) {
            return;
        }
        self.reads.push(Action {
            address: Address::account(alias, AccountPart::Import),
            kind: ActionKind::Read,
            description: format!("import `{}` into the vault", path.display()),
            changes: vec![],
            op: Op::ImportAuthFile {
                alias: alias.to_string(),
                path: path.to_path_buf(),
            },
        });
    }

    /// Can the vault account be written? Plans a refresh of tokens about to expire and notes
    /// a login that needs re-authentication; `false` (an error) without credentials.
    fn usable(&mut self, a: &AccountObs, alias: &str, address: &Address) -> bool {
        if !a.has_credentials {
            self.error(
                address.clone(),
                format!("account `{alias}` ({}) has no stored credentials", a.name),
                "log in again with `cdxs login oauth` or import an auth.json",
            );
            return false;
        }
        self.refresh_if_expiring(alias, a, address);
        if a.requires_reauth {
            self.notes.push(Note {
                address: address.clone(),
                message: format!(
                    "account `{alias}` ({}) needs a new login: its refresh token was refused; run `cdxs login oauth`",
                    a.name
                ),
            });
        }
        true
    }

    /// The home already holds what it should: record it as the drift baseline if new.
    fn accept(&mut self, home: &Home, obs: &HomeObs, target: &Target) {
        let account_id = match target {
            Target::Vault { account_id } => Some(account_id.clone()),
            Target::Env { .. } => None,
        };
        let path = auth_path(&home.path);
        let known = self.o.baselines.get(&path).is_some_and(|b| {
            Some(&b.fingerprint) == obs.auth_fingerprint.as_ref() && b.account_id == account_id
        });
        if let (Some(fp), false) = (&obs.auth_fingerprint, known) {
            self.accepted.push(Accepted {
                home: home.name.clone(),
                path,
                fingerprint: fp.clone(),
                account_id,
            });
        }
    }

    fn write_auth(&mut self, home: &Home, obs: &HomeObs, address: Address, chosen: Chosen) {
        let Chosen {
            alias,
            reason,
            target,
            after,
            after_value,
        } = chosen;
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
                    "running Codex processes keep the old credentials until restarted: {} (restart them; for the daemon: `codex app-server daemon restart`; an app-server that `codex exec --remote` runs through serves its cached credentials to those clients until it restarts)",
                    obs.processes
                        .iter()
                        .map(|p| p.describe())
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
                before_value: auth_value(&obs.auth, self.o),
                after_value: Some(after_value),
                before: describe_auth(&obs.auth, self.o),
                after: Some(after),
                diff: None,
            }],
            op: Op::WriteAuth {
                home: crate::reconcile::HomeId::Named(home.name.clone()),
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
                any: false,
                switch: !refresh_only && matches!(obs.auth, AuthObs::Credentials(_)),
            },
        });
    }

    /// Point the home's `openai_base_url` at the bound account's endpoint, or take away one
    /// that cdxs put there for another account.
    pub(super) fn base_url(&mut self, home: &Home, obs: &HomeObs, alias: &str, want: Option<&str>) {
        let address = Address::home(&home.name, HomePart::BaseUrl);
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
                before_value: have.map(|u| ChangeValue::Setting {
                    value: config::display_url(u),
                }),
                after_value: url.as_deref().map(|u| ChangeValue::Setting {
                    value: config::display_url(u),
                }),
                before: have.map(config::display_url),
                after: url.as_deref().map(config::display_url),
                diff: self.config_diff(home, obs, url.as_deref()),
            }],
            op: Op::SetBaseUrl {
                home: crate::reconcile::HomeId::Named(home.name.clone()),
                path: home.path.clone(),
                url,
                expect: obs.config.fingerprint.clone(),
            },
        });
    }

    /// What setting `openai_base_url` does to the home's config.toml, as a diff (from the
    /// text observed; the same edit apply makes).
    fn config_diff(
        &self,
        home: &Home,
        obs: &HomeObs,
        url: Option<&str>,
    ) -> Option<crate::reconcile::text_diff::TextDiff> {
        let old = obs.config.text.as_deref().unwrap_or("");
        let new = config::with_base_url(old, url).ok()?;
        crate::reconcile::text_diff::between(
            &self.shown(&config::config_path(&home.path)),
            old,
            &new,
        )
    }

    /// A file cdxs wrote that now holds something else (not just newer tokens). A file that
    /// is gone is not drift: absent means absent, and the binding writes it again (under
    /// `watch.apply: safe` too).
    pub(super) fn drift(&mut self, home: &Home, obs: &HomeObs) {
        let path = auth_path(&home.path);
        let Some(base) = self.o.baselines.get(&path) else {
            return;
        };
        if obs.auth == AuthObs::Missing {
            return;
        }
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
        let now = describe_auth(&obs.auth, self.o).unwrap_or_default();
        self.drift.push(Drift {
            address: Address::home(&home.name, HomePart::Auth),
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

/// Does the file already hold the target? The same login with older tokens than the
/// vault's does not: the vault's newer copy is written.
fn holds_target(
    auth: &AuthObs,
    target: &Target,
    vault: Option<&AccountObs>,
    spent: &std::collections::BTreeSet<String>,
) -> bool {
    match (auth, target) {
        (AuthObs::Credentials(c), Target::Vault { account_id }) => {
            let holds = c.account_id() == Some(account_id.as_str())
                || matches!(c, CredObs::ChatGpt { identity_id, .. } | CredObs::ApiKey { identity_id, .. } if identity_id == account_id);
            match (holds, c, vault) {
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
                    // A spent token in the file is dead: the vault's copy goes in.
                    !spent.contains(refresh_fingerprint)
                        && (v.secret_fingerprint.as_deref() == Some(refresh_fingerprint.as_str())
                            || freshness::compare(&v.freshness, file) != Ordering::Greater)
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
    }
}

/// The redacted "after" side of a home's auth diff: the vault account as observed, the
/// key an environment variable holds, or an account the vault gets from an import first.
fn after_side(
    o: &Observed,
    alias: &str,
    r: &AccountRef,
    target: &Target,
    target_account: Option<&AccountObs>,
) -> (String, ChangeValue) {
    match (target, target_account) {
        (_, Some(a)) => (
            format!("{alias} = {}", describe_account(a, o)),
            account_value(a, o, Some(alias)),
        ),
        (
            Target::Env {
                var,
                key_fingerprint,
            },
            _,
        ) => (
            format!("{alias} = API key from ${var} ({key_fingerprint})"),
            ChangeValue::EnvKey {
                alias: alias.to_string(),
                var: var.clone(),
                key_fingerprint: key_fingerprint.clone(),
            },
        ),
        (Target::Vault { account_id }, None) => (
            format!("{alias} = {}", r.describe()),
            ChangeValue::Account {
                alias: Some(alias.to_string()),
                id: Some(account_id.clone()),
                name: None,
                kind: None,
                email: None,
                plan_type: None,
                key_fingerprint: None,
                five_hour_left: None,
                weekly_left: None,
                in_vault: false,
            },
        ),
    }
}
