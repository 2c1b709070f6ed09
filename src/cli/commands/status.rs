//! `status`: one screen with homes, bound accounts, token freshness, quota, drift.

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Exit, Result};
use crate::output::views::status::StatusView;
use crate::reconcile::engine::Request;
use crate::reconcile::status;

#[derive(Debug, Args)]
pub struct StatusArgs {}

pub fn run(sh: &mut Shell, _args: StatusArgs) -> Result<Exit> {
    let m = sh.require_manifest()?;
    let now = sh.now();
    let mut bar = sh.progress("status");
    let engine = sh.engine()?;
    let o = engine.observe_cached(&m, &Request::default().scope, &mut bar)?;
    let plan = crate::reconcile::plan::plan(&m, &o, &engine.plan_inputs());
    let watch_status = crate::reconcile::watch::status::read(engine.state_dir());
    let watch_lines = watch_status
        .as_ref()
        .map(|w| crate::reconcile::watch::status::describe(w, now))
        .unwrap_or_default();
    let view = StatusView {
        manifest: m.path.display().to_string(),
        homes: status::rows(&m, &o, &plan),
        summary: plan.summary(),
        has_changes: plan.has_changes(),
        drift: plan.drift.len(),
        errors: plan.errors.len(),
        drift_details: plan.drift.clone(),
        error_details: plan.errors.clone(),
        watch: watch_status.as_ref().map(|w| {
            let mut v = serde_json::to_value(w).unwrap_or_default();
            v["liveness"] = serde_json::Value::from(
                format!("{:?}", crate::reconcile::watch::status::liveness(w, now)).to_lowercase(),
            );
            v
        }),
        now,
        watch_lines,
    };
    sh.printer.emit(&view);
    Ok(Exit::Success)
}
