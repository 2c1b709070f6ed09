//! Codex's own settings in a home, as plan judges them: a home that declares
//! `codex_config: { cli_auth_credentials_store: file }` gets the key written into its
//! config.toml; a bound home whose settings make Codex ignore, delete or leave unused the
//! auth.json cdxs would write is an error on the home's address (nothing is written there).

use super::Planner;
use super::resolve::Target;
use crate::codex::config;
use crate::codex::settings::{Effective, Login};
use crate::manifest::Home;
use crate::reconcile::observe::{AccountObs, HomeObs};
use crate::reconcile::{Action, ActionKind, Change, ChangeValue, Op};
use crate::reconcile::{Address, HomePart};
use crate::vault::AccountKind;

/// The kind of login a target is, as Codex's settings judge it.
pub(super) fn login_of(target: &Target, account: Option<&AccountObs>) -> Login {
    match (target, account) {
        (Target::Env { .. }, _) => Login::ApiKey,
        (_, Some(a)) if a.kind == AccountKind::ApiKey => Login::ApiKey,
        (_, a) => Login::ChatGpt {
            workspace: a.and_then(|a| a.workspace.clone()),
        },
    }
}

impl Planner<'_> {
    /// The settings Codex acts on in `home` once this plan ran: the store cdxs writes into
    /// its config.toml when the home declares it.
    pub(super) fn settings_after(&self, home: &Home, obs: &HomeObs) -> Effective {
        if home.store_file && obs.config.error.is_none() {
            let place = config::config_path(&home.path).display().to_string();
            obs.config.settings.with_home_store_file(&place)
        } else {
            obs.config.settings.clone()
        }
    }

    /// Will Codex read an auth.json in this home at all? An error on `address` (and
    /// `false`) when a layer Codex cannot read makes its settings unknown, or when the
    /// credential store is not the file.
    pub(super) fn codex_reads_auth_json(
        &mut self,
        settings: &Effective,
        address: &Address,
    ) -> bool {
        if let Some(b) = settings.broken.first() {
            self.error(
                address.clone(),
                format!(
                    "cannot tell whether Codex reads auth.json in this home: `{}` ({}) {}; Codex itself does not start until it is fixed",
                    b.from.place,
                    b.from.layer.name(),
                    b.why
                ),
                "fix that file, then plan again",
            );
            return false;
        }
        match settings.store_refusal() {
            None => true,
            Some(r) => {
                self.error(
                    address.clone(),
                    format!(
                        "Codex would not use the auth.json cdxs writes here: {}",
                        r.message()
                    ),
                    &r.fix,
                );
                false
            }
        }
    }

    /// `codex_config: { cli_auth_credentials_store: file }`: write the key where the home's
    /// config.toml lacks it or says otherwise.
    pub(super) fn codex_config(&mut self, home: &Home, obs: &HomeObs) {
        if !home.store_file || obs.config.credentials_store.as_deref() == Some("file") {
            return;
        }
        let address = Address::home(&home.name, HomePart::CodexConfig);
        if let Some(why) = &obs.config.error {
            self.error(
                address,
                format!(
                    "cannot read this home's config.toml to set `cli_auth_credentials_store`: {why}"
                ),
                "fix config.toml (Codex cannot read it either), then plan again",
            );
            return;
        }
        let have = obs.config.credentials_store.clone();
        let old = obs.config.text.as_deref().unwrap_or("");
        let diff = config::with_key(old, config::STORE_KEY, Some("file"))
            .ok()
            .and_then(|new| {
                crate::reconcile::text_diff::between(
                    &self.shown(&config::config_path(&home.path)),
                    old,
                    &new,
                )
            });
        self.writes.push(Action {
            address,
            kind: if have.is_some() {
                ActionKind::Update
            } else {
                ActionKind::Create
            },
            description:
                "set `cli_auth_credentials_store = \"file\"` in config.toml: Codex reads the auth.json cdxs writes"
                    .into(),
            changes: vec![Change {
                field: config::STORE_KEY.into(),
                before_value: have.clone().map(|value| ChangeValue::Setting { value }),
                after_value: Some(ChangeValue::Setting {
                    value: "file".into(),
                }),
                before: have,
                after: Some("file".into()),
                diff,
            }],
            op: Op::SetCredentialsStore {
                home: crate::reconcile::HomeId::Named(home.name.clone()),
                path: home.path.clone(),
                expect: obs.config.fingerprint.clone(),
            },
        });
    }
}
