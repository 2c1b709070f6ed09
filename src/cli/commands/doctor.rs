//! `cdxs doctor`: one screen for a person or a bug report (checks in `crate::doctor`).

use clap::Args;

use crate::cli::shell::Shell;
use crate::doctor::{self, Inputs, Status};
use crate::error::{Exit, Result};
use crate::{manifest, paths};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print versioned JSON
    #[arg(long)]
    json: bool,
}

pub fn run(sh: &mut Shell, args: DoctorArgs) -> Result<Exit> {
    let json = args.json;
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
    };
    let report = doctor::run(&inputs);
    if json {
        sh.printer.json(&report);
    } else {
        let p = &sh.printer;
        p.out(format!(
            "cdxs {} (supports Codex {})",
            report.cdxs_version,
            report.supported_codex.join(", ")
        ));
        let mut area = "";
        for c in &report.checks {
            if c.area != area {
                area = c.area;
                p.out(format!("\n{}", p.bold(area)));
            }
            let mark = match c.status {
                Status::Ok => p.green("ok  "),
                Status::Warn => p.yellow("warn"),
                Status::Action => p.red("fix "),
            };
            p.out(format!("  {mark} {}", c.message));
            if let Some(fix) = &c.fix {
                p.out(format!("       -> {fix}"));
            }
        }
        let actions = report
            .checks
            .iter()
            .filter(|c| c.status == Status::Action)
            .count();
        p.out(if actions == 0 {
            "\nNothing needs doing.".to_string()
        } else {
            format!("\n{actions} thing(s) need doing: see the `->` lines above.")
        });
    }
    Ok(if report.needs_action {
        Exit::Error
    } else {
        Exit::Success
    })
}
