//! `session visibility check|repair`: what makes Codex hide or lose a thread, and the
//! in-place fixes (rows are edited or added, the DB is never deleted, rollout bytes are
//! never rewritten).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{HomeRef, home_provider, open_state};
use crate::codex::rollout::{self, Head, RolloutFile};
use crate::codex::state::{self, Cell, Row};
use crate::codex::{index, writer_lock};
use crate::error::{OnCodexDb, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Issue {
    /// `rollout_path` points at no file; `found` is the thread's file in this home, if any.
    MissingRollout {
        id: String,
        rollout_path: PathBuf,
        found: Option<PathBuf>,
    },
    /// `rollout_path` points into another folder (a copied home); `local` is this home's copy.
    ForeignRollout {
        id: String,
        rollout_path: PathBuf,
        local: Option<PathBuf>,
    },
    /// A rollout file without a row (the TUI picker reads rows first).
    OrphanRollout {
        id: String,
        path: PathBuf,
        listable: bool,
    },
    /// An empty preview although the rollout has a user message (hidden by Codex).
    EmptyPreview { id: String, preview: String },
    /// A name only in session_index.jsonl (Codex 0.169 reads names from `threads.name`).
    NameOnlyInIndex { id: String, name: String },
    /// `archived` disagrees with the folder the rollout is in.
    ArchivedMismatch { id: String, archived: bool },
}

impl Issue {
    pub fn id(&self) -> &str {
        match self {
            Issue::MissingRollout { id, .. }
            | Issue::ForeignRollout { id, .. }
            | Issue::OrphanRollout { id, .. }
            | Issue::EmptyPreview { id, .. }
            | Issue::NameOnlyInIndex { id, .. }
            | Issue::ArchivedMismatch { id, .. } => id,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Issue::MissingRollout { .. } => "missing_rollout",
            Issue::ForeignRollout { .. } => "foreign_rollout",
            Issue::OrphanRollout { .. } => "orphan_rollout",
            Issue::EmptyPreview { .. } => "empty_preview",
            Issue::NameOnlyInIndex { .. } => "name_only_in_index",
            Issue::ArchivedMismatch { .. } => "archived_mismatch",
        }
    }

    /// Can repair fix it?
    pub fn repairable(&self) -> bool {
        match self {
            Issue::MissingRollout { found, .. } => found.is_some(),
            Issue::ForeignRollout { local, .. } => local.is_some(),
            Issue::OrphanRollout { listable, .. } => *listable,
            _ => true,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Issue::MissingRollout {
                rollout_path,
                found,
                ..
            } => match found {
                Some(f) => format!(
                    "row points at missing {}; the rollout is at {}",
                    rollout_path.display(),
                    f.display()
                ),
                None => format!(
                    "row points at missing {} and no rollout of it is left",
                    rollout_path.display()
                ),
            },
            Issue::ForeignRollout {
                rollout_path,
                local,
                ..
            } => match local {
                Some(l) => format!(
                    "row points into another home ({}); this home's copy is {}",
                    rollout_path.display(),
                    l.display()
                ),
                None => format!(
                    "row points into another home ({}) and this home has no copy",
                    rollout_path.display()
                ),
            },
            Issue::OrphanRollout { path, listable, .. } => {
                if *listable {
                    format!("rollout without a row: {}", path.display())
                } else {
                    format!(
                        "rollout without a row and without a user message (Codex will not list it): {}",
                        path.display()
                    )
                }
            }
            Issue::EmptyPreview { preview, .. } => format!(
                "empty preview although the rollout starts with \"{}\"",
                short(preview)
            ),
            Issue::NameOnlyInIndex { name, .. } => {
                format!("name \"{name}\" is only in session_index.jsonl")
            }
            Issue::ArchivedMismatch { archived, .. } => {
                if *archived {
                    "marked archived but its rollout is in sessions/".into()
                } else {
                    "not marked archived but its rollout is in archived_sessions/".into()
                }
            }
        }
    }
}

fn short(s: &str) -> String {
    let one = s.lines().next().unwrap_or("");
    if one.chars().count() > 60 {
        format!("{}…", one.chars().take(60).collect::<String>())
    } else {
        one.to_string()
    }
}

pub use crate::codex::rollout::{Direct, HeadSource};

struct RowLite {
    id: String,
    rollout_path: PathBuf,
    preview: String,
    archived: bool,
    name: Option<String>,
    parent: Option<String>,
}

fn rows(home: &Path) -> Result<Vec<RowLite>> {
    let Some(db) = open_state(home, false)? else {
        return Ok(Vec::new());
    };
    let cols = db.columns("threads")?;
    let has = |c: &str| cols.iter().any(|x| x == c);
    let sql = format!(
        "SELECT id, rollout_path, {}, archived, {}, {} FROM threads",
        if has("preview") { "preview" } else { "''" },
        if has("name") { "name" } else { "NULL" },
        if has("attached_thread_parent_id") {
            "attached_thread_parent_id"
        } else {
            "NULL"
        },
    );
    let mut stmt = db.conn.prepare(&sql).on_db(&db.path)?;
    let out = stmt
        .query_map([], |r| {
            Ok(RowLite {
                id: r.get(0)?,
                rollout_path: PathBuf::from(r.get::<_, String>(1)?),
                preview: r.get(2)?,
                archived: r.get::<_, i64>(3)? != 0,
                name: r.get(4)?,
                parent: r.get(5)?,
            })
        })
        .on_db(&db.path)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .on_db(&db.path)?;
    Ok(out)
}

/// Everything that keeps Codex from showing or finding a home's threads.
pub fn check(home: &HomeRef, heads: &mut dyn HeadSource) -> Result<Vec<Issue>> {
    let rows = rows(&home.path)?;
    let files = rollout::list(&home.path);
    let disk = OnDisk::new(&home.path, &files);
    let names = index::names(&home.path)?;
    let trashed: BTreeSet<String> = super::trash::entries(home)?
        .into_iter()
        .map(|(_, m)| m.id)
        .collect();
    let mut issues = Vec::new();
    for r in &rows {
        if let Some(path) = disk.file_of_row(r, &mut issues) {
            disk.check_file(r, &path, heads, &mut issues);
        }
        if r.name.as_deref().is_none_or(str::is_empty)
            && let Some(name) = names.get(&r.id)
        {
            issues.push(Issue::NameOnlyInIndex {
                id: r.id.clone(),
                name: name.clone(),
            });
        }
    }
    let with_rows: BTreeSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for (id, list) in &disk.by_id {
        if with_rows.contains(id) || trashed.contains(*id) {
            continue;
        }
        let f = list.iter().find(|f| !f.archived).unwrap_or(&list[0]);
        let listable = heads
            .head(&f.path)
            .is_some_and(|h| h.id.is_some() && h.first_user_message.is_some());
        issues.push(Issue::OrphanRollout {
            id: id.to_string(),
            path: f.path.clone(),
            listable,
        });
    }
    Ok(issues)
}

/// A home's rollout files as one walk found them.
struct OnDisk<'a> {
    root: super::Root,
    archive: PathBuf,
    /// A thread's rollouts as Codex reads them: a `.zst` shadowed by its plain twin is not one.
    by_id: BTreeMap<&'a str, Vec<&'a RolloutFile>>,
    /// Existence from the walk, not one stat per row.
    paths: HashSet<&'a OsStr>,
}

impl<'a> OnDisk<'a> {
    fn new(home: &Path, files: &'a [RolloutFile]) -> OnDisk<'a> {
        let mut by_id: BTreeMap<&str, Vec<&RolloutFile>> = BTreeMap::new();
        for f in files.iter().filter(|f| !f.shadowed) {
            by_id.entry(f.thread_id.as_str()).or_default().push(f);
        }
        OnDisk {
            root: super::Root::new(home),
            archive: home.join(rollout::ARCHIVED),
            by_id,
            paths: files.iter().map(|f| f.path.as_os_str()).collect(),
        }
    }

    /// This home's rollout of thread `id`: in the folder `archived` says, plain first.
    fn pick(&self, id: &str, archived: bool) -> Option<&'a RolloutFile> {
        let list = self.by_id.get(id)?;
        list.iter()
            .find(|f| f.archived == archived && !f.compressed)
            .or_else(|| list.iter().find(|f| f.archived == archived))
            .or_else(|| list.first())
            .copied()
    }

    /// (A stat only when the walk did not see it: e.g. a row spelling the path another way.)
    fn exists(&self, p: &Path) -> bool {
        self.paths.contains(p.as_os_str())
            || self.paths.contains(rollout::twin(p).as_os_str())
            || p.exists()
            || rollout::twin(p).exists()
    }

    /// The rollout a row's thread is in: the one it names, or (when that is in another
    /// home, or missing, each an issue) this home's copy, if any.
    fn file_of_row(&self, r: &RowLite, issues: &mut Vec<Issue>) -> Option<PathBuf> {
        let local = self.pick(&r.id, r.archived).map(|f| f.path.clone());
        if !self.root.contains(&r.rollout_path) {
            issues.push(Issue::ForeignRollout {
                id: r.id.clone(),
                rollout_path: r.rollout_path.clone(),
                local: local.clone(),
            });
            local
        } else if !self.exists(&r.rollout_path) {
            issues.push(Issue::MissingRollout {
                id: r.id.clone(),
                rollout_path: r.rollout_path.clone(),
                found: local.clone(),
            });
            local
        } else {
            Some(r.rollout_path.clone())
        }
    }

    /// A row against its rollout: the folder it is in, and an empty preview Codex hides.
    fn check_file(
        &self,
        r: &RowLite,
        path: &Path,
        heads: &mut dyn HeadSource,
        issues: &mut Vec<Issue>,
    ) {
        if super::under(path, &self.archive) != r.archived {
            issues.push(Issue::ArchivedMismatch {
                id: r.id.clone(),
                archived: r.archived,
            });
        }
        // The file Codex reads for that path (a row names `x.jsonl` after compression).
        let readable = rollout::existing(path).unwrap_or_else(|| path.to_path_buf());
        if r.preview.is_empty()
            && r.parent.is_none()
            && let Some(text) = heads.head(&readable).and_then(|h| h.first_user_message)
        {
            issues.push(Issue::EmptyPreview {
                id: r.id.clone(),
                preview: text,
            });
        }
    }
}

fn secs(ts: Option<&str>) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(ts?)
        .ok()
        .map(|d| d.timestamp())
}

/// What Codex stores for a thread whose rollout names no sandbox policy: its
/// `ThreadMetadataBuilder` default (a read-only sandbox), as 0.169 and 0.171 serialize it.
pub const CODEX_DEFAULT_SANDBOX_POLICY: &str = r#"{"type":"managed","file_system":{"type":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}]},"network":"restricted"}"#;
/// Codex's default approval mode for such a thread (`AskForApproval::OnRequest`).
pub const CODEX_DEFAULT_APPROVAL_MODE: &str = "on-request";

/// A full `threads` row for a rollout that has none, as Codex's own upsert would make it:
/// every value from the rollout's `session_meta` and first `turn_context`, and where they
/// say nothing, Codex's own defaults (read-only sandbox, approval on request, the home's
/// model provider), never more permissive ones.
pub fn row_from_head(
    id: &str,
    path: &Path,
    head: &Head,
    archived: bool,
    tokens: i64,
    default_provider: &str,
) -> Row {
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0);
    let created = secs(head.timestamp.as_deref()).unwrap_or(mtime);
    let text = head.first_user_message.clone().unwrap_or_default();
    let t = |s: Option<&String>, d: &str| Cell::Text(s.cloned().unwrap_or_else(|| d.to_string()));
    let opt = |s: Option<&String>| s.map(|v| Cell::Text(v.clone())).unwrap_or(Cell::Null);
    Row(vec![
        ("id".into(), Cell::Text(id.to_string())),
        (
            "rollout_path".into(),
            Cell::Text(path.to_string_lossy().into_owned()),
        ),
        ("created_at".into(), Cell::Int(created)),
        ("updated_at".into(), Cell::Int(mtime.max(created))),
        ("source".into(), t(head.source.as_ref(), "cli")),
        (
            "model_provider".into(),
            t(head.model_provider.as_ref(), default_provider),
        ),
        ("cwd".into(), t(head.cwd.as_ref(), "")),
        ("title".into(), Cell::Text(text.clone())),
        (
            "sandbox_policy".into(),
            t(head.sandbox_policy.as_ref(), CODEX_DEFAULT_SANDBOX_POLICY),
        ),
        (
            "approval_mode".into(),
            t(head.approval_policy.as_ref(), CODEX_DEFAULT_APPROVAL_MODE),
        ),
        ("tokens_used".into(), Cell::Int(tokens)),
        ("archived".into(), Cell::Int(archived as i64)),
        ("cli_version".into(), t(head.cli_version.as_ref(), "")),
        ("first_user_message".into(), Cell::Text(text.clone())),
        ("preview".into(), Cell::Text(text)),
        ("model".into(), opt(head.model.as_ref())),
        (
            "reasoning_effort".into(),
            opt(head.reasoning_effort.as_ref()),
        ),
        ("thread_source".into(), opt(head.thread_source.as_ref())),
        (
            "history_mode".into(),
            t(head.history_mode.as_ref(), "legacy"),
        ),
        ("originator".into(), opt(head.originator.as_ref())),
        ("creator_user_id".into(), opt(head.creator_user_id.as_ref())),
        (
            "creator_account_id".into(),
            opt(head.creator_account_id.as_ref()),
        ),
    ])
}

/// What [`repair`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Repaired {
    pub fixed: Vec<Issue>,
    /// Threads left alone because a running Codex has them open (writer lock held), each
    /// with who holds it.
    pub live: Vec<String>,
}

/// Repair the repairable issues in one short transaction, holding the writer lock of every
/// thread it edits or adds (a thread a running Codex has open is left alone and named in
/// [`Repaired::live`]).
pub fn repair(
    home: &HomeRef,
    issues: &[Issue],
    heads: &mut dyn HeadSource,
    now: i64,
) -> Result<Repaired> {
    let mut out = Repaired::default();
    // Writer locks first, held until the transaction is done.
    let (locks, held) = lock_repairable(&home.path, issues, &mut out.live)?;
    let todo: Vec<&Issue> = issues
        .iter()
        .filter(|i| i.repairable() && held.contains(i.id()))
        .collect();
    if todo.is_empty() {
        return Ok(out);
    }
    // Build new rows before the transaction (file reads stay out of it).
    let inserts = rows_for_orphans(&home.path, &todo, heads);
    let Some(mut db) = open_state(&home.path, true)? else {
        return Ok(out);
    };
    let mut fixed = Vec::new();
    db.write(|tx| {
        for i in &todo {
            if fix_row(tx, i, now)? {
                fixed.push((*i).clone());
            }
        }
        for row in &inserts {
            state::insert_row(tx, "threads", row, state::OnConflict::Fail)?;
        }
        Ok(())
    })?;
    drop(locks);
    // Orphans are counted as fixed only when their row went in.
    fixed.retain(|i| {
        !matches!(i, Issue::OrphanRollout { .. })
            || inserts.iter().any(|r| r.text("id") == Some(i.id()))
    });
    out.fixed = fixed;
    Ok(out)
}

/// The writer locks of the threads with a repairable issue, and their ids; a thread a
/// running Codex has open goes into `live`.
fn lock_repairable<'a>(
    home: &Path,
    issues: &'a [Issue],
    live: &mut Vec<String>,
) -> Result<(Vec<writer_lock::ThreadLock>, BTreeSet<&'a str>)> {
    let mut ids: Vec<&str> = issues
        .iter()
        .filter(|i| i.repairable())
        .map(Issue::id)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut locks = Vec::new();
    let mut held: BTreeSet<&str> = BTreeSet::new();
    for id in ids {
        if !crate::codex::rollout::is_thread_id(id) {
            continue; // a row whose id is not a thread id is only reported
        }
        match writer_lock::try_lock(home, id)? {
            Some(l) => {
                locks.push(l);
                held.insert(id);
            }
            None => live.push(format!(
                "thread {id} is open in a running Codex ({}); repair it when that session ends",
                writer_lock::holder(home, id)
            )),
        }
    }
    Ok((locks, held))
}

/// A full `threads` row for each orphan rollout whose head can be read.
fn rows_for_orphans(home: &Path, todo: &[&Issue], heads: &mut dyn HeadSource) -> Vec<Row> {
    let provider = home_provider(home);
    let mut inserts = Vec::new();
    for i in todo {
        if let Issue::OrphanRollout { id, path, .. } = i
            && let Some(head) = heads.head(path)
        {
            let tokens = rollout::last_token_usage(path)
                .ok()
                .flatten()
                .map(|u| u.total_tokens)
                .unwrap_or(0);
            let archived = path.starts_with(home.join(rollout::ARCHIVED));
            inserts.push(row_from_head(id, path, &head, archived, tokens, &provider));
        }
    }
    inserts
}

/// The in-place edit of a row that fixes `issue` (an orphan gets its row elsewhere).
/// False: nothing here fixes it.
fn fix_row(tx: &rusqlite::Transaction, issue: &Issue, now: i64) -> rusqlite::Result<bool> {
    match issue {
        Issue::MissingRollout {
            id, found: Some(p), ..
        }
        | Issue::ForeignRollout {
            id, local: Some(p), ..
        } => {
            tx.execute(
                "UPDATE threads SET rollout_path = ?2 WHERE id = ?1",
                rusqlite::params![id, p.to_string_lossy()],
            )?;
        }
        Issue::EmptyPreview { id, preview } => {
            tx.execute(
                "UPDATE threads SET preview = ?2, first_user_message = CASE WHEN first_user_message = '' THEN ?2 ELSE first_user_message END, title = CASE WHEN title = '' THEN ?2 ELSE title END WHERE id = ?1 AND preview = ''",
                rusqlite::params![id, preview],
            )?;
        }
        Issue::NameOnlyInIndex { id, name } => {
            tx.execute(
                "UPDATE threads SET name = ?2 WHERE id = ?1",
                rusqlite::params![id, name],
            )?;
        }
        Issue::ArchivedMismatch { id, archived } => {
            if *archived {
                tx.execute(
                    "UPDATE threads SET archived = 0, archived_at = NULL WHERE id = ?1",
                    [id],
                )?;
            } else {
                tx.execute(
                    "UPDATE threads SET archived = 1, archived_at = ?2 WHERE id = ?1",
                    rusqlite::params![id, now],
                )?;
            }
        }
        Issue::OrphanRollout { .. } => {}
        _ => return Ok(false),
    }
    Ok(true)
}
