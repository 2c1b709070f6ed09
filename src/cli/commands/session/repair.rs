//! `session visibility` and `session sync-threads`: fixes Codex's thread list needs.

use super::{HomesArg, gate_notes, homes, manifest};
use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::outcome::Outcome;
use crate::output::views::sessions::{Copies, HomeIssues, Visibility};
use crate::reconcile::{Op, ops};
use crate::sessions::share;
use crate::sessions::visibility::{self, Direct, Issue};

pub fn visibility(sh: &mut Shell, arg: &HomesArg, repair: bool, dry_run: bool) -> Result<Exit> {
    let json = sh.printer.json;
    let homes = homes(sh, arg, false)?;
    let (mut report, mut o) = (Vec::new(), Outcome::new("session visibility repair"));
    for h in &homes {
        let issues = visibility::check(h, &mut Direct)?;
        let mut repaired = Vec::new();
        if repair && !dry_run && issues.iter().any(Issue::repairable) {
            gate_notes(sh, &[h])?;
            let plan = ops::repair(h, &issues);
            let mut bar = sh.progress("session visibility repair");
            let done =
                sh.engine()?
                    .run(None, &plan, "session visibility repair", None, &mut bar)?;
            o = o.report(&done);
            // What each action fixed (an issue that went away meanwhile is not counted).
            for (a, d) in plan.actions.iter().zip(&done.done) {
                if let Some(live) = d.message.strip_prefix("skipped: ") {
                    sh.printer.warn(format!("skipped: {live}"));
                } else if let Op::RepairThread { issue, .. } = &a.op
                    && d.message.starts_with("fixed")
                {
                    repaired.push(issue.clone());
                }
            }
        }
        report.push(HomeIssues {
            home: h.name.clone(),
            issues,
            repaired,
        });
    }
    let any_repairable = report
        .iter()
        .any(|r| r.issues.iter().any(Issue::repairable));
    // What is still wrong: everything found, unless this run repaired it.
    let left = report.iter().any(|r| {
        r.issues
            .iter()
            .any(|i| !(repair && !dry_run && r.repaired.contains(i)))
    });
    sh.printer.emit(&Visibility {
        outcome: repair.then(|| o.with("dry_run", dry_run)),
        homes: report,
        repair,
        dry_run,
    });
    if (!repair || dry_run) && !json && any_repairable {
        sh.printer.status(format!(
            "fix them with `cdxs session visibility repair{}`",
            arg.flags()
        ));
    }
    Ok(if left { Exit::Error } else { Exit::Success })
}

pub fn sync_threads(
    sh: &mut Shell,
    arg: &HomesArg,
    dir: [&[String]; 2],
    yes: bool,
    dry_run: bool,
) -> Result<Exit> {
    let json = sh.printer.json;
    let m = manifest(sh, arg)?;
    let default = crate::paths::default_codex_home()?;
    let Some((homes, copies)) =
        share::plan_sharing(m.as_ref(), &arg.selection(false), dir, &default)?
    else {
        return Err(Error::user("which homes share threads is not said anywhere").with_help(
            "copying every thread into every home would put one home's conversations (one client's) into all the others: name the homes in cdxs.yaml under `sessions.share_threads`, copy one way with `--from HOME --to HOME`, or pass `--all-homes`",
        ));
    };
    let n = copies.len();
    let o = Outcome::new("session sync-threads").with("dry_run", dry_run);
    let o = o.with("copies", &copies);
    if !json {
        let copies = copies.clone();
        sh.printer.emit(&Copies { dry_run, copies });
    }
    if n == 0 && !json {
        sh.printer.status("every home already has every thread");
    }
    if dry_run || n == 0 {
        sh.outcome(o);
        return Ok(Exit::Success);
    }
    let question = format!("Copy {n} thread(s) as above? `cdxs rollback` takes them out again.");
    if !yes && !sh.confirm(&question, "copy threads")? {
        return Err(Error::user("copy cancelled: only 'yes' approves"));
    }
    gate_notes(sh, &homes.iter().collect::<Vec<_>>())?;
    let plan = ops::copies(&homes, &copies);
    let mut bar = sh.progress("session sync-threads");
    let done = sh
        .engine()?
        .run(None, &plan, "session sync-threads", None, &mut bar)?;
    // A thread a running Codex has open is skipped (the action says so), not copied.
    let mut copied = 0;
    for d in &done.done {
        match d.message.strip_prefix("skipped: ") {
            Some(why) => sh.printer.warn(format!("skipped: {why}")),
            None => copied += 1,
        }
    }
    sh.outcome(o.report(&done).with("copied", copied));
    if let Some(g) = done.generation.filter(|_| !json) {
        sh.printer.status(format!(
            "copied {copied} thread(s): generation {g} (`cdxs rollback {g}` takes them out again)"
        ));
    }
    Ok(Exit::Success)
}
