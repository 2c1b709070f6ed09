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
    /// The home's folder, resolved (observed, so planning reads nothing).
    #[serde(default)]
    pub canonical: PathBuf,
    /// Its session folders and whether each is a real folder (`Root::session_dirs`).
    #[serde(default)]
    pub dirs: std::collections::BTreeMap<PathBuf, bool>,
}

pub fn home_threads(home: &HomeRef) -> Result<HomeThreads> {
    let mut out = HomeThreads::default();
    let root = super::Root::new(&home.path);
    out.canonical = root.canonical().to_path_buf();
    out.dirs = root.session_dirs();
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
            // The file is the one Codex reads: the row's path in either spelling, plain first
            // (a row names `x.jsonl` after Codex compressed it into `x.jsonl.zst`).
            // A rollout name on a hard link to a credential file is never a source.
            if let Some(real) = rollout::existing(Path::new(&path))
                .and_then(|p| root.rollout_of(&p, &id))
                .filter(|p| !crate::codex::credential_files::is_credential_file(&home.path, p))
            {
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
/// `None` when neither is a place inside `to` (a symlinked folder on the way). Judged on
/// what was observed of both homes: nothing is read here (the planner calls it).
pub fn target_path(
    from: (&HomeRef, &HomeThreads),
    to: (&HomeRef, &HomeThreads),
    id: &str,
    source: &Path,
) -> Option<PathBuf> {
    let ((from, from_seen), (to, to_seen)) = (from, to);
    let taken = &to_seen.files;
    let name = source.file_name()?;
    let from_root = Root::observed(&from.path, &from_seen.canonical);
    let to_root = Root::observed(&to.path, &to_seen.canonical);
    let place = |p: &Path| to_root.rollout_target_in(p, id, &to_seen.dirs);
    let rel = source
        .strip_prefix(from_root.canonical())
        .or_else(|_| source.strip_prefix(&from.path))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| PathBuf::from(rollout::SESSIONS).join(name));
    // A rollout is taken in either spelling: `x.jsonl` and `x.jsonl.zst` are one for Codex.
    let free = |p: &Path| !taken.contains(p) && !taken.contains(&rollout::twin(p));
    if let Some(same) = place(&to_root.canonical().join(&rel))
        && free(&same)
        && free(&to.path.join(&rel))
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
    place(&own)
}

/// Copies that make every home in `homes` have every thread one of them has.
pub fn plan_copies(homes: &[(HomeRef, HomeThreads)]) -> Vec<Copy> {
    plan_copies_between(homes, &|_, _| true)
}

/// Copies from a home to another where `may(from, to)` allows it (`--from`/`--to`): each
/// target gets every thread the allowed sources have and it lacks.
pub fn plan_copies_between(
    homes: &[(HomeRef, HomeThreads)],
    may: &dyn Fn(&HomeRef, &HomeRef) -> bool,
) -> Vec<Copy> {
    let mut copies = Vec::new();
    for (to, to_threads) in homes.iter().filter(|(_, t)| t.has_db) {
        let mut planned: BTreeSet<&str> = BTreeSet::new();
        for (from, from_threads) in homes {
            if from.path == to.path || !may(from, to) {
                continue;
            }
            for (id, (source, title)) in &from_threads.present {
                if to_threads.known.contains(id) || planned.contains(id.as_str()) {
                    continue;
                }
                let Some(target) = target_path((from, from_threads), (to, to_threads), id, source)
                else {
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

/// The copies from `sources` into `targets` (read from their files now), and every home
/// they touch.
pub fn copies_between(
    sources: &[HomeRef],
    targets: &[HomeRef],
) -> Result<(Vec<HomeRef>, Vec<Copy>)> {
    let mut homes: Vec<HomeRef> = Vec::new();
    for h in sources.iter().chain(targets) {
        if !homes.iter().any(|k| k.path == h.path) {
            homes.push(h.clone());
        }
    }
    let mut known = Vec::new();
    for h in &homes {
        known.push((h.clone(), home_threads(h)?));
    }
    let is = |list: &[HomeRef], h: &HomeRef| list.iter().any(|k| k.path == h.path);
    let copies = plan_copies_between(&known, &|from, to| is(sources, from) && is(targets, to));
    Ok((homes, copies))
}

/// The homes to share threads between and the copies to make (`session sync-threads`):
/// see [`crate::manifest::select::thread_sharing`]; `None` when nothing said which homes.
/// Fewer than two homes is an error.
pub fn plan_sharing(
    m: Option<&crate::manifest::Manifest>,
    sel: &crate::manifest::select::Selection,
    [from, to]: [&[String]; 2],
    default_path: &Path,
) -> Result<Option<(Vec<HomeRef>, Vec<Copy>)>> {
    let Some((sources, targets)) =
        crate::manifest::select::thread_sharing(m, sel, from, to, default_path)?
    else {
        return Ok(None);
    };
    let (homes, copies) = copies_between(&sources, &targets)?;
    if homes.len() < 2 {
        return Err(Error::user("sharing threads needs two homes or more")
            .with_help("name two homes or more to share threads between"));
    }
    Ok(Some((homes, copies)))
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
    let (source, target) = checked_places(from, to, c)?;
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
    make_room(&target)?;
    // Copy the bytes through a temp file (the target never exists half-written), with the
    // source's permissions, never wider.
    fsx::copy_atomic(&source, &target)?;
    fsx::fault_point("share.after_file");
    fit_row(&mut row, &target, to);
    let name = row.text("name").map(str::to_string);
    let linked = linked_rows(&src_db, &dst_db, &c.id)?;
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

/// The rollout to copy (still one of the thread, inside `from`, not a credential) and the
/// place for it inside `to`, checked again now: the copy may come from a saved plan.
fn checked_places(from: &HomeRef, to: &HomeRef, c: &Copy) -> Result<(PathBuf, PathBuf)> {
    rollout::check_thread_id(&c.id, "the thread copy")?;
    // The spelling Codex reads now (its worker may have compressed the file since the plan);
    // the copy keeps it.
    let spelled = rollout::existing(&c.source).unwrap_or_else(|| c.source.clone());
    let wanted = if rollout::is_compressed(&spelled) == rollout::is_compressed(&c.target) {
        c.target.clone()
    } else {
        rollout::twin(&c.target)
    };
    let source = Root::new(&from.path)
        .rollout_of(&spelled, &c.id)
        .ok_or_else(|| {
            Error::user(format!(
                "{} is not a rollout of thread {} inside home `{}`",
                tick(&c.source),
                c.id,
                from.name
            ))
            .with_help("run `cdxs plan` again; cdxs copies only rollout files from inside a home")
        })?;
    // A rollout name on a hard link to a credential file (`gateway_oauth.json`, `secrets/`,
    // `auth.json`) is that file: credentials never travel between homes.
    if crate::codex::credential_files::is_credential_file(&from.path, &source) {
        return Err(Error::user(format!(
            "{} is a hard link to a credential file of home `{}`; cdxs never copies credentials between homes",
            tick(&source),
            from.name
        ))
        .with_help("remove that link from the session folder; it is not a rollout Codex wrote"));
    }
    let target = Root::new(&to.path)
        .rollout_target(&wanted, &c.id)
        .ok_or_else(|| {
            Error::user(format!(
                "{} is not a place for a rollout inside home `{}`",
                tick(&wanted),
                to.name
            ))
            .with_help("a folder on the way may be a symlink; run `cdxs plan` again")
        })?;
    Ok((source, target))
}

/// Nothing is at `target` (in either spelling), and its folder exists.
fn make_room(target: &Path) -> Result<()> {
    for clash in [target.to_path_buf(), rollout::twin(target)] {
        if std::fs::symlink_metadata(&clash).is_ok() {
            return Err(Error::user(format!("{} exists already", tick(&clash)))
                .with_help("run `cdxs plan` again"));
        }
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(dir)), e))?;
    }
    Ok(())
}

/// The source's `threads` row as the target home's: its rollout path there, archived when
/// it landed in the archive, without the source's own organisation.
fn fit_row(row: &mut state::Row, target: &Path, to: &HomeRef) {
    row.set(
        "rollout_path",
        Cell::Text(target.to_string_lossy().into_owned()),
    );
    let archived = super::under(
        target,
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
}

/// Rows that belong to the thread travel with it (dynamic tools, attachments, Codex
/// 0.171's `session_model_ids`), into the tables the target's schema has; spawn edges
/// relate two threads and stay behind.
fn linked_rows(
    src_db: &state::CodexDb,
    dst_db: &state::CodexDb,
    id: &str,
) -> Result<Vec<(String, state::Row)>> {
    let mut linked = Vec::new();
    let target_links = dst_db.links()?;
    for l in src_db.links()?.into_iter().filter(|l| l.owned()) {
        if let Some(t) = target_links
            .iter()
            .find(|t| t.table == l.table && t.column == l.column)
        {
            for r in src_db.select_rows(&l.table, &l.column, id)? {
                linked.push((t.table.clone(), r));
            }
        }
    }
    Ok(linked)
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
    fn a_rollout_hard_linked_to_a_credential_file_is_refused_even_from_a_saved_plan() {
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
        let source = rollout(&from.path, "01", T1);
        std::fs::create_dir_all(source.parent().unwrap()).unwrap();
        std::fs::create_dir_all(&to.path).unwrap();
        std::fs::write(from.path.join("gateway_oauth.json"), "{\"gateway\":1}").unwrap();
        std::fs::hard_link(from.path.join("gateway_oauth.json"), &source).unwrap();
        let c = Copy {
            id: T1.into(),
            from: "a".into(),
            to: "b".into(),
            source: source.clone(),
            target: rollout(&to.path, "01", T1),
            title: "t".into(),
        };
        let err = copy(&from, &to, &c, chrono::Utc::now()).unwrap_err();
        assert!(err.to_string().contains("hard link"), "{err}");
        assert!(!c.target.exists());
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
    )]
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
        // What observing the two homes records (the planner reads nothing itself).
        let seen = |h: &HomeRef, files: BTreeSet<PathBuf>| {
            let root = Root::new(&h.path);
            HomeThreads {
                canonical: root.canonical().to_path_buf(),
                dirs: root.session_dirs(),
                files,
                ..HomeThreads::default()
            }
        };
        let none = BTreeSet::new();
        let source = rollout(&from.path, "01", T1);
        let target_path = |taken: &BTreeSet<PathBuf>, source: &Path| {
            target_path(
                (&from, &seen(&from, BTreeSet::new())),
                (&to, &seen(&to, taken.clone())),
                T1,
                source,
            )
        };
        assert_eq!(target_path(&none, &source), None);
        std::fs::remove_file(to.path.join("sessions/cdxs-sync")).unwrap();
        let own = to
            .path
            .join("sessions/cdxs-sync/a")
            .join(source.file_name().unwrap());
        assert_eq!(target_path(&none, &source), Some(own.clone()));
        // A path the target already has (an orphan rollout, say) is never overwritten.
        let source = rollout(&from.path, "02", T1);
        let same = to.path.join(source.strip_prefix(&from.path).unwrap());
        assert_eq!(target_path(&none, &source), Some(same.clone()));
        let own = to
            .path
            .join("sessions/cdxs-sync/a")
            .join(source.file_name().unwrap());
        assert_eq!(
            target_path(&[same.clone()].into(), &source),
            Some(own.clone())
        );
        // The other spelling of that path is taken as well: `x.jsonl` next to `x.jsonl.zst`
        // would shadow it (Codex reads the plain one).
        let zst = PathBuf::from(format!("{}.zst", same.display()));
        assert_eq!(target_path(&[zst].into(), &source), Some(own));
    }
}
