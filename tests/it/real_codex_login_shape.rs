//! Real logins carry more than the four `tokens` members older releases wrote: since Codex
//! 0.164 also `login_owner_id` and `oauth_provenance` (and whatever a later release adds).
//! Every copy cdxs makes keeps them verbatim, and the real Codex reads and refreshes what
//! cdxs wrote. A Codex refresh in flight while the file comes to name another login owner
//! is thrown away ("Account credentials changed"), and its new refresh token with it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi, login_members};

/// The members of `home`'s login that cdxs does not model.
fn members(home: &Path) -> Value {
    let doc = read_json(&home.join("auth.json"));
    let mut out = serde_json::Map::new();
    for (k, v) in doc["tokens"].as_object().expect("a ChatGPT login") {
        if !["id_token", "access_token", "refresh_token", "account_id"].contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

fn refresh_token(home: &Path) -> String {
    read_json(&home.join("auth.json"))["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string()
}

fn env_with(mock: &MockOpenAi, emails: &[&str]) -> Env {
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    for e in emails {
        env.import_auth_json(&mock.auth_json(e));
    }
    env
}

/// Point the home's Codex at the mock (usage) and refresh through its app-server, as the
/// TUI does on `account/read {refreshToken: true}`.
fn codex_refresh(codex: &Path, home: &Path, mock: &MockOpenAi) -> Value {
    app_server_call(
        codex,
        home,
        &[("CODEX_REFRESH_TOKEN_URL_OVERRIDE", mock.token_url())],
        "account/read",
        json!({"refreshToken": true}),
    )
}

fn point_at(home: &Path, mock: &MockOpenAi) {
    std::fs::write(
        home.join("config.toml"),
        format!("chatgpt_base_url = \"{}/\"\n", mock.chatgpt_base()),
    )
    .unwrap();
}

fn every_copy_cdxs_makes_keeps_the_members_codex_wrote(codex: PathBuf) {
    let mock = MockOpenAi::start();
    for (e, a) in [
        ("ada@example.com", "acct-ada"),
        ("ben@example.com", "acct-ben"),
        ("cyd@example.com", "acct-cyd"),
    ] {
        mock.add(MockAccount::new(e, a));
    }
    let env = env_with(
        &mock,
        &["ada@example.com", "ben@example.com", "cyd@example.com"],
    );
    let ada = login_members("acct-ada", &mock.auth_base());
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\n  ben: {{ email: ben@example.com }}\n  cyd: {{ email: cyd@example.com }}\nhomes:\n  h: {{ path: {}, account: ada }}\n",
        home.display()
    ));
    let ok = |args: &[&str]| {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    };
    ok(&["apply", "--yes"]);
    assert_eq!(members(&home), ada, "apply wrote the imported login whole");
    let (status, said) = login_status(&codex, &home);
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("Logged in using ChatGPT"), "{said}");

    // Switch away and back: the vault's copy comes back whole.
    ok(&["switch", "ben", "--home", "h"]);
    assert_eq!(members(&home), login_members("acct-ben", &mock.auth_base()));
    ok(&["switch", "ada", "--home", "h"]);
    assert_eq!(members(&home), ada, "switch away and back kept them");
    // Rolling back the switch to ben and back puts ada back whole as well.
    ok(&["rollback", "--yes"]);
    assert_eq!(members(&home), login_members("acct-ben", &mock.auth_base()));
    ok(&["rollback", "--yes"]);
    assert_eq!(members(&home), ada, "rollback kept them");

    // The real Codex refreshes in the home and keeps its login's owner id.
    point_at(&home, &mock);
    codex_refresh(&codex, &home, &mock);
    assert_eq!(refresh_token(&home), "rt_acct-ada_2", "Codex refreshed");
    assert_eq!(
        members(&home)["login_owner_id"],
        ada["login_owner_id"],
        "Codex keeps login_owner_id through its own refresh"
    );

    // cdxs refreshes (the issuer sends no owner id): the members stay with the login.
    ok(&["refresh-token", "ada"]);
    assert_eq!(refresh_token(&home), "rt_acct-ada_3");
    assert_eq!(members(&home)["login_owner_id"], ada["login_owner_id"]);
    assert_eq!(members(&home)["oauth_provenance"], ada["oauth_provenance"]);

    // Codex refreshes the login cdxs refreshed and wrote.
    codex_refresh(&codex, &home, &mock);
    assert_eq!(refresh_token(&home), "rt_acct-ada_4");
    assert!(mock.refusals().is_empty(), "{:?}", mock.refusals());

    // `run --account` into a folder of its own writes the whole login too.
    let other = env.codex_home("r");
    ok(&[
        "run",
        "--account",
        "cyd",
        "--codex-home",
        other.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(
        members(&other),
        login_members("acct-cyd", &mock.auth_base())
    );
    let (status, said) = login_status(&codex, &other);
    assert_eq!(status, 0, "{said}");
}
codex_matrix!(
    every_copy_cdxs_makes_keeps_the_members_codex_wrote,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

/// The race the members exist for: Codex sends a refresh, and while the answer is on its
/// way cdxs switches the home away and back (the same login, the same tokens). Codex saves
/// its new token only if the file still names the same login (see the next test): cdxs
/// writes the login back with the very owner id Codex wrote.
fn a_codex_refresh_in_flight_survives_cdxs_rewriting_the_same_login(codex: PathBuf) {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("ada@example.com", "acct-ada"));
    mock.add(MockAccount::new("ben@example.com", "acct-ben"));
    let env = env_with(&mock, &["ada@example.com", "ben@example.com"]);
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\n  ben: {{ email: ben@example.com }}\nhomes:\n  h: {{ path: {}, account: ada }}\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    point_at(&home, &mock);
    mock.with(|s| s.token_delay = Some(Duration::from_secs(3)));

    let refresher = {
        let (codex, home, url, base) = (
            codex.clone(),
            home.clone(),
            mock.token_url(),
            mock.chatgpt_base(),
        );
        std::thread::spawn(move || {
            let _ = base;
            app_server_call(
                &codex,
                &home,
                &[("CODEX_REFRESH_TOKEN_URL_OVERRIDE", url)],
                "account/read",
                json!({"refreshToken": true}),
            )
        })
    };
    // Wait until the refresh request reached the issuer (it is now in flight).
    let deadline = Instant::now() + Duration::from_secs(20);
    while mock.with(|s| s.token_requests) == 0 {
        assert!(Instant::now() < deadline, "Codex never sent its refresh");
        std::thread::sleep(Duration::from_millis(20));
    }
    for account in ["ben", "ada"] {
        let out = env.run(&["switch", account, "--home", "h"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    refresher.join().unwrap();
    mock.with(|s| s.token_delay = None);

    let current = mock.current_token("ada@example.com");
    assert_eq!(current, "rt_acct-ada_2");
    assert_eq!(
        refresh_token(&home),
        current,
        "Codex saved the token it got: the file still named its login"
    );
    // And nothing anywhere holds the spent token any more: cdxs refreshes from the newest.
    let out = env.run(&["refresh-token", "ada"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(mock.refusals().is_empty(), "{:?}", mock.refusals());
}
codex_matrix!(
    a_codex_refresh_in_flight_survives_cdxs_rewriting_the_same_login,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

/// What the real Codex does when `auth.json` changes while its refresh is in flight (seen
/// with 0.169.0 and 0.171.0): it saves the new token when the file still holds the same
/// login, with or without `login_owner_id`, and throws it away when the file names another
/// login's owner: the refresh token it spent stays in the file, dead. So cdxs never puts
/// an owner id on a login other than the one Codex wrote with it, and never changes it.
fn codex_throws_away_its_refresh_when_the_file_names_another_login_owner(codex: PathBuf) {
    for (change, kept) in [
        ("same login, new last_refresh", true),
        ("login_owner_id removed", true),
        ("another login_owner_id", false),
    ] {
        let mock = MockOpenAi::start();
        mock.add(MockAccount::new("ada@example.com", "acct-ada"));
        let env = Env::new();
        let home = env.codex_home("h");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("auth.json"), mock.auth_json("ada@example.com")).unwrap();
        point_at(&home, &mock);
        mock.with(|s| s.token_delay = Some(Duration::from_secs(2)));
        let refresher = {
            let (codex, home, url) = (codex.clone(), home.clone(), mock.token_url());
            std::thread::spawn(move || {
                app_server_call(
                    &codex,
                    &home,
                    &[("CODEX_REFRESH_TOKEN_URL_OVERRIDE", url)],
                    "account/read",
                    json!({"refreshToken": true}),
                )
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while mock.with(|s| s.token_requests) == 0 {
            assert!(Instant::now() < deadline, "Codex never sent its refresh");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut doc = read_json(&home.join("auth.json"));
        match change {
            "login_owner_id removed" => {
                doc["tokens"]
                    .as_object_mut()
                    .unwrap()
                    .remove("login_owner_id");
            }
            "another login_owner_id" => doc["tokens"]["login_owner_id"] = json!("lo_another"),
            _ => doc["last_refresh"] = json!("2026-01-01T00:00:00Z"),
        }
        std::fs::write(
            home.join("auth.json"),
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .unwrap();
        refresher.join().unwrap();
        let want = if kept {
            "rt_acct-ada_2"
        } else {
            "rt_acct-ada_1"
        };
        assert_eq!(refresh_token(&home), want, "{change}");
        assert_eq!(mock.current_token("ada@example.com"), "rt_acct-ada_2");
    }
}
codex_matrix!(
    codex_throws_away_its_refresh_when_the_file_names_another_login_owner,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);
