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
    /// The lease generation this request renews or is fenced by has moved on: another
    /// device took the lease after it expired (or it was released).
    LeaseLost,
    /// The server holds a newer version of this record than the push builds on.
    StaleRecord {
        record_id: String,
    },
    /// The server's user has another sync key.
    KeyMismatch {
        server_key_id: String,
    },
    /// The token is missing, expired or revoked (or the login failed).
    Unauthorized,
    /// The server could not be reached at all.
    Offline(String),
    /// The server answered with a failure (a 5xx, a proxy's 502, a timeout, an answer
    /// that is not the sync API's): it cannot decide anything now.
    Failed(Error),
    Other(Error),
}

/// The most one answer may hold: a full page at the server's largest caps (500 records of
/// 64 KiB, in base64) fits; a server that sends more is refused, not buffered.
pub const MAX_ANSWER_BYTES: u64 = 48 * 1024 * 1024;
/// The most one error answer may hold.
const MAX_ERROR_BYTES: u64 = 64 * 1024;

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
        if has_credentials(server_url) {
            return Err(Error::user(format!(
                "the sync URL `{}` carries a user name or password",
                redact_url(server_url)
            ))
            .with_help("log in again with a URL without them: `cdxs sync login --server https://HOST --user NAME --password-stdin`"));
        }
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
        let resp = r.send().map_err(|e| {
            if e.is_connect() {
                ApiError::Offline(endpoints::describe(&e))
            } else {
                // Connected, then nothing usable came back (a timeout, a reset).
                ApiError::Failed(Error::user(format!(
                    "the sync server `{}` failed: {}",
                    self.base,
                    endpoints::describe(&e)
                )))
            }
        })?;
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

    /// Replace every record (re-sealed under a new key) and the key id, as one revision.
    pub fn rotate_key(&self, req: &RotateRequest) -> ApiResult<i64> {
        let resp = self.send(self.req(reqwest::Method::POST, "/v1/key/rotate").json(req))?;
        Ok(json::<RevisionBody>(&self.base, resp)?.revision)
    }

    /// Take the lease, or renew `generation` (refused as [`ApiError::LeaseLost`] when it
    /// moved on).
    pub fn take_lease(
        &self,
        record_id: &str,
        ttl_s: u64,
        generation: Option<i64>,
    ) -> ApiResult<LeaseGranted> {
        let body = LeaseRequest {
            record_id: record_id.to_string(),
            ttl_s,
            generation,
        };
        let resp = self.send(self.req(reqwest::Method::POST, "/v1/leases").json(&body))?;
        json::<LeaseGranted>(&self.base, resp)
    }

    pub fn release_lease(&self, record_id: &str, generation: Option<i64>) -> ApiResult<()> {
        let mut path = format!("/v1/leases/{}", url_segment(record_id));
        if let Some(g) = generation {
            path.push_str(&format!("?generation={g}"));
        }
        let resp = self.send(self.req(reqwest::Method::DELETE, &path))?;
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

/// Does the URL carry a user name or password (`https://user:pw@host`)?
pub fn has_credentials(url: &str) -> bool {
    url::Url::parse(url.trim()).is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
}

/// The URL for messages: without a user name or password, if it has them.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut u) if !u.username().is_empty() || u.password().is_some() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            normalize_url(u.as_str())
        }
        Ok(_) => normalize_url(url),
        Err(_) => "(an unparsable URL)".into(),
    }
}

/// Is the host a loopback one (`127.0.0.0/8`, `::1`, `localhost`)?
fn loopback(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        None => false,
    }
}

/// The rules for a sync server's URL: `https://`, or `http://` to a loopback address (or
/// anywhere with `allow_insecure_http`); no user name or password (the login sends its
/// own), no query or fragment. The URL as kept, without a trailing slash.
pub fn check_url(url: &str, allow_insecure_http: bool) -> crate::error::Result<String> {
    let trimmed = normalize_url(url);
    let parsed = url::Url::parse(&trimmed).map_err(|_| {
        Error::user(format!("`{}` is not a URL", redact_url(&trimmed)))
            .with_help("pass the server's URL, e.g. `--server https://cdxs.example.net`")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(
            Error::user(format!("`{}` is not an http(s) URL", redact_url(&trimmed)))
                .with_help("pass the server's URL, e.g. `--server https://cdxs.example.net`"),
        );
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::user(format!(
            "the sync URL `{}` carries a user name or password; cdxs does not keep or send them",
            redact_url(&trimmed)
        ))
        .with_help(
            "pass the URL without them, the user with `--user NAME` and the password on standard input (`--password-stdin`)",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::user(format!(
            "the sync URL `{}` has a query or fragment",
            redact_url(&trimmed)
        ))
        .with_help("pass only the scheme, host, port and path"));
    }
    if parsed.scheme() == "http" && !loopback(&parsed) && !allow_insecure_http {
        return Err(Error::user(format!(
            "`{trimmed}` is plain http to another machine: the password and the login token would cross the network in clear"
        ))
        .with_help(
            "use https (put TLS in front of the server: docs/sync.md shows Caddy and nginx), or pass `--allow-insecure-http` on a network you trust",
        ));
    }
    Ok(trimmed)
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
        None => Err(ApiError::Failed(
            Error::user(format!("`{base}` did not answer like a cdxs sync server"))
                .with_help("check the URL (`cdxs sync status`); a proxy in front must pass the `x-cdxs-*` headers"),
        )),
    }
}

fn error_body(resp: Response) -> (StatusCode, ErrorBody) {
    let status = resp.status();
    let body = read_limited(resp, MAX_ERROR_BYTES)
        .ok()
        .and_then(|b| serde_json::from_slice::<ErrorBody>(&b).ok())
        .unwrap_or_else(|| ErrorBody::new("unknown", format!("HTTP {status}")));
    (status, body)
}

/// The body of an answer, refused past `limit` bytes (a server that sends more is
/// hostile or broken; nothing past the limit is buffered).
fn read_limited(resp: Response, limit: u64) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(format!("an answer larger than {limit} bytes"));
    }
    let mut out = Vec::new();
    resp.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|_| "the answer broke off".to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("an answer larger than {limit} bytes"));
    }
    Ok(out)
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
        (StatusCode::CONFLICT, "lease_lost") => ApiError::LeaseLost,
        (StatusCode::CONFLICT, "stale_record") => ApiError::StaleRecord {
            record_id: body.record_id.unwrap_or_default(),
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
        (s, _) if s.is_server_error() => ApiError::Failed(
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
    let bytes = read_limited(resp, MAX_ANSWER_BYTES).map_err(|why| {
        ApiError::Failed(Error::user(format!(
            "the sync server `{base}` sent {why}; nothing of it was used"
        )))
    })?;
    serde_json::from_slice::<T>(&bytes).map_err(|_| {
        ApiError::Failed(Error::user(format!(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_urls_follow_the_rules() {
        assert_eq!(
            check_url("https://cdxs.example.net/", false).unwrap(),
            "https://cdxs.example.net"
        );
        for ok in [
            "http://127.0.0.1:8765",
            "http://127.9.9.9",
            "http://[::1]:8765",
            "http://localhost:8765",
        ] {
            assert!(check_url(ok, false).is_ok(), "{ok}");
        }
        let refused = |u: &str| check_url(u, false).unwrap_err().to_string();
        assert!(refused("http://sync.example.net").contains("plain http"));
        assert!(check_url("http://sync.example.net", true).is_ok());
        let creds = refused("https://alice:s3cret@sync.example.net");
        assert!(creds.contains("user name or password") && !creds.contains("s3cret"));
        assert!(refused("https://alice@sync.example.net").contains("user name"));
        assert!(refused("https://sync.example.net/?x=1").contains("query"));
        assert!(refused("ftp://sync.example.net").contains("not an http(s) URL"));
        assert_eq!(redact_url("https://a:b@h.example/p"), "https://h.example/p");
        assert!(has_credentials("https://a:b@h.example"));
        assert!(!has_credentials("https://h.example"));
    }
}
