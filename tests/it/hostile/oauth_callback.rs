//! The local OAuth callback: requests without this login's `state` are answered and
//! ignored, the deadline holds, connections are served concurrently with a bound per
//! request, and server text never reaches the terminal raw.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};

struct Login {
    child: Child,
    url: String,
    port: u16,
    state: String,
    err: BufReader<std::process::ChildStderr>,
}

fn start(env: &Env, timeout: &str) -> Login {
    let mut child = env
        .spawn_cdxs(&["login", "oauth", "--no-browser", "--port", "0"])
        .env("CDXS_LOGIN_TIMEOUT", timeout)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let url = authorize_url(&mut err);
    let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .unwrap_or_else(|_| panic!("no authorize URL printed: {url}"))
        .query_pairs()
        .into_owned()
        .collect();
    let port = url::Url::parse(&q["redirect_uri"]).unwrap().port().unwrap();
    // Wait until the callback listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    Login {
        child,
        url,
        port,
        state: q["state"].clone(),
        err,
    }
}

fn finish(mut l: Login) -> (i32, String) {
    let status = l.child.wait().unwrap();
    let mut rest = String::new();
    let _ = l.err.read_to_string(&mut rest);
    (status.code().unwrap_or(-1), rest)
}

/// A raw HTTP/1.1 GET on the callback; the status line of the answer (empty if none
/// within `wait`).
fn get(port: u16, target: &str, wait: Duration) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer
}

fn env_with_mock() -> (Env, MockOpenAi) {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("cb@example.com", "acct-cb"));
    mock.with(|s| s.login_as = Some("cb@example.com".into()));
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    (env, mock)
}

/// The "browser": the issuer logs in and redirects to the local callback.
fn browser(url: &str, wait: Duration) -> Result<String, String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(wait)
        .build()
        .unwrap();
    let page = client.get(url).send().map_err(|e| e.to_string())?;
    page.text().map_err(|e| e.to_string())
}

#[test]
fn hostile_an_error_callback_without_the_state_does_not_abort_the_login() {
    let (env, _mock) = env_with_mock();
    let l = start(&env, "30");
    let answer = get(
        l.port,
        "/auth/callback?error=access_denied&error_description=forged",
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 4"), "answered: {answer}");
    let forged_state = get(
        l.port,
        "/auth/callback?code=stolen&state=not-this-one",
        Duration::from_secs(5),
    );
    assert!(
        forged_state.starts_with("HTTP/1.1 4"),
        "answered: {forged_state}"
    );
    let page = browser(&l.url, Duration::from_secs(10)).expect("the real callback is served");
    assert!(page.contains("login complete"), "{page}");
    let (code, rest) = finish(l);
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("logged in as cb@example.com"), "{rest}");
}

#[test]
fn hostile_error_description_reaches_the_terminal_escaped() {
    let (env, _mock) = env_with_mock();
    let l = start(&env, "30");
    let target = format!(
        "/auth/callback?state={}&error=access_denied&error_description=%1B%5D0%3Bpwned%07%1B%5B2J%3Cscript%3E",
        l.state
    );
    let answer = get(l.port, &target, Duration::from_secs(5));
    assert!(
        !answer.contains("<script>"),
        "the page echoes HTML: {answer}"
    );
    assert!(!answer.contains('\u{1b}'), "{answer:?}");
    let (code, rest) = finish(l);
    assert_eq!(code, 1, "{rest}");
    assert!(rest.contains("access_denied"), "{rest}");
    assert!(
        !rest.contains('\u{1b}') && !rest.contains('\u{7}'),
        "raw escapes: {rest:?}"
    );
}

#[test]
fn hostile_idle_connections_do_not_stretch_the_login_deadline() {
    let (env, _mock) = env_with_mock();
    let started = Instant::now();
    let l = start(&env, "2");
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(("127.0.0.1", l.port)).unwrap())
        .collect();
    let (code, rest) = finish(l);
    let took = started.elapsed();
    drop(idle);
    assert_eq!(code, 1, "{rest}");
    assert!(
        rest.contains("no login callback within 2 seconds"),
        "{rest}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the 2 s deadline took {took:?}"
    );
}

#[test]
fn hostile_one_idle_connection_does_not_block_the_real_callback() {
    let (env, _mock) = env_with_mock();
    let l = start(&env, "30");
    let _idle = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
    let mut partial = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
    partial.write_all(b"GET /auth/callback?state=").unwrap();
    let page = browser(&l.url, Duration::from_secs(3))
        .expect("the real callback waits behind an idle connection");
    assert!(page.contains("login complete"), "{page}");
    let (code, rest) = finish(l);
    assert_eq!(code, 0, "{rest}");
}

#[test]
fn hostile_an_endless_request_line_is_cut_off() {
    let (env, _mock) = env_with_mock();
    let l = start(&env, "30");
    let mut s = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let _ = writer.write_all(b"GET /auth/callback?x=");
        let chunk = vec![b'A'; 64 * 1024];
        for _ in 0..64 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let got = s.read(&mut buf);
    let took = started.elapsed();
    match got {
        Ok(0) | Err(_) if took < Duration::from_secs(3) => {} // closed or reset
        Ok(n) if n > 0 => {
            let head = String::from_utf8_lossy(&buf[..n]);
            assert!(head.starts_with("HTTP/1.1 4"), "{head}");
        }
        other => panic!("no answer to an endless request line after {took:?}: {other:?}"),
    }
    // The login still waits, and completes.
    let page = browser(&l.url, Duration::from_secs(10)).expect("callback still served");
    assert!(page.contains("login complete"), "{page}");
    assert_eq!(finish(l).0, 0);
}

#[test]
fn hostile_a_token_error_code_from_the_server_reaches_the_terminal_escaped() {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    std::thread::spawn(move || {
        for req in server.incoming_requests() {
            let body = r#"{"error":{"code":"bad\u001b]0;pwned\u0007\u001b[2Jcode"}}"#;
            let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(400));
        }
    });
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &format!("http://127.0.0.1:{port}"));
    let mut child = env
        .spawn_cdxs(&["login", "oauth", "--manual"])
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let url = authorize_url(&mut err);
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("code=abc&state={state}\n").as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    err.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(rest.contains("refused"), "{rest}");
    assert!(
        !rest.contains('\u{1b}') && !rest.contains('\u{7}'),
        "raw escapes: {rest:?}"
    );
}
