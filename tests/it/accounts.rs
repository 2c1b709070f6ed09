//! Accounts in the vault: add, import, list, show, current, remove, legacy import.

use crate::harness::*;
use serde_json::Value;

fn ids(v: &Value) -> Vec<String> {
    v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn add_api_key_from_stdin_and_list_without_secrets() {
    let env = Env::new();
    let key = "sk-proj-secretsecretsecret9876";
    let out = env.add_api_key(key);
    assert!(out.status.success(), "{}", text(&out));
    let list = env.accounts_json();
    assert_eq!(list["version"], 1);
    let account = &list["accounts"][0];
    assert_eq!(account["kind"], "apikey");
    assert!(account["id"].as_str().unwrap().starts_with("apikey_"));
    assert!(
        account["secret_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    for args in [
        vec!["account", "list", "--json"],
        vec!["account", "list"],
        vec!["list"],
        vec!["show", "--json"],
        vec!["account", "show", account["id"].as_str().unwrap()],
        vec!["account", "show", account["id"].as_str().unwrap(), "--json"],
        vec!["-v", "list"],
    ] {
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(
            !text(&out).contains("secretsecret"),
            "{args:?} leaked the key:\n{}",
            text(&out)
        );
    }
    // Same key again: same id, no duplicate.
    assert!(env.add_api_key(key).status.success());
    assert_eq!(ids(&env.accounts_json()).len(), 1);
}

#[test]
fn add_api_key_without_input_is_a_clean_error() {
    let env = Env::new();
    let out = env.run_stdin(&["account", "add-api-key", "--api-key-stdin"], "  \n");
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("the API key is empty"),
        "{}",
        text(&out)
    );
    let out = env.run_stdin(
        &[
            "account",
            "add-api-key",
            "--api-key-stdin",
            "--base-url",
            "ftp://x",
        ],
        "sk-1",
    );
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("not an http(s) URL"),
        "{}",
        text(&out)
    );
}

#[test]
fn key_on_the_command_line_warns() {
    let env = Env::new();
    let out = env.run(&["account", "add-api-key", "--key", "sk-argv-key-0001"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("visible to other users"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("sk-argv-key-0001"));
}

#[test]
fn import_auth_of_a_chatgpt_login_and_show_it() {
    let env = Env::new();
    let login = Login::new("alice@example.com", "acct-alice");
    login.write_to(&env.default_codex_home());
    let out = env.run(&["import", "auth"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("imported alice@example.com"),
        "{}",
        text(&out)
    );
    let list = env.accounts_json();
    let a = &list["accounts"][0];
    assert_eq!(a["email"], "alice@example.com");
    assert_eq!(a["workspace"], "acct-alice");
    assert_eq!(a["plan_type"], "plus");
    assert_eq!(a["current"], true, "the default home holds this login");
    let out = env.run(&["account", "show", "alice"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("alice@example.com") && shown.contains("acct-alice"),
        "{shown}"
    );
    assert!(!shown.contains(&login.refresh_token));
    // current names the same account
    let out = env.run(&["account", "current", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["account"]["email"], "alice@example.com");
}

#[test]
fn reimporting_an_older_copy_keeps_the_newer_tokens() {
    let env = Env::new();
    let mut newer = Login::new("bob@example.com", "acct-bob");
    newer.refresh_token = "rt_new".into();
    newer.last_refresh = Some("2026-11-20T00:00:00Z".into());
    let mut older = newer.clone();
    older.refresh_token = "rt_old".into();
    older.last_refresh = Some("2026-11-10T00:00:00Z".into());
    let f_new = env.path("new.json");
    let f_old = env.path("old.json");
    std::fs::write(&f_new, newer.auth_json()).unwrap();
    std::fs::write(&f_old, older.auth_json()).unwrap();
    assert!(
        env.run(&["import", "auth", "--file", f_new.to_str().unwrap()])
            .status
            .success()
    );
    let out = env.run(&["import", "auth", "--file", f_old.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("newer tokens"), "{}", text(&out));
    // Switching writes the newest copy, not the file that was imported last.
    let out = env.run(&[
        "import",
        "auth",
        "--file",
        f_old.to_str().unwrap(),
        "--switch",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let written = read_json(&env.default_codex_home().join("auth.json"));
    assert_eq!(written["tokens"]["refresh_token"], "rt_new");
}

#[test]
fn switch_harvests_the_login_it_replaces() {
    let env = Env::new();
    // The home holds a login the vault has never seen.
    let carol = Login::new("carol@example.com", "acct-carol");
    carol.write_to(&env.default_codex_home());
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--switch"],
        "sk-switch-1",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("saved new login carol@example.com"),
        "{}",
        text(&out)
    );
    let list = env.accounts_json();
    let emails: Vec<_> = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert!(
        emails.contains(&Value::from("carol@example.com")),
        "{emails:?}"
    );
    let written = read_json(&env.default_codex_home().join("auth.json"));
    assert_eq!(written["auth_mode"], "apikey");
    crate::harness::assert_mode(&env.default_codex_home().join("auth.json"), 0o600);
    // The replaced file is in a 0600 backup inside the 0700 state folder.
    let backups: Vec<_> = walk(&env.state.join("backups"));
    assert_eq!(backups.len(), 1, "{backups:?}");
    crate::harness::assert_mode(&backups[0], 0o600);
    assert_eq!(
        std::fs::read_to_string(&backups[0]).unwrap(),
        carol.auth_json()
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn account_arguments_resolve_and_ambiguity_lists_candidates() {
    let env = Env::new();
    for (email, ws) in [("dana@a.io", "acct-1"), ("dane@a.io", "acct-2")] {
        let f = env.path(&format!("{ws}.json"));
        std::fs::write(&f, Login::new(email, ws).auth_json()).unwrap();
        assert!(
            env.run(&["import", "auth", "--file", f.to_str().unwrap()])
                .status
                .success()
        );
    }
    let out = env.run(&["account", "show", "dan"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(
        err.contains("matches 2 accounts")
            && err.contains("dana@a.io")
            && err.contains("dane@a.io"),
        "{err}"
    );
    assert!(env.run(&["account", "show", "dane"]).status.success());
    assert!(env.run(&["account", "show", "DANA@A.IO"]).status.success());
    let out = env.run(&["account", "show", "nobody"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no account matches `nobody`"));
}

#[test]
fn remove_deletes_from_the_vault_only() {
    let env = Env::new();
    let login = Login::new("erin@example.com", "acct-erin");
    login.write_to(&env.default_codex_home());
    assert!(env.run(&["import", "auth"]).status.success());
    // Live in the default home: without a terminal it is removed only with `--yes`.
    let out = env.run(&["remove", "erin"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(ids(&env.accounts_json()).len(), 1);
    let out = env.run(&["remove", "erin", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(ids(&env.accounts_json()).is_empty());
    assert!(env.default_codex_home().join("auth.json").exists());
}

#[test]
fn current_explains_an_unknown_home() {
    let env = Env::new();
    let out = env.run(&["account", "current"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("has no auth.json"), "{}", text(&out));
    std::fs::create_dir_all(env.default_codex_home()).unwrap();
    std::fs::write(
        env.default_codex_home().join("auth.json"),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-unknown"}"#,
    )
    .unwrap();
    let out = env.run(&["account", "current"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("not in the vault"), "{}", text(&out));
    assert!(!text(&out).contains("sk-unknown"));
}

#[test]
fn legacy_import_keeps_ids_and_is_lenient() {
    let env = Env::new();
    let login = Login::new("old@example.com", "acct-old");
    let claims = jwt(&login.claims());
    let toml = format!(
        r#"[meta]
current_account_id = "oauth_0123456789abcdef"

[[accounts]]
id = "oauth_0123456789abcdef"
email = "old@example.com"
auth_mode = "oauth"
account_id = "acct-old"
[accounts.tokens]
id_token = "{claims}"
access_token = "{claims}"
refresh_token = "rt-old"

[[accounts]]
id = "apikey_fedcba9876543210"
email = "api-key-fedcba98"
auth_mode = "api_key"
openai_api_key = "sk-legacy-key-1"

[[accounts]]
id = "half"
email = "half@example.com"

[[homes]]
name = "default"
path = "~/.codex"
"#
    );
    std::fs::create_dir_all(env.default_codex_home()).unwrap();
    std::fs::write(env.default_codex_home().join("cdxs.toml"), toml).unwrap();
    let out = env.run(&["import", "legacy"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("skipped account #3"),
        "{}",
        text(&out)
    );
    let list = env.accounts_json();
    let mut got = ids(&list);
    got.sort();
    assert_eq!(
        got,
        vec!["apikey_fedcba9876543210", "oauth_0123456789abcdef"]
    );
    // Idempotent.
    let out = env.run(&["import", "legacy"]);
    assert!(stderr(&out).contains("0 new"), "{}", text(&out));
    // A missing or broken file is a clean error.
    let out = env.run(&["import", "legacy", "/nonexistent/cdxs.toml"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains(&sep("/nonexistent/cdxs.toml")));
}

#[test]
fn concurrent_writers_do_not_corrupt_the_vault() {
    let env = Env::new();
    // Create the vault first so all writers race on rows, not on creation.
    assert!(env.run(&["account", "list"]).status.success());
    let children: Vec<_> = (0..8)
        .map(|i| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdxs"));
            cmd.args([
                "account",
                "add-api-key",
                "--key",
                &format!("sk-concurrent-{i:04}"),
            ])
            .env("HOME", &env.home)
            .env("CDXS_STATE_DIR", &env.state)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(ids(&env.accounts_json()).len(), 8);
    for name in ["cdxs.db", "cdxs.db-wal", "cdxs.db-shm"] {
        let p = env.state.join(name);
        if p.exists() {
            crate::harness::assert_mode(&p, 0o600);
        }
    }
    crate::harness::assert_mode(&env.state, 0o700);
}

/// Run `cdxs args` on a pseudo-terminal (util-linux `script`), typing `input`.
fn on_a_terminal(env: &Env, args: &str, input: &str) -> std::process::Output {
    let bin = cdxs_bin();
    env.cdxs_process("script")
        .args(["-qec", &format!("{} {args}", bin.display()), "/dev/null"])
        .write_stdin(input.to_string())
        .output()
        .unwrap()
}

/// Issue 21: `account remove` of a bound, live account asked nothing (and the next plan
/// re-imported it from the home). Now it says what happens to the homes and asks on a
/// terminal; without one it refuses unless `--yes`.
#[test]
fn removing_a_bound_live_account_says_what_happens_and_asks() {
    let env = Env::new();
    Login::new("fay@example.com", "acct-fay").write_to(&env.default_codex_home());
    assert!(env.run(&["import", "auth"]).status.success());
    env.manifest(&format!(
        "version: 1\naccounts:\n  fay: {{ email: fay@example.com }}\nhomes:\n  default: {{ path: {}, account: fay }}\n",
        env.default_codex_home().display()
    ));
    let out = env.run(&["account", "remove", "fay"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("binds home default to it"), "{err}");
    assert!(err.contains(&sep("`~/.codex` holds it")), "{err}");
    assert!(err.contains("takes it back into the vault"), "{err}");
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(ids(&env.accounts_json()).len(), 1);
    // An account nothing uses goes without a question.
    assert!(env.add_api_key("sk-unused-key-000001").status.success());
    let out = env.run(&["account", "remove", "api-key"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// The same removal on a terminal: it asks, and only yes removes.
#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for the question) is not installed"
)]
fn removing_a_bound_live_account_on_a_terminal_asks_first() {
    let env = Env::new();
    Login::new("fay@example.com", "acct-fay").write_to(&env.default_codex_home());
    assert!(env.run(&["import", "auth"]).status.success());
    env.manifest(&format!(
        "version: 1\naccounts:\n  fay: {{ email: fay@example.com }}\nhomes:\n  default: {{ path: {}, account: fay }}\n",
        env.default_codex_home().display()
    ));
    let out = on_a_terminal(&env, "account remove fay", "no\n");
    assert!(
        stdout(&out).contains("Remove fay@example.com from the vault anyway?"),
        "{}",
        text(&out)
    );
    assert_eq!(ids(&env.accounts_json()).len(), 1, "{}", text(&out));
    let out = on_a_terminal(&env, "account remove fay", "yes\n");
    assert!(
        stdout(&out).contains("removed fay@example.com"),
        "{}",
        text(&out)
    );
    assert!(ids(&env.accounts_json()).is_empty(), "{}", text(&out));
}

/// Issue 21: API keys were all named `api-key-xxxxxxxx`, with no `--name` and no rename;
/// `cdxs show X` failed with `unexpected argument`.
#[test]
fn api_keys_take_a_name_and_a_rename_and_show_takes_an_account() {
    let env = Env::new();
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--name", "ci"],
        "sk-named-key-000001",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("added ci"), "{}", text(&out));
    let out = env.run(&["show", "ci", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["account"]["name"], "ci");
    let out = env.run(&["account", "rename", "ci", "deploy-bot"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&env.run(&["show", "deploy-bot"])).contains("deploy-bot"));
    assert_eq!(code(&env.run(&["show", "ci"])), 1);
    // Names stay names: not another account's, not an id, not empty.
    assert!(env.add_api_key("sk-other-key-0000001").status.success());
    let other = env.accounts_json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] != "deploy-bot")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for bad in ["deploy-bot", "apikey_123", " "] {
        let out = env.run(&["account", "rename", &other, bad]);
        assert_eq!(code(&out), 1, "{bad}: {}", text(&out));
    }
    // A ChatGPT login is named by its email: the alias in cdxs.yaml names it for commands.
    env.import_login(&Login::new("gus@example.com", "acct-gus"));
    let out = env.run(&["account", "rename", "gus", "g"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("alias in cdxs.yaml"),
        "{}",
        text(&out)
    );
}

/// Issue 18, point 3: removing an account leaves no copy of its secret in the vault's files
/// (SQLite's `secure_delete` zeroes the freed bytes; the WAL is checkpointed and truncated).
#[test]
fn a_removed_accounts_secret_is_not_left_in_the_vault_files() {
    let env = Env::new();
    let key = "sk-erase-me-0123456789abcdefghijklmnopqrstuvwxyz";
    for (name, k) in [("keep", "sk-keep-this-one-000000000000"), ("gone", key)] {
        let out = env.run_stdin(
            &["account", "add-api-key", "--api-key-stdin", "--name", name],
            k,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let holds = |needle: &str| -> Vec<String> {
        std::fs::read_dir(&env.state)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("cdxs.db"))
            .filter(|e| {
                std::fs::read(e.path())
                    .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(!holds(key).is_empty(), "the key was stored somewhere else");
    let out = env.run(&["account", "remove", "gone", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        holds(key),
        Vec::<String>::new(),
        "the removed key is still on disk"
    );
    assert!(
        !holds("sk-keep-this-one").is_empty(),
        "the other account was lost"
    );
}
