//! The sync protocol on the wire (SPEC 8): JSON over HTTP under `/v1`, shared by the
//! blocking client and the axum server so both sides agree by construction.

use serde::{Deserialize, Serialize};

/// The protocol this build speaks. A server refuses clients whose protocol it does not
/// know; a client refuses servers that answer with another one.
pub const PROTOCOL: u32 = 1;
/// The oldest client version this server accepts (`/health` says it as `min_client`).
pub const MIN_CLIENT: &str = "0.1.0";
/// This build's version, sent by the client and answered by the server.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every response carries the server's version and protocol.
pub const HEADER_SERVER_VERSION: &str = "x-cdxs-server-version";
pub const HEADER_PROTOCOL: &str = "x-cdxs-protocol";
/// Every request carries the client's version and protocol.
pub const HEADER_CLIENT_VERSION: &str = "x-cdxs-client-version";

/// Bearer tokens start with this prefix so that secret scanners find leaked ones.
pub const TOKEN_PREFIX: &str = "cdxs_";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// A name for this device (shown by `server user list` and in lease messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// This device's id (random per vault): the holder of its leases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// The token is only in this answer; the server keeps its SHA-256.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// The user as the server spells it (lower-case).
    pub user: String,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("token", &"(sensitive)")
            .field("expires_at", &self.expires_at)
            .field("user", &self.user)
            .finish()
    }
}

/// One opaque record: the server sees ids, versions and sizes, never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub record_id: String,
    pub version: u64,
    /// The revision (push) that stored this version: set by the server in pages, so that a
    /// client never moves its cursor past what a page holds. Not sent in pushes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// Unix seconds, set by the server when the record was stored.
    #[serde(default)]
    pub updated_at: i64,
    pub deleted: bool,
    /// base64 (standard, padded) of the 24-byte nonce.
    pub nonce: String,
    /// base64 (standard, padded) of the ciphertext with its tag.
    pub ciphertext: String,
}

/// `GET /v1/records?since=REV[&limit=N]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecordsPage {
    /// The cursor to ask from next. With `more`, the revision of the last record in this
    /// page; without, the user's current revision.
    pub revision: i64,
    pub records: Vec<Record>,
    /// More records follow: ask again with `since = revision`.
    #[serde(default)]
    pub more: bool,
}

/// `POST /v1/records`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PushRequest {
    pub base_revision: i64,
    /// The key id the records were sealed with; the server refuses a push whose key id is
    /// not the user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    pub records: Vec<Record>,
    /// Fenced by a refresh lease: stored only while that lease generation is current
    /// (`409 lease_lost` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseFence>,
}

/// The lease a push is fenced by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseFence {
    pub record_id: String,
    pub generation: i64,
}

/// `POST /v1/key/rotate`: every record of the user, re-sealed under the new key, replaces
/// what the server holds, and the key id changes, as one revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateRequest {
    pub old_key_id: String,
    pub new_key_id: String,
    pub base_revision: i64,
    pub records: Vec<Record>,
}

/// `200` answer of a push, and the body of its `409`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevisionBody {
    pub revision: i64,
}

/// `GET /v1/key` and `PUT /v1/key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyBody {
    pub key_id: Option<String>,
}

/// `POST /v1/leases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub record_id: String,
    pub ttl_s: u64,
    /// Renew this generation: refused (`409 lease_lost`) when it moved on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// `200` answer of a lease request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseGranted {
    /// Unix seconds (server time).
    pub until: i64,
    /// The lease's generation (fences the push of the refreshed record).
    #[serde(default)]
    pub generation: i64,
    /// Seconds granted (the ttl asked for, capped by the server).
    #[serde(default)]
    pub ttl_s: u64,
}

/// `409` answer of a lease request, and an entry of `GET /v1/leases`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeaseHeld {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    pub holder: String,
    pub until: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LeasesBody {
    pub leases: Vec<LeaseHeld>,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub protocol: u32,
    pub min_client: String,
}

/// Every error answer: a stable code and a sentence for people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    /// The user's key id (`key_mismatch` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Current revision (`conflict` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The device holding a lease (`lease_held` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// Until when (Unix seconds; `lease_held` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    /// The record whose version did not grow (`stale_record` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

impl ErrorBody {
    pub fn new(error: &str, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: error.into(),
            message: message.into(),
            key_id: None,
            revision: None,
            holder: None,
            until: None,
            record_id: None,
        }
    }
}

/// Compare dotted versions numerically (`0.10.0` > `0.9.3`); missing parts are zero and
/// anything after `-` or `+` is ignored.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(v: &str) -> Vec<u64> {
        v.split(['-', '+'])
            .next()
            .unwrap_or("")
            .split('.')
            .map(|p| p.trim().parse().unwrap_or(0))
            .collect()
    }
    let (pa, pb) = (parts(a), parts(b));
    let n = pa.len().max(pb.len());
    for i in 0..n {
        let (x, y) = (
            pa.get(i).copied().unwrap_or(0),
            pb.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn versions_compare_numerically() {
        assert_eq!(version_cmp("0.10.0", "0.9.3"), Ordering::Greater);
        assert_eq!(version_cmp("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(version_cmp("0.1.0-dev", "0.1.0"), Ordering::Equal);
        assert_eq!(version_cmp("0.1.0", "0.2.0"), Ordering::Less);
    }

    #[test]
    fn login_response_debug_hides_the_token() {
        let r = LoginResponse {
            token: "cdxs_secret".into(),
            expires_at: 1,
            user: "a".into(),
        };
        assert!(!format!("{r:?}").contains("cdxs_secret"));
    }
}
