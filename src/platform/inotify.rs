//! The inotify limits `cdxs watch` depends on (Linux only; macOS's FSEvents and Windows's
//! ReadDirectoryChangesW have no per-user limits worth checking).

/// `max_user_watches`, `max_user_instances`, and the instances this user's processes hold
/// now (`None` when it cannot be counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_watches: u64,
    pub max_instances: u64,
    pub instances_in_use: Option<u64>,
}

/// The limits, where the OS has them (Linux).
pub fn limits() -> Option<Limits> {
    imp::limits()
}

#[cfg(target_os = "linux")]
mod imp {
    use super::Limits;
    use std::ffi::OsStr;
    use std::os::unix::fs::MetadataExt;

    fn read_number(path: &str) -> Option<u64> {
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    }

    pub fn limits() -> Option<Limits> {
        Some(Limits {
            max_watches: read_number("/proc/sys/fs/inotify/max_user_watches")?,
            max_instances: read_number("/proc/sys/fs/inotify/max_user_instances")?,
            instances_in_use: in_use(),
        })
    }

    /// inotify instances this user's processes hold now (each `watch` needs one).
    fn in_use() -> Option<u64> {
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let mut n = 0;
        for p in std::fs::read_dir("/proc").ok()?.flatten() {
            if p.metadata().map(|m| m.uid()).ok() != Some(uid) {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if std::fs::read_link(fd.path())
                    .is_ok_and(|l| l.as_os_str() == OsStr::new("anon_inode:inotify"))
                {
                    n += 1;
                }
            }
        }
        Some(n)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn limits() -> Option<super::Limits> {
        None
    }
}
