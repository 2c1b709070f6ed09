//! `session visibility` and `session sync-threads`: fixes Codex's thread list needs.

use super::{HomesArg, gate_notes, homes, manifest};
use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::sessions::{Copies, HomeIssues, Visibility};
use crate::reconcile::{Op, ops};
use crate::sessions::visibility::{self, Direct, Issue};
use crate::sessions::{HomeRef, share};

pub fn visibility(
    sh: &mut Shell,
    arg: &HomesArg,
    repair: bool,
    dry_run: bool,
    json: bool,
) -> Result<Exit> {
    let homes = homes(sh, arg, false)?;
    let mut report = Vec::new();
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
    sh.printer.emit(
        json,
        &Visibility {
            homes: report,
            repair,
            dry_run,
        },
    );
    if (!repair || dry_run) && !json && any_repairable {
        sh.printer.status(format!(
            "fix them with `cdxs session visibility repair{}`",
            arg.flags()
        ));
    }
    Ok(if left { Exit::Error } else { Exit::Success })
}

pub fn sync_threads(sh: &mut Shell, arg: &HomesArg, dry_run: bool, json: bool) -> Result<Exit> {
    let m = manifest(sh, arg)?;
    let named = arg.all_homes || arg.home.is_some() || arg.codex_home.is_some();
    let homes: Vec<HomeRef> = match &m {
        Some(m) if !named && !m.sessions.share_threads.is_empty() => m
            .sessions
            .share_threads
            .iter()
            .filter_map(|n| m.homes.get(n))
            .map(|h| HomeRef {
                name: h.name.clone(),
                path: h.path.clone(),
            })
            .collect(),
        _ => homes(sh, arg, true)?,
    };
    if homes.len() < 2 {
        return Err(
            Error::user("sharing threads needs two homes or more").with_help(
                "list them in cdxs.yaml under `sessions.share_threads`, or pass `--all-homes`",
            ),
        );
    }
    let mut known = Vec::new();
    for h in &homes {
        known.push((h.clone(), share::home_threads(h)?));
    }
    let copies = share::plan_copies(&known);
    let view = Copies {
        dry_run,
        copies: copies.clone(),
    };
    sh.printer.emit(json, &view);
    if copies.is_empty() && !json {
        sh.printer.status("every home already has every thread");
    }
    if dry_run || copies.is_empty() {
        return Ok(Exit::Success);
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
    if !json {
        sh.printer.status(format!("copied {copied} thread(s)"));
    }
    Ok(Exit::Success)
}
