//! Codex's per-thread writer lock: while a thread is loaded for writing, Codex holds
//! `flock(EX)` on `thread-writer-locks/<id>.lock`, taken under `.coordination.lock`. cdxs
//! takes the same locks before touching a thread, refuses a live one, and releases them the
//! way Codex does (unlink the id lock under the coordination lock).
//!
//! The id becomes part of a path, so it must be a thread id; the lock folder must be a real
//! folder of the home (not a symlink), and lock files are opened without following links.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::rollout;
use crate::error::{Error, Result, tick};
use crate::fsx::{self, FileLock, LockSpec};

const DIR: &str = "thread-writer-locks";
const COORDINATION: &str = ".coordination.lock";

pub struct ThreadLock {
    dir: PathBuf,
    id: String,
    lock: Option<FileLock>,
}

fn coordination(dir: &Path) -> Result<FileLock> {
    fsx::lock_exclusive(
        &dir.join(COORDINATION),
        LockSpec::new(Duration::from_secs(10)).mode(0o644),
        "Codex's thread coordination lock",
    )
}

fn lock_dir(home: &Path) -> Result<PathBuf> {
    let dir = home.join(DIR);
    fsx::refuse_non_dir(
        &dir,
        "Codex keeps its thread locks in a plain folder there; move that entry away",
    )?;
    if !dir.exists() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(&dir)), e))?;
    }
    Ok(dir)
}

/// Take the writer lock of `id`; `Ok(None)` when a running Codex has the thread open.
pub fn try_lock(home: &Path, id: &str) -> Result<Option<ThreadLock>> {
    rollout::check_thread_id(id, "a thread lock")?;
    let dir = lock_dir(home)?;
    let _coord = coordination(&dir)?;
    let path = dir.join(format!("{id}.lock"));
    Ok(
        fsx::try_lock_exclusive(&path, 0o644)?.map(|lock| ThreadLock {
            dir,
            id: id.to_string(),
            lock: Some(lock),
        }),
    )
}

/// Whether a process holds the writer lock of `id`, found by trying it under the
/// coordination lock (for systems whose lock table cannot be read; see
/// [`crate::platform::locks`]). Creates no file: without Codex's lock files nothing is held.
pub fn probe(home: &Path, id: &str) -> bool {
    if rollout::check_thread_id(id, "a thread lock").is_err() {
        return false;
    }
    let dir = home.join(DIR);
    if !dir.join(COORDINATION).is_file() {
        return false;
    }
    let Ok(_coord) = coordination(&dir) else {
        return false;
    };
    let Ok(file) = crate::platform::fs::open_read_no_follow(&dir.join(format!("{id}.lock"))) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// Who holds the writer lock of `id` (for messages).
pub fn holder(home: &Path, id: &str) -> String {
    fsx::describe_holder(&home.join(DIR).join(format!("{id}.lock")))
}

/// A live thread in words, with what to do.
pub fn live_error(home: &Path, id: &str) -> Error {
    Error::user(format!(
        "thread {id} is open in a running Codex ({})",
        holder(home, id)
    ))
    .with_help("close that Codex session (or wait for it to finish), then try again")
}

/// Take the writer lock of `id`; `Err` naming the holder when a Codex has the thread open.
pub fn lock(home: &Path, id: &str) -> Result<ThreadLock> {
    try_lock(home, id)?.ok_or_else(|| live_error(home, id))
}

impl Drop for ThreadLock {
    fn drop(&mut self) {
        // As Codex releases: under the coordination lock, unlink the id lock, then let go.
        if let Ok(_coord) = coordination(&self.dir) {
            let _ = std::fs::remove_file(self.dir.join(format!("{}.lock", self.id)));
            self.lock.take();
        }
    }
}
