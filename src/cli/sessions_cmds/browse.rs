//! `session list` and `session stats`: read only.

use serde::Serialize;

use super::{homes_or_all, human_bytes, resolve_homes, short, when};
use crate::cli::Ctx;
use crate::cli::args::HomesArg;
use crate::error::{Exit, Result};
use crate::output::Table;
use crate::sessions::{list, stats};

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
