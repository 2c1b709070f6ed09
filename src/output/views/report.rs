//! What an apply did, for the person: one line per action, the summary, the generation.

use crate::output::{Printer, sanitize};
use crate::reconcile::apply::Report;
use crate::reconcile::engine::{Applied, Switched};

/// Print what `applied` did. `headline`: the Terraform-style completion line (apply).
pub fn applied(p: &Printer, applied: &Applied, headline: bool) {
    if let Some(why) = &applied.replanned {
        p.status(format!(
            "the plan was made again under the locks: {}",
            sanitize(why)
        ));
    }
    done(p, &applied.report);
    if headline && applied.plan.has_changes() {
        let s = applied.plan.summary();
        p.out(p.green(&format!(
            "\nApply complete! Resources: {} added, {} changed, {} destroyed.",
            s.add, s.change, s.destroy
        )));
        if let Some(g) = applied.report.generation {
            p.status(format!(
                "generation {g} (`cdxs history {g}`, `cdxs rollback {g}`)"
            ));
        }
    }
    for n in &applied.plan.notes {
        p.warn(format!("{}: {}", n.address, sanitize(&n.message)));
    }
}

/// One line per action done.
pub fn done(p: &Printer, report: &Report) {
    for d in &report.done {
        p.status(format!(
            "{}: {}",
            p.bold(&d.address.to_string()),
            sanitize(&d.message)
        ));
        if let Some(b) = &d.backup {
            p.detail(format!("  backup: {}", b.display()));
        }
    }
}

/// The backups a run made (verbose).
pub fn done_backups(p: &Printer, report: &Report) {
    for d in &report.done {
        if let Some(b) = &d.backup {
            p.detail(format!("  backup: {}", b.display()));
        }
    }
}

/// What `switch` (and `--switch` on imports and logins) did.
pub fn switched(p: &Printer, s: &Switched) {
    match s {
        Switched::Manifest {
            home,
            alias,
            edit,
            applied,
        } => {
            if let Some(d) = edit {
                p.status(crate::output::views::plan::render_diff(d, p, "  ").trim_end());
            }
            if let Some(a) = applied {
                crate::output::views::report::applied(p, a, false);
            }
            let changed = applied.as_ref().is_some_and(|a| a.plan.has_changes());
            p.status(format!(
                "home `{home}` {} {alias}",
                if changed { "now uses" } else { "already uses" }
            ));
        }
        Switched::Folder {
            path,
            account,
            report,
        } => {
            crate::output::views::report::done(p, report);
            p.status(format!(
                "`{}` now uses {}",
                crate::paths::display(path),
                sanitize(account.name())
            ));
        }
    }
}
