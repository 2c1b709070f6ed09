//! `session visibility` and `session sync-threads`: fixes Codex's thread list needs.

use std::path::Path;

use serde::Serialize;

use super::{journaled, resolve_homes, short};
use crate::backup::Backups;
use crate::cli::Ctx;
use crate::cli::args::HomesArg;
use crate::error::{Error, Exit, Result};
use crate::manifest;
use crate::sessions::visibility::{self, Direct, Issue};
use crate::sessions::{HomeRef, share, trash};

pub fn visibility(
    ctx: &Ctx,
    arg: &HomesArg,
    repair: bool,
    dry_run: bool,
    json: bool,
) -> Result<Exit> {
    let homes = resolve_homes(ctx, arg)?;
    #[derive(Serialize)]
    struct HomeIssues {
        home: String,
        issues: Vec<Issue>,
        repaired: Vec<Issue>,
    }
    let mut report = Vec::new();
    for h in &homes {
        let issues = visibility::check(h, &mut Direct)?;
        let repaired = if repair && !dry_run && issues.iter().any(Issue::repairable) {
            let mut backups = Backups::new(&ctx.state_dir()?, "visibility-repair");
            trash::backup_dbs(&h.path, &mut backups)?;
            // One action per problem in the journal; the fixes go in one short transaction.
            let actions: Vec<(String, String, String)> = issues
                .iter()
                .filter(|i| i.repairable())
                .map(|i| {
                    let address = format!("sessions.{}.repair[{}:{}]", h.name, i.kind(), i.id());
                    (address, "update".into(), i.describe())
                })
                .collect();
            let mut fixed = Vec::new();
            journaled(
                ctx,
                "session visibility repair",
                &[&h.path],
                actions,
                |seq| {
                    if seq == 0 {
                        let done = visibility::repair(h, &issues, &mut Direct, ctx.ts())?;
                        for live in &done.live {
                            ctx.printer.warn(format!("skipped: {live}"));
                        }
                        fixed = done.fixed;
                    }
                    Ok(())
                },
            )?;
            fixed
        } else {
            Vec::new()
        };
        report.push(HomeIssues {
            home: h.name.clone(),
            issues,
            repaired,
        });
    }
    if json {
        #[derive(Serialize)]
        struct Out {
            homes: Vec<HomeIssues>,
        }
        ctx.printer.json(&Out { homes: report });
        return Ok(Exit::Success);
    }
    let p = &ctx.printer;
    for r in &report {
        if r.issues.is_empty() {
            p.out(format!("home `{}`: every thread is visible", r.home));
            continue;
        }
        p.out(format!("home `{}`: {} problem(s)", r.home, r.issues.len()));
        for i in &r.issues {
            let mark = if r.repaired.contains(i) {
                p.green("fixed")
            } else if repair && i.repairable() && dry_run {
                p.yellow("would fix")
            } else if i.repairable() {
                p.yellow("repairable")
            } else {
                p.dim("report only")
            };
            p.out(format!(
                "  [{mark}] {} {}: {}",
                i.kind(),
                i.id(),
                i.describe()
            ));
        }
    }
    if !repair
        && report
            .iter()
            .any(|r| r.issues.iter().any(Issue::repairable))
    {
        p.status("fix them with `cdxs session visibility repair`");
    }
    Ok(Exit::Success)
}

pub fn sync_threads(ctx: &Ctx, arg: &HomesArg, dry_run: bool, json: bool) -> Result<Exit> {
    let m = manifest::optional(ctx.global.manifest.as_deref())?;
    let homes: Vec<HomeRef> = match (
        &m,
        arg.all_homes || arg.home.is_some() || arg.codex_home.is_some(),
    ) {
        (Some(m), false) if !m.sessions.share_threads.is_empty() => m
            .sessions
            .share_threads
            .iter()
            .filter_map(|n| m.homes.get(n))
            .map(|h| HomeRef {
                name: h.name.clone(),
                path: h.path.clone(),
            })
            .collect(),
        _ => resolve_homes(
            ctx,
            &HomesArg {
                all_homes: true,
                ..arg.clone()
            },
        )?,
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
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            dry_run: bool,
            copies: &'a [share::Copy],
        }
        ctx.printer.json(&Out {
            dry_run,
            copies: &copies,
        });
    } else {
        for c in &copies {
            ctx.printer.out(format!(
                "{} {} from `{}` to `{}`: {}",
                if dry_run { "would copy" } else { "copy" },
                c.id,
                c.from,
                c.to,
                short(&c.title, 50)
            ));
        }
        if copies.is_empty() {
            ctx.printer.status("every home already has every thread");
        }
    }
    if dry_run || copies.is_empty() {
        return Ok(Exit::Success);
    }
    let mut backups = Backups::new(&ctx.state_dir()?, "sync-threads");
    for h in &homes {
        trash::backup_dbs(&h.path, &mut backups)?;
    }
    let by_name = |n: &str| {
        homes
            .iter()
            .find(|h| h.name == n)
            .cloned()
            .expect("planned home")
    };
    let paths: Vec<&Path> = homes.iter().map(|h| h.path.as_path()).collect();
    let actions = copies
        .iter()
        .map(|c| {
            (
                format!("threads.{}.copy[{}]", c.to, c.id),
                "create".into(),
                format!("copy thread {} from `{}`", c.id, c.from),
            )
        })
        .collect();
    let done = journaled(ctx, "session sync-threads", &paths, actions, |i| {
        let c = &copies[i];
        share::copy(&by_name(&c.from), &by_name(&c.to), c, ctx.now)
    })?;
    let mut copied = 0;
    for outcome in &done {
        match outcome {
            share::Copied::Live(why) => ctx.printer.warn(format!("skipped: {why}")),
            share::Copied::Done => copied += 1,
            share::Copied::AlreadyThere => {}
        }
    }
    if !json {
        ctx.printer.status(format!("copied {copied} thread(s)"));
    }
    Ok(Exit::Success)
}
