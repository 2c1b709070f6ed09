//! The reads that are one statement each (a pull, a token check) go over a few long-lived
//! connections that tokio-postgres pipelines: concurrent requests share one backend
//! process and its wake-ups, instead of waking one pooled backend each. Measured on the
//! 2-core benchmark machine (BENCHMARKS.md): per pull, the backends' CPU fell from about 55
//! to 29 µs and the server's from 40 to 25 µs. Transactions (pushes, leases, the key) stay
//! on the pool: a transaction cannot share its connection. So do writes (the once-a-minute
//! note of a token's use): an update that waits for a row lock would hold up every read
//! queued behind it.
//!
//! Every read still goes to the database (no cache), so any number of instances on one
//! database see each other's writes at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

use super::super::{Page, Record, StoreError, TokenInfo, cut_page};

/// Requests in flight on a lane before the next one spills to another lane. A deeper
/// pipeline costs less CPU per request: at 8 in flight, one lane took 29 µs of backend CPU
/// per pull and two lanes at 4 each 40 µs. A second lane only pays where there are spare
/// cores for its backend: on 2 cores at 32 in flight, spilling at 16 cut pulls from 32,000
/// to 22,000 per second, which is why the server opens one lane per 4 cores.
const SPILL: usize = 16;

/// Token, revision and page in one statement (one snapshot, one round trip).
const PULL: &str = "SELECT t.id, t.user_id, u.name, t.device, u.key_id, t.last_used_at, u.revision, \
     r.revision, r.record_id, r.version, r.updated_at, r.deleted, r.nonce, r.ciphertext, t.device_id \
     FROM tokens t JOIN users u ON u.id = t.user_id \
     LEFT JOIN LATERAL (SELECT revision, record_id, version, updated_at, deleted, nonce, ciphertext \
       FROM records WHERE user_id = t.user_id AND revision > $3 \
       ORDER BY revision, record_id LIMIT $4) r ON $4 > 0 \
     WHERE t.token_hash = $1 AND t.expires_at > $2";

const TOKEN: &str = "SELECT t.id, t.user_id, u.name, t.device, u.key_id, t.last_used_at, \
     NULL::bigint, t.device_id \
     FROM tokens t JOIN users u ON u.id = t.user_id \
     WHERE t.token_hash = $1 AND t.expires_at > $2";

pub struct Reads {
    config: tokio_postgres::Config,
    lanes: Vec<Lane>,
}

#[derive(Default)]
struct Lane {
    open: Mutex<Option<Arc<Conn>>>,
    /// Held while (re)connecting, so that a broken connection is replaced once.
    connecting: tokio::sync::Mutex<()>,
    in_flight: AtomicUsize,
}

#[derive(Clone, Copy)]
enum Stmt {
    Pull,
    Token,
}

struct Conn {
    client: Client,
    pull: Statement,
    token: Statement,
}

/// One request counted on its lane until it is answered (or dropped).
struct InFlight<'a>(&'a Lane);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Reads {
    /// `lanes` connections at most, opened when first needed; the first one now, so that
    /// a server that cannot read says so at start.
    pub async fn open(url: &str, lanes: usize) -> Result<Reads, StoreError> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Db(format!("bad PostgreSQL URL: {e}")))?;
        if config.get_application_name().is_none() {
            config.application_name("cdxs-server-reads");
        }
        // A database host that drops packets must not hold the lane for the kernel's
        // minutes-long TCP timeout.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let reads = Reads {
            config,
            lanes: (0..lanes.max(1)).map(|_| Lane::default()).collect(),
        };
        reads.conn(&reads.lanes[0]).await?;
        Ok(reads)
    }

    pub async fn pull(
        &self,
        token_hash: &str,
        since: i64,
        limit: usize,
        now: i64,
    ) -> Result<Option<(TokenInfo, Option<i64>, Page)>, StoreError> {
        let fetch = if limit == 0 { 0 } else { (limit + 1) as i64 };
        let rows = self
            .query(Stmt::Pull, &[&token_hash, &now, &since, &fetch])
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let info = token_info(first, 14);
        let current: i64 = first.get(6);
        let mut found = Vec::new();
        for r in &rows {
            let Some(rev) = r.get::<_, Option<i64>>(7) else {
                continue;
            };
            found.push((
                rev,
                Record {
                    record_id: r.get(8),
                    version: r.get::<_, i64>(9).max(0) as u64,
                    revision: None,
                    updated_at: r.get(10),
                    deleted: r.get(11),
                    nonce: r.get(12),
                    ciphertext: r.get(13),
                },
            ));
        }
        let page = if limit == 0 {
            Page {
                revision: current,
                records: Vec::new(),
                more: false,
            }
        } else {
            cut_page(found, limit, current)
        };
        Ok(Some((info, first.get(5), page)))
    }

    /// The token's owner and when it was last used.
    pub async fn token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(TokenInfo, Option<i64>)>, StoreError> {
        let rows = self.query(Stmt::Token, &[&token_hash, &now]).await?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let info = token_info(r, 7);
        Ok(Some((info, r.get(5))))
    }

    /// Run one statement on the least busy lane. A connection the database closed (a
    /// restart, an admin's `pg_terminate_backend`) is replaced and the statement run once
    /// more: every statement here is a read.
    async fn query(
        &self,
        which: Stmt,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let lane = self.pick();
        let _counted = InFlight(lane);
        let conn = self.conn(lane).await?;
        match conn.client.query(conn.statement(which), params).await {
            Err(e) if conn.client.is_closed() || connection_lost(&e) => {
                lane.discard(&conn);
                let conn = self.conn(lane).await?;
                Ok(conn.client.query(conn.statement(which), params).await?)
            }
            other => Ok(other?),
        }
    }

    /// The first lane with room below `SPILL`, else the least busy; counted as one more.
    fn pick(&self) -> &Lane {
        let mut best = &self.lanes[0];
        let mut least = usize::MAX;
        for lane in &self.lanes {
            let n = lane.in_flight.load(Ordering::Relaxed);
            if n < SPILL {
                best = lane;
                break;
            }
            if n < least {
                least = n;
                best = lane;
            }
        }
        best.in_flight.fetch_add(1, Ordering::Relaxed);
        best
    }

    /// The lane's open connection, or a new one in place of a closed or missing one.
    async fn conn(&self, lane: &Lane) -> Result<Arc<Conn>, StoreError> {
        if let Some(c) = lane.current() {
            return Ok(c);
        }
        let _one = lane.connecting.lock().await;
        if let Some(c) = lane.current() {
            return Ok(c);
        }
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %super::super::describe_pg(&e), "a PostgreSQL read connection closed");
            }
        });
        let conn = Arc::new(Conn {
            // Typed, not inferred: PostgreSQL infers a parameter from its first use, and an
            // i64 binds only to INT8.
            pull: client
                .prepare_typed(PULL, &[Type::TEXT, Type::INT8, Type::INT8, Type::INT8])
                .await?,
            token: client
                .prepare_typed(TOKEN, &[Type::TEXT, Type::INT8])
                .await?,
            client,
        });
        *lane.open.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn.clone());
        Ok(conn)
    }
}

impl Conn {
    fn statement(&self, which: Stmt) -> &Statement {
        match which {
            Stmt::Pull => &self.pull,
            Stmt::Token => &self.token,
        }
    }
}

impl Lane {
    fn current(&self) -> Option<Arc<Conn>> {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.as_ref().filter(|c| !c.client.is_closed()).cloned()
    }

    /// Forget `conn` (unless another request has replaced it already).
    fn discard(&self, conn: &Arc<Conn>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *open = None;
        }
    }
}

/// The connection, not the statement, failed: closed, or the backend is shutting down
/// (SQLSTATE class 57P: `pg_terminate_backend`, a fast or crash shutdown) or the link
/// broke (class 08). Its answer to the statement in flight comes before the close.
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code()
            .is_some_and(|c| c.code().starts_with("57P") || c.code().starts_with("08"))
}

/// The token's columns (0 to 4) and its device id (column `device_id_at`).
fn token_info(r: &tokio_postgres::Row, device_id_at: usize) -> TokenInfo {
    TokenInfo {
        token_id: r.get(0),
        user_id: r.get(1),
        user: r.get(2),
        device: r.get(3),
        key_id: r.get(4),
        device_id: r.get(device_id_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads(lanes: usize) -> Reads {
        Reads {
            config: "host=127.0.0.1".parse().unwrap(),
            lanes: (0..lanes).map(|_| Lane::default()).collect(),
        }
    }

    fn loads(r: &Reads) -> Vec<usize> {
        r.lanes
            .iter()
            .map(|l| l.in_flight.load(Ordering::Relaxed))
            .collect()
    }

    #[test]
    fn requests_fill_the_first_lane_then_spill_to_the_least_busy() {
        let r = reads(3);
        for _ in 0..SPILL {
            r.pick();
        }
        assert_eq!(loads(&r), [SPILL, 0, 0]);
        r.pick();
        assert_eq!(loads(&r), [SPILL, 1, 0], "the 17th opens the second lane");
        r.lanes[1].in_flight.store(SPILL + 3, Ordering::Relaxed);
        r.lanes[2].in_flight.store(SPILL + 1, Ordering::Relaxed);
        r.pick();
        assert_eq!(
            loads(&r),
            [SPILL + 1, SPILL + 3, SPILL + 1],
            "the least busy"
        );
        r.pick();
        assert_eq!(
            loads(&r),
            [SPILL + 2, SPILL + 3, SPILL + 1],
            "ties go to the first"
        );
        r.pick();
        assert_eq!(loads(&r), [SPILL + 2, SPILL + 3, SPILL + 2]);
        // An answered request frees its place, and the first lane is preferred again.
        for _ in 0..3 {
            drop(InFlight(&r.lanes[0]));
        }
        assert_eq!(r.pick() as *const Lane, &r.lanes[0] as *const Lane);
    }

    #[test]
    fn one_lane_takes_every_request() {
        let r = reads(1);
        for _ in 0..3 * SPILL {
            r.pick();
        }
        assert_eq!(loads(&r), [3 * SPILL]);
    }
}
