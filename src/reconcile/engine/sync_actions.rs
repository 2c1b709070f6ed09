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
            match crate::sync::plan::apply(&mut self.vault, &one, self.clock.ts()) {
                Ok(message) => done.push(Done {
                    address: a.address.clone(),
                    message,
                    backup: None,
                    account: None,
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
