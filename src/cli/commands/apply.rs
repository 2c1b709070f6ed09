//! `apply [PLANFILE]`: make the homes match cdxs.yaml.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::manifest::Manifest;
use crate::output::progress::Bar;
use crate::output::views::outcome::Outcome;
use crate::output::views::{plan::render, plan::summary_line, report};
use crate::reconcile::engine::{ApplyOptions, Request, Review};
use crate::reconcile::observe::Scope;
use crate::reconcile::{Plan, plan_file};

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
    let req = request(args.offline, args.targets.clone());
    let mut bar = sh.progress("applying");
    let (m, plan, review) = match &args.plan_file {
        Some(file) => saved_plan(sh, file, &mut bar)?,
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
    let review = show_and_confirm(sh, &plan, args.yes, review)?;
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

/// What to plan: every address (or those under `targets`), on the network unless `offline`.
fn request(offline: bool, targets: Vec<String>) -> Request {
    let scope = Scope {
        offline,
        ..Scope::default()
    };
    Request { scope, targets }
}

/// A saved plan is data from outside: every action must be one the current manifest gives
/// (same address, same paths), and nothing may have changed.
fn saved_plan(sh: &mut Shell, file: &Path, bar: &mut Bar) -> Result<(Manifest, Plan, Review)> {
    let saved = plan_file::read(file)?;
    let flag = sh.settings.manifest_flag.clone();
    let m = crate::manifest::load(&flag.unwrap_or_else(|| saved.manifest.clone()))?;
    let derived = sh.engine()?.plan(&m, &request(true, Vec::new()), bar)?;
    Ok((m, plan_file::verify(saved, &derived)?, Review::Saved))
}

/// Show the plan; ask before changes unless `--yes` or a saved plan (the review, as in
/// Terraform). Returns the review the executor records.
fn show_and_confirm(sh: &mut Shell, plan: &Plan, yes: bool, review: Review) -> Result<Review> {
    if !plan.has_changes() {
        if !plan.drift.is_empty() || !plan.notes.is_empty() {
            sh.printer.out(render(plan, &sh.printer).trim_end());
        } else {
            sh.printer.out(summary_line(plan));
        }
    } else if !sh.settings.dry_run {
        // (`--dry-run`: the executor's door shows the plan.)
        sh.printer.out(render(plan, &sh.printer).trim_end());
        if !yes && review != Review::Saved {
            sh.printer.out("");
            if !sh.confirm(
                "Do you want to perform these actions?\n  cdxs will perform the actions described above.",
                "apply",
            )? {
                sh.printer.out("Apply cancelled.");
                return Err(Error::user("apply cancelled: only 'yes' approves"));
            }
            return Ok(Review::Confirmed);
        }
    }
    Ok(review)
}
