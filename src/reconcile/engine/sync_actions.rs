//! `sync.targets` in the plan (SPEC 8): `sync.<target>.pull` when the server has revisions
//! this machine has not seen, `sync.<target>.push` when the vault has changes the server
//! has not. They run outside the locks of the local actions (a pull merges under the vault
//! lock itself, and the network is never waited on under a lock): pulls first, so that
//! what they bring is in the vault before the homes are written; pushes last, so that
//! tokens refreshed meanwhile go up. A failed push or pull is a warning (local work never
//! waits on sync): the local actions run on what this machine has, and the next plan has
//! the sync actions again.

use super::{Engine, Progress};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::reconcile::apply::Done;
use crate::reconcile::observe::Scope;
use crate::reconcile::{Action, Op, Plan};
use crate::sync::plan::Direction;

impl Engine {
    /// The declared targets, observed: only for a plan of every home, and the server is
    /// asked for its revision only when online.
    pub(super) fn observe_sync(
        &self,
        m: &Manifest,
        scope: &Scope,
    ) -> Result<Vec<crate::sync::plan::Observed>> {
        if scope.homes.is_some() || m.sync.is_empty() {
            return Ok(Vec::new());
        }
        crate::sync::plan::observe(&self.vault, &m.sync, self.online && !scope.offline)
    }

    /// Run the pulls, or the pushes, of `actions`; what each did.
    pub(super) fn run_sync(
        &mut self,
        actions: &[Action],
        direction: Direction,
        progress: &mut dyn Progress,
    ) -> Result<Vec<Done>> {
        let mut done = Vec::new();
        for a in actions {
            let Op::Sync {
                target,
                direction: d,
            } = &a.op
            else {
                continue;
            };
            if *d != direction {
                continue;
            }
            progress.action(a);
            let one = crate::sync::plan::Action {
                address: a.address.to_string(),
                target: target.clone(),
                direction: *d,
                description: a.description.clone(),
            };
            let now = self.clock.ts();
            let ran = self.journaled_sync(
                "apply",
                target,
                *d,
                |vault| crate::sync::plan::apply(vault, &one, now),
                |message| Some(message.clone()),
            );
            match ran {
                Ok(message) => done.push(Done {
                    address: a.address.clone(),
                    message,
                    backup: None,
                    account: None,
                    imported: None,
                }),
                Err(e) => {
                    progress.warn(format!("{}: {}", a.address, e.full_message()));
                }
            }
        }
        Ok(done)
    }
}

/// Take the sync actions out of `plan`.
pub(super) fn take_sync(plan: &mut Plan) -> Vec<Action> {
    let mut out = Vec::new();
    plan.actions.retain(|a| {
        let sync = matches!(a.op, Op::Sync { .. });
        if sync {
            out.push(a.clone());
        }
        !sync
    });
    out
}

impl Engine {
    /// Run one sync operation (`sync pull|push`, or a plan's `sync.T.pull|push`) and journal
    /// it as a generation of its own when it changed something or failed: `history` lists
    /// it, and marks that rollback cannot undo it. The operation takes the vault lock itself
    /// where it merges; the journal is written under the lock afterwards, never while the
    /// network is waited on.
    pub fn journaled_sync<T>(
        &mut self,
        command: &str,
        target: &str,
        direction: Direction,
        run: impl FnOnce(&mut crate::vault::Vault) -> Result<T>,
        changed: impl Fn(&T) -> Option<String>,
    ) -> Result<T> {
        let push = direction == Direction::Push;
        if self.dry_run() {
            let action = self.sync_action(target, push)?;
            self.dry_run_gate(&crate::reconcile::ops::plan_of(vec![action]))?;
        }
        let started = self.clock.ts();
        let result = run(&mut self.vault);
        let (description, error) = match &result {
            Ok(r) => match changed(r) {
                Some(message) => (message, None),
                None => return result,
            },
            Err(e) => {
                let verb = if push { "push to" } else { "pull from" };
                (format!("{verb} {target}"), Some(e.full_message()))
            }
        };
        let op = Op::Sync {
            target: target.to_string(),
            direction,
        };
        let address = crate::reconcile::Address::Sync {
            target: target.to_string(),
            push,
        };
        let description = match op.irreversible() {
            Some(why) => crate::vault::journal::not_undone(&description, why),
            None => description,
        };
        let action = (address.to_string(), "update".to_string(), description);
        let _lock = crate::vault::lock::vault(&self.state_dir, &format!("cdxs {command}"))?;
        self.vault
            .record_finished(command, action, started, error.as_deref(), self.clock.ts())?;
        result
    }
}

impl Engine {
    /// The plan action of a sync command (what `--dry-run` shows): how many accounts wait
    /// to go up, or where the pull starts.
    fn sync_action(&self, target: &str, push: bool) -> Result<Action> {
        let t = self.vault.sync_target(target)?;
        let description = match (&t, push) {
            (Some(t), true) => format!(
                "pull what `{target}` has since revision {}, merge, then push {} changed account(s)",
                t.revision,
                crate::sync::ops::pending(&self.vault, t)?.unwrap_or(0)
            ),
            (Some(t), false) => format!(
                "pull what `{target}` has since revision {} and merge it into the vault",
                t.revision
            ),
            (None, _) => format!("sync with `{target}`"),
        };
        Ok(Action {
            address: crate::reconcile::Address::Sync {
                target: target.to_string(),
                push,
            },
            kind: crate::reconcile::ActionKind::Update,
            description,
            changes: vec![],
            op: Op::Sync {
                target: target.to_string(),
                direction: if push {
                    Direction::Push
                } else {
                    Direction::Pull
                },
            },
        })
    }

    /// `sync push`, journaled ([`Engine::journaled_sync`]).
    pub fn sync_push(
        &mut self,
        target: Option<&str>,
        force: bool,
    ) -> Result<crate::sync::ops::PushReport> {
        let name = crate::sync::ops::pick_target(&self.vault, target)?.name;
        let now = self.clock.ts();
        self.journaled_sync(
            "sync push",
            &name,
            Direction::Push,
            |vault| crate::sync::ops::push(vault, target, force, now),
            |r| {
                (r.pushed + r.deleted > 0).then(|| {
                    format!(
                        "pushed {} account(s) and {} deletion(s) to {name}: revision {}",
                        r.pushed, r.deleted, r.revision
                    )
                })
            },
        )
    }

    /// `sync pull`, journaled ([`Engine::journaled_sync`]).
    pub fn sync_pull(
        &mut self,
        target: Option<&str>,
        force: bool,
    ) -> Result<crate::sync::ops::PullReport> {
        let name = crate::sync::ops::pick_target(&self.vault, target)?.name;
        let now = self.clock.ts();
        self.journaled_sync(
            "sync pull",
            &name,
            Direction::Pull,
            |vault| crate::sync::ops::pull(vault, target, force, now),
            |r| {
                (r.created + r.updated + r.deleted > 0).then(|| {
                    format!(
                        "pulled from {name} to revision {}: {} new, {} updated, {} removed",
                        r.revision, r.created, r.updated, r.deleted
                    )
                })
            },
        )
    }
}
