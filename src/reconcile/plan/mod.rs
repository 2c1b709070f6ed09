//! `plan(manifest, observed, inputs) -> Plan`: pure, no I/O, no clock, no environment (the
//! time, the refresh window and the home folder for `~` come in as [`Inputs`]).
//!
//! Order of actions: folders first, then imports and harvests (the vault takes newer tokens
//! before anything is overwritten), then refreshes, then writes (config.toml endpoints and
//! auth.json), then session actions.
//!
//! `resolve`: which account an alias names; `tokens`: harvests and refreshes; `home`: one
//! home's folder, drift, binding and endpoint; `pool`: picking a pool member; `sessions`:
//! session policies; `describe`: redacted one-line descriptions.

use crate::reconcile::{Address, HomePart};
use std::collections::{BTreeMap, BTreeSet};

use super::observe::Observed;
use super::{Action, ActionKind, Drift, HomeFingerprint, Note, Op, Plan, PlanError};
use crate::manifest::{Binding, Manifest};

mod codex_settings;
mod describe;
mod home;
mod one_copy;
mod pool;
mod resolve;
mod sessions;
mod tokens;

use resolve::Target;

/// The planner's working state: actions by phase, and what was already planned (each
/// import, harvest and refresh happens once even when several homes need it).
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
    /// Accounts whose newer tokens are taken from a home, with that copy's freshness (a
    /// refresh is decided on the copy the vault will hold by then).
    harvested: BTreeMap<String, crate::vault::freshness::Freshness>,
    refreshed: BTreeSet<String>,
    refreshes: Vec<Action>,
    accepted: Vec<super::Accepted>,
    now: i64,
    inputs: &'a Inputs,
}

/// What plan needs besides the manifest and the observation.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Unix time of the plan.
    pub now: i64,
    /// A login written into a home is refreshed first when it expires within this many
    /// seconds.
    pub refresh_window: i64,
    /// The user's home folder, to show paths as `~/...`.
    pub home_dir: Option<std::path::PathBuf>,
}

impl Inputs {
    /// The plan inputs at `now` with Codex's refresh window (tests).
    pub fn at(now: i64) -> Inputs {
        Inputs {
            now,
            refresh_window: crate::auth::refresh::REFRESH_WINDOW_SECS,
            home_dir: None,
        }
    }
}

pub fn plan(m: &Manifest, o: &Observed, inputs: &Inputs) -> Plan {
    let mut p = Planner::new(m, o, inputs);
    let mut observed = BTreeMap::new();
    // Harvest first, from every declared home: the vault must hold the newest tokens
    // before any file is written or any account is picked.
    for (name, _) in &m.homes {
        if let Some(obs) = o.homes.get(name) {
            p.harvest_from(name, obs);
        }
    }
    // A ChatGPT login in a mounted auth file bound to two homes (validation cannot know
    // what the file holds: plan observed it).
    p.auth_files_bound_once();
    let mut taken = p.bound_directly();
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
    p.copies_already_live();
    p.one_live_copy();
    let sessions = sessions::actions(m, o, inputs.now, &mut p.notes);
    // Where this machine has its ChatGPT logins live changes: the other machines hear it.
    let logins_move = p
        .writes
        .iter()
        .any(|a| matches!(a.op, Op::RemoveAuth { .. }) || one_copy::login_written(a, &p).is_some());
    let mut actions = p.dirs;
    actions.extend(p.reads);
    actions.extend(p.refreshes);
    actions.extend(p.writes);
    actions.extend(sessions);
    actions.extend(sync_actions(o, logins_move));
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

/// What the sync targets need (pushes and pulls), after everything else; a push when
/// `logins_move` (where this machine has its logins live changes).
fn sync_actions(o: &Observed, logins_move: bool) -> Vec<Action> {
    crate::sync::plan::actions_with(&o.sync, logins_move)
        .into_iter()
        .map(|a| Action {
            address: Address::Sync {
                target: a.target.clone(),
                push: a.direction == crate::sync::plan::Direction::Push,
            },
            kind: ActionKind::Update,
            description: a.description,
            changes: vec![],
            op: Op::Sync {
                target: a.target,
                direction: a.direction,
            },
        })
        .collect()
}

impl<'a> Planner<'a> {
    fn new(m: &'a Manifest, o: &'a Observed, inputs: &'a Inputs) -> Planner<'a> {
        Planner {
            m,
            o,
            dirs: Vec::new(),
            reads: Vec::new(),
            writes: Vec::new(),
            drift: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
            imported: BTreeSet::new(),
            harvested: BTreeMap::new(),
            refreshed: BTreeSet::new(),
            refreshes: Vec::new(),
            accepted: Vec::new(),
            now: inputs.now,
            inputs,
        }
    }

    /// Accounts directly bound somewhere: pools may not pick them.
    fn bound_directly(&self) -> BTreeSet<String> {
        let mut taken = BTreeSet::new();
        for home in self.m.homes.values() {
            if let Some(Binding::Account(alias)) = &home.binding
                && let Some(Target::Vault { account_id }) = self.resolve_quiet(alias)
            {
                taken.insert(account_id);
            }
        }
        taken
    }
}

impl Planner<'_> {
    fn auth_files_bound_once(&mut self) {
        use crate::manifest::AccountRef;
        use crate::reconcile::observe::{CredObs, FileObs};
        let mut first: BTreeMap<&std::path::Path, &str> = BTreeMap::new();
        for home in self.m.homes.values() {
            let Some(Binding::Account(alias)) = &home.binding else {
                continue;
            };
            let Some(AccountRef::AuthFile(path)) = self.m.accounts.get(alias) else {
                continue;
            };
            if !matches!(
                self.o.auth_files.get(path),
                Some(FileObs::Credentials(CredObs::ChatGpt { .. }))
            ) {
                continue;
            }
            if let Some(other) = first.insert(path, &home.name) {
                self.error(
                    Address::home(&home.name, HomePart::Auth),
                    format!(
                        "`{alias}` ({}) holds a ChatGPT login and is bound to homes `{other}` and `{}`: two live copies of one login end in `refresh_token_reused`",
                        path.display(),
                        home.name
                    ),
                    "bind it to one home only; give the other home its own account",
                );
                first.insert(path, other);
            }
        }
    }

    /// A path for the person (`~/...`), without reading the environment.
    fn shown(&self, path: &std::path::Path) -> String {
        crate::paths::display_with(path, self.inputs.home_dir.as_deref())
    }

    fn error(&mut self, address: Address, message: String, help: &str) {
        self.errors.push(PlanError {
            address,
            message,
            help: help.to_string(),
        });
    }
}

#[cfg(test)]
mod tests;
