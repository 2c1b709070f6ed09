//! File-system primitives every writer in cdxs goes through: atomic writes, private
//! folders, advisory locks with bounded waits, and fault points for crash tests.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result, tick};
use crate::platform;

/// Mode of every file that may hold a secret.
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode of folders cdxs creates for itself or for a Codex home.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// Create `dir` (and parents) 0700 when it does not exist (on Windows: with the ACL its
/// parent passes on). A folder that exists is never chmodded: it may be shared on purpose
/// (a 1777 folder, a group's folder), and a read-only command must not change it;
/// [`crate::paths::state_dir_warning`] says when it is open.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        platform::fs::create_private_dir(dir, PRIVATE_DIR_MODE)
            .context(|| format!("cannot create folder {}", tick(dir)))?;
    }
    let meta = fs::metadata(dir).context(|| format!("cannot read folder {}", tick(dir)))?;
    if !meta.is_dir() {
        return Err(Error::user(format!(
            "{} exists but is not a folder",
            tick(dir)
        )));
    }
    Ok(())
}

/// Write `bytes` to `path` atomically: a temp file in the same folder (created 0600 or
/// `mode`), fsync, rename over the target, fsync the folder. A crash leaves either the old
/// file or the new one, never a torn one; a stray temp file is the worst case. On Windows
/// the rename is written through and retried briefly while another program (an antivirus,
/// the indexer, OneDrive) has the target open ([`platform::fs::replace`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    replace_atomically(path, mode, |tmp| tmp.write_all(bytes))
}

/// Copy `from` to `to` atomically (as [`write_atomic`]), streaming (a rollout may be
/// large), with `from`'s permission bits.
pub fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let mode = mode_of(from).unwrap_or(SECRET_FILE_MODE);
    let mut source = File::open(from).context(|| format!("cannot read {}", tick(from)))?;
    replace_atomically(to, mode, |tmp| io::copy(&mut source, tmp).map(|_| ()))
}

/// The temp file, fsync, rename, folder fsync steps of every atomic write; `fill` writes
/// the content.
fn replace_atomically(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<()> {
    let dir = parent_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let (tmp_path, mut tmp) = create_temp_in(&dir, &name, mode)?;
    let result = (|| {
        fill(&mut tmp)?;
        tmp.sync_all()?;
        drop(tmp);
        fault_point("write_atomic.before_rename");
        platform::fs::replace(&tmp_path, path)?;
        sync_dir(&dir)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp_path);
        return Err(Error::io(format!("cannot write {}", tick(path)), source));
    }
    Ok(())
}

/// Refuse a path that exists and is not a real folder (a symlink, a file): folders cdxs
/// works in inside a home are never followed elsewhere. Absent is fine.
pub fn refuse_non_dir(path: &Path, help: &str) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if !m.is_dir() => Err(Error::user(format!(
            "{} is not a folder (a symlink or a file); cdxs does not follow it",
            tick(path)
        ))
        .with_help(help.to_string())),
        _ => Ok(()),
    }
}

/// Create `.<name>.cdxs-<random>` exclusively in `dir`.
fn create_temp_in(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File)> {
    for _ in 0..16 {
        let candidate = dir.join(format!(".{name}.cdxs-{}", random_suffix()));
        match platform::fs::create_new(&candidate, mode) {
            Ok(file) => return Ok((candidate, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::io(
                    format!("cannot create a temporary file in {}", tick(dir)),
                    e,
                ));
            }
        }
    }
    Err(Error::user(format!(
        "cannot create a temporary file in {}: too many name clashes",
        tick(dir)
    )))
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Remove temp files a killed cdxs left next to `name` in `dir` (`.name.cdxs-*`). Call only
/// while holding the locks that serialize writers of that file.
pub fn remove_stale_temps(dir: &Path, name: &str) {
    remove_temps_older_than(dir, name, Duration::ZERO);
}

/// Like [`remove_stale_temps`], without the locks: only temps older than `age` go (a live
/// writer holds its temp file for milliseconds).
pub fn remove_temps_older_than(dir: &Path, name: &str, age: Duration) {
    let prefix = format!(".{name}.cdxs-");
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let old_enough = age.is_zero()
                || e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|el| el >= age);
            if old_enough {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// fsync a folder so that a rename in it is durable (a no-op on Windows, which refuses to
/// open a folder that way and writes the rename through instead).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    platform::fs::sync_dir(dir)
}

/// Restrict an existing file to 0600 (used after SQLite creates side files; Windows: the
/// folder's ACL applies).
pub fn restrict_file(path: &Path) -> Result<()> {
    if let Some(mode) = platform::fs::mode_of(path)
        && mode & 0o777 != SECRET_FILE_MODE
    {
        platform::fs::set_mode(path, SECRET_FILE_MODE)
            .context(|| format!("cannot restrict {} to 0600", tick(path)))?;
    }
    Ok(())
}

/// The permission bits of an existing file (`None` when it is absent, and on Windows).
pub fn mode_of(path: &Path) -> Option<u32> {
    platform::fs::mode_of(path).map(|m| m & 0o777)
}

/// Read a file that may be absent.
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot read {}", tick(path)), e)),
    }
}

/// Read at most `limit` bytes of a file another program writes (`auth.json`, an auth file,
/// a trash manifest): a larger file, or one that never ends (`/dev/zero`, a FIFO that keeps
/// writing), is a clean error instead of a read until memory runs out.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    read_optional_bounded(path, limit)?.ok_or_else(|| {
        Error::io(
            format!("cannot read {}", tick(path)),
            io::Error::from(io::ErrorKind::NotFound),
        )
    })
}

/// [`read_bounded`] for a file that may be absent.
pub fn read_optional_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(format!("cannot read {}", tick(path)), e)),
    };
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .context(|| format!("cannot read {}", tick(path)))?;
    if bytes.len() as u64 > limit {
        return Err(Error::user(format!(
            "{} is larger than {} (or never ends); cdxs does not read it",
            tick(path),
            human_size(limit)
        ))
        .with_help("point cdxs at the real file; this one is not what Codex writes there"));
    }
    Ok(Some(bytes))
}

fn human_size(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{} KiB", n / 1024),
        _ => format!("{} MiB", n / 1_048_576),
    }
}

/// An advisory lock (`flock`; `LockFileEx` on Windows) held until dropped. A killed
/// process releases it with its file handles, so a crash never leaves a lock that blocks
/// forever.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record who holds the lock (for our own lock files only; Codex's stay empty).
    pub fn write_holder(&mut self, what: &str) {
        let text = format!(
            "pid={} since={} {}\n",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            what
        );
        let _ = self.file.set_len(0);
        let _ = (&self.file).write_all(text.as_bytes());
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// How to open a lock file.
#[derive(Debug, Clone, Copy)]
pub struct LockSpec {
    /// Mode for a newly created lock file.
    pub mode: u32,
    /// How long to wait before giving up.
    pub timeout: Duration,
    /// How often to retry.
    pub poll: Duration,
}

impl LockSpec {
    pub fn new(timeout: Duration) -> Self {
        LockSpec {
            mode: SECRET_FILE_MODE,
            timeout,
            poll: Duration::from_millis(10),
        }
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
}

/// Open a lock file: created with `mode` when absent, never through a symlink (a link
/// planted in a home must not make cdxs create or lock a file elsewhere), and never
/// anything but a regular file.
fn open_lock_file(path: &Path, mode: u32) -> Result<File> {
    let file = platform::fs::open_lock_file(path, mode).map_err(|e| match e {
        platform::fs::OpenError::Link => Error::user(format!(
            "the lock file {} is a symlink; cdxs does not follow symlinks for lock files",
            tick(path)
        ))
        .with_help(
            "remove that link (Codex and cdxs create their lock files themselves), then retry",
        ),
        platform::fs::OpenError::Io(e) => {
            Error::io(format!("cannot open lock file {}", tick(path)), e)
        }
    })?;
    let is_file = file.metadata().map(|m| m.is_file()).unwrap_or(false);
    if !is_file {
        return Err(Error::user(format!(
            "the lock file {} is not a regular file",
            tick(path)
        ))
        .with_help("move it away, then retry"));
    }
    Ok(file)
}

/// Take an exclusive lock on `path`, polling until `spec.timeout`. On timeout the error
/// names the holder (pid and command where the OS says, see [`platform::locks`]) and
/// exits with code 3.
pub fn lock_exclusive(path: &Path, spec: LockSpec, what: &str) -> Result<FileLock> {
    let file = open_lock_file(path, spec.mode)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                return Ok(FileLock {
                    file,
                    path: path.to_path_buf(),
                });
            }
            Err(fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= spec.timeout {
                    let holder = describe_holder(path);
                    return Err(Error::lock_timeout(
                        format!(
                            "timed out after {:.1}s waiting for {what} ({}), held by {holder}",
                            spec.timeout.as_secs_f64(),
                            tick(path)
                        ),
                        "wait for that process to finish and retry, or raise the wait with `CDXS_LOCK_TIMEOUT=<seconds>`",
                    ));
                }
                std::thread::sleep(spec.poll);
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("cannot lock {}", tick(path)), e));
            }
        }
    }
}

/// Try once; `Ok(None)` when someone else holds it.
pub fn try_lock_exclusive(path: &Path, mode: u32) -> Result<Option<FileLock>> {
    let file = open_lock_file(path, mode)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(FileLock {
            file,
            path: path.to_path_buf(),
        })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(Error::io(format!("cannot lock {}", tick(path)), e)),
    }
}

/// The most of a lock file cdxs reads to say who holds it.
const MAX_HOLDER_BYTES: u64 = 512;

/// Who holds a lock on `path`: "pid 123 (codex)" where the OS says, plus what cdxs itself
/// wrote into its own lock files (`pid=... since=... <command>`). Anything else in the file
/// is never shown (Codex's lock files are empty; a lock file may be a link to a secret),
/// and the file is read without following a symlink, at most [`MAX_HOLDER_BYTES`].
pub fn describe_holder(path: &Path) -> String {
    let mut parts = Vec::new();
    if let Some((pid, comm)) = platform::locks::holder(path) {
        parts.push(match comm {
            Some(c) => format!("pid {pid} ({})", crate::text::sanitize(&c)),
            None => format!("pid {pid}"),
        });
    }
    if let Some(mine) = read_holder_note(path) {
        parts.push(format!("[{mine}]"));
    }
    if parts.is_empty() {
        "another process".to_string()
    } else {
        parts.join(" ")
    }
}

/// The note [`FileLock::write_holder`] left in a lock file, if that is what it holds.
fn read_holder_note(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = platform::fs::open_read_no_follow(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    file.take(MAX_HOLDER_BYTES).read_to_end(&mut bytes).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?.trim();
    parse_holder_note(text)
}

/// `pid=<digits> since=<time> <command>` (one line) in, the same out with the command
/// cleaned; anything else is not ours.
fn parse_holder_note(text: &str) -> Option<String> {
    if text.lines().count() != 1 {
        return None;
    }
    let rest = text.strip_prefix("pid=")?;
    let (pid, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix("since=")?;
    let (since, what) = rest.split_once(' ').unwrap_or((rest, ""));
    let since_ok = since.len() <= 30
        && since
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 'Z'));
    if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_digit()) || !since_ok {
        return None;
    }
    let what = crate::text::sanitize(&crate::secret::redact(what)).into_owned();
    Some(format!("pid={pid} since={since} {what}").trim().to_string())
}

/// The default wait for a lock, in seconds.
pub const DEFAULT_LOCK_WAIT_SECS: u64 = 30;
/// The longest wait `CDXS_LOCK_TIMEOUT` can ask for: a day (`inf` and larger numbers are
/// clamped to it).
pub const MAX_LOCK_WAIT_SECS: u64 = 86_400;

/// The lock wait used for cdxs's own locks: `CDXS_LOCK_TIMEOUT` seconds, default 30.
pub fn lock_timeout() -> Duration {
    if let Some(t) = LOCK_TIMEOUT.get() {
        return *t;
    }
    lock_timeout_from(std::env::var("CDXS_LOCK_TIMEOUT").ok().as_deref())
}

/// `CDXS_LOCK_TIMEOUT`'s value as a wait, with bounds: a number of seconds from 0 to a day
/// (larger, `inf` included, is clamped to a day); anything else (negative, `NaN`, not a
/// number) is the default. Never a panic.
pub fn lock_timeout_from(value: Option<&str>) -> Duration {
    let default = Duration::from_secs(DEFAULT_LOCK_WAIT_SECS);
    let Some(secs) = value.and_then(|v| v.trim().parse::<f64>().ok()) else {
        return default;
    };
    if secs.is_nan() || secs < 0.0 {
        return default;
    }
    let max = MAX_LOCK_WAIT_SECS as f64;
    Duration::try_from_secs_f64(secs.min(max)).unwrap_or(default)
}

static LOCK_TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Fix the lock wait for this process (the shell reads `CDXS_LOCK_TIMEOUT` once).
pub fn set_lock_timeout(t: Duration) {
    let _ = LOCK_TIMEOUT.set(t);
}

/// A named place in a write path where tests can kill the process:
/// `CDXS_FAULT=<point>[:<n>]` aborts at the n-th time (default the first) the point is
/// reached. Compiled into debug builds only; release builds never read the variable.
#[inline]
pub fn fault_point(point: &str) {
    #[cfg(debug_assertions)]
    {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static HITS: AtomicUsize = AtomicUsize::new(0);
        if let Ok(wanted) = std::env::var("CDXS_FAULT") {
            for spec in wanted.split(',') {
                let (name, nth) = match spec.split_once(':') {
                    Some((n, k)) => (n, k.parse::<usize>().unwrap_or(1)),
                    None => (spec, 1),
                };
                if name == point && HITS.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                    eprintln!("cdxs: fault point `{point}` reached, aborting");
                    std::process::abort();
                }
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        if platform::fs::HAS_MODES {
            assert_eq!(mode_of(&path), Some(0o600));
        }
        // no temp file left behind
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn lock_times_out_and_names_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let mut held = lock_exclusive(&path, LockSpec::new(Duration::from_secs(1)), "x").unwrap();
        held.write_holder("cdxs apply");
        let err = lock_exclusive(
            &path,
            LockSpec::new(Duration::from_millis(50)),
            "the x lock",
        )
        .unwrap_err();
        assert_eq!(err.exit(), crate::error::Exit::LockTimeout);
        let msg = err.to_string();
        assert!(msg.contains("the x lock"), "{msg}");
        if platform::locks::LockTable::read().can_tell() {
            assert!(
                msg.contains(&format!("pid {}", std::process::id())),
                "{msg}"
            );
        }
        assert!(msg.contains("cdxs apply"), "{msg}");
        drop(held);
        lock_exclusive(&path, LockSpec::new(Duration::from_millis(50)), "x").unwrap();
    }

    #[test]
    fn lock_timeouts_are_bounded() {
        let secs = |v: &str| lock_timeout_from(Some(v)).as_secs_f64();
        assert_eq!(secs("2.5"), 2.5);
        assert_eq!(secs("0"), 0.0);
        for huge in ["inf", "1e19", "18446744073709551616", "+inf"] {
            assert_eq!(secs(huge), MAX_LOCK_WAIT_SECS as f64, "{huge}");
        }
        for bad in ["NaN", "-5", "abc", "", "-inf"] {
            assert_eq!(secs(bad), DEFAULT_LOCK_WAIT_SECS as f64, "{bad}");
        }
        assert_eq!(lock_timeout_from(None).as_secs(), DEFAULT_LOCK_WAIT_SECS);
    }

    #[test]
    fn private_dir_is_0700() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        ensure_private_dir(&sub).unwrap();
        if !platform::fs::HAS_MODES {
            return;
        }
        assert_eq!(platform::fs::mode_of(&sub), Some(0o700));
        // An existing folder keeps its mode.
        platform::fs::set_mode(&sub, 0o1777).unwrap();
        ensure_private_dir(&sub).unwrap();
        assert_eq!(platform::fs::mode_of(&sub), Some(0o1777));
    }
}
