//! No secret in a message, no lock file through a symlink, no number from outside
//! unbounded.

use super::*;

/// No part of a secret that is longer than a fingerprint shows in `s`.
fn assert_no_secret(s: &str, secret: &str) {
    for w in secret.as_bytes().windows(12) {
        let part = std::str::from_utf8(w).unwrap();
        assert!(!s.contains(part), "`{part}` of a secret is shown:\n{s}");
    }
}

#[test]
fn hostile_an_api_key_pasted_as_api_key_env_is_not_quoted_in_the_diagnostic() {
    let key = "sk-proj-AbCdEf0123456789GhIjKl0123456789";
    let env = Env::new();
    env.manifest(&format!(
        "version: 1\naccounts:\n  ci: {{ api_key_env: \"{key}\" }}\nhomes:\n  default: {{ path: ~/.codex, account: ci }}\n"
    ));
    let out = env.run(&["validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("api_key_env"), "{}", text(&out));
    assert_no_secret(&text(&out), key);
}

#[test]
fn hostile_validate_on_an_auth_json_shows_no_key_line() {
    let key = "sk-live-1234567890abcdefghijKLMNOP";
    let env = Env::new();
    let f = env.work.join("auth.json");
    std::fs::write(
        &f,
        format!("{{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"{key}\"}}"),
    )
    .unwrap();
    let out = env.run(&["-f", f.to_str().unwrap(), "validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_secret(&text(&out), key);
    assert!(stderr(&out).contains("auth.json"), "{}", text(&out));
}

#[test]
fn hostile_validate_on_a_dotenv_file_shows_no_key_line() {
    let key = "sk-proj-ZyXwVu9876543210ZyXwVu98765";
    let env = Env::new();
    let f = env.work.join(".env");
    std::fs::write(&f, format!("# secrets\nOPENAI_API_KEY={key}\nOTHER=1\n")).unwrap();
    let out = env.run(&["-f", f.to_str().unwrap(), "validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_secret(&text(&out), key);
}

/// A home whose `auth.json` holds an API key, an account to switch it to, and the
/// account's id.
fn home_with_key(env: &Env, key: &str) -> (PathBuf, String) {
    let home = env.codex_home("locked");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("auth.json"),
        format!("{{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"{key}\"\n}}"),
    )
    .unwrap();
    (home, env.add_api_key_id("sk-other-account-000000000000"))
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
)]
fn hostile_a_lock_timeout_never_prints_what_a_symlinked_lock_file_points_at() {
    let key = "sk-in-auth-json-0123456789abcdefgh";
    let env = Env::new();
    let (home, id) = home_with_key(&env, key);
    cdxs::platform::fs::symlink(Path::new("auth.json"), &home.join("auth.lock")).unwrap();
    // Someone holds a lock on the file the link points at.
    let held = std::fs::File::open(home.join("auth.json")).unwrap();
    held.lock().unwrap();
    let out = env
        .cdxs()
        .env("CDXS_LOCK_TIMEOUT", "1")
        .args(["switch", &id, "--codex-home", home.to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert_no_secret(&text(&out), key);
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
    let still = std::fs::read_to_string(home.join("auth.json")).unwrap();
    assert!(
        still.contains(key),
        "auth.json was changed through a symlinked lock"
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
)]
fn hostile_lock_files_are_not_created_through_symlinks() {
    let env = Env::new();
    let (home, id) = home_with_key(&env, "sk-in-auth-json-0123456789abcdefgh");
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    cdxs::platform::fs::symlink(&elsewhere.join("made-by-cdxs"), &home.join("auth.lock")).unwrap();
    cdxs::platform::fs::symlink(&elsewhere.join("also-made"), &home.join("auth.json.lock"))
        .unwrap();
    let out = env.run(&["switch", &id, "--codex-home", home.to_str().unwrap()]);
    assert!(
        !elsewhere.join("made-by-cdxs").exists() && !elsewhere.join("also-made").exists(),
        "a lock file was created through a symlink: {}",
        text(&out)
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("symlink"), "{}", text(&out));
}

#[test]
fn hostile_token_response_debug_shows_no_token() {
    let resp = cdxs::auth::refresh::TokenResponse {
        id_token: Some("eyJhbGciOi.id-token-secret-value.sig".into()),
        access_token: Some("access-token-secret-value".into()),
        refresh_token: Some("rt_refresh-token-secret-value".into()),
    };
    let shown = format!("{resp:?} {resp:#?}");
    for secret in [
        "id-token-secret",
        "access-token-secret",
        "refresh-token-secret",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn hostile_an_imported_api_key_with_nul_or_escape_is_refused() {
    for key in [
        "sk-abc\u{1b}]0;pwned\u{7}def0123",
        "sk-abc\u{0}def0123456789",
    ] {
        let env = Env::new();
        let f = env.path("auth.json");
        std::fs::write(
            &f,
            json!({"auth_mode": "apikey", "OPENAI_API_KEY": key}).to_string(),
        )
        .unwrap();
        let out = env.run(&["import", "auth", "--file", f.to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{key:?}: {}", text(&out));
        assert!(
            env.accounts_json()["accounts"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{key:?} went into the vault"
        );
        assert!(!text(&out).contains('\u{1b}'), "{}", text(&out));
    }
}

#[test]
fn hostile_a_base_url_carrying_a_token_is_refused_and_never_shown() {
    let env = Env::new();
    let url = "https://gw.example.com/v1?token=abc123topsecret456";
    let out = env
        .cdxs()
        .args([
            "account",
            "add-api-key",
            "--api-key-stdin",
            "--base-url",
            url,
        ])
        .write_stdin("sk-gateway-key-0123456789")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!text(&out).contains("abc123topsecret456"), "{}", text(&out));
    assert!(
        env.accounts_json()["accounts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    env.manifest(&format!(
        "version: 1\naccounts:\n  gw: {{ api_key_env: GW_KEY, base_url: \"{url}\" }}\n"
    ));
    let out = env.run(&["validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!text(&out).contains("abc123topsecret456"), "{}", text(&out));
}

#[test]
fn hostile_a_broken_codex_database_is_not_called_the_vault() {
    let (env, home) = one_home("");
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute_batch("DROP TABLE threads;").unwrap();
    drop(db);
    let out = env.run(&["session", "list"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!stderr(&out).contains("vault"), "{}", text(&out));
    assert!(stderr(&out).contains("state_5.sqlite"), "{}", text(&out));
}

#[test]
fn hostile_cdxs_lock_timeout_inf_or_huge_is_not_a_panic() {
    for value in ["inf", "1e19", "NaN", "-5", "18446744073709551616", "abc"] {
        let env = Env::new();
        let (home, id) = home_with_key(&env, "sk-in-auth-json-0123456789abcdefgh");
        let out = env
            .cdxs()
            .env("CDXS_LOCK_TIMEOUT", value)
            .args(["switch", &id, "--codex-home", home.to_str().unwrap()])
            .output()
            .unwrap();
        assert_ne!(code(&out), 101, "{value}: {}", text(&out));
        assert!(
            !stderr(&out).contains("internal error"),
            "{value}: {}",
            text(&out)
        );
        assert!(out.status.success(), "{value}: {}", text(&out));
    }
}

#[test]
fn hostile_a_huge_cdxs_login_timeout_is_a_clean_error() {
    for value in ["18446744073709551615", "99999999999", "-1", "soon"] {
        let env = Env::new();
        let out = env
            .cdxs()
            .env("CDXS_LOGIN_TIMEOUT", value)
            .env("BROWSER", "/bin/false")
            .args(["login", "oauth", "--no-browser", "--port", "0"])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{value}: {}", text(&out));
        assert!(
            stderr(&out).contains("CDXS_LOGIN_TIMEOUT"),
            "{value}: {}",
            text(&out)
        );
    }
}

#[test]
fn hostile_quota_percentages_must_be_finite_numbers_from_0_to_100() {
    for bad in [
        json!("NaN"),
        json!("inf"),
        json!("-inf"),
        json!("1e999"),
        json!("nan"),
    ] {
        let q = cdxs::quota::parse(
            &json!({"rate_limit": {"primary_window": {"used_percent": bad}, "secondary_window": {"used_percent": 10}}}),
            1_800_000_000,
        );
        let all = [q.five_hour, q.weekly];
        for w in all.iter().flatten() {
            assert!(
                w.used_percent.is_finite()
                    && w.remaining_percent.is_finite()
                    && (0.0..=100.0).contains(&w.used_percent)
                    && (0.0..=100.0).contains(&w.remaining_percent),
                "{bad}: {w:?}"
            );
        }
        assert!(q.five_hour.is_none(), "{bad} accepted as a percentage");
        let left = q.remaining().unwrap();
        assert!(left.is_finite(), "{bad}: {left}");
    }
}

#[test]
fn hostile_quota_reset_after_seconds_does_not_overflow() {
    for huge in [
        json!(9.2e18),
        json!(i64::MAX),
        json!(1e300),
        json!("9223372036854775807"),
        json!(-9.2e18),
    ] {
        let q = cdxs::quota::parse(
            &json!({"rate_limit": {"primary_window": {"used_percent": 10, "reset_after_seconds": huge}}}),
            1_800_000_000,
        );
        let w = q.five_hour.unwrap();
        if let Some(at) = w.resets_at {
            assert!(
                (1_800_000_000..=1_800_000_000 + 10 * 366 * 86_400).contains(&at),
                "{huge}: reset at {at}"
            );
        }
    }
}

#[test]
fn hostile_a_jwt_with_exp_i64_min_does_not_wrap() {
    let env = Env::new();
    let mut login = Login::new("wrap@example.com", "acct-wrap");
    login.exp = i64::MIN;
    login.iat = i64::MIN;
    env.import_login(&login);
    let out = env.run(&["account", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
    let claims = cdxs::codex::jwt::decode(&jwt(&login.claims())).unwrap();
    assert_eq!(
        (claims.exp, claims.iat),
        (None, None),
        "an impossible time is no time"
    );
    let v = env.accounts_json();
    assert!(v["accounts"][0]["access_token_expires_at"].is_null(), "{v}");
}
