//! `cdxs history [GEN]`: the journal of generations.

use serde::Serialize;

use super::View;
use crate::output::format::when_secs;
use crate::output::{Col, Printer, Table, sanitize};
use crate::vault::journal::Generation;

fn status_word(p: &Printer, s: &str) -> String {
    match s {
        "ok" => p.green(s),
        "failed" => p.red(s),
        _ => p.yellow(s),
    }
}

#[derive(Debug, Serialize)]
pub struct Generations {
    pub generations: Vec<Generation>,
}

impl View for Generations {
    fn human(&self, p: &Printer) -> String {
        if self.generations.is_empty() {
            return String::new();
        }
        let mut t = Table::with(vec![
            Col::new("GEN", 0),
            Col::new("STARTED", 1),
            Col::new("COMMAND", 0).shrink(12),
            Col::new("STATUS", 0),
            Col::new("NOTE", 2).shrink(16),
        ]);
        for g in &self.generations {
            t.row([
                g.id.to_string(),
                when_secs(g.started_at),
                g.command.clone(),
                status_word(p, &g.status),
                g.rollback_of
                    .map(|r| format!("rollback of {r}"))
                    .or(g.error.as_deref().map(|e| sanitize(e).into_owned()))
                    .unwrap_or_default(),
            ]);
        }
        t.render_in(p.width())
    }
}

#[derive(Debug, Serialize)]
pub struct OneGeneration {
    pub generation: Generation,
}

impl View for OneGeneration {
    fn human(&self, p: &Printer) -> String {
        let g = &self.generation;
        let mut out = format!(
            "generation {}  {}  {}  {}\n",
            g.id,
            when_secs(g.started_at),
            g.command,
            status_word(p, &g.status)
        );
        if let Some(of) = g.rollback_of {
            out.push_str(&format!("rolls back generation {of}\n"));
        }
        if let Some(e) = &g.error {
            out.push_str(&format!("error: {}\n", sanitize(e)));
        }
        if !g.actions.is_empty() {
            out.push_str("\nactions:\n");
            for a in &g.actions {
                out.push_str(&format!(
                    "  [{}] {}  {}\n",
                    a.status,
                    a.address,
                    sanitize(&a.description)
                ));
                if let Some(e) = &a.error {
                    out.push_str(&format!("        error: {}\n", sanitize(e)));
                }
            }
        }
        if !g.files.is_empty() {
            out.push_str("\nfiles:\n");
            for f in &g.files {
                let b = f
                    .backup
                    .as_ref()
                    .map(|b| format!("backup {}", b.display()))
                    .unwrap_or_else(|| "created (no earlier file)".into());
                out.push_str(&format!("  {}  {b}\n", f.path.display()));
            }
        }
        out
    }
}
