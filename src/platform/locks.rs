//! Who holds a file lock, where the OS can say without taking the lock: Linux lists every
//! `flock` in `/proc/locks` (by inode, with the holder's pid). macOS and Windows have no
//! such list; there a held lock is "held by another process" and a caller that must know
//! whether a lock is held takes it (non-blocking) under the protocol of that lock's owner.

use std::collections::HashMap;
use std::path::Path;

/// The `flock`s held on this machine now, by file identity.
#[derive(Debug, Clone, Default)]
pub struct LockTable {
    /// inode -> pid; `None` where the OS does not list locks.
    by_inode: Option<HashMap<u64, u32>>,
}

impl LockTable {
    /// Read the table (Linux: `/proc/locks`; elsewhere an empty table that says it cannot
    /// tell).
    pub fn read() -> LockTable {
        LockTable {
            by_inode: read_proc_locks(),
        }
    }

    /// Whether this OS lists lock holders at all.
    pub fn can_tell(&self) -> bool {
        self.by_inode.is_some()
    }

    /// The pid holding a lock on `path` (`None`: not held, or the OS cannot tell).
    pub fn holder(&self, path: &Path) -> Option<u32> {
        let table = self.by_inode.as_ref()?;
        let meta = std::fs::symlink_metadata(path).ok()?;
        table.get(&super::fs::file_id(&meta)?).copied()
    }
}

/// The pid holding a lock on `path` and its command name, where the OS can tell.
pub fn holder(path: &Path) -> Option<(u32, Option<String>)> {
    let pid = LockTable::read().holder(path)?;
    Some((pid, super::process::command_name(pid)))
}

#[cfg(target_os = "linux")]
fn read_proc_locks() -> Option<HashMap<u64, u32>> {
    let text = std::fs::read_to_string("/proc/locks").ok()?;
    Some(parse_proc_locks(&text))
}

#[cfg(not(target_os = "linux"))]
fn read_proc_locks() -> Option<HashMap<u64, u32>> {
    None
}

/// `1: FLOCK  ADVISORY  WRITE 12345 fd:01:1234567 0 EOF` lines: inode -> pid. POSIX
/// (`fcntl`) locks are not Codex's and are left out.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_proc_locks(text: &str) -> HashMap<u64, u32> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // A waiter's line reads "1: -> FLOCK ...": it holds nothing.
        if fields.len() < 6 || fields[1] != "FLOCK" {
            continue;
        }
        let inode = fields[5].rsplit(':').next().and_then(|i| i.parse().ok());
        if let (Some(inode), Ok(pid)) = (inode, fields[4].parse::<u32>()) {
            out.insert(inode, pid);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flock_lines_only() {
        let t = parse_proc_locks(
            "1: FLOCK  ADVISORY  WRITE 4242 fd:01:777 0 EOF\n\
             2: POSIX  ADVISORY  WRITE 9 fd:01:778 0 EOF\n\
             3: -> FLOCK  ADVISORY  WRITE 5 fd:01:777 0 EOF\n\
             garbage\n",
        );
        assert_eq!(t.get(&777), Some(&4242));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_held_lock_is_seen_where_the_os_tells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let f = std::fs::File::create(&path).unwrap();
        f.lock().unwrap();
        let table = LockTable::read();
        if table.can_tell() {
            assert_eq!(table.holder(&path), Some(std::process::id()));
        } else {
            assert_eq!(table.holder(&path), None);
        }
        assert_eq!(cfg!(target_os = "linux"), table.can_tell());
    }
}
