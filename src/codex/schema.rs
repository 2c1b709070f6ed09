//! Which Codex databases cdxs may write: a structural version gate.
//!
//! Codex releases come every week or two and most of their migrations only add tables or
//! indexes. A gate on the exact `_sqlx_migrations` number would turn every release into an
//! outage of cdxs's write features, so cdxs compares what it actually touches instead: the
//! `threads` columns, the tables whose rows hang off a thread (by `thread_id`, `session_id`,
//! a spawn edge or a foreign key to `threads`) with their columns, and the migration
//! history. A release cdxs knows writes; an unknown newer schema with the same structure as
//! the newest known release writes (with a note naming the version); anything else is read
//! only, and the message says which tables or columns differ.
//!
//! The known structures are dumps of real Codex databases (`scripts/codex-schema.py`); the
//! real-Codex tests check that cdxs reads the same from the databases each release writes.

use std::collections::BTreeMap;
use std::fmt::Write;

use rusqlite::Connection;

use crate::error::Result;

/// A Codex release cdxs supports, with the schema versions of its databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub codex: &'static str,
    pub state: i64,
    pub history: i64,
}

/// Every supported release, oldest first. Keep in step with `scripts/install-codex.sh`.
pub const RELEASES: &[Release] = &[
    Release {
        codex: "0.169.0",
        state: 62,
        history: 8,
    },
    Release {
        codex: "0.171.0",
        state: 64,
        history: 9,
    },
];

/// Which of Codex's databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    State,
    History,
}

impl Db {
    pub fn of_file(file: &str) -> Option<Db> {
        match file {
            super::state::STATE_DB => Some(Db::State),
            super::state::HISTORY_DB => Some(Db::History),
            _ => None,
        }
    }

    fn version_of(self, r: &Release) -> i64 {
        match self {
            Db::State => r.state,
            Db::History => r.history,
        }
    }

    fn known_text(self, version: i64) -> Option<&'static str> {
        Some(match (self, version) {
            (Db::State, 62) => include_str!("schema/state_5-62.txt"),
            (Db::State, 64) => include_str!("schema/state_5-64.txt"),
            (Db::History, 8) => include_str!("schema/thread_history_1-8.txt"),
            (Db::History, 9) => include_str!("schema/thread_history_1-9.txt"),
            _ => return None,
        })
    }
}

/// Columns that tie a row to a thread.
const LINK_COLUMNS: &[&str] = &[
    "thread_id",
    "session_id",
    "parent_thread_id",
    "child_thread_id",
];

/// A table column that names a thread: rows where `column = <thread id>` belong to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub table: String,
    pub column: String,
}

impl Link {
    /// Rows owned by the thread (as opposed to a spawn edge, which relates two threads).
    pub fn owned(&self) -> bool {
        !matches!(self.column.as_str(), "parent_thread_id" | "child_thread_id")
    }
}

/// `"name"` with inner quotes doubled: identifiers in SQL always come from the live schema,
/// and are quoted anyway.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn tables(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(names.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// `PRAGMA table_info` as (name, spec) pairs; the spec reads like `id TEXT NOT NULL PK1`.
fn columns(conn: &Connection, table: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({})", quote(table)))?;
    let rows = stmt.query_map([], |r| {
        let name: String = r.get(1)?;
        let ty: String = r.get(2)?;
        let not_null: bool = r.get(3)?;
        let default: Option<String> = r.get(4)?;
        let pk: i64 = r.get(5)?;
        let mut spec = format!("{name} {ty}").trim_end().to_string();
        if not_null {
            spec.push_str(" NOT NULL");
        }
        if let Some(d) = default {
            let _ = write!(spec, " DEFAULT {d}");
        }
        if pk > 0 {
            let _ = write!(spec, " PK{pk}");
        }
        Ok((name, spec))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

fn references_threads(conn: &Connection, table: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA foreign_key_list({})", quote(table)))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(2)?, r.get::<_, String>(3)?)))?;
    Ok(rows
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter()
        .filter(|(to, _)| to == "threads")
        .map(|(_, from)| from)
        .collect())
}

/// Every (table, column) of the live schema whose rows hang off a thread (not `threads`).
pub fn links(conn: &Connection) -> Result<Vec<Link>> {
    let mut out = Vec::new();
    for table in tables(conn)? {
        if table == "threads" {
            continue;
        }
        let cols = columns(conn, &table)?;
        let mut linked: Vec<String> = cols
            .iter()
            .filter(|(name, _)| LINK_COLUMNS.contains(&name.as_str()))
            .map(|(name, _)| name.clone())
            .collect();
        for from in references_threads(conn, &table)? {
            if !linked.contains(&from) {
                linked.push(from);
            }
        }
        out.extend(linked.into_iter().map(|column| Link {
            table: table.clone(),
            column,
        }));
    }
    Ok(out)
}

/// What cdxs checks of a database: its migrations, `threads` and the tables that hang off
/// a thread, each with its columns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Structure {
    pub migrations: BTreeMap<i64, String>,
    pub tables: BTreeMap<String, Vec<String>>,
}

impl Structure {
    pub fn read(conn: &Connection) -> Result<Structure> {
        let mut s = Structure::default();
        let mut stmt =
            conn.prepare("SELECT version, description FROM _sqlx_migrations ORDER BY version")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (v, d) = row?;
            s.migrations.insert(v, d);
        }
        let linked: Vec<String> = links(conn)?.into_iter().map(|l| l.table).collect();
        for table in tables(conn)? {
            if table == "threads" || linked.contains(&table) {
                let cols = columns(conn, &table)?.into_iter().map(|(_, s)| s).collect();
                s.tables.insert(table, cols);
            }
        }
        Ok(s)
    }

    /// Create these tables in an empty database (tests and synthetic homes: a database
    /// with exactly the structure a release has). Column specs are SQL but for `PKn`, which
    /// becomes a (composite) primary key after the columns.
    pub fn create_tables(&self, conn: &Connection) -> Result<()> {
        for (t, cols) in &self.tables {
            let defs: Vec<&str> = cols
                .iter()
                .map(|c| c.split(" PK").next().unwrap_or(c))
                .collect();
            let pk: Vec<&str> = cols
                .iter()
                .filter(|c| c.contains(" PK"))
                .filter_map(|c| c.split(' ').next())
                .collect();
            let pk = if pk.is_empty() {
                String::new()
            } else {
                format!(", PRIMARY KEY ({})", pk.join(", "))
            };
            conn.execute_batch(&format!(
                "CREATE TABLE {} ({}{pk});",
                quote(t),
                defs.join(", ")
            ))?;
        }
        Ok(())
    }

    /// The format of `src/codex/schema/*.txt` (without the comment line).
    pub fn parse(text: &str) -> Structure {
        let mut s = Structure::default();
        let mut table: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("migration ") {
                let (v, d) = rest.split_once(' ').unwrap_or((rest, ""));
                if let Ok(v) = v.parse() {
                    s.migrations.insert(v, d.to_string());
                }
            } else if let Some(name) = line.strip_prefix("table ") {
                s.tables.insert(name.to_string(), Vec::new());
                table = Some(name.to_string());
            } else if let (Some(col), Some(t)) = (line.strip_prefix("  "), &table)
                && let Some(cols) = s.tables.get_mut(t)
            {
                cols.push(col.to_string());
            }
        }
        s
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (v, d) in &self.migrations {
            let _ = writeln!(out, "migration {v} {d}");
        }
        for (t, cols) in &self.tables {
            let _ = writeln!(out, "table {t}");
            for c in cols {
                let _ = writeln!(out, "  {c}");
            }
        }
        out
    }

    /// How `self` (a live database) differs from `known`, in words; migrations newer than
    /// the known ones are not differences (they are named in the note instead).
    pub fn differences(&self, known: &Structure) -> Vec<String> {
        let mut out = Vec::new();
        for (v, d) in &known.migrations {
            match self.migrations.get(v) {
                None => out.push(format!("migration {v} (`{d}`) is missing")),
                Some(live) if live != d => {
                    out.push(format!("migration {v} is `{live}`, not `{d}`"))
                }
                Some(_) => {}
            }
        }
        for (table, cols) in &known.tables {
            let Some(live) = self.tables.get(table) else {
                out.push(format!("table `{table}` is gone"));
                continue;
            };
            let name = |spec: &str| spec.split(' ').next().unwrap_or("").to_string();
            for c in cols {
                match live.iter().find(|l| name(l) == name(c)) {
                    None => out.push(format!("`{table}`: column `{}` is gone", name(c))),
                    Some(l) if l != c => {
                        out.push(format!("`{table}`: column `{l}` was `{c}`"));
                    }
                    Some(_) => {}
                }
            }
            for l in live {
                if !cols.iter().any(|c| name(c) == name(l)) {
                    out.push(format!("`{table}`: new column `{l}`"));
                }
            }
        }
        for table in self.tables.keys() {
            if !known.tables.contains_key(table) {
                out.push(format!("new table `{table}` hangs off a thread"));
            }
        }
        out
    }
}

/// The gate's answer for one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A schema of a release cdxs supports: it writes.
    Known { codex: &'static str },
    /// Older than every supported release: cdxs reads and writes what it finds (Codex
    /// migrates it when it next runs there; cdxs never migrates a database).
    Older,
    /// A schema no supported release has, with the same structure as `like`'s: it writes.
    Same {
        like: &'static str,
        known_version: i64,
        /// The migrations newer than `like` knows.
        newer: Vec<String>,
    },
    /// A structure cdxs does not know: it only reads.
    Different {
        like: &'static str,
        known_version: i64,
        differences: Vec<String>,
    },
}

impl Verdict {
    pub fn writable(&self) -> bool {
        !matches!(self, Verdict::Different { .. })
    }
}

/// Judge a database of kind `db` at `version` (its `MAX(_sqlx_migrations.version)`).
pub fn judge(db: Db, version: i64, conn: &Connection) -> Result<Verdict> {
    if let Some(r) = RELEASES.iter().find(|r| db.version_of(r) == version) {
        return Ok(Verdict::Known { codex: r.codex });
    }
    let oldest = RELEASES.first().map(|r| db.version_of(r)).unwrap_or(0);
    if version < oldest {
        return Ok(Verdict::Older);
    }
    // The newest supported release below this version is what it should look like.
    let Some(like) = RELEASES
        .iter()
        .rev()
        .find(|r| db.version_of(r) < version)
        .copied()
    else {
        return Ok(Verdict::Older);
    };
    let known_version = db.version_of(&like);
    let known = Structure::parse(db.known_text(known_version).unwrap_or(""));
    let live = Structure::read(conn)?;
    let differences = live.differences(&known);
    if differences.is_empty() {
        let newer = live
            .migrations
            .range(known_version + 1..)
            .map(|(v, d)| format!("{v} `{d}`"))
            .collect();
        Ok(Verdict::Same {
            like: like.codex,
            known_version,
            newer,
        })
    } else {
        Ok(Verdict::Different {
            like: like.codex,
            known_version,
            differences,
        })
    }
}

/// The structure a supported release's database has (for tests and `doctor`).
pub fn known_structure(db: Db, version: i64) -> Option<Structure> {
    db.known_text(version).map(Structure::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_of(release: &Release, db: Db) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL);",
        )
        .unwrap();
        let known = known_structure(db, db.version_of(release)).unwrap();
        for (v, d) in &known.migrations {
            conn.execute(
                "INSERT INTO _sqlx_migrations VALUES (?1, ?2)",
                rusqlite::params![v, d],
            )
            .unwrap();
        }
        known.create_tables(&conn).unwrap();
        conn
    }

    #[test]
    fn the_known_files_parse_and_render_back() {
        for r in RELEASES {
            for db in [Db::State, Db::History] {
                let text = db.known_text(db.version_of(r)).unwrap();
                let body: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
                assert_eq!(Structure::parse(text).render(), body, "{} {db:?}", r.codex);
            }
        }
    }

    #[test]
    fn a_known_version_writes_without_a_check() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(
            judge(Db::State, 64, &conn).unwrap(),
            Verdict::Known { codex: "0.171.0" }
        );
        assert_eq!(
            judge(Db::History, 8, &conn).unwrap(),
            Verdict::Known { codex: "0.169.0" }
        );
        assert_eq!(judge(Db::State, 40, &conn).unwrap(), Verdict::Older);
    }

    #[test]
    fn a_newer_schema_that_only_adds_an_index_writes() {
        let conn = db_of(&RELEASES[1], Db::State);
        conn.execute_batch(
            "INSERT INTO _sqlx_migrations VALUES (65, 'threads cwd index');
             CREATE INDEX extra ON threads(cwd);",
        )
        .unwrap();
        // The table built here is what the dump says: it reads back identical.
        assert_eq!(
            Structure::read(&conn)
                .unwrap()
                .differences(&known_structure(Db::State, 64).unwrap()),
            Vec::<String>::new()
        );
        assert_eq!(
            judge(Db::State, 65, &conn).unwrap(),
            Verdict::Same {
                like: "0.171.0",
                known_version: 64,
                newer: vec!["65 `threads cwd index`".into()],
            }
        );
    }

    #[test]
    fn a_new_column_or_thread_table_is_read_only_and_named() {
        let conn = db_of(&RELEASES[1], Db::State);
        conn.execute_batch(
            "INSERT INTO _sqlx_migrations VALUES (65, 'threads color');
             ALTER TABLE threads ADD COLUMN color TEXT NOT NULL DEFAULT 'red';
             CREATE TABLE thread_tags (thread_id TEXT NOT NULL, tag TEXT NOT NULL);",
        )
        .unwrap();
        let v = judge(Db::State, 65, &conn).unwrap();
        assert_eq!(
            v,
            Verdict::Different {
                like: "0.171.0",
                known_version: 64,
                differences: vec![
                    "`threads`: new column `color TEXT NOT NULL DEFAULT 'red'`".into(),
                    "new table `thread_tags` hangs off a thread".into(),
                ],
            }
        );
        assert!(!v.writable());
    }

    #[test]
    fn links_come_from_the_live_schema() {
        let conn = db_of(&RELEASES[1], Db::State);
        let got: Vec<(String, String)> = links(&conn)
            .unwrap()
            .into_iter()
            .map(|l| (l.table, l.column))
            .collect();
        let want = [
            ("guardian_review_feedback", "thread_id"),
            ("session_model_ids", "session_id"),
            ("thread_attachments", "thread_id"),
            ("thread_dynamic_tools", "thread_id"),
            ("thread_read_receipts", "thread_id"),
            ("thread_spawn_edges", "parent_thread_id"),
            ("thread_spawn_edges", "child_thread_id"),
        ];
        assert_eq!(
            got,
            want.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        );
    }
}
