//! Thread sharing (`session sync-threads`, the manifest's `share_threads`): each thread a
//! home lacks is copied from the home that has it: the rollout into the same relative path
//! (or `sessions/cdxs-sync/<from>/...` when that is taken), a full `threads` row with
//! `rollout_path` rewritten for the target home, and its name. Codex then lists it there and
//! can resume it. Threads trashed in the target are not brought back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{HomeRef, Root, open_state};
use crate::codex::state::{self, Cell};
use crate::codex::{index, rollout, writer_lock};
use crate::error::{Error, OnCodexDb, Result, tick};
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
        let mut stmt = db
            .conn
            .prepare(&format!(
                "SELECT id, rollout_path, {preview}, title FROM threads"
            ))
            .on_db(&db.path)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .on_db(&db.path)?;
        for row in rows {
            let (id, path, preview, title) = row.on_db(&db.path)?;
            out.known.insert(id.clone());
            // Only a regular rollout file of this thread inside the home's session folders
            // (resolved: no `..`, no symlink out) is a copy source; a row may name anything.
            if let Some(real) = root.rollout_of(Path::new(&path), &id) {
                out.present
                    .insert(id, (real, if preview.is_empty() { title } else { preview }));
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

/// Where a copied rollout goes in `to`: the same relative path, else a folder of its own;
/// `None` when neither is a place inside `to` (a symlinked folder on the way). `taken`: the
/// rollout files `to` has (observed: whether a file is there is not read again here).
pub fn target_path(
    from: &HomeRef,
    to: &HomeRef,
    id: &str,
    source: &Path,
    taken: &BTreeSet<PathBuf>,
) -> Option<PathBuf> {
    let name = source.file_name()?;
    let from_root = Root::new(&from.path);
    let to_root = Root::new(&to.path);
    let rel = source
        .strip_prefix(from_root.canonical())
        .or_else(|_| source.strip_prefix(&from.path))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| PathBuf::from(rollout::SESSIONS).join(name));
    if let Some(same) = to_root.rollout_target(&to_root.canonical().join(&rel), id)
        && !taken.contains(&same)
        && !taken.contains(&to.path.join(&rel))
    {
        return Some(same);
    }
    let folder: String = from
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let own = to_root
        .canonical()
        .join(rollout::SESSIONS)
        .join("cdxs-sync")
        .join(folder)
        .join(name);
    to_root.rollout_target(&own, id)
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
                if to_threads.known.contains(id) || planned.contains(id.as_str()) {
                    continue;
                }
                let Some(target) = target_path(from, to, id, source, &to_threads.files) else {
                    continue;
                };
                planned.insert(id);
                copies.push(Copy {
                    id: id.clone(),
                    from: from.name.clone(),
                    to: to.name.clone(),
                    source: source.clone(),
                    target,
                    title: title.clone(),
                });
            }
        }
    }
    copies
}

/// What [`copy`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Copied {
    Done,
    /// The target has the thread already: nothing to do.
    AlreadyThere,
    /// A running Codex has the thread open in one of the homes (its writer lock is held):
    /// it may be appending to the rollout, so it is not copied now.
    Live(String),
}

/// Copy one thread. The target must not have it yet. The source must still be a rollout
/// of that thread inside `from` and the target a place for it inside `to` (the copy may
/// come from a saved plan: both are checked again here), and neither home may have the
/// thread open in a running Codex.
pub fn copy(
    from: &HomeRef,
    to: &HomeRef,
    c: &Copy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Copied> {
    rollout::check_thread_id(&c.id, "the thread copy")?;
    let source = Root::new(&from.path)
        .rollout_of(&c.source, &c.id)
        .ok_or_else(|| {
            Error::user(format!(
                "{} is not a rollout of thread {} inside home `{}`",
                tick(&c.source),
                c.id,
                from.name
            ))
            .with_help("run `cdxs plan` again; cdxs copies only rollout files from inside a home")
        })?;
    let target = Root::new(&to.path)
        .rollout_target(&c.target, &c.id)
        .ok_or_else(|| {
            Error::user(format!(
                "{} is not a place for a rollout inside home `{}`",
                tick(&c.target),
                to.name
            ))
            .with_help("a folder on the way may be a symlink; run `cdxs plan` again")
        })?;
    // Codex's writer locks of the thread in both homes, held for the whole copy: a live
    // source may be appended to while it is read.
    let mut locks = Vec::new();
    for home in [from, to] {
        match writer_lock::try_lock(&home.path, &c.id)? {
            Some(l) => locks.push(l),
            None => {
                return Ok(Copied::Live(format!(
                    "thread {} is open in a running Codex in home `{}` ({})",
                    c.id,
                    home.name,
                    writer_lock::holder(&home.path, &c.id)
                )));
            }
        }
    }
    let src_db = open_state(&from.path, false)?
        .ok_or_else(|| Error::user(format!("home `{}` has no state database", from.name)))?;
    let mut row = src_db
        .thread_row(&c.id)?
        .ok_or_else(|| Error::user(format!("thread {} is gone from home `{}`", c.id, from.name)))?;
    let mut dst_db = open_state(&to.path, true)?.ok_or_else(|| {
        Error::user(format!("home `{}` has no state database yet", to.name))
            .with_help("run Codex there once (it creates its database), then retry")
    })?;
    dst_db.ensure_writable()?;
    if dst_db.has_thread(&c.id)? {
        return Ok(Copied::AlreadyThere);
    }
    if std::fs::symlink_metadata(&target).is_ok() {
        return Err(Error::user(format!("{} exists already", tick(&target)))
            .with_help("run `cdxs plan` again"));
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(dir)), e))?;
    }
    // Copy the bytes through a temp file (the target never exists half-written), with the
    // source's permissions, never wider.
    fsx::copy_atomic(&source, &target)?;
    fsx::fault_point("share.after_file");
    row.set(
        "rollout_path",
        Cell::Text(target.to_string_lossy().into_owned()),
    );
    let archived = super::under(
        &target,
        &Root::new(&to.path).canonical().join(rollout::ARCHIVED),
    );
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
            for r in src_db.select_rows(&l.table, &l.column, &c.id)? {
                linked.push((t.table.clone(), r));
            }
        }
    }
    let inserted = dst_db.write(|tx| {
        state::insert_row(tx, "threads", &row, state::OnConflict::Fail)?;
        for (table, r) in &linked {
            state::insert_row(tx, table, r, state::OnConflict::Ignore)?;
        }
        Ok(())
    });
    if let Err(e) = inserted {
        let _ = std::fs::remove_file(&target);
        return Err(e);
    }
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        index::append(&to.path, &[index::line(&c.id, &name, now)])?;
    }
    drop(locks);
    Ok(Copied::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "0199cccc-0000-7000-8000-000000000001";
    const T2: &str = "0199cccc-0000-7000-8000-000000000002";
    const T3: &str = "0199cccc-0000-7000-8000-000000000003";

    fn rollout(home: &Path, day: &str, id: &str) -> PathBuf {
        home.join(format!(
            "sessions/2026/01/{day}/rollout-2026-01-{day}T00-00-00-{id}.jsonl"
        ))
    }

    #[test]
    fn copies_what_each_home_lacks_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let home = |name: &str| {
            let path = root.join(name);
            std::fs::create_dir_all(&path).unwrap();
            HomeRef {
                name: name.into(),
                path,
            }
        };
        let (ha, hb, hc, hf) = (home("a"), home("b"), home("c"), home("fresh"));
        let mut a = HomeThreads::default();
        a.present
            .insert(T1.into(), (rollout(&ha.path, "01", T1), "one".into()));
        a.known.insert(T1.into());
        a.has_db = true;
        let mut b = HomeThreads::default();
        b.present
            .insert(T2.into(), (rollout(&hb.path, "02", T2), "two".into()));
        b.known.extend([T2.to_string(), T3.to_string()]);
        b.has_db = true;
        let mut c = HomeThreads::default();
        c.present
            .insert(T2.into(), (rollout(&hc.path, "03", T2), "two".into()));
        c.present
            .insert(T3.into(), (rollout(&hc.path, "03", T3), "three".into()));
        c.known.extend([T2.to_string(), T3.to_string()]);
        c.has_db = true;
        let fresh = HomeThreads::default();
        let copies = plan_copies(&[(ha.clone(), a), (hb, b), (hc, c), (hf, fresh)]);
        let got: Vec<(String, String, String)> = copies
            .iter()
            .map(|c| (c.id.clone(), c.from.clone(), c.to.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (T2.into(), "b".into(), "a".into()),
                (T3.into(), "c".into(), "a".into()),
                (T1.into(), "a".into(), "b".into()),
                (T1.into(), "a".into(), "c".into()),
            ],
            "b knows t3 (trashed or missing rollout): never copied back; a home where Codex never ran takes no copies"
        );
        assert_eq!(copies[0].target, rollout(&ha.path, "02", T2));
    }

    #[test]
    fn a_symlinked_folder_in_the_target_home_is_no_place_for_a_copy() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let from = HomeRef {
            name: "a".into(),
            path: root.join("a"),
        };
        let to = HomeRef {
            name: "b".into(),
            path: root.join("b"),
        };
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::fs::create_dir_all(to.path.join("sessions/2026/01")).unwrap();
        crate::platform::fs::symlink(
            &root.join("elsewhere"),
            &to.path.join("sessions/2026/01/01"),
        )
        .unwrap();
        crate::platform::fs::symlink(&root.join("elsewhere"), &to.path.join("sessions/cdxs-sync"))
            .unwrap();
        let none = BTreeSet::new();
        let source = rollout(&from.path, "01", T1);
        assert_eq!(target_path(&from, &to, T1, &source, &none), None);
        std::fs::remove_file(to.path.join("sessions/cdxs-sync")).unwrap();
        let own = to
            .path
            .join("sessions/cdxs-sync/a")
            .join(source.file_name().unwrap());
        assert_eq!(
            target_path(&from, &to, T1, &source, &none),
            Some(own.clone())
        );
        // A path the target already has (an orphan rollout, say) is never overwritten.
        let source = rollout(&from.path, "02", T1);
        let same = to.path.join(source.strip_prefix(&from.path).unwrap());
        assert_eq!(
            target_path(&from, &to, T1, &source, &none),
            Some(same.clone())
        );
        let own = to
            .path
            .join("sessions/cdxs-sync/a")
            .join(source.file_name().unwrap());
        assert_eq!(
            target_path(&from, &to, T1, &source, &[same].into()),
            Some(own)
        );
    }
}
