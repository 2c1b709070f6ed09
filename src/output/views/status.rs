//! `cdxs status`: homes, bound accounts, token freshness, quota bars, drift, watch.

use serde::Serialize;

use super::View;
use super::plan::summary_text;
use crate::output::format::expiry;
use crate::output::{Printer, Table, bar, sanitize};
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

fn quota_text(q: Option<QuotaCell>) -> String {
    let Some(q) = q else {
        return "-".into();
    };
    let cell = |v: Option<f64>| match v {
        Some(v) => format!("{} {:>3.0}%", bar(v, 8), v),
        None => "n/a".into(),
    };
    format!("5h {}  wk {}", cell(q.five_hour), cell(q.weekly))
}

impl View for StatusView {
    fn human(&self, p: &Printer) -> String {
        let mut out = format!("manifest: {}\n\n", self.manifest);
        let mut t = Table::new([
            "HOME", "PATH", "DECLARED", "ACTUAL", "TOKEN", "QUOTA", "STATE",
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
                quota_text(r.quota),
                state,
            ]);
        }
        out.push_str(&t.render());
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
