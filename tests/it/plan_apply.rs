//! plan / apply / history / rollback / status and the imperative commands that edit
//! cdxs.yaml, against temporary homes.

use std::fs::File;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// Two logins in the vault, a manifest with three homes (two bound, one unmanaged).
fn setup() -> Env {
    let env = Env::new();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    env.import_login(&Login::new("bob@example.com", "acct-bob"));
    let yaml = format!(
        "# my homes\nversion: 1\naccounts:\n  ann: {{ email: ann@example.com }}   # personal\n  bob: {{ email: bob@example.com }}\n  ci: {{ api_key_env: CDXS_TEST_KEY }}\nhomes:\n  main:\n    path: {}\n    account: ann\n  side:\n    path: {}   # a comment that must survive\n    account: bob\n  scratch:\n    path: {}\n",
        env.codex_home("main").display(),
        env.codex_home("side").display(),
        env.codex_home("scratch").display()
    );
    env.manifest(&yaml);
    env
}

fn apply_yes(env: &Env) -> std::process::Output {
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    out
}

#[test]
fn plan_output_reads_like_terraform() {
    let env = setup();
    let out = env.run(&["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    insta::assert_snapshot!(env.redact(&stdout(&out)));
}

#[test]
fn detailed_exitcode_is_0_2_or_1() {
    let env = setup();
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 2);
    apply_yes(&env);
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stdout(&out).contains("No changes. Your Codex homes match cdxs.yaml."));
    // an unresolvable binding is an error
    let m = env.manifest_text().replace("account: bob", "account: ci");
    env.manifest(&m);
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("`CDXS_TEST_KEY` is not set"),
        "{}",
        text(&out)
    );
}

#[test]
fn apply_converges_and_a_second_plan_is_empty() {
    let env = setup();
    let out = apply_yes(&env);
    assert!(
        stdout(&out).contains("Apply complete! Resources: 5 added, 0 changed, 0 destroyed."),
        "{}",
        text(&out)
    );
    for h in ["main", "side", "scratch"] {
        crate::harness::assert_mode(&env.codex_home(h), 0o700);
    }
    assert_eq!(
        read_json(&env.codex_home("main").join("auth.json"))["tokens"]["account_id"],
        "acct-ann"
    );
    assert_eq!(
        read_json(&env.codex_home("side").join("auth.json"))["tokens"]["account_id"],
        "acct-bob"
    );
    assert!(
        !env.codex_home("scratch").join("auth.json").exists(),
        "unmanaged home: auth.json left alone"
    );
    let out = env.run(&["plan", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["has_changes"], false);
    assert_eq!(v["plan"]["actions"].as_array().unwrap().len(), 0);
    let out = apply_yes(&env);
    assert!(stdout(&out).contains("No changes."), "{}", text(&out));
}

#[test]
fn apply_refuses_without_a_terminal_and_without_yes() {
    let env = setup();
    let out = env.run(&["apply"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("without a terminal"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("--yes"), "{}", text(&out));
    assert!(!env.codex_home("main").exists(), "nothing may be applied");
    let out = env.run(&["apply", "--auto-approve"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn plan_json_and_saved_plans_hold_no_secrets() {
    let env = setup();
    let plan_file = env.path("plan.json");
    let out = env
        .cdxs()
        .env("CDXS_TEST_KEY", "sk-test-secret-value-0001")
        .args(["plan", "--json", "--out", plan_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let saved = std::fs::read_to_string(&plan_file).unwrap();
    for secret in ["rt_acct-ann_1", "rt_acct-bob_1", "sk-test-secret", "eyJ"] {
        assert!(!saved.contains(secret), "plan file leaks `{secret}`");
        assert!(!text(&out).contains(secret), "plan --json leaks `{secret}`");
    }
    let v: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(v["format"], "cdxs-plan");
    assert_eq!(v["summary"]["add"], 5);
}

#[test]
fn a_saved_plan_applies_exactly_and_refuses_when_stale() {
    let env = setup();
    let plan_file = env.path("plan.json");
    let out = env.run(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    // Someone writes side's auth.json in the meantime: the plan is stale.
    std::fs::create_dir_all(env.codex_home("side")).unwrap();
    std::fs::write(
        env.codex_home("side").join("auth.json"),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-other"}"#,
    )
    .unwrap();
    let out = env.run(&["apply", plan_file.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("the plan is stale: home `side`"),
        "{}",
        text(&out)
    );
    assert!(
        !env.codex_home("main").join("auth.json").exists(),
        "a stale plan applies nothing"
    );
    // A fresh plan applies exactly (no question: the saved plan was the review).
    let out = env.run(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(out.status.success());
    let out = env.run(&["apply", plan_file.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
    // A changed manifest also makes it stale.
    let out = env.run(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(out.status.success());
    env.manifest(&(env.manifest_text() + "# edited\n"));
    let out = env.run(&["apply", plan_file.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("changed since the plan was made"),
        "{}",
        text(&out)
    );
    // Garbage is not a plan.
    std::fs::write(&plan_file, "{\"version\":1}").unwrap();
    let out = env.run(&["apply", plan_file.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is not a cdxs plan"),
        "{}",
        text(&out)
    );
}

#[test]
fn target_limits_plan_and_apply() {
    let env = setup();
    let out = env.run(&["plan", "--target", "home.side", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let addrs: Vec<&str> = v["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, vec!["home.side.dir", "home.side.auth"]);
    let out = env.run(&["apply", "--yes", "--target", "home.side.dir"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(env.codex_home("side").is_dir());
    assert!(!env.codex_home("side").join("auth.json").exists());
    assert!(!env.codex_home("main").exists());
}

#[test]
fn drift_is_shown_and_repaired_with_a_backup() {
    let env = setup();
    apply_yes(&env);
    let auth = env.codex_home("side").join("auth.json");
    let original = std::fs::read(&auth).unwrap();
    std::fs::write(
        &auth,
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-somebody-else"}"#,
    )
    .unwrap();
    let out = env.run(&["plan"]);
    let shown = env.redact(&stdout(&out));
    assert!(shown.contains("Changes outside cdxs (drift):"), "{shown}");
    assert!(
        shown.contains("~ home.side.auth: changed outside cdxs: now holds API key"),
        "{shown}"
    );
    assert!(!shown.contains("sk-somebody-else"));
    let out = apply_yes(&env);
    assert!(stdout(&out).contains("1 changed"), "{}", text(&out));
    assert_eq!(std::fs::read(&auth).unwrap(), original);
    let repair = env.generations_of("apply")[0]["id"].to_string();
    let out = env.run(&["history", &repair, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let backup = v["generation"]["files"][0]["backup"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(backup).unwrap(),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-somebody-else"}"#
    );
    crate::harness::assert_mode(std::path::Path::new(backup), 0o600);
}

#[test]
fn history_and_rollback_restore_what_a_generation_replaced() {
    let env = setup();
    std::fs::create_dir_all(env.codex_home("main")).unwrap();
    let before = r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-before-0001"}"#;
    std::fs::write(env.codex_home("main").join("auth.json"), before).unwrap();
    apply_yes(&env);
    let out = env.run(&["history"]);
    assert!(stdout(&out).contains("apply"), "{}", text(&out));
    let out = env.run(&["rollback"]);
    assert_eq!(
        code(&out),
        1,
        "rollback asks on a terminal and refuses without one"
    );
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(env.codex_home("main").join("auth.json")).unwrap(),
        before
    );
    assert!(
        !env.codex_home("side").join("auth.json").exists(),
        "created files are removed"
    );
    let out = env.run(&["history", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let gens = v["generations"].as_array().unwrap();
    assert_eq!(gens[0]["command"], "rollback");
    assert_eq!(gens[0]["rollback_of"], env.generations_of("apply")[0]["id"]);
    // The rollback is a generation too: rolling it back re-applies.
    let out = env.run(&["rollback", &gens[0]["id"].to_string(), "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&env.codex_home("main").join("auth.json"))["tokens"]["account_id"],
        "acct-ann"
    );
    let out = env.run(&["history", "99"]);
    assert_eq!(code(&out), 1);
}

#[test]
fn rollback_never_restores_older_tokens_than_the_vault_has() {
    let env = setup();
    let mut old = Login::new("ann@example.com", "acct-ann");
    old.last_refresh = Some("2026-01-01T00:00:00Z".into());
    old.refresh_token = "rt_ann_old".into();
    old.write_to(&env.codex_home("main"));
    // The vault's copy (imported in setup) is newer: apply writes it over the old file,
    // whose backup holds the older token.
    apply_yes(&env);
    assert_ne!(
        read_json(&env.codex_home("main").join("auth.json"))["tokens"]["refresh_token"],
        "rt_ann_old"
    );
    // Rolling back restores ann (the account that was there) with the vault's newest token.
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("with the vault's newer tokens of ann@example.com"),
        "{}",
        text(&out)
    );
    let restored = read_json(&env.codex_home("main").join("auth.json"));
    assert_ne!(
        restored["tokens"]["refresh_token"], "rt_ann_old",
        "never the older copy"
    );
}

#[test]
fn switch_and_home_commands_edit_the_manifest_in_place() {
    let env = setup();
    env.import_login(&Login::new("cid@example.com", "acct-cid"));
    apply_yes(&env);
    // switch to an account without an alias: the alias is added, comments survive
    let out = env.run(&["switch", "cid@example.com", "--home", "side"]);
    assert!(out.status.success(), "{}", text(&out));
    // The edit is shown as a diff of cdxs.yaml.
    let said = stderr(&out);
    assert!(
        said.contains("--- ") && said.contains("cdxs.yaml"),
        "{said}"
    );
    assert!(said.contains("-    account: bob"), "{said}");
    assert!(said.contains("+    account: cid"), "{said}");
    assert!(
        said.contains("+  cid: { email: cid@example.com }"),
        "{said}"
    );
    assert!(said.contains("   # a comment that must survive"), "{said}");
    let m = env.manifest_text();
    assert!(m.contains("  cid: { email: cid@example.com }\n"), "{m}");
    assert!(
        m.contains("   # a comment that must survive\n    account: cid\n"),
        "{m}"
    );
    assert!(
        m.starts_with("# my homes\n") && m.contains("# personal"),
        "{m}"
    );
    assert_eq!(
        read_json(&env.codex_home("side").join("auth.json"))["tokens"]["account_id"],
        "acct-cid"
    );
    // home create / bind / path / list / remove
    let new_home = env.codex_home("new");
    let out = env.run(&[
        "home",
        "create",
        "new",
        "--path",
        new_home.to_str().unwrap(),
        "--account",
        "bob",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&new_home.join("auth.json"))["tokens"]["account_id"],
        "acct-bob"
    );
    let out = env.run(&["home", "path", "new"]);
    assert_eq!(stdout(&out).trim(), new_home.to_str().unwrap());
    let out = env.run(&["home", "list", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["homes"].as_array().unwrap().len(), 4);
    // Its login goes with it (backed up): otherwise it stays bob's one live copy, and the
    // rollback below could not put bob back into `side`.
    let out = env.run(&[
        "--color",
        "always",
        "home",
        "remove",
        "new",
        "--clear-login",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("\u{1b}[31m-  new:"),
        "removed lines in red on a terminal: {}",
        text(&out)
    );
    assert!(!env.manifest_text().contains("new:"));
    assert!(new_home.is_dir(), "the folder is kept");
    assert!(
        !new_home.join("auth.json").exists(),
        "its login was taken out"
    );
    let out = env.run(&["home", "path", "nwe"]);
    assert!(
        stderr(&out).contains("declares no home `nwe`"),
        "{}",
        text(&out)
    );
    // Everything converged.
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
    // Each command was journaled with the manifest: rolling back the switch restores both.
    let out = env.run(&["history", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let switch_gen = v["generations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["command"] == "switch")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let out = env.run(&["rollback", &switch_gen.to_string(), "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        env.manifest_text()
            .contains("   # a comment that must survive\n    account: bob\n"),
        "{}",
        env.manifest_text()
    );
    assert_eq!(
        read_json(&env.codex_home("side").join("auth.json"))["tokens"]["account_id"],
        "acct-bob"
    );
}

#[test]
fn switch_refuses_an_unusable_account_without_touching_the_manifest() {
    let env = setup();
    let before = env.manifest_text();
    let out = env.run(&["switch", "ci", "--home", "main"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("CDXS_TEST_KEY"), "{}", text(&out));
    assert_eq!(env.manifest_text(), before);
    let out = env.run(&["switch", "nobody", "--home", "main"]);
    assert_eq!(code(&out), 1);
    assert_eq!(env.manifest_text(), before);
    // A ChatGPT login already bound elsewhere: the edit would be invalid, nothing is written.
    let out = env.run(&["switch", "bob", "--home", "main"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("bound to two homes"),
        "{}",
        text(&out)
    );
    let out = env.run(&["home", "bind", "side", "ann"]);
    assert_eq!(code(&out), 1);
    assert_eq!(env.manifest_text(), before);
}

#[test]
fn api_key_from_the_environment_is_written_but_never_stored() {
    let env = setup();
    let m = env.manifest_text().replace("account: bob", "account: ci");
    env.manifest(&m);
    let out = env
        .cdxs()
        .env("CDXS_TEST_KEY", "sk-from-env-0000000001")
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&env.codex_home("side").join("auth.json"))["OPENAI_API_KEY"],
        "sk-from-env-0000000001"
    );
    let db = std::fs::read(env.state.join("cdxs.db")).unwrap();
    let wal = std::fs::read(env.state.join("cdxs.db-wal")).unwrap_or_default();
    let needle = b"sk-from-env";
    assert!(
        !db.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle),
        "the env key went into the vault"
    );
}

#[test]
fn status_shows_homes_accounts_and_drift() {
    let env = setup();
    apply_yes(&env);
    std::fs::write(
        env.codex_home("side").join("auth.json"),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-x"}"#,
    )
    .unwrap();
    let out = env.run(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    let s = stdout(&out);
    assert!(
        s.contains("main") && s.contains("ann@example.com") && s.contains("expires in"),
        "{s}"
    );
    assert!(s.contains("drift"), "{s}");
    assert!(s.contains("unmanaged"), "{s}");
    let out = env.run(&["status", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["drift"], 1);
    assert_eq!(v["homes"][1]["state"], "drift");
}

#[test]
fn run_execs_the_command_in_the_home_with_its_exit_code() {
    let env = setup();
    let [shell, flag, script] =
        crate::harness::shell("echo \"$CODEX_HOME\"; exit 7", "echo %CODEX_HOME%& exit 7");
    let out = env.run(&["run", "--home", "side", "--", shell, flag, script]);
    assert_eq!(code(&out), 7, "{}", text(&out));
    assert_eq!(
        stdout(&out).trim(),
        env.codex_home("side").to_str().unwrap()
    );
    assert_eq!(
        read_json(&env.codex_home("side").join("auth.json"))["tokens"]["account_id"],
        "acct-bob"
    );
    // --account with --codex-home writes that account there first (an API key: a ChatGPT
    // login bound to another home is refused, see rotation.rs)
    assert!(
        env.add_api_key("sk-proj-adhoc-run-key-0001")
            .status
            .success()
    );
    let other = env.codex_home("adhoc");
    let out = env.run(&[
        "run",
        "--account",
        "api-key-",
        "--codex-home",
        other.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        read_json(&other.join("auth.json"))["OPENAI_API_KEY"],
        "sk-proj-adhoc-run-key-0001"
    );
    let out = env.run(&["run", "--home", "side", "--", "/no/such/program"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("cannot run `/no/such/program`"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_held_lock_makes_apply_wait_then_exit_3_naming_the_holder() {
    let env = setup();
    std::fs::create_dir_all(env.state.join("locks")).unwrap();
    let lock = File::create(env.state.join("locks/vault.lock")).unwrap();
    lock.lock().unwrap();
    let start = Instant::now();
    let out = env
        .cdxs()
        .env("CDXS_LOCK_TIMEOUT", "0.5")
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(450));
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(stderr(&out).contains("the vault lock"), "{}", text(&out));
    assert!(
        names_this_process_as_holder(&stderr(&out)),
        "{}",
        text(&out)
    );
    drop(lock);
    apply_yes(&env);
}

#[test]
fn concurrent_applies_do_not_interleave() {
    let env = setup();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("cdxs"))
                .args(["apply", "--yes"])
                .current_dir(&env.work)
                .env("HOME", &env.home)
                .env("CDXS_STATE_DIR", &env.state)
                .env("NO_COLOR", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ok = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        // Losers of the race see a stale plan (exit 1) or nothing to do; never a torn file.
        if out.status.success() {
            ok += 1;
        } else {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("stale"),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(ok >= 1);
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
    let v: Value = serde_json::from_slice(&env.run(&["history", "--json"]).stdout).unwrap();
    assert!(
        v["generations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["status"] == "ok"),
        "{v}"
    );
}

#[test]
fn auth_file_references_are_imported_at_apply_time() {
    let env = Env::new();
    let mounted = env.path("secrets/codex-auth.json");
    std::fs::create_dir_all(mounted.parent().unwrap()).unwrap();
    std::fs::write(
        &mounted,
        Login::new("mount@example.com", "acct-mount").auth_json(),
    )
    .unwrap();
    env.manifest(&format!(
        "version: 1\naccounts:\n  m: {{ auth_file: {} }}\nhomes:\n  ci: {{ path: {}, account: m }}\n",
        mounted.display(),
        env.codex_home("ci").display()
    ));
    let out = env.run(&["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("<= account.m.import"),
        "{}",
        text(&out)
    );
    apply_yes(&env);
    assert_eq!(
        read_json(&env.codex_home("ci").join("auth.json"))["tokens"]["account_id"],
        "acct-mount"
    );
    assert_eq!(
        env.accounts_json()["accounts"][0]["email"],
        "mount@example.com"
    );
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
    // A missing mount is a plan error naming the file.
    std::fs::remove_file(&mounted).unwrap();
    let out = env.run(&["plan"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("codex-auth.json"), "{}", text(&out));
}

#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for the prompt) is not installed"
)]
fn apply_asks_on_a_terminal_and_only_yes_approves() {
    let env = setup();
    let out = env.on_a_terminal("apply", "no");
    assert!(
        stdout(&out).contains("Only 'yes' will be accepted"),
        "{}",
        text(&out)
    );
    assert!(!env.codex_home("main").exists(), "{}", text(&out));
    let out = env.on_a_terminal("apply", "yes");
    assert!(stdout(&out).contains("Apply complete!"), "{}", text(&out));
    assert!(env.codex_home("main").join("auth.json").exists());
}

#[test]
fn apply_status_and_history_read_as_documented() {
    let env = setup();
    crate::cdxs_snapshot!(env, &["apply", "--yes"]);
    crate::cdxs_snapshot!(env, &["status"]);
    crate::cdxs_snapshot!(env, &["history"]);
    let applied = env.generations_of("apply")[0]["id"].to_string();
    crate::cdxs_snapshot!(env, &["history", &applied]);
    // An error reads the same way: what, where, what to do next.
    crate::cdxs_snapshot!(env, &["switch", "nobody@example.com", "--home", "main"]);
    crate::cdxs_snapshot!(env, &["home", "path", "mian"]);
}

/// A saved plan is data from outside: a hand-edited path (the home's auth.json pointed at
/// another folder) is refused, and nothing is written anywhere. Plan files are 0600.
#[test]
fn hostile_a_saved_plan_with_an_edited_path_is_refused_and_writes_nothing() {
    let env = setup();
    let plan_file = env.path("plan.json");
    let out = env.run(&["plan", "--out", plan_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    crate::harness::assert_mode(&plan_file, 0o600);
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    // As the plan's JSON spells a path (a Windows path's `\` escaped).
    let json = |p: &std::path::Path| {
        let quoted = serde_json::to_string(&p.display().to_string()).unwrap();
        quoted.trim_matches('"').to_string()
    };
    let main = json(&env.codex_home("main"));
    let text_of = std::fs::read_to_string(&plan_file).unwrap();
    assert!(text_of.contains(&main));
    std::fs::write(&plan_file, text_of.replace(&main, &json(&elsewhere))).unwrap();
    let out = env.run(&["apply", plan_file.to_str().unwrap(), "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("plan") && !stderr(&out).contains("panicked"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written there"
    );
    assert!(!env.codex_home("main").join("auth.json").exists());
    assert!(!env.codex_home("side").join("auth.json").exists());
}

/// Before: rolling back the apply that created a home removed its auth.json but left the
/// folder, and the next `plan` called cdxs's own removal drift ("changed outside cdxs: now
/// holds nothing").
#[test]
fn rolling_back_a_created_home_removes_its_folder_and_is_not_drift() {
    let env = Env::new();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    let w = env.codex_home("w");
    env.manifest(&format!(
        "version: 1\naccounts:\n  ann: {{ email: ann@example.com }}\nhomes:\n  w: {{ path: {}, account: ann }}\n",
        w.display()
    ));
    apply_yes(&env);
    assert!(w.join("auth.json").exists());
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!w.exists(), "the folder cdxs created stays: {}", text(&out));
    let plan = env.run(&["plan"]);
    assert!(
        !stdout(&plan).contains("changed outside cdxs") && !stdout(&plan).contains("drift"),
        "{}",
        text(&plan)
    );
    assert!(
        stdout(&plan).contains("home.w.dir will be created"),
        "{}",
        text(&plan)
    );
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(st["drift"], 0, "{st}");
    // A folder that holds something else by then stays, and the rollback says why.
    apply_yes(&env);
    std::fs::write(w.join("notes.txt"), "mine").unwrap();
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!w.join("auth.json").exists());
    assert_eq!(
        std::fs::read_to_string(w.join("notes.txt")).unwrap(),
        "mine"
    );
    assert!(
        text(&out).contains("kept: it is not empty (1 entry: `notes.txt`)"),
        "{}",
        text(&out)
    );
    let plan = env.run(&["plan"]);
    assert!(
        !stdout(&plan).contains("changed outside cdxs"),
        "{}",
        text(&plan)
    );
}

/// Before: the preview said "restore the earlier content" and "remove it" without saying
/// which login goes back or which one goes.
#[test]
fn rollback_previews_name_the_accounts() {
    let env = Env::new();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    env.import_login(&Login::new("bob@example.com", "acct-bob"));
    let main = env.codex_home("main");
    let yaml = |who: &str| {
        format!(
            "version: 1\naccounts:\n  ann: {{ email: ann@example.com }}\n  bob: {{ email: bob@example.com }}\nhomes:\n  main: {{ path: {}, account: {who} }}\n",
            main.display()
        )
    };
    env.manifest(&yaml("ann"));
    apply_yes(&env);
    env.manifest(&yaml("bob"));
    apply_yes(&env);
    // The imports are generations too: pick the applies (newest first).
    let applies = env.generations_of("apply");
    let (first, second) = (applies[1]["id"].to_string(), applies[0]["id"].to_string());
    // Without a terminal it refuses after the preview.
    let out = env.run(&["rollback", &second]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stdout(&out).contains("restore the earlier login: ann@example.com"),
        "{}",
        text(&out)
    );
    let out = env.run(&["rollback", &first]);
    assert!(
        stdout(&out).contains("remove it (the generation created it); it holds bob@example.com"),
        "{}",
        text(&out)
    );
    let out = env.run(&["rollback", &second, "--yes", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rolled_back"], applies[0]["id"], "{v}");
    assert_eq!(v["steps"][0]["account"], "ann@example.com", "{v}");
    assert_eq!(
        read_json(&main.join("auth.json"))["tokens"]["account_id"],
        "acct-ann"
    );
}
