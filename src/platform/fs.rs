//! Files and folders: private modes, opening without following links, folder fsync,
//! atomic replace, file times and identities.
//!
//! Private files: on Unix a secret file is 0600 and a private folder 0700. On Windows there
//! are no mode bits: a file takes the ACL its folder passes on (a profile folder is the
//! user's, SYSTEM's and the Administrators'), which is what Codex itself relies on for
//! auth.json there; cdxs does not write ACLs. [`mode`] is `None` on Windows.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::path::Path;
use std::time::Duration;

/// Whether files here have Unix permission bits.
pub const HAS_MODES: bool = cfg!(unix);

/// Create `dir` and its missing parents; on Unix the folders created get exactly `mode`
/// (the umask may clear bits, so the last one is set again). Windows: inherited ACL.
pub fn create_private_dir(dir: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)?;
        set_mode(dir, mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        fs::create_dir_all(dir)
    }
}

/// Set the permission bits of `path` (Unix); nothing on Windows.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The permission bits (`0o7777` mask) of a file or folder; `None` on Windows.
pub fn mode(meta: &Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Some(meta.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// [`mode`] of the file at `path` (`None` when absent, or on Windows).
pub fn mode_of(path: &Path) -> Option<u32> {
    mode(&fs::metadata(path).ok()?)
}

/// Ask `opts` to create a new file with `mode` (Unix; Windows: inherited ACL).
pub fn with_mode(opts: &mut OpenOptions, mode: u32) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        opts
    }
}

/// Create `path`, which must not exist, for writing, with `mode` (then set again on Unix:
/// the umask may have cleared bits; it is never widened beyond `mode`).
pub fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let file = with_mode(OpenOptions::new().write(true).create_new(true), mode).open(path)?;
    let _ = set_mode(path, mode);
    Ok(file)
}

/// Why a file could not be opened without following links.
#[derive(Debug)]
pub enum OpenError {
    /// The path is a symbolic link (or, on Windows, another reparse point).
    Link,
    Io(io::Error),
}

/// Open (creating it with `mode` when absent) a file to lock: read and write, never
/// through a symlink, not inherited by child processes, and never blocking on a FIFO.
pub fn open_lock_file(path: &Path, mode: u32) -> Result<File, OpenError> {
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    with_mode(&mut opts, mode);
    open_no_follow(&mut opts, path)
}

/// Open an existing file for reading, never through a symlink.
pub fn open_read_no_follow(path: &Path) -> Result<File, OpenError> {
    open_no_follow(OpenOptions::new().read(true), path)
}

#[cfg(unix)]
fn open_no_follow(opts: &mut OpenOptions, path: &Path) -> Result<File, OpenError> {
    use std::os::unix::fs::OpenOptionsExt;
    // O_CLOEXEC is std's default; O_NONBLOCK keeps a FIFO planted there from hanging us.
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    opts.open(path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            OpenError::Link
        } else {
            OpenError::Io(e)
        }
    })
}

#[cfg(windows)]
fn open_no_follow(opts: &mut OpenOptions, path: &Path) -> Result<File, OpenError> {
    use std::os::windows::fs::OpenOptionsExt;
    // FILE_FLAG_OPEN_REPARSE_POINT opens a link itself instead of its target; std's
    // handles are not inherited by children.
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    opts.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    let file = opts.open(path).map_err(OpenError::Io)?;
    match file.metadata() {
        Ok(m) if m.file_type().is_symlink() => Err(OpenError::Link),
        Ok(_) => Ok(file),
        Err(e) => Err(OpenError::Io(e)),
    }
}

#[cfg(not(any(unix, windows)))]
fn open_no_follow(opts: &mut OpenOptions, path: &Path) -> Result<File, OpenError> {
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(OpenError::Link);
    }
    opts.open(path).map_err(OpenError::Io)
}

/// fsync a folder so that a rename in it is durable. Windows refuses to open a folder as a
/// file ("Access is denied"); there the rename itself is written through ([`replace`]),
/// so this is a no-op.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(windows) {
        let _ = dir;
        return Ok(());
    }
    File::open(dir)?.sync_all()
}

/// How long [`replace`] keeps retrying a rename that another program's open handle blocks
/// (Windows: an antivirus scanner, the search indexer or OneDrive opening the file without
/// sharing delete). Unix renames are never blocked that way and are not retried.
pub const REPLACE_RETRY: &[Duration] = &[
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(20),
    Duration::from_millis(40),
    Duration::from_millis(80),
    Duration::from_millis(160),
    Duration::from_millis(320),
];

/// Rename `from` over `to` (replacing it), atomically. On Windows the rename is written
/// through to disk and retried for up to ~0.6 s while a sharing violation blocks it.
pub fn replace(from: &Path, to: &Path) -> io::Result<()> {
    let mut waits = REPLACE_RETRY.iter();
    loop {
        match rename_once(from, to) {
            Err(e) if is_sharing_violation(&e) => match waits.next() {
                Some(wait) => std::thread::sleep(*wait),
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// A rename or open that failed only because another process has the file open (Windows
/// `ERROR_ACCESS_DENIED` on a file being deleted or scanned, `ERROR_SHARING_VIOLATION`,
/// `ERROR_LOCK_VIOLATION`); never true on Unix.
pub fn is_sharing_violation(e: &io::Error) -> bool {
    cfg!(windows) && matches!(e.raw_os_error(), Some(5 | 32 | 33))
}

#[cfg(not(windows))]
fn rename_once(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)
}

#[cfg(windows)]
fn rename_once(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Storage::FileSystem::{
        MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH, MoveFileExW,
    };
    let wide = |p: &Path| -> Vec<u16> { p.as_os_str().encode_wide().chain([0]).collect() };
    let (f, t) = (wide(from), wide(to));
    // SAFETY: both are NUL-terminated UTF-16 strings that live across the call.
    let ok = unsafe {
        MoveFileExW(
            f.as_ptr(),
            t.as_ptr(),
            MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH,
        )
    };
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Modification time in nanoseconds since the Unix epoch (negative before it).
pub fn mtime_ns(meta: &Metadata) -> i64 {
    let Ok(t) = meta.modified() else {
        return 0;
    };
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// The number that identifies a file on its device (the inode on Unix); `None` where std
/// does not say (Windows).
pub fn file_id(meta: &Metadata) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Whether two existing paths name one file (a hard link to it, or itself; links are
/// followed): device and inode on Unix, volume serial number and file index on Windows
/// (`same-file`, which opens both). False when either cannot be read.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(a), fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        same_file::is_same_file(a, b).unwrap_or(false)
    }
}

/// Whether a file may be run: a regular file with an execute bit on Unix; on Windows a
/// regular file (the caller looks for names with an executable extension, see
/// [`super::path::executable_names`]).
pub fn is_executable(meta: &Metadata) -> bool {
    meta.is_file() && mode(meta).is_none_or(|m| m & 0o111 != 0)
}

/// Make a symbolic link at `link` pointing to `target` (a folder link when `target` is a
/// folder on Windows, where creating links needs Developer Mode or an administrator).
pub fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(target, link)
    }
    #[cfg(windows)]
    {
        let base = link.parent().unwrap_or(Path::new("."));
        if base.join(target).is_dir() {
            std::os::windows::fs::symlink_dir(target, link)?;
        } else {
            std::os::windows::fs::symlink_file(target, link)?;
        }
        // Wine 8.0 answers success and makes nothing.
        if fs::symlink_metadata(link).is_ok_and(|m| m.file_type().is_symlink()) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this system made no symbolic link",
            ))
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (target, link);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_moves_over_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, "new").unwrap();
        fs::write(&b, "old").unwrap();
        replace(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(&b).unwrap(), "new");
        assert!(!a.exists());
        sync_dir(dir.path()).unwrap();
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
    )]
    fn a_link_is_never_opened_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "secret").unwrap();
        let link = dir.path().join("x.lock");
        symlink(&target, &link).unwrap();
        assert!(matches!(open_lock_file(&link, 0o600), Err(OpenError::Link)));
        assert!(matches!(open_read_no_follow(&link), Err(OpenError::Link)));
        assert!(open_read_no_follow(&target).is_ok());
    }

    #[test]
    fn mtimes_are_nanoseconds_since_the_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let meta = fs::metadata(dir.path()).unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        let m = mtime_ns(&meta);
        assert!(
            m > now - 60_000_000_000 && m <= now + 1_000_000_000,
            "{m} vs {now}"
        );
    }

    #[test]
    fn private_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub, 0o700).unwrap();
        assert!(sub.is_dir());
        let f = sub.join("secret");
        drop(create_new(&f, 0o600).unwrap());
        assert!(
            create_new(&f, 0o600).is_err(),
            "create_new never opens an existing file"
        );
        if HAS_MODES {
            assert_eq!(mode_of(&sub), Some(0o700));
            assert_eq!(mode_of(&f), Some(0o600));
        } else {
            assert_eq!(mode_of(&f), None);
        }
    }
}
