//! File events for `watch`: notify on folders, non-recursively (editors and Codex replace
//! files by rename), the names that matter, debounced per home (500 ms after the last
//! event, at most 5 s after the first), own writes dropped by their content hash, and
//! polling when the watch cannot be set up (the inotify limit).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::manifest::Manifest;
use crate::secret::fingerprint;

/// What a watched folder belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Key {
    Manifest,
    Home(String),
}

/// Files whose change may change the plan (an allow-list). Not `-shm`, `*.lock`, temp files,
/// or anything under `sessions/` (new rollouts show up through the state DB and the periodic
/// cycle); not the locks Codex 0.171 takes while it signs in, refreshes another provider's
/// login or maintains its files ([`CODEX_LOCKS`]), nor anything in its folders (`.tmp/`,
/// `secrets/`, which are not watched: watches are not recursive).
pub fn relevant(name: &str) -> bool {
    matches!(
        name,
        "auth.json"
            | "config.toml"
            | "session_index.jsonl"
            | "state_5.sqlite"
            | "state_5.sqlite-wal"
            | "thread_history_1.sqlite"
            | "thread_history_1.sqlite-wal"
    )
}

/// Codex's lock files in a home (0.169 and 0.171), relative to it: events on them never mark
/// a home dirty.
pub const CODEX_LOCKS: &[&str] = &[
    "auth.lock",
    "auth.json.lock",
    "session_index.jsonl.lock",
    ".login.lock",
    ".sqlite-maintenance.lock",
    "gateway_oauth.lock",
    "secrets/gateway_oauth.lock",
    ".tmp/rollout-compression.lock",
    ".tmp/rollout-maintenance.lock",
    "thread-writer-locks/.coordination.lock",
];

pub const QUIET: Duration = Duration::from_millis(500);
pub const CEILING: Duration = Duration::from_secs(5);

/// Per-key debounce: due `QUIET` after the last event, and no later than `CEILING` after the
/// first one of a burst.
#[derive(Debug, Default)]
pub struct Debouncer {
    pending: BTreeMap<Key, (Instant, Instant)>,
}

impl Debouncer {
    pub fn mark(&mut self, key: Key, now: Instant) {
        self.pending
            .entry(key)
            .and_modify(|(_, last)| *last = now)
            .or_insert((now, now));
    }

    fn due_at(first: Instant, last: Instant) -> Instant {
        (last + QUIET).min(first + CEILING)
    }

    /// The keys that are due at `now` (they leave the debouncer).
    pub fn take_due(&mut self, now: Instant) -> Vec<Key> {
        let due: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, (f, l))| Self::due_at(*f, *l) <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.pending.remove(k);
        }
        due
    }

    /// When the next key is due.
    pub fn next(&self) -> Option<Instant> {
        self.pending
            .values()
            .map(|(f, l)| Self::due_at(*f, *l))
            .min()
    }
}

/// What cdxs itself last wrote into each watched file, by content hash: an event whose file
/// hashes to it again is cdxs's own write, not a change.
#[derive(Debug, Default)]
pub struct OwnWrites {
    hashes: BTreeMap<PathBuf, Option<String>>,
}

fn hash_of(path: &Path) -> Option<String> {
    crate::fsx::read_bounded(path, 64 * 1024 * 1024)
        .ok()
        .map(|b| fingerprint(&b))
}

impl OwnWrites {
    /// Remember what the home's watched files hold now (after cdxs wrote them).
    pub fn record(&mut self, home: &Path) {
        for name in ["auth.json", "config.toml", "session_index.jsonl"] {
            let p = home.join(name);
            self.hashes.insert(p.clone(), hash_of(&p));
        }
    }

    /// Is this event cdxs's own write (the file holds what cdxs left there)?
    pub fn is_own(&self, path: &Path) -> bool {
        match self.hashes.get(path) {
            Some(h) => *h == hash_of(path),
            None => false,
        }
    }
}

/// The state database of a home, on one read-only connection: `PRAGMA data_version`
/// changes when any other connection commits. No read transaction is held between cycles.
#[derive(Default)]
pub struct DbVersions {
    conns: BTreeMap<String, (rusqlite::Connection, i64)>,
}

impl DbVersions {
    fn version(conn: &rusqlite::Connection) -> Option<i64> {
        conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok()
    }

    /// Homes whose state DB changed since the last call (a home seen the first time has not).
    pub fn changed(&mut self, homes: &[(String, PathBuf)]) -> Vec<String> {
        let mut out = Vec::new();
        for (name, path) in homes {
            let db = crate::codex::state::sqlite_home(path).join(crate::codex::state::STATE_DB);
            match self.conns.get_mut(name) {
                Some((conn, seen)) => {
                    if let Some(v) = Self::version(conn)
                        && v != *seen
                    {
                        *seen = v;
                        out.push(name.clone());
                    }
                }
                None if db.exists() => {
                    if let Ok(conn) = rusqlite::Connection::open_with_flags(
                        &db,
                        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    ) {
                        let _ = conn.busy_timeout(Duration::from_millis(200));
                        let v = Self::version(&conn).unwrap_or(0);
                        self.conns.insert(name.clone(), (conn, v));
                    }
                }
                None => {}
            }
        }
        out
    }

    /// After cdxs wrote a home's database: its own commit is not a change.
    pub fn settle(&mut self, home: &str) {
        if let Some((conn, seen)) = self.conns.get_mut(home)
            && let Some(v) = Self::version(conn)
        {
            *seen = v;
        }
    }
}

/// A message to the watch loop.
#[derive(Debug)]
pub enum Msg {
    /// Files changed.
    Fs(Vec<PathBuf>),
    /// SIGINT or SIGTERM: finish the current action, then stop.
    Stop,
}

/// How watch sees changes.
pub enum Mode {
    Events(notify::RecommendedWatcher),
    /// The watch could not be set up: files are polled (their size and mtime).
    Polling {
        every: Duration,
        seen: BTreeMap<PathBuf, Option<(u64, std::time::SystemTime)>>,
    },
}

/// The folders watched and what they belong to.
pub struct Watches {
    pub mode: Mode,
    folders: BTreeMap<PathBuf, Key>,
}

fn stat(p: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

impl Watches {
    /// Start watching; `Err` carries why events are not available (and polling is used).
    pub fn start(tx: Sender<Msg>) -> (Watches, Option<String>) {
        let made = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(ev) = res
                && !matches!(ev.kind, notify::EventKind::Access(_))
            {
                let _ = tx.send(Msg::Fs(ev.paths));
            }
        });
        match made {
            Ok(w) => (
                Watches {
                    mode: Mode::Events(w),
                    folders: BTreeMap::new(),
                },
                None,
            ),
            Err(e) => (Watches::polling(), Some(limit_help(&e.to_string()))),
        }
    }

    fn polling() -> Watches {
        Watches {
            mode: Mode::Polling {
                every: Duration::from_secs(2),
                seen: BTreeMap::new(),
            },
            folders: BTreeMap::new(),
        }
    }

    /// Watch the manifest's folder and every declared home that exists; `Some(why)` when
    /// watch had to fall back to polling. `limit`: act as if the system allowed this many
    /// watches (tests of the fallback; debug builds only).
    pub fn sync(&mut self, m: &Manifest, limit: Option<usize>) -> Option<String> {
        use notify::Watcher;
        let mut wanted: BTreeMap<PathBuf, Key> = BTreeMap::new();
        wanted.insert(crate::fsx::parent_of(&m.path), Key::Manifest);
        for h in m.homes.values() {
            if h.path.is_dir() {
                wanted.insert(h.path.clone(), Key::Home(h.name.clone()));
            }
        }
        if matches!(self.mode, Mode::Polling { .. }) {
            self.folders = wanted;
            return None;
        }
        let mut fallback = limit.filter(|n| wanted.len() > *n).map(|n| {
            limit_help(&format!(
                "the limit of {n} watches was reached: No space left on device (os error 28)"
            ))
        });
        if let (Mode::Events(w), None) = (&mut self.mode, &fallback) {
            for old in self.folders.keys() {
                if !wanted.contains_key(old) {
                    let _ = w.unwatch(old);
                }
            }
            for folder in wanted.keys() {
                if self.folders.contains_key(folder) {
                    continue;
                }
                if let Err(e) = w.watch(folder, notify::RecursiveMode::NonRecursive) {
                    let text = e.to_string();
                    if text.contains("No space left")
                        || text.contains("os error 28")
                        || matches!(e.kind, notify::ErrorKind::MaxFilesWatch)
                    {
                        fallback = Some(limit_help(&text));
                        break;
                    }
                }
            }
        }
        if fallback.is_some() {
            *self = Watches::polling();
        }
        self.folders = wanted;
        fallback
    }

    /// What a changed path belongs to, if it is a file that matters.
    pub fn key_of(&self, path: &Path, manifest: &Path) -> Option<Key> {
        if path == manifest {
            return Some(Key::Manifest);
        }
        let name = path.file_name()?.to_str()?;
        if !relevant(name) {
            return None;
        }
        match self.folders.get(path.parent()?) {
            Some(Key::Home(h)) => Some(Key::Home(h.clone())),
            _ => None,
        }
    }

    /// Polling: the files that changed since the last poll (events mode: none).
    pub fn poll(&mut self, manifest: &Path) -> Vec<PathBuf> {
        let Mode::Polling { seen, .. } = &mut self.mode else {
            return Vec::new();
        };
        let mut files = vec![manifest.to_path_buf()];
        for (folder, key) in &self.folders {
            if matches!(key, Key::Home(_)) {
                for name in [
                    "auth.json",
                    "config.toml",
                    "session_index.jsonl",
                    "state_5.sqlite",
                    "state_5.sqlite-wal",
                ] {
                    files.push(folder.join(name));
                }
            }
        }
        let mut changed = Vec::new();
        for f in files {
            let now = stat(&f);
            match seen.insert(f.clone(), now) {
                Some(before) if before != now => changed.push(f),
                _ => {}
            }
        }
        changed
    }

    /// How often to poll, when polling.
    pub fn poll_every(&self) -> Option<Duration> {
        match &self.mode {
            Mode::Polling { every, .. } => Some(*every),
            Mode::Events(_) => None,
        }
    }
}

fn limit_help(why: &str) -> String {
    format!(
        "cannot watch files ({why}); polling every 2 s instead. Raise the inotify limits: `sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512` (and in /etc/sysctl.d/ to keep them)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_is_trailing_with_a_ceiling() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut d = Debouncer::default();
        d.mark(Key::Home("a".into()), ms(0));
        assert!(d.take_due(ms(400)).is_empty());
        d.mark(Key::Home("a".into()), ms(400));
        assert!(
            d.take_due(ms(800)).is_empty(),
            "500 ms after the last event"
        );
        assert_eq!(d.take_due(ms(900)), vec![Key::Home("a".into())]);
        // A steady stream of events is still handled within 5 s.
        for n in (0..6000).step_by(100) {
            d.mark(Key::Home("b".into()), ms(10_000 + n));
            if n >= 5000 {
                break;
            }
        }
        assert_eq!(d.next(), Some(ms(15_000)));
        assert_eq!(d.take_due(ms(15_000)), vec![Key::Home("b".into())]);
        assert_eq!(d.next(), None);
    }

    #[test]
    fn names_that_matter() {
        for n in [
            "auth.json",
            "config.toml",
            "state_5.sqlite-wal",
            "session_index.jsonl",
        ] {
            assert!(relevant(n), "{n}");
        }
        for n in [
            "state_5.sqlite-shm",
            "auth.json.lock",
            ".auth-1a2b3c",
            "rollout-x.jsonl",
        ] {
            assert!(!relevant(n), "{n}");
        }
    }

    #[test]
    fn codex_locks_never_mark_a_home_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("h");
        let manifest = dir.path().join("cdxs.yaml");
        let mut w = Watches::polling();
        w.folders.insert(home.clone(), Key::Home("h".into()));
        w.folders.insert(dir.path().to_path_buf(), Key::Manifest);
        assert_eq!(
            w.key_of(&home.join("auth.json"), &manifest),
            Some(Key::Home("h".into()))
        );
        for lock in CODEX_LOCKS {
            assert_eq!(w.key_of(&home.join(lock), &manifest), None, "{lock}");
            // Also were its folder watched (a home that is another's `.tmp`, say).
            let name = Path::new(lock).file_name().unwrap().to_str().unwrap();
            assert!(!relevant(name), "{lock}");
        }
    }

    #[test]
    fn own_writes_are_known_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        std::fs::write(&f, "a").unwrap();
        let mut own = OwnWrites::default();
        own.record(dir.path());
        assert!(own.is_own(&f));
        std::fs::write(&f, "b").unwrap();
        assert!(!own.is_own(&f), "someone else wrote it");
        assert!(!own.is_own(&dir.path().join("other")));
    }
}
