//! `cdxs status`: homes, bound accounts, token freshness, quota bars, drift, watch.

use serde::Serialize;

use super::View;
use super::plan::summary_text;
use crate::output::format::{self, expiry};
use crate::output::{Col, Printer, Table, bar, sanitize};
use crate::reconcile::status::{HomeState, QuotaCell, Row};
use crate::reconcile::{Drift, PlanError, Summary};

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub manifest: String,
    pub homes: Vec<Row>,
    pub summary: Summary,
    /// How many files changed outside cdxs, and how many homes plan cannot decide.
    pub drift: usize,
    pub errors: usize,
    #[serde(skip)]
    pub has_changes: bool,
    #[serde(skip)]
    pub drift_details: Vec<Drift>,
    #[serde(skip)]
    pub error_details: Vec<PlanError>,
    /// What `cdxs watch` says about itself, when it runs (or ran) for this state folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<serde_json::Value>,
    #[serde(skip)]
    pub now: i64,
    #[serde(skip)]
    pub watch_lines: Vec<String>,
}

/// `5h ████████  65%  wk ████░░░░  40%`, each figure coloured by level, and the cache's
/// age when the figures are older than what `list` keeps.
fn quota_text(p: &Printer, q: Option<QuotaCell>, now: i64, cells: usize) -> String {
    let Some(q) = q else {
        return "-".into();
    };
    let cell = |v: Option<f64>| match v {
        Some(v) => format::by_level(p, v, &format!("{} {v:>3.0}%", bar(v, cells))),
        None => "n/a".into(),
    };
    let cached = format::cached(q.fetched_at, now)
        .map(|age| format!(" {}", p.yellow(&format!("({age})"))))
        .unwrap_or_default();
    format!("5h {}  wk {}{cached}", cell(q.five_hour), cell(q.weekly))
}

impl StatusView {
    fn table(&self, p: &Printer, cells: usize) -> Table {
        let mut t = Table::with(vec![
            Col::new("HOME", 0).shrink(8),
            Col::new("PATH", 4).shrink(12),
            Col::new("DECLARED", 1).shrink(8),
            Col::new("ACTUAL", 3).shrink(12),
            Col::new("TOKEN", 4),
            Col::new("QUOTA", 2),
            Col::new("STATE", 0),
        ]);
        for r in &self.homes {
            let state = match r.state {
                HomeState::Ok => p.green(r.state.as_str()),
                HomeState::Drift | HomeState::Error => p.red(r.state.as_str()),
                HomeState::Changes => p.yellow(r.state.as_str()),
                HomeState::Unmanaged => p.dim(r.state.as_str()),
            };
            t.row([
                r.home.clone(),
                r.path.clone(),
                r.declared.clone().unwrap_or_else(|| "-".into()),
                sanitize(&r.actual).into_owned(),
                r.expires_at
                    .map(|e| expiry(Some(e), self.now))
                    .unwrap_or_else(|| "-".into()),
                quota_text(p, r.quota, self.now, cells),
                state,
            ]);
        }
        t
    }
}

impl View for StatusView {
    fn human(&self, p: &Printer) -> String {
        let mut out = format!("manifest: {}\n\n", self.manifest);
        let width = p.width();
        let t = [8, 4]
            .into_iter()
            .map(|cells| self.table(p, cells))
            .find(|t| t.fits(width, 4))
            .unwrap_or_else(|| self.table(p, 4));
        out.push_str(&t.render_in(width));
        out.push('\n');
        out.push_str(&format!("\n{}\n", p.bold("Codex settings:")));
        for r in &self.homes {
            out.push_str(&format!(
                "  {}: {}\n",
                r.home,
                sanitize(&r.codex_settings.describe())
            ));
        }
        if !self.drift_details.is_empty() {
            out.push_str(&format!("\n{}\n", p.bold("Drift:")));
            for d in &self.drift_details {
                out.push_str(&format!("  {}: {}\n", d.address, sanitize(&d.description)));
            }
        }
        for e in &self.error_details {
            out.push_str(&format!(
                "\n{} {} ({})\n",
                p.red("Error:"),
                sanitize(&e.message),
                e.address
            ));
        }
        for l in &self.watch_lines {
            out.push_str(&format!("\n{l}"));
        }
        if !self.watch_lines.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!(
            "\n{}",
            if self.has_changes {
                format!(
                    "{} Run `cdxs plan` for details.",
                    summary_text(&self.summary, true)
                )
            } else {
                "Everything matches cdxs.yaml.".to_string()
            }
        ));
        out
    }
}
