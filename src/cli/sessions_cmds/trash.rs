//! `session trash`, `trash-list`, `restore`, `purge`: each a journaled generation.

use std::path::Path;

use serde::Serialize;

use super::{
    RefCell, homes_or_all, human_bytes, journaled, journaled_with, resolve_homes, short, when,
};
use crate::backup::Backups;
use crate::cli::Ctx;
use crate::cli::args::HomesArg;
use crate::error::{Error, Exit, Result};
use crate::manifest;
use crate::output::{Table, confirm};
use crate::sessions::{HomeRef, list, trash};

/// Resolve ids (or prefixes) to full thread ids within one home.
fn ids_in(home: &HomeRef, queries: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let files = crate::codex::rollout::list(&home.path);
    for q in queries {
        let found = list::find(std::slice::from_ref(home), q).map(|(_, t)| t.id);
        let id = match found {
            Ok(id) => id,
            // A rollout without a row can be trashed too.
            Err(e) => files
                .iter()
                .find(|f| f.thread_id == q.to_ascii_lowercase())
                .map(|f| f.thread_id.clone())
                .ok_or(e)?,
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

pub fn trash(ctx: &Ctx, ids: &[String], arg: &HomesArg, dry_run: bool) -> Result<Exit> {
    let homes = resolve_homes(ctx, arg)?;
    let home = pick_home_for(&homes, ids)?;
    let ids = ids_in(&home, ids)?;
    let previews = trash::preview(&home, &ids)?;
    let announce = |verb: &str| {
        for p in &previews {
            ctx.printer.out(format!(
                "{verb} {} {}{}",
                p.id,
                short(p.name.as_deref().or(p.preview.as_deref()).unwrap_or(""), 50),
                p.files
                    .iter()
                    .map(|f| format!("\n    {}", f.display()))
                    .collect::<String>()
            ));
        }
    };
    if dry_run {
        announce("would trash");
        return Ok(Exit::Success);
    }
    let backups = RefCell::new(Backups::new(&ctx.state_dir()?, "session-trash"));
    let all = crate::codex::rollout::list(&home.path);
    let actions = ids
        .iter()
        .map(|id| {
            (
                format!("trash.{}[{id}]", home.name),
                "delete".into(),
                format!("move thread {id} to the trash"),
            )
        })
        .collect();
    // Locks first, then a thread a running Codex has open is refused, and only then does
    // anything get announced or backed up.
    let prepare = || {
        trash::refuse_live(&home.path, &ids)?;
        announce("trash");
        trash::backup_dbs(&home.path, &mut backups.borrow_mut())
    };
    journaled_with(ctx, "session trash", &[&home.path], actions, prepare, |i| {
        trash::trash_one(&home, &ids[i], &all, &mut backups.borrow_mut(), ctx.ts())
    })?;
    ctx.printer.status(format!(
        "trashed {} thread(s) in home `{}`; `cdxs session restore ID` brings one back",
        ids.len(),
        home.name
    ));
    Ok(Exit::Success)
}

/// With several homes, the one that has the threads (all in one home).
fn pick_home_for(homes: &[HomeRef], ids: &[String]) -> Result<HomeRef> {
    if homes.len() == 1 {
        return Ok(homes[0].clone());
    }
    let (home, _) = list::find(homes, &ids[0])?;
    Ok(home)
}

pub fn trash_list(ctx: &Ctx, arg: &HomesArg, json: bool) -> Result<Exit> {
    let homes = homes_or_all(ctx, arg)?;
    #[derive(Serialize)]
    struct Entry {
        home: String,
        id: String,
        name: Option<String>,
        preview: Option<String>,
        trashed_at: i64,
        files: usize,
        size: u64,
        complete: bool,
    }
    let mut out = Vec::new();
    for h in &homes {
        for problem in trash::problems(h) {
            ctx.printer.warn(problem);
        }
        for (dir, m) in trash::entries(h)? {
            out.push(Entry {
                home: h.name.clone(),
                id: m.id.clone(),
                name: m.name.clone(),
                preview: m.preview.clone(),
                trashed_at: m.trashed_at,
                files: m.files.len(),
                size: m.size(&dir),
                complete: m.stage == trash::Stage::Done,
            });
        }
    }
    if json {
        #[derive(Serialize)]
        struct Out {
            trash: Vec<Entry>,
        }
        ctx.printer.json(&Out { trash: out });
        return Ok(Exit::Success);
    }
    if out.is_empty() {
        ctx.printer.status("the trash is empty");
        return Ok(Exit::Success);
    }
    let mut t = Table::new(["HOME", "ID", "TRASHED", "SIZE", "TITLE"]);
    for e in &out {
        t.row([
            e.home.clone(),
            e.id.clone(),
            when(e.trashed_at),
            human_bytes(e.size),
            short(e.name.as_deref().or(e.preview.as_deref()).unwrap_or(""), 50)
                + if e.complete {
                    ""
                } else {
                    " (interrupted: run trash again)"
                },
        ]);
    }
    ctx.printer.out(t.render());
    Ok(Exit::Success)
}

fn trashed_targets(ctx: &Ctx, ids: &[String], arg: &HomesArg) -> Result<Vec<(HomeRef, String)>> {
    let homes = homes_or_all(ctx, arg)?;
    ids.iter().map(|q| trash::find_trashed(&homes, q)).collect()
}

pub fn restore(ctx: &Ctx, ids: &[String], arg: &HomesArg, dry_run: bool) -> Result<Exit> {
    let targets = trashed_targets(ctx, ids, arg)?;
    for (h, id) in &targets {
        ctx.printer.out(format!(
            "{} {id} in home `{}`",
            if dry_run { "would restore" } else { "restore" },
            h.name
        ));
    }
    if dry_run {
        return Ok(Exit::Success);
    }
    let paths: Vec<&Path> = targets.iter().map(|(h, _)| h.path.as_path()).collect();
    let mut backups = Backups::new(&ctx.state_dir()?, "session-restore");
    for (h, _) in &targets {
        trash::backup_dbs(&h.path, &mut backups)?;
    }
    let actions = targets
        .iter()
        .map(|(h, id)| {
            (
                format!("trash.{}[{id}]", h.name),
                "create".into(),
                format!("restore thread {id}"),
            )
        })
        .collect();
    let restored = journaled(ctx, "session restore", &paths, actions, |i| {
        trash::restore_one(&targets[i].0, &targets[i].1)
    })?;
    for m in restored {
        ctx.printer.status(format!(
            "restored {}{}",
            m.id,
            m.name.map(|n| format!(" (\"{n}\")")).unwrap_or_default()
        ));
    }
    Ok(Exit::Success)
}

pub fn purge(
    ctx: &Ctx,
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
            let homes = resolve_homes(
                ctx,
                &HomesArg {
                    all_homes: arg.all_homes || (arg.home.is_none() && arg.codex_home.is_none()),
                    ..arg.clone()
                },
            )?;
            let mut out = Vec::new();
            for h in homes {
                for id in trash::older_than(&h, age.seconds, ctx.ts())? {
                    out.push((h.clone(), id));
                }
            }
            out
        }
        None => trashed_targets(ctx, ids, arg)?,
    };
    if targets.is_empty() {
        ctx.printer.status("nothing to purge");
        return Ok(Exit::Success);
    }
    for (h, id) in &targets {
        ctx.printer.out(format!(
            "{} {id} in home `{}`",
            if dry_run { "would delete" } else { "delete" },
            h.name
        ));
    }
    if dry_run {
        return Ok(Exit::Success);
    }
    if !yes
        && !confirm(
            "Delete these trashed threads for good? They cannot be restored.",
            "purge",
        )?
    {
        return Err(Error::user("purge cancelled: only 'yes' approves"));
    }
    let paths: Vec<&Path> = targets.iter().map(|(h, _)| h.path.as_path()).collect();
    let actions = targets
        .iter()
        .map(|(h, id)| {
            (
                format!("trash.{}.purge[{id}]", h.name),
                "delete".into(),
                format!("delete trashed thread {id}"),
            )
        })
        .collect();
    journaled(ctx, "session purge", &paths, actions, |i| {
        trash::purge_one(&targets[i].0, &targets[i].1)
    })?;
    ctx.printer
        .status(format!("deleted {} trashed thread(s)", targets.len()));
    Ok(Exit::Success)
}
