//! The status file `watch` keeps in the state folder (`watch.json`, 0600): its pid, version,
//! heartbeat, what each home waits for. `cdxs status` shows it and judges liveness by the
//! pid and a fresh heartbeat, not by the file alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;

pub const FILE: &str = "watch.json";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HomeStatus {
    /// `ok`, `waiting`, `drift`, `flapping`, `error`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchStatus {
    pub pid: u32,
    pub version: String,
    pub started_at: i64,
    pub heartbeat: i64,
    #[serde(default)]
    pub last_cycle: Option<i64>,
    #[serde(default)]
    pub next_cycle: Option<i64>,
    /// `events` or `polling`.
    pub watching: String,
    pub online: bool,
    #[serde(default)]
    pub interval: i64,
    #[serde(default)]
    pub homes: BTreeMap<String, HomeStatus>,
    /// The watch ended (SIGINT, SIGTERM, `--once`).
    #[serde(default)]
    pub stopped: bool,
    /// Cycles run so far.
    #[serde(default)]
    pub cycles: u64,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

pub fn write(state_dir: &Path, s: &WatchStatus) -> Result<()> {
    let text = serde_json::to_vec_pretty(s)
        .map_err(|e| crate::error::Error::user(format!("cannot encode the watch status: {e}")))?;
    crate::fsx::write_atomic(&path(state_dir), &text, crate::fsx::SECRET_FILE_MODE)
}

/// The status file, if there is a readable one.
pub fn read(state_dir: &Path) -> Option<WatchStatus> {
    let bytes = crate::fsx::read_bounded(&path(state_dir), 1024 * 1024).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Where watch stands, judged from its status file, its pid and the clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Alive, with a fresh heartbeat.
    Running,
    /// The process is there but its heartbeat is old.
    Stuck { silent_for: i64 },
    /// It ended cleanly.
    Stopped,
    /// Its process is gone without saying so (killed, the machine restarted).
    Gone,
}

fn pid_alive(pid: u32) -> bool {
    // Where the OS cannot tell, trust the heartbeat.
    crate::platform::process::alive(pid).unwrap_or(true)
}

pub fn liveness(s: &WatchStatus, now: i64) -> Liveness {
    if s.stopped {
        return Liveness::Stopped;
    }
    if !pid_alive(s.pid) {
        return Liveness::Gone;
    }
    // watch writes a heartbeat at least every 60 s, even when idle.
    let silent_for = now - s.heartbeat;
    if silent_for > 3 * super::MAX_SLEEP_SECS {
        Liveness::Stuck { silent_for }
    } else {
        Liveness::Running
    }
}

/// Lines for `cdxs status`.
pub fn describe(s: &WatchStatus, now: i64) -> Vec<String> {
    let ago = |t: i64| crate::text::duration(now - t);
    let mut out = vec![match liveness(s, now) {
        Liveness::Running => format!(
            "watch: running (pid {}, {}, last cycle {} ago{})",
            s.pid,
            s.watching,
            s.last_cycle.map(ago).unwrap_or_else(|| "-".into()),
            if s.online { "" } else { ", offline" }
        ),
        Liveness::Stuck { silent_for } => format!(
            "watch: stuck? pid {} is alive but silent for {} (check its log, or restart it)",
            s.pid,
            crate::text::duration(silent_for)
        ),
        Liveness::Stopped => format!("watch: not running (stopped {} ago)", ago(s.heartbeat)),
        Liveness::Gone => format!(
            "watch: not running (pid {} is gone; last heartbeat {} ago)",
            s.pid,
            ago(s.heartbeat)
        ),
    }];
    if liveness(s, now) == Liveness::Running {
        for (home, h) in &s.homes {
            for w in &h.waiting {
                out.push(format!("  {home}: {w}"));
            }
            if h.state == "flapping" {
                out.push(format!(
                    "  {home}: flapping (watch no longer applies to it)"
                ));
            }
            if let Some(e) = &h.error {
                out.push(format!("  {home}: {e}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness_is_judged_by_pid_and_heartbeat() {
        let me = WatchStatus {
            pid: std::process::id(),
            heartbeat: 1000,
            watching: "events".into(),
            online: true,
            ..WatchStatus::default()
        };
        assert_eq!(liveness(&me, 1030), Liveness::Running);
        assert!(matches!(liveness(&me, 2000), Liveness::Stuck { .. }));
        let gone = WatchStatus {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert_eq!(liveness(&gone, 1030), Liveness::Gone);
        let stopped = WatchStatus {
            stopped: true,
            ..me.clone()
        };
        assert_eq!(liveness(&stopped, 1030), Liveness::Stopped);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &me).unwrap();
        assert_eq!(read(dir.path()), Some(me));
    }
}
