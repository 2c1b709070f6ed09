//! `session list`: every thread of every provider and source, from the state DB (never the
//! whole rollouts), with why the default Codex picker (`codex resume`) would hide it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{HomeRef, home_provider, inside, open_state};
use crate::error::{OnCodexDb, Result};

/// One thread (`--json` prints it through [`ThreadView`], the one definition of its fields).
#[derive(Debug, Clone)]
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
    pub hidden: Vec<Hidden>,
}

/// Why the default Codex picker (`codex resume`) would hide a thread. `--json` prints the
/// stable code (`non_interactive_source`); people read [`Hidden::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    Archived,
    MissingRollout,
    /// Its row points at a rollout in another home (a copied home).
    RolloutElsewhere,
    EmptyPreview,
    /// Started by `codex exec` or another source the picker leaves out (`source` says which).
    NonInteractiveSource,
    /// Another model provider than the home's (`model_provider` says which).
    OtherProvider,
}

impl Hidden {
    /// In words, with the thread's source and provider where they matter.
    pub fn text(self, source: &str, provider: &str) -> String {
        match self {
            Hidden::Archived => "archived".into(),
            Hidden::MissingRollout => "missing rollout".into(),
            Hidden::RolloutElsewhere => "rollout in another home".into(),
            Hidden::EmptyPreview => "empty preview".into(),
            Hidden::NonInteractiveSource => format!("non-interactive source ({source})"),
            Hidden::OtherProvider => format!("other provider ({provider})"),
        }
    }
}

impl ThreadInfo {
    pub fn title(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.preview)
    }

    fn view(&self) -> ThreadView<'_> {
        ThreadView {
            home: &self.home,
            id: &self.id,
            name: self.name.as_deref(),
            preview: &self.preview,
            source: &self.source,
            model_provider: &self.model_provider,
            cwd: &self.cwd,
            created_at: self.created_at,
            updated_at: self.updated_at,
            tokens_used: self.tokens_used,
            archived: self.archived,
            rollout_path: &self.rollout_path,
            size: self.size,
            history_mode: &self.history_mode,
            hidden: std::borrow::Cow::Borrowed(&self.hidden),
        }
    }
}

impl Serialize for ThreadInfo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.view().serialize(s)
    }
}

/// A thread borrowed from where it was read ([`ListedThreads`]) or from a [`ThreadInfo`]: the
/// fields of `session list --json`, in this order.
#[derive(Debug, Serialize)]
pub struct ThreadView<'a> {
    pub home: &'a str,
    pub id: &'a str,
    pub name: Option<&'a str>,
    pub preview: &'a str,
    pub source: &'a str,
    pub model_provider: &'a str,
    pub cwd: &'a str,
    pub created_at: i64,
    pub updated_at: i64,
    pub tokens_used: i64,
    pub archived: bool,
    pub rollout_path: &'a Path,
    pub size: Option<u64>,
    pub history_mode: &'a str,
    pub hidden: std::borrow::Cow<'a, [Hidden]>,
}

impl ThreadView<'_> {
    pub fn to_info(&self) -> ThreadInfo {
        ThreadInfo {
            home: self.home.to_string(),
            id: self.id.to_string(),
            name: self.name.map(str::to_string),
            preview: self.preview.to_string(),
            source: self.source.to_string(),
            model_provider: self.model_provider.to_string(),
            cwd: self.cwd.to_string(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            tokens_used: self.tokens_used,
            archived: self.archived,
            rollout_path: self.rollout_path.to_path_buf(),
            size: self.size,
            history_mode: self.history_mode.to_string(),
            hidden: self.hidden.to_vec(),
        }
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
) -> Vec<Hidden> {
    let mut r = Vec::new();
    if archived {
        r.push(Hidden::Archived);
    }
    if rollout_missing {
        r.push(Hidden::MissingRollout);
    } else if rollout_elsewhere {
        r.push(Hidden::RolloutElsewhere);
    }
    if preview_empty {
        r.push(Hidden::EmptyPreview);
    }
    if !matches!(source, "cli" | "vscode") {
        r.push(Hidden::NonInteractiveSource);
    }
    if provider != home_provider {
        r.push(Hidden::OtherProvider);
    }
    r
}

/// The threads of several homes, each home's turned into a `V` by `each` (the reading
/// thread encodes them, say), handed to `consume` home by home in the order of `homes`, each
/// home's newest first (as a sequential read would give them). The homes are read in parallel, one thread per core (`available_parallelism`), while `consume` works on
/// the earlier ones; readers start a home only while they are fewer than that many homes
/// ahead of `consume`, so a stream holds a few homes in memory, not all of them. When
/// `consume` stops early (an error, a closed pipe) no further home is started.
pub fn threads_of_homes<V: Send, O>(
    homes: &[HomeRef],
    each: impl Fn(ListedThreads) -> Result<V> + Sync,
    consume: impl FnOnce(&mut dyn Iterator<Item = Result<V>>) -> O,
) -> O {
    super::in_order::in_home_order(homes, cores(), |h| each(read_home(h, None)?), consume)
}

/// Threads whose id is `prefix` or starts with it (an indexed lookup, not a full read).
pub fn threads_matching(home: &HomeRef, prefix: &str) -> Result<Vec<ThreadInfo>> {
    Ok(read_home(home, Some(prefix))?.to_infos())
}

/// The threads of one home as read from its state DB, newest first: their text kept in one
/// buffer (listing 50,000 threads made half a million small strings before), seen through
/// [`ThreadView`]s.
pub struct ListedThreads {
    home: String,
    provider: String,
    text: String,
    rows: Vec<RowAt>,
}

/// One row of [`ListedThreads`]: its text as ranges of `text`.
struct RowAt {
    id: Range<usize>,
    name: Option<Range<usize>>,
    preview: Range<usize>,
    source: Range<usize>,
    model_provider: Range<usize>,
    cwd: Range<usize>,
    rollout: Range<usize>,
    history: Range<usize>,
    created_at: i64,
    updated_at: i64,
    tokens_used: i64,
    archived: bool,
    preview_empty: bool,
    rollout_elsewhere: bool,
    size: Option<u64>,
}

impl ListedThreads {
    /// The threads, newest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ThreadView<'_>> {
        self.rows.iter().map(|r| self.view(r))
    }

    pub fn to_infos(&self) -> Vec<ThreadInfo> {
        self.iter().map(|t| t.to_info()).collect()
    }

    fn view<'a>(&'a self, r: &RowAt) -> ThreadView<'a> {
        let t = |range: &Range<usize>| &self.text[range.clone()];
        let source = t(&r.source);
        let model_provider = t(&r.model_provider);
        ThreadView {
            home: &self.home,
            id: t(&r.id),
            name: r.name.as_ref().map(t),
            preview: t(&r.preview),
            source,
            model_provider,
            cwd: t(&r.cwd),
            created_at: r.created_at,
            updated_at: r.updated_at,
            tokens_used: r.tokens_used,
            archived: r.archived,
            rollout_path: Path::new(t(&r.rollout)),
            size: r.size,
            history_mode: t(&r.history),
            hidden: std::borrow::Cow::Owned(hidden_reasons(
                source,
                model_provider,
                &self.provider,
                r.archived,
                r.preview_empty,
                r.size.is_none(),
                r.rollout_elsewhere,
            )),
        }
    }
}

fn read_home(home: &HomeRef, prefix: Option<&str>) -> Result<ListedThreads> {
    let mut out = ListedThreads {
        home: home.name.clone(),
        provider: String::new(),
        text: String::new(),
        rows: Vec::new(),
    };
    let Some(db) = open_state(&home.path, false)? else {
        return Ok(out);
    };
    let sql = list_sql(&db.columns("threads")?, prefix);
    let provider = home_provider(&home.path);
    let root = super::Root::new(&home.path);
    let mut stmt = db.conn.prepare(&sql).on_db(&db.path)?;
    // A prefix as a range on the primary key: `id >= p AND id < p + '\u{10FFFF}'`.
    let bounds: Vec<String> = prefix
        .map(|p| vec![p.to_string(), format!("{p}\u{10FFFF}")])
        .unwrap_or_default();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(bounds.iter()))
        .on_db(&db.path)?;
    while let Some(r) = rows.next().on_db(&db.path)? {
        let row = row_at(&mut out.text, r, &root).on_db(&db.path)?;
        out.rows.push(row);
    }
    drop(rows);
    out.provider = provider;
    sizes(&out.text, &mut out.rows);
    let text = &out.text;
    out.rows.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| text[b.id.clone()].cmp(&text[a.id.clone()]))
    });
    Ok(out)
}

/// The listing's query over the `threads` columns this Codex has (`cols`), for the ids
/// starting with `prefix` when there is one.
fn list_sql(cols: &[String], prefix: Option<&str>) -> String {
    let col = |c: &str, fallback: &str| {
        if cols.iter().any(|x| x == c) {
            format!("\"{c}\"")
        } else {
            fallback.to_string()
        }
    };
    format!(
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
    )
}

/// One row of [`list_sql`]'s answer, its text appended to `text`.
fn row_at(text: &mut String, r: &rusqlite::Row, root: &super::Root) -> rusqlite::Result<RowAt> {
    // Columns are read in the order of the SELECT, so that a bad value fails with the
    // same error as ever.
    let id = push_text(text, r, 0)?;
    let rollout = push_text(text, r, 1)?;
    let created_at: i64 = r.get(2)?;
    let updated: i64 = r.get(3)?;
    let source = push_text(text, r, 4)?;
    let model_provider = push_text(text, r, 5)?;
    let cwd = push_text(text, r, 6)?;
    let title = push_text(text, r, 7)?;
    let preview = push_text(text, r, 8)?;
    let name = push_optional_text(text, r, 9)?;
    let archived: i64 = r.get(10)?;
    let tokens_used: i64 = r.get(11)?;
    let history = push_text(text, r, 12)?;
    let parent_none = is_null_text(r, 13)?;
    let updated_ms: Option<i64> = r.get(14)?;
    let preview_empty = preview.is_empty();
    Ok(RowAt {
        rollout_elsewhere: !root.contains(Path::new(&text[rollout.clone()])),
        id,
        name: name.filter(|n| !n.is_empty()),
        preview: if preview_empty { title } else { preview },
        source,
        model_provider,
        cwd,
        rollout,
        history,
        created_at,
        updated_at: updated_ms.map(|ms| ms / 1000).unwrap_or(updated),
        tokens_used,
        archived: archived != 0,
        preview_empty: preview_empty && parent_none,
        size: None,
    })
}

/// Text column `i` appended to `text`, as a range of it. Anything but valid text fails with
/// the error reading it as a `String` gives.
fn push_text(text: &mut String, r: &rusqlite::Row, i: usize) -> rusqlite::Result<Range<usize>> {
    if let rusqlite::types::ValueRef::Text(bytes) = r.get_ref(i)?
        && let Ok(s) = std::str::from_utf8(bytes)
    {
        let start = text.len();
        text.push_str(s);
        return Ok(start..text.len());
    }
    let s: String = r.get(i)?;
    let start = text.len();
    text.push_str(&s);
    Ok(start..text.len())
}

/// [`push_text`] for a column that may be NULL.
fn push_optional_text(
    text: &mut String,
    r: &rusqlite::Row,
    i: usize,
) -> rusqlite::Result<Option<Range<usize>>> {
    if is_null_text(r, i)? {
        return Ok(None);
    }
    push_text(text, r, i).map(Some)
}

/// Whether a column read as an `Option<String>` is `None` (failing as that read fails).
fn is_null_text(r: &rusqlite::Row, i: usize) -> rusqlite::Result<bool> {
    use rusqlite::types::ValueRef;
    match r.get_ref(i)? {
        ValueRef::Null => Ok(true),
        ValueRef::Text(bytes) if std::str::from_utf8(bytes).is_ok() => Ok(false),
        _ => r.get::<_, Option<String>>(i).map(|v| v.is_none()),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The rollouts' sizes (`None` when the file is missing), with `std::fs::metadata` (symlinks
/// followed) of the file Codex reads for the row's path: its plain `.jsonl`, else its
/// `.jsonl.zst` (a row still names `x.jsonl` after Codex compressed it, and Codex lists it).
/// One `stat` per thread is the largest cost of a listing: a big home's are split
/// between the cores. (A `fstatat` from each day's folder was measured no faster: the cost
/// is the system call, not the path walk.)
fn sizes(text: &str, rows: &mut [RowAt]) {
    let stat = |rows: &mut [RowAt]| {
        for r in rows {
            r.size = crate::codex::rollout::existing_size(Path::new(&text[r.rollout.clone()]));
        }
    };
    let cores = cores();
    if cores <= 1 || rows.len() < 2048 {
        return stat(rows);
    }
    let per = rows.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let mut parts = rows.chunks_mut(per);
        let first = parts.next();
        for part in parts {
            scope.spawn(move || stat(part));
        }
        if let Some(part) = first {
            stat(part);
        }
    });
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

/// The rollout of `id` in `home` that Codex reads: the row's path in either spelling (the
/// plain `.jsonl` first, as Codex), else a file found by name (never a `.zst` its plain twin
/// shadows).
pub fn locate_rollout(home: &Path, id: &str, row_path: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = row_path
        && inside(p, home)
        && let Some(found) = crate::codex::rollout::existing(p)
    {
        return Some(found);
    }
    crate::codex::rollout::list(home)
        .into_iter()
        .find(|f| f.thread_id == id && !f.shadowed)
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
        let text: Vec<String> = r.iter().map(|h| h.text("exec", "mock")).collect();
        assert_eq!(
            text,
            vec![
                "archived",
                "missing rollout",
                "empty preview",
                "non-interactive source (exec)",
                "other provider (mock)"
            ]
        );
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            serde_json::json!([
                "archived",
                "missing_rollout",
                "empty_preview",
                "non_interactive_source",
                "other_provider"
            ])
        );
        assert_eq!(
            hidden_reasons("cli", "openai", "openai", false, false, false, true),
            vec![Hidden::RolloutElsewhere]
        );
    }

    /// Sizes (split between threads) are what `std::fs::metadata` says for every shape of
    /// path a state DB may hold: a file, a missing one, symlinks (followed, dangling), a folder, a
    /// file used as a folder, and spellings `Path` would normalise.
    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
    )]
    fn sizes_split_between_threads_are_what_metadata_says() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        std::fs::create_dir_all(format!("{d}/day")).unwrap();
        std::fs::write(format!("{d}/day/a.jsonl"), "12345").unwrap();
        std::fs::write(format!("{d}/day/b.jsonl"), "1").unwrap();
        // Compressed by Codex (the row still names `c.jsonl`); both spellings (plain wins).
        std::fs::write(format!("{d}/day/c.jsonl.zst"), "123").unwrap();
        std::fs::write(format!("{d}/day/e.jsonl"), "1234").unwrap();
        std::fs::write(format!("{d}/day/e.jsonl.zst"), "12").unwrap();
        crate::platform::fs::symlink(
            Path::new(&format!("{d}/day/a.jsonl")),
            Path::new(&format!("{d}/day/link")),
        )
        .unwrap();
        crate::platform::fs::symlink(
            Path::new(&format!("{d}/nowhere")),
            Path::new(&format!("{d}/day/dangling")),
        )
        .unwrap();
        crate::platform::fs::symlink(
            Path::new(&format!("{d}/day")),
            Path::new(&format!("{d}/dayl")),
        )
        .unwrap();
        let paths: Vec<String> = [
            "/day/a.jsonl",
            "/day/b.jsonl",
            "/day/c.jsonl",
            "/day/c.jsonl.zst",
            "/day/e.jsonl",
            "/day/e.jsonl.zst",
            "/day/missing.jsonl",
            "/day/link",
            "/day/dangling",
            "/dayl/a.jsonl",
            "/day",
            "/day/a.jsonl/x",
            "/day/a.jsonl/",
            "/day/a.jsonl/.",
            "/day//a.jsonl",
            "/day/./a.jsonl",
            "/gone/a.jsonl",
            "/day/../day/a.jsonl",
        ]
        .iter()
        .map(|p| format!("{d}{p}"))
        .chain([
            "relative/a.jsonl".to_string(),
            String::new(),
            "/".to_string(),
        ])
        .collect();
        // Enough rows for the stats to be split between threads.
        let paths: Vec<String> = paths
            .iter()
            .cycle()
            .take(paths.len() * 130)
            .cloned()
            .collect();
        let text: String = paths.concat();
        let mut at = 0;
        let mut rows: Vec<RowAt> = paths
            .iter()
            .map(|p| {
                let r = at..at + p.len();
                at += p.len();
                RowAt {
                    id: 0..0,
                    name: None,
                    preview: 0..0,
                    source: 0..0,
                    model_provider: 0..0,
                    cwd: 0..0,
                    rollout: r,
                    history: 0..0,
                    created_at: 0,
                    updated_at: 0,
                    tokens_used: 0,
                    archived: false,
                    preview_empty: false,
                    rollout_elsewhere: false,
                    size: Some(999),
                }
            })
            .collect();
        sizes(&text, &mut rows);
        // What Codex reads: the plain spelling when it is there, else the compressed one.
        let read = |p: &str| {
            let plain = p.strip_suffix(".zst").unwrap_or(p);
            let is_rollout = Path::new(p).file_name().is_some_and(|n| {
                n.to_string_lossy().ends_with(".jsonl")
                    || n.to_string_lossy().ends_with(".jsonl.zst")
            });
            if !is_rollout {
                return std::fs::metadata(p).ok().map(|m| m.len());
            }
            std::fs::metadata(plain)
                .or_else(|_| std::fs::metadata(format!("{plain}.zst")))
                .ok()
                .map(|m| m.len())
        };
        for (p, r) in paths.iter().zip(&rows) {
            assert_eq!(r.size, read(p), "{p}");
        }
        let size_of =
            |suffix: &str| rows[paths.iter().position(|p| p.ends_with(suffix)).unwrap()].size;
        assert_eq!(size_of("/day/c.jsonl"), Some(3), "the compressed twin");
        assert_eq!(size_of("/day/c.jsonl.zst"), Some(3));
        assert_eq!(size_of("/day/e.jsonl.zst"), Some(4), "the plain one wins");
    }
}
