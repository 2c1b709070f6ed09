//! `login oauth`: PKCE (S256) against the Codex OAuth client, with a one-shot local callback
//! at `http://localhost:<port>/auth/callback` or a pasted callback URL. It never runs
//! `codex login` (which would revoke the login a home held before).

use std::net::TcpListener;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::refresh::TokenResponse;
use crate::endpoints;
use crate::error::{Error, Result};

/// One login attempt's secrets (never printed): the verifier and the state.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
    pub state: String,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_token(32);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
            state: random_token(24),
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// How long `login oauth` waits for the browser by default.
pub const DEFAULT_LOGIN_WAIT_SECS: u64 = 300;
/// The longest wait `CDXS_LOGIN_TIMEOUT` may ask for: a day.
pub const MAX_LOGIN_WAIT_SECS: u64 = 86_400;

/// `CDXS_LOGIN_TIMEOUT` (seconds to wait for the browser), default 300.
pub fn login_timeout() -> Result<Duration> {
    login_timeout_from(std::env::var("CDXS_LOGIN_TIMEOUT").ok().as_deref())
}

/// The login wait from `CDXS_LOGIN_TIMEOUT`'s value: whole seconds from 1 to a day, else a
/// clean error (never a panic, never a wait that overflows the clock).
pub fn login_timeout_from(value: Option<&str>) -> Result<Duration> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(Duration::from_secs(DEFAULT_LOGIN_WAIT_SECS));
    };
    match v.parse::<u64>() {
        Ok(secs) if (1..=MAX_LOGIN_WAIT_SECS).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(Error::user(format!(
            "`CDXS_LOGIN_TIMEOUT` is `{}`, not a number of seconds from 1 to {MAX_LOGIN_WAIT_SECS}",
            crate::text::sanitize(&v.chars().take(40).collect::<String>())
        ))
        .with_help(format!(
            "unset it for the default ({DEFAULT_LOGIN_WAIT_SECS} s), or set e.g. `CDXS_LOGIN_TIMEOUT=600`"
        ))),
    }
}

pub fn redirect_uri(port: u16) -> String {
    format!("http://localhost:{port}/auth/callback")
}

/// The authorize URL Codex's own login opens.
pub fn authorize_url(pkce: &Pkce, port: u16) -> crate::error::Result<String> {
    let base = endpoints::authorize_url();
    let mut url = url::Url::parse(&base).map_err(|e| {
        Error::user(format!("`{base}` is not a URL: {e}"))
            .with_help("check `CDXS_AUTH_BASE_URL` (e.g. `https://auth.openai.com`)")
    })?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", endpoints::CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri(port))
        .append_pair("scope", endpoints::SCOPES)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("id_token_add_organizations", "true")
        .append_pair("codex_cli_simplified_flow", "true")
        .append_pair("state", &pkce.state)
        .append_pair("originator", endpoints::ORIGINATOR);
    Ok(url.to_string())
}

/// Take the code from a callback: a full URL, `/auth/callback?...`, or just the query.
pub fn parse_callback(input: &str, state: &str) -> Result<String> {
    let input = input.trim();
    if input.is_empty() {
        return Err(Error::user("nothing was pasted")
            .with_help("paste the whole address the browser was sent to"));
    }
    let url = if input.starts_with("http://") || input.starts_with("https://") {
        url::Url::parse(input)
    } else if input.starts_with('/') {
        url::Url::parse(&format!("http://localhost{input}"))
    } else {
        url::Url::parse(&format!(
            "http://localhost/auth/callback?{}",
            input.trim_start_matches('?')
        ))
    }
    .map_err(|_| {
        Error::user("that is not a callback address")
            .with_help("paste the whole address the browser was sent to")
    })?;
    if url.path() != "/auth/callback" {
        return Err(Error::user(format!(
            "the address goes to `{}`, not `/auth/callback`",
            url.path()
        ))
        .with_help("paste the address of the page the login ended on"));
    }
    match super::callback::classify(url.query().unwrap_or(""), state) {
        super::callback::Callback::Code(code) => Ok(code),
        super::callback::Callback::Refused(why) => {
            Err(Error::user(format!("the login was refused: {why}"))
                .with_help("start again with `cdxs login oauth`"))
        }
        super::callback::Callback::NotOurs(why) => Err(Error::user(why).with_help(
            "paste the whole address of the page this login ended on; an address from another login attempt does not work",
        )),
    }
}

/// Wait for the browser's redirect on `listener` (see [`super::callback`]); the code.
pub fn wait_for_callback(listener: &TcpListener, state: &str, timeout: Duration) -> Result<String> {
    super::callback::wait(listener, state, timeout)
}

/// Exchange the code for tokens (form-encoded, as Codex does).
pub fn exchange(code: &str, pkce: &Pkce, port: u16) -> Result<TokenResponse> {
    let client = endpoints::client()?;
    let resp = client
        .post(endpoints::token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri(port)),
            ("client_id", endpoints::CLIENT_ID),
            ("code_verifier", &pkce.verifier),
        ])
        .send()
        .map_err(|e| {
            Error::user(format!(
                "the token exchange failed: {}",
                endpoints::describe(&e)
            ))
        })?;
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    if !(200..300).contains(&status) {
        let code = match super::refresh::classify(status, &text) {
            super::refresh::Failure::Permanent { code } => code,
            super::refresh::Failure::Transient(t) => t,
        };
        return Err(
            Error::user(format!("the token exchange was refused: {code}")).with_help(
                "start again with `cdxs login oauth`; a code works once and only for a few minutes",
            ),
        );
    }
    let tokens: TokenResponse = serde_json::from_str(&text)
        .map_err(|_| Error::user("the token endpoint answered something that is not JSON"))?;
    if tokens.id_token.as_deref().is_none_or(str::is_empty)
        || tokens.access_token.as_deref().is_none_or(str::is_empty)
    {
        return Err(Error::user(
            "the token endpoint answered without an id token or access token",
        ));
    }
    Ok(tokens)
}

/// Whether this runs in a remote session a browser cannot come back to: SSH (`SSH_CONNECTION`,
/// `SSH_CLIENT` or `SSH_TTY` set) without a display (`DISPLAY`, `WAYLAND_DISPLAY`). A browser
/// on the person's own machine then cannot reach `localhost` here; `--manual` works.
pub fn remote_without_display(var: impl Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| var(k).is_some_and(|v| !v.is_empty());
    let ssh = ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"]
        .iter()
        .any(|k| set(k));
    ssh && !set("DISPLAY") && !set("WAYLAND_DISPLAY")
}

/// What to say before waiting for the callback in such a session.
pub fn remote_hint(port: u16) -> String {
    format!(
        "this looks like an SSH session without a display: a browser on your own machine cannot reach http://localhost:{port} here. Press Ctrl-C and run `cdxs login oauth --manual` (you paste the address the browser ends on), or forward the port first (`ssh -L {port}:localhost:{port} HOST`)"
    )
}

/// Try to open a browser; say nothing if there is none.
pub fn open_browser(url: &str) -> bool {
    crate::platform::browser::open(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ssh_session_without_a_display_is_remote() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(remote_without_display(env(&[(
            "SSH_CONNECTION",
            "10.0.0.2 50000 10.0.0.1 22"
        )])));
        assert!(remote_without_display(env(&[("SSH_TTY", "/dev/pts/3")])));
        assert!(!remote_without_display(env(&[
            ("SSH_CONNECTION", "a b c d"),
            ("DISPLAY", "localhost:10.0")
        ])));
        assert!(!remote_without_display(env(&[
            ("SSH_CLIENT", "x"),
            ("WAYLAND_DISPLAY", "wayland-0")
        ])));
        assert!(!remote_without_display(env(&[("DISPLAY", ":0")])));
        assert!(!remote_without_display(env(&[("SSH_CONNECTION", "")])));
    }

    #[test]
    fn pkce_challenge_is_s256_of_the_verifier() {
        let p = Pkce::new();
        assert_eq!(
            p.challenge,
            URL_SAFE_NO_PAD.encode(Sha256::digest(p.verifier.as_bytes()))
        );
        assert!(p.verifier.len() >= 43);
        assert_ne!(Pkce::new().state, p.state);
    }

    #[test]
    fn authorize_url_has_codex_parameters() {
        let p = Pkce::new();
        let url = url::Url::parse(&authorize_url(&p, 1455).unwrap()).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], endpoints::CLIENT_ID);
        assert_eq!(q["redirect_uri"], "http://localhost:1455/auth/callback");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], p.challenge);
        assert_eq!(q["state"], p.state);
        assert!(q["scope"].starts_with("openid profile email offline_access"));
        assert!(
            !url.as_str().contains(&p.verifier),
            "the verifier never leaves"
        );
    }

    #[test]
    fn callback_forms_and_errors() {
        let ok = |s: &str| parse_callback(s, "st").unwrap();
        assert_eq!(
            ok("http://localhost:1455/auth/callback?code=abc&state=st"),
            "abc"
        );
        assert_eq!(ok("/auth/callback?state=st&code=abc"), "abc");
        assert_eq!(ok("?code=abc&state=st"), "abc");
        assert_eq!(ok("code=abc&state=st"), "abc");
        let err = |s: &str| parse_callback(s, "st").unwrap_err().to_string();
        assert!(err("code=abc&state=other").contains("does not match"));
        assert!(err("code=abc").contains("no state"));
        assert!(err("state=st").contains("no authorization code"));
        assert!(err("http://localhost/elsewhere?code=a&state=st").contains("not `/auth/callback`"));
        assert!(err("error=access_denied&state=st").contains("refused: access_denied"));
        assert!(err("error=access_denied").contains("no state"));
        assert!(err("   ").contains("nothing was pasted"));
    }
}
