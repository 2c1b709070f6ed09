//! `history [GEN]` and `rollback [GEN]`.

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::history::{Generations, OneGeneration};
use crate::output::views::outcome::Outcome;
use crate::output::views::report;
use crate::reconcile::rollback;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  cdxs history               # the newest 20 generations\n  cdxs history --limit 100\n  cdxs history --all --json\n  cdxs history 42            # one generation: its actions and files"
)]
pub struct HistoryArgs {
    /// A generation number
    generation: Option<i64>,
    /// Show the newest N generations
    #[arg(long, value_name = "N", default_value_t = 20, conflicts_with_all = ["all", "generation"], value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// Show every generation
    #[arg(long, conflicts_with = "generation")]
    all: bool,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The generation to undo (default: the latest that changed files)
    generation: Option<i64>,
    /// Do not ask for confirmation
    #[arg(long, short = 'y', visible_alias = "auto-approve")]
    yes: bool,
}

fn no_generation(id: i64) -> Error {
    Error::user(format!("there is no generation {id}")).with_help("see `cdxs history`")
}

pub fn history(sh: &mut Shell, args: HistoryArgs) -> Result<Exit> {
    let engine = sh.engine()?;
    engine.settle_interrupted()?;
    if let Some(id) = args.generation {
        let g = engine
            .vault()
            .generation(id)?
            .ok_or_else(|| no_generation(id))?;
        sh.printer.emit(&OneGeneration { generation: g });
        return Ok(Exit::Success);
    }
    let limit = Some(args.limit as usize).filter(|_| !args.all);
    let generations = engine.vault().generations(limit.unwrap_or(usize::MAX))?;
    let total = engine.vault().generation_count()?;
    if generations.is_empty() && !sh.printer.json {
        sh.printer
            .status("no generations yet: `cdxs apply` makes the first");
        return Ok(Exit::Success);
    }
    let view = Generations::newest(generations, total);
    sh.printer.emit(&view);
    if let Some(note) = view.truncated_note().filter(|_| !sh.printer.json) {
        sh.printer.status(note);
    }
    Ok(Exit::Success)
}

pub fn rollback(sh: &mut Shell, args: RollbackArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases().ok().flatten();
    let engine = sh.engine()?;
    engine.settle_interrupted()?;
    let id = match args.generation {
        Some(g) => g,
        None => rollback::default_target(engine.vault())?
            .ok_or_else(|| Error::user("no generation changed any file: nothing to roll back"))?,
    };
    let g = engine
        .vault()
        .generation(id)?
        .ok_or_else(|| no_generation(id))?;
    let known = engine.known_homes(m.as_ref());
    let (plan, steps) = rollback::plan(engine.vault(), &g, &known)?;
    let p = &sh.printer;
    let kept = rollback::not_undone(&g);
    let undone = kept
        .iter()
        .map(|(what, why)| serde_json::json!({"what": what, "why": why}));
    let o = Outcome::new("rollback").with("rolled_back", id);
    let o = o.with("not_undone", undone.collect::<Vec<_>>());
    if steps.is_empty() {
        if let Some(e) = rollback::nothing_to_put_back(id, &kept) {
            return Err(e);
        }
        p.out(format!(
            "Generation {id} changed no files: nothing to roll back."
        ));
        sh.outcome(o.with("steps", steps));
        return Ok(Exit::Success);
    }
    crate::output::views::history::rollback_preview(p, &g, &steps, &kept);
    if !args.yes && !sh.confirm("Do you want to roll back?", "roll back")? {
        return Err(Error::user("rollback cancelled: only 'yes' approves"));
    }
    let mut bar = sh.progress("rollback");
    let report = sh
        .engine()?
        .run(m.as_ref(), &plan, "rollback", Some(id), &mut bar)?;
    report::done(&sh.printer, &report);
    let p = &sh.printer;
    if let Some(new_gen) = report.generation {
        p.out(p.green(&format!(
            "\nRollback complete: generation {new_gen} undid generation {id}."
        )));
    }
    if let Some(m) = &m
        && !steps.iter().any(|s| s.path == m.path)
    {
        p.status("cdxs.yaml still says what it said; `cdxs plan` shows what it would change back");
    }
    let refused: Vec<_> = steps.iter().filter(|s| s.refused.is_some()).collect();
    sh.outcome(o.report(&report).with("steps", &steps));
    if !refused.is_empty() && sh.printer.json {
        return Ok(Exit::Error); // `steps[].refused` says why
    }
    if let Some(first) = refused.first() {
        return Err(Error::user(format!(
            "{} file(s) not put back: {}",
            refused.len(),
            first.refused.as_deref().unwrap_or_default()
        ))
        .with_help("take the login out of the folder it is live in first (`cdxs switch ACCOUNT --codex-home FOLDER`), then roll back again"));
    }
    Ok(Exit::Success)
}
