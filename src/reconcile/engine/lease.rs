//! Refreshes of synced ChatGPT logins run under the sync lease (SPEC 8): Codex rotates
//! refresh tokens, so two machines refreshing one login at once would leave one of them
//! logged out. Every flow that refreshes (`apply`, `watch`, `refresh-token`, quota on a
//! 401, `sync refresh`) goes through the engine, so this is the one place that takes it.
//!
//! The lease may wait for another machine, and a pull merges under the vault lock, so the
//! leased refreshes are taken out of the plan and run after the rest, each outside the
//! locks the rest held: take the lease, pull (someone may have refreshed already), refresh
//! under the locks as usual, push the new tokens, release.

use std::path::PathBuf;
use std::sync::Arc;

use super::{Engine, EnvLookup, Progress};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::reconcile::apply::{self, ApplyEnv, Done, Report};
use crate::reconcile::{Action, Op, Plan};
use crate::sync::{Guarded, LeaseOptions};
use crate::vault::{Account, AccountKind, Vault};

impl Engine {
    /// Take out of `plan` the refreshes that must run under the lease (none when this
    /// machine does not sync accounts).
    pub(super) fn take_leased(&self, plan: &mut Plan) -> Result<Vec<Action>> {
        let refreshes = plan
            .actions
            .iter()
            .any(|a| matches!(a.op, Op::Refresh { .. }));
        if !refreshes || !crate::sync::lease::syncing(&self.vault)? {
            return Ok(Vec::new());
        }
        let oauth: Vec<String> = self
            .vault
            .accounts()?
            .into_iter()
            .filter(|a| a.kind == AccountKind::OAuth)
            .map(|a| a.id)
            .collect();
        let mut leased = Vec::new();
        plan.actions.retain(|a| match &a.op {
            Op::Refresh { account_id, .. } if oauth.contains(account_id) => {
                leased.push(a.clone());
                false
            }
            _ => true,
        });
        Ok(leased)
    }

    /// Run each leased refresh (see the module doc); what each did.
    pub(super) fn run_leased(
        &mut self,
        m: Option<&Manifest>,
        actions: Vec<Action>,
        command: &str,
        progress: &mut dyn Progress,
    ) -> Result<Vec<Done>> {
        let known = self.known_homes(m);
        let run = LeasedRun {
            x: Exec {
                state_dir: &self.state_dir,
                clock: self.clock.as_ref(),
                env: &self.env,
                known: &known,
                refresh_window: self.refresh_window,
            },
            clock: self.clock.clone(),
            command,
        };
        let mut out = Vec::new();
        let mut unleased = Unleased::default();
        for action in actions {
            let Op::Refresh { account_id, force } = &action.op else {
                continue;
            };
            let account = self
                .vault
                .account(account_id)?
                .ok_or_else(|| Error::user(format!("no account `{account_id}` in the vault")))?;
            let opts = LeaseOptions {
                bound_here: crate::sync::lease::bound_here(m, &self.vault, &account),
                force: *force,
                ..LeaseOptions::default()
            };
            let guarded = run.refresh(&mut self.vault, &account, &opts, progress)?;
            let (report, message) =
                run.said(&mut self.vault, guarded, &account, progress, &mut unleased)?;
            for mut d in report.done {
                if let Some(m) = &message {
                    d.message = m.clone();
                }
                out.push(d);
            }
        }
        unleased.warn(progress);
        Ok(out)
    }
}

/// When the sync server fails, each bound login is refreshed here, and that is said once,
/// not once per login: why it failed, and the logins refreshed without the lease.
#[derive(Default)]
struct Unleased {
    why: Option<String>,
    names: Vec<String>,
}

impl Unleased {
    fn warn(self, progress: &mut dyn Progress) {
        if let Some(why) = self.why {
            progress.warn(format!(
                "{why}; refreshed {} on this machine without the sync lease: `cdxs sync push` sends the new tokens when the server is back",
                self.names.join(", ")
            ));
        }
    }
}

/// What each leased refresh needs besides the vault: the executor, the clock the lease
/// counts by, and the command that runs it.
struct LeasedRun<'a> {
    x: Exec<'a>,
    clock: Arc<dyn Clock>,
    command: &'a str,
}

impl LeasedRun<'_> {
    /// Refresh `account` under the lease (`opts`): done here, by another machine, or here
    /// without the lease.
    fn refresh(
        &self,
        vault: &mut Vault,
        account: &Account,
        opts: &LeaseOptions,
        progress: &mut dyn Progress,
    ) -> Result<Guarded<Report>> {
        let (clock, window) = (self.clock.clone(), self.x.refresh_window);
        let expiring = move |a: &Account| {
            a.access_expires_at
                .is_none_or(|exp| exp.saturating_sub(clock.ts()) < window)
        };
        let single = crate::reconcile::ops::refresh(&account.id, opts.force);
        let clock = self.clock.clone();
        crate::sync::refresh_guard(
            vault,
            &account.id,
            opts,
            expiring,
            |v| self.x.run(v, &single, self.command, progress),
            move || clock.ts(),
        )
    }

    /// What the guarded refresh did, and the line that says it (a new login another
    /// machine refreshed is written into the homes here that hold it).
    fn said(
        &self,
        vault: &mut Vault,
        guarded: Guarded<Report>,
        account: &Account,
        progress: &mut dyn Progress,
        unleased: &mut Unleased,
    ) -> Result<(Report, Option<String>)> {
        let name = account.name().to_string();
        Ok(match guarded {
            Guarded::Refreshed {
                result,
                warning: None,
            } => (
                result,
                Some(format!(
                    "refreshed {name} under the sync lease and pushed the new tokens"
                )),
            ),
            Guarded::Refreshed {
                result,
                warning: Some(w),
            } => {
                progress.warn(format!("{name}: {w}"));
                (
                    result,
                    Some(format!("refreshed {name} under the sync lease")),
                )
            }
            Guarded::TookNewer => {
                // Written into the homes here that hold the login (no refresh: fresh).
                let again = crate::reconcile::ops::refresh(&account.id, false);
                (
                    self.x.run(vault, &again, self.command, progress)?,
                    Some(format!(
                        "another machine refreshed {name} meanwhile; took its new tokens"
                    )),
                )
            }
            Guarded::Unsynced(r) => (r, None),
            Guarded::Local { result, why } => {
                unleased.why.get_or_insert(why);
                unleased.names.push(name.clone());
                (
                    result,
                    Some(format!(
                        "refreshed {name} here (it is bound on this machine) without the sync lease: the sync server failed"
                    )),
                )
            }
        })
    }
}

/// What running a plan needs besides the vault (borrowed apart from it, so a leased
/// refresh can run with the vault the lease holds).
pub(super) struct Exec<'a> {
    pub state_dir: &'a std::path::Path,
    pub clock: &'a dyn Clock,
    pub env: &'a EnvLookup,
    pub known: &'a [PathBuf],
    /// The refresh window the plan was made with.
    pub refresh_window: i64,
}

impl Exec<'_> {
    /// Take the locks, run `plan` with the one executor, release.
    pub fn run(
        &self,
        vault: &mut Vault,
        plan: &Plan,
        command: &str,
        progress: &mut dyn Progress,
    ) -> Result<Report> {
        let holder = format!("cdxs {command}");
        let held = apply::lock_for(plan, self.state_dir, &holder, vault, self.known)?;
        let env_fn = self.env.clone();
        let lookup = move |v: &str| env_fn(v);
        let env = ApplyEnv {
            state_dir: self.state_dir,
            clock: self.clock,
            command,
            env: &lookup,
            known_homes: self.known.to_vec(),
            rollback_of: None,
            refresh_window: self.refresh_window,
        };
        progress.start(plan.actions.len());
        let report = apply::apply(plan, vault, &env, &mut |a| progress.action(a));
        progress.finish();
        drop(held);
        report
    }
}
