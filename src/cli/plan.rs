//! `plan`, `apply`, `history`, `rollback`, `status`, and the shared "converge these homes
//! now" step that `switch`, `home` and `run` use.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::error::{Error, Exit, Result, tick};
use crate::manifest::{self, Manifest};
use crate::output::{Table, confirm};
use crate::reconcile::apply::{self, ApplyEnv, FileChange};
use crate::reconcile::observe::Scope;
use crate::reconcile::{self, Plan, Summary, render, rollback};
use crate::vault::Vault;

/// The JSON shape of `plan --json` and of a saved plan file.
#[derive(Debug, Serialize, Deserialize)]
struct PlanDoc {
    format: String,
    plan: Plan,
    summary: Summary,
    has_changes: bool,
}

const PLAN_FORMAT: &str = "cdxs-plan";

fn env_lookup(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

fn make_plan(ctx: &Ctx, m: &Manifest, vault: &mut Vault, scope: &Scope) -> Result<Plan> {
    if !scope.offline {
        // Pools pick by quota: refresh what is older than 5 minutes (failures keep the cache).
        let ids = super::quota_cmds::pool_accounts(m, vault, scope.homes.as_deref())?;
        super::quota_cmds::refresh_stale(ctx, vault, Some(m), &ids, false)?;
    }
    let observed = apply::observe_now(m, vault, scope)?;
    if !observed.sessions.is_empty() {
        ctx.printer.detail(format!(
            "observed sessions of {} home(s); read {} rollout head(s) from disk",
            observed.sessions.len(),
            observed.heads_read
        ));
    }
    Ok(reconcile::plan::plan(m, &observed, ctx.ts()))
}

fn fail_on_errors(ctx: &Ctx, plan: &Plan) -> Result<()> {
    if plan.errors.is_empty() {
        return Ok(());
    }
    eprint!("{}", render::render_errors(plan, &ctx.printer));
    Err(Error::user(format!(
        "cannot plan: {} problem{} above",
        plan.errors.len(),
        if plan.errors.len() == 1 { "" } else { "s" }
    ))
    .with_help("fix them (cdxs.yaml, the vault, or the environment), then run `cdxs plan` again"))
}

pub struct PlanArgs {
    pub offline: bool,
    pub detailed_exitcode: bool,
    pub json: bool,
    pub out: Option<PathBuf>,
    pub targets: Vec<String>,
}

/// Load the manifest and plan every home (or only `targets`).
fn fresh_plan(ctx: &Ctx, offline: bool, targets: &[String]) -> Result<(Manifest, Plan)> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    let mut vault = ctx.vault()?;
    let scope = Scope {
        offline,
        ..Scope::default()
    };
    let mut plan = make_plan(ctx, &m, &mut vault, &scope)?;
    plan.retain_targets(targets);
    Ok((m, plan))
}

pub fn plan(ctx: &Ctx, args: PlanArgs) -> Result<Exit> {
    let (_, plan) = fresh_plan(ctx, args.offline, &args.targets)?;
    let doc = PlanDoc {
        format: PLAN_FORMAT.into(),
        summary: plan.summary(),
        has_changes: plan.has_changes(),
        plan,
    };
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&crate::output::versioned(&doc))
            .map_err(|e| Error::user(format!("cannot encode the plan: {e}")))?;
        crate::fsx::write_atomic(out, text.as_bytes(), 0o644)?;
    }
    if args.json {
        ctx.printer.json(&doc);
    } else {
        ctx.printer
            .out(render::render(&doc.plan, &ctx.printer).trim_end());
        if let Some(out) = &args.out {
            ctx.printer.status(format!(
                "\nSaved the plan to {}; apply exactly it with `cdxs apply {}`",
                tick(out),
                out.display()
            ));
        }
    }
    fail_on_errors(ctx, &doc.plan)?;
    Ok(if args.detailed_exitcode && doc.has_changes {
        Exit::Changes
    } else {
        Exit::Success
    })
}

fn read_plan_file(path: &Path) -> Result<Plan> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::io(format!("cannot read the plan {}", tick(path)), e))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Error::user(format!("{} is not a cdxs plan: {e}", tick(path)))
            .with_help("save one with `cdxs plan --out FILE`")
    })?;
    if value.get("version").and_then(|v| v.as_u64()) != Some(1)
        || value.get("format").and_then(|v| v.as_str()) != Some(PLAN_FORMAT)
    {
        return Err(
            Error::user(format!("{} is not a cdxs plan (version 1)", tick(path)))
                .with_help("save one with `cdxs plan --out FILE`"),
        );
    }
    let doc: PlanDoc = serde_json::from_value(value).map_err(|e| {
        Error::user(format!("{} is a damaged cdxs plan: {e}", tick(path)))
            .with_help("make a new one with `cdxs plan --out FILE`")
    })?;
    Ok(doc.plan)
}

pub struct ApplyArgs {
    pub offline: bool,
    pub plan_file: Option<PathBuf>,
    pub yes: bool,
    pub targets: Vec<String>,
}

pub fn apply(ctx: &Ctx, args: ApplyArgs) -> Result<Exit> {
    let (m, plan, saved) = match &args.plan_file {
        Some(file) => {
            let plan = read_plan_file(file)?;
            let flag = ctx
                .global
                .manifest
                .clone()
                .unwrap_or_else(|| plan.manifest.clone());
            let m = manifest::load(&flag)?;
            // Refuse a stale plan up front, even one with nothing to do.
            let vault = ctx.vault()?;
            let scope = Scope {
                homes: Some(plan.observed.keys().cloned().collect()),
                skip_processes: true,
                skip_sessions: true,
                ..Scope::default()
            };
            if let Some(why) =
                apply::stale_reason(&plan, &m, &apply::observe_now(&m, &vault, &scope)?)
            {
                return Err(Error::user(format!("the plan is stale: {why}"))
                    .with_help("make a new plan with `cdxs plan --out FILE` and review it"));
            }
            (m, plan, true)
        }
        None => {
            let (m, plan) = fresh_plan(ctx, args.offline, &args.targets)?;
            (m, plan, false)
        }
    };
    fail_on_errors(ctx, &plan)?;
    if !plan.has_changes() {
        if !plan.drift.is_empty() || !plan.notes.is_empty() {
            ctx.printer
                .out(render::render(&plan, &ctx.printer).trim_end());
        } else {
            ctx.printer.out(render::summary_line(&plan));
        }
        // Nothing to do, but what matches now is the baseline for drift.
        if !plan.accepted.is_empty() {
            execute(ctx, &m, &plan, "apply", Vec::new(), saved)?;
        }
        return Ok(Exit::Success);
    }
    ctx.printer
        .out(render::render(&plan, &ctx.printer).trim_end());
    // A saved plan was the review (as in Terraform): no second question.
    if !args.yes && !saved {
        ctx.printer.out("");
        if !confirm(
            "Do you want to perform these actions?\n  cdxs will perform the actions described above.",
            "apply",
        )? {
            ctx.printer.out("Apply cancelled.");
            return Err(Error::user("apply cancelled: only 'yes' approves"));
        }
    }
    execute(ctx, &m, &plan, "apply", Vec::new(), saved).map(|_| Exit::Success)
}

/// Lock, check the plan is still what the world looks like, run it, report.
fn execute(
    ctx: &Ctx,
    m: &Manifest,
    plan: &Plan,
    command: &str,
    extra: Vec<FileChange>,
    saved: bool,
) -> Result<Option<i64>> {
    let state_dir = ctx.state_dir()?;
    let mut vault = ctx.vault()?;
    let holder = format!("cdxs {command}");
    let _locks = apply::lock_for(plan, &state_dir, &holder)?;
    let scope = Scope {
        homes: Some(plan.observed.keys().cloned().collect()),
        skip_processes: true,
        skip_sessions: true,
        ..Scope::default()
    };
    let now = apply::observe_now(m, &vault, &scope)?;
    if let Some(why) = apply::stale_reason(plan, m, &now) {
        return Err(
            Error::user(format!("the plan is stale: {why}")).with_help(if saved {
                "make a new plan with `cdxs plan --out FILE` and review it"
            } else {
                "run the command again to see the new plan"
            }),
        );
    }
    let env = ApplyEnv {
        state_dir: &state_dir,
        now: ctx.ts(),
        command,
        env: &env_lookup,
        extra_files: extra,
    };
    let bar = ctx.printer.progress(plan.actions.len(), "applying");
    let report = apply::apply(plan, &mut vault, &env, &mut |a| {
        bar.inc(1);
        if bar.is_hidden() {
            ctx.printer
                .detail(format!("{}: {}", a.address, a.description));
        }
    });
    bar.finish_and_clear();
    let report = report?;
    if let Some(w) = crate::backup::prune_after(&mut vault, Some(m), ctx.ts()) {
        ctx.printer.warn(w);
    }
    for d in &report.done {
        ctx.printer
            .status(format!("{}: {}", ctx.printer.bold(&d.address), d.message));
        if let Some(b) = &d.backup {
            ctx.printer.detail(format!("  backup: {}", b.display()));
        }
    }
    if command == "apply" && plan.has_changes() {
        let s = plan.summary();
        ctx.printer.out(ctx.printer.green(&format!(
            "\nApply complete! Resources: {} added, {} changed, {} destroyed.",
            s.add, s.change, s.destroy
        )));
        if let Some(g) = report.generation {
            ctx.printer.status(format!(
                "generation {g} (`cdxs history {g}`, `cdxs rollback {g}`)"
            ));
        }
    }
    for n in &plan.notes {
        ctx.printer.warn(format!("{}: {}", n.address, n.message));
    }
    Ok(report.generation)
}

/// Converge some homes now (after `switch`, `home create|bind`, before `run`): no question,
/// the command itself was the consent. Returns whether anything was done.
pub(super) fn converge(
    ctx: &Ctx,
    m: &Manifest,
    homes: &[String],
    command: &str,
    extra: Vec<FileChange>,
    skip_processes: bool,
) -> Result<bool> {
    let mut vault = ctx.vault()?;
    let scope = Scope {
        homes: Some(homes.to_vec()),
        skip_processes,
        skip_sessions: true,
        ..Scope::default()
    };
    let mut plan = make_plan(ctx, m, &mut vault, &scope)?;
    drop(vault);
    let targets: Vec<String> = homes.iter().map(|h| format!("home.{h}")).collect();
    let reads: Vec<String> = plan
        .actions
        .iter()
        .filter(|a| a.kind == reconcile::ActionKind::Read)
        .map(|a| a.address.clone())
        .collect();
    plan.retain_targets(&[targets, reads].concat());
    plan.errors.retain(|e| {
        homes
            .iter()
            .any(|h| e.address.starts_with(&format!("home.{h}.")))
    });
    fail_on_errors(ctx, &plan)?;
    if !plan.has_changes() && extra.is_empty() && plan.accepted.is_empty() {
        return Ok(false);
    }
    execute(ctx, m, &plan, command, extra, false)?;
    Ok(plan.has_changes())
}

pub fn history(ctx: &Ctx, generation: Option<i64>, json: bool) -> Result<Exit> {
    let mut vault = ctx.vault()?;
    reconcile::locks::settle_interrupted(&ctx.state_dir()?, &mut vault, ctx.ts())?;
    if let Some(id) = generation {
        let g = vault.generation(id)?.ok_or_else(|| {
            Error::user(format!("there is no generation {id}")).with_help("see `cdxs history`")
        })?;
        if json {
            #[derive(Serialize)]
            struct Out<'a> {
                generation: &'a crate::vault::journal::Generation,
            }
            ctx.printer.json(&Out { generation: &g });
            return Ok(Exit::Success);
        }
        let p = &ctx.printer;
        p.out(format!(
            "generation {}  {}  {}  {}",
            g.id,
            when(g.started_at),
            g.command,
            status_word(p, &g.status)
        ));
        if let Some(of) = g.rollback_of {
            p.out(format!("rolls back generation {of}"));
        }
        if let Some(e) = &g.error {
            p.out(format!("error: {e}"));
        }
        if !g.actions.is_empty() {
            p.out("\nactions:");
            for a in &g.actions {
                p.out(format!("  [{}] {}  {}", a.status, a.address, a.description));
                if let Some(e) = &a.error {
                    p.out(format!("        error: {e}"));
                }
            }
        }
        if !g.files.is_empty() {
            p.out("\nfiles:");
            for f in &g.files {
                let b = f
                    .backup
                    .as_ref()
                    .map(|b| format!("backup {}", b.display()))
                    .unwrap_or_else(|| "created (no earlier file)".into());
                p.out(format!("  {}  {b}", f.path.display()));
            }
        }
        return Ok(Exit::Success);
    }
    let gens = vault.generations(100)?;
    if json {
        #[derive(Serialize)]
        struct Out {
            generations: Vec<crate::vault::journal::Generation>,
        }
        ctx.printer.json(&Out { generations: gens });
        return Ok(Exit::Success);
    }
    if gens.is_empty() {
        ctx.printer
            .status("no generations yet: `cdxs apply` makes the first");
        return Ok(Exit::Success);
    }
    let mut t = Table::new(["GEN", "STARTED", "COMMAND", "STATUS", "NOTE"]);
    for g in &gens {
        t.row([
            g.id.to_string(),
            when(g.started_at),
            g.command.clone(),
            status_word(&ctx.printer, &g.status),
            g.rollback_of
                .map(|r| format!("rollback of {r}"))
                .or(g.error.clone())
                .unwrap_or_default(),
        ]);
    }
    ctx.printer.out(t.render());
    Ok(Exit::Success)
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn status_word(p: &crate::output::Printer, s: &str) -> String {
    match s {
        "ok" => p.green(s),
        "failed" => p.red(s),
        _ => p.yellow(s),
    }
}

pub fn rollback(ctx: &Ctx, generation: Option<i64>, yes: bool) -> Result<Exit> {
    let state_dir = ctx.state_dir()?;
    let mut vault = ctx.vault()?;
    let _lock = reconcile::locks::vault(&state_dir, "cdxs rollback")?;
    vault.mark_interrupted(ctx.ts())?;
    let id = match generation {
        Some(g) => g,
        None => rollback::default_target(&vault)?
            .ok_or_else(|| Error::user("no generation changed any file: nothing to roll back"))?,
    };
    let g = vault.generation(id)?.ok_or_else(|| {
        Error::user(format!("there is no generation {id}")).with_help("see `cdxs history`")
    })?;
    let steps = rollback::prepare(&vault, &g)?;
    if steps.is_empty() {
        ctx.printer.out(format!(
            "Generation {id} changed no files: nothing to roll back."
        ));
        return Ok(Exit::Success);
    }
    let p = &ctx.printer;
    p.out(format!(
        "Rolling back generation {id} ({}, {}) restores:\n",
        g.command,
        when(g.started_at)
    ));
    for s in &steps {
        let what = match &s.restore {
            Some(_) => "restore the earlier content",
            None => "remove it (the generation created it)",
        };
        p.out(format!("  {} {}: {what}", p.yellow("~"), s.path.display()));
        if let Some(n) = &s.note {
            p.out(format!("      {n}"));
        }
        if s.changed_since {
            p.out(format!(
                "      {}",
                p.yellow("changed since that generation; the current file is backed up first")
            ));
        }
    }
    p.out("");
    if !yes && !confirm("Do you want to roll back?", "roll back")? {
        return Err(Error::user("rollback cancelled: only 'yes' approves"));
    }
    let homes: Vec<PathBuf> = steps
        .iter()
        .map(|s| crate::fsx::parent_of(&s.path))
        .collect();
    let _home_locks = reconcile::locks::homes(
        &state_dir,
        homes.iter().map(|h| h.as_path()),
        "cdxs rollback",
    )?;
    let actions: Vec<(String, String, String)> = steps
        .iter()
        .map(|s| {
            (
                s.path.display().to_string(),
                "update".into(),
                format!("restore from generation {id}"),
            )
        })
        .collect();
    let new_gen = vault.begin_generation("rollback", None, Some(id), &actions, ctx.ts())?;
    match rollback::execute(&mut vault, &steps, new_gen, &state_dir, ctx.ts()) {
        Ok(done) => {
            vault.finish_generation(new_gen, true, None, ctx.ts())?;
            for (path, backup) in done {
                p.status(format!("restored {}", tick(&path)));
                if let Some(b) = backup {
                    p.detail(format!("  previous content saved at {}", b.display()));
                }
            }
            p.out(p.green(&format!(
                "\nRollback complete: generation {new_gen} undid generation {id}."
            )));
            if let Ok(Some(m)) = manifest::optional(ctx.global.manifest.as_deref())
                && !steps.iter().any(|s| s.path == m.path)
            {
                p.status("cdxs.yaml still says what it said; `cdxs plan` shows what it would change back");
            }
            Ok(Exit::Success)
        }
        Err(e) => {
            vault.finish_generation(new_gen, false, Some(&e.to_string()), ctx.ts())?;
            Err(e)
        }
    }
}

pub fn status(ctx: &Ctx, json: bool) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    let vault = ctx.vault()?;
    let observed = apply::observe_now(&m, &vault, &Scope::default())?;
    let plan = reconcile::plan::plan(&m, &observed, ctx.ts());
    let rows = super::status_view::rows(&m, &observed, &plan, ctx.ts());
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            manifest: String,
            homes: &'a [super::status_view::Row],
            summary: Summary,
            drift: usize,
            errors: usize,
        }
        ctx.printer.json(&Out {
            manifest: m.path.display().to_string(),
            homes: &rows,
            summary: plan.summary(),
            drift: plan.drift.len(),
            errors: plan.errors.len(),
        });
        return Ok(Exit::Success);
    }
    ctx.printer
        .out(super::status_view::render(&m, &rows, &plan, &ctx.printer));
    Ok(Exit::Success)
}
