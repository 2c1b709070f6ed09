//! The PostgreSQL (>= 14) backend, through tokio-postgres and a deadpool pool. Stateless
//! instances: every request reads and writes the database, pushes take the user's row
//! lock (`FOR UPDATE`) for their compare-and-set, and migrations run under an advisory
//! lock so that instances starting together migrate once.

mod reads;

use deadpool_postgres::{Config, Pool, PoolConfig, Runtime};
use tokio_postgres::NoTls;

use super::*;

/// Migrations of the PostgreSQL schema; entry `n` brings a database to version `n + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
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
    "#,
    // 2: fenced leases (see the SQLite migration of the same number).
    r#"
    ALTER TABLE tokens ADD COLUMN device_id TEXT;
    ALTER TABLE users ADD COLUMN lease_seq BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE leases ADD COLUMN holder_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE leases ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
    DELETE FROM leases;
    CREATE INDEX tokens_expiry ON tokens (expires_at);
    "#,
];

/// An arbitrary constant: the advisory lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6364_7873_7379_6e63;

pub struct PgStore {
    /// Transactions, and statements that write.
    pool: Pool,
    /// Pulls and token checks, pipelined (see `reads`).
    reads: reads::Reads,
    uses: UseNotes,
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
        Ok(PgStore {
            pool,
            reads,
            uses: UseNotes::default(),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        pooled(&self.pool).await
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
        device_id: Option<String>,
        now: i64,
        expires_at: i64,
    ) -> Fut<'_, ()> {
        Box::pin(async move {
            let c = self.client().await?;
            c.execute("DELETE FROM tokens WHERE expires_at <= $1", &[&now])
                .await?;
            c.execute(
                "INSERT INTO tokens (user_id, token_hash, device, device_id, created_at, \
                 last_used_at, expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)",
                &[
                    &user_id,
                    &token_hash,
                    &device,
                    &device_id,
                    &now,
                    &expires_at,
                ],
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
        Box::pin(async move {
            let Some((info, last_used, page)) =
                self.reads.pull(&token_hash, since, limit, now).await?
            else {
                return Ok(None);
            };
            self.uses.note(info.token_id, last_used, now);
            Ok(Some((info, page)))
        })
    }

    fn flush_uses(&self) -> Fut<'_, ()> {
        Box::pin(async move {
            let noted = self.uses.take();
            if noted.is_empty() {
                return Ok(());
            }
            let (ids, ats): (Vec<i64>, Vec<i64>) = noted.into_iter().unzip();
            let c = self.client().await?;
            c.execute(
                "UPDATE tokens SET last_used_at = v.at FROM UNNEST($1::int8[], $2::int8[]) \
                 AS v (id, at) WHERE tokens.id = v.id \
                 AND (tokens.last_used_at IS NULL OR tokens.last_used_at < v.at)",
                &[&ids, &ats],
            )
            .await?;
            Ok(())
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

    fn push(&self, user_id: i64, push: Push, now: i64) -> Fut<'_, PushOutcome> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            let out = store_push(&tx, user_id, &push, None, now).await?;
            if matches!(out, PushOutcome::Stored(_)) {
                tx.commit().await?;
            }
            Ok(out)
        })
    }

    fn rotate_key(
        &self,
        user_id: i64,
        old: String,
        new: String,
        push: Push,
        now: i64,
    ) -> Fut<'_, PushOutcome> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            let out = store_push(&tx, user_id, &push, Some((&old, &new)), now).await?;
            if matches!(out, PushOutcome::Stored(_)) {
                tx.commit().await?;
            }
            Ok(out)
        })
    }

    fn take_lease(&self, user_id: i64, ask: LeaseAsk, now: i64) -> Fut<'_, LeaseOutcome> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await?;
            // The user's row first, as a push takes it first: a lease and a fenced push of
            // one user are serialized, and never deadlock.
            tx.query_one("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&user_id])
                .await?;
            tx.execute(
                "DELETE FROM leases WHERE user_id = $1 AND until <= $2",
                &[&user_id, &now],
            )
            .await?;
            let current = tx
                .query_opt(
                    "SELECT holder, holder_name, until, generation FROM leases \
                     WHERE user_id = $1 AND record_id = $2",
                    &[&user_id, &ask.record_id],
                )
                .await?
                .map(|r| LeaseRow {
                    holder: r.get(0),
                    holder_name: r.get(1),
                    until: r.get(2),
                    generation: r.get(3),
                });
            let until = now + ask.ttl_s;
            let out = match lease_decision(current.as_ref(), &ask) {
                Decision::Held { holder, until } => LeaseOutcome::Held { holder, until },
                Decision::Lost => LeaseOutcome::Lost,
                Decision::Extend(generation) => {
                    tx.execute(
                        "UPDATE leases SET until = $3, holder_name = $4 \
                         WHERE user_id = $1 AND record_id = $2",
                        &[&user_id, &ask.record_id, &until, &ask.holder.name],
                    )
                    .await?;
                    LeaseOutcome::Granted(LeaseGrant { until, generation })
                }
                Decision::New => match new_lease(&tx, user_id, &ask, until).await? {
                    Some(grant) => LeaseOutcome::Granted(grant),
                    None => return Ok(LeaseOutcome::TooMany(ask.max_leases)),
                },
            };
            tx.commit().await?;
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
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute(
                "DELETE FROM leases WHERE user_id = $1 AND record_id = $2 AND holder = $3 \
                 AND ($4::bigint IS NULL OR generation = $4)",
                &[&user_id, &record_id, &holder_key, &generation],
            )
            .await?
                == 1)
        })
    }

    fn leases(&self, user_id: i64, now: i64) -> Fut<'_, Vec<LeaseHeld>> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.query(
                "SELECT record_id, holder_name, until FROM leases WHERE user_id = $1 \
                 AND until > $2 ORDER BY record_id",
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

/// A push (or, with `rotate`, a key rotation) inside the caller's transaction; the caller
/// commits a `Stored` outcome only. The compare-and-set on the user's row comes first: it
/// locks that row until commit, and a lease request of the same user waits for it.
async fn store_push(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: i64,
    push: &Push,
    rotate: Option<(&str, &str)>,
    now: i64,
) -> Result<PushOutcome, StoreError> {
    let next = match bump_revision(tx, user_id, push, rotate).await? {
        Ok(next) => next,
        Err(refused) => return Ok(refused),
    };
    if let Some(f) = &push.fence {
        let current = tx
            .query_opt(
                "SELECT holder, generation FROM leases WHERE user_id = $1 AND record_id = $2",
                &[&user_id, &f.record_id],
            )
            .await?
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)));
        if current != Some((push.holder_key.clone(), f.generation)) {
            return Ok(PushOutcome::LeaseLost);
        }
    }
    if rotate.is_some() {
        tx.execute("DELETE FROM records WHERE user_id = $1", &[&user_id])
            .await?;
    }
    if let Some(stale) = upsert_records(tx, user_id, &push.records, next, now).await? {
        return Ok(stale);
    }
    if !push.records.is_empty() {
        let count = tx
            .prepare_cached("SELECT COUNT(*) FROM records WHERE user_id = $1")
            .await?;
        let held: i64 = tx.query_one(&count, &[&user_id]).await?.get(0);
        if held as usize > push.limits.max_user_records {
            return Ok(PushOutcome::TooManyRecords(push.limits.max_user_records));
        }
    }
    Ok(PushOutcome::Stored(next))
}

/// The compare-and-set on the user's row: the revision the push is based on is still the
/// user's, and so is the key (the old one, for a rotation). `Ok(next revision)`, or why
/// not.
async fn bump_revision(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: i64,
    push: &Push,
    rotate: Option<(&str, &str)>,
) -> Result<Result<i64, PushOutcome>, StoreError> {
    let bumped = match rotate {
        None => {
            let bump = tx
                .prepare_cached(
                    "UPDATE users SET revision = revision + 1, key_id = COALESCE(key_id, $3) \
                     WHERE id = $1 AND revision = $2 AND (key_id IS NULL OR $3::text IS NULL OR key_id = $3) \
                     RETURNING revision",
                )
                .await?;
            tx.query_opt(&bump, &[&user_id, &push.base_revision, &push.key_id])
                .await?
        }
        Some((old, new)) => {
            tx.query_opt(
                "UPDATE users SET revision = revision + 1, key_id = $4 \
                 WHERE id = $1 AND revision = $2 AND key_id = $3 RETURNING revision",
                &[&user_id, &push.base_revision, &old, &new],
            )
            .await?
        }
    };
    if let Some(row) = bumped {
        return Ok(Ok(row.get(0)));
    }
    let row = tx
        .query_one(
            "SELECT revision, key_id FROM users WHERE id = $1",
            &[&user_id],
        )
        .await?;
    let stored: Option<String> = row.get(1);
    let expected = rotate
        .map(|(old, _)| old.to_string())
        .or(push.key_id.clone());
    Ok(Err(match (stored, expected) {
        (Some(s), Some(k)) if s != k => PushOutcome::KeyMismatch(s),
        (None, Some(_)) if rotate.is_some() => PushOutcome::KeyMismatch(String::new()),
        _ => PushOutcome::Conflict(row.get(0)),
    }))
}

/// All records in one statement at revision `next`; a version that does not grow is not
/// written, and then the whole push rolls back (`Some(Stale)` names the record).
async fn upsert_records(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: i64,
    records: &[Record],
    next: i64,
    now: i64,
) -> Result<Option<PushOutcome>, StoreError> {
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
    if n == records.len() as u64 {
        return Ok(None);
    }
    // The one not written at this revision is the stale one.
    let stale: Option<String> = tx
        .query_opt(
            "SELECT record_id FROM records WHERE user_id = $1 AND record_id = ANY($2) \
             AND revision <> $3 ORDER BY record_id LIMIT 1",
            &[&user_id, &ids, &next],
        )
        .await?
        .map(|r| r.get(0));
    Ok(Some(PushOutcome::Stale {
        revision: next - 1,
        record_id: stale.unwrap_or_default(),
    }))
}
/// A new lease of `ask.record_id` with the user's next generation (`None`: the user holds
/// as many as they may).
async fn new_lease(
    tx: &deadpool_postgres::Transaction<'_>,
    user_id: i64,
    ask: &LeaseAsk,
    until: i64,
) -> Result<Option<LeaseGrant>, StoreError> {
    let live: i64 = tx
        .query_one(
            "SELECT COUNT(*) FROM leases WHERE user_id = $1",
            &[&user_id],
        )
        .await?
        .get(0);
    if live as usize >= ask.max_leases {
        return Ok(None);
    }
    let generation: i64 = tx
        .query_one(
            "UPDATE users SET lease_seq = lease_seq + 1 WHERE id = $1 \
             RETURNING lease_seq",
            &[&user_id],
        )
        .await?
        .get(0);
    tx.execute(
        "INSERT INTO leases (user_id, record_id, holder, holder_name, until, \
         generation) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (user_id, record_id) DO UPDATE SET holder = excluded.holder, \
         holder_name = excluded.holder_name, until = excluded.until, \
         generation = excluded.generation",
        &[
            &user_id,
            &ask.record_id,
            &ask.holder.key,
            &ask.holder.name,
            &until,
            &generation,
        ],
    )
    .await?;
    Ok(Some(LeaseGrant { until, generation }))
}
