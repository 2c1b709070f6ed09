//! The local OAuth callback (`http://localhost:<port>/auth/callback`), served by axum on a
//! small current-thread tokio runtime with hyper's HTTP/1 parser.
//!
//! Anyone on the machine can connect to the port, so every request is untrusted:
//! - a request without this login's `state` is answered (400) and ignored: the login keeps
//!   waiting for the real one (a forged `?error=` cannot abort it);
//! - connections are served concurrently, each with a bound (the request head must arrive
//!   within [`HEAD_WAIT`] and fit in [`MAX_HEAD_BYTES`], the whole exchange within
//!   [`CONNECTION_WAIT`]): an idle or endless connection delays nobody;
//! - the overall deadline holds whatever the connections do;
//! - server-provided text (`error`, `error_description`) is HTML-escaped in the page and
//!   has its control characters escaped in the terminal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use crate::error::{Error, Result};

/// How long a connection may take to send its request head.
pub const HEAD_WAIT: Duration = Duration::from_secs(5);
/// How long one connection may live in all.
pub const CONNECTION_WAIT: Duration = Duration::from_secs(10);
/// The largest request head (request line and headers) read (hyper's minimum buffer).
pub const MAX_HEAD_BYTES: usize = 8192;

/// What a callback request says, for this login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    /// Not for this login (no `state`, another `state`): answer and keep waiting.
    NotOurs(&'static str),
    /// The issuer sent this login back with an error, or without a code.
    Refused(String),
    /// The authorization code.
    Code(String),
}

/// Classify a callback's query (`code=...&state=...`) for the login whose state is
/// `state`. The state is checked first: nothing in a request without it counts.
pub fn classify(query: &str, state: &str) -> Callback {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match get("state") {
        None => return Callback::NotOurs("the callback has no state"),
        Some(s) if !constant_time_eq(s.as_bytes(), state.as_bytes()) => {
            return Callback::NotOurs("the callback's state does not match this login");
        }
        Some(_) => {}
    }
    if let Some(err) = get("error") {
        let desc = get("error_description").unwrap_or_default();
        let text: String = format!("{err} {desc}").trim().chars().take(300).collect();
        return Callback::Refused(crate::text::sanitize(&text).into_owned());
    }
    match get("code").filter(|c| !c.is_empty()) {
        Some(code) => Callback::Code(code.to_string()),
        None => Callback::Refused("the callback has no authorization code".into()),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What one connection's request decided, handed to the waiting login once the answer has
/// been written (so the browser always gets its page).
type Slot = Arc<Mutex<Option<std::result::Result<String, String>>>>;

#[derive(Clone)]
struct Shared {
    state: Arc<str>,
    slot: Slot,
}

async fn callback(State(s): State<Shared>, RawQuery(query): RawQuery) -> Response {
    match classify(query.as_deref().unwrap_or(""), &s.state) {
        Callback::NotOurs(why) => page(
            StatusCode::BAD_REQUEST,
            "not for this login",
            &format!("{why}; cdxs keeps waiting for the login it started. Close this tab."),
        ),
        Callback::Refused(why) => {
            let shown = page(StatusCode::BAD_REQUEST, "login failed", &why);
            if let Ok(mut slot) = s.slot.lock() {
                *slot = Some(Err(why));
            }
            shown
        }
        Callback::Code(code) => {
            if let Ok(mut slot) = s.slot.lock() {
                *slot = Some(Ok(code));
            }
            page(
                StatusCode::OK,
                "login complete",
                "You can close this tab and return to the terminal.",
            )
        }
    }
}

async fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>cdxs</title></head><body><h2>cdxs: {}</h2><p>{}</p></body></html>",
        html_escape(title),
        html_escape(text)
    );
    (status, Html(body)).into_response()
}

/// Text for an HTML page: markup characters as entities, control characters escaped.
pub fn html_escape(s: &str) -> String {
    crate::text::sanitize(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Serve the callback on `listener` until a request with this login's `state` arrives (its
/// code, or the issuer's refusal) or `timeout` passes.
pub fn wait(listener: &std::net::TcpListener, state: &str, timeout: Duration) -> Result<String> {
    let listener = listener
        .try_clone()
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|e| Error::io("cannot listen for the login callback", e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::io("cannot start the login callback server", e))?;
    let state: Arc<str> = Arc::from(state);
    let outcome = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<std::result::Result<String, String>>(4);
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                decided = rx.recv() => return Ok(decided),
                () = &mut deadline => return Ok(None),
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let shared = Shared { state: state.clone(), slot: Slot::default() };
                    let slot = shared.slot.clone();
                    let app = Router::new()
                        .route("/auth/callback", axum::routing::get(callback))
                        .fallback(not_found)
                        .with_state(shared);
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        let conn = hyper::server::conn::http1::Builder::new()
                            .timer(TokioTimer::new())
                            .header_read_timeout(HEAD_WAIT)
                            .max_buf_size(MAX_HEAD_BYTES)
                            .keep_alive(false)
                            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
                        let _ = tokio::time::timeout(CONNECTION_WAIT, conn).await;
                        // The answer is written (or the connection gave up): now hand over
                        // what the request decided, if anything.
                        let decided = slot.lock().ok().and_then(|mut s| s.take());
                        if let Some(d) = decided {
                            let _ = tx.send(d).await;
                        }
                    });
                }
            }
        }
    });
    match outcome {
        Ok(Some(Ok(code))) => Ok(code),
        Ok(Some(Err(why))) => Err(Error::user(format!("the login was refused: {why}"))
            .with_help("start again with `cdxs login oauth`")),
        Ok(None) => Err(Error::user(format!(
            "no login callback within {} seconds",
            timeout.as_secs()
        ))
        .with_help(
            "run `cdxs login oauth` again, or `cdxs login oauth --manual` to paste the address",
        )),
        Err(e) => Err(Error::io("cannot accept the login callback", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_is_checked_before_anything_else() {
        let st = "right";
        assert_eq!(
            classify("error=access_denied", st),
            Callback::NotOurs("the callback has no state")
        );
        assert!(matches!(
            classify("error=x&state=wrong", st),
            Callback::NotOurs(_)
        ));
        assert!(matches!(
            classify("code=stolen&state=righ", st),
            Callback::NotOurs(_)
        ));
        assert_eq!(
            classify("state=right&code=abc", st),
            Callback::Code("abc".into())
        );
        assert_eq!(
            classify(
                "state=right&error=access_denied&error_description=%1B%5B2Jno",
                st
            ),
            Callback::Refused("access_denied \\u{1b}[2Jno".into())
        );
        assert!(matches!(classify("state=right", st), Callback::Refused(_)));
    }

    #[test]
    fn pages_escape_markup() {
        assert_eq!(
            html_escape("<script>\"x\"&'y'\u{1b}"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;\\u{1b}"
        );
    }
}
