//! Login, refresh with rotation safety, quota and pools, against the local mock issuer.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi, usage};

fn env_with(mock: &MockOpenAi) -> Env {
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    env
}

/// Start `cdxs login oauth ...` and read its stderr up to the authorize URL.
fn start_login(env: &Env, args: &[&str]) -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdxs"));
    cmd.current_dir(&env.work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap())
        .env("HOME", &env.home)
        .env("CDXS_STATE_DIR", &env.state)
        .env("NO_COLOR", "1")
        .env("CDXS_LOGIN_TIMEOUT", "20")
        .env("BROWSER", env.no_browser())
        .envs(if cfg!(windows) {
            env.windows_env()
        } else {
            Vec::new()
        })
        .args(["login", "oauth"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env.extra.borrow().iter() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut url = String::new();
    for _ in 0..20 {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(u) = line.trim().strip_prefix("http") {
            url = format!("http{u}");
            break;
        }
    }
    assert!(
        url.contains("/oauth/authorize?"),
        "no authorize URL printed"
    );
    (child, url, err)
}

fn finish(mut child: Child, mut err: BufReader<std::process::ChildStderr>) -> (i32, String) {
    let status = child.wait().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    (status.code().unwrap_or(-1), rest)
}

#[test]
fn browser_callback_login_with_pkce() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("pat@example.com", "acct-pat"));
    mock.with(|s| s.login_as = Some("pat@example.com".into()));
    let env = env_with(&mock);
    let (child, url, err) = start_login(&env, &["--no-browser", "--port", "0"]);
    let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(
        q["redirect_uri"].starts_with("http://localhost:")
            && q["redirect_uri"].ends_with("/auth/callback")
    );
    // The "browser": the issuer redirects to the local callback, which cdxs answers.
    let page = reqwest::blocking::get(&url).unwrap();
    assert!(page.status().is_success(), "{:?}", page.status());
    assert!(page.text().unwrap().contains("login complete"));
    let (code, rest) = finish(child, err);
    assert_eq!(code, 0, "{rest}");
    assert!(rest.contains("logged in as pat@example.com"), "{rest}");
    let list = env.accounts_json();
    assert_eq!(list["accounts"][0]["email"], "pat@example.com");
    assert_eq!(list["accounts"][0]["workspace"], "acct-pat");
    // the token exchange was the PKCE one
    let ex = mock
        .log()
        .into_iter()
        .find(|l| l.path == "/oauth/token")
        .unwrap();
    assert!(
        ex.body.contains("grant_type=authorization_code") && ex.body.contains("code_verifier="),
        "{}",
        ex.body
    );
    assert_eq!(ex.status, 200);
}

#[test]
fn manual_login_pasting_the_callback_address() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("quinn@example.com", "acct-quinn"));
    mock.with(|s| s.login_as = Some("quinn@example.com".into()));
    let env = env_with(&mock);
    let (mut child, url, err) = start_login(&env, &["--manual"]);
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(&url).send().unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://localhost:1455/auth/callback?code="),
        "{location}"
    );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{location}\n").as_bytes())
        .unwrap();
    let (code, rest) = finish(child, err);
    assert_eq!(code, 0, "{rest}");
    assert_eq!(
        env.accounts_json()["accounts"][0]["email"],
        "quinn@example.com"
    );
}

#[test]
fn a_callback_for_another_login_is_refused() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("rae@example.com", "acct-rae"));
    let env = env_with(&mock);
    let (mut child, _url, err) = start_login(&env, &["--manual"]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"http://localhost:1455/auth/callback?code=x&state=forged\n")
        .unwrap();
    let (code, rest) = finish(child, err);
    assert_eq!(code, 1);
    assert!(rest.contains("state does not match"), "{rest}");
    assert_eq!(
        mock.count("/oauth/token"),
        0,
        "no exchange for a forged callback"
    );
    assert!(
        env.accounts_json()["accounts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn quota_reads_real_shapes_and_api_keys_are_not_an_error() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("sam@example.com", "acct-sam");
    // only reset_after_seconds, no weekly window
    a.usage = Some(
        serde_json::json!({"plan_type": "pro", "rate_limit": {"primary_window": {"used_percent": 25, "reset_after_seconds": 600}}}),
    );
    mock.add(a);
    let env = env_with(&mock);
    std::fs::write(env.path("sam.json"), mock.auth_json("sam@example.com")).unwrap();
    assert!(
        env.run(&[
            "import",
            "auth",
            "--file",
            env.path("sam.json").to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(env.add_api_key("sk-quota-key-000001").status.success());
    let out = env.run(&["quota", "--all", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v["quota"].as_array().unwrap();
    let sam = rows
        .iter()
        .find(|r| r["name"] == "sam@example.com")
        .unwrap();
    assert_eq!(sam["five_hour"]["remaining_percent"], 75.0);
    assert!(sam["weekly"].is_null());
    assert_eq!(sam["plan_type"], "pro");
    let key = rows.iter().find(|r| r["kind"] == "apikey").unwrap();
    assert_eq!(key["supported"], false);
    // the request had the account header and a user agent
    let req = mock
        .log()
        .into_iter()
        .find(|l| l.path.ends_with("/wham/usage"))
        .unwrap();
    assert_eq!(req.headers["chatgpt-account-id"], "acct-sam");
    assert!(req.headers["user-agent"].starts_with("cdxs/"));
    // table output has bars and n/a
    let out = env.run(&["quota", "--all"]);
    let s = stdout(&out);
    assert!(
        s.contains("75%") && s.contains("█") && s.contains("n/a: API key"),
        "{s}"
    );
}

#[test]
fn partial_quota_failures_show_what_worked_and_exit_1() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("ok@example.com", "acct-ok"));
    let mut bad = MockAccount::new("bad@example.com", "acct-bad");
    bad.usage = None;
    mock.add(bad);
    let env = env_with(&mock);
    for e in ["ok@example.com", "bad@example.com"] {
        env.import_auth_json(&mock.auth_json(e));
    }
    let out = env.run(&["quota", "--all"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stdout(&out).contains("ok@example.com") && stdout(&out).contains("80%"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("HTTP 500"), "{}", text(&out));
    assert!(stderr(&out).contains("1 of 2"), "{}", text(&out));
}

#[test]
fn list_refreshes_stale_quota_and_show_never_calls_the_network() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("tia@example.com", "acct-tia"));
    let env = env_with(&mock);
    std::fs::write(env.path("t.json"), mock.auth_json("tia@example.com")).unwrap();
    assert!(
        env.run(&[
            "import",
            "auth",
            "--file",
            env.path("t.json").to_str().unwrap()
        ])
        .status
        .success()
    );
    let out = env.run(&["show", "--json"]);
    assert!(out.status.success());
    assert_eq!(mock.count("/wham/usage"), 0, "show never calls the network");
    let out = env.run(&["list", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["accounts"][0]["quota"]["five_hour"]["remaining_percent"],
        80.0
    );
    assert_eq!(mock.count("/wham/usage"), 1);
    // fresh cache: list does not fetch again; --force does
    env.run(&["list"]);
    assert_eq!(mock.count("/wham/usage"), 1);
    env.run(&["list", "--force"]);
    assert_eq!(mock.count("/wham/usage"), 2);
    // show prints the cache
    let out = env.run(&["show"]);
    assert!(stdout(&out).contains("80%"), "{}", text(&out));
}

#[test]
fn refresh_token_rotates_and_updates_the_home_that_holds_the_login() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("uma@example.com", "acct-uma"));
    let env = env_with(&mock);
    std::fs::create_dir_all(env.default_codex_home()).unwrap();
    std::fs::write(
        env.default_codex_home().join("auth.json"),
        mock.auth_json("uma@example.com"),
    )
    .unwrap();
    assert!(env.run(&["import", "auth"]).status.success());
    let out = env.run(&["refresh-token", "uma"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("refreshed uma@example.com"),
        "{}",
        text(&out)
    );
    // the request is exactly what Codex sends
    let req = mock
        .log()
        .into_iter()
        .find(|l| l.path == "/oauth/token")
        .unwrap();
    let body: Value = serde_json::from_str(&req.body).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["refresh_token"], "rt_acct-uma_1");
    assert_eq!(body["refresh_reason"], "forced");
    // the home got the rotated token at once (its old one is dead)
    assert_eq!(
        read_json(&env.default_codex_home().join("auth.json"))["tokens"]["refresh_token"],
        "rt_acct-uma_2"
    );
    // a second refresh spends rt_2, never rt_1 again
    assert!(env.run(&["refresh-token", "uma"]).status.success());
    assert!(mock.log().iter().all(|l| l.status != 401), "no reuse");
}

#[test]
fn a_refused_token_first_looks_for_a_newer_copy_then_marks_reauth() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("val@example.com", "acct-val"));
    let env = env_with(&mock);
    let stale = mock.auth_json("val@example.com");
    std::fs::write(env.path("v.json"), &stale).unwrap();
    assert!(
        env.run(&[
            "import",
            "auth",
            "--file",
            env.path("v.json").to_str().unwrap()
        ])
        .status
        .success()
    );
    // Codex (elsewhere) rotates the token: the vault's copy is now reused at the issuer,
    // and a home holds the newer copy.
    mock.with(|s| {
        let a = s.accounts.get_mut("val@example.com").unwrap();
        a.used.insert(a.refresh_token.clone());
        a.generation += 1;
        a.refresh_token = format!("rt_acct-val_{}", a.generation);
    });
    let home = env.codex_home("other");
    std::fs::create_dir_all(&home).unwrap();
    let mut newer: Value = serde_json::from_str(&mock.auth_json("val@example.com")).unwrap();
    newer["last_refresh"] = Value::from("2030-01-01T00:00:00Z");
    std::fs::write(home.join("auth.json"), newer.to_string()).unwrap();
    env.manifest(&format!(
        "version: 1\nhomes:\n  other: {{ path: {} }}\n",
        home.display()
    ));
    let out = env.run(&["refresh-token", "val"]);
    assert!(out.status.success(), "{}", text(&out));
    let list = env.accounts_json();
    assert_eq!(list["accounts"][0]["requires_reauth"], false);
    // Without a newer copy anywhere, the refusal marks the account and says how to log in.
    std::fs::remove_file(home.join("auth.json")).unwrap();
    mock.with(|s| {
        let a = s.accounts.get_mut("val@example.com").unwrap();
        a.used.insert(a.refresh_token.clone());
        a.refresh_token = "rt_elsewhere".into();
    });
    let out = env.run(&["refresh-token", "val"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("needs a new login") && stderr(&out).contains("cdxs login oauth"),
        "{}",
        text(&out)
    );
    assert_eq!(env.accounts_json()["accounts"][0]["requires_reauth"], true);
    assert!(
        !text(&out).contains("rt_"),
        "no token in messages: {}",
        text(&out)
    );
}

#[test]
fn apply_refreshes_an_expiring_token_before_writing_it() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("wes@example.com", "acct-wes");
    a.ttl = 60; // expires within 5 minutes
    mock.add(a);
    let env = env_with(&mock);
    std::fs::write(env.path("w.json"), mock.auth_json("wes@example.com")).unwrap();
    assert!(
        env.run(&[
            "import",
            "auth",
            "--file",
            env.path("w.json").to_str().unwrap()
        ])
        .status
        .success()
    );
    mock.with(|s| s.accounts.get_mut("wes@example.com").unwrap().ttl = 3600);
    env.manifest(&format!(
        "version: 1\naccounts:\n  wes: {{ email: wes@example.com }}\nhomes:\n  h: {{ path: {}, account: wes }}\n",
        env.codex_home("h").display()
    ));
    let out = env.run(&["plan"]);
    assert!(
        stdout(&out).contains("~ account.wes.refresh"),
        "{}",
        text(&out)
    );
    let out = env.run(&["plan", "--offline"]);
    assert!(
        !stdout(&out).contains("account.wes.refresh"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("offline"), "{}", text(&out));
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&env.codex_home("h").join("auth.json"))["tokens"]["refresh_token"],
        "rt_acct-wes_2"
    );
    assert_eq!(mock.count("/oauth/token"), 1);
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

fn import(env: &Env, mock: &MockOpenAi, email: &str) {
    std::fs::write(env.path("i.json"), mock.auth_json(email)).unwrap();
    let out = env.run(&[
        "import",
        "auth",
        "--file",
        env.path("i.json").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn pools_pick_by_quota_and_move_below_the_threshold() {
    let mock = MockOpenAi::start();
    let mut s1 = MockAccount::new("s1@example.com", "acct-s1");
    s1.usage = Some(usage(20.0, 30.0)); // 70% left
    let mut s2 = MockAccount::new("s2@example.com", "acct-s2");
    s2.usage = Some(usage(50.0, 50.0)); // 50% left
    mock.add(s1);
    mock.add(s2);
    let env = env_with(&mock);
    import(&env, &mock, "s1@example.com");
    import(&env, &mock, "s2@example.com");
    env.manifest(&format!(
        "version: 1\naccounts:\n  s1: {{ email: s1@example.com }}\n  s2: {{ email: s2@example.com }}\npools:\n  spares: [s1, s2]\nhomes:\n  burst:\n    path: {}\n    account: {{ pool: spares, switch_below: 25% }}\n",
        env.codex_home("burst").display()
    ));
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("picked s1 (70% left)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        read_json(&env.codex_home("burst").join("auth.json"))["tokens"]["account_id"],
        "acct-s1"
    );
    // s1 drops to 30% left: above 25%, it stays (no flapping).
    mock.with(|s| s.accounts.get_mut("s1@example.com").unwrap().usage = Some(usage(70.0, 30.0)));
    env.run(&["quota", "--all"]);
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
    // s1 drops to 10% left: below 25%, the home moves to s2, and plan says why.
    mock.with(|s| s.accounts.get_mut("s1@example.com").unwrap().usage = Some(usage(90.0, 30.0)));
    env.run(&["quota", "--all"]);
    let out = env.run(&["plan"]);
    assert!(
        stdout(&out).contains("s1 has 10% left < 25%, moving to s2 (50% left)"),
        "{}",
        text(&out)
    );
    assert!(env.run(&["apply", "--yes"]).status.success());
    assert_eq!(
        read_json(&env.codex_home("burst").join("auth.json"))["tokens"]["account_id"],
        "acct-s2"
    );
    // the replaced login's tokens stayed in the vault
    assert_eq!(env.accounts_json()["accounts"].as_array().unwrap().len(), 2);
}

#[test]
fn switch_without_an_account_picks_the_most_quota_left() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("xan@example.com", "acct-xan");
    a.usage = Some(usage(80.0, 10.0));
    let mut b = MockAccount::new("yui@example.com", "acct-yui");
    b.usage = Some(usage(10.0, 10.0));
    mock.add(a);
    mock.add(b);
    let env = env_with(&mock);
    import(&env, &mock, "xan@example.com");
    import(&env, &mock, "yui@example.com");
    let out = env.run(&["switch"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("best quota: yui@example.com (90% left)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        read_json(&env.default_codex_home().join("auth.json"))["tokens"]["account_id"],
        "acct-yui"
    );
}

#[test]
fn run_with_an_account_refreshes_an_expiring_login_first() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("zed@example.com", "acct-zed");
    a.ttl = 30;
    mock.add(a);
    let env = env_with(&mock);
    import(&env, &mock, "zed@example.com");
    mock.with(|s| s.accounts.get_mut("zed@example.com").unwrap().ttl = 3600);
    let home = env.codex_home("r");
    let out = env.run(&[
        "run",
        "--account",
        "zed",
        "--codex-home",
        home.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("refreshed zed@example.com's tokens first"),
        "{}",
        text(&out)
    );
    assert_eq!(
        read_json(&home.join("auth.json"))["tokens"]["refresh_token"],
        "rt_acct-zed_2"
    );
}

#[test]
fn a_pool_never_picks_a_member_the_home_would_delete_watch_included() {
    let mock = MockOpenAi::start();
    let mut s1 = MockAccount::new("s1@example.com", "acct-s1");
    s1.usage = Some(usage(10.0, 10.0)); // 90% left: the best by quota
    let mut s2 = MockAccount::new("s2@example.com", "acct-s2");
    s2.usage = Some(usage(50.0, 50.0));
    mock.add(s1);
    mock.add(s2);
    let env = env_with(&mock);
    import(&env, &mock, "s1@example.com");
    import(&env, &mock, "s2@example.com");
    let home = env.codex_home("burst");
    std::fs::create_dir_all(&home).unwrap();
    // Codex deletes a login of any workspace but acct-s2 in this home.
    std::fs::write(
        home.join("config.toml"),
        "forced_chatgpt_workspace_id = \"acct-s2\"\n",
    )
    .unwrap();
    env.manifest(&format!(
        "version: 1\naccounts:\n  s1: {{ email: s1@example.com }}\n  s2: {{ email: s2@example.com }}\npools:\n  spares: [s1, s2]\nhomes:\n  burst:\n    path: {}\n    account: {{ pool: spares }}\n",
        home.display()
    ));
    let out = env.run(&["watch", "--once"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&home.join("auth.json"))["tokens"]["account_id"],
        "acct-s2",
        "{}",
        text(&out)
    );
    let out = env.run(&["plan"]);
    assert!(
        stdout(&out).contains("skips") && stdout(&out).contains("forced_chatgpt_workspace_id"),
        "{}",
        text(&out)
    );
}

/// Issue 21: over SSH without a display, a browser on the person's own machine cannot come
/// back to `localhost` here: `login oauth` says so, suggests `--manual` (or a forwarded
/// port) and opens no browser. Every login ends with the next step.
#[test]
fn login_over_ssh_suggests_manual_and_every_login_says_what_next() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("pat@example.com", "acct-pat"));
    mock.with(|s| s.login_as = Some("pat@example.com".into()));
    let browser = |env: &Env| {
        let marker = env.path("browser-opened");
        let (script, body) = if cfg!(windows) {
            let body = format!("@echo opened> \"{}\"\r\n", marker.display());
            (env.path("browser.cmd"), body)
        } else {
            let body = format!("#!/bin/sh\ntouch '{}'\n", marker.display());
            (env.path("browser.sh"), body)
        };
        std::fs::write(&script, body).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        env.set_env("BROWSER", script.to_str().unwrap());
        marker
    };
    let login = |env: &Env| {
        let (child, url, err) = start_login(env, &["--port", "0"]);
        let page = reqwest::blocking::get(&url).unwrap();
        assert!(page.status().is_success(), "{:?}", page.status());
        let (code, rest) = finish(child, err);
        assert_eq!(code, 0, "{rest}");
        rest
    };
    let env = env_with(&mock);
    let opened = browser(&env);
    env.set_env("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22");
    let rest = login(&env);
    assert!(
        rest.contains("SSH session without a display")
            && rest.contains("cdxs login oauth --manual"),
        "{rest}"
    );
    assert!(rest.contains("ssh -L "), "{rest}");
    assert!(!opened.exists(), "a browser was started over SSH");
    assert!(
        rest.contains("next: `cdxs switch pat@example.com` makes `~/.codex` use it"),
        "{rest}"
    );
    // A display forwarded over SSH, or none of SSH: no hint, the browser is opened.
    env.set_env("DISPLAY", "localhost:10.0");
    let rest = login(&env);
    assert!(!rest.contains("SSH session"), "{rest}");
    assert!(opened.exists(), "no browser was started");
    // A login cdxs.yaml binds: the next step is apply.
    env.manifest(&format!(
        "version: 1\naccounts:\n  pat: {{ email: pat@example.com }}\nhomes:\n  work: {{ path: {}, account: pat }}\n",
        env.codex_home("work").display()
    ));
    let rest = login(&env);
    assert!(
        rest.contains("next: `cdxs apply` writes the new login into the home(s) that use it: work"),
        "{rest}"
    );
}

/// `--dry-run` writes nothing, so it neither fetches quota (the fetch caches it, and may
/// refresh the login) nor refreshes: `list`, `quota` and `switch` (picking by quota, with a
/// login about to expire) read the cache, the issuer and the usage endpoint see nothing, and
/// the plan `switch` stops at is its own (refresh the expiring login, then write it).
#[test]
fn dry_runs_never_fetch_quota_nor_refresh() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("ama@example.com", "acct-ama");
    a.ttl = 30; // inside the refresh window
    a.usage = Some(usage(80.0, 10.0));
    mock.add(a);
    let env = env_with(&mock);
    import(&env, &mock, "ama@example.com");
    let (usage_before, tokens_before) = (mock.count("/wham/usage"), mock.count("/oauth/token"));
    for args in [
        &["list", "--dry-run"][..],
        &["quota", "--dry-run"],
        &["switch", "--dry-run"],
    ] {
        let out = env.run(args);
        assert_eq!(
            code(&out),
            if args[0] == "quota" { 1 } else { 0 },
            "{args:?}: {}",
            text(&out)
        );
    }
    // Its own plan: refresh the expiring login, then write it (not a refresh from a quota
    // fetch standing in for it).
    let out = env.run(&["switch", "--dry-run"]);
    assert!(
        stdout(&out).contains(&sep("home[~/.codex].auth")),
        "{}",
        text(&out)
    );
    assert_eq!(mock.count("/wham/usage"), usage_before, "no quota fetch");
    assert_eq!(mock.count("/oauth/token"), tokens_before, "no refresh");
    assert!(!env.default_codex_home().join("auth.json").exists());
    let list: Value = serde_json::from_slice(&env.run(&["show", "--json"]).stdout).unwrap();
    assert!(
        list["accounts"][0]["quota"].is_null(),
        "nothing cached: {list}"
    );
}
