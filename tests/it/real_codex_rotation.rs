//! The real Codex rotates a refresh token inside a home; cdxs switches away and back; the
//! newest token survives and the issuer never sees a reused one.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};

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

fn a_token_codex_rotated_survives_switching_away_and_back(codex: PathBuf) {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("ada@example.com", "acct-ada"));
    mock.add(MockAccount::new("ben@example.com", "acct-ben"));
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    for e in ["ada@example.com", "ben@example.com"] {
        env.import_auth_json(&mock.auth_json(e));
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
codex_matrix!(
    a_token_codex_rotated_survives_switching_away_and_back,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);
