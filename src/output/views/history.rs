//! `cdxs history [GEN]`: the journal of generations.

use serde::Serialize;

use super::View;
use crate::output::format::when_secs;
use crate::output::{Col, Printer, Table, sanitize};
use crate::reconcile::rollback::Step;
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
    /// Newest first.
    pub generations: Vec<Generation>,
    /// How many the journal holds.
    pub total: usize,
    /// `generations` is the newest part of them only (`--limit`, or the default 20).
    pub truncated: bool,
}

impl Generations {
    /// The newest `generations` of the `total` the journal holds.
    pub fn newest(generations: Vec<Generation>, total: usize) -> Self {
        let truncated = generations.len() < total;
        Generations {
            generations,
            total,
            truncated,
        }
    }

    /// What a person is told when this is only the newest part of the journal.
    pub fn truncated_note(&self) -> Option<String> {
        self.truncated.then(|| {
            format!(
                "showing the newest {} of {} generations: `cdxs history --limit N` shows more, `--all` every one",
                self.generations.len(),
                self.total
            )
        })
    }
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
                let folder = crate::vault::journal::CREATED_FOLDER;
                let b = match (&f.backup, f.after_fingerprint.as_deref()) {
                    (_, Some(m)) if m == folder => "folder created".to_string(),
                    (_, None) if f.before_fingerprint.as_deref() == Some(folder) => {
                        "folder removed".to_string()
                    }
                    (Some(b), _) => format!("backup {}", b.display()),
                    (None, _) => "created (no earlier file)".into(),
                };
                out.push_str(&format!("  {}  {b}\n", f.path.display()));
            }
        }
        if !g.threads.is_empty() {
            out.push_str("\nthreads copied (rollback takes them out again):\n");
            for t in &g.threads {
                out.push_str(&format!(
                    "  {}  into {}  ({})\n",
                    t.thread_id,
                    t.home.display(),
                    t.rollout.display()
                ));
            }
        }
        out
    }
}

/// What rolling back generation `g` does, before the question: one line per file (or
/// copied thread) and what happens to it.
pub fn rollback_preview(p: &Printer, g: &Generation, steps: &[Step], kept: &[(String, String)]) {
    p.out(format!(
        "Rolling back generation {} ({}, {}) restores:\n",
        g.id,
        g.command,
        when_secs(g.started_at)
    ));
    for s in steps {
        if let Some(why) = &s.refused {
            p.out(format!(
                "  {} {}: {}",
                p.red("!"),
                s.path.display(),
                p.red(&format!("kept as it is: {}", sanitize(why)))
            ));
            continue;
        }
        let what = match (s.folder, s.restore, &s.account) {
            (true, _, _) => {
                "remove the folder (the generation created it) if nothing else is in it".to_string()
            }
            (_, true, Some(a)) => format!("restore the earlier login: {}", sanitize(a)),
            (_, true, None) => "restore the earlier content".to_string(),
            (_, false, Some(a)) => format!(
                "remove it (the generation created it); it holds {}",
                sanitize(a)
            ),
            (_, false, None) => "remove it (the generation created it)".to_string(),
        };
        p.out(format!("  {} {}: {what}", p.yellow("~"), s.path.display()));
        if let Some(n) = &s.note {
            p.out(format!("      {}", sanitize(n)));
        }
        if s.changed_since {
            p.out(format!(
                "      {}",
                p.yellow("changed since that generation; the current file is backed up first")
            ));
        }
    }
    if !kept.is_empty() {
        p.out("\nIt does not undo:");
        for (what, why) in kept {
            p.out(format!(
                "  {} {}: {}",
                p.dim("="),
                sanitize(what),
                sanitize(why)
            ));
        }
    }
    p.out("");
}
