//! The real Codex rotates a refresh token inside a home; cdxs switches away and back; the
//! newest token survives and the issuer never sees a reused one.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::require_codex;

/// `codex app-server` (stdio JSON-RPC): initialize, then one request; returns its answer.
pub fn app_server_call(
    codex: &Path,
    home: &Path,
    envs: &[(&str, String)],
    method: &str,
    params: Value,
) -> Value {
    let mut cmd = std::process::Command::new(codex);
    cmd.arg("app-server")
        .env("CODEX_HOME", home)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    let send = |stdin: &mut std::process::ChildStdin, v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let wait_for = |id: i64| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(v) = rx.recv_timeout(Duration::from_millis(200))
                && v.get("id").and_then(Value::as_i64) == Some(id)
            {
                return v;
            }
        }
        panic!("codex app-server did not answer request {id}");
    };
    send(
        &mut stdin,
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "cdxs_test", "title": null, "version": "0"}, "capabilities": {"experimentalApi": true, "requestAttestation": false}}}),
    );
    wait_for(1);
    send(&mut stdin, json!({"method": "initialized"}));
    send(
        &mut stdin,
        json!({"id": 2, "method": method, "params": params}),
    );
    let answer = wait_for(2);
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    answer
}

fn codex_refresh(codex: &Path, home: &Path, mock: &MockOpenAi) {
    std::fs::write(
        home.join("config.toml"),
        format!("chatgpt_base_url = \"{}/\"\n", mock.chatgpt_base()),
    )
    .unwrap();
    app_server_call(
        codex,
        home,
        &[("CODEX_REFRESH_TOKEN_URL_OVERRIDE", mock.token_url())],
        "account/read",
        json!({"refreshToken": true}),
    );
}

#[test]
fn a_token_codex_rotated_survives_switching_away_and_back() {
    let codex = require_codex!();
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("ada@example.com", "acct-ada"));
    mock.add(MockAccount::new("ben@example.com", "acct-ben"));
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    for e in ["ada@example.com", "ben@example.com"] {
        std::fs::write(env.path("a.json"), mock.auth_json(e)).unwrap();
        assert!(
            env.run(&[
                "import",
                "auth",
                "--file",
                env.path("a.json").to_str().unwrap()
            ])
            .status
            .success()
        );
    }
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\n  ben: {{ email: ben@example.com }}\nhomes:\n  h: {{ path: {}, account: ada }}\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    let rt = |home: &Path| {
        read_json(&home.join("auth.json"))["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(rt(&home), "rt_acct-ada_1");

    // The real Codex refreshes inside the home: the issuer rotates to rt_2.
    codex_refresh(&codex, &home, &mock);
    assert_eq!(rt(&home), "rt_acct-ada_2", "Codex wrote the rotated token");
    assert_eq!(
        mock.account("ada@example.com").refresh_token,
        "rt_acct-ada_2"
    );

    // Switch away (the vault harvests rt_2 first) and back.
    let out = env.run(&["switch", "ben", "--home", "h"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&home.join("auth.json"))["tokens"]["account_id"],
        "acct-ben"
    );
    let out = env.run(&["switch", "ada", "--home", "h"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        rt(&home),
        "rt_acct-ada_2",
        "the newest token came back, not rt_1"
    );

    // Codex refreshes again: the issuer sees rt_2 (current), not a reused token.
    codex_refresh(&codex, &home, &mock);
    assert_eq!(rt(&home), "rt_acct-ada_3");
    let refused: Vec<_> = mock
        .log()
        .into_iter()
        .filter(|l| l.path == "/oauth/token" && l.status != 200)
        .collect();
    assert!(
        refused.is_empty(),
        "the issuer refused a token: {refused:?}"
    );
    let (status, said) = login_status(&codex, &home);
    assert_eq!(status, 0);
    assert!(said.contains("Logged in using ChatGPT"), "{said}");
}
