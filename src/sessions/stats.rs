//! `session stats ID`: tokens from the rollout's last `token_count` event (read backwards
//! from the end), size, turns, and (opt-in, a full read) the line count.

use std::path::PathBuf;

use serde::Serialize;

use super::list::{ThreadInfo, locate_rollout};
use super::{HomeRef, open_history};
use crate::codex::rollout::{self, TokenUsage};
use crate::error::Result;

#[derive(Debug, Serialize)]
pub struct Stats {
    pub home: String,
    pub id: String,
    pub name: Option<String>,
    pub preview: String,
    pub rollout_path: Option<PathBuf>,
    pub compressed: bool,
    pub size: Option<u64>,
    /// The last cumulative usage in the rollout.
    pub tokens: Option<TokenUsage>,
    /// What the state DB says (`threads.tokens_used`).
    pub tokens_used_db: i64,
    pub turns: Option<u64>,
    pub lines: Option<u64>,
}

pub fn stats(home: &HomeRef, t: &ThreadInfo, full: bool) -> Result<Stats> {
    // The file Codex reads: the row's path in either spelling, plain first.
    let path = locate_rollout(&home.path, &t.id, Some(&t.rollout_path));
    let size = path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len());
    let tokens = match &path {
        Some(p) => rollout::last_token_usage(p)?,
        None => None,
    };
    // Turns: from Codex's paginated history when it has them (cheap), else a full read.
    let mut turns = None;
    if let Some(db) = open_history(&home.path, false)? {
        let n: i64 = db
            .conn
            .query_row(
                "SELECT COUNT(*) FROM thread_turns WHERE thread_id = ?1",
                [&t.id],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if n > 0 {
            turns = Some(n as u64);
        }
    }
    let (lines, turns) = match (&path, full) {
        (Some(p), true) => {
            let (l, t) = rollout::count_lines_and_turns(p)?;
            (Some(l), turns.or(Some(t)))
        }
        _ => (None, turns),
    };
    Ok(Stats {
        home: home.name.clone(),
        id: t.id.clone(),
        name: t.name.clone(),
        preview: t.preview.clone(),
        compressed: path
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "zst")),
        rollout_path: path,
        size,
        tokens,
        tokens_used_db: t.tokens_used,
        turns,
        lines,
    })
}
