//! cdxs's own locks, so that `watch`, a second `apply` and `run` never interleave: one for
//! the vault, one per home (keyed by the home's path). flock-based: a killed process
//! releases them; a waiter gives up after `CDXS_LOCK_TIMEOUT` and names the holder.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::fsx::{self, FileLock, LockSpec};
use crate::secret::hex;

fn lock_dir(state_dir: &Path) -> Result<PathBuf> {
    let dir = state_dir.join("locks");
    fsx::ensure_private_dir(&dir)?;
    Ok(dir)
}

fn take(path: &Path, what: &str, holder: &str) -> Result<FileLock> {
    let mut lock = fsx::lock_exclusive(path, LockSpec::new(fsx::lock_timeout()), what)?;
    lock.write_holder(holder);
    Ok(lock)
}

/// The vault lock (journal, harvest, refresh).
pub fn vault(state_dir: &Path, holder: &str) -> Result<FileLock> {
    take(
        &lock_dir(state_dir)?.join("vault.lock"),
        "the vault lock",
        holder,
    )
}

/// `cdxs watch`'s lock (`<state>/watch.lock`, outside `locks/`: it is held for watch's
/// lifetime, not a moment): one watch per state folder. Never waits; `Err` names the watch
/// that runs (its pid, from the OS and from what it wrote into the file).
pub fn watch(state_dir: &Path) -> Result<FileLock> {
    let path = state_dir.join("watch.lock");
    match fsx::try_lock_exclusive(&path, fsx::SECRET_FILE_MODE)? {
        Some(mut lock) => {
            lock.write_holder("cdxs watch");
            Ok(lock)
        }
        None => Err(crate::error::Error::user(format!(
            "`cdxs watch` already runs for the state folder `{}`: {}",
            crate::paths::display(state_dir),
            fsx::describe_holder(&path)
        ))
        .with_help(
            "one watch per state folder: stop that one first (SIGINT or SIGTERM), or give this one its own `--state-dir`; `cdxs status` shows what it does",
        )),
    }
}

/// Mark generations a killed apply left `running` as `interrupted`, when no apply is
/// running now (the vault lock is free). Never waits.
pub fn settle_interrupted(
    state_dir: &Path,
    vault: &mut crate::vault::Vault,
    now: i64,
) -> Result<()> {
    let path = lock_dir(state_dir)?.join("vault.lock");
    if let Some(_lock) = fsx::try_lock_exclusive(&path, fsx::SECRET_FILE_MODE)? {
        vault.mark_interrupted(now)?;
    }
    Ok(())
}

/// What a home's lock is keyed by: its folder resolved (symlinks, `..`), so that two
/// spellings of one folder are one lock.
pub fn key(home: &Path) -> PathBuf {
    crate::vault::placement::placement_key(home)
}

/// The file name of a home's lock in `<state>/locks/` (`doctor` names it by its home).
pub fn home_file(home: &Path) -> String {
    let key = hex(&Sha256::digest(key(home).to_string_lossy().as_bytes()));
    format!("home-{}.lock", &key[..16])
}

/// The lock of one home.
pub fn home(state_dir: &Path, home: &Path, holder: &str) -> Result<FileLock> {
    take(
        &lock_dir(state_dir)?.join(home_file(home)),
        &format!("the lock of home `{}`", crate::paths::display(home)),
        holder,
    )
}

/// Locks for several homes, taken in path order so two appliers never deadlock.
pub fn homes<'a>(
    state_dir: &Path,
    paths: impl IntoIterator<Item = &'a Path>,
    holder: &str,
) -> Result<Vec<FileLock>> {
    let mut paths: Vec<(PathBuf, &Path)> = paths.into_iter().map(|p| (key(p), p)).collect();
    paths.sort();
    paths.dedup_by(|a, b| a.0 == b.0);
    paths
        .into_iter()
        .map(|(_, p)| home(state_dir, p, holder))
        .collect()
}
