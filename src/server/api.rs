//! The HTTP API (SPEC 8) on axum: routes, the bearer-token guard, version headers, caps,
//! and error bodies. Handlers never log a password, a token or a record's content.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::auth::{self, Hasher, Verified};
use super::limits::{Cidr, LoginLimits, Wait, client_ip};
use super::store::{
    Fence, KeySet, LeaseAsk, LeaseOutcome, Push, PushLimits, PushOutcome, Storage, StoreError,
    TokenInfo, UserRow,
};
use crate::sync::crypto::NONCE_LEN;
use crate::sync::wire::{self, *};

/// Caps on what one request may carry or ask for.
#[derive(Debug, Clone)]
pub struct Caps {
    /// Bytes in one request body (413 above).
    pub max_body: usize,
    /// Records in one push (413 above).
    pub max_records: usize,
    /// Bytes of one record's ciphertext (413 above).
    pub max_record_bytes: usize,
    /// Records in one page of `GET /v1/records` (never below `max_records`).
    pub page: usize,
    pub token_ttl_s: i64,
    pub max_lease_s: i64,
    /// Records one user may hold, tombstones included (413 above).
    pub max_user_records: usize,
    /// Live leases one user may hold at once (429 above).
    pub max_leases: usize,
    /// Bytes of a login body: read before any other work, so a stalled or huge login
    /// costs at most this much memory.
    pub max_login_body: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_body: 4 * 1024 * 1024,
            max_records: 500,
            max_record_bytes: 64 * 1024,
            page: 500,
            token_ttl_s: 30 * 86_400,
            max_lease_s: 600,
            max_user_records: 10_000,
            max_leases: 100,
            max_login_body: 8 * 1024,
        }
    }
}

pub struct AppState {
    pub store: Arc<dyn Storage>,
    pub hasher: Hasher,
    pub caps: Caps,
    pub login_limits: LoginLimits,
    pub trusted_proxies: Vec<Cidr>,
}

type Shared = Arc<AppState>;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An error answer: a status, `{error, message, ...}`, and a `Retry-After` in seconds.
pub struct ApiErr(StatusCode, Box<ErrorBody>, Option<u64>);

impl ApiErr {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiErr {
        ApiErr(status, Box::new(ErrorBody::new(code, message)), None)
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let mut resp = (self.0, Json(*self.1)).into_response();
        let retry = match (self.2, self.0) {
            (Some(s), _) => Some(s),
            (None, StatusCode::TOO_MANY_REQUESTS) => Some(60),
            _ => None,
        };
        if let Some(secs) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<StoreError> for ApiErr {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failed");
        ApiErr::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage",
            "the server's database failed; try again",
        )
    }
}

impl From<JsonRejection> for ApiErr {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_request"
        };
        ApiErr::new(status, code, r.body_text())
    }
}

fn unauthorized() -> ApiErr {
    ApiErr::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing, expired or revoked token; log in again",
    )
}

fn too_large(what: String) -> ApiErr {
    ApiErr::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", what)
}

pub fn router(state: Shared, t: &super::Timeouts) -> Router {
    let max_body = state.caps.max_body;
    let guarded = Router::new()
        .route("/v1/logout", post(logout))
        .route("/v1/key", get(get_key).put(put_key))
        .route("/v1/records", post(post_records))
        .route("/v1/leases", get(list_leases).post(take_lease))
        .route("/v1/leases/{record_id}", delete(release_lease))
        .route("/v1/key/rotate", post(rotate_key))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        // A login body is small: capped before it is read (413), ahead of any other work.
        .route(
            "/v1/login",
            post(login).layer(axum::extract::DefaultBodyLimit::max(
                state.caps.max_login_body,
            )),
        )
        // Pulls check their token themselves: one storage round trip for token and page.
        .route("/v1/records", get(get_records))
        .merge(guarded)
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        // A body must arrive whole within its deadline, and an answer within its own.
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(t.body))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            t.request,
        ))
        // Outside the body limits, so that a 413 carries the versions too.
        .layer(middleware::from_fn(versions))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    // Method and path only: never headers (tokens) or bodies.
                    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                ),
        )
        .with_state(state)
}

async fn not_found() -> ApiErr {
    ApiErr::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// Every answer carries the server's version and protocol; a client that says it speaks
/// another protocol, or is older than `MIN_CLIENT`, is refused with 426 naming both.
async fn versions(req: Request, next: Next) -> Response {
    let client_proto = req
        .headers()
        .get(HEADER_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok());
    let client_version = req
        .headers()
        .get(HEADER_CLIENT_VERSION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let refuse = match (client_proto, &client_version) {
        (Some(p), _) if p != wire::PROTOCOL => Some(format!(
            "this server (cdxs {}) speaks sync protocol {}; the client speaks {p}",
            wire::VERSION,
            wire::PROTOCOL
        )),
        (_, Some(v)) if wire::version_cmp(v, wire::MIN_CLIENT) == std::cmp::Ordering::Less => {
            Some(format!(
                "this server (cdxs {}) needs cdxs {} or newer; the client is {v}",
                wire::VERSION,
                wire::MIN_CLIENT
            ))
        }
        _ => None,
    };
    let mut resp = match refuse {
        Some(msg) => ApiErr::new(StatusCode::UPGRADE_REQUIRED, "version", msg).into_response(),
        None => next.run(req).await,
    };
    let h = resp.headers_mut();
    h.insert(
        HEADER_SERVER_VERSION,
        HeaderValue::from_static(wire::VERSION),
    );
    h.insert(HEADER_PROTOCOL, HeaderValue::from(wire::PROTOCOL));
    resp
}

/// The bearer-token guard of every `/v1` route but login.
async fn require_token(
    State(s): State<Shared>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiErr> {
    let token = bearer(req.headers()).ok_or_else(unauthorized)?;
    let hash = auth::token_hash(token);
    let info = s
        .store
        .token(hash.clone(), now())
        .await?
        .ok_or_else(unauthorized)?;
    req.extensions_mut().insert(Arc::new(info));
    req.extensions_mut().insert(TokenHash(hash));
    Ok(next.run(req).await)
}

#[derive(Clone)]
struct TokenHash(String);

/// A well-formed `Authorization: Bearer cdxs_...` token.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() <= 128)
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: wire::VERSION.into(),
        protocol: wire::PROTOCOL,
        min_client: wire::MIN_CLIENT.into(),
    })
}

/// Server user names: 1 to 64 of `a-z 0-9 . _ - @`, compared lower-case.
pub fn normalize_user(name: &str) -> Option<String> {
    let n = name.trim().to_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    ok.then_some(n)
}

fn device_name(d: Option<&str>) -> String {
    let clean: String = d
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "unnamed device".into()
    } else {
        clean.to_string()
    }
}

/// A device id as the client sends it (`dev_` and hex from the vault; anything else is
/// ignored and the login holds its own leases).
fn device_id(d: Option<&str>) -> Option<String> {
    d.filter(|d| {
        !d.is_empty()
            && d.len() <= 64
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
    })
    .map(str::to_string)
}

fn rate_limited(wait: Wait) -> ApiErr {
    let mut e = ApiErr::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many login attempts; try again in {} s", wait.0),
    );
    e.2 = Some(wait.0);
    e
}

async fn login(
    State(s): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginRequest>, JsonRejection>,
) -> Result<Json<LoginResponse>, ApiErr> {
    let Json(req) = body?;
    let password = Zeroizing::new(req.password);
    let ip = client_ip(peer.ip(), &headers, &s.trusted_proxies);
    let key: String = req
        .username
        .trim()
        .to_lowercase()
        .chars()
        .take(64)
        .collect();
    if let Err(wait) = s.login_limits.check(&key, ip) {
        tracing::warn!(%ip, "login rate limit reached");
        return Err(rate_limited(wait));
    }
    let Some(row) = verified_user(&s, &req.username, &password).await? else {
        s.login_limits.failed(&key, ip);
        tracing::info!(%ip, "login refused");
        // One answer for every failure: unknown user, bad password, malformed name.
        return Err(ApiErr::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong user name or password",
        ));
    };
    s.login_limits.succeeded(&key, ip);
    let token = auth::new_token();
    let t = now();
    let expires_at = t + s.caps.token_ttl_s;
    let device = device_name(req.device.as_deref());
    s.store
        .create_token(
            row.id,
            auth::token_hash(&token),
            device.clone(),
            device_id(req.device_id.as_deref()),
            t,
            expires_at,
        )
        .await?;
    tracing::info!(user = %row.name, device = %device, %ip, "login");
    Ok(Json(LoginResponse {
        token: token.to_string(),
        expires_at,
        user: row.name,
    }))
}

/// The user `username` names when `password` is theirs (`None` otherwise: an unknown
/// user and a malformed name cost a password check too). An imported hash is upgraded to
/// Argon2id on the way.
async fn verified_user(
    s: &AppState,
    username: &str,
    password: &Zeroizing<String>,
) -> Result<Option<UserRow>, ApiErr> {
    let name = normalize_user(username);
    let row = match &name {
        Some(n) if password.len() <= 1024 => s.store.user(n.clone()).await?,
        _ => None,
    };
    let verified = s
        .hasher
        .verify(
            password.clone(),
            row.as_ref().map(|r| r.password_hash.clone()),
        )
        .await
        .map_err(|_| {
            let mut e = ApiErr::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the server is busy checking passwords; try again in a moment",
            );
            e.2 = Some(1);
            e
        })?;
    Ok(match (verified, row) {
        (Verified::No, _) | (_, None) => None,
        (Verified::YesRehash(new_hash), Some(row)) => {
            s.store
                .set_password(row.name.clone(), new_hash, false)
                .await?;
            tracing::info!(user = %row.name, "re-hashed an imported password with Argon2id");
            Some(row)
        }
        (Verified::Yes, Some(row)) => Some(row),
    })
}

async fn logout(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
    Extension(hash): Extension<TokenHash>,
) -> Result<StatusCode, ApiErr> {
    s.store.revoke_token(hash.0).await?;
    tracing::info!(user = %info.user, device = %info.device, "logout");
    Ok(StatusCode::NO_CONTENT)
}

async fn get_key(Extension(info): Extension<Arc<TokenInfo>>) -> Json<KeyBody> {
    Json(KeyBody {
        key_id: info.key_id.clone(),
    })
}

fn valid_key_id(k: &str) -> bool {
    k.len() == 20 && k.starts_with("kid_") && k[4..].chars().all(|c| c.is_ascii_hexdigit())
}

async fn put_key(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
    body: Result<Json<KeyBody>, JsonRejection>,
) -> Result<StatusCode, ApiErr> {
    let Json(body) = body?;
    let Some(k) = body.key_id.filter(|k| valid_key_id(k)) else {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`key_id` must be `kid_` and 16 hex digits",
        ));
    };
    match s.store.set_key_id(info.user_id, k).await? {
        KeySet::Set | KeySet::Same => Ok(StatusCode::NO_CONTENT),
        KeySet::Mismatch(current) => Err(key_mismatch(current)),
    }
}

fn key_mismatch(current: String) -> ApiErr {
    let mut e = ApiErr::new(
        StatusCode::CONFLICT,
        "key_mismatch",
        format!("this user's records are sealed with key {current}"),
    );
    e.1.key_id = Some(current);
    e
}

#[derive(serde::Deserialize)]
struct Since {
    #[serde(default)]
    since: i64,
    #[serde(default)]
    limit: Option<usize>,
}

async fn get_records(
    State(s): State<Shared>,
    headers: HeaderMap,
    q: Result<Query<Since>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiErr> {
    let token = bearer(&headers).ok_or_else(unauthorized)?;
    let Query(q) =
        q.map_err(|e| ApiErr::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    // A page never splits a push, so it is at least as large as the largest push.
    let limit = match q.limit {
        Some(0) => 0,
        Some(n) => n.clamp(s.caps.max_records, s.caps.page.max(s.caps.max_records)),
        None => s.caps.page.max(s.caps.max_records),
    };
    let (info, page) = s
        .store
        .pull(auth::token_hash(token), q.since.max(0), limit, now())
        .await?
        .ok_or_else(unauthorized)?;
    let mut resp = Json(RecordsPage {
        revision: page.revision,
        records: page.records,
        more: page.more,
    })
    .into_response();
    if let Some(k) = info
        .key_id
        .as_deref()
        .and_then(|k| HeaderValue::from_str(k).ok())
    {
        resp.headers_mut().insert("x-cdxs-key-id", k);
    }
    Ok(resp)
}

fn valid_record_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Check the records of a push or a rotation against the caps and the wire rules.
fn check_records(caps: &Caps, records: &[Record]) -> Result<(), ApiErr> {
    if records.len() > caps.max_records {
        return Err(too_large(format!(
            "{} records in one push; at most {}",
            records.len(),
            caps.max_records
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for r in records {
        if !valid_record_id(&r.record_id) || r.version == 0 || r.version > i64::MAX as u64 {
            return Err(ApiErr::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "a record needs an id of `A-Za-z0-9_.-` (at most 128) and a version >= 1",
            ));
        }
        if !seen.insert(r.record_id.as_str()) {
            return Err(ApiErr::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "a record appears twice in one push",
            ));
        }
        if STANDARD.decode(&r.nonce).map(|n| n.len()) != Ok(NONCE_LEN) {
            return Err(ApiErr::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "a record's nonce must be 24 bytes of base64",
            ));
        }
        // The decoded size from the text's length (no decoding of what is stored opaque):
        // only base64 characters, every 4 of them 3 bytes.
        let text = r.ciphertext.as_bytes();
        let ok = text.len() % 4 == 0
            && text
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        if !ok {
            return Err(ApiErr::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "ciphertext must be base64",
            ));
        }
        let pad = text.iter().rev().take_while(|b| **b == b'=').count();
        let bytes = (text.len() / 4 * 3).saturating_sub(pad);
        if bytes > caps.max_record_bytes {
            return Err(too_large(format!(
                "a record of {bytes} bytes; at most {}",
                caps.max_record_bytes
            )));
        }
    }
    Ok(())
}

/// The answer for what a push (or a rotation) found.
fn push_answer(
    info: &TokenInfo,
    base_revision: i64,
    n: usize,
    out: PushOutcome,
) -> Result<Json<RevisionBody>, ApiErr> {
    match out {
        PushOutcome::Stored(revision) => {
            tracing::debug!(user = %info.user, records = n, revision, "push");
            Ok(Json(RevisionBody { revision }))
        }
        PushOutcome::Conflict(revision) => {
            let mut e = ApiErr::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("someone pushed since revision {base_revision}; pull and retry"),
            );
            e.1.revision = Some(revision);
            Err(e)
        }
        PushOutcome::Stale {
            revision,
            record_id,
        } => {
            let mut e = ApiErr::new(
                StatusCode::CONFLICT,
                "stale_record",
                format!(
                    "record `{record_id}` has a newer version here; pull it (or overwrite it with a forced push)"
                ),
            );
            e.1.revision = Some(revision);
            e.1.record_id = Some(record_id);
            Err(e)
        }
        PushOutcome::KeyMismatch(current) => Err(key_mismatch(current)),
        PushOutcome::LeaseLost => Err(ApiErr::new(
            StatusCode::CONFLICT,
            "lease_lost",
            "the refresh lease this push is fenced by has moved on to another device; pull first",
        )),
        PushOutcome::TooManyRecords(cap) => Err(too_large(format!(
            "a user may hold at most {cap} records on this server"
        ))),
    }
}

async fn post_records(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
    body: Result<Json<PushRequest>, JsonRejection>,
) -> Result<Json<RevisionBody>, ApiErr> {
    let Json(req) = body?;
    if req.records.is_empty() {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "a push carries at least one record",
        ));
    }
    check_records(&s.caps, &req.records)?;
    if let Some(k) = &req.key_id
        && !valid_key_id(k)
    {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "bad `key_id`",
        ));
    }
    if let Some(f) = &req.lease
        && !valid_record_id(&f.record_id)
    {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "bad lease record id",
        ));
    }
    let n = req.records.len();
    let push = Push {
        base_revision: req.base_revision,
        key_id: req.key_id,
        records: req.records,
        fence: req.lease.map(|f| Fence {
            record_id: f.record_id,
            generation: f.generation,
        }),
        holder_key: info.holder().key,
        limits: PushLimits {
            max_user_records: s.caps.max_user_records,
        },
    };
    let out = s.store.push(info.user_id, push, now()).await?;
    push_answer(&info, req.base_revision, n, out)
}

/// `POST /v1/key/rotate`: every record re-sealed under a new key replaces the user's, and
/// the key id changes, in one transaction (`409` when someone pushed meanwhile or the key
/// is not the one the client rotates from).
async fn rotate_key(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
    body: Result<Json<RotateRequest>, JsonRejection>,
) -> Result<Json<RevisionBody>, ApiErr> {
    let Json(req) = body?;
    if !valid_key_id(&req.old_key_id) || !valid_key_id(&req.new_key_id) {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "`old_key_id` and `new_key_id` must be `kid_` and 16 hex digits",
        ));
    }
    if req.records.len() > s.caps.max_user_records {
        return Err(too_large(format!(
            "a user may hold at most {} records on this server",
            s.caps.max_user_records
        )));
    }
    // A rotation carries every record at once: the per-push cap does not apply.
    let caps = Caps {
        max_records: usize::MAX,
        ..s.caps.clone()
    };
    check_records(&caps, &req.records)?;
    let n = req.records.len();
    let push = Push {
        base_revision: req.base_revision,
        key_id: Some(req.new_key_id.clone()),
        records: req.records,
        fence: None,
        holder_key: info.holder().key,
        limits: PushLimits {
            max_user_records: s.caps.max_user_records,
        },
    };
    let out = s
        .store
        .rotate_key(info.user_id, req.old_key_id, req.new_key_id, push, now())
        .await?;
    if matches!(out, PushOutcome::Stored(_)) {
        tracing::info!(user = %info.user, records = n, "sync key rotated");
    }
    push_answer(&info, req.base_revision, n, out)
}

async fn take_lease(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
    body: Result<Json<LeaseRequest>, JsonRejection>,
) -> Result<Json<LeaseGranted>, ApiErr> {
    let Json(req) = body?;
    if !valid_record_id(&req.record_id) {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "bad record id",
        ));
    }
    let ttl = (req.ttl_s.min(s.caps.max_lease_s as u64) as i64).max(1);
    let ask = LeaseAsk {
        record_id: req.record_id,
        holder: info.holder(),
        ttl_s: ttl,
        renew: req.generation,
        max_leases: s.caps.max_leases,
    };
    match s.store.take_lease(info.user_id, ask, now()).await? {
        LeaseOutcome::Granted(g) => Ok(Json(LeaseGranted {
            until: g.until,
            generation: g.generation,
            ttl_s: ttl as u64,
        })),
        LeaseOutcome::Held { holder, until } => {
            let mut e = ApiErr::new(
                StatusCode::CONFLICT,
                "lease_held",
                format!("`{holder}` holds this lease"),
            );
            e.1.holder = Some(holder);
            e.1.until = Some(until);
            Err(e)
        }
        LeaseOutcome::Lost => Err(ApiErr::new(
            StatusCode::CONFLICT,
            "lease_lost",
            "this lease generation is over (it expired and another device took it, or it was released)",
        )),
        LeaseOutcome::TooMany(cap) => Err(ApiErr::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_leases",
            format!("a user may hold at most {cap} leases at once"),
        )),
    }
}

#[derive(serde::Deserialize)]
struct ReleaseQuery {
    #[serde(default)]
    generation: Option<i64>,
}

async fn release_lease(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
    Path(record_id): Path<String>,
    q: Result<Query<ReleaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<StatusCode, ApiErr> {
    if !valid_record_id(&record_id) {
        return Err(ApiErr::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "bad record id",
        ));
    }
    let Query(q) =
        q.map_err(|e| ApiErr::new(StatusCode::BAD_REQUEST, "bad_request", e.body_text()))?;
    s.store
        .release_lease(info.user_id, record_id, info.holder().key, q.generation)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_leases(
    State(s): State<Shared>,
    Extension(info): Extension<Arc<TokenInfo>>,
) -> Result<Json<LeasesBody>, ApiErr> {
    Ok(Json(LeasesBody {
        leases: s.store.leases(info.user_id, now()).await?,
    }))
}
