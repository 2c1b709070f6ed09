//! The real Codex CLI (pinned 0.169.0) is the oracle for every auth.json cdxs writes.

use std::fs::File;
use std::time::{Duration, Instant};

use std::path::PathBuf;

use crate::codex_matrix;
use crate::harness::*;

fn api_key_written_by_cdxs_is_what_codex_reports(codex: PathBuf) {
    let env = Env::new();
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--switch"],
        "sk-proj-abcdefghijklmnop1234",
    );
    assert!(out.status.success(), "{}", text(&out));
    let (status, said) = login_status(&codex, &env.default_codex_home());
    assert_eq!(status, 0, "{said}");
    assert!(
        said.contains("API key configured - sk-proj-***p1234"),
        "{said}"
    );
    crate::harness::assert_mode(&env.default_codex_home().join("auth.json"), 0o600);
}
codex_matrix!(api_key_written_by_cdxs_is_what_codex_reports);

fn chatgpt_tokens_written_by_cdxs_are_a_chatgpt_login_for_codex(codex: PathBuf) {
    let env = Env::new();
    let src = env.path("login.json");
    std::fs::write(
        &src,
        Login::new("frank@example.com", "acct-frank").auth_json(),
    )
    .unwrap();
    let out = env.run(&[
        "import",
        "auth",
        "--file",
        src.to_str().unwrap(),
        "--switch",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let (status, said) = login_status(&codex, &env.default_codex_home());
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("Logged in using ChatGPT"), "{said}");
    // And it is byte-for-byte the shape Codex writes: the four keys, null API key.
    let written = read_json(&env.default_codex_home().join("auth.json"));
    let keys: Vec<_> = written.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert_eq!(written["OPENAI_API_KEY"], serde_json::Value::Null);
}
codex_matrix!(chatgpt_tokens_written_by_cdxs_are_a_chatgpt_login_for_codex);

fn an_auth_json_written_by_codex_login_imports(codex: PathBuf) {
    let env = Env::new();
    let home = env.path("codex-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = write_stdin(
        std::process::Command::new(&codex)
            .args(["login", "--with-api-key"])
            .env("CODEX_HOME", &home),
        "sk-from-codex-login-5678\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = env.run(&["import", "auth", "--codex-home", home.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let list = env.accounts_json();
    assert_eq!(list["accounts"][0]["kind"], "apikey");
    // Writing it back into another home gives the same file Codex wrote.
    let other = env.path("other-home");
    let id = list["accounts"][0]["id"].as_str().unwrap().to_string();
    let out = env
        .cdxs()
        .env("CODEX_HOME", &other)
        .args([
            "import",
            "auth",
            "--codex-home",
            home.to_str().unwrap(),
            "--switch",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(other.join("auth.json")).unwrap(),
        std::fs::read(home.join("auth.json")).unwrap(),
        "cdxs must write what Codex writes ({id})"
    );
    let (status, said) = login_status(&codex, &other);
    assert_eq!(status, 0);
    assert!(said.contains("API key configured"), "{said}");
}
codex_matrix!(an_auth_json_written_by_codex_login_imports);

fn a_write_waits_for_a_held_auth_lock(codex: PathBuf) {
    let env = Env::new();
    let home = env.default_codex_home();
    std::fs::create_dir_all(&home).unwrap();
    let lock = File::create(home.join("auth.lock")).unwrap();
    lock.lock().unwrap();
    let hold = Duration::from_millis(1500);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(hold);
        drop(lock);
    });
    let start = Instant::now();
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--switch"],
        "sk-waited-0001",
    );
    let waited = start.elapsed();
    releaser.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        waited >= Duration::from_millis(1200),
        "did not wait: {waited:?}"
    );
    let (status, said) = login_status(&codex, &home);
    assert_eq!(status, 0);
    assert!(said.contains("API key configured"), "{said}");
}
codex_matrix!(a_write_waits_for_a_held_auth_lock);

#[test]
fn a_lock_held_too_long_exits_3_naming_the_holder() {
    let env = Env::new();
    let home = env.default_codex_home();
    std::fs::create_dir_all(&home).unwrap();
    let lock = File::create(home.join("auth.lock")).unwrap();
    lock.lock().unwrap();
    let out = env
        .cdxs()
        .env("CDXS_LOCK_TIMEOUT", "0.3")
        .args(["account", "add-api-key", "--api-key-stdin", "--switch"])
        .write_stdin("sk-timeout-0001")
        .output()
        .unwrap();
    drop(lock);
    assert_eq!(code(&out), 3, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("auth.lock"), "{err}");
    assert!(names_this_process_as_holder(&err), "{err}");
    assert!(
        !home.join("auth.json").exists(),
        "nothing may be written without the lock"
    );
}

#[test]
fn codex_writing_while_cdxs_waits_is_harvested_not_overwritten_blindly() {
    // Codex holds auth.lock while it refreshes; when it lets go, cdxs re-reads the file
    // under the lock and saves the newer tokens into the vault before replacing them.
    // (Codex's side is played by this test: it needs no Codex installed.)
    let env = Env::new();
    let home = env.default_codex_home();
    let mut login = Login::new("gina@example.com", "acct-gina");
    login.last_refresh = Some("2026-11-01T00:00:00Z".into());
    login.refresh_token = "rt_before".into();
    login.write_to(&home);
    assert!(env.run(&["import", "auth"]).status.success());
    let lock = File::create(home.join("auth.lock")).unwrap();
    lock.lock().unwrap();
    let mut rotated = login.clone();
    rotated.last_refresh = Some("2026-11-02T00:00:00Z".into());
    rotated.refresh_token = "rt_rotated_by_codex".into();
    let home2 = home.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        std::fs::write(home2.join("auth.json"), rotated.auth_json()).unwrap();
        drop(lock);
    });
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--switch"],
        "sk-after-0001",
    );
    writer.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("took newer tokens of gina@example.com"),
        "{}",
        text(&out)
    );
    // Switching back writes the rotated token, never the stale one.
    let out = env.run(&[
        "import",
        "auth",
        "--file",
        env.path("none.json").to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1);
    let f = env.path("old.json");
    std::fs::write(&f, login.auth_json()).unwrap();
    let out = env.run(&["import", "auth", "--file", f.to_str().unwrap(), "--switch"]);
    assert!(out.status.success(), "{}", text(&out));
    let written = read_json(&home.join("auth.json"));
    assert_eq!(written["tokens"]["refresh_token"], "rt_rotated_by_codex");
}
