//! Raw arguments and environment become typed settings once (as ripgrep's hiargs do): the
//! manifest's location, the state folder, the clock, lock and login waits, colour.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::output::ColorChoice;

/// Flags accepted before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The manifest (default: `$CDXS_MANIFEST`, `./cdxs.yaml`, then this OS's config folder)
    #[arg(short = 'f', long, global = true, value_name = "PATH", help = crate::paths::manifest_flag_help())]
    pub manifest: Option<PathBuf>,

    /// Folder of the vault and cdxs's own state (default: `$CDXS_STATE_DIR`, then this OS's
    /// data folder)
    #[arg(long, global = true, value_name = "PATH", help = crate::paths::state_dir_flag_help())]
    pub state_dir: Option<PathBuf>,

    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more detail (backups, locks, files read)
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// When to use colors (`NO_COLOR` is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Print versioned JSON on stdout (`{"version": 1, ...}`): the data, what a command
    /// changed, or the error; text for people goes to stderr
    #[arg(long, global = true)]
    pub json: bool,

    /// Show what a command would write (its plan), then stop: nothing is written
    #[arg(long, global = true)]
    pub dry_run: bool,
}

pub struct Settings {
    /// `-f`, if given.
    pub manifest_flag: Option<PathBuf>,
    state_dir: std::result::Result<PathBuf, String>,
    pub clock: Arc<dyn Clock>,
    pub lock_timeout: Duration,
    pub color: ColorChoice,
    pub quiet: bool,
    pub verbose: bool,
    /// `--json`: stdout carries one JSON document (or JSON lines for `watch`).
    pub json: bool,
    /// `--dry-run`: the executor shows the plan it is handed and writes nothing.
    pub dry_run: bool,
}

impl Settings {
    pub fn from_args(global: &GlobalArgs) -> Result<Settings> {
        // Bounded, never a panic: `inf` or `1e19` is a day, a value that is not a number
        // of seconds is the default (fsx::lock_timeout_from).
        let lock_timeout =
            crate::fsx::lock_timeout_from(std::env::var("CDXS_LOCK_TIMEOUT").ok().as_deref());
        crate::fsx::set_lock_timeout(lock_timeout);
        Ok(Settings {
            manifest_flag: global.manifest.clone(),
            state_dir: crate::paths::state_dir(global.state_dir.as_deref())
                .map_err(|e| e.to_string()),
            clock: crate::clock::from_env(),
            lock_timeout,
            color: global.color,
            quiet: global.quiet,
            verbose: global.verbose,
            json: global.json,
            dry_run: global.dry_run,
        })
    }

    pub fn state_dir(&self) -> Result<&Path> {
        self.state_dir.as_deref().map_err(|why| {
            Error::user(why.clone()).with_help("pass `--state-dir PATH` or set `CDXS_STATE_DIR`")
        })
    }

    pub fn manifest_flag(&self) -> Option<&Path> {
        self.manifest_flag.as_deref()
    }
}
