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
    let mut m = manifest;
    let state_dir = engine.state_dir.clone();
    // One watch per state folder: a second one would overwrite the first's status file.
    let _instance = crate::vault::lock::watch(&state_dir)?;
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
    let mut state = WatchState::default();
    let mut own = OwnWrites::default();
    let mut dbs = DbVersions::default();
    dbs.changed(&homes_of(&m));
    let mut debounce = Debouncer::default();
    let mut full_due = engine.now(); // the first cycle covers every home
    let mut last_cycle = None;
    let mut last_beat = Instant::now();
    let mut stopping = false;
    loop {
        // Sleep until something is due: an event, a debounced home, a deadline, at most a
        // minute (deadlines are rechecked against the wall clock after a suspend).
        let now = engine.now();
        let mut wait = Duration::from_secs((full_due - now).clamp(0, super::MAX_SLEEP_SECS) as u64);
        if let Some(t) = debounce.next() {
            wait = wait.min(t.saturating_duration_since(Instant::now()));
        }
        if let Some(p) = watches.poll_every() {
            wait = wait.min(p);
        }
        let mut msgs = Vec::new();
        if !stopping {
            match rx.recv_timeout(wait) {
                Ok(msg) => msgs.push(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => stopping = true,
            }
            msgs.extend(rx.try_iter());
        }
        let mut changed: Vec<PathBuf> = watches.poll(&m.path);
        for msg in msgs {
            match msg {
                Msg::Stop => stopping = true,
                Msg::Fs(paths) => changed.extend(paths),
            }
        }
        if stopping {
            break;
        }
        for p in changed {
            if own.is_own(&p) {
                continue;
            }
            if let Some(k) = watches.key_of(&p, &m.path) {
                debounce.mark(k, Instant::now());
            }
        }
        let mut dirty: Vec<String> = Vec::new();
        let mut manifest_changed = false;
        for k in debounce.take_due(Instant::now()) {
            match k {
                Key::Manifest => manifest_changed = true,
                Key::Home(h) => dirty.push(h),
            }
        }
        for h in dbs.changed(&homes_of(&m)) {
            if !dirty.contains(&h) {
                dirty.push(h);
            }
        }
        if manifest_changed {
            match crate::manifest::load(&m.path) {
                Ok(new) if new.text != m.text => {
                    sink.line(&note("note", "cdxs.yaml changed: applying it".into()));
                    m = new;
                    if let Some(why) = watches.sync(&m, opts.max_watches) {
                        sink.line(&note("note", why));
                    }
                    full_due = engine.now();
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
        let now = engine.now();
        let full = now >= full_due || opts.once;
        if full || !dirty.is_empty() {
            let homes = (!full).then_some(dirty);
            let outcome = super::tick(engine, &m, homes, &mut state, progress);
            match outcome {
                Ok(cycle) => {
                    for l in &cycle.logs {
                        sink.line(l);
                    }
                    for h in &cycle.touched {
                        if let Some(home) = m.homes.get(h) {
                            own.record(&home.path);
                        }
                        dbs.settle(h);
                    }
                    // A home the cycle created is watched from now on.
                    if let Some(why) = watches.sync(&m, opts.max_watches) {
                        sink.line(&note("note", why));
                    }
                    full_due = if full {
                        cycle.next_due.min(now + Policy::of(&m).interval)
                    } else {
                        full_due.min(cycle.next_due)
                    };
                }
                Err(e) => {
                    sink.line(&note("error", e.full_message()));
                    full_due = now + 30;
                }
            }
            last_cycle = Some(now);
            let times = Times {
                started,
                now: engine.now(),
                last_cycle,
                next: full_due,
            };
            let _ = status::write(&state_dir, &status_of(times, &watches, &state, &m));
            last_beat = Instant::now();
            if opts.once {
                break;
            }
        } else if last_beat.elapsed() >= Duration::from_secs(30) {
            let times = Times {
                started,
                now: engine.now(),
                last_cycle,
                next: full_due,
            };
            let _ = status::write(&state_dir, &status_of(times, &watches, &state, &m));
            last_beat = Instant::now();
        }
    }
    let times = Times {
        started,
        now: engine.now(),
        last_cycle,
        next: full_due,
    };
    let mut st = status_of(times, &watches, &state, &m);
    st.stopped = true;
    let _ = status::write(&state_dir, &st);
    if !opts.once {
        sink.line(&note("stop", "stopped".into()));
    }
    Ok(())
}
