//! `history [GEN]` and `rollback [GEN]`.

use clap::Args;

use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::history::{Generations, OneGeneration};
use crate::output::views::report;
use crate::reconcile::rollback;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A generation number
    generation: Option<i64>,
    /// Print versioned JSON
    #[arg(long)]
    json: bool,
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
            .vault
            .generation(id)?
            .ok_or_else(|| no_generation(id))?;
        sh.printer.emit(args.json, &OneGeneration { generation: g });
        return Ok(Exit::Success);
    }
    let generations = engine.vault.generations(100)?;
    if generations.is_empty() && !args.json {
        sh.printer
            .status("no generations yet: `cdxs apply` makes the first");
        return Ok(Exit::Success);
    }
    sh.printer.emit(args.json, &Generations { generations });
    Ok(Exit::Success)
}

pub fn rollback(sh: &mut Shell, args: RollbackArgs) -> Result<Exit> {
    let m = sh.manifest_for_aliases().ok().flatten();
    let engine = sh.engine()?;
    engine.settle_interrupted()?;
    let id = match args.generation {
        Some(g) => g,
        None => rollback::default_target(&engine.vault)?
            .ok_or_else(|| Error::user("no generation changed any file: nothing to roll back"))?,
    };
    let g = engine
        .vault
        .generation(id)?
        .ok_or_else(|| no_generation(id))?;
    let (plan, steps) = rollback::plan(&engine.vault, &g)?;
    let p = &sh.printer;
    if steps.is_empty() {
        p.out(format!(
            "Generation {id} changed no files: nothing to roll back."
        ));
        return Ok(Exit::Success);
    }
    p.out(format!(
        "Rolling back generation {id} ({}, {}) restores:\n",
        g.command,
        crate::output::format::when_secs(g.started_at)
    ));
    for s in &steps {
        let what = if s.restore {
            "restore the earlier content"
        } else {
            "remove it (the generation created it)"
        };
        p.out(format!("  {} {}: {what}", p.yellow("~"), s.path.display()));
        if let Some(n) = &s.note {
            p.out(format!("      {}", crate::output::sanitize(n)));
        }
        if s.changed_since {
            p.out(format!(
                "      {}",
                p.yellow("changed since that generation; the current file is backed up first")
            ));
        }
    }
    p.out("");
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
    Ok(Exit::Success)
}
