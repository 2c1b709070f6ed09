//! `watch [--once] [--json]`: the observe -> plan -> apply loop, continuously, in the
//! foreground (for a systemd user unit or a LaunchAgent; it never daemonizes). The loop is
//! `reconcile::watch::run`; here: the arguments, the signals, the log's format.

use std::sync::mpsc;

use clap::Args;
use serde::Serialize;

use crate::cli::shell::Shell;
use crate::error::{Exit, Result};
use crate::output::{Printer, sanitize};
use crate::reconcile::watch::LogLine;
use crate::reconcile::watch::events::Msg;
use crate::reconcile::watch::run::{self, Options, Sink};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cdxs watch                 # until Ctrl-C or SIGTERM\n  cdxs watch --json          # JSON lines, for a log collector\n  cdxs watch --once          # one cycle (cron, tests)\n\nAs a service: examples/cdxs-watch.service (systemd --user), examples/net.cdxs.watch.plist (launchd), examples/cdxs-watch.xml (a Windows scheduled task)."
)]
pub struct WatchArgs {
    /// Run one cycle over every home, then exit
    #[arg(long)]
    once: bool,
}

#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    #[serde(flatten)]
    line: &'a LogLine,
}

/// One line per action and per change of state: text, or JSON lines.
struct Log {
    printer: Printer,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    json: bool,
}

impl Sink for Log {
    fn line(&mut self, line: &LogLine) {
        let time = self
            .clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if self.json {
            self.printer.json_line(&JsonLine { time, line });
        } else {
            let home = line
                .home
                .as_deref()
                .map(|h| format!(" [{}]", sanitize(h)))
                .unwrap_or_default();
            self.printer.out(format!(
                "{time} {}{home} {}",
                line.event,
                sanitize(&line.message)
            ));
        }
    }
}

/// Tests of the polling fallback set `CDXS_WATCH_MAX_WATCHES` (debug builds only): watch
/// then acts as if the inotify limit were that low.
fn max_watches() -> Option<usize> {
    if cfg!(debug_assertions) {
        std::env::var("CDXS_WATCH_MAX_WATCHES")
            .ok()
            .and_then(|v| v.parse().ok())
    } else {
        None
    }
}

pub fn run(sh: &mut Shell, args: WatchArgs) -> Result<Exit> {
    let m = sh.require_manifest()?;
    sh.warn_codex_api_key();
    let (tx, rx) = mpsc::channel::<Msg>();
    // A stop request (SIGINT, SIGTERM, SIGHUP; Ctrl-C, Ctrl-Break or the console closing on
    // Windows) finishes the current action, then stops (exit 0).
    let stop = tx.clone();
    crate::platform::signals::on_stop(move || {
        let _ = stop.send(Msg::Stop);
    })
    .map_err(|e| crate::error::Error::io("cannot catch stop requests (Ctrl-C, SIGTERM)", e))?;
    let mut log = Log {
        printer: sh.printer.clone(),
        clock: sh.settings.clock.clone(),
        json: sh.printer.json,
    };
    let mut bar = sh.progress("watch");
    let opts = Options {
        once: args.once,
        max_watches: max_watches(),
    };
    run::run(sh.engine()?, m, &opts, (tx, rx), &mut log, &mut bar).map(|_| Exit::Success)
}
