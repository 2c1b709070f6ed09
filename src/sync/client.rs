//! The blocking HTTP client of the sync API (the client side stays synchronous).
//!
//! Every request says which client version sends it; every answer is checked for the
//! server's protocol, so a client too old or too new for its server says which versions
//! it needs instead of misreading an answer.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use super::wire::{self, *};
use crate::endpoints;
use crate::error::Error;
use crate::secret::Secret;

/// A failure the sync logic reacts to; anything else is an [`Error`] for a person.
#[derive(Debug)]
pub enum ApiError {
    /// Someone pushed since our base revision (or a record version went backwards).
    Conflict {
        revision: i64,
    },
    /// Another device holds the lease.
    LeaseHeld {
        holder: String,
        until: i64,
    },
    /// The server's user has another sync key.
    KeyMismatch {
        server_key_id: String,
    },
    /// The token is missing, expired or revoked (or the login failed).
    Unauthorized,
    /// The server could not be reached at all.
    Offline(String),
    Other(Error),
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::Other(e)
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

pub struct SyncClient {
    base: String,
    http: Client,
    token: Option<Secret>,
}

impl SyncClient {
    pub fn new(server_url: &str, token: Option<Secret>) -> crate::error::Result<SyncClient> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .user_agent(format!("cdxs/{}", wire::VERSION))
            .build()
            .map_err(|e| Error::user(format!("cannot set up HTTP: {e}")))?;
        Ok(SyncClient {
            base: normalize_url(server_url),
            http,
            token,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn req(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(HEADER_CLIENT_VERSION, wire::VERSION)
            .header(HEADER_PROTOCOL, wire::PROTOCOL.to_string());
        if let Some(t) = &self.token {
            r = r.bearer_auth(t.expose());
        }
        r
    }

    fn send(&self, r: RequestBuilder) -> ApiResult<Response> {
        let resp = r
            .send()
            .map_err(|e| ApiError::Offline(endpoints::describe(&e)))?;
        check_protocol(&self.base, &resp)?;
        Ok(resp)
    }

    pub fn health(&self) -> ApiResult<Health> {
        let resp = self.send(self.req(reqwest::Method::GET, "/health"))?;
        let h: Health = json(&self.base, resp)?;
        if wire::version_cmp(wire::VERSION, &h.min_client) == std::cmp::Ordering::Less {
            return Err(ApiError::Other(
                Error::user(format!(
                    "this cdxs ({}) is too old for the sync server `{}` ({}), which needs cdxs {} or newer",
                    wire::VERSION,
                    self.base,
                    h.version,
                    h.min_client
                ))
                .with_help("upgrade cdxs on this machine"),
            ));
        }
        Ok(h)
    }

    pub fn login(&self, req: &LoginRequest) -> ApiResult<LoginResponse> {
        let resp = self.send(self.req(reqwest::Method::POST, "/v1/login").json(req))?;
        json(&self.base, resp)
    }

    pub fn logout(&self) -> ApiResult<()> {
        let resp = self.send(self.req(reqwest::Method::POST, "/v1/logout"))?;
        empty(&self.base, resp)
    }

    pub fn key_id(&self) -> ApiResult<Option<String>> {
        let resp = self.send(self.req(reqwest::Method::GET, "/v1/key"))?;
        Ok(json::<KeyBody>(&self.base, resp)?.key_id)
    }

    /// Register the key id; `KeyMismatch` when the user already has another one.
    pub fn set_key_id(&self, key_id: &str) -> ApiResult<()> {
        let body = KeyBody {
            key_id: Some(key_id.to_string()),
        };
        let resp = self.send(self.req(reqwest::Method::PUT, "/v1/key").json(&body))?;
        empty(&self.base, resp)
    }

    pub fn records(&self, since: i64) -> ApiResult<RecordsPageWithKey> {
        let resp =
            self.send(self.req(reqwest::Method::GET, &format!("/v1/records?since={since}")))?;
        let key_id = resp
            .headers()
            .get("x-cdxs-key-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let page: RecordsPage = json(&self.base, resp)?;
        Ok(RecordsPageWithKey { page, key_id })
    }

    /// The user's current revision, without downloading records (`limit=0`).
    pub fn remote_revision(&self, since: i64) -> ApiResult<i64> {
        let resp = self.send(self.req(
            reqwest::Method::GET,
            &format!("/v1/records?since={since}&limit=0"),
        ))?;
        Ok(json::<RecordsPage>(&self.base, resp)?.revision)
    }

    pub fn push(&self, req: &PushRequest) -> ApiResult<i64> {
        let resp = self.send(self.req(reqwest::Method::POST, "/v1/records").json(req))?;
        Ok(json::<RevisionBody>(&self.base, resp)?.revision)
    }

    pub fn take_lease(&self, record_id: &str, ttl_s: u64) -> ApiResult<i64> {
        let body = LeaseRequest {
            record_id: record_id.to_string(),
            ttl_s,
        };
        let resp = self.send(self.req(reqwest::Method::POST, "/v1/leases").json(&body))?;
        Ok(json::<LeaseGranted>(&self.base, resp)?.until)
    }

    pub fn release_lease(&self, record_id: &str) -> ApiResult<()> {
        let resp = self.send(self.req(
            reqwest::Method::DELETE,
            &format!("/v1/leases/{}", url_segment(record_id)),
        ))?;
        empty(&self.base, resp)
    }

    pub fn leases(&self) -> ApiResult<Vec<LeaseHeld>> {
        let resp = self.send(self.req(reqwest::Method::GET, "/v1/leases"))?;
        Ok(json::<LeasesBody>(&self.base, resp)?.leases)
    }
}

/// A page and the key id the server holds for the user (`x-cdxs-key-id`).
pub struct RecordsPageWithKey {
    pub page: RecordsPage,
    pub key_id: Option<String>,
}

/// `https://host:port/path` without a trailing slash.
pub fn normalize_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_string()
}

fn url_segment(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect()
}

fn check_protocol(base: &str, resp: &Response) -> ApiResult<()> {
    let server_version = resp
        .headers()
        .get(HEADER_SERVER_VERSION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown")
        .to_string();
    let protocol = resp
        .headers()
        .get(HEADER_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    match protocol {
        Some(p) if p == wire::PROTOCOL => Ok(()),
        Some(p) => Err(ApiError::Other(
            Error::user(format!(
                "the sync server `{base}` (cdxs {server_version}) speaks sync protocol {p}; this cdxs ({}) speaks {}",
                wire::VERSION,
                wire::PROTOCOL
            ))
            .with_help(if p > wire::PROTOCOL {
                "upgrade cdxs on this machine to the server's version"
            } else {
                "upgrade the sync server to this cdxs's version"
            }),
        )),
        None => Err(ApiError::Other(
            Error::user(format!("`{base}` did not answer like a cdxs sync server"))
                .with_help("check the URL (`cdxs sync status`); a proxy in front must pass the `x-cdxs-*` headers"),
        )),
    }
}

fn error_body(resp: Response) -> (StatusCode, ErrorBody) {
    let status = resp.status();
    let body = resp
        .json::<ErrorBody>()
        .unwrap_or_else(|_| ErrorBody::new("unknown", format!("HTTP {status}")));
    (status, body)
}

fn fail(base: &str, resp: Response) -> ApiError {
    let (status, body) = error_body(resp);
    let msg = body.message.chars().take(300).collect::<String>();
    match (status, body.error.as_str()) {
        (StatusCode::UNAUTHORIZED, _) => ApiError::Unauthorized,
        (StatusCode::CONFLICT, "key_mismatch") => ApiError::KeyMismatch {
            server_key_id: body.key_id.unwrap_or_default(),
        },
        (StatusCode::CONFLICT, "lease_held") => ApiError::LeaseHeld {
            holder: body.holder.unwrap_or_default(),
            until: body.until.unwrap_or(0),
        },
        (StatusCode::CONFLICT, _) => ApiError::Conflict {
            revision: body.revision.unwrap_or(0),
        },
        (StatusCode::TOO_MANY_REQUESTS, _) => ApiError::Other(
            Error::user(format!("the sync server `{base}` refused: {msg}"))
                .with_help("too many attempts; wait a minute and try again"),
        ),
        (StatusCode::PAYLOAD_TOO_LARGE, _) => ApiError::Other(
            Error::user(format!("the sync server `{base}` refused a request as too large: {msg}"))
                .with_help("the server (or a proxy in front of it) caps request bodies; raise the cap or sync fewer accounts at once"),
        ),
        (StatusCode::UPGRADE_REQUIRED, _) => ApiError::Other(
            Error::user(format!("the sync server `{base}` refused this cdxs: {msg}"))
                .with_help("upgrade cdxs on this machine"),
        ),
        (s, _) if s.is_server_error() => ApiError::Other(
            Error::user(format!("the sync server `{base}` failed: {msg}"))
                .with_help("try again later; the server's log has the details"),
        ),
        _ => ApiError::Other(Error::user(format!(
            "the sync server `{base}` refused the request: {msg}"
        ))),
    }
}

fn json<T: DeserializeOwned>(base: &str, resp: Response) -> ApiResult<T> {
    if !resp.status().is_success() {
        return Err(fail(base, resp));
    }
    resp.json::<T>().map_err(|_| {
        ApiError::Other(Error::user(format!(
            "the sync server `{base}` answered something cdxs cannot read"
        )))
    })
}

fn empty(base: &str, resp: Response) -> ApiResult<()> {
    if !resp.status().is_success() {
        return Err(fail(base, resp));
    }
    Ok(())
}
