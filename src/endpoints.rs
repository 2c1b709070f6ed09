//! Where cdxs talks to OpenAI, overridable for tests and proxies:
//! `CDXS_AUTH_BASE_URL` (default `https://auth.openai.com`) and `CDXS_CHATGPT_BASE_URL`
//! (default `https://chatgpt.com/backend-api`).

use std::time::Duration;

use crate::error::{Error, Result};

/// The Codex CLI's OAuth client (public, PKCE: no secret).
pub const CLIENT_ID: &str = "app_EMoamEEZ73f0CkXaXp7hrann";
/// What Codex 0.169 asks for (the older tool asked for the first four).
pub const SCOPES: &str =
    "openid profile email offline_access api.connectors.read api.connectors.invoke";
/// The originator Codex's own CLI sends.
pub const ORIGINATOR: &str = "codex_cli_rs";
pub const DEFAULT_CALLBACK_PORT: u16 = 1455;

fn base(var: &str, default: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

pub fn auth_base() -> String {
    base("CDXS_AUTH_BASE_URL", "https://auth.openai.com")
}

pub fn chatgpt_base() -> String {
    base("CDXS_CHATGPT_BASE_URL", "https://chatgpt.com/backend-api")
}

pub fn token_url() -> String {
    format!("{}/oauth/token", auth_base())
}

pub fn authorize_url() -> String {
    format!("{}/oauth/authorize", auth_base())
}

pub fn usage_url() -> String {
    format!("{}/wham/usage", chatgpt_base())
}

pub fn user_agent() -> String {
    format!("cdxs/{}", env!("CARGO_PKG_VERSION"))
}

/// A blocking HTTP client with bounded waits.
pub fn client() -> Result<reqwest::blocking::Client> {
    reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(user_agent())
        .build()
        .map_err(|e| Error::user(format!("cannot set up HTTP: {e}")))
}

/// A transport error in words, without URLs that could carry secrets.
pub fn describe(e: &reqwest::Error) -> String {
    let host = e
        .url()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .unwrap_or_else(|| "the server".into());
    if e.is_timeout() {
        format!("{host} did not answer in time")
    } else if e.is_connect() {
        format!("cannot connect to {host}")
    } else if e.is_decode() {
        "the answer could not be read".into()
    } else {
        "the request failed".into()
    }
}
