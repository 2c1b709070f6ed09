//! Thread sharing (`session sync-threads`, the manifest's `share_threads`): each thread a
//! home lacks is copied from the home that has it: the rollout into the same relative path
//! (or `sessions/cdxs-sync/<from>/...` when that is taken), a full `threads` row with
//! `rollout_path` rewritten for the target home, and its name. Codex then lists it there and
//! can resume it. Threads trashed in the target are not brought back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{HomeRef, open_state};
use crate::codex::state::{self, Cell};
use crate::codex::{index, rollout};
use crate::error::{Error, Result, tick};
use crate::fsx;

/// One planned copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    pub id: String,
    pub from: String,
    pub to: String,
    pub source: PathBuf,
    pub target: PathBuf,
    pub title: String,
}

/// What a home has, for planning copies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HomeThreads {
    /// id -> (rollout path, title) of threads whose rollout exists in this home.
    pub present: std::collections::BTreeMap<String, (PathBuf, String)>,
    /// Every id with a row (even when its rollout is missing) or in the trash.
    pub known: BTreeSet<String>,
    /// Codex made its state database here (a home without one cannot take copies yet).
    pub has_db: bool,
    /// Every rollout file in the home (a copy never lands on one).
    pub files: BTreeSet<PathBuf>,
}

pub fn home_threads(home: &HomeRef) -> Result<HomeThreads> {
    let mut out = HomeThreads::default();
    let root = super::Root::new(&home.path);
    if let Some(db) = open_state(&home.path, false)? {
        out.has_db = true;
        let cols = db.columns("threads")?;
        let preview = if cols.iter().any(|c| c == "preview") {
            "preview"
        } else {
            "title"
        };
        let mut stmt = db.conn.prepare(&format!(
            "SELECT id, rollout_path, {preview}, title FROM threads"
        ))?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in rows {
            let (id, path, preview, title) = row?;
            let path = PathBuf::from(path);
            out.known.insert(id.clone());
            if root.contains(&path) && path.exists() {
                out.present
                    .insert(id, (path, if preview.is_empty() { title } else { preview }));
            }
        }
    }
    for (_, m) in super::trash::entries(home)? {
        out.known.insert(m.id);
    }
    out.files = rollout::list(&home.path)
        .into_iter()
        .map(|f| f.path)
        .collect();
    Ok(out)
}

/// Where a copied rollout goes in `to`: the same relative path, else a folder of its own.
/// `taken`: the rollout files `to` has (observed; planning reads no disk).
pub fn target_path(
    from: &HomeRef,
    to: &HomeRef,
    source: &Path,
    taken: &BTreeSet<PathBuf>,
) -> PathBuf {
    let rel = source
        .strip_prefix(&from.path)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| {
            PathBuf::from(rollout::SESSIONS).join(source.file_name().unwrap_or_default())
        });
    let same = to.path.join(&rel);
    if !taken.contains(&same) {
        return same;
    }
    to.path
        .join(rollout::SESSIONS)
        .join("cdxs-sync")
        .join(&from.name)
        .join(source.file_name().unwrap_or_default())
}

/// Copies that make every home in `homes` have every thread one of them has.
pub fn plan_copies(homes: &[(HomeRef, HomeThreads)]) -> Vec<Copy> {
    let mut copies = Vec::new();
    for (to, to_threads) in homes.iter().filter(|(_, t)| t.has_db) {
        let mut planned: BTreeSet<&str> = BTreeSet::new();
        for (from, from_threads) in homes {
            if from.path == to.path {
                continue;
            }
            for (id, (source, title)) in &from_threads.present {
                if to_threads.known.contains(id) || !planned.insert(id) {
                    continue;
                }
                copies.push(Copy {
                    id: id.clone(),
                    from: from.name.clone(),
                    to: to.name.clone(),
                    source: source.clone(),
                    target: target_path(from, to, source, &to_threads.files),
                    title: title.clone(),
                });
            }
        }
    }
    copies
}

/// Copy one thread. The target must not have it yet.
pub fn copy(
    from: &HomeRef,
    to: &HomeRef,
    c: &Copy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let src_db = open_state(&from.path, false)?
        .ok_or_else(|| Error::user(format!("home `{}` has no state database", from.name)))?;
    let mut row = state::thread_row(&src_db.conn, &c.id)?
        .ok_or_else(|| Error::user(format!("thread {} is gone from home `{}`", c.id, from.name)))?;
    let mut dst_db = open_state(&to.path, true)?.ok_or_else(|| {
        Error::user(format!("home `{}` has no state database yet", to.name))
            .with_help("run Codex there once (it creates its database), then retry")
    })?;
    dst_db.ensure_writable()?;
    if state::has_thread(&dst_db.conn, &c.id)? {
        return Ok(()); // already there: nothing to do
    }
    if c.target.exists() {
        return Err(Error::user(format!("{} exists already", tick(&c.target)))
            .with_help("run `cdxs plan` again"));
    }
    if let Some(dir) = c.target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(dir)), e))?;
    }
    // Copy the bytes through a temp file: the target never exists half-written.
    let bytes = std::fs::read(&c.source)
        .map_err(|e| Error::io(format!("cannot read {}", tick(&c.source)), e))?;
    fsx::write_atomic(&c.target, &bytes, 0o644)?;
    fsx::fault_point("share.after_file");
    row.set(
        "rollout_path",
        Cell::Text(c.target.to_string_lossy().into_owned()),
    );
    let archived = c.target.starts_with(to.path.join(rollout::ARCHIVED));
    row.set("archived", Cell::Int(archived as i64));
    // Per-home organisation does not travel.
    for col in [
        "thread_section_id",
        "section_position",
        "section_entered_at_ms",
        "project_id",
    ] {
        if row.get(col).is_some() {
            row.set(col, Cell::Null);
        }
    }
    let name = row.text("name").map(str::to_string);
    // Rows that belong to the thread travel with it (dynamic tools, attachments, Codex
    // 0.171's `session_model_ids`), into the tables the target's schema has; spawn edges
    // relate two threads and stay behind.
    let mut linked = Vec::new();
    let target_links = dst_db.links()?;
    for l in src_db.links()?.into_iter().filter(|l| l.owned()) {
        if let Some(t) = target_links
            .iter()
            .find(|t| t.table == l.table && t.column == l.column)
        {
            for r in state::select_rows(&src_db.conn, &l.table, &l.column, &c.id)? {
                linked.push((t.table.clone(), r));
            }
        }
    }
    let inserted = dst_db.write(|tx| {
        state::insert_row(tx, "threads", &row, false)?;
        for (table, r) in &linked {
            state::insert_row(tx, table, r, true)?;
        }
        Ok(())
    });
    if let Err(e) = inserted {
        let _ = std::fs::remove_file(&c.target);
        return Err(e);
    }
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        index::append(&to.path, &[index::line(&c.id, &name, now)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home(name: &str) -> HomeRef {
        HomeRef {
            name: name.into(),
            path: PathBuf::from(format!("/h/{name}")),
        }
    }

    #[test]
    fn copies_what_each_home_lacks_once() {
        let mut a = HomeThreads::default();
        a.present.insert(
            "t1".into(),
            (
                PathBuf::from("/h/a/sessions/2026/01/01/r-t1.jsonl"),
                "one".into(),
            ),
        );
        a.known.insert("t1".into());
        a.has_db = true;
        let mut b = HomeThreads::default();
        b.present.insert(
            "t2".into(),
            (
                PathBuf::from("/h/b/sessions/2026/01/02/r-t2.jsonl"),
                "two".into(),
            ),
        );
        b.known.extend(["t2".to_string(), "t3".to_string()]);
        b.has_db = true;
        let mut c = HomeThreads::default();
        c.present.insert(
            "t2".into(),
            (PathBuf::from("/h/c/sessions/x/r-t2.jsonl"), "two".into()),
        );
        c.present.insert(
            "t3".into(),
            (PathBuf::from("/h/c/sessions/x/r-t3.jsonl"), "three".into()),
        );
        c.known.extend(["t2".to_string(), "t3".to_string()]);
        c.has_db = true;
        let fresh = HomeThreads::default();
        let copies = plan_copies(&[
            (home("a"), a),
            (home("b"), b),
            (home("c"), c),
            (home("fresh"), fresh),
        ]);
        let got: Vec<(String, String, String)> = copies
            .iter()
            .map(|c| (c.id.clone(), c.from.clone(), c.to.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("t2".into(), "b".into(), "a".into()),
                ("t3".into(), "c".into(), "a".into()),
                ("t1".into(), "a".into(), "b".into()),
                ("t1".into(), "a".into(), "c".into()),
            ],
            "b knows t3 (trashed or missing rollout): never copied back; a home where Codex never ran takes no copies"
        );
        assert_eq!(
            copies[0].target,
            PathBuf::from("/h/a/sessions/2026/01/02/r-t2.jsonl")
        );
        // A path the target already has (an orphan rollout, say) is never overwritten.
        let taken: BTreeSet<PathBuf> =
            [PathBuf::from("/h/a/sessions/2026/01/02/r-t2.jsonl")].into();
        assert_eq!(
            target_path(
                &home("b"),
                &home("a"),
                Path::new("/h/b/sessions/2026/01/02/r-t2.jsonl"),
                &taken
            ),
            PathBuf::from("/h/a/sessions/cdxs-sync/b/r-t2.jsonl")
        );
    }
}
