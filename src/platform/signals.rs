//! Requests to stop: SIGINT, SIGTERM and SIGHUP on Unix (a terminal's Ctrl-C, systemd and
//! launchd stopping a service, a closed terminal); Ctrl-C, Ctrl-Break and the console's
//! close, log-off and shut-down events on Windows (a console, Task Scheduler ending a task).

use std::io;

/// Call `stop` (on another thread) each time this process is asked to stop. Once per
/// process: a second call fails.
pub fn on_stop(stop: impl FnMut() + Send + 'static) -> io::Result<()> {
    ctrlc::set_handler(stop).map_err(|e| match e {
        ctrlc::Error::System(e) => e,
        other => io::Error::other(other.to_string()),
    })
}

/// Resolves when this process is asked to stop (for the async server).
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = async {
            match signal(SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term => {},
        }
    }
    #[cfg(windows)]
    {
        use tokio::signal::windows;
        // Each console event as a future that never resolves when it cannot be listened to.
        macro_rules! event {
            ($listen:expr) => {
                async {
                    match $listen {
                        Ok(mut s) => {
                            s.recv().await;
                        }
                        Err(_) => std::future::pending::<()>().await,
                    }
                }
            };
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = event!(windows::ctrl_break()) => {},
            _ = event!(windows::ctrl_close()) => {},
            _ = event!(windows::ctrl_shutdown()) => {},
            _ = event!(windows::ctrl_logoff()) => {},
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
