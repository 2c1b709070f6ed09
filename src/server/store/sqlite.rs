//! The embedded SQLite backend (`<state_dir>/server.db` by default): WAL, a few reader
//! connections and one writer, each call on tokio's blocking pool so the async threads
//! never wait on the disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Semaphore;

use super::*;

/// Migrations of the SQLite schema; entry `n` brings a database to version `n + 1`.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE users (
        id             INTEGER PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        password_hash  TEXT NOT NULL,
        key_id         TEXT,
        revision       INTEGER NOT NULL DEFAULT 0,
        created_at     INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id            INTEGER PRIMARY KEY,
        user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        token_hash    TEXT NOT NULL UNIQUE,
        device        TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        last_used_at  INTEGER,
        expires_at    INTEGER NOT NULL
    );
    CREATE INDEX tokens_user ON tokens (user_id);
    CREATE TABLE records (
        user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        record_id   TEXT NOT NULL,
        version     INTEGER NOT NULL,
        revision    INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        deleted     INTEGER NOT NULL,
        nonce       TEXT NOT NULL,
        ciphertext  TEXT NOT NULL,
        PRIMARY KEY (user_id, record_id)
    );
    CREATE INDEX records_revision ON records (user_id, revision);
    CREATE TABLE leases (
        user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        record_id  TEXT NOT NULL,
        holder     TEXT NOT NULL,
        until      INTEGER NOT NULL,
        PRIMARY KEY (user_id, record_id)
    );
    "#];

const READERS: usize = 4;

struct Pool {
    conns: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

pub struct SqliteStore {
    path: PathBuf,
    readers: Arc<Pool>,
    writer: Arc<Pool>,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The bundled SQLite has STAT4: without the planner stability guarantee, a cached
    // statement with a range on a bound parameter is re-parsed at every new binding.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

/// Bring the schema up to date, refusing a newer one. Used by both the server and the
/// admin commands.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::NewerSchema {
            found: current,
            known,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsx::ensure_private_dir(dir).map_err(|e| StoreError::Db(e.to_string()))?;
        }
        if !path.exists() {
            crate::platform::fs::with_mode(
                std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false),
                crate::fsx::SECRET_FILE_MODE,
            )
            .open(path)
            .map_err(|e| StoreError::Db(format!("cannot create `{}`: {e}", path.display())))?;
        }
        let mut writer = connect(path)?;
        migrate(&mut writer)?;
        let mut readers = Vec::new();
        for _ in 0..READERS {
            readers.push(connect(path)?);
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = crate::fsx::restrict_file(Path::new(&format!("{}{suffix}", path.display())));
        }
        Ok(SqliteStore {
            path: path.to_path_buf(),
            readers: Arc::new(Pool {
                conns: Mutex::new(readers),
                permits: Arc::new(Semaphore::new(READERS)),
            }),
            writer: Arc::new(Pool {
                conns: Mutex::new(vec![writer]),
                permits: Arc::new(Semaphore::new(1)),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Run `f` on a pooled connection on the blocking pool. The connection goes back to the
/// pool (and the permit is released) inside the blocking task, so a request cancelled
/// while it waits (the client went away) never loses a connection.
fn with<T: Send + 'static>(
    pool: &Arc<Pool>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
) -> Fut<'static, T> {
    let pool = pool.clone();
    Box::pin(async move {
        let permit = pool
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Db("the connection pool is closed".into()))?;
        tokio::task::spawn_blocking(move || run_on(&pool, permit, f))
            .await
            .map_err(|e| StoreError::Db(format!("a database task failed: {e}")))?
    })
}

/// A read on the calling (async) thread when a reader connection is free: reads of a WAL
/// database are microseconds against pages in memory, and a hop to the blocking pool costs
/// more than the query (two context switches). Never for writes: those may wait on the
/// write lock, and they go through [`with`].
fn read<T: Send + 'static>(
    pool: &Arc<Pool>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
) -> Fut<'static, T> {
    let pool = pool.clone();
    Box::pin(async move {
        let Ok(permit) = pool.permits.clone().try_acquire_owned() else {
            return with(&pool, f).await;
        };
        run_on(&pool, permit, f)
    })
}

/// Take a connection for the permit, run `f`, give the connection back. A panic loses that
/// connection: the pool shrinks by one (the permit is forgotten) instead of lying.
fn run_on<T>(
    pool: &Pool,
    permit: tokio::sync::OwnedSemaphorePermit,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut conn = pool
        .conns
        .lock()
        .map_err(|_| StoreError::Db("the connection pool is poisoned".into()))?
        .pop()
        .ok_or_else(|| StoreError::Db("no free connection".into()))?;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn))) {
        Ok(out) => {
            if let Ok(mut conns) = pool.conns.lock() {
                conns.push(conn);
            }
            drop(permit);
            out
        }
        Err(_) => {
            permit.forget();
            Err(StoreError::Db("a database task panicked".into()))
        }
    }
}

fn lookup_token(
    c: &mut Connection,
    token_hash: &str,
    now: i64,
) -> Result<Option<(TokenInfo, Option<i64>)>, StoreError> {
    Ok(c.prepare_cached(
        "SELECT t.id, t.user_id, u.name, t.device, u.key_id, t.last_used_at \
         FROM tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = ?1 AND t.expires_at > ?2",
    )?
    .query_row(params![token_hash, now], |r| {
        Ok((
            TokenInfo {
                token_id: r.get(0)?,
                user_id: r.get(1)?,
                user: r.get(2)?,
                device: r.get(3)?,
                key_id: r.get(4)?,
            },
            r.get::<_, Option<i64>>(5)?,
        ))
    })
    .optional()?)
}

/// Note a token's use, at most once a minute (a write per request would serialize reads).
async fn note_use(
    writer: &Arc<Pool>,
    info: &TokenInfo,
    last_used: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    if last_used.is_some_and(|t| t >= now - 60) {
        return Ok(());
    }
    let id = info.token_id;
    with(writer, move |c| {
        c.execute(
            "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        Ok(())
    })
    .await
}

/// The revision first, then the records: a push that lands in between only adds whole
/// revisions, and the page says the larger revision.
fn page(c: &mut Connection, user_id: i64, since: i64, limit: usize) -> Result<Page, StoreError> {
    let current: i64 = c
        .prepare_cached("SELECT revision FROM users WHERE id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    if limit == 0 {
        return Ok(Page {
            revision: current,
            records: Vec::new(),
            more: false,
        });
    }
    let rows = c
        .prepare_cached(
            "SELECT revision, record_id, version, updated_at, deleted, nonce, ciphertext \
             FROM records WHERE user_id = ?1 AND revision > ?2 \
             ORDER BY revision, record_id LIMIT ?3",
        )?
        .query_map(params![user_id, since, (limit + 1) as i64], record_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(cut_page(rows, limit, current))
}

fn record_row(r: &rusqlite::Row) -> rusqlite::Result<(i64, Record)> {
    Ok((
        r.get(0)?,
        Record {
            record_id: r.get(1)?,
            version: r.get::<_, i64>(2)?.max(0) as u64,
            updated_at: r.get(3)?,
            deleted: r.get::<_, i64>(4)? != 0,
            nonce: r.get(5)?,
            ciphertext: r.get(6)?,
        },
    ))
}

impl Storage for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn create_user(&self, name: String, password_hash: String, now: i64) -> Fut<'_, bool> {
        with(&self.writer, move |c| {
            let n = c.execute(
                "INSERT INTO users (name, password_hash, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name) DO NOTHING",
                params![name, password_hash, now],
            )?;
            Ok(n == 1)
        })
    }

    fn user(&self, name: String) -> Fut<'_, Option<UserRow>> {
        with(&self.readers, move |c| {
            Ok(c.prepare_cached(
                "SELECT id, name, password_hash, key_id FROM users WHERE name = ?1",
            )?
            .query_row([name], |r| {
                Ok(UserRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    password_hash: r.get(2)?,
                    key_id: r.get(3)?,
                })
            })
            .optional()?)
        })
    }

    fn users(&self, now: i64) -> Fut<'_, Vec<UserSummary>> {
        with(&self.readers, move |c| {
            let mut out = Vec::new();
            let mut stmt = c.prepare(
                "SELECT u.id, u.name, u.created_at, u.revision, u.key_id, u.password_hash, \
                 (SELECT COUNT(*) FROM records r WHERE r.user_id = u.id AND r.deleted = 0) \
                 FROM users u ORDER BY u.name",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    UserSummary {
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                        revision: r.get(3)?,
                        key_id: r.get(4)?,
                        legacy_hash: r.get::<_, String>(5)?.starts_with("legacy-"),
                        records: r.get(6)?,
                        devices: Vec::new(),
                    },
                ))
            })?;
            for row in rows {
                out.push(row?);
            }
            let mut dev = c.prepare(
                "SELECT device, created_at, last_used_at, expires_at FROM tokens \
                 WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at",
            )?;
            for (id, u) in out.iter_mut() {
                let rows = dev.query_map(params![*id, now], |r| {
                    Ok(Device {
                        device: r.get(0)?,
                        created_at: r.get(1)?,
                        last_used_at: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                })?;
                u.devices = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            }
            Ok(out.into_iter().map(|(_, u)| u).collect())
        })
    }

    fn remove_user(&self, name: String) -> Fut<'_, bool> {
        with(&self.writer, move |c| {
            Ok(c.execute("DELETE FROM users WHERE name = ?1", [name])? == 1)
        })
    }

    fn set_password(&self, name: String, password_hash: String, revoke: bool) -> Fut<'_, bool> {
        with(&self.writer, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE users SET password_hash = ?2 WHERE name = ?1",
                params![name, password_hash],
            )?;
            if n == 1 && revoke {
                tx.execute(
                    "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = ?1)",
                    [&name],
                )?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
    }

    fn create_token(
        &self,
        user_id: i64,
        token_hash: String,
        device: String,
        now: i64,
        expires_at: i64,
    ) -> Fut<'_, ()> {
        with(&self.writer, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Expired tokens of anyone go on the way (keeps the table small).
            tx.execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO tokens (user_id, token_hash, device, created_at, last_used_at, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                params![user_id, token_hash, device, now, expires_at],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn token(&self, token_hash: String, now: i64) -> Fut<'_, Option<TokenInfo>> {
        let found = read(&self.readers, move |c| lookup_token(c, &token_hash, now));
        let writer = self.writer.clone();
        Box::pin(async move {
            let Some((info, last_used)) = found.await? else {
                return Ok(None);
            };
            note_use(&writer, &info, last_used, now).await?;
            Ok(Some(info))
        })
    }

    fn pull(
        &self,
        token_hash: String,
        since: i64,
        limit: usize,
        now: i64,
    ) -> Fut<'_, Option<(TokenInfo, Page)>> {
        // One read for the token and the page.
        let found = read(&self.readers, move |c| {
            let Some((info, last_used)) = lookup_token(c, &token_hash, now)? else {
                return Ok(None);
            };
            let page = page(c, info.user_id, since, limit)?;
            Ok(Some((info, last_used, page)))
        });
        let writer = self.writer.clone();
        Box::pin(async move {
            let Some((info, last_used, page)) = found.await? else {
                return Ok(None);
            };
            note_use(&writer, &info, last_used, now).await?;
            Ok(Some((info, page)))
        })
    }

    fn revoke_token(&self, token_hash: String) -> Fut<'_, bool> {
        with(&self.writer, move |c| {
            Ok(c.execute("DELETE FROM tokens WHERE token_hash = ?1", [token_hash])? == 1)
        })
    }

    fn set_key_id(&self, user_id: i64, key_id: String) -> Fut<'_, KeySet> {
        with(&self.writer, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<String> =
                tx.query_row("SELECT key_id FROM users WHERE id = ?1", [user_id], |r| {
                    r.get(0)
                })?;
            let out = match current {
                Some(k) if k == key_id => KeySet::Same,
                Some(k) => KeySet::Mismatch(k),
                None => {
                    tx.execute(
                        "UPDATE users SET key_id = ?2 WHERE id = ?1",
                        params![user_id, key_id],
                    )?;
                    KeySet::Set
                }
            };
            tx.commit()?;
            Ok(out)
        })
    }

    fn push(
        &self,
        user_id: i64,
        base_revision: i64,
        key_id: Option<String>,
        records: Vec<Record>,
        now: i64,
    ) -> Fut<'_, PushOutcome> {
        with(&self.writer, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (revision, stored_key): (i64, Option<String>) = tx.query_row(
                "SELECT revision, key_id FROM users WHERE id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let (Some(stored), Some(given)) = (&stored_key, &key_id)
                && stored != given
            {
                return Ok(PushOutcome::KeyMismatch(stored.clone()));
            }
            if revision != base_revision {
                return Ok(PushOutcome::Conflict(revision));
            }
            let next = revision + 1;
            {
                let mut up = tx.prepare_cached(
                    "INSERT INTO records (user_id, record_id, version, revision, updated_at, \
                     deleted, nonce, ciphertext) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (user_id, record_id) DO UPDATE SET version = excluded.version, \
                     revision = excluded.revision, updated_at = excluded.updated_at, \
                     deleted = excluded.deleted, nonce = excluded.nonce, \
                     ciphertext = excluded.ciphertext WHERE records.version < excluded.version",
                )?;
                for r in &records {
                    let n = up.execute(params![
                        user_id,
                        r.record_id,
                        r.version as i64,
                        next,
                        now,
                        r.deleted as i64,
                        r.nonce,
                        r.ciphertext
                    ])?;
                    if n != 1 {
                        // A version that does not grow: the client works from old data.
                        return Ok(PushOutcome::Conflict(revision));
                    }
                }
            }
            tx.execute(
                "UPDATE users SET revision = ?2, key_id = COALESCE(key_id, ?3) WHERE id = ?1",
                params![user_id, next, key_id],
            )?;
            tx.commit()?;
            Ok(PushOutcome::Stored(next))
        })
    }

    fn take_lease(
        &self,
        user_id: i64,
        record_id: String,
        holder: String,
        ttl_s: i64,
        now: i64,
    ) -> Fut<'_, LeaseOutcome> {
        with(&self.writer, move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let current: Option<(String, i64)> = tx
                .query_row(
                    "SELECT holder, until FROM leases WHERE user_id = ?1 AND record_id = ?2",
                    params![user_id, record_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((h, until)) = current
                && h != holder
                && until > now
            {
                return Ok(LeaseOutcome::Held { holder: h, until });
            }
            let until = now + ttl_s;
            tx.execute(
                "INSERT INTO leases (user_id, record_id, holder, until) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (user_id, record_id) DO UPDATE SET holder = excluded.holder, \
                 until = excluded.until",
                params![user_id, record_id, holder, until],
            )?;
            tx.commit()?;
            Ok(LeaseOutcome::Granted(until))
        })
    }

    fn release_lease(&self, user_id: i64, record_id: String, holder: String) -> Fut<'_, bool> {
        with(&self.writer, move |c| {
            Ok(c.execute(
                "DELETE FROM leases WHERE user_id = ?1 AND record_id = ?2 AND holder = ?3",
                params![user_id, record_id, holder],
            )? == 1)
        })
    }

    fn leases(&self, user_id: i64, now: i64) -> Fut<'_, Vec<LeaseHeld>> {
        with(&self.readers, move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT record_id, holder, until FROM leases WHERE user_id = ?1 AND until > ?2 \
                 ORDER BY record_id",
            )?;
            let rows = stmt.query_map(params![user_id, now], |r| {
                Ok(LeaseHeld {
                    record_id: Some(r.get(0)?),
                    holder: r.get(1)?,
                    until: r.get(2)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}
