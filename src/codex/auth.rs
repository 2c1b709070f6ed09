//! `auth.json`: read every mode real Codex 0.169 knows, write exactly what Codex writes,
//! under Codex's own lock protocol (`auth.lock`, then `auth.json.lock` for milliseconds,
//! 0600 temp file, fsync, rename, fsync of the folder).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::jwt::{self, Claims};
use crate::error::{Error, Result, tick};
use crate::fsx::{self, LockSpec};
use crate::secret::{Secret, fingerprint};

pub const AUTH_FILE: &str = "auth.json";
const AUTH_LOCK: &str = "auth.lock";
const AUTH_JSON_LOCK: &str = "auth.json.lock";
/// Codex polls `auth.json.lock` for about 5 s; we do the same and hold it for milliseconds.
const COMMIT_LOCK_WAIT: Duration = Duration::from_secs(5);

/// ChatGPT OAuth tokens as Codex stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatGptTokens {
    pub id_token: Secret,
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub account_id: Option<String>,
    pub last_refresh: Option<DateTime<Utc>>,
    /// Members cdxs does not model, carried verbatim (see [`AuthExtra`]).
    pub extra: AuthExtra,
}

/// Members of an `auth.json` that cdxs does not model, kept verbatim through every copy
/// (import, harvest, the vault, sync, switch, run, rollback, refresh).
///
/// Since Codex 0.164 a ChatGPT login carries `tokens.login_owner_id` (names one completed
/// login) and `tokens.oauth_provenance` (`{issuer, client_id}`). A Codex refresh under way
/// saves its result only if the file still names the same login by `login_owner_id`,
/// `account_id` and `chatgpt_user_id`: a rewrite of the same login that dropped the member
/// makes Codex throw away the token it just got, which ends in `refresh_token_reused`.
/// Whatever a later release adds is carried the same way. Values may be secrets: `Debug`
/// shows only how many there are.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthExtra(Option<Box<Members>>);

#[derive(Clone, Default, PartialEq, Eq)]
struct Members {
    /// Members of `tokens` other than the four cdxs models, in file order.
    tokens: Map<String, Value>,
    /// Top-level members other than `auth_mode`, `OPENAI_API_KEY`, `tokens` and
    /// `last_refresh`, in file order.
    top: Map<String, Value>,
}

/// The `tokens` members cdxs models; every other member is carried ([`AuthExtra::tokens`]).
pub const MODELED_TOKEN_MEMBERS: [&str; 4] =
    ["id_token", "access_token", "refresh_token", "account_id"];
/// The top-level members cdxs models; every other member is carried ([`AuthExtra::top`]).
pub const MODELED_TOP_MEMBERS: [&str; 4] =
    ["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"];

static NO_MEMBERS: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl std::fmt::Debug for AuthExtra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AuthExtra({} in tokens, {} top-level)",
            self.tokens().len(),
            self.top().len()
        )
    }
}

impl AuthExtra {
    /// Carried members: those of `tokens` and the top-level ones (modeled names dropped).
    pub fn new(tokens: Map<String, Value>, top: Map<String, Value>) -> AuthExtra {
        let tokens = Self::unmodeled(&tokens, &MODELED_TOKEN_MEMBERS);
        let top = Self::unmodeled(&top, &MODELED_TOP_MEMBERS);
        if tokens.is_empty() && top.is_empty() {
            AuthExtra(None)
        } else {
            AuthExtra(Some(Box::new(Members { tokens, top })))
        }
    }

    /// Members of `tokens` other than the four cdxs models, in file order.
    pub fn tokens(&self) -> &Map<String, Value> {
        self.0.as_ref().map_or(&NO_MEMBERS, |m| &m.tokens)
    }

    /// Top-level members other than the four cdxs models, in file order.
    pub fn top(&self) -> &Map<String, Value> {
        self.0.as_ref().map_or(&NO_MEMBERS, |m| &m.top)
    }

    /// Only the top-level members (an API-key login has no `tokens`).
    pub fn top_only(&self) -> AuthExtra {
        AuthExtra::new(Map::new(), self.top().clone())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The members of `object` that are not in `modeled`, in order.
    fn unmodeled(object: &Map<String, Value>, modeled: &[&str]) -> Map<String, Value> {
        object
            .iter()
            .filter(|(k, _)| !modeled.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// This copy's members over an older copy of the same login: a member this copy has
    /// wins, a member only the older copy has is kept (cdxs never drops what Codex wrote;
    /// the issuer's refresh answer, for one, never carries them).
    pub fn over(&self, older: &AuthExtra) -> AuthExtra {
        let layer = |new: &Map<String, Value>, old: &Map<String, Value>| {
            let mut out = old.clone();
            for (k, v) in new {
                out.insert(k.clone(), v.clone());
            }
            out
        };
        AuthExtra::new(
            layer(self.tokens(), older.tokens()),
            layer(self.top(), older.top()),
        )
    }

    /// The stored form (a sync record): `{"tokens": {...}, "top": {...}}`, `None` when empty.
    pub fn to_value(&self) -> Option<Value> {
        let m = self.0.as_ref()?;
        let mut out = Map::new();
        if !m.tokens.is_empty() {
            out.insert("tokens".into(), Value::Object(m.tokens.clone()));
        }
        if !m.top.is_empty() {
            out.insert("top".into(), Value::Object(m.top.clone()));
        }
        Some(Value::Object(out))
    }

    /// Read the stored form back. Modeled member names are dropped (a stored extra never
    /// overrides a modeled field); anything that is not the stored shape is empty.
    pub fn from_value(value: Option<&Value>) -> AuthExtra {
        let Some(Value::Object(o)) = value else {
            return AuthExtra::default();
        };
        let part = |key: &str| match o.get(key) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        AuthExtra::new(part("tokens"), part("top"))
    }

    /// The stored form as text (the vault's `auth_extra` column).
    pub fn to_json(&self) -> Option<String> {
        self.to_value().map(|v| v.to_string())
    }

    /// [`AuthExtra::from_value`] of stored text.
    pub fn from_json(text: Option<&str>) -> AuthExtra {
        let value = text.and_then(|t| serde_json::from_str::<Value>(t).ok());
        Self::from_value(value.as_ref())
    }
}

impl ChatGptTokens {
    /// Claims of the id token (identity) — the file is rejected at parse time if this fails.
    pub fn id_claims(&self) -> Claims {
        jwt::decode(self.id_token.expose()).unwrap_or_default()
    }

    /// Claims of the access token (its `exp` drives refresh).
    pub fn access_claims(&self) -> Claims {
        jwt::decode(self.access_token.expose()).unwrap_or_default()
    }
}

/// Credentials cdxs can manage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    ApiKey {
        key: Secret,
        /// Top-level members cdxs does not model (`extra.tokens` is always empty).
        extra: AuthExtra,
    },
    ChatGpt(ChatGptTokens),
}

/// What a home's `auth.json` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthState {
    /// No `auth.json` (Codex: "Not logged in").
    Missing,
    /// A file without credentials, e.g. `{}` (Codex quirk: "Logged in using ChatGPT").
    Empty,
    Credentials(Credentials),
    /// A mode cdxs does not manage (agent identity, PAT, Bedrock, headers, or unknown).
    Foreign {
        mode: String,
    },
}

impl AuthState {
    /// Why a home with this state holds no account of the vault (`account current`):
    /// "has no auth.json (not logged in)", "holds ..., which is not in the vault".
    pub fn not_in_vault(&self) -> String {
        match self {
            AuthState::Missing => "has no auth.json (not logged in)".to_string(),
            AuthState::Empty => "has an auth.json without credentials".to_string(),
            AuthState::Foreign { mode } => format!(
                "uses auth mode `{}`, which cdxs does not manage",
                crate::text::sanitize(mode)
            ),
            AuthState::Credentials(c) => {
                format!("holds {}, which is not in the vault", c.describe())
            }
        }
    }
}

/// A parsed `auth.json` plus a fingerprint of its bytes (drift detection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthDocument {
    pub state: AuthState,
    /// `sha256:xxxxxxxx` of the file's bytes; `None` when the file is missing.
    pub content_fingerprint: Option<String>,
}

impl AuthDocument {
    /// The credentials `import auth` takes from the file at `path`, or why there are none.
    pub fn importable(self, path: &Path) -> Result<Credentials> {
        let (what, help) = match self.state {
            AuthState::Credentials(c) => return Ok(c),
            AuthState::Missing => (
                "does not exist".to_string(),
                "pass `--file PATH` or `--codex-home PATH`, or log in with `cdxs login oauth`",
            ),
            AuthState::Empty => (
                "holds no credentials".to_string(),
                "log in with `cdxs login oauth` or add a key with `cdxs account add-api-key`",
            ),
            AuthState::Foreign { mode } => (
                format!(
                    "uses auth mode `{}`, which cdxs cannot import",
                    crate::text::sanitize(&mode)
                ),
                "cdxs manages API keys (`apikey`) and ChatGPT logins (`chatgpt`)",
            ),
        };
        Err(Error::user(format!("{} {what}", tick(path))).with_help(help))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("is not UTF-8 text (is it a binary file?)")]
    NotUtf8,
    #[error("is not valid JSON ({0})")]
    Json(String),
    #[error("is JSON but not an object")]
    NotObject,
    #[error("has a bad `{field}` field: {why}")]
    Field { field: &'static str, why: String },
}

/// The raw shape, with every field optional so that unknown or partial files parse.
#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    auth_mode: Option<String>,
    #[serde(rename = "OPENAI_API_KEY", default)]
    openai_api_key: Option<String>,
    #[serde(default)]
    tokens: Option<Value>,
    #[serde(default)]
    last_refresh: Option<Value>,
    #[serde(default)]
    personal_access_token: Option<Value>,
    #[serde(default)]
    bedrock_api_key: Option<Value>,
    #[serde(default)]
    agent_identity: Option<Value>,
}

/// Parse `auth.json` bytes the way Codex resolves modes (codex-formats 1.1).
pub fn parse(bytes: &[u8]) -> std::result::Result<AuthState, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::NotUtf8)?;
    let value: Value = serde_json::from_str(text).map_err(|e| ParseError::Json(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(ParseError::NotObject);
    };
    let top = AuthExtra::unmodeled(&object, &MODELED_TOP_MEMBERS);
    let carried_top = AuthExtra::new(Map::new(), top.clone());
    // serde's message would quote the offending value, which may be a secret.
    let raw: RawAuth =
        serde_json::from_value(Value::Object(object)).map_err(|_| ParseError::Field {
            field: "auth",
            why: "a field has the wrong type".into(),
        })?;
    let mode = match raw.auth_mode.as_deref() {
        Some(mode) => mode.to_string(),
        None if raw.personal_access_token.is_some() => "personalAccessToken".into(),
        None if raw.bedrock_api_key.is_some() => "bedrockApiKey".into(),
        None if raw.openai_api_key.is_some() => "apikey".into(),
        None if raw.tokens.is_some() => "chatgpt".into(),
        None if raw.agent_identity.is_some() => "agentIdentity".into(),
        None => return Ok(AuthState::Empty),
    };
    match mode.as_str() {
        "apikey" => match raw.openai_api_key {
            Some(key) if !key.is_empty() => {
                crate::secret::check_api_key(&key).map_err(|why| ParseError::Field {
                    field: "OPENAI_API_KEY",
                    why: why.into(),
                })?;
                Ok(AuthState::Credentials(Credentials::ApiKey {
                    key: Secret::new(key),
                    extra: carried_top,
                }))
            }
            _ => Ok(AuthState::Empty),
        },
        "chatgpt" | "chatgptAuthTokens" => match raw.tokens {
            None | Some(Value::Null) => Ok(AuthState::Empty),
            Some(tokens) => {
                let mut t = parse_tokens(tokens, raw.last_refresh)?;
                t.extra = AuthExtra::new(t.extra.tokens().clone(), top);
                Ok(AuthState::Credentials(Credentials::ChatGpt(t)))
            }
        },
        // Shown in messages: only something that looks like a mode name, never arbitrary text.
        _ if mode.len() <= 40 && mode.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Ok(AuthState::Foreign { mode })
        }
        _ => Ok(AuthState::Foreign {
            mode: "(unrecognized)".into(),
        }),
    }
}

fn parse_tokens(tokens: Value, last_refresh: Option<Value>) -> Result<ChatGptTokens, ParseError> {
    let obj = tokens.as_object().ok_or(ParseError::Field {
        field: "tokens",
        why: "expected an object".into(),
    })?;
    let text = |field: &'static str| -> Result<String, ParseError> {
        match obj.get(field) {
            Some(Value::String(s)) => {
                // Tokens are visible ASCII; anything else would travel into files.
                crate::secret::check_api_key(s).map_err(|why| ParseError::Field {
                    field,
                    why: why.into(),
                })?;
                Ok(s.clone())
            }
            Some(_) => Err(ParseError::Field {
                field,
                why: "expected a string".into(),
            }),
            None => Err(ParseError::Field {
                field,
                why: "missing".into(),
            }),
        }
    };
    let id_token = text("id_token")?;
    // Codex rejects the whole file when the id token is not a JWT; so do we.
    jwt::decode(&id_token).map_err(|e| ParseError::Field {
        field: "id_token",
        why: e.to_string(),
    })?;
    let access_token = text("access_token")?;
    let refresh_token = match obj.get("refresh_token") {
        Some(Value::String(s)) if !s.is_empty() => text("refresh_token")?,
        _ => String::new(),
    };
    let account_id = obj
        .get("account_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let last_refresh = match last_refresh {
        Some(Value::String(s)) => Some(
            DateTime::parse_from_rfc3339(&s)
                .map_err(|e| ParseError::Field {
                    field: "last_refresh",
                    why: e.to_string(),
                })?
                .with_timezone(&Utc),
        ),
        _ => None,
    };
    Ok(ChatGptTokens {
        id_token: Secret::new(id_token),
        access_token: Secret::new(access_token),
        refresh_token: Secret::new(refresh_token),
        account_id,
        last_refresh,
        extra: AuthExtra::new(obj.clone(), Map::new()),
    })
}

/// Render credentials exactly as Codex writes them: 2-space pretty JSON, no trailing
/// newline, `OPENAI_API_KEY` always present (null for ChatGPT), never `{}`. The modeled
/// members come first in Codex's order, then every carried member in the order it was read.
pub fn render(creds: &Credentials) -> Vec<u8> {
    let mut out = Map::new();
    let extra = match creds {
        Credentials::ApiKey { key, extra } => {
            out.insert("auth_mode".into(), "apikey".into());
            out.insert("OPENAI_API_KEY".into(), key.expose().into());
            extra
        }
        Credentials::ChatGpt(t) => {
            out.insert("auth_mode".into(), "chatgpt".into());
            out.insert("OPENAI_API_KEY".into(), Value::Null);
            let mut tokens = Map::new();
            tokens.insert("id_token".into(), t.id_token.expose().into());
            tokens.insert("access_token".into(), t.access_token.expose().into());
            tokens.insert("refresh_token".into(), t.refresh_token.expose().into());
            tokens.insert(
                "account_id".into(),
                t.account_id.clone().map_or(Value::Null, Value::String),
            );
            carry(&mut tokens, t.extra.tokens(), &MODELED_TOKEN_MEMBERS);
            out.insert("tokens".into(), Value::Object(tokens));
            if let Some(d) = t.last_refresh {
                out.insert(
                    "last_refresh".into(),
                    d.to_rfc3339_opts(SecondsFormat::Nanos, true).into(),
                );
            }
            &t.extra
        }
    };
    carry(&mut out, extra.top(), &MODELED_TOP_MEMBERS);
    // Serializing a JSON value cannot fail.
    serde_json::to_vec_pretty(&Value::Object(out)).expect("auth.json serializes")
}

/// Append carried members, never one that would replace a modeled member.
fn carry(into: &mut Map<String, Value>, extra: &Map<String, Value>, modeled: &[&str]) {
    for (k, v) in extra {
        if !modeled.contains(&k.as_str()) && !into.contains_key(k) {
            into.insert(k.clone(), v.clone());
        }
    }
}

pub fn auth_path(home: &Path) -> PathBuf {
    home.join(AUTH_FILE)
}

/// Read and parse a home's `auth.json`. A missing file is [`AuthState::Missing`]; an
/// unreadable one is an error naming the file.
pub fn read(home: &Path) -> Result<AuthDocument> {
    read_file(&auth_path(home))
}

/// The most an `auth.json` may weigh: Codex's are a few kilobytes. A larger file (or one
/// that never ends, like `/dev/zero`) is a clean error, not a read until memory runs out.
pub const MAX_AUTH_BYTES: u64 = 1024 * 1024;

/// Read a home's `auth.json` bytes, bounded by [`MAX_AUTH_BYTES`] (`None` when absent).
pub fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>> {
    fsx::read_optional_bounded(path, MAX_AUTH_BYTES)
}

/// Read and parse any `auth.json`-shaped file.
pub fn read_file(path: &Path) -> Result<AuthDocument> {
    match read_bytes(path)? {
        None => Ok(AuthDocument {
            state: AuthState::Missing,
            content_fingerprint: None,
        }),
        Some(bytes) => {
            let state = parse(&bytes).map_err(|e| bad_file(path, &e))?;
            Ok(AuthDocument {
                state,
                content_fingerprint: Some(fingerprint(&bytes)),
            })
        }
    }
}

pub fn bad_file(path: &Path, e: &ParseError) -> Error {
    Error::user(format!("{} {e}", tick(path))).with_help(
        "cdxs reads the auth.json that Codex writes; if this one is damaged, restore it from a backup or write a fresh one with `cdxs switch ACCOUNT`",
    )
}

/// What happened to `auth.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file already held exactly these bytes.
    Unchanged,
    /// Written; the previous content (if any) was saved at `backup`.
    Written { backup: Option<PathBuf> },
}

/// Write a home's `auth.json` under Codex's lock protocol.
///
/// `decide` sees the current bytes once both locks are held (so nobody can change them
/// underneath) and returns what to write, or `None` to leave the file alone: this is where
/// compare-and-swap and rotation safety (harvesting newer tokens) happen. `backup` saves
/// the current bytes before they are replaced and returns where. The folder must exist.
pub fn write_with(
    home: &Path,
    decide: impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>>,
    backup: impl FnOnce(&Path, &[u8]) -> Result<PathBuf>,
) -> Result<WriteOutcome> {
    lock_home(home)?.write_with(decide, backup)
}

/// Codex's outer `auth.lock` of one home, held: Codex waits (it blocks on this lock
/// before refreshing or writing), so cdxs can refresh a login and write the result back
/// without Codex spending the same refresh token meanwhile.
#[derive(Debug)]
pub struct HomeAuthLock {
    home: PathBuf,
    _outer: fsx::FileLock,
}

/// Take a home's `auth.lock`; Codex blocks on it without a deadline, we wait a bounded time
/// and say who holds it.
pub fn lock_home(home: &Path) -> Result<HomeAuthLock> {
    let outer = fsx::lock_exclusive(
        &home.join(AUTH_LOCK),
        LockSpec::new(fsx::lock_timeout()).mode(0o644),
        "Codex's `auth.lock`",
    )?;
    Ok(HomeAuthLock {
        home: home.to_path_buf(),
        _outer: outer,
    })
}

impl HomeAuthLock {
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The second half of Codex's protocol: `auth.json.lock` for milliseconds, the decision
    /// on the current bytes, backup, atomic write.
    pub fn write_with(
        &self,
        decide: impl FnOnce(Option<&[u8]>) -> Result<Option<Vec<u8>>>,
        backup: impl FnOnce(&Path, &[u8]) -> Result<PathBuf>,
    ) -> Result<WriteOutcome> {
        let home = &self.home;
        let path = auth_path(home);
        let _commit = fsx::lock_exclusive(
            &home.join(AUTH_JSON_LOCK),
            LockSpec::new(COMMIT_LOCK_WAIT),
            "Codex's `auth.json.lock`",
        )?;
        let current = read_bytes(&path)?;
        let Some(content) = decide(current.as_deref())? else {
            return Ok(WriteOutcome::Unchanged);
        };
        if current.as_deref() == Some(content.as_slice()) {
            return Ok(WriteOutcome::Unchanged);
        }
        let saved = match &current {
            Some(bytes) => Some(backup(&path, bytes)?),
            None => None,
        };
        fsx::fault_point("auth.before_write");
        fsx::write_atomic(&path, &content, fsx::SECRET_FILE_MODE)?;
        fsx::fault_point("auth.after_write");
        Ok(WriteOutcome::Written { backup: saved })
    }
}

/// Remove a home's `auth.json` under Codex's lock protocol (rollback of a generation that
/// created it), after `decide` approved the current bytes and `backup` saved them.
pub fn remove_with(
    home: &Path,
    decide: impl FnOnce(Option<&[u8]>) -> Result<bool>,
    backup: impl FnOnce(&Path, &[u8]) -> Result<PathBuf>,
) -> Result<WriteOutcome> {
    let path = auth_path(home);
    let _outer = fsx::lock_exclusive(
        &home.join(AUTH_LOCK),
        LockSpec::new(fsx::lock_timeout()).mode(0o644),
        "Codex's `auth.lock`",
    )?;
    let _commit = fsx::lock_exclusive(
        &home.join(AUTH_JSON_LOCK),
        LockSpec::new(COMMIT_LOCK_WAIT),
        "Codex's `auth.json.lock`",
    )?;
    let Some(current) = read_bytes(&path)? else {
        return Ok(WriteOutcome::Unchanged);
    };
    if !decide(Some(&current))? {
        return Ok(WriteOutcome::Unchanged);
    }
    let saved = backup(&path, &current)?;
    std::fs::remove_file(&path)
        .map_err(|e| Error::io(format!("cannot remove {}", tick(&path)), e))?;
    fsx::sync_dir(home).map_err(|e| Error::io(format!("cannot sync {}", tick(home)), e))?;
    Ok(WriteOutcome::Written {
        backup: Some(saved),
    })
}

impl Credentials {
    /// A short human description without secrets.
    pub fn describe(&self) -> String {
        match self {
            Credentials::ApiKey { key, .. } => format!("API key {}", key.fingerprint()),
            Credentials::ChatGpt(t) => {
                let c = t.id_claims();
                format!(
                    "ChatGPT {}{}",
                    c.email.as_deref().unwrap_or("(no email)"),
                    c.plan_type.map(|p| format!(" ({p})")).unwrap_or_default()
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn id_token(email: &str) -> String {
        jwt::unsigned(&json!({
            "email": email,
            "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-1"},
            "iat": 1, "exp": 2
        }))
    }

    #[test]
    fn api_key_round_trip_matches_codex_bytes() {
        let creds = Credentials::ApiKey {
            key: Secret::new("sk-test-1234"),
            extra: AuthExtra::default(),
        };
        let bytes = render(&creds);
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            "{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"sk-test-1234\"\n}"
        );
        assert_eq!(parse(&bytes).unwrap(), AuthState::Credentials(creds));
    }

    #[test]
    fn chatgpt_round_trip_has_codex_keys_in_order() {
        let tokens = ChatGptTokens {
            id_token: Secret::new(id_token("a@b.c")),
            access_token: Secret::new(id_token("a@b.c")),
            refresh_token: Secret::new("rt_1"),
            account_id: Some("acct-1".into()),
            last_refresh: Some("2026-11-26T08:52:13.018315533Z".parse().unwrap()),
            extra: AuthExtra::default(),
        };
        let creds = Credentials::ChatGpt(tokens);
        let bytes = render(&creds);
        let text = std::str::from_utf8(&bytes).unwrap();
        let keys: Vec<_> = ["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains("\"OPENAI_API_KEY\": null"));
        assert!(text.contains("2026-11-26T08:52:13.018315533Z"));
        assert!(!text.ends_with('\n'));
        assert_eq!(parse(&bytes).unwrap(), AuthState::Credentials(creds));
    }

    /// A login as Codex 0.164+ writes it: six `tokens` members, plus a member no release
    /// has yet and an unknown top-level member.
    fn real_shaped_login() -> String {
        let id = id_token("a@b.c");
        format!(
            r#"{{
  "auth_mode": "chatgpt",
  "OPENAI_API_KEY": null,
  "tokens": {{
    "id_token": "{id}",
    "access_token": "{id}",
    "refresh_token": "rt_1",
    "account_id": "acct-1",
    "login_owner_id": "lo_7f1e",
    "oauth_provenance": {{
      "issuer": "https://auth.openai.com",
      "client_id": "app_EMoamEEZ73f0CkXaXp7hrann"
    }},
    "x_future_member": [
      1,
      {{
        "k": "v"
      }}
    ]
  }},
  "last_refresh": "2026-11-26T08:52:13.018315533Z",
  "x_future_top": "kept"
}}"#
        )
    }

    #[test]
    fn every_member_codex_wrote_survives_parse_and_render_byte_for_byte() {
        let text = real_shaped_login();
        let AuthState::Credentials(creds) = parse(text.as_bytes()).unwrap() else {
            panic!("a ChatGPT login");
        };
        let Credentials::ChatGpt(t) = &creds else {
            panic!("a ChatGPT login");
        };
        let names: Vec<_> = t.extra.tokens().keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["login_owner_id", "oauth_provenance", "x_future_member"]
        );
        assert_eq!(t.extra.top().keys().collect::<Vec<_>>(), ["x_future_top"]);
        assert_eq!(String::from_utf8(render(&creds)).unwrap(), text);
    }

    #[test]
    fn carried_members_never_replace_modeled_ones() {
        let stored = json!({
            "tokens": {"refresh_token": "rt_evil", "login_owner_id": "lo"},
            "top": {"OPENAI_API_KEY": "sk-evil", "auth_mode": "apikey", "x": 1}
        });
        let extra = AuthExtra::from_value(Some(&stored));
        assert_eq!(
            extra.tokens().keys().collect::<Vec<_>>(),
            ["login_owner_id"]
        );
        assert_eq!(extra.top().keys().collect::<Vec<_>>(), ["x"]);
        // Even one built by hand cannot override a modeled member when rendered.
        // Even one built by hand cannot hold a modeled member.
        let mut tokens = Map::new();
        tokens.insert("refresh_token".into(), json!("rt_evil"));
        let mut top = Map::new();
        top.insert("auth_mode".into(), json!("apikey"));
        let hand = AuthExtra::new(tokens, top);
        assert!(hand.is_empty());
        let creds = Credentials::ChatGpt(ChatGptTokens {
            id_token: Secret::new(id_token("a@b.c")),
            access_token: Secret::new(id_token("a@b.c")),
            refresh_token: Secret::new("rt_1"),
            account_id: None,
            last_refresh: None,
            extra: hand,
        });
        let out: Value = serde_json::from_slice(&render(&creds)).unwrap();
        assert_eq!(out["tokens"]["refresh_token"], "rt_1");
        assert_eq!(out["auth_mode"], "chatgpt");
        assert_eq!(AuthExtra::from_json(extra.to_json().as_deref()), extra);
    }

    #[test]
    fn newer_members_win_and_older_ones_are_kept() {
        let older = AuthExtra::from_value(Some(&json!({
            "tokens": {"login_owner_id": "lo_1", "oauth_provenance": {"issuer": "i"}},
            "top": {"x": 1}
        })));
        let newer = AuthExtra::from_value(Some(&json!({"tokens": {"login_owner_id": "lo_2"}})));
        let merged = newer.over(&older);
        assert_eq!(merged.tokens()["login_owner_id"], "lo_2");
        assert_eq!(merged.tokens()["oauth_provenance"], json!({"issuer": "i"}));
        assert_eq!(merged.top()["x"], 1);
        assert_eq!(AuthExtra::default().over(&older), older);
    }

    #[test]
    fn carried_members_never_show_in_debug_output() {
        let AuthState::Credentials(creds) = parse(real_shaped_login().as_bytes()).unwrap() else {
            panic!()
        };
        let shown = format!("{creds:?}");
        for hidden in [
            "lo_7f1e",
            "auth.openai.com",
            "x_future_member",
            "kept",
            "rt_1",
        ] {
            assert!(!shown.contains(hidden), "{shown}");
        }
    }

    #[test]
    fn api_key_files_keep_their_unknown_members() {
        let text = "{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"sk-1\",\n  \"x_future_top\": {\n    \"a\": 1\n  }\n}";
        let AuthState::Credentials(creds) = parse(text.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(String::from_utf8(render(&creds)).unwrap(), text);
    }

    #[test]
    fn resolves_modes_like_codex() {
        let cases = [
            (json!({}), AuthState::Empty),
            (json!({"OPENAI_API_KEY": null}), AuthState::Empty),
            (json!({"auth_mode": "chatgpt"}), AuthState::Empty),
            (
                json!({"auth_mode": "headers"}),
                AuthState::Foreign {
                    mode: "headers".into(),
                },
            ),
            (
                json!({"auth_mode": "somethingNew", "OPENAI_API_KEY": "sk"}),
                AuthState::Foreign {
                    mode: "somethingNew".into(),
                },
            ),
            (
                json!({"personal_access_token": "pat"}),
                AuthState::Foreign {
                    mode: "personalAccessToken".into(),
                },
            ),
            (
                json!({"bedrock_api_key": {"k": 1}}),
                AuthState::Foreign {
                    mode: "bedrockApiKey".into(),
                },
            ),
            (
                json!({"OPENAI_API_KEY": "sk-x"}),
                AuthState::Credentials(Credentials::ApiKey {
                    key: Secret::new("sk-x"),
                    extra: AuthExtra::default(),
                }),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input.to_string().as_bytes()).unwrap(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn chatgpt_without_mode_and_with_unknown_fields() {
        let input = json!({
            "OPENAI_API_KEY": null,
            "tokens": {"id_token": id_token("x@y.z"), "access_token": "opaque", "refresh_token": "rt"},
            "x_custom": true
        });
        match parse(input.to_string().as_bytes()).unwrap() {
            AuthState::Credentials(Credentials::ChatGpt(t)) => {
                assert_eq!(t.id_claims().email.as_deref(), Some("x@y.z"));
                assert_eq!(t.account_id, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        assert_eq!(parse(b"\xff\xfe\x00"), Err(ParseError::NotUtf8));
        assert!(matches!(
            parse(b"{\"auth_mode\": \"api"),
            Err(ParseError::Json(_))
        ));
        assert_eq!(parse(b"[1,2]"), Err(ParseError::NotObject));
        let not_jwt =
            json!({"tokens": {"id_token": "nope", "access_token": "a", "refresh_token": "r"}});
        assert!(matches!(
            parse(not_jwt.to_string().as_bytes()),
            Err(ParseError::Field {
                field: "id_token",
                ..
            })
        ));
    }

    #[test]
    fn errors_never_quote_values() {
        let err = parse(br#"{"OPENAI_API_KEY": 987654321987}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("987654321987"), "{err}");
        let odd =
            parse(br#"{"auth_mode": "sk-proj-looks-like-a-key", "OPENAI_API_KEY": "x"}"#).unwrap();
        assert_eq!(
            odd,
            AuthState::Foreign {
                mode: "(unrecognized)".into()
            }
        );
    }

    #[test]
    fn write_is_locked_backed_up_and_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::write(auth_path(home), b"{\"OPENAI_API_KEY\":\"old\"}").unwrap();
        let new = render(&Credentials::ApiKey {
            key: Secret::new("sk-new"),
            extra: AuthExtra::default(),
        });
        let mut saved = Vec::new();
        let outcome = write_with(
            home,
            |cur| {
                assert_eq!(cur, Some(&b"{\"OPENAI_API_KEY\":\"old\"}"[..]));
                Ok(Some(new.clone()))
            },
            |_, bytes| {
                saved.extend_from_slice(bytes);
                Ok(home.join("backup"))
            },
        )
        .unwrap();
        assert!(matches!(outcome, WriteOutcome::Written { backup: Some(_) }));
        assert_eq!(saved, b"{\"OPENAI_API_KEY\":\"old\"}");
        assert_eq!(
            fsx::mode_of(&auth_path(home)),
            crate::platform::fs::HAS_MODES.then_some(0o600)
        );
        let again = write_with(
            home,
            |_| Ok(Some(new.clone())),
            |_, _| panic!("no backup needed"),
        )
        .unwrap();
        assert_eq!(again, WriteOutcome::Unchanged);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn parse_never_panics_on_json_shapes(
            mode in proptest::option::of("[a-zA-Z]{0,12}"),
            key in proptest::option::of(".{0,10}"),
            tokens in proptest::option::of(proptest::collection::hash_map("[a-z_]{1,14}", ".{0,20}", 0..5)),
        ) {
            let mut v = serde_json::Map::new();
            if let Some(m) = mode { v.insert("auth_mode".into(), json!(m)); }
            if let Some(k) = key { v.insert("OPENAI_API_KEY".into(), json!(k)); }
            if let Some(t) = tokens { v.insert("tokens".into(), json!(t)); }
            let _ = parse(Value::Object(v).to_string().as_bytes());
        }
    }
}
