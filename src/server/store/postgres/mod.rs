//! The PostgreSQL (>= 14) backend, through tokio-postgres and a deadpool pool. Stateless
//! instances: every request reads and writes the database, pushes take the user's row
//! lock (`FOR UPDATE`) for their compare-and-set, and migrations run under an advisory
//! lock so that instances starting together migrate once.

mod reads;

use deadpool_postgres::{Config, Pool, PoolConfig, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::types::Type;

use super::*;

/// Migrations of the PostgreSQL schema; entry `n` brings a database to version `n + 1`.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE users (
        id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        password_hash  TEXT NOT NULL,
        key_id         TEXT,
        revision       BIGINT NOT NULL DEFAULT 0,
        created_at     BIGINT NOT NULL
    );
    CREATE TABLE tokens (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        token_hash    TEXT NOT NULL UNIQUE,
        device        TEXT NOT NULL,
        created_at    BIGINT NOT NULL,
        last_used_at  BIGINT,
        expires_at    BIGINT NOT NULL
    );
    CREATE INDEX tokens_user ON tokens (user_id);
    CREATE TABLE records (
        user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        record_id   TEXT NOT NULL,
        version     BIGINT NOT NULL,
        revision    BIGINT NOT NULL,
        updated_at  BIGINT NOT NULL,
        deleted     BOOLEAN NOT NULL,
        nonce       TEXT NOT NULL,
        ciphertext  TEXT NOT NULL,
        PRIMARY KEY (user_id, record_id)
    );
    CREATE INDEX records_revision ON records (user_id, revision);
    CREATE TABLE leases (
        user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        record_id  TEXT NOT NULL,
        holder     TEXT NOT NULL,
        until      BIGINT NOT NULL,
        PRIMARY KEY (user_id, record_id)
    );
    "#];

/// An arbitrary constant: the advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6364_7873_7379_6e63;

pub struct PgStore {
    /// Transactions, and statements that write.
    pool: Pool,
    /// Pulls and token checks, pipelined (see `reads`).
    reads: reads::Reads,
}

impl PgStore {
    /// Connect (a pool of `size`, up to `read_lanes` pipelined read connections),
    /// migrate, and check the schema version.
    pub async fn open(url: &str, size: usize, read_lanes: usize) -> Result<PgStore, StoreError> {
        let mut cfg = Config::new();
        cfg.url = Some(url.to_string());
        // Named in `pg_stat_activity`, unless the URL names them itself.
        if url
            .parse::<tokio_postgres::Config>()
            .is_ok_and(|c| c.get_application_name().is_none())
        {
            cfg.application_name = Some("cdxs-server".into());
        }
        cfg.pool = Some(PoolConfig::new(size.max(1)));
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1), NoTls)
            .map_err(|e| StoreError::Db(format!("bad PostgreSQL URL: {e}")))?;
        migrate(&pool).await?;
        // After the migration: the read connections prepare statements on its tables.
        let reads = reads::Reads::open(url, read_lanes).await?;
        Ok(PgStore { pool, reads })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        pooled(&self.pool).await
    }

    /// Note a token's use, at most once a minute (a device list shows it). Bookkeeping
    /// only: a failure is logged, and the request it belongs to is still answered.
    async fn note_use(&self, info: &TokenInfo, last_used: Option<i64>, now: i64) {
        if last_used.is_some_and(|t| t >= now - 60) {
            return;
        }
        let noted = async {
            let c = self.client().await?;
            // Typed: PostgreSQL would infer `$2 - 60` as int4, which an i64 cannot bind.
            let st = c
                .prepare_typed_cached(
                    "UPDATE tokens SET last_used_at = $2 WHERE id = $1 \
                     AND (last_used_at IS NULL OR last_used_at < $2 - 60)",
                    &[Type::INT8, Type::INT8],
                )
                .await?;
            c.execute(&st, &[&info.token_id, &now]).await?;
            Ok::<_, StoreError>(())
        };
        if let Err(e) = noted.await {
            tracing::warn!(error = %e, "cannot note a token's use");
        }
    }
}

async fn pooled(pool: &Pool) -> Result<deadpool_postgres::Client, StoreError> {
    pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => StoreError::from(e),
        other => StoreError::Db(format!("cannot get a PostgreSQL connection: {other}")),
    })
}

async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut c = pooled(pool).await?;
    let tx = c.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS cdxs_schema (version BIGINT NOT NULL)")
        .await?;
    let current: i64 = tx
        .query_opt("SELECT version FROM cdxs_schema", &[])
        .await?
        .map(|r| r.get(0))
        .unwrap_or(0);
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::NewerSchema {
            found: current,
            known,
        });
    }
    for sql in MIGRATIONS.iter().skip(current as usize) {
        tx.batch_execute(sql).await?;
    }
    if current < known {
        tx.execute("DELETE FROM cdxs_schema", &[]).await?;
        tx.execute("INSERT INTO cdxs_schema (version) VALUES ($1)", &[&known])
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

impl Storage for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn create_user(&self, name: String, password_hash: String, now: i64) -> Fut<'_, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            let n = c
                .execute(
                    "INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO NOTHING",
                    &[&name, &password_hash, &now],
                )
                .await?;
            Ok(n == 1)
        })
    }

    fn user(&self, name: String) -> Fut<'_, Option<UserRow>> {
        Box::pin(async move {
            let c = self.client().await?;
            let st = c
                .prepare_cached("SELECT id, name, password_hash, key_id FROM users WHERE name = $1")
                .await?;
            Ok(c.query_opt(&st, &[&name]).await?.map(|r| UserRow {
                id: r.get(0),
                name: r.get(1),
                password_hash: r.get(2),
                key_id: r.get(3),
            }))
        })
    }

    fn users(&self, now: i64) -> Fut<'_, Vec<UserSummary>> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT u.id, u.name, u.created_at, u.revision, u.key_id, u.password_hash, \
                     (SELECT COUNT(*) FROM records r WHERE r.user_id = u.id AND NOT r.deleted) \
                     FROM users u ORDER BY u.name",
                    &[],
                )
                .await?;
            let mut out = Vec::new();
            for r in rows {
                let id: i64 = r.get(0);
                let devices = c
                    .query(
                        "SELECT device, created_at, last_used_at, expires_at FROM tokens \
                         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at",
                        &[&id, &now],
                    )
                    .await?
                    .iter()
                    .map(|d| Device {
                        device: d.get(0),
                        created_at: d.get(1),
                        last_used_at: d.get(2),
                        expires_at: d.get(3),
                    })
                    .collect();
                out.push(UserSummary {
                    name: r.get(1),
                    created_at: r.get(2),
                    revision: r.get(3),
                    key_id: r.get(4),
                    legacy_hash: r.get::<_, String>(5).starts_with("legacy-"),
                    records: r.get(6),
                    devices,
                });
            }
            Ok(out)
        })
    }

    fn remove_user(&self, name: String) -> Fut<'_, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute("DELETE FROM users WHERE name = $1", &[&name])
                .await?
                == 1)
        })
    }

    fn set_password(&self, name: String, password_hash: String, revoke: bool) -> Fut<'_, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            let n = tx
                .execute(
                    "UPDATE users SET password_hash = $2 WHERE name = $1",
                    &[&name, &password_hash],
                )
                .await?;
            if n == 1 && revoke {
                tx.execute(
                    "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE name = $1)",
                    &[&name],
                )
                .await?;
            }
            tx.commit().await?;
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
        Box::pin(async move {
            let c = self.client().await?;
            c.execute("DELETE FROM tokens WHERE expires_at <= $1", &[&now])
                .await?;
            c.execute(
                "INSERT INTO tokens (user_id, token_hash, device, created_at, last_used_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
                &[&user_id, &token_hash, &device, &now, &expires_at],
            )
            .await?;
            Ok(())
        })
    }

    fn token(&self, token_hash: String, now: i64) -> Fut<'_, Option<TokenInfo>> {
        Box::pin(async move {
            let Some((info, last_used)) = self.reads.token(&token_hash, now).await? else {
                return Ok(None);
            };
            self.note_use(&info, last_used, now).await;
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
        Box::pin(async move {
            let Some((info, last_used, page)) =
                self.reads.pull(&token_hash, since, limit, now).await?
            else {
                return Ok(None);
            };
            self.note_use(&info, last_used, now).await;
            Ok(Some((info, page)))
        })
    }

    fn revoke_token(&self, token_hash: String) -> Fut<'_, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(
                c.execute("DELETE FROM tokens WHERE token_hash = $1", &[&token_hash])
                    .await?
                    == 1,
            )
        })
    }

    fn set_key_id(&self, user_id: i64, key_id: String) -> Fut<'_, KeySet> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            let current: Option<String> = tx
                .query_one(
                    "SELECT key_id FROM users WHERE id = $1 FOR UPDATE",
                    &[&user_id],
                )
                .await?
                .get(0);
            let out = match current {
                Some(k) if k == key_id => KeySet::Same,
                Some(k) => KeySet::Mismatch(k),
                None => {
                    tx.execute(
                        "UPDATE users SET key_id = $2 WHERE id = $1",
                        &[&user_id, &key_id],
                    )
                    .await?;
                    KeySet::Set
                }
            };
            tx.commit().await?;
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
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            // The compare-and-set: one row, locked until commit, only at the base revision
            // and with the user's key (or none yet).
            let bump = tx
                .prepare_cached(
                    "UPDATE users SET revision = revision + 1, key_id = COALESCE(key_id, $3) \
                     WHERE id = $1 AND revision = $2 AND (key_id IS NULL OR $3::text IS NULL OR key_id = $3) \
                     RETURNING revision",
                )
                .await?;
            let Some(row) = tx
                .query_opt(&bump, &[&user_id, &base_revision, &key_id])
                .await?
            else {
                let row = tx
                    .query_one(
                        "SELECT revision, key_id FROM users WHERE id = $1",
                        &[&user_id],
                    )
                    .await?;
                let stored: Option<String> = row.get(1);
                return Ok(match (stored, &key_id) {
                    (Some(s), Some(k)) if &s != k => PushOutcome::KeyMismatch(s),
                    _ => PushOutcome::Conflict(row.get(0)),
                });
            };
            let next: i64 = row.get(0);
            // All records in one statement; a version that does not grow is not written,
            // and then the whole push rolls back.
            let ids: Vec<&str> = records.iter().map(|r| r.record_id.as_str()).collect();
            let versions: Vec<i64> = records.iter().map(|r| r.version as i64).collect();
            let deleted: Vec<bool> = records.iter().map(|r| r.deleted).collect();
            let nonces: Vec<&str> = records.iter().map(|r| r.nonce.as_str()).collect();
            let bodies: Vec<&str> = records.iter().map(|r| r.ciphertext.as_str()).collect();
            let up = tx
                .prepare_cached(
                    "INSERT INTO records (user_id, record_id, version, revision, updated_at, \
                     deleted, nonce, ciphertext) \
                     SELECT $1, r.id, r.version, $2, $3, r.deleted, r.nonce, r.body \
                     FROM UNNEST($4::text[], $5::bigint[], $6::bool[], $7::text[], $8::text[]) \
                     AS r (id, version, deleted, nonce, body) \
                     ON CONFLICT (user_id, record_id) DO UPDATE SET version = excluded.version, \
                     revision = excluded.revision, updated_at = excluded.updated_at, \
                     deleted = excluded.deleted, nonce = excluded.nonce, \
                     ciphertext = excluded.ciphertext WHERE records.version < excluded.version",
                )
                .await?;
            let n = tx
                .execute(
                    &up,
                    &[
                        &user_id, &next, &now, &ids, &versions, &deleted, &nonces, &bodies,
                    ],
                )
                .await?;
            if n != records.len() as u64 {
                return Ok(PushOutcome::Conflict(base_revision));
            }
            tx.commit().await?;
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
        Box::pin(async move {
            let c = self.client().await?;
            let until = now + ttl_s;
            // One statement: insert, or take over an expired lease or our own; otherwise
            // nothing is returned and the current holder is read.
            let granted = c
                .query_opt(
                    "INSERT INTO leases (user_id, record_id, holder, until) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (user_id, record_id) DO UPDATE SET holder = excluded.holder, \
                     until = excluded.until \
                     WHERE leases.holder = excluded.holder OR leases.until <= $5 \
                     RETURNING until",
                    &[&user_id, &record_id, &holder, &until, &now],
                )
                .await?;
            if let Some(r) = granted {
                return Ok(LeaseOutcome::Granted(r.get(0)));
            }
            let r = c
                .query_opt(
                    "SELECT holder, until FROM leases WHERE user_id = $1 AND record_id = $2",
                    &[&user_id, &record_id],
                )
                .await?;
            Ok(match r {
                Some(r) => LeaseOutcome::Held {
                    holder: r.get(0),
                    until: r.get(1),
                },
                // Released in between: say so as held for a moment; the client retries.
                None => LeaseOutcome::Held {
                    holder: "(released)".into(),
                    until: now,
                },
            })
        })
    }

    fn release_lease(&self, user_id: i64, record_id: String, holder: String) -> Fut<'_, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute(
                "DELETE FROM leases WHERE user_id = $1 AND record_id = $2 AND holder = $3",
                &[&user_id, &record_id, &holder],
            )
            .await?
                == 1)
        })
    }

    fn leases(&self, user_id: i64, now: i64) -> Fut<'_, Vec<LeaseHeld>> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.query(
                "SELECT record_id, holder, until FROM leases WHERE user_id = $1 AND until > $2 \
                 ORDER BY record_id",
                &[&user_id, &now],
            )
            .await?
            .iter()
            .map(|r| LeaseHeld {
                record_id: Some(r.get(0)),
                holder: r.get(1),
                until: r.get(2),
            })
            .collect())
        })
    }
}
