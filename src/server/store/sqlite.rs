//! The embedded SQLite backend (`<state_dir>/server.db` by default): WAL, a few reader
//! connections and one writer. Reads and small writes run on the calling async thread when
//! a connection is free (microseconds against pages in memory, never an fsync, never a wait
//! for another process's lock); everything else runs on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Semaphore;

use super::*;

/// Migrations of the SQLite schema; entry `n` brings a database to version `n + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
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
    "#,
    // 2: fenced leases. A lease is held by a device id (or a login), named for messages,
    // and carries a generation from the user's counter that only grows.
    r#"
    ALTER TABLE tokens ADD COLUMN device_id TEXT;
    ALTER TABLE users ADD COLUMN lease_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE leases ADD COLUMN holder_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE leases ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
    DELETE FROM leases;
    -- Every login purges expired tokens: by an index, not a scan of all users' tokens.
    CREATE INDEX tokens_expiry ON tokens (expires_at);
    "#,
];

const READERS: usize = 4;

struct Pool {
    conns: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

/// What the writer's commits tell (SQLite's WAL hook), so that its writes may run on an
/// async thread and still never fsync there. With `synchronous = NORMAL` a WAL commit writes
/// to the page cache only; the fsyncs are the checkpoint's (WAL, then database) and the WAL
/// header's, written by the first commit after a complete checkpoint (the WAL restarts).
/// (An admin command in another process checkpoints on its own, at SQLite's default of
/// 1,000 pages: the one header fsync that may follow is the price of a rare event.)
struct Wal {
    /// A checkpoint ran and no commit has written since: the next commit may restart the
    /// WAL (an fsync), so it runs on the blocking pool.
    restart_due: AtomicBool,
    /// The WAL holds [`CHECKPOINT_PAGES`] frames: checkpoint it on the blocking pool.
    checkpoint_due: AtomicBool,
}

/// How long a connection waits for another process's lock.
const BUSY_WAIT: Duration = Duration::from_secs(10);
/// WAL frames that call for a checkpoint (SQLite's own default; SQLite's automatic
/// checkpoint is off on the writer, it would run on the committing thread).
const CHECKPOINT_PAGES: i32 = 1000;
/// A push this small may be written on the async thread (a few hundred microseconds);
/// larger ones (up to `--max-body`) go to the blocking pool.
const SMALL_WRITE: usize = 64 * 1024;

pub struct SqliteStore {
    path: PathBuf,
    readers: Arc<Pool>,
    writer: Arc<Pool>,
    wal: Arc<Wal>,
    uses: UseNotes,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_WAIT)?;
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
        // The writer's commits may run on an async thread (`write_small`): the hook replaces
        // SQLite's automatic checkpoint (which would run in the commit) with flags.
        let wal = Arc::new(Wal {
            // The WAL may be new or checkpointed: the first commit may write its header.
            restart_due: AtomicBool::new(true),
            checkpoint_due: AtomicBool::new(false),
        });
        let seen = wal.clone();
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, frames: i32| {
            seen.restart_due.store(false, Ordering::Relaxed);
            if frames >= CHECKPOINT_PAGES {
                seen.checkpoint_due.store(true, Ordering::Relaxed);
            }
            Ok(())
        }))?;
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
            wal,
            uses: UseNotes::default(),
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

impl SqliteStore {
    /// A write on the blocking pool: it may wait for another process's lock.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Fut<'static, T> {
        blocking_write(&self.writer, &self.wal, f)
    }

    /// A small write (a push of a few records, a lease) on the calling (async) thread when
    /// the writer connection is free: its transaction is a few hundred microseconds against
    /// pages in memory, less than the two thread switches of a hop to the blocking pool. It
    /// goes to the blocking pool instead when it might fsync there (a checkpoint ran since
    /// the last commit, see [`Wal`]) or wait (another process holds the write lock: tried
    /// without waiting, `Busy` at once, then again there; `f` may run twice, and a failed
    /// attempt is rolled back).
    fn write_small<T: Send + 'static>(
        &self,
        f: impl Fn(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Fut<'static, T> {
        let (pool, wal) = (self.writer.clone(), self.wal.clone());
        Box::pin(async move {
            if let Ok(permit) = pool.permits.clone().try_acquire_owned()
                && !wal.restart_due.load(Ordering::Relaxed)
            {
                match run_on(&pool, permit, |c| without_waiting(c, &f)) {
                    Err(StoreError::Busy) => {}
                    done => {
                        if wal.checkpoint_due.swap(false, Ordering::Relaxed) {
                            let later = with(&pool, move |c| {
                                checkpoint(c, &wal);
                                Ok(())
                            });
                            tokio::spawn(later);
                        }
                        return done;
                    }
                }
            }
            blocking_write(&pool, &wal, f).await
        })
    }
}

/// `f` on the writer connection on the blocking pool, then the checkpoint the WAL hook
/// asked for, if any.
fn blocking_write<T: Send + 'static>(
    pool: &Arc<Pool>,
    wal: &Arc<Wal>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
) -> Fut<'static, T> {
    let wal = wal.clone();
    with(pool, move |c| {
        let out = f(c);
        if wal.checkpoint_due.swap(false, Ordering::Relaxed) {
            checkpoint(c, &wal);
        }
        out
    })
}

/// A PASSIVE checkpoint of the writer's WAL (fsyncs: blocking pool only). Never fails a
/// write: a checkpoint that cannot run now runs at the next call.
fn checkpoint(c: &Connection, wal: &Wal) {
    match c.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE) {
        Ok((frames, _)) => {
            if frames > 0 {
                wal.restart_due.store(true, Ordering::Relaxed);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot checkpoint the server database"),
    }
}

/// Run `f` with no wait for another process's lock (`StoreError::Busy` at once).
fn without_waiting<T>(
    c: &mut Connection,
    f: &impl Fn(&mut Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    c.busy_timeout(Duration::ZERO)?;
    let out = f(c);
    c.busy_timeout(BUSY_WAIT)?;
    out
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
        "SELECT t.id, t.user_id, u.name, t.device, u.key_id, t.last_used_at, t.device_id \
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
                device_id: r.get(6)?,
            },
            r.get::<_, Option<i64>>(5)?,
        ))
    })
    .optional()?)
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
            revision: None,
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
        self.write(move |c| {
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
        self.write(move |c| Ok(c.execute("DELETE FROM users WHERE name = ?1", [name])? == 1))
    }

    fn set_password(&self, name: String, password_hash: String, revoke: bool) -> Fut<'_, bool> {
        self.write(move |c| {
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
        device_id: Option<String>,
        now: i64,
        expires_at: i64,
    ) -> Fut<'_, ()> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Expired tokens of anyone go on the way (keeps the table small).
            tx.execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])?;
            tx.execute(
                "INSERT INTO tokens (user_id, token_hash, device, device_id, created_at, \
                 last_used_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
                params![user_id, token_hash, device, device_id, now, expires_at],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn token(&self, token_hash: String, now: i64) -> Fut<'_, Option<TokenInfo>> {
        let found = read(&self.readers, move |c| lookup_token(c, &token_hash, now));
        Box::pin(async move {
            let Some((info, last_used)) = found.await? else {
                return Ok(None);
            };
            self.uses.note(info.token_id, last_used, now);
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
        Box::pin(async move {
            let Some((info, last_used, page)) = found.await? else {
                return Ok(None);
            };
            self.uses.note(info.token_id, last_used, now);
            Ok(Some((info, page)))
        })
    }

    /// Also the writer's regular checkpoint (every 2 s, a no-op when the WAL holds nothing
    /// new): a commit sits in the page cache until a checkpoint syncs it.
    fn flush_uses(&self) -> Fut<'_, ()> {
        let noted = self.uses.take();
        let wal = self.wal.clone();
        with(&self.writer, move |c| {
            if !noted.is_empty() {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut up = tx.prepare_cached(
                        "UPDATE tokens SET last_used_at = ?2 WHERE id = ?1 \
                         AND (last_used_at IS NULL OR last_used_at < ?2)",
                    )?;
                    for (id, at) in noted {
                        up.execute(params![id, at])?;
                    }
                }
                tx.commit()?;
            }
            wal.checkpoint_due.store(false, Ordering::Relaxed);
            checkpoint(c, &wal);
            Ok(())
        })
    }

    fn revoke_token(&self, token_hash: String) -> Fut<'_, bool> {
        self.write(move |c| {
            Ok(c.execute("DELETE FROM tokens WHERE token_hash = ?1", [token_hash])? == 1)
        })
    }

    fn set_key_id(&self, user_id: i64, key_id: String) -> Fut<'_, KeySet> {
        self.write(move |c| {
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

    fn push(&self, user_id: i64, push: Push, now: i64) -> Fut<'_, PushOutcome> {
        let bytes: usize = push.records.iter().map(|r| r.ciphertext.len()).sum();
        let write = move |c: &mut Connection| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = store_push(&tx, user_id, &push, None, now)?;
            if matches!(out, PushOutcome::Stored(_)) {
                tx.commit()?;
            }
            Ok(out)
        };
        if bytes <= SMALL_WRITE {
            self.write_small(write)
        } else {
            self.write(write)
        }
    }

    fn rotate_key(
        &self,
        user_id: i64,
        old: String,
        new: String,
        push: Push,
        now: i64,
    ) -> Fut<'_, PushOutcome> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = store_push(&tx, user_id, &push, Some((&old, &new)), now)?;
            if matches!(out, PushOutcome::Stored(_)) {
                tx.commit()?;
            }
            Ok(out)
        })
    }

    fn take_lease(&self, user_id: i64, ask: LeaseAsk, now: i64) -> Fut<'_, LeaseOutcome> {
        self.write_small(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Expired leases of this user go first: a lease table per user stays as small
            // as the leases in use.
            tx.prepare_cached("DELETE FROM leases WHERE user_id = ?1 AND until <= ?2")?
                .execute(params![user_id, now])?;
            let current: Option<LeaseRow> = tx
                .prepare_cached(
                    "SELECT holder, holder_name, until, generation FROM leases \
                     WHERE user_id = ?1 AND record_id = ?2",
                )?
                .query_row(params![user_id, ask.record_id], |r| {
                    Ok(LeaseRow {
                        holder: r.get(0)?,
                        holder_name: r.get(1)?,
                        until: r.get(2)?,
                        generation: r.get(3)?,
                    })
                })
                .optional()?;
            let until = now + ask.ttl_s;
            let out = match lease_decision(current.as_ref(), &ask) {
                Decision::Held { holder, until } => LeaseOutcome::Held { holder, until },
                Decision::Lost => LeaseOutcome::Lost,
                Decision::Extend(generation) => {
                    tx.prepare_cached(
                        "UPDATE leases SET until = ?3, holder_name = ?4 \
                         WHERE user_id = ?1 AND record_id = ?2",
                    )?
                    .execute(params![
                        user_id,
                        ask.record_id,
                        until,
                        ask.holder.name
                    ])?;
                    LeaseOutcome::Granted(LeaseGrant { until, generation })
                }
                Decision::New => {
                    let live: i64 = tx
                        .prepare_cached("SELECT COUNT(*) FROM leases WHERE user_id = ?1")?
                        .query_row([user_id], |r| r.get(0))?;
                    if live as usize >= ask.max_leases {
                        return Ok(LeaseOutcome::TooMany(ask.max_leases));
                    }
                    let generation: i64 = tx
                        .prepare_cached(
                            "UPDATE users SET lease_seq = lease_seq + 1 WHERE id = ?1 \
                             RETURNING lease_seq",
                        )?
                        .query_row([user_id], |r| r.get(0))?;
                    tx.prepare_cached(
                        "INSERT INTO leases (user_id, record_id, holder, holder_name, until, \
                         generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                         ON CONFLICT (user_id, record_id) DO UPDATE SET holder = excluded.holder, \
                         holder_name = excluded.holder_name, until = excluded.until, \
                         generation = excluded.generation",
                    )?
                    .execute(params![
                        user_id,
                        ask.record_id,
                        ask.holder.key,
                        ask.holder.name,
                        until,
                        generation
                    ])?;
                    LeaseOutcome::Granted(LeaseGrant { until, generation })
                }
            };
            tx.commit()?;
            Ok(out)
        })
    }

    fn release_lease(
        &self,
        user_id: i64,
        record_id: String,
        holder_key: String,
        generation: Option<i64>,
    ) -> Fut<'_, bool> {
        self.write(move |c| {
            Ok(c.execute(
                "DELETE FROM leases WHERE user_id = ?1 AND record_id = ?2 AND holder = ?3 \
                 AND (?4 IS NULL OR generation = ?4)",
                params![user_id, record_id, holder_key, generation],
            )? == 1)
        })
    }

    fn leases(&self, user_id: i64, now: i64) -> Fut<'_, Vec<LeaseHeld>> {
        with(&self.readers, move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT record_id, holder_name, until FROM leases WHERE user_id = ?1 \
                 AND until > ?2 ORDER BY record_id",
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

/// A push (or, with `rotate`, a key rotation) inside the caller's write transaction.
/// Nothing is committed here; the caller commits a `Stored` outcome only.
fn store_push(
    tx: &rusqlite::Transaction,
    user_id: i64,
    push: &Push,
    rotate: Option<(&str, &str)>,
    now: i64,
) -> Result<PushOutcome, StoreError> {
    let revision = match current_revision(tx, user_id, push, rotate)? {
        Ok(revision) => revision,
        Err(refused) => return Ok(refused),
    };
    if let Some(f) = &push.fence {
        let current: Option<(String, i64)> = tx
            .prepare_cached(
                "SELECT holder, generation FROM leases WHERE user_id = ?1 AND record_id = ?2",
            )?
            .query_row(params![user_id, f.record_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        if current != Some((push.holder_key.clone(), f.generation)) {
            return Ok(PushOutcome::LeaseLost);
        }
    }
    let next = revision + 1;
    if rotate.is_some() {
        tx.prepare_cached("DELETE FROM records WHERE user_id = ?1")?
            .execute([user_id])?;
    }
    if let Some(stale) = upsert_records(tx, user_id, &push.records, revision, now)? {
        return Ok(stale);
    }
    // Records a user holds are capped: counted in the same transaction (an index range of
    // the user's own rows).
    let cap = push.limits.max_user_records;
    if !push.records.is_empty() {
        let held: i64 = tx
            .prepare_cached("SELECT COUNT(*) FROM records WHERE user_id = ?1")?
            .query_row([user_id], |r| r.get(0))?;
        if held as usize > cap {
            return Ok(PushOutcome::TooManyRecords(cap));
        }
    }
    let new_key = match rotate {
        Some((_, new)) => Some(new.to_string()),
        None => push.key_id.clone(),
    };
    if rotate.is_some() {
        tx.prepare_cached("UPDATE users SET revision = ?2, key_id = ?3 WHERE id = ?1")?
            .execute(params![user_id, next, new_key])?;
    } else {
        tx.prepare_cached(
            "UPDATE users SET revision = ?2, key_id = COALESCE(key_id, ?3) WHERE id = ?1",
        )?
        .execute(params![user_id, next, new_key])?;
    }
    Ok(PushOutcome::Stored(next))
}

/// The user's revision when the push is based on it and names the user's key (the old one,
/// for a rotation); else why not.
fn current_revision(
    tx: &rusqlite::Transaction,
    user_id: i64,
    push: &Push,
    rotate: Option<(&str, &str)>,
) -> Result<Result<i64, PushOutcome>, StoreError> {
    let (revision, stored_key): (i64, Option<String>) = tx
        .prepare_cached("SELECT revision, key_id FROM users WHERE id = ?1")?
        .query_row([user_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let expected_key = match rotate {
        Some((old, _)) => Some(old.to_string()),
        None => push.key_id.clone(),
    };
    Ok(match (&stored_key, &expected_key) {
        (Some(stored), Some(given)) if stored != given => {
            Err(PushOutcome::KeyMismatch(stored.clone()))
        }
        (None, Some(_)) if rotate.is_some() => Err(PushOutcome::KeyMismatch(String::new())),
        _ if revision != push.base_revision => Err(PushOutcome::Conflict(revision)),
        _ => Ok(revision),
    })
}

/// Each record at revision `revision + 1`, unless its version does not grow: then the
/// client works from an old copy (`Some(Stale)`).
fn upsert_records(
    tx: &rusqlite::Transaction,
    user_id: i64,
    records: &[Record],
    revision: i64,
    now: i64,
) -> Result<Option<PushOutcome>, StoreError> {
    let mut up = tx.prepare_cached(
        "INSERT INTO records (user_id, record_id, version, revision, updated_at, \
         deleted, nonce, ciphertext) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (user_id, record_id) DO UPDATE SET version = excluded.version, \
         revision = excluded.revision, updated_at = excluded.updated_at, \
         deleted = excluded.deleted, nonce = excluded.nonce, \
         ciphertext = excluded.ciphertext WHERE records.version < excluded.version",
    )?;
    for r in records {
        let n = up.execute(params![
            user_id,
            r.record_id,
            r.version as i64,
            revision + 1,
            now,
            r.deleted as i64,
            r.nonce,
            r.ciphertext
        ])?;
        if n != 1 {
            return Ok(Some(PushOutcome::Stale {
                revision,
                record_id: r.record_id.clone(),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("server.db")).unwrap();
        let c = Connection::open(store.path()).unwrap();
        c.execute(
            "INSERT INTO users (name, password_hash, created_at) VALUES ('u', 'x', 0)",
            [],
        )
        .unwrap();
        let id = c.last_insert_rowid();
        (dir, store, id)
    }

    fn push_one(base_revision: i64, n: u64) -> Push {
        Push {
            base_revision,
            key_id: None,
            records: vec![Record {
                record_id: format!("r_{}", n % 5),
                version: n + 1,
                revision: None,
                updated_at: 0,
                deleted: false,
                nonce: "n".into(),
                ciphertext: "c".repeat(200),
            }],
            fence: None,
            holder_key: String::new(),
            limits: PushLimits {
                max_user_records: 100,
            },
        }
    }

    /// Another process (here another connection) holds the write lock for 1.5 s: a push
    /// waits for it on the blocking pool, the async thread goes on (a timer on a
    /// one-thread runtime fires on time), and the push lands once the lock is gone.
    #[test]
    fn a_write_behind_another_process_lock_leaves_the_async_thread_free() {
        let (_dir, store, user) = store();
        let store = Arc::new(store);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // A first write: the next one is not the first after a checkpoint.
        let first = rt.block_on(store.push(user, push_one(0, 0), 1)).unwrap();
        assert!(matches!(first, PushOutcome::Stored(1)));
        assert!(!store.wal.restart_due.load(Ordering::Relaxed));
        let path = store.path().to_path_buf();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let mut c = Connection::open(path).unwrap();
            let tx = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            locked_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            tx.commit().unwrap();
        });
        locked_rx.recv().unwrap();
        rt.block_on(async {
            let started = std::time::Instant::now();
            let s = store.clone();
            let push = tokio::spawn(async move { s.push(user, push_one(1, 1), 1).await });
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(
                started.elapsed() < Duration::from_millis(1000),
                "the async thread waited for the lock: {:?}",
                started.elapsed()
            );
            assert!(matches!(push.await.unwrap(), Ok(PushOutcome::Stored(2))));
        });
        holder.join().unwrap();
        let c = Connection::open(store.path()).unwrap();
        let n: i64 = c
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 2);
    }

    /// The writer never checkpoints in a commit (it may run on an async thread): the hook
    /// asks for a checkpoint on the blocking pool once the WAL holds CHECKPOINT_PAGES, and
    /// after any checkpoint the next commit (which may restart the WAL and fsync its
    /// header) goes to the blocking pool.
    #[test]
    fn the_wal_is_checkpointed_off_the_async_thread_and_stays_bounded() {
        let (_dir, store, user) = store();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(store.wal.restart_due.load(Ordering::Relaxed));
            let mut revision = 0;
            for n in 0..3000 {
                match store.push(user, push_one(revision, n), 1).await.unwrap() {
                    PushOutcome::Stored(r) => revision = r,
                    other => panic!("push {n}: {other:?}"),
                }
                if n == 0 {
                    assert!(!store.wal.restart_due.load(Ordering::Relaxed));
                }
                // Let the spawned checkpoint run, as other requests would.
                tokio::task::yield_now().await;
            }
            store.flush_uses().await.unwrap();
            assert!(store.wal.restart_due.load(Ordering::Relaxed));
        });
        let wal = std::fs::metadata(format!("{}-wal", store.path().display()))
            .unwrap()
            .len();
        // 3,000 pushes of 3 to 4 pages each would be 10,000 frames (40 MB) unchecked.
        assert!(
            wal < 3 * CHECKPOINT_PAGES as u64 * 4200,
            "the WAL grew to {wal} bytes"
        );
    }
}
