//! `session trash|restore|purge|trash-list`. Trashing moves a thread's rollout file(s) into
//! `<home>/cdxs-trash/<id>/` (rename, same filesystem) and saves its `threads` row, the rows
//! that hang off it, its `thread_history_1` rows and its `session_index.jsonl` lines in a
//! manifest there, then removes them from Codex's files, under Codex's locks. Codex's own
//! listing then cannot show it or bring it back (no rollout left to scan). Restore is the
//! exact reverse, name included.
//!
//! Crash safety: the manifest is written first and records how far the operation got, so an
//! interrupted trash is finished by running it again, and restore works from any stage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{HomeRef, Root, open_history, open_state};
use crate::backup::Backups;
use crate::codex::rollout;
use crate::codex::schema;
use crate::codex::state::{self, CodexDb, Row};
use crate::codex::{index, writer_lock};
use crate::error::{Error, Result, tick};
use crate::fsx;

pub const TRASH_DIR: &str = "cdxs-trash";
const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Everything to restore is saved; nothing moved yet.
    Saved,
    /// The rollout files are in the trash.
    FilesMoved,
    /// Rows and index lines are gone from Codex's files.
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovedFile {
    pub original: PathBuf,
    /// File name inside the trash folder.
    pub stored: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRows {
    pub table: String,
    pub rows: Vec<Row>,
}

/// `<home>/cdxs-trash/<id>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub id: String,
    pub home: PathBuf,
    pub trashed_at: i64,
    pub name: Option<String>,
    pub preview: Option<String>,
    pub files: Vec<MovedFile>,
    pub thread: Option<Row>,
    pub state_rows: Vec<TableRows>,
    pub history_rows: Vec<TableRows>,
    pub index_lines: Vec<String>,
    pub stage: Stage,
}

impl Manifest {
    pub fn size(&self, dir: &Path) -> u64 {
        self.files
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(&f.stored)).ok())
            .map(|m| m.len())
            .sum()
    }
}

pub fn trash_dir(home: &Path) -> PathBuf {
    home.join(TRASH_DIR)
}

/// `<home>/cdxs-trash/<id>`, for a valid thread id only, and only when neither the trash
/// folder nor the entry is a symlink (both are data in a folder other programs write).
fn entry_dir(home: &Path, id: &str) -> Result<PathBuf> {
    rollout::check_thread_id(id, "the trash entry")?;
    let trash = trash_dir(home);
    let dir = trash.join(id);
    for p in [&trash, &dir] {
        fsx::refuse_non_dir(p, "move it away; trash entries are plain folders cdxs made")?;
    }
    Ok(dir)
}

fn save_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    fsx::ensure_private_dir(dir)?;
    let text = serde_json::to_vec_pretty(m)
        .map_err(|e| Error::user(format!("cannot encode the trash manifest: {e}")))?;
    fsx::write_atomic(&dir.join(MANIFEST), &text, fsx::SECRET_FILE_MODE)
}

/// The most a trash manifest may weigh (rows of one thread, saved as JSON).
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// Read an entry's manifest (the folder must already be checked by [`entry_dir`]).
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let bytes = fsx::read_bounded(&path, MAX_MANIFEST_BYTES)?;
    decode(&path, &bytes)
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::user(format!("{} is damaged: {e}", tick(path)))
            .with_help("the trashed files are still in that folder; move them back by hand")
    })
}

/// Read and check the entry of `id` in `home`: everything in its manifest is data from a
/// file, so it must describe only that thread and only files inside the home.
pub fn load_entry(home: &Path, id: &str) -> Result<(PathBuf, Manifest)> {
    let dir = entry_dir(home, id)?;
    let m = read_manifest(&dir)?;
    checked(home, id, m, &dir.join(MANIFEST))
}

/// Parse and check a trash manifest's bytes as the entry `id` of `home` (what
/// [`load_entry`] does once it has read the file; also the fuzz target's entry point).
pub fn parse_manifest(home: &Path, id: &str, bytes: &[u8]) -> Result<Manifest> {
    rollout::check_thread_id(id, "the trash entry")?;
    let path = entry_dir(home, id)?.join(MANIFEST);
    let m = decode(&path, bytes)?;
    checked(home, id, m, &path).map(|(_, m)| m)
}

fn checked(home: &Path, id: &str, m: Manifest, path: &Path) -> Result<(PathBuf, Manifest)> {
    check_manifest(home, id, &m).map_err(|why| {
        Error::user(format!(
            "the trash manifest {} does not describe thread {id} of this home: {why}",
            tick(path)
        ))
        .with_help("cdxs leaves that entry alone; look at it, and move its files back by hand if they are yours")
    })?;
    Ok((crate::fsx::parent_of(path), m))
}

/// What makes a manifest one cdxs may act on: its id is the folder's; every file it moved
/// was a rollout of that thread under the home's session folders, and is stored under a
/// plain name in the entry; its rows and index lines belong to that thread.
fn check_manifest(home: &Path, id: &str, m: &Manifest) -> std::result::Result<(), String> {
    if m.id != id {
        return Err(format!(
            "it names thread `{}`",
            crate::text::sanitize(&m.id.chars().take(80).collect::<String>())
        ));
    }
    let root = Root::new(home);
    for f in &m.files {
        if !plain_name(&f.stored) {
            return Err(format!(
                "it stores a file as `{}`",
                crate::text::sanitize(&f.stored)
            ));
        }
        if root.rollout_target(&f.original, id).is_none() {
            return Err(format!(
                "{} is not a rollout of this thread inside the home",
                tick(&f.original)
            ));
        }
    }
    if let Some(row) = &m.thread
        && row.text("id") != Some(id)
    {
        return Err("its `threads` row belongs to another thread".into());
    }
    if m.index_lines
        .iter()
        .any(|l| index::id_of(l).as_deref() != Some(id))
    {
        return Err("its `session_index.jsonl` lines name another thread".into());
    }
    Ok(())
}

/// A single normal path component: no separator, not `.` or `..`, not empty.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// Trash entries of a home: the ones whose manifest checks out. Folders that are not
/// thread ids, symlinks, damaged or crafted manifests are skipped (see [`problems`]).
pub fn entries(home: &HomeRef) -> Result<Vec<(PathBuf, Manifest)>> {
    Ok(scan(home).0)
}

/// What is wrong with the trash entries [`entries`] skips, one line each.
pub fn problems(home: &HomeRef) -> Vec<String> {
    scan(home).1
}

fn scan(home: &HomeRef) -> (Vec<(PathBuf, Manifest)>, Vec<String>) {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let trash = trash_dir(&home.path);
    if std::fs::symlink_metadata(&trash).is_ok_and(|m| !m.is_dir()) {
        skipped.push(format!(
            "{} is not a folder; its trash is ignored",
            tick(&trash)
        ));
        return (out, skipped);
    }
    let Ok(dirs) = std::fs::read_dir(&trash) else {
        return (out, skipped);
    };
    for d in dirs.flatten() {
        if !d.path().join(MANIFEST).exists() {
            continue;
        }
        let name = d.file_name().to_string_lossy().into_owned();
        match load_entry(&home.path, &name) {
            Ok(entry) => out.push(entry),
            Err(e) => skipped.push(format!(
                "skipped trash entry `{}`: {e}",
                crate::text::sanitize(&name)
            )),
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.1.trashed_at));
    (out, skipped)
}

/// Back up Codex's databases (SQLite online backup) once per operation.
pub fn backup_dbs(home: &Path, backups: &mut Backups) -> Result<()> {
    for db in [open_state(home, false)?, open_history(home, false)?]
        .into_iter()
        .flatten()
    {
        let dest = backups.path_for(&db.path)?;
        db.backup_to(&dest)?;
    }
    Ok(())
}

/// Refuse before anything moves when a database of the home is one cdxs only reads.
fn ensure_writable(home: &Path) -> Result<()> {
    for db in [open_state(home, true)?, open_history(home, true)?]
        .into_iter()
        .flatten()
    {
        db.ensure_writable()?;
    }
    Ok(())
}

/// The rows of `id` in every table of `db` that hangs off a thread (from the live schema:
/// `thread_id`, `session_id` in Codex 0.171's `session_model_ids`, spawn edges, foreign
/// keys to `threads`), grouped by table.
fn linked_rows(db: &CodexDb, id: &str) -> Result<Vec<TableRows>> {
    let mut out: Vec<TableRows> = Vec::new();
    for link in db.links()? {
        let rows = db.select_rows(&link.table, &link.column, id)?;
        if rows.is_empty() {
            continue;
        }
        match out.iter_mut().find(|t| t.table == link.table) {
            Some(t) => {
                for r in rows {
                    if !t.rows.contains(&r) {
                        t.rows.push(r);
                    }
                }
            }
            None => out.push(TableRows {
                table: link.table,
                rows,
            }),
        }
    }
    Ok(out)
}

/// Delete `id`'s rows from every linked table of the live schema (and, for the state DB,
/// its `threads` row), in one short transaction.
fn delete_linked(db: &mut CodexDb, id: &str, with_thread: bool) -> Result<()> {
    let links = db.links()?;
    db.write(|tx| {
        for l in &links {
            tx.execute(
                &format!(
                    "DELETE FROM {} WHERE {} = ?1",
                    schema::quote(&l.table),
                    schema::quote(&l.column)
                ),
                [id],
            )?;
        }
        if with_thread {
            tx.execute("DELETE FROM threads WHERE id = ?1", [id])?;
        }
        Ok(())
    })
}

/// Put saved rows back, only into tables the live schema links to a thread (a table name
/// in a trash manifest is data from a file, never SQL), only rows whose link column names
/// this thread, and never over a row that exists (`INSERT OR IGNORE`).
fn insert_linked(
    tx: &rusqlite::Transaction,
    links: &[schema::Link],
    saved: &[TableRows],
    id: &str,
) -> Result<()> {
    for t in saved {
        let live: Vec<&schema::Link> = links.iter().filter(|l| l.table == t.table).collect();
        let Some(first) = live.first() else {
            continue;
        };
        for r in &t.rows {
            let ours = live.iter().any(|l| r.text(&l.column) == Some(id));
            if ours {
                state::insert_row(tx, &first.table, r, state::OnConflict::Ignore)?;
            }
        }
    }
    Ok(())
}

/// What trashing `id` would move and save (for `--dry-run` and for the real thing).
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub id: String,
    pub name: Option<String>,
    pub preview: Option<String>,
    pub files: Vec<PathBuf>,
}

/// The rollout files of `id`: those the walk found and the row's path (and its `.zst`
/// twin), each only when it is a regular file of that thread inside the home's session
/// folders after resolving symlinks. Anything else a row names is left alone.
fn files_of(
    home: &Path,
    id: &str,
    all: &[rollout::RolloutFile],
    row_path: Option<&str>,
) -> Vec<PathBuf> {
    let root = Root::new(home);
    let mut files: Vec<PathBuf> = Vec::new();
    let mut candidates: Vec<PathBuf> = all
        .iter()
        .filter(|f| f.thread_id == id)
        .map(|f| f.path.clone())
        .collect();
    if let Some(p) = row_path.map(PathBuf::from) {
        candidates.push(rollout::twin(&p));
        candidates.push(p);
    }
    for c in candidates {
        if let Some(real) = root.rollout_of(&c, id)
            && !files.contains(&real)
        {
            files.push(real);
        }
    }
    files.sort();
    files
}

pub fn preview(home: &HomeRef, ids: &[String]) -> Result<Vec<Preview>> {
    let all = rollout::list(&home.path);
    let db = open_state(&home.path, false)?;
    let mut out = Vec::new();
    for id in ids {
        let row = match &db {
            Some(db) => db.thread_row(id)?,
            None => None,
        };
        let files = files_of(
            &home.path,
            id,
            &all,
            row.as_ref().and_then(|r| r.text("rollout_path")),
        );
        if row.is_none() && files.is_empty() {
            return Err(
                Error::user(format!("no thread `{id}` in home `{}`", home.name))
                    .with_help("see `cdxs session list --all-homes`"),
            );
        }
        out.push(Preview {
            id: id.clone(),
            name: row
                .as_ref()
                .and_then(|r| r.text("name"))
                .map(str::to_string),
            preview: row
                .as_ref()
                .and_then(|r| r.text("preview"))
                .map(str::to_string),
            files,
        });
    }
    Ok(out)
}

/// Refuse when a running Codex has any of `ids` open (its writer lock is held): checked
/// before an operation announces or backs up anything. [`trash_one`] checks again, holding
/// the lock.
pub fn refuse_live(home: &Path, ids: &[String]) -> Result<()> {
    for id in ids {
        if writer_lock::try_lock(home, id)?.is_none() {
            return Err(writer_lock::live_error(home, id));
        }
    }
    Ok(())
}

/// Trash one thread. `backups` must already hold the DB backups of this operation.
pub fn trash_one(
    home: &HomeRef,
    id: &str,
    all: &[rollout::RolloutFile],
    backups: &mut Backups,
    now: i64,
) -> Result<Manifest> {
    let dir = entry_dir(&home.path, id)?;
    let _lock = writer_lock::lock(&home.path, id)?;
    ensure_writable(&home.path)?;
    let mut m = if dir.join(MANIFEST).exists() {
        // An interrupted trash of this thread: finish it (its manifest is checked first).
        load_entry(&home.path, id)?.1
    } else {
        let m = entry_for(home, id, all, now)?;
        save_manifest(&dir, &m)?;
        m
    };
    fsx::fault_point("trash.after_manifest");
    if m.stage == Stage::Saved {
        move_files_in(&home.path, id, &dir, &m)?;
        m.stage = Stage::FilesMoved;
        save_manifest(&dir, &m)?;
    }
    fsx::fault_point("trash.after_move");
    if m.stage == Stage::FilesMoved {
        forget_in_codex(&home.path, id, backups)?;
        m.stage = Stage::Done;
        save_manifest(&dir, &m)?;
    }
    Ok(m)
}

/// Everything that restores thread `id`: its rows, its index lines and where its files
/// go in the trash.
fn entry_for(home: &HomeRef, id: &str, all: &[rollout::RolloutFile], now: i64) -> Result<Manifest> {
    let mut state_db = open_state(&home.path, true)?;
    let mut history_db = open_history(&home.path, true)?;
    let thread = match &state_db {
        Some(db) => db.thread_row(id)?,
        None => None,
    };
    let mut state_rows = Vec::new();
    if let Some(db) = &mut state_db {
        db.ensure_writable()?;
        state_rows = linked_rows(db, id)?;
    }
    let mut history_rows = Vec::new();
    if let Some(db) = &mut history_db {
        db.ensure_writable()?;
        history_rows = linked_rows(db, id)?;
    }
    let files = files_of(
        &home.path,
        id,
        all,
        thread.as_ref().and_then(|r| r.text("rollout_path")),
    );
    if thread.is_none() && files.is_empty() {
        return Err(
            Error::user(format!("no thread `{id}` in home `{}`", home.name))
                .with_help("see `cdxs session list --all-homes`"),
        );
    }
    let text = |col: &str| {
        thread
            .as_ref()
            .and_then(|r| r.text(col))
            .map(str::to_string)
    };
    Ok(Manifest {
        version: 1,
        id: id.to_string(),
        home: home.path.clone(),
        trashed_at: now,
        name: text("name"),
        preview: text("preview"),
        files: stored_names(&files),
        thread,
        state_rows,
        history_rows,
        index_lines: index::lines_for(&home.path, id)?,
        stage: Stage::Saved,
    })
}

/// The name each file gets in the trash: its own, numbered when another took it.
fn stored_names(files: &[PathBuf]) -> Vec<MovedFile> {
    let mut moved: Vec<MovedFile> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stored = if moved.iter().any(|m| m.stored == name) {
            format!("{i}-{name}")
        } else {
            name
        };
        moved.push(MovedFile {
            original: f.clone(),
            stored,
        });
    }
    moved
}

/// The rollout files into the trash folder `dir`.
fn move_files_in(home: &Path, id: &str, dir: &Path, m: &Manifest) -> Result<()> {
    let root = Root::new(home);
    for f in &m.files {
        // Only a regular rollout file of this thread inside the home moves.
        if let Some(real) = root.rollout_of(&f.original, id) {
            std::fs::rename(&real, dir.join(&f.stored)).map_err(|e| {
                Error::io(
                    format!("cannot move {} into the trash", tick(&f.original)),
                    e,
                )
            })?;
        }
    }
    fsx::sync_dir(dir).ok();
    Ok(())
}

/// The thread's rows and index lines out of Codex's files.
fn forget_in_codex(home: &Path, id: &str, backups: &mut Backups) -> Result<()> {
    if let Some(mut db) = open_state(home, true)? {
        delete_linked(&mut db, id, true)?;
    }
    if let Some(mut db) = open_history(home, true)? {
        delete_linked(&mut db, id, false)?;
    }
    index::remove(home, &[id.to_string()], |orig, bytes| {
        backups.save(orig, bytes)
    })?;
    Ok(())
}

/// Put a trashed thread back exactly: files, rows, index lines; then drop the entry.
pub fn restore_one(home: &HomeRef, id: &str) -> Result<Manifest> {
    let dir = entry_dir(&home.path, id)?;
    if !dir.join(MANIFEST).exists() {
        return Err(Error::user(format!(
            "thread `{id}` is not in the trash of home `{}`",
            home.name
        ))
        .with_help("see `cdxs session trash-list`"));
    }
    let _lock = writer_lock::lock(&home.path, id)?;
    let (_, m) = load_entry(&home.path, id)?;
    ensure_writable(&home.path)?;
    let root = Root::new(&home.path);
    // Where each stored file goes back, checked before anything moves.
    let mut moves = Vec::new();
    for f in &m.files {
        let target = place_back(&root, f, id)?;
        if let Some(stored) = stored_file(&dir, f, id)? {
            refuse_clobber(&m, f, &target)?;
            moves.push((stored, target));
        }
    }
    let mut state_db = open_state(&home.path, true)?;
    if let (Some(db), Stage::Done) = (&state_db, m.stage)
        && db.has_thread(id)?
    {
        return Err(Error::user(format!(
            "cannot restore {id}: Codex has a thread with that id again"
        ))
        .with_help("purge this trash entry, or trash the new thread first"));
    }
    for (stored, target) in &moves {
        move_back(&root, stored, target, id)?;
    }
    fsx::fault_point("restore.after_move");
    if m.stage == Stage::Done {
        if let (Some(db), Some(row)) = (&mut state_db, &m.thread) {
            let links = db.links()?;
            db.write(|tx| {
                state::insert_row(tx, "threads", row, state::OnConflict::Fail)?;
                insert_linked(tx, &links, &m.state_rows, id)
            })?;
        }
        if let Some(mut db) = open_history(&home.path, true)? {
            let links = db.links()?;
            db.write(|tx| insert_linked(tx, &links, &m.history_rows, id))?;
        }
        index::append(&home.path, &m.index_lines)?;
    }
    std::fs::remove_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot remove {}", tick(&dir)), e))?;
    Ok(m)
}

/// The trashed copy of `f` (`None`: an interrupted restore moved it back already).
fn stored_file(dir: &Path, f: &MovedFile, id: &str) -> Result<Option<PathBuf>> {
    let stored = dir.join(&f.stored);
    match std::fs::symlink_metadata(&stored) {
        Ok(meta) if meta.is_file() => Ok(Some(stored)),
        Ok(_) => Err(Error::user(format!(
            "cannot restore {id}: {} is not a regular file",
            tick(&stored)
        ))
        .with_help("cdxs only moves back the files it put there")),
        Err(_) => Ok(None),
    }
}

/// Where `f` goes back: still a place for the rollout inside the home.
fn place_back(root: &Root, f: &MovedFile, id: &str) -> Result<PathBuf> {
    root.rollout_target(&f.original, id).ok_or_else(|| {
        Error::user(format!(
            "cannot restore {id}: {} is no longer a place for its rollout inside the home",
            tick(&f.original)
        ))
        .with_help(
            "a folder on the way may have become a symlink; fix it, or purge this trash entry",
        )
    })
}

/// Refuse to clobber: a file back at the original path, or its other spelling (Codex reads
/// `x.jsonl` over `x.jsonl.zst`: either would hide or be hidden by the other).
fn refuse_clobber(m: &Manifest, f: &MovedFile, target: &Path) -> Result<()> {
    let id = &m.id;
    let twin = rollout::twin(target);
    let twin_restored = m
        .files
        .iter()
        .any(|o| rollout::twin(&o.original) == f.original);
    for clash in [Some(target), (!twin_restored).then_some(twin.as_path())]
        .into_iter()
        .flatten()
    {
        if std::fs::symlink_metadata(clash).is_ok() {
            return Err(
                Error::user(format!("cannot restore {id}: {} exists again", tick(clash)))
                    .with_help("move that file away first, or purge this trash entry"),
            );
        }
    }
    Ok(())
}

/// One stored file back to `target`, its folders made (and still inside the home).
fn move_back(root: &Root, stored: &Path, target: &Path, id: &str) -> Result<()> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("cannot create {}", tick(parent)), e))?;
        // The folders just made are ours; one that appeared meanwhile must still be in.
        if root.resolve(parent).as_deref() != Some(parent) {
            return Err(Error::user(format!(
                "cannot restore {id}: {} leads out of the home",
                tick(parent)
            ))
            .with_help("a folder on the way is a symlink; fix it and retry"));
        }
    }
    std::fs::rename(stored, target)
        .map_err(|e| Error::io(format!("cannot move {} back", tick(target)), e))
}

/// Delete a trash entry for good (only a checked entry of a valid thread id: its folder
/// is `<home>/cdxs-trash/<id>`, a real folder, never a symlink; `remove_dir_all` does not
/// follow symlinks inside it).
pub fn purge_one(home: &HomeRef, id: &str) -> Result<Manifest> {
    let (dir, m) = load_entry(&home.path, id)?;
    std::fs::remove_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot remove {}", tick(&dir)), e))?;
    Ok(m)
}

/// Ids of a home's trash entries older than `age_secs`.
pub fn older_than(home: &HomeRef, age_secs: u64, now: i64) -> Result<Vec<String>> {
    Ok(entries(home)?
        .into_iter()
        .filter(|(_, m)| {
            now.saturating_sub(m.trashed_at) >= i64::try_from(age_secs).unwrap_or(i64::MAX)
        })
        .map(|(_, m)| m.id)
        .collect())
}

/// Ids by home for a list of (possibly prefixed) ids, looked up among the trash entries.
/// The homes the threads `queries` (ids or unique prefixes) live in, each home once with
/// its threads, in the order first named. A thread is looked up in every one of `homes`;
/// a rollout without a row counts when named by its full id.
pub fn locate(homes: &[HomeRef], queries: &[String]) -> Result<Vec<(HomeRef, Vec<String>)>> {
    let mut out: Vec<(HomeRef, Vec<String>)> = Vec::new();
    for q in queries {
        let (home, id) = match super::list::find(homes, q) {
            Ok((h, t)) => (h, t.id),
            Err(e) => {
                let id = q.trim().to_ascii_lowercase();
                homes
                    .iter()
                    .find(|h| {
                        crate::codex::rollout::list(&h.path)
                            .iter()
                            .any(|f| f.thread_id == id)
                    })
                    .map(|h| (h.clone(), id))
                    .ok_or(e)?
            }
        };
        match out.iter_mut().find(|(h, _)| *h == home) {
            Some((_, ids)) if ids.contains(&id) => {}
            Some((_, ids)) => ids.push(id),
            None => out.push((home, vec![id])),
        }
    }
    Ok(out)
}

pub fn find_trashed(homes: &[HomeRef], query: &str) -> Result<(HomeRef, String)> {
    let q = query.trim().to_ascii_lowercase();
    let mut hits: BTreeMap<String, HomeRef> = BTreeMap::new();
    for h in homes {
        for (_, m) in entries(h)? {
            if m.id == q || (q.len() >= 4 && m.id.starts_with(&q)) {
                hits.insert(format!("{}\u{0}{}", h.name, m.id), h.clone());
            }
        }
    }
    match hits.len() {
        1 => {
            let (k, h) = hits
                .into_iter()
                .next()
                .ok_or_else(|| Error::user("no match"))?;
            Ok((h, k.split('\u{0}').nth(1).unwrap_or_default().to_string()))
        }
        0 => Err(Error::user(format!("no trashed thread `{query}`"))
            .with_help("see `cdxs session trash-list`")),
        n => Err(
            Error::user(format!("`{query}` matches {n} trashed threads"))
                .with_help("give the full id, or `--home NAME`"),
        ),
    }
}
