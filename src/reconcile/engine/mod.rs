//! `reconcile::Engine`: the one pipeline every command and `watch` run on.
//!
//! observe (all reads, the quota fetch included) -> plan (pure) -> apply (locks, a re-plan
//! or a stale check under them, the one executor, the journal). The engine never prints:
//! what a person should see comes back as values, and live progress goes through
//! [`Progress`]. Its clock is read at every use.

use std::path::PathBuf;
use std::sync::Arc;

use super::apply::{self, ApplyEnv, Report};
use super::observe::{self, Observed, Scope};
use super::plan::Inputs;
use super::{ActionKind, Plan};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::sync::plan::Direction;
use crate::vault::Vault;

mod dry_run;
mod imperative;
mod lease;
mod manifest_edit;
mod quota;
mod sync_actions;
mod vault_ops;

pub use imperative::{SwitchTo, Switched, Target};
pub use manifest_edit::ManifestEdit;
pub use quota::QuotaError;

/// Environment lookups (`api_key_env`), injectable for tests.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Live feedback while the engine works (the CLI draws bars and status lines; watch logs).
pub trait Progress {
    /// An apply is about to run `n` actions.
    fn start(&mut self, _n: usize) {}
    /// One action is about to run.
    fn action(&mut self, _a: &super::Action) {}
    fn finish(&mut self) {}
    /// Something went wrong that does not stop the command (a quota fetch failed).
    fn warn(&mut self, _message: String) {}
    /// Something worth a line in verbose output.
    fn detail(&mut self, _message: String) {}
    /// A status line (what was picked, what happened first).
    fn status(&mut self, _message: String) {}
}

/// Progress nobody watches.
pub struct Quiet;

impl Progress for Quiet {}

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub scope: Scope,
    /// Only actions at or under these addresses (`--target`).
    pub targets: Vec<String>,
}

/// Whether a person reviewed the plan (a saved plan, or one confirmed at the prompt): such a
/// plan is refused when the world changed; an unreviewed one is made again under the locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    Unreviewed,
    Confirmed,
    Saved,
}

/// How to apply.
pub struct ApplyOptions {
    /// `apply`, `switch`, `run`, ... (recorded in the journal).
    pub command: String,
    pub review: Review,
    /// What the plan was made from (to make it again under the locks).
    pub request: Request,
    /// The command's edit of cdxs.yaml: the first write of the generation.
    pub manifest_edit: Option<ManifestEdit>,
    /// The generation this rolls back.
    pub rollback_of: Option<i64>,
    /// What of a plan made again under the locks may run (`watch` holds back drift and
    /// switches under a running turn); `None`: all of it.
    pub select: Option<Selector>,
}

/// Filters a plan made again under the locks, given what was observed then.
pub type Selector = Box<dyn Fn(Plan, &Observed) -> Plan>;

impl ApplyOptions {
    pub fn new(command: &str, review: Review, request: Request) -> Self {
        ApplyOptions {
            command: command.to_string(),
            review,
            request,
            manifest_edit: None,
            rollback_of: None,
            select: None,
        }
    }
}

/// What an apply did.
#[derive(Debug)]
pub struct Applied {
    /// The plan that ran (made again under the locks when the world had changed).
    pub plan: Plan,
    pub report: Report,
    /// Why the plan was made again, when it was.
    pub replanned: Option<String>,
}

/// Fields are private: what changes the vault, a home or the journal goes through the
/// executor ([`Engine::apply`], [`Engine::run`] and the one-operation plans built on them);
/// commands read through [`Engine::vault`].
pub struct Engine {
    pub(in crate::reconcile) state_dir: PathBuf,
    vault: Vault,
    clock: Arc<dyn Clock>,
    env: EnvLookup,
    /// May call the network (quota, token refresh); `--offline` turns it off.
    pub(in crate::reconcile) online: bool,
    /// A login is refreshed when it expires within this many seconds: Codex's own 5
    /// minutes, or `watch.refresh_before_expiry` under watch. The planner, the executor and
    /// the refresh lease all decide by this one window
    /// ([`crate::vault::freshness::refresh_due`]).
    pub(in crate::reconcile) refresh_window: i64,
    /// The last time a request could not reach its endpoint, and why (`watch` backs off);
    /// cleared by a request that got an answer.
    pub(in crate::reconcile) network_error: Option<String>,
    /// `--dry-run`: the executor's door keeps the plan it is handed and stops the command
    /// ([`Engine::dry_run_gate`]).
    dry_run: dry_run::DryRun,
}

impl Engine {
    pub fn open(state_dir: PathBuf, clock: Arc<dyn Clock>) -> Result<Engine> {
        let vault = Vault::open(&state_dir)?;
        Ok(Engine {
            state_dir,
            vault,
            clock,
            env: Arc::new(|v: &str| std::env::var(v).ok()),
            online: true,
            refresh_window: crate::auth::refresh::REFRESH_WINDOW_SECS,
            network_error: None,
            dry_run: dry_run::DryRun::default(),
        })
    }

    /// The vault, to read.
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// The vault, to change, for what does not run through the executor yet: sync's pull
    /// and push (they take the vault lock themselves), `vault import` and backup purges.
    pub fn vault_mut(&mut self) -> &mut Vault {
        &mut self.vault
    }

    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    pub fn now(&self) -> i64 {
        self.clock.ts()
    }

    /// Every home cdxs knows: the manifest's and the default one.
    pub fn known_homes(&self, m: Option<&Manifest>) -> Vec<PathBuf> {
        crate::auth::refresh::known_homes(m)
    }

    /// Read everything a plan needs. Stale quota of the pools in scope is fetched first
    /// (unless offline); failures are warned about and the cache is used.
    pub fn observe(
        &mut self,
        m: &Manifest,
        scope: &Scope,
        progress: &mut dyn Progress,
    ) -> Result<Observed> {
        if self.online && !scope.offline {
            let ids = self.pool_accounts(m, scope.homes.as_deref())?;
            self.refresh_stale_quota(Some(m), &ids, false, false, progress)?;
        }
        let mut o = self.observe_cached(m, scope, progress)?;
        o.sync = self.observe_sync(m, scope)?;
        Ok(o)
    }

    /// [`Engine::observe`] without any network (under held locks, and for `status`).
    pub fn observe_cached(
        &mut self,
        m: &Manifest,
        scope: &Scope,
        progress: &mut dyn Progress,
    ) -> Result<Observed> {
        let env = self.env.clone();
        let mut scope = scope.clone();
        scope.offline |= !self.online;
        let o = observe::observe(m, &self.vault, &move |v| env(v), &scope)?;
        if !o.sessions.is_empty() {
            progress.detail(format!(
                "observed sessions of {} home(s); read {} rollout head(s) from disk",
                o.sessions.len(),
                o.heads_read
            ));
        }
        Ok(o)
    }

    /// What plan needs besides the manifest and the observation, now.
    pub fn plan_inputs(&self) -> Inputs {
        Inputs {
            now: self.now(),
            refresh_window: self.refresh_window,
            home_dir: crate::paths::home_dir().ok(),
        }
    }

    /// observe -> plan -> `--target`.
    pub fn plan(
        &mut self,
        m: &Manifest,
        req: &Request,
        progress: &mut dyn Progress,
    ) -> Result<Plan> {
        m.require_expanded()?;
        let o = self.observe(m, &req.scope, progress)?;
        let mut plan = super::plan::plan(m, &o, &self.plan_inputs());
        plan.retain_targets(&req.targets);
        Ok(plan)
    }

    fn plan_cached(&mut self, m: &Manifest, req: &Request) -> Result<(Plan, Observed)> {
        let o = self.observe_cached(m, &req.scope, &mut Quiet)?;
        let mut plan = super::plan::plan(m, &o, &self.plan_inputs());
        plan.retain_targets(&req.targets);
        Ok((plan, o))
    }

    /// Apply `plan` (made from `m`): take the locks, look again, then run it. A plan nobody
    /// reviewed is made again under the locks when the world changed while it waited (two
    /// concurrent `apply --yes` both succeed, the second finding less to do); a reviewed one
    /// is refused as stale.
    pub fn apply(
        &mut self,
        m: &Manifest,
        plan: Plan,
        opts: ApplyOptions,
        progress: &mut dyn Progress,
    ) -> Result<Applied> {
        m.require_expanded()?;
        let mut plan = plan;
        if let Some(edit) = &opts.manifest_edit {
            plan.actions.insert(0, edit.action());
        }
        self.dry_run_gate(&plan)?;
        let sync = sync_actions::take_sync(&mut plan);
        let mut pulled = self.run_sync(&sync, Direction::Pull, progress)?;
        let holder = format!("cdxs {}", opts.command);
        let known = self.known_homes(Some(m));
        let mut held = apply::lock_for(&plan, &self.state_dir, &holder, &self.vault, &known)?;
        let mut manifest = m.clone();
        let mut replanned = None;
        if let Some((current, again, why)) = self.look_again(m, &plan, &opts)? {
            // The new plan may write in more folders: lock those too.
            held.extend(&again, &self.state_dir, &holder, &self.vault, &known)?;
            manifest = current;
            plan = again;
            replanned = Some(why);
        }
        let leased = self.take_leased(&mut plan)?;
        let env_fn = self.env.clone();
        let lookup = move |v: &str| env_fn(v);
        let env = ApplyEnv {
            state_dir: &self.state_dir,
            clock: self.clock.as_ref(),
            command: &opts.command,
            env: &lookup,
            known_homes: known,
            rollback_of: opts.rollback_of,
            refresh_window: self.refresh_window,
        };
        let report = if plan.actions.is_empty() && !(leased.is_empty() && sync.is_empty()) {
            Ok(Report::default())
        } else {
            progress.start(plan.actions.len());
            let r = apply::apply(&plan, &mut self.vault, &env, &mut |a| progress.action(a));
            progress.finish();
            r
        };
        drop(held);
        let mut report = report?;
        report.done.extend(self.run_leased(
            Some(&manifest),
            leased.clone(),
            &opts.command,
            progress,
        )?);
        pulled.append(&mut report.done);
        report.done = pulled;
        report
            .done
            .extend(self.run_sync(&sync, Direction::Push, progress)?);
        plan.actions.extend(leased);
        plan.actions.extend(sync);
        self.prune_backups(Some(&manifest), progress);
        Ok(Applied {
            plan,
            report,
            replanned,
        })
    }

    /// Under the locks: did the world or cdxs.yaml move since `plan` was made? A plan nobody
    /// reviewed is made again: (the manifest it was made from, the plan, why). A reviewed
    /// one is refused as stale. `None`: it still holds.
    fn look_again(
        &mut self,
        m: &Manifest,
        plan: &Plan,
        opts: &ApplyOptions,
    ) -> Result<Option<(Manifest, Plan, String)>> {
        if plan.observed.is_empty() && plan.manifest_fingerprint.is_empty() {
            return Ok(None);
        }
        let scope = Scope {
            homes: Some(plan.observed.keys().cloned().collect()),
            skip_processes: true,
            skip_sessions: true,
            ..Scope::default()
        };
        // The manifest may have been edited while this apply waited for its locks (an edit
        // this command makes must still apply to what is there).
        let current = match &opts.manifest_edit {
            Some(edit) => {
                edit.check_unchanged()?;
                m.clone()
            }
            None => crate::manifest::load(&m.path).unwrap_or_else(|_| m.clone()),
        };
        let now = self.observe_cached(&current, &scope, &mut Quiet)?;
        let Some(why) = apply::stale_reason(plan, &current, &now) else {
            return Ok(None);
        };
        if opts.review != Review::Unreviewed {
            return Err(Error::Stale {
                why,
                saved: opts.review == Review::Saved,
            });
        }
        let (again, seen) = self.plan_cached(&current, &opts.request)?;
        let mut again = match &opts.select {
            Some(select) => select(again, &seen),
            None => again,
        };
        if !again.errors.is_empty() {
            return Err(crate::reconcile::plan_failed(again.errors));
        }
        if let Some(edit) = &opts.manifest_edit {
            again.actions.insert(0, edit.action());
        }
        Ok(Some((current, again, why)))
    }

    /// Converge some homes now (after `switch`, `home create|bind`, before `run`): the
    /// command itself was the consent. Nothing to do returns `None`.
    pub fn converge(
        &mut self,
        m: &Manifest,
        homes: &[String],
        command: &str,
        edit: Option<ManifestEdit>,
        scope: Scope,
        progress: &mut dyn Progress,
    ) -> Result<Option<Applied>> {
        m.require_expanded()?;
        let mut targets: Vec<String> = homes.iter().map(|h| format!("home.{h}")).collect();
        let req = Request {
            scope: Scope {
                homes: Some(homes.to_vec()),
                skip_sessions: true,
                ..scope
            },
            targets: Vec::new(),
        };
        let mut plan = self.plan(m, &req, progress)?;
        // Harvests, imports and refreshes the homes' writes depend on come along.
        targets.extend(
            plan.actions
                .iter()
                .filter(|a| {
                    a.kind == ActionKind::Read
                        || matches!(
                            a.address,
                            crate::reconcile::Address::Account {
                                part: Some(crate::reconcile::AccountPart::Refresh),
                                ..
                            }
                        )
                })
                .map(|a| a.address.to_string()),
        );
        plan.retain_targets(&targets);
        plan.errors
            .retain(|e| homes.iter().any(|h| e.address.in_home(h)));
        if !plan.errors.is_empty() {
            return Err(crate::reconcile::plan_failed(plan.errors));
        }
        if !plan.has_changes() && edit.is_none() && plan.accepted.is_empty() {
            return Ok(None);
        }
        let mut opts = ApplyOptions::new(command, Review::Unreviewed, Request { targets, ..req });
        opts.manifest_edit = edit;
        self.apply(m, plan, opts, progress).map(Some)
    }

    /// Run a plan that is not made from a manifest (an imperative command: `switch` without
    /// a manifest, `run --account`, `refresh-token`, `rollback`, the session commands) as one
    /// generation, under its locks.
    pub fn run(
        &mut self,
        m: Option<&Manifest>,
        plan: &Plan,
        command: &str,
        rollback_of: Option<i64>,
        progress: &mut dyn Progress,
    ) -> Result<Report> {
        let report = self.run_unpruned(m, plan, command, rollback_of, progress)?;
        self.prune_backups(m, progress);
        Ok(report)
    }

    /// [`Engine::run`] without the backup pruning after it (which is such a run itself).
    fn run_unpruned(
        &mut self,
        m: Option<&Manifest>,
        plan: &Plan,
        command: &str,
        rollback_of: Option<i64>,
        progress: &mut dyn Progress,
    ) -> Result<Report> {
        self.dry_run_gate(plan)?;
        let mut plan = plan.clone();
        let leased = self.take_leased(&mut plan)?;
        let mut report = if plan.actions.is_empty() && !leased.is_empty() {
            Report::default()
        } else {
            let holder = format!("cdxs {command}");
            let known = self.known_homes(m);
            let held = apply::lock_for(&plan, &self.state_dir, &holder, &self.vault, &known)?;
            let env_fn = self.env.clone();
            let lookup = move |v: &str| env_fn(v);
            let env = ApplyEnv {
                state_dir: &self.state_dir,
                clock: self.clock.as_ref(),
                command,
                env: &lookup,
                known_homes: known,
                rollback_of,
                refresh_window: self.refresh_window,
            };
            progress.start(plan.actions.len());
            let report = apply::apply(&plan, &mut self.vault, &env, &mut |a| progress.action(a));
            progress.finish();
            drop(held);
            report?
        };
        report
            .done
            .extend(self.run_leased(m, leased, command, progress)?);
        Ok(report)
    }

    /// After a generation that changed files: backups past their retention (cdxs.yaml
    /// `backups:`) go, as a generation of their own. A failure only warns.
    fn prune_backups(&mut self, m: Option<&Manifest>, progress: &mut dyn Progress) {
        let policy = m.map(|m| m.backups).unwrap_or_default();
        let old: Vec<PathBuf> = crate::backup::expired(&self.state_dir, &policy, self.clock.ts())
            .into_iter()
            .map(|f| f.path)
            .collect();
        if old.is_empty() {
            return;
        }
        let plan =
            super::ops::delete_backups(&crate::backup::backups_dir(&self.state_dir), &old, &[]);
        if let Err(e) = self.run_unpruned(m, &plan, "prune backups", None, progress) {
            progress.warn(format!("could not prune old backups: {e}"));
        }
    }

    /// Delete backup files that hold a removed account's secrets (`account remove
    /// --purge-backups`), as a generation of its own. How many went.
    pub fn delete_backups(&mut self, files: &[PathBuf], command: &str) -> Result<usize> {
        if files.is_empty() {
            return Ok(0);
        }
        let plan =
            super::ops::delete_backups(&crate::backup::backups_dir(&self.state_dir), &[], files);
        let report = self.run_unpruned(None, &plan, command, None, &mut Quiet)?;
        Ok(report.done.len())
    }

    /// Members of the pools that `homes` (all when `None`) draw from.
    pub fn pool_accounts(&self, m: &Manifest, homes: Option<&[String]>) -> Result<Vec<String>> {
        let all = self.vault.accounts()?;
        let mut ids = Vec::new();
        for home in m
            .homes
            .values()
            .filter(|h| homes.is_none_or(|only| only.contains(&h.name)))
        {
            if let Some(crate::manifest::Binding::Pool { pool, .. }) = &home.binding {
                for alias in m.pools.get(pool).into_iter().flatten() {
                    if let Ok(a) = crate::resolve::account(Some(m), &all, alias)
                        && !ids.contains(&a.id)
                    {
                        ids.push(a.id);
                    }
                }
            }
        }
        Ok(ids)
    }

    /// Mark generations a killed apply left `running` as `interrupted`, when no apply runs
    /// now. Never waits.
    pub fn settle_interrupted(&mut self) -> Result<()> {
        crate::vault::lock::settle_interrupted(&self.state_dir, &mut self.vault, self.clock.ts())
    }
}
