//! `watch` on the engine: one cycle (`tick`) observes, plans and applies what the policy
//! allows for the homes marked dirty (or all of them), and says when the next cycle is due.
//! Level-triggered: events and timers only mark homes dirty; a missed event costs latency,
//! never correctness. The loop (events, signals, the status file) is in the shell.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use super::engine::{Applied, ApplyOptions, Engine, Progress, Request, Review, Selector};
use super::observe::{AuthObs, CredObs, Observed, Scope};
use super::{Op, Plan};
use crate::error::Result;
use crate::manifest::{Binding, Manifest};

pub mod events;
pub mod policy;
pub mod run;
pub mod status;

pub use policy::Held;

/// A home that yields a non-empty plan this many times ...
pub const FLAP_COUNT: usize = 5;
/// ... within this many seconds is flapping: watch stops applying to it.
pub const FLAP_WINDOW_SECS: i64 = 600;
/// Deadlines are compared with the wall clock at least this often (a laptop that slept
/// catches up at resume).
pub const MAX_SLEEP_SECS: i64 = 60;
/// Network failures back off up to this long.
pub const MAX_BACKOFF_SECS: i64 = 1800;

/// One line of the log: an action done, or a change of state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// `action`, `waiting`, `drift`, `flapping`, `offline`, `online`, `error`, `note`.
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    pub message: String,
}

/// What watch remembers between cycles.
#[derive(Debug, Default)]
pub struct WatchState {
    /// Per home, when its applied plans were non-empty (for flapping).
    applied: BTreeMap<String, VecDeque<i64>>,
    pub flapping: BTreeSet<String>,
    /// What waited in the last cycle (logged once, when it starts waiting).
    held_before: BTreeSet<String>,
    /// When watch itself last switched each home (besides what the journal says).
    switched: BTreeMap<String, i64>,
    /// Network: failing since, how long to wait, when to try again.
    offline_since: Option<i64>,
    backoff: i64,
    retry_at: i64,
    /// Per home: what it is waiting for, for the status file.
    pub waiting: BTreeMap<String, Vec<String>>,
    /// Per home: its drift, for the status file.
    pub drift: BTreeMap<String, String>,
    /// Per home: what plan cannot decide (logged once, when it appears).
    pub errors: BTreeMap<String, String>,
    errors_before: BTreeSet<String>,
    /// Cycles run (the status file shows it; tests count them).
    pub cycles: u64,
}

impl WatchState {
    /// May this cycle call the network?
    pub fn online(&self, now: i64) -> bool {
        self.offline_since.is_none() || now >= self.retry_at
    }

    fn network_failed(&mut self, now: i64, why: &str, logs: &mut Vec<LogLine>) {
        self.backoff = if self.backoff == 0 {
            30
        } else {
            (self.backoff * 2).min(MAX_BACKOFF_SECS)
        };
        // Jitter: up to a fifth of the wait, so many watchers do not retry in step.
        let jitter = (rand::random::<u64>() % (self.backoff as u64 / 5 + 1)) as i64;
        self.retry_at = now + self.backoff + jitter;
        if self.offline_since.is_none() {
            self.offline_since = Some(now);
            logs.push(LogLine {
                event: "offline",
                home: None,
                message: format!(
                    "cannot reach the network ({why}); working from the cache, next try in {}",
                    crate::text::duration(self.retry_at - now)
                ),
            });
        }
    }

    fn network_ok(&mut self, logs: &mut Vec<LogLine>) {
        if self.offline_since.take().is_some() {
            logs.push(LogLine {
                event: "online",
                home: None,
                message: "back online".into(),
            });
        }
        self.backoff = 0;
    }

    /// When the network is tried again (while offline).
    pub fn retry_at(&self) -> Option<i64> {
        self.offline_since.map(|_| self.retry_at)
    }
}

/// watch's settings, from the manifest's `watch:` section.
#[derive(Debug, Clone)]
pub struct Policy {
    pub interval: i64,
    pub refresh_before_expiry: i64,
    pub min_dwell: i64,
    pub apply: crate::manifest::WatchApply,
}

impl Policy {
    pub fn of(m: &Manifest) -> Policy {
        Policy {
            interval: m.watch.interval.seconds.max(1) as i64,
            refresh_before_expiry: m.watch.refresh_before_expiry.seconds as i64,
            min_dwell: m.watch.min_dwell.seconds as i64,
            apply: m.watch.apply,
        }
    }
}

/// What one cycle did.
#[derive(Debug, Default)]
pub struct Cycle {
    pub logs: Vec<LogLine>,
    /// Homes whose files this cycle wrote (their events are dropped by content hash).
    pub touched: BTreeSet<String>,
    /// When the next cycle is due (Unix time) for reasons of time alone.
    pub next_due: i64,
}

/// When cdxs last switched each home's auth.json to the account it holds (a refresh of the
/// same login does not count: the dwell timer moves only on a switch).
fn last_switched(o: &Observed) -> BTreeMap<String, i64> {
    o.homes
        .iter()
        .filter_map(|(name, h)| {
            o.baselines
                .get(&crate::codex::auth::auth_path(&h.path))
                .map(|b| (name.clone(), b.account_since))
        })
        .collect()
}

/// The time-driven deadlines: a token to refresh before it expires, pool quota going
/// stale, the periodic cycle; never more than [`MAX_SLEEP_SECS`] away.
pub fn next_due(m: &Manifest, o: &Observed, policy: &Policy, now: i64, online: bool) -> i64 {
    let mut due = now + policy.interval.min(MAX_SLEEP_SECS);
    for (name, h) in &o.homes {
        let Some(home) = m.homes.get(name) else {
            continue;
        };
        if home.binding.is_none() {
            continue;
        }
        if let AuthObs::Credentials(CredObs::ChatGpt { freshness, .. }) = &h.auth
            && let Some(exp) = freshness.expires_at
        {
            // A token already due that this cycle could not refresh (offline, a login that
            // needs a person) waits for the periodic cycle or the backoff, not every second.
            let at = crate::vault::freshness::refresh_at(exp, policy.refresh_before_expiry);
            if at > now {
                due = due.min(at);
            }
        }
        if online && let Some(Binding::Pool { pool, .. }) = &home.binding {
            // The pool's members' quota goes stale: the pick may have to move.
            for r in m
                .pools
                .get(pool)
                .into_iter()
                .flatten()
                .filter_map(|alias| m.accounts.get(alias))
            {
                for a in o
                    .accounts
                    .iter()
                    .filter(|a| r.names(&a.id, a.kind, a.email.as_deref(), a.workspace.as_deref()))
                {
                    if let Some(q) = o.quota.get(&a.id) {
                        due = due.min(q.fetched_at + crate::quota::STALE_AFTER_SECS);
                    }
                }
            }
        }
    }
    due.max(now + 1)
}

/// One cycle over `homes` (all when `None`).
pub fn tick(
    engine: &mut Engine,
    m: &Manifest,
    homes: Option<Vec<String>>,
    state: &mut WatchState,
    progress: &mut dyn Progress,
) -> Result<Cycle> {
    let policy = Policy::of(m);
    let now = engine.now();
    let mut cycle = Cycle::default();
    engine.online = state.online(now);
    // One window for the whole cycle: the planner plans a refresh, the executor makes it
    // and the timer below wakes up for it by the same rule (validate keeps the setting at
    // Codex's 5 minutes or more).
    engine.refresh_window = policy.refresh_before_expiry;
    engine.network_error = None;
    let request = Request {
        scope: Scope {
            homes: homes.clone(),
            offline: !engine.online,
            ..Scope::default()
        },
        targets: Vec::new(),
    };
    let o = engine.observe(m, &request.scope, progress)?;
    let plan = super::plan::plan(m, &o, &engine.plan_inputs());
    if engine.online {
        match engine.network_error.take() {
            Some(why) => state.network_failed(now, &why, &mut cycle.logs),
            None => state.network_ok(&mut cycle.logs),
        }
    }
    state.cycles += 1;
    report_errors(state, &plan, &mut cycle.logs);
    let mut last_switch = last_switched(&o);
    for (h, t) in &state.switched {
        let e = last_switch.entry(h.clone()).or_insert(*t);
        *e = (*e).max(*t);
    }
    let ctx = policy::Context {
        now,
        apply: policy.apply,
        min_dwell: policy.min_dwell,
        last_switch: &last_switch,
        flapping: &state.flapping,
    };
    let (todo, held) = policy::select(plan.clone(), m, &o, &ctx);
    report_held(state, &held, &plan, &mut cycle.logs);
    let homes_changed = homes_of(&todo);
    if todo.has_changes() || !todo.accepted.is_empty() {
        let mut opts = ApplyOptions::new("watch", Review::Unreviewed, request);
        let flapping = state.flapping.clone();
        opts.select = Some(select_again(m, &policy, now, last_switch, flapping));
        let applied = engine.apply(m, todo, opts, progress)?;
        report_applied(state, &applied, now, &mut cycle);
    }
    note_flapping(state, &homes_changed, now, &mut cycle.logs);
    cycle.next_due = next_due(m, &o, &policy, now, engine.online);
    if let Some(r) = state.retry_at() {
        cycle.next_due = cycle.next_due.min(r.max(now + 1));
    }
    Ok(cycle)
}

/// The plan's errors, each logged once while it lasts (again when it comes back), and
/// kept per home for `watch status`.
fn report_errors(state: &mut WatchState, plan: &Plan, logs: &mut Vec<LogLine>) {
    let mut errors_now = BTreeSet::new();
    state.errors.clear();
    for e in &plan.errors {
        let line = format!("{}: {}", e.address, e.message);
        if let Some(h) = policy::home_of(&e.address) {
            state.errors.insert(h.to_string(), e.message.clone());
        }
        if !state.errors_before.contains(&line) {
            logs.push(LogLine {
                event: "error",
                home: policy::home_of(&e.address).map(str::to_string),
                message: line.clone(),
            });
        }
        errors_now.insert(line);
    }
    state.errors_before = errors_now;
}

/// The watch policy again, for the plan the executor makes anew under the locks.
fn select_again(
    m: &Manifest,
    policy: &Policy,
    now: i64,
    last_switch: BTreeMap<String, i64>,
    flapping: BTreeSet<String>,
) -> Selector {
    let manifest = m.clone();
    let (apply, min_dwell) = (policy.apply, policy.min_dwell);
    Box::new(move |p: Plan, o: &Observed| {
        let ctx = policy::Context {
            now,
            apply,
            min_dwell,
            last_switch: &last_switch,
            flapping: &flapping,
        };
        policy::select(p, &manifest, o, &ctx).0
    })
}

/// Log what the executor did and noted; mark the homes it wrote, and when each switched
/// accounts (for the dwell time).
fn report_applied(state: &mut WatchState, applied: &Applied, now: i64, cycle: &mut Cycle) {
    for d in &applied.report.done {
        cycle.logs.push(LogLine {
            event: "action",
            home: policy::home_of(&d.address).map(str::to_string),
            message: format!("{}: {}", d.address, d.message),
        });
    }
    for a in &applied.plan.actions {
        if let Some(h) = policy::home_of(&a.address) {
            cycle.touched.insert(h.to_string());
            if matches!(a.op, Op::WriteAuth { switch: true, .. }) {
                state.switched.insert(h.to_string(), now);
            }
        }
    }
    for n in &applied.plan.notes {
        cycle.logs.push(LogLine {
            event: "note",
            home: policy::home_of(&n.address).map(str::to_string),
            message: format!("{}: {}", n.address, n.message),
        });
    }
}

/// The homes a plan writes in (reads and refreshes aside).
fn homes_of(plan: &Plan) -> BTreeSet<String> {
    plan.actions
        .iter()
        .filter(|a| a.kind != super::ActionKind::Read)
        .filter_map(|a| policy::home_of(&a.address).map(str::to_string))
        .collect()
}

fn report_held(state: &mut WatchState, held: &[Held], plan: &Plan, logs: &mut Vec<LogLine>) {
    let now_held: BTreeSet<String> = held.iter().map(Held::describe).collect();
    for h in held {
        let line = h.describe();
        if !state.held_before.contains(&line) {
            logs.push(LogLine {
                event: match h {
                    Held::Drift { .. } => "drift",
                    Held::Flapping { .. } => "flapping",
                    _ => "waiting",
                },
                home: Some(h.home().to_string()),
                message: line,
            });
        }
    }
    state.held_before = now_held;
    state.waiting.clear();
    for h in held {
        if !matches!(h, Held::Drift { .. }) {
            state
                .waiting
                .entry(h.home().to_string())
                .or_default()
                .push(h.describe());
        }
    }
    state.drift = plan
        .drift
        .iter()
        .filter_map(|d| policy::home_of(&d.address).map(|h| (h.to_string(), d.description.clone())))
        .collect();
}

fn note_flapping(
    state: &mut WatchState,
    changed: &BTreeSet<String>,
    now: i64,
    logs: &mut Vec<LogLine>,
) {
    for h in changed {
        let times = state.applied.entry(h.clone()).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now - t > FLAP_WINDOW_SECS) {
            times.pop_front();
        }
        if times.len() >= FLAP_COUNT && state.flapping.insert(h.clone()) {
            logs.push(LogLine {
                event: "flapping",
                home: Some(h.clone()),
                message: format!(
                    "home `{h}` needed changes {FLAP_COUNT} times in {} minutes: something else keeps changing it; watch stops applying to it (see `cdxs plan`, then restart watch)",
                    FLAP_WINDOW_SECS / 60
                ),
            });
        }
    }
}
