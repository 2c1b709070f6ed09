//! `cdxs doctor`: one screen for a person or a bug report (checks in `crate::doctor`).

use clap::Args;

use crate::cli::shell::Shell;
use crate::doctor::{self, Inputs};
use crate::error::{Exit, Result};
use crate::{manifest, paths};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Exit 1 on warnings too, not only on what needs fixing (for CI)
    #[arg(long)]
    strict: bool,
}

pub fn run(sh: &mut Shell, args: DoctorArgs) -> Result<Exit> {
    // Read only: the state folder is looked at, never created (no engine here).
    let state_dir = sh.state_dir()?;
    let loc = paths::manifest_location(sh.settings.manifest_flag());
    let manifest = loc
        .exists
        .then(|| manifest::load(&loc.path).map_err(|e| e.to_string()));
    let inputs = Inputs {
        state_dir: &state_dir,
        manifest_path: loc.path.clone(),
        manifest,
        default_home: paths::default_codex_home().ok(),
        path_var: std::env::var_os("PATH"),
        now: sh.now(),
    };
    let report = doctor::run(&inputs);
    sh.printer.emit(&report);
    Ok(
        if report.needs_action || (args.strict && report.warnings > 0) {
            Exit::Error
        } else {
            Exit::Success
        },
    )
}
