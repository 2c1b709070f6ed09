//! Bad input never panics, always names the file, exits 1 and leaves the vault intact.

use crate::harness::*;

fn assert_clean_failure(env: &Env, args: &[&str], file: &str, needle: &str) {
    let before = env.accounts_json();
    let out = env.run(args);
    assert_eq!(code(&out), 1, "{args:?}\n{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&sep(file)),
        "error should name `{file}`:\n{err}"
    );
    assert!(err.contains(needle), "error should say `{needle}`:\n{err}");
    assert!(
        !err.contains("internal error") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!err.contains("RUST_BACKTRACE"), "{err}");
    assert_eq!(env.accounts_json(), before, "the vault changed");
}

#[test]
fn truncated_binary_foreign_and_missing_auth_files() {
    let env = Env::new();
    assert!(env.add_api_key("sk-keep-me-0001").status.success());
    let truncated = env.path("truncated.json");
    let full = Login::new("t@example.com", "acct-t").auth_json();
    std::fs::write(&truncated, &full[..full.len() / 2]).unwrap();
    assert_clean_failure(
        &env,
        &["import", "auth", "--file", truncated.to_str().unwrap()],
        "truncated.json",
        "not valid JSON",
    );

    let binary = env.path("binary.json");
    std::fs::write(
        &binary,
        [0xffu8, 0xd8, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0xc3],
    )
    .unwrap();
    assert_clean_failure(
        &env,
        &["import", "auth", "--file", binary.to_str().unwrap()],
        "binary.json",
        "not UTF-8",
    );

    for mode in [
        "agentIdentity",
        "personalAccessToken",
        "headers",
        "bedrockApiKey",
        "futureMode",
    ] {
        let foreign = env.path(&format!("{mode}.json"));
        std::fs::write(
            &foreign,
            format!(r#"{{"auth_mode":"{mode}","OPENAI_API_KEY":null}}"#),
        )
        .unwrap();
        assert_clean_failure(
            &env,
            &["import", "auth", "--file", foreign.to_str().unwrap()],
            &format!("{mode}.json"),
            &format!("auth mode `{mode}`"),
        );
    }

    let missing = env.path("nope/auth.json");
    assert_clean_failure(
        &env,
        &["import", "auth", "--file", missing.to_str().unwrap()],
        "nope/auth.json",
        "does not exist",
    );

    let home = env.path("emptyhome");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("auth.json"), "{}").unwrap();
    assert_clean_failure(
        &env,
        &["import", "auth", "--codex-home", home.to_str().unwrap()],
        "emptyhome/auth.json",
        "holds no credentials",
    );

    let not_jwt = env.path("notjwt.json");
    std::fs::write(
        &not_jwt,
        r#"{"tokens":{"id_token":"not-a-jwt","access_token":"x","refresh_token":"y"}}"#,
    )
    .unwrap();
    assert_clean_failure(
        &env,
        &["import", "auth", "--file", not_jwt.to_str().unwrap()],
        "notjwt.json",
        "id_token",
    );
}

#[test]
fn a_damaged_vault_is_a_clean_error() {
    let env = Env::new();
    std::fs::create_dir_all(&env.state).unwrap();
    std::fs::write(
        env.state.join("cdxs.db"),
        b"this is not a database, just text padding it out",
    )
    .unwrap();
    let out = env.run(&["account", "list"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("cdxs.db"), "{}", text(&out));
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn usage_errors_exit_1_and_help_documents_exit_codes() {
    let env = Env::new();
    let out = env.run(&["no-such-command"]);
    assert_eq!(code(&out), 1);
    let out = env.run(&["--help"]);
    assert_eq!(code(&out), 0);
    let help = stdout(&out);
    assert!(
        help.contains("Exit codes:") && help.contains("3  a lock"),
        "{help}"
    );
}
