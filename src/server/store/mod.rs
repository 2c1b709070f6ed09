//! The server's storage: one trait, two backends (embedded SQLite, PostgreSQL >= 14), each
//! with its own migrations and a schema version checked at start. Everything an instance
//! needs to answer any request lives here (users, tokens, revisions, records, leases), so
//! any number of instances on one PostgreSQL serve any request.

use std::future::Future;
use std::pin::Pin;

use crate::sync::wire::{LeaseHeld, Record};

pub mod postgres;
pub mod sqlite;

/// The schema version this build knows (both backends); a newer database is refused.
pub const SCHEMA_VERSION: i64 = 1;

pub type Fut<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the server database is at schema {found}; this cdxs knows up to {known}")]
    NewerSchema { found: i64, known: i64 },
    #[error("{0}")]
    Db(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Db(format!("sqlite: {e}"))
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
    pub key_id: Option<String>,
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
    /// Someone pushed since the base revision, or a record's version did not grow.
    Conflict(i64),
    /// The user's records are sealed with another key.
    KeyMismatch(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Granted(i64),
    Held { holder: String, until: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySet {
    Set,
    Same,
    Mismatch(String),
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
        now: i64,
        expires_at: i64,
    ) -> Fut<'_, ()>;
    /// The owner of an unexpired token (and notes its use, at most once a minute).
    fn token(&self, token_hash: String, now: i64) -> Fut<'_, Option<TokenInfo>>;
    fn revoke_token(&self, token_hash: String) -> Fut<'_, bool>;
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
    /// upserts; a record's version must grow.
    fn push(
        &self,
        user_id: i64,
        base_revision: i64,
        key_id: Option<String>,
        records: Vec<Record>,
        now: i64,
    ) -> Fut<'_, PushOutcome>;
    fn take_lease(
        &self,
        user_id: i64,
        record_id: String,
        holder: String,
        ttl_s: i64,
        now: i64,
    ) -> Fut<'_, LeaseOutcome>;
    fn release_lease(&self, user_id: i64, record_id: String, holder: String) -> Fut<'_, bool>;
    fn leases(&self, user_id: i64, now: i64) -> Fut<'_, Vec<LeaseHeld>>;
}

/// Cut a page fetched with `limit + 1` rows (ordered by revision) so that it never ends in
/// the middle of a revision: a revision is one push, all or nothing.
pub fn cut_page(mut rows: Vec<(i64, Record)>, limit: usize, current: i64) -> Page {
    if rows.len() <= limit {
        let max = rows.iter().map(|(r, _)| *r).max().unwrap_or(0);
        return Page {
            revision: current.max(max),
            records: rows.into_iter().map(|(_, r)| r).collect(),
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
        records: rows.into_iter().map(|(_, r)| r).collect(),
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
            updated_at: 0,
            deleted: false,
            nonce: String::new(),
            ciphertext: String::new(),
        }
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
