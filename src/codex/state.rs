//! Codex's SQLite databases (`state_5.sqlite`, `thread_history_1.sqlite`), opened the way a
//! careful external writer must: busy timeout >= 5 s, `BEGIN IMMEDIATE` transactions of
//! milliseconds, the journal mode left as it is, and never a migration. A database migrated
//! by a newer Codex than the one cdxs knows is opened read-only, with a warning.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, tick};

pub const STATE_DB: &str = "state_5.sqlite";
pub const HISTORY_DB: &str = "thread_history_1.sqlite";
/// The newest `state_5` migration cdxs knows (Codex 0.169).
pub const KNOWN_STATE_VERSION: i64 = 62;
/// The newest `thread_history_1` migration cdxs knows (Codex 0.169).
pub const KNOWN_HISTORY_VERSION: i64 = 8;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a home keeps its databases: `sqlite_home` in its config.toml, else
/// `$CODEX_SQLITE_HOME`, else the home itself.
pub fn sqlite_home(home: &Path) -> PathBuf {
    if let Ok(text) = std::fs::read_to_string(home.join("config.toml"))
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
    /// Migrated by a newer Codex: only read.
    pub read_only: bool,
}

/// Open `file` in `home`'s sqlite folder. `Ok(None)` when the database does not exist.
pub fn open(home: &Path, file: &str, known: i64, write: bool) -> Result<Option<CodexDb>> {
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
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM _sqlx_migrations", [], |r| {
            r.get(0)
        })
        .map_err(|e| damaged(&path, &e))?;
    let version = version.unwrap_or(0);
    Ok(Some(CodexDb {
        conn,
        path,
        version,
        read_only: version > known || !write,
    }))
}

fn damaged(path: &Path, e: &rusqlite::Error) -> Error {
    Error::user(format!("cannot read Codex's database {}: {e}", tick(path))).with_help(
        "if Codex never ran in this home, run it once; never delete the database (thread names live only there)",
    )
}

impl CodexDb {
    /// Refuse writes to a database a newer Codex migrated.
    pub fn ensure_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::user(format!(
                "{} was migrated by a newer Codex (schema {}); cdxs only reads it",
                tick(&self.path),
                self.version
            ))
            .with_help("upgrade cdxs to change sessions in this home"));
        }
        Ok(())
    }

    /// A short write transaction (`BEGIN IMMEDIATE`), as Codex's own writers expect.
    pub fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.ensure_writable()?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Copy the database with SQLite's online backup API (never a byte copy under a writer).
    pub fn backup_to(&self, dest: &Path) -> Result<()> {
        if let Some(dir) = dest.parent() {
            crate::fsx::ensure_private_dir(dir)?;
        }
        let mut out = Connection::open(dest)?;
        {
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut out)?;
            backup.run_to_completion(256, Duration::from_millis(5), None)?;
        }
        drop(out);
        crate::fsx::restrict_file(dest)?;
        Ok(())
    }

    /// Column names of `table` (schema drift is tolerated: only known columns are used).
    pub fn columns(&self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(&format!("PRAGMA table_info({table})"))?;
        let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
        Ok(names.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Tables that have a column named `column`.
    pub fn tables_with(&self, column: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'")?;
        let tables: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for t in tables {
            if self.columns(&t)?.iter().any(|c| c == column) {
                out.push(t);
            }
        }
        Ok(out)
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
        "SELECT * FROM \"{table}\" WHERE \"{column}\" = ?1"
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

/// Insert `row` into `table`, using only the columns the table still has.
pub fn insert_row(
    tx: &rusqlite::Transaction,
    table: &str,
    row: &Row,
    or_replace: bool,
) -> Result<()> {
    let existing: Vec<String> = {
        let mut stmt = tx.prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
        let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
        names.collect::<rusqlite::Result<Vec<_>>>()?
    };
    let cells: Vec<&(String, Cell)> = row.0.iter().filter(|(c, _)| existing.contains(c)).collect();
    if cells.is_empty() {
        return Ok(());
    }
    let cols = cells
        .iter()
        .map(|(c, _)| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let marks = (1..=cells.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let verb = if or_replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let values: Vec<SqlValue> = cells.iter().map(|(_, v)| v.to_sql()).collect();
    tx.execute(
        &format!("{verb} INTO \"{table}\" ({cols}) VALUES ({marks})"),
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
