//! The server's storage: one trait, two backends (embedded SQLite, PostgreSQL >= 14), each
//! with its own migrations and a schema version checked at start. Everything an instance
//! needs to answer any request lives here (users, tokens, revisions, records, leases), so
//! any number of instances on one PostgreSQL serve any request.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::sync::wire::{LeaseHeld, Record};

pub mod postgres;
pub mod sqlite;

/// The schema version this build knows (both backends); a newer database is refused.
pub const SCHEMA_VERSION: i64 = 2;

pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the server database is at schema {found}; this cdxs knows up to {known}")]
    NewerSchema { found: i64, known: i64 },
    #[error("{0}")]
    Db(String),
    /// SQLite: another process holds the database's write lock (an admin command).
    #[error("sqlite: the database is locked by another process")]
    Busy,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy
            }
            _ => StoreError::Db(format!("sqlite: {e}")),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Db(format!("postgres: {}", describe_pg(&e)))
    }
}

/// A PostgreSQL error in words, without the connection string.
pub fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub key_id: Option<String>,
}

/// One line of `server user list`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserSummary {
    pub name: String,
    pub created_at: i64,
    pub revision: i64,
    pub records: i64,
    pub devices: Vec<Device>,
    pub key_id: Option<String>,
    /// Still on the older tool's hash (re-hashed with Argon2id at its next login).
    pub legacy_hash: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Device {
    pub device: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: i64,
}

/// Who a valid token belongs to.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub token_id: i64,
    pub user_id: i64,
    pub user: String,
    pub device: String,
    /// The device id the client sent at login (its vault's random id), if any.
    pub device_id: Option<String>,
    pub key_id: Option<String>,
}

impl TokenInfo {
    /// Who holds a lease taken with this token: the device id (random per vault, so two
    /// machines with the same or a long name never share a lease), else this login.
    pub fn holder(&self) -> Holder {
        Holder {
            key: match &self.device_id {
                Some(d) => format!("device:{d}"),
                None => format!("login:{}", self.token_id),
            },
            name: self.device.clone(),
        }
    }
}

/// A lease holder: the key leases are compared by, and a name for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub key: String,
    pub name: String,
}

/// A push as the storage sees it.
#[derive(Debug, Clone)]
pub struct Push {
    pub base_revision: i64,
    pub key_id: Option<String>,
    pub records: Vec<Record>,
    pub fence: Option<Fence>,
    pub holder_key: String,
    pub limits: PushLimits,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub revision: i64,
    pub records: Vec<Record>,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Stored(i64),
    /// Someone pushed since the base revision.
    Conflict(i64),
    /// A record's version did not grow: the client works from an old copy of it.
    Stale {
        revision: i64,
        record_id: String,
    },
    /// The user's records are sealed with another key.
    KeyMismatch(String),
    /// The push was fenced by a lease whose generation moved on (another device took it).
    LeaseLost,
    /// The user would hold more records than the server allows.
    TooManyRecords(usize),
}

/// A push fenced by a refresh lease: stored only while that lease generation is current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub record_id: String,
    pub generation: i64,
}

/// What a push may do (the server's caps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushLimits {
    /// Records a user may hold (tombstones included).
    pub max_user_records: usize,
}

/// A granted lease: until when (server time), and its generation (a number per user that
/// only grows: a renewal keeps it, a new holder gets a larger one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseGrant {
    pub until: i64,
    pub generation: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Granted(LeaseGrant),
    /// Another device holds it (`holder` is its name).
    Held {
        holder: String,
        until: i64,
    },
    /// A renewal of a generation that is gone (expired and taken, or released).
    Lost,
    /// The user holds as many live leases as the server allows.
    TooMany(usize),
}

/// A lease request.
#[derive(Debug, Clone)]
pub struct LeaseAsk {
    pub record_id: String,
    pub holder: Holder,
    pub ttl_s: i64,
    /// Renew exactly this generation (refused as [`LeaseOutcome::Lost`] when it moved on).
    pub renew: Option<i64>,
    /// Live leases a user may hold.
    pub max_leases: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySet {
    Set,
    Same,
    Mismatch(String),
}

/// When each token was last used, noted off the request path: a token at most once a
/// minute, and all the notes of a few seconds in one write (`Storage::flush_uses`, every
/// [`USE_FLUSH_EVERY`]). With 10,000 users, a write per token use on the request path
/// would be up to 10,000 commits a minute, each waited for by a pull.
#[derive(Default)]
pub struct UseNotes {
    pending: Mutex<HashMap<i64, i64>>,
}

/// How often noted token uses are written.
pub const USE_FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

impl UseNotes {
    /// A use of `token_id` at `now`, last noted at `last_used`.
    pub fn note(&self, token_id: i64, last_used: Option<i64>, now: i64) {
        if last_used.is_some_and(|t| t >= now - 60) {
            return;
        }
        if let Ok(mut p) = self.pending.lock() {
            p.insert(token_id, now);
        }
    }

    /// The notes to write, (token id, when); empty afterwards.
    pub fn take(&self) -> Vec<(i64, i64)> {
        self.pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default()
    }
}

/// A live lease as stored (expired ones are purged before a decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: String,
    pub holder_name: String,
    pub until: i64,
    pub generation: i64,
}

/// What a lease request does to the live lease of its record (both backends decide alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Another holder has it.
    Held { holder: String, until: i64 },
    /// A renewal of a generation that is no longer the live one.
    Lost,
    /// The same holder: extend, keeping the generation.
    Extend(i64),
    /// Nobody holds it: a new generation.
    New,
}

/// Pure: the decision for `ask` given the record's live lease.
pub fn lease_decision(current: Option<&LeaseRow>, ask: &LeaseAsk) -> Decision {
    match (current, ask.renew) {
        (Some(row), Some(g)) if row.holder == ask.holder.key && row.generation == g => {
            Decision::Extend(g)
        }
        (_, Some(_)) => Decision::Lost,
        (Some(row), None) if row.holder == ask.holder.key => Decision::Extend(row.generation),
        (Some(row), None) => Decision::Held {
            holder: row.holder_name.clone(),
            until: row.until,
        },
        (None, None) => Decision::New,
    }
}

/// The storage every server instance shares. Methods take owned arguments so that the
/// futures are `'static`-friendly for both backends.
pub trait Storage: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Creates a user; `false` when the name is taken.
    fn create_user(&self, name: String, password_hash: String, now: i64) -> Fut<'_, bool>;
    fn user(&self, name: String) -> Fut<'_, Option<UserRow>>;
    fn users(&self, now: i64) -> Fut<'_, Vec<UserSummary>>;
    /// Removes a user with their records, tokens and leases; `false` when unknown.
    fn remove_user(&self, name: String) -> Fut<'_, bool>;
    /// Replaces a password hash; with `revoke`, every token of the user goes too.
    fn set_password(&self, name: String, password_hash: String, revoke: bool) -> Fut<'_, bool>;
    fn create_token(
        &self,
        user_id: i64,
        token_hash: String,
        device: String,
        device_id: Option<String>,
        now: i64,
        expires_at: i64,
    ) -> Fut<'_, ()>;
    /// The owner of an unexpired token (and notes its use, at most once a minute).
    fn token(&self, token_hash: String, now: i64) -> Fut<'_, Option<TokenInfo>>;
    fn revoke_token(&self, token_hash: String) -> Fut<'_, bool>;
    /// Write the token uses noted since the last call (see [`UseNotes`]).
    fn flush_uses(&self) -> Fut<'_, ()>;
    /// The owner of a token and their records since `since` (a pull), in one round trip.
    fn pull(
        &self,
        token_hash: String,
        since: i64,
        limit: usize,
        now: i64,
    ) -> Fut<'_, Option<(TokenInfo, Page)>>;
    fn set_key_id(&self, user_id: i64, key_id: String) -> Fut<'_, KeySet>;
    /// One compare-and-set on the user's revision, in the same transaction as the record
    /// upserts; a record's version must grow; with a `fence`, only while that lease
    /// generation is current (checked under the same lock a new holder needs).
    fn push(&self, user_id: i64, push: Push, now: i64) -> Fut<'_, PushOutcome>;
    /// Replace every record of the user by `push.records` (re-sealed under a new key) and
    /// the key id `old` by `new`, as one revision at `push.base_revision`.
    fn rotate_key(
        &self,
        user_id: i64,
        old: String,
        new: String,
        push: Push,
        now: i64,
    ) -> Fut<'_, PushOutcome>;
    /// Take or renew a lease; expired leases of the user are purged on the way.
    fn take_lease(&self, user_id: i64, ask: LeaseAsk, now: i64) -> Fut<'_, LeaseOutcome>;
    /// Release a lease this holder holds (only that generation, when given).
    fn release_lease(
        &self,
        user_id: i64,
        record_id: String,
        holder_key: String,
        generation: Option<i64>,
    ) -> Fut<'_, bool>;
    fn leases(&self, user_id: i64, now: i64) -> Fut<'_, Vec<LeaseHeld>>;
}

/// Cut a page fetched with `limit + 1` rows (ordered by revision) so that it never ends in
/// the middle of a revision: a revision is one push, all or nothing.
pub fn cut_page(mut rows: Vec<(i64, Record)>, limit: usize, current: i64) -> Page {
    let with_revision = |(rev, mut r): (i64, Record)| {
        r.revision = Some(rev);
        r
    };
    if rows.len() <= limit {
        let max = rows.iter().map(|(r, _)| *r).max().unwrap_or(0);
        return Page {
            revision: current.max(max),
            records: rows.into_iter().map(with_revision).collect(),
            more: false,
        };
    }
    let last = rows[limit].0;
    rows.truncate(limit);
    // Drop the tail that shares the revision of the first row left out.
    while rows.len() > 1 && rows.last().is_some_and(|(r, _)| *r == last) {
        rows.pop();
    }
    let revision = rows.last().map_or(current, |(r, _)| *r);
    Page {
        revision,
        records: rows.into_iter().map(with_revision).collect(),
        more: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str) -> Record {
        Record {
            record_id: id.into(),
            version: 1,
            revision: None,
            updated_at: 0,
            deleted: false,
            nonce: String::new(),
            ciphertext: String::new(),
        }
    }

    #[test]
    fn leases_are_renewed_only_by_their_holder_and_generation() {
        let me = Holder {
            key: "device:dev_a".into(),
            name: "same name".into(),
        };
        let other = Holder {
            key: "device:dev_b".into(),
            name: "same name".into(),
        };
        let ask = |h: &Holder, renew| LeaseAsk {
            record_id: "r_1".into(),
            holder: h.clone(),
            ttl_s: 60,
            renew,
            max_leases: 10,
        };
        let row = LeaseRow {
            holder: me.key.clone(),
            holder_name: me.name.clone(),
            until: 100,
            generation: 7,
        };
        assert_eq!(lease_decision(None, &ask(&me, None)), Decision::New);
        assert_eq!(lease_decision(None, &ask(&me, Some(7))), Decision::Lost);
        assert_eq!(
            lease_decision(Some(&row), &ask(&me, None)),
            Decision::Extend(7)
        );
        assert_eq!(
            lease_decision(Some(&row), &ask(&me, Some(7))),
            Decision::Extend(7)
        );
        assert_eq!(
            lease_decision(Some(&row), &ask(&me, Some(6))),
            Decision::Lost
        );
        // Another device with the same name is another holder.
        assert_eq!(
            lease_decision(Some(&row), &ask(&other, None)),
            Decision::Held {
                holder: "same name".into(),
                until: 100
            }
        );
        assert_eq!(
            lease_decision(Some(&row), &ask(&other, Some(7))),
            Decision::Lost
        );
    }

    #[test]
    fn pages_end_on_a_whole_revision() {
        let rows = vec![(1, rec("a")), (2, rec("b")), (2, rec("c")), (3, rec("d"))];
        let p = cut_page(rows.clone(), 2, 3);
        assert!(p.more);
        assert_eq!(p.revision, 1);
        assert_eq!(p.records.len(), 1);
        let p = cut_page(rows.clone(), 3, 3);
        assert_eq!((p.revision, p.records.len(), p.more), (2, 3, true));
        let p = cut_page(rows, 10, 5);
        assert_eq!((p.revision, p.records.len(), p.more), (5, 4, false));
    }
}
