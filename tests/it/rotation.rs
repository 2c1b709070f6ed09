//! "A refresh token Codex or cdxs rotated is never lost or overwritten by an older one",
//! under the interleavings that broke it: a clock an hour off, Codex rotating while cdxs
//! waits for a lock, rollback after a rotation, second copies in undeclared folders, a 403
//! from the usage endpoint, concurrent applies. One test per case, named after it.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};

pub(crate) fn env_with(mock: &MockOpenAi) -> Env {
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    env
}

pub(crate) fn rt(home: &Path) -> String {
    read_json(&home.join("auth.json"))["tokens"]["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The refresh token the vault holds for `email` (from the vault database itself).
pub(crate) fn vault_rt(env: &Env, email: &str) -> String {
    let db = rusqlite::Connection::open(env.state.join("cdxs.db")).unwrap();
    db.query_row(
        "SELECT refresh_token FROM accounts WHERE email = ?1",
        [email],
        |r| r.get(0),
    )
    .unwrap()
}

/// Hold cdxs's vault lock (as another cdxs would) until dropped.
pub(crate) fn hold_vault_lock(env: &Env) -> std::fs::File {
    let dir = env.state.join("locks");
    std::fs::create_dir_all(&dir).unwrap();
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("vault.lock"))
        .unwrap();
    f.lock().unwrap();
    f
}

/// A home declared as `h`, holding `email`'s login (written by `apply`).
fn declared_home(env: &Env, mock: &MockOpenAi, email: &str) -> std::path::PathBuf {
    env.import_auth_json(&mock.auth_json(email));
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  me: {{ email: {email} }}\nhomes:\n  h: {{ path: {}, account: me }}\n",
        home.display()
    ));
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    home
}

#[test]
fn refresh_with_a_home_written_by_a_clock_an_hour_fast_keeps_the_new_token() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("amy@example.com", "acct-amy"));
    let env = env_with(&mock);
    // The home's copy comes from a machine whose clock runs an hour fast.
    let home = env.default_codex_home();
    std::fs::create_dir_all(&home).unwrap();
    let mut doc: Value = serde_json::from_str(&mock.auth_json("amy@example.com")).unwrap();
    doc["last_refresh"] = Value::from(
        (chrono::Utc::now() + chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    );
    std::fs::write(home.join("auth.json"), doc.to_string()).unwrap();
    assert!(env.run(&["import", "auth"]).status.success());
    let out = env.run(&["refresh-token", "amy@example.com"]);
    assert!(out.status.success(), "{}", text(&out));
    let issued = mock.current_token("amy@example.com");
    assert_eq!(issued, "rt_acct-amy_2");
    assert_eq!(
        vault_rt(&env, "amy@example.com"),
        issued,
        "the vault kept it"
    );
    assert_eq!(rt(&home), issued, "the home got it");
    // And it works: the next refresh is not a reuse.
    assert!(
        env.run(&["refresh-token", "amy@example.com"])
            .status
            .success()
    );
    assert!(mock.refusals().is_empty(), "{:?}", mock.refusals());
}

#[test]
fn codex_rotating_while_cdxs_waits_for_the_vault_lock_loses_nothing() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("bea@example.com", "acct-bea"));
    let env = env_with(&mock);
    let home = declared_home(&env, &mock, "bea@example.com");
    let lock = hold_vault_lock(&env);
    let child = env.spawn(&["refresh-token", "bea@example.com"], &[]);
    std::thread::sleep(Duration::from_millis(300));
    // Meanwhile Codex refreshes in the home (rt_1 -> rt_2).
    mock.rotate_as_codex(&home, 0).unwrap();
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let issued = mock.current_token("bea@example.com");
    assert_eq!(
        issued, "rt_acct-bea_3",
        "cdxs refreshed Codex's newer token"
    );
    assert_eq!(vault_rt(&env, "bea@example.com"), issued);
    assert_eq!(rt(&home), issued);
    assert!(mock.refusals().is_empty(), "{:?}", mock.refusals());
    // Codex carries on with what cdxs wrote.
    mock.rotate_as_codex(&home, 0).unwrap();
}

#[test]
fn rollback_after_refresh_and_a_codex_rotation_never_writes_a_spent_token() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("cat@example.com", "acct-cat"));
    let env = env_with(&mock);
    let home = declared_home(&env, &mock, "cat@example.com");
    assert!(
        env.run(&["refresh-token", "cat@example.com"])
            .status
            .success()
    );
    assert_eq!(rt(&home), "rt_acct-cat_2");
    mock.rotate_as_codex(&home, 0).unwrap();
    assert_eq!(rt(&home), "rt_acct-cat_3");
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        rt(&home),
        mock.current_token("cat@example.com"),
        "rollback wrote an older token: {}",
        text(&out)
    );
    mock.rotate_as_codex(&home, 0)
        .expect("Codex can still refresh after the rollback");
    assert!(mock.refusals().is_empty());
}

#[test]
fn run_account_for_a_login_bound_to_another_home_is_refused() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("dan@example.com", "acct-dan"));
    let env = env_with(&mock);
    let home = declared_home(&env, &mock, "dan@example.com");
    let other = env.codex_home("other");
    let out = env.run(&[
        "run",
        "--account",
        "dan@example.com",
        "--codex-home",
        other.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("cdxs run --home h"),
        "the help names `run --home`: {}",
        text(&out)
    );
    assert!(!other.join("auth.json").exists(), "no second live copy");
    assert_eq!(rt(&home), "rt_acct-dan_1");
    // The bound home itself is fine.
    let out = env.run(&[
        "run",
        "--account",
        "dan@example.com",
        "--codex-home",
        home.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn switch_codex_home_without_a_manifest_never_makes_a_second_live_copy() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("eve@example.com", "acct-eve"));
    let env = env_with(&mock);
    env.import_auth_json(&mock.auth_json("eve@example.com"));
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    let out = env.run(&[
        "switch",
        "eve@example.com",
        "--codex-home",
        a.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.run(&[
        "switch",
        "eve@example.com",
        "--codex-home",
        b.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("--move"), "{}", text(&out));
    assert!(!b.join("auth.json").exists());
    // Moving it is explicit: the old folder's copy goes (with a backup).
    let out = env.run(&[
        "switch",
        "eve@example.com",
        "--codex-home",
        b.to_str().unwrap(),
        "--move",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rt(&b), "rt_acct-eve_1");
    assert!(!a.join("auth.json").exists(), "one live copy");
    // A refresh reaches the folder cdxs wrote it into, declared or not.
    assert!(
        env.run(&["refresh-token", "eve@example.com"])
            .status
            .success()
    );
    assert_eq!(rt(&b), mock.current_token("eve@example.com"));
}

#[test]
fn a_403_from_the_usage_endpoint_never_rotates_a_token() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("fay@example.com", "acct-fay");
    a.usage_status = Some(403);
    mock.add(a);
    let env = env_with(&mock);
    env.import_auth_json(&mock.auth_json("fay@example.com"));
    for args in [
        &["list", "--force"][..],
        &["quota", "fay@example.com"],
        &["list", "--force"],
    ] {
        let out = env.run(args);
        assert!(
            text(&out).contains("403"),
            "the 403 is shown as such: {}",
            text(&out)
        );
    }
    assert_eq!(mock.count("/oauth/token"), 0, "no rotation for a 403");
}

#[test]
fn plan_never_rotates_a_token_that_is_not_about_to_expire() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("gus@example.com", "acct-gus"));
    mock.add(MockAccount::new("hal@example.com", "acct-hal"));
    let env = env_with(&mock);
    for e in ["gus@example.com", "hal@example.com"] {
        env.import_auth_json(&mock.auth_json(e));
    }
    // The usage endpoint refuses the access tokens (401): plan shows it, refreshes nothing.
    mock.with(|s| {
        for a in s.accounts.values_mut() {
            a.usage_status = Some(401);
        }
    });
    env.manifest(&format!(
        "version: 1\naccounts:\n  gus: {{ email: gus@example.com }}\n  hal: {{ email: hal@example.com }}\npools:\n  p: [gus, hal]\nhomes:\n  h: {{ path: {}, account: {{ pool: p }} }}\n",
        env.codex_home("h").display()
    ));
    for _ in 0..3 {
        let out = env.run(&["plan"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(mock.count("/oauth/token"), 0, "plan rotated a fresh token");
}

#[test]
fn three_concurrent_applies_after_a_manifest_edit_all_succeed() {
    let env = Env::new();
    for (i, key) in ["sk-proj-aaaaaaaaaaaa1111", "sk-proj-bbbbbbbbbbbb2222"]
        .iter()
        .enumerate()
    {
        assert!(env.add_api_key(key).status.success(), "{i}");
    }
    let homes: Vec<String> = (0..3)
        .map(|i| env.codex_home(&format!("h{i}")).display().to_string())
        .collect();
    let ids: Vec<String> = env.accounts_json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let manifest = |id: &str| {
        format!(
            "version: 1\naccounts:\n  k: {{ id: {id} }}\nhomes:\n  h0: {{ path: {}, account: k }}\n  h1: {{ path: {}, account: k }}\n  h2: {{ path: {}, account: k }}\n",
            homes[0], homes[1], homes[2]
        )
    };
    env.manifest(&manifest(&ids[0]));
    assert!(env.run(&["apply", "--yes"]).status.success());
    env.manifest(&manifest(&ids[1]));
    let children: Vec<_> = (0..3)
        .map(|_| env.spawn(&["apply", "--yes"], &[]))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn the_vault_is_durable_when_a_command_returns() {
    let env = Env::new();
    assert!(env.run(&["account", "list"]).status.success());
    // The setting lives on cdxs's own connection (SQLite does not store it in the file).
    let v = cdxs::vault::Vault::open(&env.state).unwrap();
    assert_eq!(v.synchronous().unwrap(), 2, "PRAGMA synchronous = FULL");
}

#[test]
fn cdxs_now_is_a_test_clock_only() {
    // Debug (test) builds honour it; the switch is compiled out of release builds.
    assert!(cdxs::clock::OVERRIDE_ALLOWED == cfg!(debug_assertions));
    let fixed = cdxs::clock::from_vars(true, Some("2026-01-01T00:00:00Z"));
    assert_eq!(fixed.ts(), 1_767_225_600);
    let ignored = cdxs::clock::from_vars(false, Some("2026-01-01T00:00:00Z"));
    assert!(
        (ignored.ts() - chrono::Utc::now().timestamp()).abs() < 5,
        "a release build reads the system clock"
    );
}
