//! The watch loop: events and timers mark homes dirty; one worker runs a cycle for what is
//! dirty; idle, it blocks on the event channel until the next deadline (never longer than a
//! minute, so a laptop that slept catches up). It writes its status file every cycle and at
//! least every minute.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use super::events::{DbVersions, Debouncer, Key, Mode, Msg, OwnWrites, Watches};
use super::status::{self, HomeStatus, WatchStatus};
use super::{LogLine, Policy, WatchState};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::reconcile::engine::{Engine, Progress};

/// Where the log lines go.
pub trait Sink {
    fn line(&mut self, line: &LogLine);
}

/// How to run.
pub struct Options {
    /// One cycle over every home, then stop.
    pub once: bool,
    /// Act as if the system allowed this many watches (tests of the polling fallback).
    pub max_watches: Option<usize>,
}

fn note(event: &'static str, message: String) -> LogLine {
    LogLine {
        event,
        home: None,
        message,
    }
}

fn homes_of(m: &Manifest) -> Vec<(String, PathBuf)> {
    m.homes
        .values()
        .map(|h| (h.name.clone(), h.path.clone()))
        .collect()
}

/// The loop's times, for the status file.
struct Times {
    started: i64,
    now: i64,
    last_cycle: Option<i64>,
    next: i64,
}

fn status_of(t: Times, watches: &Watches, state: &WatchState, m: &Manifest) -> WatchStatus {
    let homes = m
        .homes
        .keys()
        .map(|h| {
            let waiting = state.waiting.get(h).cloned().unwrap_or_default();
            let drift = state.drift.get(h).cloned();
            let error = state.errors.get(h).cloned();
            let st = if state.flapping.contains(h) {
                "flapping"
            } else if error.is_some() {
                "error"
            } else if !waiting.is_empty() {
                "waiting"
            } else if drift.is_some() {
                "drift"
            } else {
                "ok"
            };
            (
                h.clone(),
                HomeStatus {
                    state: st.into(),
                    waiting,
                    drift,
                    error,
                },
            )
        })
        .collect();
    WatchStatus {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        started_at: t.started,
        heartbeat: t.now,
        last_cycle: t.last_cycle,
        next_cycle: Some(t.next),
        watching: match watches.mode {
            Mode::Events(_) => "events".into(),
            Mode::Polling { .. } => "polling".into(),
        },
        online: state.online(t.now),
        interval: Policy::of(m).interval,
        homes,
        stopped: false,
        cycles: state.cycles,
    }
}

/// Run until `Msg::Stop` arrives on `rx` (or after one cycle with `once`). `tx` feeds the
/// same channel (the file watcher sends its events there).
pub fn run(
    engine: &mut Engine,
    manifest: Manifest,
    opts: &Options,
    (tx, rx): (Sender<Msg>, Receiver<Msg>),
    sink: &mut dyn Sink,
    progress: &mut dyn Progress,
) -> Result<()> {
    let state_dir = engine.state_dir.clone();
    // One watch per state folder: a second one would overwrite the first's status file.
    let _instance = crate::vault::lock::watch(&state_dir)?;
    let mut w = Watcher::start(engine, manifest, state_dir, &tx, opts, sink);
    let mut stopping = false;
    loop {
        let wait = w.wait(engine.now());
        let msgs = if stopping {
            Vec::new()
        } else {
            receive(&rx, wait, &mut stopping)
        };
        let mut changed: Vec<PathBuf> = w.watches.poll(&w.m.path);
        for msg in msgs {
            match msg {
                Msg::Stop => stopping = true,
                Msg::Fs(paths) => changed.extend(paths),
            }
        }
        if stopping {
            break;
        }
        w.mark(changed);
        let (dirty, manifest_changed) = w.due();
        if manifest_changed {
            w.reload(engine, opts, sink);
        }
        let now = engine.now();
        let full = now >= w.full_due || opts.once;
        if full || !dirty.is_empty() {
            let homes = (!full).then_some(dirty);
            let outcome = super::tick(engine, &w.m, homes, &mut w.state, progress);
            w.after_cycle(outcome, full, now, opts, sink);
            w.last_cycle = Some(now);
            w.write_status(engine.now(), false);
            w.last_beat = Instant::now();
            if opts.once {
                break;
            }
        } else if w.last_beat.elapsed() >= Duration::from_secs(30) {
            w.write_status(engine.now(), false);
            w.last_beat = Instant::now();
        }
    }
    w.write_status(engine.now(), true);
    if !opts.once {
        sink.line(&note("stop", "stopped".into()));
    }
    Ok(())
}

/// Wait up to `wait` for a message, then take the ones already queued; a closed channel
/// stops the loop.
fn receive(rx: &Receiver<Msg>, wait: Duration, stopping: &mut bool) -> Vec<Msg> {
    let mut msgs = Vec::new();
    match rx.recv_timeout(wait) {
        Ok(msg) => msgs.push(msg),
        Err(mpsc::RecvTimeoutError::Timeout) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => *stopping = true,
    }
    msgs.extend(rx.try_iter());
    msgs
}

/// What the loop carries from one turn to the next.
struct Watcher {
    m: Manifest,
    state_dir: PathBuf,
    watches: Watches,
    state: WatchState,
    /// The files cycles wrote (their events are not changes).
    own: OwnWrites,
    dbs: DbVersions,
    debounce: Debouncer,
    started: i64,
    /// When the next cycle over every home is due.
    full_due: i64,
    last_cycle: Option<i64>,
    /// When the status file was last written.
    last_beat: Instant,
}

impl Watcher {
    /// Start watching `m`'s files and say so.
    fn start(
        engine: &Engine,
        m: Manifest,
        state_dir: PathBuf,
        tx: &Sender<Msg>,
        opts: &Options,
        sink: &mut dyn Sink,
    ) -> Watcher {
        let (mut watches, fallback) = Watches::start(tx.clone());
        if let Some(why) = fallback.or_else(|| watches.sync(&m, opts.max_watches)) {
            sink.line(&note("note", why));
        }
        let started = engine.now();
        sink.line(&note(
            "start",
            format!(
                "watching {} home(s) from {} (every {}, `watch.apply: {}`)",
                m.homes.len(),
                crate::paths::display(&m.path),
                crate::text::duration(Policy::of(&m).interval),
                match m.watch.apply {
                    crate::manifest::WatchApply::Safe => "safe",
                    crate::manifest::WatchApply::All => "all",
                }
            ),
        ));
        let mut dbs = DbVersions::default();
        dbs.changed(&homes_of(&m));
        let full_due = engine.now(); // the first cycle covers every home
        Watcher {
            m,
            state_dir,
            watches,
            state: WatchState::default(),
            own: OwnWrites::default(),
            dbs,
            debounce: Debouncer::default(),
            started,
            full_due,
            last_cycle: None,
            last_beat: Instant::now(),
        }
    }

    /// How long to sleep: until an event, a debounced home, a deadline, at most a minute
    /// (deadlines are rechecked against the wall clock after a suspend).
    fn wait(&self, now: i64) -> Duration {
        let mut wait =
            Duration::from_secs((self.full_due - now).clamp(0, super::MAX_SLEEP_SECS) as u64);
        if let Some(t) = self.debounce.next() {
            wait = wait.min(t.saturating_duration_since(Instant::now()));
        }
        if let Some(p) = self.watches.poll_every() {
            wait = wait.min(p);
        }
        wait
    }

    /// Mark the homes (or the manifest) of changed files for the debouncer; the files the
    /// cycles wrote themselves are no change.
    fn mark(&mut self, changed: Vec<PathBuf>) {
        for p in changed {
            if self.own.is_own(&p) {
                continue;
            }
            if let Some(k) = self.watches.key_of(&p, &self.m.path) {
                self.debounce.mark(k, Instant::now());
            }
        }
    }

    /// The homes due now (debounced, or their state database changed), and whether the
    /// manifest is.
    fn due(&mut self) -> (Vec<String>, bool) {
        let mut dirty: Vec<String> = Vec::new();
        let mut manifest_changed = false;
        for k in self.debounce.take_due(Instant::now()) {
            match k {
                Key::Manifest => manifest_changed = true,
                Key::Home(h) => dirty.push(h),
            }
        }
        for h in self.dbs.changed(&homes_of(&self.m)) {
            if !dirty.contains(&h) {
                dirty.push(h);
            }
        }
        (dirty, manifest_changed)
    }

    /// cdxs.yaml changed: take it when it is valid (and due at once), keep the last good
    /// one when it is not.
    fn reload(&mut self, engine: &Engine, opts: &Options, sink: &mut dyn Sink) {
        match crate::manifest::load(&self.m.path) {
            Ok(new) if new.text != self.m.text => {
                sink.line(&note("note", "cdxs.yaml changed: applying it".into()));
                self.m = new;
                if let Some(why) = self.watches.sync(&self.m, opts.max_watches) {
                    sink.line(&note("note", why));
                }
                self.full_due = engine.now();
            }
            Ok(_) => {}
            Err(e) => sink.line(&note(
                "error",
                format!(
                    "cdxs.yaml is not valid now; watch keeps the last good one: {}",
                    e.full_message()
                ),
            )),
        }
    }

    /// Log a cycle's lines, remember what it wrote, watch what it created and set when
    /// the next full cycle is due (in 30 seconds after a failed one).
    fn after_cycle(
        &mut self,
        outcome: Result<super::Cycle>,
        full: bool,
        now: i64,
        opts: &Options,
        sink: &mut dyn Sink,
    ) {
        match outcome {
            Ok(cycle) => {
                for l in &cycle.logs {
                    sink.line(l);
                }
                for h in &cycle.touched {
                    if let Some(home) = self.m.homes.get(h) {
                        self.own.record(&home.path);
                    }
                    self.dbs.settle(h);
                }
                // A home the cycle created is watched from now on.
                if let Some(why) = self.watches.sync(&self.m, opts.max_watches) {
                    sink.line(&note("note", why));
                }
                self.full_due = if full {
                    cycle.next_due.min(now + Policy::of(&self.m).interval)
                } else {
                    self.full_due.min(cycle.next_due)
                };
            }
            Err(e) => {
                sink.line(&note("error", e.full_message()));
                self.full_due = now + 30;
            }
        }
    }

    /// Write the status file (errors ignored: the status is a report, watch goes on).
    fn write_status(&self, now: i64, stopped: bool) {
        let times = Times {
            started: self.started,
            now,
            last_cycle: self.last_cycle,
            next: self.full_due,
        };
        let mut st = status_of(times, &self.watches, &self.state, &self.m);
        st.stopped = stopped;
        let _ = status::write(&self.state_dir, &st);
    }
}
