//! The vault: one SQLite database `<state_dir>/cdxs.db` (folder 0700, files 0600, WAL) with
//! accounts, tokens, API keys, quota cache and, later, the apply journal.
//!
//! Concurrency: every connection has a busy timeout and writes run in short
//! `BEGIN IMMEDIATE` transactions, so several cdxs processes can share one vault.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::error::{Error, IoContext, Result, tick};
use crate::fsx;

pub mod accounts;
pub mod backups;
pub mod freshness;
pub mod heads;
pub mod home_write;
pub mod ids;
pub mod journal;
pub mod lock;
mod migrations;
pub mod placement;
pub mod quota;
pub mod tokens;

pub use accounts::{Account, AccountKind};

pub const VAULT_FILE: &str = "cdxs.db";
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Vault {
    conn: Connection,
    state_dir: PathBuf,
}

/// `(email or name, id)` of every account, for shell completions: opened read only, never
/// created or migrated (`None` when there is no vault, or it cannot be read).
pub fn names_read_only(state_dir: &Path) -> Option<Vec<(String, String)>> {
    let path = state_dir.join(VAULT_FILE);
    if !path.is_file() {
        return None;
    }
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    let mut stmt = conn
        .prepare("SELECT COALESCE(email, label, id), id FROM accounts ORDER BY 1")
        .ok()?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .ok()?;
    Some(rows.flatten().collect())
}

impl Vault {
    /// Open (creating and migrating when needed) the vault in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Vault> {
        fsx::ensure_private_dir(state_dir)?;
        let path = state_dir.join(VAULT_FILE);
        if !path.exists() {
            // Create the file 0600 ourselves so SQLite never makes it world-readable;
            // SQLite gives -wal and -shm the database file's mode.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode_0600()
                .open(&path)
                .context(|| format!("cannot create the vault {}", tick(&path)))?;
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_error(&path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| open_error(&path, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        }
        // FULL: a refresh token rotated a moment before a power loss must survive it (the
        // issuer has already forgotten the one it replaced).
        conn.pragma_update(None, "synchronous", "FULL")?;
        // A removed account's tokens and keys must not stay in freed pages of the file.
        conn.pragma_update(None, "secure_delete", true)?;
        let mut vault = Vault {
            conn,
            state_dir: state_dir.to_path_buf(),
        };
        vault.migrate()?;
        for suffix in ["", "-wal", "-shm"] {
            fsx::restrict_file(&state_dir.join(format!("{VAULT_FILE}{suffix}")))?;
        }
        Ok(vault)
    }

    /// `PRAGMA synchronous` of this connection (2 = FULL).
    pub fn synchronous(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))?)
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn path(&self) -> PathBuf {
        self.state_dir.join(VAULT_FILE)
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Run `f` in a `BEGIN IMMEDIATE` transaction (takes the write lock up front, so two
    /// writers never deadlock on an upgrade).
    pub fn write<T>(&mut self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn migrate(&mut self) -> Result<()> {
        let current: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = migrations::MIGRATIONS.len() as i64;
        if current > known {
            return Err(Error::user(format!(
                "the vault {} was written by a newer cdxs (schema {current}, this one knows {known})",
                tick(&self.path())
            ))
            .with_help("upgrade cdxs; this version will not touch a newer vault"));
        }
        if current == known {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated meanwhile.
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (index, sql) in migrations::MIGRATIONS
            .iter()
            .enumerate()
            .skip(current as usize)
        {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// The key/value `meta` table (the sync client keeps this machine's device id there).
impl Vault {
    pub fn meta_get(&self, key: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    pub fn meta_set(&mut self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
    }
}

fn open_error(path: &Path, e: rusqlite::Error) -> Error {
    Error::user(format!("cannot open the vault {}: {e}", tick(path))).with_help(
        "if the file is damaged, move it aside and re-import your accounts (`cdxs import auth`)",
    )
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        crate::platform::fs::with_mode(self, fsx::SECRET_FILE_MODE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_files_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let v = Vault::open(&state).unwrap();
        let version: i64 = v
            .conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, migrations::MIGRATIONS.len() as i64);
        drop(v);
        Vault::open(&state).unwrap();
        if !crate::platform::fs::HAS_MODES {
            return;
        }
        assert_eq!(fsx::mode_of(&state), Some(0o700));
        for entry in std::fs::read_dir(&state).unwrap() {
            let entry = entry.unwrap();
            assert_eq!(
                fsx::mode_of(&entry.path()),
                Some(0o600),
                "{:?}",
                entry.file_name()
            );
        }
    }

    #[test]
    fn refuses_a_newer_vault() {
        let dir = tempfile::tempdir().unwrap();
        let v = Vault::open(dir.path()).unwrap();
        v.conn().pragma_update(None, "user_version", 999).unwrap();
        drop(v);
        let err = Vault::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("newer cdxs"), "{err}");
    }
}
