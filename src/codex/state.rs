//! Codex's SQLite databases (`state_5.sqlite`, `thread_history_1.sqlite`), opened the way a
//! careful external writer must: busy timeout >= 5 s, `BEGIN IMMEDIATE` transactions of
//! milliseconds, the journal mode left as it is, and never a migration. Whether a database
//! may be written is decided by its structure ([`super::schema`]): one a newer Codex changed
//! in a way cdxs does not know is only read, with a message saying what differs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::schema::{self, Db, Verdict};
use crate::error::{Error, OnCodexDb, Result, tick};

pub const STATE_DB: &str = "state_5.sqlite";
pub const HISTORY_DB: &str = "thread_history_1.sqlite";
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a home keeps its databases: `sqlite_home` in its config.toml, else
/// `$CODEX_SQLITE_HOME`, else the home itself.
pub fn sqlite_home(home: &Path) -> PathBuf {
    if let Ok(Some(bytes)) = crate::fsx::read_optional_bounded(
        &home.join("config.toml"),
        super::config::MAX_CONFIG_BYTES,
    ) && let Ok(text) = String::from_utf8(bytes)
        && let Ok(table) = text.parse::<toml::Table>()
        && let Some(dir) = table.get("sqlite_home").and_then(|v| v.as_str())
    {
        let p = crate::paths::expand(dir, Some(home)).unwrap_or_else(|_| PathBuf::from(dir));
        return p;
    }
    if let Some(dir) = std::env::var_os("CODEX_SQLITE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    home.to_path_buf()
}

/// An open Codex database.
pub struct CodexDb {
    pub conn: Connection,
    pub path: PathBuf,
    /// `MAX(version)` of `_sqlx_migrations`.
    pub version: i64,
    /// What the structural gate says (computed when opened for writing).
    pub verdict: Option<Verdict>,
    /// Opened read-only, or its structure is one cdxs does not know.
    pub read_only: bool,
}

/// Open `file` in `home`'s sqlite folder. `Ok(None)` when the database does not exist.
/// Opened for writing, the structural gate decides whether it may be written.
pub fn open(home: &Path, file: &str, write: bool) -> Result<Option<CodexDb>> {
    let path = sqlite_home(home).join(file);
    if !path.exists() {
        return Ok(None);
    }
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(&path, flags).map_err(|e| damaged(&path, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT).on_db(&path)?;
    let version: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM _sqlx_migrations", [], |r| {
            r.get(0)
        })
        .map_err(|e| damaged(&path, &e))?;
    let version = version.unwrap_or(0);
    let mut db = CodexDb {
        conn,
        path,
        version,
        verdict: None,
        read_only: !write,
    };
    if write {
        let verdict = db.judge()?;
        db.read_only = !verdict.writable();
        db.verdict = Some(verdict);
    }
    Ok(Some(db))
}

fn damaged(path: &Path, e: &rusqlite::Error) -> Error {
    Error::user(format!("cannot read Codex's database {}: {e}", tick(path))).with_help(
        "if Codex never ran in this home, run it once; never delete the database (thread names live only there)",
    )
}

impl CodexDb {
    /// The structural gate's verdict on this database.
    pub fn judge(&self) -> Result<Verdict> {
        if let Some(v) = &self.verdict {
            return Ok(v.clone());
        }
        let file = self.path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        match Db::of_file(file) {
            Some(db) => schema::judge(db, self.version, &self.conn).on_db(&self.path),
            None => Ok(Verdict::Older),
        }
    }

    /// One line for a person when the gate did more than recognise a release: a newer
    /// schema that cdxs writes because its structure is known, or one it only reads.
    pub fn gate_message(&self) -> Result<Option<String>> {
        Ok(gate_message(&self.path, self.version, &self.judge()?))
    }

    /// Refuse writes to a database whose structure cdxs does not know.
    pub fn ensure_writable(&self) -> Result<()> {
        let verdict = match &self.verdict {
            Some(v) => v.clone(),
            None => self.judge()?,
        };
        if !verdict.writable() || self.read_only {
            return Err(Error::user(
                gate_message(&self.path, self.version, &verdict)
                    .unwrap_or_else(|| format!("{} was opened read-only", tick(&self.path))),
            )
            .with_help(
                "upgrade cdxs to change sessions in this home; listing and stats keep working",
            ));
        }
        Ok(())
    }

    /// A short write transaction (`BEGIN IMMEDIATE`), as Codex's own writers expect.
    pub fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.ensure_writable()?;
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .on_db(&path)?;
        let out = f(&tx).on_db(&path)?;
        tx.commit().on_db(&path)?;
        Ok(out)
    }

    /// Copy the database with SQLite's online backup API (never a byte copy under a writer).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if let Some(dir) = dest.parent() {
            crate::fsx::ensure_private_dir(dir)?;
        }
        let mut out = Connection::open(dest).on_db(dest)?;
        {
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut out).on_db(&self.path)?;
            backup
                .run_to_completion(256, Duration::from_millis(5), None)
                .on_db(&self.path)?;
        }
        drop(out);
        crate::fsx::restrict_file(dest)?;
        Ok(())
    }

    /// Column names of `table` (schema drift is tolerated: only known columns are used).
    pub fn columns(&self, table: &str) -> Result<Vec<String>> {
        columns_of(&self.conn, table).on_db(&self.path)
    }

    /// The (table, column) pairs whose rows hang off a thread, from the live schema.
    pub fn links(&self) -> Result<Vec<schema::Link>> {
        schema::links(&self.conn).on_db(&self.path)
    }

    /// The `threads` row of `id`, if any.
    pub fn thread_row(&self, id: &str) -> Result<Option<Row>> {
        thread_row(&self.conn, id).on_db(&self.path)
    }

    /// Whether a thread row exists.
    pub fn has_thread(&self, id: &str) -> Result<bool> {
        has_thread(&self.conn, id).on_db(&self.path)
    }

    /// All rows of `table` where `column = value`.
    pub fn select_rows(&self, table: &str, column: &str, value: &str) -> Result<Vec<Row>> {
        select_rows(&self.conn, table, column, value).on_db(&self.path)
    }
}

fn columns_of(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", schema::quote(table)))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    Ok(names.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// What the gate's verdict means, in one line (`None` for a release cdxs knows).
pub fn gate_message(path: &Path, version: i64, verdict: &Verdict) -> Option<String> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    match verdict {
        Verdict::Known { .. } | Verdict::Older => None,
        Verdict::Same {
            like,
            known_version,
            newer,
        } => Some(format!(
            "`{file}` is at schema {version}, newer than Codex {like}'s ({known_version}; new: {}); what cdxs touches is unchanged, so it writes it",
            newer.join(", ")
        )),
        Verdict::Different {
            like,
            known_version,
            differences,
        } => Some(format!(
            "{} was migrated by a newer Codex (schema {version}) whose structure differs from Codex {like}'s (schema {known_version}): {}; cdxs only reads it",
            tick(path),
            differences.join("; ")
        )),
    }
}

/// A row as column -> value, for saving in a trash manifest and putting back exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row(pub Vec<(String, Cell)>);

/// One SQLite value, JSON-friendly (blobs as base64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(String),
}

impl From<SqlValue> for Cell {
    fn from(v: SqlValue) -> Self {
        use base64::Engine;
        match v {
            SqlValue::Null => Cell::Null,
            SqlValue::Integer(i) => Cell::Int(i),
            SqlValue::Real(f) => Cell::Real(f),
            SqlValue::Text(s) => Cell::Text(s),
            SqlValue::Blob(b) => Cell::Blob(base64::engine::general_purpose::STANDARD.encode(b)),
        }
    }
}

impl Cell {
    pub fn to_sql(&self) -> SqlValue {
        use base64::Engine;
        match self {
            Cell::Null => SqlValue::Null,
            Cell::Int(i) => SqlValue::Integer(*i),
            Cell::Real(f) => SqlValue::Real(*f),
            Cell::Text(s) => SqlValue::Text(s.clone()),
            Cell::Blob(b) => SqlValue::Blob(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_default(),
            ),
        }
    }
}

impl Row {
    pub fn get(&self, col: &str) -> Option<&Cell> {
        self.0.iter().find(|(c, _)| c == col).map(|(_, v)| v)
    }

    pub fn text(&self, col: &str) -> Option<&str> {
        match self.get(col) {
            Some(Cell::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn set(&mut self, col: &str, value: Cell) {
        match self.0.iter_mut().find(|(c, _)| c == col) {
            Some(slot) => slot.1 = value,
            None => self.0.push((col.to_string(), value)),
        }
    }
}

/// All rows of `table` where `column = value`.
pub fn select_rows(conn: &Connection, table: &str, column: &str, value: &str) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT * FROM {} WHERE {} = ?1",
        schema::quote(table),
        schema::quote(column)
    ))?;
    let names: Vec<String> = stmt.column_names().map(str::to_string).collect();
    let rows = stmt.query_map([value], |r| {
        let mut cells = Vec::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            cells.push((n.clone(), Cell::from(r.get::<_, SqlValue>(i)?)));
        }
        Ok(Row(cells))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// What an insert does when a row with the same key exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Fail (the transaction rolls back).
    Fail,
    /// Keep the existing row (`INSERT OR IGNORE`): rows from a file never replace rows.
    Ignore,
}

/// Insert `row` into `table`, using only the columns the table still has.
pub fn insert_row(
    tx: &rusqlite::Transaction,
    table: &str,
    row: &Row,
    on_conflict: OnConflict,
) -> Result<()> {
    // Column names are taken from the live table, never from the row (it may come from a
    // file in the home).
    let existing = columns_of(tx, table)?;
    let cells: Vec<(&String, &Cell)> = existing
        .iter()
        .filter_map(|c| row.get(c).map(|v| (c, v)))
        .collect();
    if cells.is_empty() {
        return Ok(());
    }
    let cols = cells
        .iter()
        .map(|(c, _)| schema::quote(c))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = (1..=cells.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let verb = match on_conflict {
        OnConflict::Fail => "INSERT",
        OnConflict::Ignore => "INSERT OR IGNORE",
    };
    let values: Vec<SqlValue> = cells.iter().map(|(_, v)| v.to_sql()).collect();
    tx.execute(
        &format!(
            "{verb} INTO {} ({cols}) VALUES ({marks})",
            schema::quote(table)
        ),
        rusqlite::params_from_iter(values),
    )?;
    Ok(())
}

/// The `threads` row of `id`, if any.
pub fn thread_row(conn: &Connection, id: &str) -> Result<Option<Row>> {
    Ok(select_rows(conn, "threads", "id", id)?.into_iter().next())
}

/// Whether a thread row exists.
pub fn has_thread(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn
        .query_row("SELECT 1 FROM threads WHERE id = ?1", [id], |_| Ok(()))
        .optional()?
        .is_some())
}
