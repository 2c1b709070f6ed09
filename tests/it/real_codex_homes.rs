//! plan/apply against the real Codex CLI: after apply, `codex login status` in each home
//! reports the declared account; drift made by Codex itself is detected and repaired.

use std::path::PathBuf;

use crate::codex_matrix;
use crate::harness::*;

fn after_apply_codex_reports_the_declared_account_in_each_home(codex: PathBuf) {
    let env = Env::new();
    env.import_login(&Login::new("mia@example.com", "acct-mia"));
    assert!(
        env.add_api_key("sk-proj-vaultkey0000000aaaaa")
            .status
            .success()
    );
    let key_id = env.accounts_json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "apikey")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.manifest(&format!(
        "version: 1\naccounts:\n  mia: {{ email: mia@example.com }}\n  key: {{ id: {key_id} }}\n  ci: {{ api_key_env: CDXS_IT_KEY }}\nhomes:\n  chat: {{ path: {}, account: mia }}\n  keyed: {{ path: {}, account: key }}\n  ci: {{ path: {}, account: ci }}\n",
        env.codex_home("chat").display(),
        env.codex_home("keyed").display(),
        env.codex_home("ci").display()
    ));
    let out = env
        .cdxs()
        .env("CDXS_IT_KEY", "sk-proj-fromtheenv000bbbbb")
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let (c, s) = login_status(&codex, &env.codex_home("chat"));
    assert_eq!(c, 0, "{s}");
    assert!(s.contains("Logged in using ChatGPT"), "{s}");
    let (c, s) = login_status(&codex, &env.codex_home("keyed"));
    assert_eq!(c, 0, "{s}");
    assert!(s.contains("API key configured - sk-proj-***aaaaa"), "{s}");
    let (c, s) = login_status(&codex, &env.codex_home("ci"));
    assert_eq!(c, 0, "{s}");
    assert!(s.contains("API key configured - sk-proj-***bbbbb"), "{s}");
}
codex_matrix!(after_apply_codex_reports_the_declared_account_in_each_home);

fn drift_made_by_codex_login_is_detected_and_repaired_with_a_backup(codex: PathBuf) {
    let env = Env::new();
    env.import_login(&Login::new("ned@example.com", "acct-ned"));
    let home = env.codex_home("work");
    env.manifest(&format!(
        "version: 1\naccounts:\n  ned: {{ email: ned@example.com }}\nhomes:\n  work: {{ path: {}, account: ned }}\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    // Someone runs `codex login --with-api-key` in the managed home.
    let out = write_stdin(
        std::process::Command::new(&codex)
            .args(["login", "--with-api-key"])
            .env("CODEX_HOME", &home),
        "sk-proj-drifted000000cccc\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, s) = login_status(&codex, &home);
    assert!(s.contains("API key configured"), "{s}");
    let codex_wrote = std::fs::read(home.join("auth.json")).unwrap();
    // plan shows the drift and the repair
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let shown = stdout(&out);
    assert!(shown.contains("Changes outside cdxs (drift):"), "{shown}");
    assert!(
        shown.contains("home.work.auth: changed outside cdxs: now holds API key sha256:"),
        "{shown}"
    );
    assert!(!shown.contains("sk-proj-drifted"), "{shown}");
    assert!(env.run(&["apply", "--yes"]).status.success());
    let (c, s) = login_status(&codex, &home);
    assert_eq!(c, 0);
    assert!(s.contains("Logged in using ChatGPT"), "{s}");
    // the file Codex wrote is in the generation's backup
    let repair = env.generations_of("apply")[0]["id"].to_string();
    let v: serde_json::Value =
        serde_json::from_slice(&env.run(&["history", &repair, "--json"]).stdout).unwrap();
    let backup = v["generation"]["files"][0]["backup"].as_str().unwrap();
    assert_eq!(std::fs::read(backup).unwrap(), codex_wrote);
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
}
codex_matrix!(drift_made_by_codex_login_is_detected_and_repaired_with_a_backup);

fn run_gives_codex_the_declared_home(codex: PathBuf) {
    let env = Env::new();
    assert!(
        env.add_api_key("sk-proj-runrunrun00000ddddd")
            .status
            .success()
    );
    let id = env.accounts_json()["accounts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.manifest(&format!(
        "version: 1\naccounts:\n  k: {{ id: {id} }}\nhomes:\n  r: {{ path: {}, account: k }}\n",
        env.codex_home("r").display()
    ));
    let out = env.run(&[
        "run",
        "--home",
        "r",
        "--",
        codex.to_str().unwrap(),
        "login",
        "status",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("API key configured - sk-proj-***ddddd"),
        "{}",
        text(&out)
    );
}
codex_matrix!(run_gives_codex_the_declared_home);

fn add_proxied_key(env: &Env, url: &str, key: &str) {
    let out = env.run_stdin(
        &[
            "account",
            "add-api-key",
            "--api-key-stdin",
            "--base-url",
            url,
        ],
        key,
    );
    assert!(out.status.success(), "{}", text(&out));
}

/// An API-key account with a base URL (a proxy or gateway): after apply, the real Codex in
/// that home sends that key to that endpoint. Binding a ChatGPT login afterwards takes the
/// endpoint away again and leaves config.toml as the person wrote it; rollback brings it back.
fn an_api_key_base_url_reaches_codex_through_config_toml(codex: PathBuf) {
    let mock = crate::mock_responses::MockResponses::start("hi through the proxy");
    let env = Env::new();
    let home = env.codex_home("proxied");
    std::fs::create_dir_all(&home).unwrap();
    let original = "# mine\nmodel = \"gpt-5.1\" # keep\nmodel_provider = \"openai\"\n\n[projects.\"/src\"]\ntrust_level = \"trusted\"\n";
    std::fs::write(home.join("config.toml"), original).unwrap();
    add_proxied_key(&env, &mock.url, "sk-proxy-secret-000111222");
    let key = env.accounts_json()["accounts"][0].clone();
    assert_eq!(key["base_url"], mock.url.as_str());
    env.import_login(&Login::new("mia@example.com", "acct-mia"));
    let manifest = |alias: &str| {
        env.manifest(&format!(
            "version: 1\naccounts:\n  proxy: {{ id: {} }}\n  mia: {{ email: mia@example.com }}\nhomes:\n  proxied: {{ path: {}, account: {alias} }}\n",
            key["id"].as_str().unwrap(),
            home.display()
        ))
    };
    manifest("proxy");
    let out = env.run(&["plan"]);
    let shown = text(&out);
    assert!(shown.contains("home.proxied.base_url"), "{shown}");
    assert!(!shown.contains("sk-proxy-secret"), "{shown}");
    // A real diff of config.toml: the file, a hunk, the added line, context around it.
    assert!(
        shown.contains("--- ") && shown.contains("config.toml"),
        "{shown}"
    );
    assert!(shown.contains("@@ "), "{shown}");
    assert!(
        shown.contains(&format!("+openai_base_url = \"{}\"", mock.url)),
        "{shown}"
    );
    assert!(
        shown.contains(" model_provider = \"openai\""),
        "context lines: {shown}"
    );
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.starts_with("# mine\n"), "{config}");
    assert!(config.contains("model = \"gpt-5.1\" # keep"), "{config}");
    assert!(
        config.contains(&format!("openai_base_url = \"{}\"", mock.url)),
        "{config}"
    );

    // The oracle: real Codex runs a turn against the proxy, with the proxy's key.
    let tid = crate::mock_responses::codex_exec(&codex, &home, &env.path("work"), None, "hello");
    assert!(tid.is_ok(), "{tid:?}");
    assert_eq!(
        mock.last_authorization().as_deref(),
        Some("Bearer sk-proxy-secret-000111222")
    );
    // Converged: a second plan is empty.
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Bind the ChatGPT login: the endpoint cdxs set goes away, the rest is untouched.
    manifest("mia");
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml")).unwrap(),
        original
    );
    let (c, s) = login_status(&codex, &home);
    assert_eq!(c, 0, "{s}");
    assert!(s.contains("ChatGPT"), "{s}");

    // Rollback puts the proxy back, key and endpoint together.
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::read_to_string(home.join("config.toml"))
            .unwrap()
            .contains(&mock.url)
    );
    let (c, s) = login_status(&codex, &home);
    assert_eq!(c, 0, "{s}");
    assert!(s.contains("API key"), "{s}");
}
codex_matrix!(
    an_api_key_base_url_reaches_codex_through_config_toml,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

/// `run --account` (no manifest) writes the key and its endpoint into a fresh home.
fn run_with_a_proxied_key_sets_the_endpoint_for_codex(codex: PathBuf) {
    let mock = crate::mock_responses::MockResponses::start("hi");
    let env = Env::new();
    add_proxied_key(&env, &mock.url, "sk-run-proxy-000333444");
    let home = env.codex_home("fresh");
    let work = env.path("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = env
        .cdxs()
        .current_dir(&work)
        .args(["run", "--account", "apikey", "--codex-home"])
        .arg(&home)
        .args([
            "--",
            codex.to_str().unwrap(),
            "exec",
            "--skip-git-repo-check",
            "--json",
            "hello",
        ])
        .env_remove("OPENAI_API_KEY")
        .write_stdin("")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("thread.started"), "{}", text(&out));
    assert_eq!(
        mock.last_authorization().as_deref(),
        Some("Bearer sk-run-proxy-000333444")
    );
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert_eq!(config, format!("openai_base_url = \"{}\"\n", mock.url));
    crate::harness::assert_mode(&home.join("config.toml"), 0o600);
}
codex_matrix!(
    run_with_a_proxied_key_sets_the_endpoint_for_codex,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);
