//! Handing the terminal to another program (`cdxs run -- codex`): signals, the terminal
//! and the exit code must pass straight through.
//!
//! Unix: `exec` replaces cdxs with the command (same pid; a signal reaches the command
//! itself). Windows has no exec: cdxs starts the command in its console, ignores Ctrl-C and
//! Ctrl-Break itself (the console sends them to every process attached to it, so the
//! command receives them directly, as it would without cdxs), waits, and exits with the
//! command's exit code (all 32 bits of it).

use std::io;
use std::process::Command;

/// Run `cmd` in place of this process. Returns only when the command could not be started
/// (on Windows: or not waited for); otherwise this process ends with the command's code.
pub fn hand_over(mut cmd: Command) -> io::Error {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.exec()
    }
    #[cfg(not(unix))]
    {
        use std::io::Write;
        // A handler that does nothing: this process stays to report the child's code; the
        // child, in the same console, gets the same Ctrl-C and decides for itself.
        let _ = ctrlc::set_handler(|| {});
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => return e,
        };
        match child.wait() {
            Ok(status) => {
                let _ = io::stdout().flush();
                let _ = io::stderr().flush();
                std::process::exit(status.code().unwrap_or(1))
            }
            Err(e) => e,
        }
    }
}
