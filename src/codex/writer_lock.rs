//! Codex's per-thread writer lock: while a thread is loaded for writing, Codex holds
//! `flock(EX)` on `thread-writer-locks/<id>.lock`, taken under `.coordination.lock`. cdxs
//! takes the same locks before touching a thread, refuses a live one, and releases them the
//! way Codex does (unlink the id lock under the coordination lock).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
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

/// Take the writer lock of `id`; `Err` naming the holder when a Codex has the thread open.
pub fn lock(home: &Path, id: &str) -> Result<ThreadLock> {
    let dir = home.join(DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create `{}`", dir.display()), e))?;
    let _coord = coordination(&dir)?;
    let path = dir.join(format!("{id}.lock"));
    match fsx::try_lock_exclusive(&path, 0o644)? {
        Some(lock) => Ok(ThreadLock {
            dir,
            id: id.to_string(),
            lock: Some(lock),
        }),
        None => Err(Error::user(format!(
            "thread {id} is open in a running Codex ({})",
            fsx::describe_holder(&path)
        ))
        .with_help("close that Codex session (or wait for it to finish), then try again")),
    }
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
