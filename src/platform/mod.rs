//! Every difference between the operating systems cdxs runs on (Linux, macOS, Windows), in
//! one place at the bottom of the layering: it imports nothing of the crate, and no other
//! module needs a `cfg` for an OS (tests aside).
//!
//! - [`browser`]: open a web address (`$BROWSER`, `xdg-open`, `open`, the Windows shell).
//! - [`fs`]: private files and folders (modes on Unix; on Windows a file takes its folder's
//!   inherited ACL, as Codex's own auth.json does), opening without following links, folder
//!   fsync, atomic replace with a short bounded retry on sharing violations, file times.
//! - [`locks`]: who holds a file lock, where the OS can say (Linux `/proc/locks`).
//! - [`process`]: the processes running now with their command line and `CODEX_HOME`
//!   (Linux `/proc`; macOS and Windows through `sysinfo`), and whether a pid is alive.
//! - [`run`]: hand the terminal to a command (exec on Unix; on Windows spawn, let Ctrl-C
//!   reach the child, wait, exit with its code).
//! - [`signals`]: "stop" requests (SIGINT/SIGTERM; Ctrl-C/Ctrl-Break/close on Windows).
//! - [`dirs`]: the default folders of Codex and of cdxs per OS.
//! - [`path`]: Windows path spellings (`\\?\C:\` = `C:\`, case folded) and plain
//!   canonical paths; commands found on `PATH` with `%PATHEXT%`.
//! - [`service`]: where this OS keeps the `cdxs watch` service definition.
//! - [`inotify`]: the Linux limits `cdxs watch` depends on.
//!
//! File locks themselves need nothing here: std's `File::lock`/`try_lock` are `flock` on
//! Unix and `LockFileEx` on Windows, the same pair Codex uses on every OS.

pub mod browser;
pub mod codex_admin;
pub mod dirs;
pub mod fs;
pub mod inotify;
pub mod locks;
pub mod mounts;
pub mod path;
pub mod process;
pub mod run;
pub mod service;
pub mod signals;

/// The OS cdxs was built for, as Codex's app-server names it (`linux`, `macos`, `windows`).
pub const OS: &str = std::env::consts::OS;

/// True on Windows: what differs is explained where it is used (`paths`, `doctor`).
pub const WINDOWS: bool = cfg!(windows);

/// The file name of an executable called `name` here (`codex` -> `codex.exe` on Windows).
pub fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}
