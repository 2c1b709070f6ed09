//! `session ...`: list, stats, trash, trash-list, restore, purge, visibility, sync-threads.

use std::path::Path;

use serde::Serialize;

use super::Ctx;
use super::args::HomesArg;
use crate::backup::Backups;
use crate::error::{Error, Exit, Result};
use crate::manifest;
use crate::output::{Table, confirm};
use crate::paths;
use crate::reconcile::locks;
use crate::sessions::visibility::{self, Direct, Issue};
use crate::sessions::{HomeRef, list, share, stats, trash};

/// The homes a session command works on.
pub fn resolve_homes(ctx: &Ctx, arg: &HomesArg) -> Result<Vec<HomeRef>> {
    if let Some(p) = &arg.codex_home {
        let path = paths::absolute(p);
        return Ok(vec![HomeRef {
            name: paths::display(&path),
            path,
        }]);
    }
    let m = manifest::optional(ctx.global.manifest.as_deref())?;
    if let Some(name) = &arg.home {
        let m = m.ok_or_else(|| {
            Error::user("`--home` needs cdxs.yaml")
                .with_help("run `cdxs init`, or pass `--codex-home PATH`")
        })?;
        let h = m.homes.get(name).ok_or_else(|| {
            Error::user(format!("cdxs.yaml declares no home `{name}`"))
                .with_help("see `cdxs home list`")
        })?;
        return Ok(vec![HomeRef {
            name: name.clone(),
            path: h.path.clone(),
        }]);
    }
    let default_path = paths::default_codex_home()?;
    let mut homes: Vec<HomeRef> = Vec::new();
    if let Some(m) = &m {
        if arg.all_homes {
            homes.extend(m.homes.values().map(|h| HomeRef {
                name: h.name.clone(),
                path: h.path.clone(),
            }));
        } else if let Some(h) = m.homes.get("default") {
            return Ok(vec![HomeRef {
                name: "default".into(),
                path: h.path.clone(),
            }]);
        } else if let Some(h) = m.homes.values().find(|h| h.path == default_path) {
            return Ok(vec![HomeRef {
                name: h.name.clone(),
                path: h.path.clone(),
            }]);
        }
    }
    if !homes.iter().any(|h| h.path == default_path) {
        homes.push(HomeRef {
            name: "default".into(),
            path: default_path,
        });
    }
    if !arg.all_homes {
        homes.truncate(1);
    }
    Ok(homes)
}

/// The named home, else every home (commands that look a thread up by id anywhere).
fn homes_or_all(ctx: &Ctx, arg: &HomesArg) -> Result<Vec<HomeRef>> {
    if arg.home.is_some() || arg.codex_home.is_some() {
        return resolve_homes(ctx, arg);
    }
    resolve_homes(
        ctx,
        &HomesArg {
            all_homes: true,
            home: None,
            codex_home: None,
        },
    )
}

/// Run actions as one journaled generation under the vault lock and the homes' locks.
fn journaled<T>(
    ctx: &Ctx,
    command: &str,
    homes: &[&Path],
    actions: Vec<(String, String, String)>,
    mut f: impl FnMut(usize) -> Result<T>,
) -> Result<Vec<T>> {
    let state_dir = ctx.state_dir()?;
    let holder = format!("cdxs {command}");
    let _v = locks::vault(&state_dir, &holder)?;
    let _h = locks::homes(&state_dir, homes.iter().copied(), &holder)?;
    let mut vault = ctx.vault()?;
    vault.mark_interrupted(ctx.ts())?;
    let n = actions.len();
    let generation = vault.begin_generation(command, None, None, &actions, ctx.ts())?;
    let mut out = Vec::new();
    let bar = ctx.printer.progress(n, command);
    for seq in 0..n {
        bar.inc(1);
        match f(seq) {
            Ok(v) => {
                vault.finish_action(generation, seq, None)?;
                out.push(v);
            }
            Err(e) => {
                vault.finish_action(generation, seq, Some(&e.to_string()))?;
                vault.finish_generation(generation, false, Some(&e.to_string()), ctx.ts())?;
                return Err(e);
            }
        }
    }
    bar.finish_and_clear();
    vault.finish_generation(generation, true, None, ctx.ts())?;
    Ok(out)
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn short(s: &str, n: usize) -> String {
    let one = s.lines().next().unwrap_or("").trim();
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n - 1).collect::<String>())
    } else {
        one.to_string()
    }
}

pub fn list(ctx: &Ctx, arg: &HomesArg, json: bool) -> Result<Exit> {
    let homes = resolve_homes(ctx, arg)?;
    if json {
        // Streamed home by home: 50,000 threads never sit in memory as one JSON tree.
        ctx.printer
            .json_stream("threads", homes.iter().map(list::threads))?;
        return Ok(Exit::Success);
    }
    let mut all = Vec::new();
    for h in &homes {
        all.extend(list::threads(h)?);
    }
    if all.is_empty() {
        ctx.printer.status("no threads");
        return Ok(Exit::Success);
    }
    let mut t = Table::new([
        "HOME",
        "ID",
        "UPDATED",
        "SOURCE",
        "TOKENS",
        "TITLE",
        "HIDDEN BY CODEX",
    ]);
    for th in &all {
        t.row([
            th.home.clone(),
            th.id.clone(),
            when(th.updated_at),
            th.source.clone(),
            th.tokens_used.to_string(),
            short(th.title(), 40),
            if th.hidden.is_empty() {
                "-".to_string()
            } else {
                th.hidden.join(", ")
            },
        ]);
    }
    ctx.printer.out(t.render());
    Ok(Exit::Success)
}

pub fn stats(ctx: &Ctx, id: &str, arg: &HomesArg, full: bool, json: bool) -> Result<Exit> {
    // A bare id may live in any declared home.
    let homes = homes_or_all(ctx, arg)?;
    let (home, t) = list::find(&homes, id)?;
    let s = stats::stats(&home, &t, full)?;
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            stats: &'a stats::Stats,
        }
        ctx.printer.json(&Out { stats: &s });
        return Ok(Exit::Success);
    }
    let p = &ctx.printer;
    let rows: Vec<(&str, String)> = vec![
        ("thread", s.id.clone()),
        ("home", s.home.clone()),
        ("name", s.name.clone().unwrap_or_else(|| "-".into())),
        ("preview", short(&s.preview, 70)),
        (
            "rollout",
            s.rollout_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(missing)".into()),
        ),
        (
            "size",
            s.size.map(human_bytes).unwrap_or_else(|| "-".into()),
        ),
        (
            "tokens",
            match s.tokens {
                Some(u) => format!(
                    "{} total ({} input, {} cached, {} output, {} reasoning)",
                    u.total_tokens,
                    u.input_tokens,
                    u.cached_input_tokens,
                    u.output_tokens,
                    u.reasoning_output_tokens
                ),
                None => "no token_count in the rollout".into(),
            },
        ),
        ("tokens (db)", s.tokens_used_db.to_string()),
        (
            "turns",
            s.turns
                .map(|n| n.to_string())
                .unwrap_or_else(|| "- (use --lines)".into()),
        ),
        (
            "lines",
            s.lines
                .map(|n| n.to_string())
                .unwrap_or_else(|| "- (use --lines)".into()),
        ),
    ];
    let w = rows.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    for (k, v) in rows {
        p.out(format!("{:w$}  {v}", format!("{k}:")));
    }
    Ok(Exit::Success)
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} kB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GB", n as f64 / 1_073_741_824.0),
    }
}

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
    for p in &previews {
        ctx.printer.out(format!(
            "{} {} {}{}",
            if dry_run { "would trash" } else { "trash" },
            p.id,
            short(p.name.as_deref().or(p.preview.as_deref()).unwrap_or(""), 50),
            p.files
                .iter()
                .map(|f| format!("\n    {}", f.display()))
                .collect::<String>()
        ));
    }
    if dry_run {
        return Ok(Exit::Success);
    }
    let mut backups = Backups::new(&ctx.state_dir()?, "session-trash");
    trash::backup_dbs(&home.path, &mut backups)?;
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
    journaled(ctx, "session trash", &[&home.path], actions, |i| {
        trash::trash_one(&home, &ids[i], &all, &mut backups, ctx.ts())
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
                        fixed = visibility::repair(h, &issues, &mut Direct, ctx.ts())?;
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
    journaled(ctx, "session sync-threads", &paths, actions, |i| {
        let c = &copies[i];
        share::copy(&by_name(&c.from), &by_name(&c.to), c, ctx.now)
    })?;
    if !json {
        ctx.printer
            .status(format!("copied {} thread(s)", copies.len()));
    }
    Ok(Exit::Success)
}
