//! `cdxs doctor`: one screen for a person or a bug report (checks in `crate::doctor`).

use super::Ctx;
use crate::doctor::{self, Inputs, Status};
use crate::error::{Exit, Result};
use crate::{manifest, paths};

pub fn doctor(ctx: &Ctx, json: bool) -> Result<Exit> {
    let state_dir = ctx.state_dir()?;
    let loc = paths::manifest_location(ctx.global.manifest.as_deref());
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
        ctx.printer.json(&report);
    } else {
        let p = &ctx.printer;
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
