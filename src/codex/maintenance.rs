//! Codex's rollout maintenance lock. A background worker of Codex (0.169 and 0.171) compresses
//! cold rollouts into `.jsonl.zst` (feature `local_thread_store_compression`) and migrates
//! legacy ones to the paginated format (`background_paginated_rollout_migration`,
//! `codex migrate-rollouts`): both replace rollout files by rename, and both hold
//! `flock(LOCK_EX)` on `<home>/.tmp/rollout-maintenance.lock` for the whole run (seen with
//! strace on both releases; holding it makes Codex's worker skip its run).
//!
//! cdxs takes the same lock before it moves, writes or deletes rollouts or their rows, so
//! neither replaces a file under the other: it waits for a running worker
//! (`CDXS_LOCK_TIMEOUT`, like every lock cdxs waits for) and then fails naming the lock.
//!
//! `<home>/.tmp/rollout-compression.lock` is not a lock in these releases: the worker creates
//! it with `O_EXCL`, writes `pid=... started_at=...` and leaves it after a finished run, so
//! that no other run starts within six hours. Its presence says nothing about a worker
//! running now (the maintenance lock does), and cdxs never creates it: that would stop
//! Codex's compression for six hours. Should a Codex hold a `flock` on it, cdxs waits for
//! that too.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result, tick};
use crate::fsx::{self, FileLock};

/// The folder both files live in.
const DIR: &str = ".tmp";
/// Held (flock) by Codex while it compresses or migrates rollouts.
pub const MAINTENANCE_LOCK: &str = "rollout-maintenance.lock";
/// The compression worker's run marker (not locked by Codex 0.169/0.171).
pub const COMPRESSION_MARKER: &str = "rollout-compression.lock";

/// How often a waiter looks again.
const POLL: Duration = Duration::from_millis(50);

/// Codex's maintenance lock of one home, held by cdxs until dropped.
#[derive(Debug)]
pub struct Held {
    _lock: FileLock,
}

pub fn lock_path(home: &Path) -> PathBuf {
    home.join(DIR).join(MAINTENANCE_LOCK)
}

pub fn marker_path(home: &Path) -> PathBuf {
    home.join(DIR).join(COMPRESSION_MARKER)
}

/// Hold Codex's rollout maintenance lock of `home` (named `name` in messages) for a session
/// write, waiting up to `wait` while a Codex worker holds it (or holds a flock on the
/// compression marker). On timeout: a lock-timeout error (exit 3) naming the lock, its holder
/// and what to do.
pub fn hold(home: &Path, name: &str, wait: Duration) -> Result<Held> {
    let dir = home.join(DIR);
    fsx::refuse_non_dir(
        &dir,
        "Codex keeps its rollout maintenance lock in that folder; move that entry away",
    )?;
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(&dir)), e))?;
    }
    let lock = lock_path(home);
    let marker = marker_path(home);
    let start = Instant::now();
    loop {
        // Codex creates the lock file the same way (0666 less the umask, never truncated).
        let busy = match fsx::try_lock_exclusive(&lock, 0o644)? {
            Some(held) if !marker_locked(&marker) => return Ok(Held { _lock: held }),
            Some(_) => &marker,
            None => &lock,
        };
        if start.elapsed() >= wait {
            return Err(timeout(name, busy, wait));
        }
        std::thread::sleep(POLL.min(wait.saturating_sub(start.elapsed())));
    }
}

/// Does another process hold a flock on the compression marker? The marker is opened only
/// when it exists (never created), read-only, without following a symlink; anything that
/// is not a regular file is no lock.
fn marker_locked(marker: &Path) -> bool {
    let Ok(file) = crate::platform::fs::open_read_no_follow(marker) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return false;
    }
    matches!(
        File::try_lock(&file),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

fn timeout(name: &str, busy: &Path, wait: Duration) -> Error {
    Error::lock_timeout(
        format!(
            "timed out after {:.1}s waiting for Codex's rollout maintenance in home `{name}`: {} is held by {} (a Codex worker is compressing rollouts into `.jsonl.zst` or migrating them, and moving them meanwhile could lose a thread)",
            wait.as_secs_f64(),
            tick(busy),
            fsx::describe_holder(busy)
        ),
        "let that Codex finish (it holds the lock only while it compresses or migrates) and run the command again, or wait longer with `CDXS_LOCK_TIMEOUT=<seconds>`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_held_lock_and_never_creates_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let held = hold(home, "h", Duration::ZERO).unwrap();
        assert!(lock_path(home).is_file(), "made as Codex makes it");
        assert!(!marker_path(home).exists(), "the marker is Codex's alone");
        // A second holder (another cdxs, a Codex worker) waits, then gives up naming the lock.
        let err = hold(home, "h", Duration::from_millis(120)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("rollout-maintenance.lock"), "{text}");
        assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
        drop(held);
        hold(home, "h", Duration::ZERO).unwrap();
    }

    #[test]
    fn a_marker_left_by_a_finished_run_is_not_waited_for_but_a_locked_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join(DIR)).unwrap();
        std::fs::write(
            marker_path(home),
            "pid=4242 started_at=SystemTime { tv_sec: 1796561740, tv_nsec: 1 }\n",
        )
        .unwrap();
        drop(hold(home, "h", Duration::ZERO).unwrap());
        let marker = File::open(marker_path(home)).unwrap();
        marker.lock().unwrap();
        let err = hold(home, "h", Duration::from_millis(60)).unwrap_err();
        assert!(
            err.to_string().contains("rollout-compression.lock"),
            "{err}"
        );
        drop(marker);
        drop(hold(home, "h", Duration::ZERO).unwrap());
    }
}
