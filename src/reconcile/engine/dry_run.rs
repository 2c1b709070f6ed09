//! `--dry-run` on every command that writes: the executor's door is the one place every
//! write passes, so that is where a dry run stops. The plan handed to the door is kept for
//! the shell to show, and the command ends there with [`Error::DryRun`]: nothing after the
//! door runs, so nothing is written (the network is asked only to read, as `plan` does).

use super::Engine;
use crate::error::{Error, Result};
use crate::reconcile::Plan;

#[derive(Debug, Default)]
pub(super) struct DryRun {
    on: bool,
    /// The plan that reached the door.
    stopped_at: Option<Plan>,
    /// Steps a command takes before its own write (the harvest before a push): shown
    /// first in the plan it stops at.
    before: Vec<crate::reconcile::Action>,
}

impl Engine {
    /// `--dry-run`: stop at the executor's door and keep the plan.
    pub fn set_dry_run(&mut self, on: bool) {
        self.dry_run.on = on;
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run.on
    }

    /// The plan a dry run stopped at, for the shell to show.
    pub fn take_dry_run_plan(&mut self) -> Option<Plan> {
        self.dry_run.stopped_at.take()
    }

    /// The door: under `--dry-run`, keep `plan` and stop the command.
    pub(super) fn dry_run_gate(&mut self, plan: &Plan) -> Result<()> {
        if !self.dry_run.on {
            return Ok(());
        }
        if self.dry_run.stopped_at.is_none() {
            let mut shown = plan.clone();
            let before = std::mem::take(&mut self.dry_run.before);
            shown.actions.splice(0..0, before);
            self.dry_run.stopped_at = Some(shown);
        }
        Err(Error::DryRun)
    }

    /// Under `--dry-run`: steps that would run before the command's own write.
    pub(super) fn dry_run_before(&mut self, actions: Vec<crate::reconcile::Action>) {
        self.dry_run.before.extend(actions);
    }
}
