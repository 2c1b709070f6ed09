//! `session trash`, `trash-list`, `restore`, `purge`: each a plan run as one generation.

use super::{HomesArg, gate_notes, homes};
use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::manifest;
use crate::output::format::short;
use crate::output::views::outcome::Outcome;
use crate::output::views::report;
use crate::output::views::sessions::{TrashEntry, TrashList};
use crate::reconcile::ops;
use crate::sessions::{HomeRef, trash as bin};
use serde_json::json;

/// `session trash`: each thread is found in whichever home holds it (unless the flags name
/// one), and each home's threads are trashed as one generation there.
pub fn trash(sh: &mut Shell, ids: &[String], arg: &HomesArg, dry_run: bool) -> Result<Exit> {
    let targets = bin::locate(&homes(sh, arg, true)?, ids)?;
    let (mut o, mut threads) = (
        Outcome::new("session trash").with("dry_run", dry_run),
        vec![],
    );
    for (home, ids) in &targets {
        threads.extend(ids.iter().map(|id| json!({"home": home.name, "id": id})));
        if dry_run {
            for p in bin::preview(home, ids)? {
                sh.printer.out(format!(
                    "would trash {} in home `{}`: {}{}",
                    p.id,
                    home.name,
                    short(p.name.as_deref().or(p.preview.as_deref()).unwrap_or(""), 50),
                    p.files
                        .iter()
                        .map(|f| format!("\n    {}", f.display()))
                        .collect::<String>()
                ));
            }
            continue;
        }
        gate_notes(sh, &[home])?;
        let plan = ops::trash(home, ids);
        let mut bar = sh.progress("session trash");
        let done = sh
            .engine()?
            .run(None, &plan, "session trash", None, &mut bar)?;
        report::done(&sh.printer, &done);
        o = o.report(&done);
        sh.printer.status(format!(
            "trashed {} thread(s) in home `{}`; `cdxs session restore ID` brings one back",
            ids.len(),
            home.name
        ));
    }
    sh.outcome(o.with("threads", threads));
    Ok(Exit::Success)
}

pub fn trash_list(sh: &mut Shell, arg: &HomesArg) -> Result<Exit> {
    let homes = homes(sh, arg, true)?;
    let mut out = Vec::new();
    for h in &homes {
        for problem in bin::problems(h) {
            sh.printer.warn(problem);
        }
        for (dir, m) in bin::entries(h)? {
            out.push(TrashEntry {
                home: h.name.clone(),
                id: m.id.clone(),
                name: m.name.clone(),
                preview: m.preview.clone(),
                trashed_at: m.trashed_at,
                files: m.files.len(),
                size: m.size(&dir),
                complete: m.stage == bin::Stage::Done,
            });
        }
    }
    if out.is_empty() && !sh.printer.json {
        sh.printer.status("the trash is empty");
        return Ok(Exit::Success);
    }
    sh.printer.emit(&TrashList { trash: out });
    Ok(Exit::Success)
}

fn trashed_targets(sh: &Shell, ids: &[String], arg: &HomesArg) -> Result<Vec<(HomeRef, String)>> {
    let homes = homes(sh, arg, true)?;
    ids.iter().map(|q| bin::find_trashed(&homes, q)).collect()
}

pub fn restore(sh: &mut Shell, ids: &[String], arg: &HomesArg, dry_run: bool) -> Result<Exit> {
    let targets = trashed_targets(sh, ids, arg)?;
    let threads: Vec<_> = targets
        .iter()
        .map(|(h, id)| json!({"home": h.name, "id": id}))
        .collect();
    let o = Outcome::new("session restore")
        .with("dry_run", dry_run)
        .with("threads", threads);
    if dry_run {
        for (h, id) in &targets {
            sh.printer
                .out(format!("would restore {id} in home `{}`", h.name));
        }
        sh.outcome(o);
        return Ok(Exit::Success);
    }
    gate_notes(sh, &targets.iter().map(|(h, _)| h).collect::<Vec<_>>())?;
    let plan = ops::restore(&targets);
    let mut bar = sh.progress("session restore");
    let done = sh
        .engine()?
        .run(None, &plan, "session restore", None, &mut bar)?;
    report::done(&sh.printer, &done);
    for (h, id) in &targets {
        sh.printer
            .status(format!("restored {id} in home `{}`", h.name));
    }
    sh.outcome(o.report(&done));
    Ok(Exit::Success)
}

pub fn purge(
    sh: &mut Shell,
    ids: &[String],
    older_than: Option<&str>,
    arg: &HomesArg,
    yes: bool,
    dry_run: bool,
) -> Result<Exit> {
    let targets: Vec<(HomeRef, String)> = match older_than {
        Some(text) => {
            let age = manifest::Duration::parse(text)
                .map_err(|e| Error::user(e).with_help("e.g. `--older-than 30d`"))?;
            let mut out = Vec::new();
            for h in homes(sh, arg, true)? {
                for id in bin::older_than(&h, age.seconds, sh.now())? {
                    out.push((h.clone(), id));
                }
            }
            out
        }
        None => trashed_targets(sh, ids, arg)?,
    };
    let threads: Vec<_> = targets
        .iter()
        .map(|(h, id)| json!({"home": h.name, "id": id}))
        .collect();
    let o = Outcome::new("session purge")
        .with("dry_run", dry_run)
        .with("threads", threads);
    if targets.is_empty() {
        sh.printer.status("nothing to purge");
        sh.outcome(o);
        return Ok(Exit::Success);
    }
    for (h, id) in &targets {
        sh.printer.out(format!(
            "{} {id} in home `{}`",
            if dry_run { "would delete" } else { "delete" },
            h.name
        ));
    }
    if dry_run {
        sh.outcome(o);
        return Ok(Exit::Success);
    }
    if !yes
        && !sh.confirm(
            "Delete these trashed threads for good? They cannot be restored.",
            "purge",
        )?
    {
        return Err(Error::user("purge cancelled: only 'yes' approves"));
    }
    let plan = ops::purge(&targets);
    let mut bar = sh.progress("session purge");
    let done = sh
        .engine()?
        .run(None, &plan, "session purge", None, &mut bar)?;
    sh.printer
        .status(format!("deleted {} trashed thread(s)", targets.len()));
    sh.outcome(o.report(&done));
    Ok(Exit::Success)
}
