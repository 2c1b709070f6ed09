//! `session list`: every thread of every provider and source, from the state DB (never the
//! whole rollouts), with why the default Codex picker (`codex resume`) would hide it.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{HomeRef, home_provider, inside, open_state};
use crate::error::{OnCodexDb, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ThreadInfo {
    pub home: String,
    pub id: String,
    pub name: Option<String>,
    pub preview: String,
    pub source: String,
    pub model_provider: String,
    pub cwd: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub tokens_used: i64,
    pub archived: bool,
    pub rollout_path: PathBuf,
    /// Bytes of the rollout, `None` when the file is missing.
    pub size: Option<u64>,
    pub history_mode: String,
    /// Why `codex resume` (the TUI picker, default filters) would not show it.
    pub hidden: Vec<String>,
}

impl ThreadInfo {
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.preview)
    }
}

/// The reasons, given the row and whether its rollout exists where it says.
pub fn hidden_reasons(
    source: &str,
    provider: &str,
    home_provider: &str,
    archived: bool,
    preview_empty: bool,
    rollout_missing: bool,
    rollout_elsewhere: bool,
) -> Vec<String> {
    let mut r = Vec::new();
    if archived {
        r.push("archived".to_string());
    }
    if rollout_missing {
        r.push("missing rollout".to_string());
    } else if rollout_elsewhere {
        r.push("rollout in another home".to_string());
    }
    if preview_empty {
        r.push("empty preview".to_string());
    }
    if !matches!(source, "cli" | "vscode") {
        r.push(format!("non-interactive source ({source})"));
    }
    if provider != home_provider {
        r.push(format!("other provider ({provider})"));
    }
    r
}

/// Threads of one home, newest first.
pub fn threads(home: &HomeRef) -> Result<Vec<ThreadInfo>> {
    threads_where(home, None)
}

/// Threads whose id is `prefix` or starts with it (an indexed lookup, not a full read).
pub fn threads_matching(home: &HomeRef, prefix: &str) -> Result<Vec<ThreadInfo>> {
    threads_where(home, Some(prefix))
}

fn threads_where(home: &HomeRef, prefix: Option<&str>) -> Result<Vec<ThreadInfo>> {
    let Some(db) = open_state(&home.path, false)? else {
        return Ok(Vec::new());
    };
    let cols = db.columns("threads")?;
    let col = |c: &str, fallback: &str| {
        if cols.iter().any(|x| x == c) {
            format!("\"{c}\"")
        } else {
            fallback.to_string()
        }
    };
    let sql = format!(
        "SELECT id, rollout_path, created_at, updated_at, source, model_provider, cwd, title, \
         {preview}, {name}, archived, tokens_used, {history}, {parent}, {updated_ms} FROM threads{filter}",
        preview = col("preview", "''"),
        name = col("name", "NULL"),
        history = col("history_mode", "'legacy'"),
        parent = col("attached_thread_parent_id", "NULL"),
        updated_ms = col("updated_at_ms", "NULL"),
        filter = if prefix.is_some() {
            " WHERE id >= ?1 AND id < ?2"
        } else {
            ""
        },
    );
    let provider = home_provider(&home.path);
    let root = super::Root::new(&home.path);
    let mut stmt = db.conn.prepare(&sql).on_db(&db.path)?;
    // A prefix as a range on the primary key: `id >= p AND id < p + '\u{10FFFF}'`.
    let bounds: Vec<String> = prefix
        .map(|p| vec![p.to_string(), format!("{p}\u{10FFFF}")])
        .unwrap_or_default();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(bounds.iter()), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, i64>(11)?,
                r.get::<_, String>(12)?,
                r.get::<_, Option<String>>(13)?,
                r.get::<_, Option<i64>>(14)?,
            ))
        })
        .on_db(&db.path)?;
    let mut out = Vec::new();
    for row in rows {
        let (
            id,
            path,
            created,
            updated,
            source,
            model_provider,
            cwd,
            title,
            preview,
            name,
            archived,
            tokens,
            history,
            parent,
            updated_ms,
        ) = row.on_db(&db.path)?;
        let rollout = PathBuf::from(&path);
        let size = std::fs::metadata(&rollout).ok().map(|m| m.len());
        let hidden = hidden_reasons(
            &source,
            &model_provider,
            &provider,
            archived != 0,
            preview.is_empty() && parent.is_none(),
            size.is_none(),
            !root.contains(&rollout),
        );
        out.push(ThreadInfo {
            home: home.name.clone(),
            id,
            name: name.filter(|n| !n.is_empty()),
            preview: if preview.is_empty() { title } else { preview },
            source,
            model_provider,
            cwd,
            created_at: created,
            updated_at: updated_ms.map(|ms| ms / 1000).unwrap_or(updated),
            tokens_used: tokens,
            archived: archived != 0,
            rollout_path: rollout,
            size,
            history_mode: history,
            hidden,
        });
    }
    out.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    Ok(out)
}

/// Find a thread by id or unique id prefix across homes: (home, thread).
pub fn find(homes: &[HomeRef], query: &str) -> Result<(HomeRef, ThreadInfo)> {
    use crate::error::Error;
    let q = query.trim().to_ascii_lowercase();
    let mut found = Vec::new();
    for h in homes {
        if q.len() < 4 {
            break;
        }
        for t in threads_matching(h, &q)? {
            if t.id == q || t.id.starts_with(&q) {
                found.push((h.clone(), t));
            }
        }
    }
    let exact: Vec<_> = found.iter().filter(|(_, t)| t.id == q).cloned().collect();
    let found = if exact.is_empty() { found } else { exact };
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => Err(
            Error::user(format!("no thread `{query}` in {}", describe(homes)))
                .with_help("see `cdxs session list --all-homes`"),
        ),
        _ => Err(Error::user(format!(
            "`{query}` matches {} threads: {}",
            found.len(),
            found
                .iter()
                .map(|(h, t)| format!("{} in {}", t.id, h.name))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_help("give the full id, or pick the home with `--home NAME`")),
    }
}

fn describe(homes: &[HomeRef]) -> String {
    match homes {
        [one] => format!("home `{}`", one.name),
        _ => format!("{} homes", homes.len()),
    }
}

/// The rollout of `id` in `home`: the row's path when it is there, else a file found by name.
pub fn locate_rollout(home: &Path, id: &str, row_path: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = row_path
        && p.exists()
        && inside(p, home)
    {
        return Some(p.to_path_buf());
    }
    crate::codex::rollout::list(home)
        .into_iter()
        .find(|f| f.thread_id == id)
        .map(|f| f.path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_match_the_default_picker() {
        assert!(hidden_reasons("cli", "openai", "openai", false, false, false, false).is_empty());
        assert!(
            hidden_reasons("vscode", "openai", "openai", false, false, false, false).is_empty()
        );
        let r = hidden_reasons("exec", "mock", "openai", true, true, true, false);
        assert_eq!(
            r,
            vec![
                "archived",
                "missing rollout",
                "empty preview",
                "non-interactive source (exec)",
                "other provider (mock)"
            ]
        );
        assert_eq!(
            hidden_reasons("cli", "openai", "openai", false, false, false, true),
            vec!["rollout in another home"]
        );
    }
}
