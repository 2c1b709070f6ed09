//! `apply [PLANFILE]`: make the homes match cdxs.yaml.

use std::path::PathBuf;

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::outcome::Outcome;
use crate::output::views::{plan::render, plan::summary_line, report};
use crate::reconcile::engine::{ApplyOptions, Request, Review};
use crate::reconcile::observe::Scope;
use crate::reconcile::plan_file;

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved by `cdxs plan --out FILE`
    plan_file: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long, short = 'y', visible_alias = "auto-approve")]
    yes: bool,
    /// Only actions at or under this address (repeatable)
    #[arg(long = "target", value_name = "ADDRESS", conflicts_with = "plan_file")]
    targets: Vec<String>,
    /// Never call the network (quota comes from the cache)
    #[arg(long)]
    offline: bool,
}

pub fn run(sh: &mut Shell, args: ApplyArgs) -> Result<Exit> {
    sh.warn_codex_api_key();
    let req = Request {
        scope: Scope {
            offline: args.offline,
            ..Scope::default()
        },
        targets: args.targets.clone(),
    };
    let mut bar = sh.progress("applying");
    let (m, plan, review) = match &args.plan_file {
        Some(file) => {
            let saved = plan_file::read(file)?;
            let path = sh
                .settings
                .manifest_flag
                .clone()
                .unwrap_or_else(|| saved.manifest.clone());
            let m = crate::manifest::load(&path)?;
            // A saved plan is data from outside: every action must be one the current
            // manifest gives (same address, same paths), and nothing may have changed.
            let engine = sh.engine()?;
            let derived = engine.plan(
                &m,
                &Request {
                    scope: Scope {
                        offline: true,
                        ..Scope::default()
                    },
                    targets: Vec::new(),
                },
                &mut bar,
            )?;
            (m, plan_file::verify(saved, &derived)?, Review::Saved)
        }
        None => {
            let m = sh.require_manifest()?;
            let plan = sh.engine()?.plan(&m, &req, &mut bar)?;
            (m, plan, Review::Unreviewed)
        }
    };
    if !plan.errors.is_empty() {
        sh.printer.out(render(&plan, &sh.printer).trim_end());
        return Err(crate::reconcile::plan_failed(plan.errors));
    }
    let mut review = review;
    if !plan.has_changes() {
        if !plan.drift.is_empty() || !plan.notes.is_empty() {
            sh.printer.out(render(&plan, &sh.printer).trim_end());
        } else {
            sh.printer.out(summary_line(&plan));
        }
    } else if !sh.settings.dry_run {
        // (`--dry-run`: the executor's door shows the plan.)
        sh.printer.out(render(&plan, &sh.printer).trim_end());
        // A saved plan was the review (as in Terraform): no second question.
        if !args.yes && review != Review::Saved {
            sh.printer.out("");
            if !sh.confirm(
                "Do you want to perform these actions?\n  cdxs will perform the actions described above.",
                "apply",
            )? {
                sh.printer.out("Apply cancelled.");
                return Err(Error::user("apply cancelled: only 'yes' approves"));
            }
            review = Review::Confirmed;
        }
    }
    // Nothing to do, but what matches now is the baseline for drift.
    if !plan.has_changes() && plan.accepted.is_empty() {
        let (summary, drift) = (plan.summary(), plan.drift);
        sh.outcome(
            Outcome::new("apply")
                .with("summary", summary)
                .with("drift", drift),
        );
        return Ok(Exit::Success);
    }
    let had_changes = plan.has_changes();
    let applied =
        sh.engine()?
            .apply(&m, plan, ApplyOptions::new("apply", review, req), &mut bar)?;
    report::applied(&sh.printer, &applied, had_changes);
    let drift = &applied.plan.drift;
    sh.outcome(Outcome::new("apply").applied(&applied).with("drift", drift));
    Ok(Exit::Success)
}
