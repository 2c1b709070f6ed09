//! `plan`: what apply would change, Terraform-style.

use std::path::PathBuf;

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Exit, Result, tick};
use crate::output::views::plan::render;
use crate::reconcile::engine::Request;
use crate::reconcile::observe::Scope;
use crate::reconcile::plan_file::{self, PlanDoc};

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when there is nothing to do, 2 when there are changes, 1 on error
    #[arg(long)]
    detailed_exitcode: bool,
    /// Save the plan (no secrets, 0600) for `cdxs apply FILE`
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Only actions at or under this address (repeatable), e.g. `home.work`
    #[arg(long = "target", value_name = "ADDRESS")]
    targets: Vec<String>,
    /// Never call the network (quota comes from the cache)
    #[arg(long)]
    offline: bool,
}

pub fn run(sh: &mut Shell, args: PlanArgs) -> Result<Exit> {
    let m = sh.require_manifest()?;
    let req = Request {
        scope: Scope {
            offline: args.offline,
            ..Scope::default()
        },
        targets: args.targets,
    };
    let mut bar = sh.progress("plan");
    let plan = sh.engine()?.plan(&m, &req, &mut bar)?;
    let doc = PlanDoc::new(plan);
    if let Some(out) = &args.out {
        plan_file::write(out, &doc)?;
    }
    if sh.printer.json {
        sh.printer.json(&doc);
    } else {
        sh.printer.out(render(&doc.plan, &sh.printer).trim_end());
        if let Some(out) = &args.out {
            sh.printer.status(format!(
                "\nSaved the plan to {}; apply exactly it with `cdxs apply {}`",
                tick(out),
                out.display()
            ));
        }
    }
    if !doc.plan.errors.is_empty() && sh.printer.json {
        return Ok(Exit::Error); // the document holds them (`plan.errors`)
    }
    if !doc.plan.errors.is_empty() {
        return Err(crate::reconcile::plan_failed(doc.plan.errors));
    }
    Ok(if args.detailed_exitcode && doc.has_changes {
        Exit::Changes
    } else {
        Exit::Success
    })
}
