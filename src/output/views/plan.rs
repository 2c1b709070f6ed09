//! Plans for people: Terraform-like blocks with a redacted diff, a drift section, notes,
//! and the summary line. Colors come from the Printer (none with `NO_COLOR` or a pipe).

use std::fmt::Write;

use crate::output::{Printer, sanitize};
use crate::reconcile::{Action, ActionKind, Plan};

/// A run of more than GROUP_LIMIT actions of one kind shows its first GROUP_SHOWN.
const GROUP_LIMIT: usize = 20;
const GROUP_SHOWN: usize = 10;

fn verb(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::Create => "will be created",
        ActionKind::Update => "will be updated in place",
        ActionKind::Delete => "will be destroyed",
        ActionKind::Read => "will be read during apply",
    }
}

fn paint(p: &Printer, kind: ActionKind, text: &str) -> String {
    match kind {
        ActionKind::Create => p.green(text),
        ActionKind::Update => p.yellow(text),
        ActionKind::Delete => p.red(text),
        ActionKind::Read => p.cyan(text),
    }
}

/// The summary line Terraform prints.
pub fn summary_line(plan: &Plan) -> String {
    summary_text(&plan.summary(), plan.has_changes())
}

/// [`summary_line`] from the counts.
pub fn summary_text(s: &crate::reconcile::Summary, has_changes: bool) -> String {
    if !has_changes {
        return "No changes. Your Codex homes match cdxs.yaml.".into();
    }
    let mut line = format!(
        "Plan: {} to add, {} to change, {} to destroy",
        s.add, s.change, s.destroy
    );
    if s.read > 0 {
        let _ = write!(line, ", {} to read", s.read);
    }
    line.push('.');
    line
}

pub fn render(plan: &Plan, p: &Printer) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        let _ = writeln!(out, "{}", p.bold("Changes outside cdxs (drift):"));
        out.push('\n');
        for d in &plan.drift {
            let _ = writeln!(
                out,
                "  {} {}: {}",
                p.yellow("~"),
                p.bold(&d.address.to_string()),
                sanitize(&d.description)
            );
        }
        out.push('\n');
    }
    if plan.has_changes() {
        let _ = writeln!(out, "cdxs will perform the following actions:\n");
        // Long runs of one kind of action (thousands of thread copies) are shortened.
        let group_of = |a: &Action| (a.kind, a.address.group());
        // Runs of consecutive actions of one group: (group, start, length), in one pass.
        let mut runs: Vec<((ActionKind, String), usize, usize)> = Vec::new();
        for (i, a) in plan.actions.iter().enumerate() {
            let g = group_of(a);
            match runs.last_mut() {
                Some((last, _, len)) if *last == g => *len += 1,
                _ => runs.push((g, i, 1)),
            }
        }
        for (g, start, len) in runs {
            let shown = if len > GROUP_LIMIT { GROUP_SHOWN } else { len };
            for a in &plan.actions[start..start + shown] {
                render_action(&mut out, a, p);
            }
            if shown < len {
                let _ = writeln!(
                    out,
                    "  {}\n",
                    p.dim(&format!(
                        "... and {} more `{}[...]` actions (`--json` lists them all)",
                        len - shown,
                        g.1
                    ))
                );
            }
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "{}", p.bold("Notes:"));
        for n in &plan.notes {
            let _ = writeln!(out, "  - {}: {}", n.address, sanitize(&n.message));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", p.bold(&summary_line(plan)));
    out
}

fn render_action(out: &mut String, a: &Action, p: &Printer) {
    let _ = writeln!(
        out,
        "  {}",
        p.dim(&format!("# {} {}", a.address, verb(a.kind)))
    );
    let symbol = a.kind.symbol();
    let pad = if symbol.len() == 1 { "  " } else { " " };
    let _ = writeln!(
        out,
        "{pad}{} {}",
        paint(p, a.kind, symbol),
        p.bold(&a.address.to_string())
    );
    let _ = writeln!(out, "      {}", sanitize(&a.description));
    for c in &a.changes {
        match (&c.before, &c.after) {
            (Some(b), Some(af)) => {
                let _ = writeln!(
                    out,
                    "      {} {}: {} -> {}",
                    p.yellow("~"),
                    c.field,
                    sanitize(b),
                    sanitize(af)
                );
            }
            (None, Some(af)) => {
                let _ = writeln!(out, "      {} {}: {}", p.green("+"), c.field, sanitize(af));
            }
            (Some(b), None) => {
                let _ = writeln!(out, "      {} {}: {}", p.red("-"), c.field, sanitize(b));
            }
            (None, None) => {}
        }
        if let Some(d) = &c.diff {
            out.push_str(&render_diff(d, p, "        "));
        }
    }
    out.push('\n');
}

/// A file's diff as a person reads it: the file, then the hunks, colored on a terminal.
pub fn render_diff(d: &crate::reconcile::text_diff::TextDiff, p: &Printer, indent: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{indent}{}",
        p.dim(&format!("--- {}", sanitize(&d.file)))
    );
    for line in &d.lines {
        let shown = sanitize(line);
        let painted = if line.starts_with("@@") {
            p.dim(&shown)
        } else if line.starts_with('+') {
            p.green(&shown)
        } else if line.starts_with('-') {
            p.red(&shown)
        } else {
            shown.into_owned()
        };
        let _ = writeln!(out, "{indent}{painted}");
    }
    out
}

/// `--dry-run`: the plan a command stopped at, then the diff of each cdxs.yaml it would
/// write (`now`: a file's text now, empty when there is none).
pub fn render_dry_run(
    plan: &Plan,
    p: &Printer,
    now: &dyn Fn(&std::path::Path) -> String,
) -> String {
    let mut out = render(plan, p).trim_end().to_string();
    for a in &plan.actions {
        if let crate::reconcile::Op::WriteManifest { path, text, .. } = &a.op {
            let shown = crate::paths::display(path);
            if let Some(d) = crate::reconcile::text_diff::between(&shown, &now(path), &text.0) {
                out.push('\n');
                out.push_str(render_diff(&d, p, "  ").trim_end());
            }
        }
    }
    out
}

/// Errors of a plan, one block each.
pub fn render_errors(plan: &Plan, p: &Printer) -> String {
    let errors: Vec<crate::error::PlanProblem> =
        plan.errors.iter().cloned().map(Into::into).collect();
    render_plan_errors(&errors, p)
}

/// [`render_errors`] of a list.
pub fn render_plan_errors(errors: &[crate::error::PlanProblem], p: &Printer) -> String {
    let mut out = String::new();
    for e in errors {
        let _ = writeln!(out, "{} {}", p.red("Error:"), sanitize(&e.message));
        let _ = writeln!(out, "  on {}", e.address);
        let _ = writeln!(out, "  help: {}\n", e.help);
    }
    out
}
