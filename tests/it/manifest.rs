//! cdxs.yaml: diagnostics of every kind (snapshots), schema freshness, examples, init.

use std::path::Path;

use crate::harness::*;

/// `cdxs validate` on `yaml`: exit code and the rendered diagnostic.
fn diagnose(yaml: &str) -> String {
    let env = Env::new();
    env.manifest(yaml);
    let out = env.run(&["validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!stderr(&out).contains("panicked"));
    env.redact(&stderr(&out))
}

#[test]
fn diagnostic_unknown_key_with_did_you_mean() {
    insta::assert_snapshot!(diagnose("version: 1\nhomes:\n  work:\n    pathh: ~/w\n"));
}

#[test]
fn diagnostic_duplicate_key() {
    insta::assert_snapshot!(diagnose(
        "version: 1\nhomes:\n  work:\n    path: /a\n  work:\n    path: /b\n"
    ));
}

#[test]
fn diagnostic_bad_duration() {
    insta::assert_snapshot!(diagnose(
        "version: 1\nsessions:\n  trash_max_age: 30 days\n"
    ));
}

#[test]
fn diagnostic_bad_percentage() {
    insta::assert_snapshot!(diagnose(
        "version: 1\naccounts:\n  a: { email: a@x.io }\npools:\n  p: [a]\nhomes:\n  h: { path: /h, account: { pool: p, switch_below: 120% } }\n"
    ));
}

/// Before: any duration was accepted; `59m` made watch spin for 54 minutes and `1m` was
/// silently raised to 5m.
#[test]
fn diagnostic_refresh_window_shorter_than_codexs_own() {
    insta::assert_snapshot!(diagnose(
        "version: 1\nwatch:\n  refresh_before_expiry: 2m\n"
    ));
}

#[test]
fn diagnostic_refresh_window_longer_than_a_day() {
    insta::assert_snapshot!(diagnose(
        "version: 1\nwatch:\n  refresh_before_expiry: 3d\n"
    ));
}

#[test]
fn refresh_windows_from_5m_to_1d_are_valid() {
    for w in ["5m", "10m", "59m", "1d"] {
        let env = Env::new();
        env.manifest(&format!(
            "version: 1\nwatch:\n  refresh_before_expiry: {w}\n"
        ));
        let out = env.run(&["validate"]);
        assert!(out.status.success(), "{w}: {}", text(&out));
    }
}

#[test]
fn diagnostic_undeclared_alias() {
    insta::assert_snapshot!(diagnose(
        "version: 1\naccounts:\n  personal: { email: me@x.io }\nhomes:\n  default:\n    path: /h\n    account: personl\n"
    ));
}

#[test]
fn diagnostic_two_homes_on_one_path() {
    insta::assert_snapshot!(diagnose(
        "version: 1\nhomes:\n  a: { path: /srv/codex }\n  b: { path: /srv/codex/ }\n"
    ));
}

#[test]
fn diagnostic_oauth_account_bound_twice() {
    insta::assert_snapshot!(diagnose(
        "version: 1\naccounts:\n  me: { email: me@x.io }\nhomes:\n  a: { path: /a, account: me }\n  b: { path: /b, account: me }\n"
    ));
}

#[test]
fn api_key_accounts_may_be_bound_twice() {
    let env = Env::new();
    env.manifest("version: 1\naccounts:\n  k: { api_key_env: KEY }\nhomes:\n  a: { path: /a, account: k }\n  b: { path: /b, account: k }\n");
    let out = env.run(&["validate"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn diagnostic_pool_with_unknown_members() {
    insta::assert_snapshot!(diagnose(
        "version: 1\naccounts:\n  spare1: { email: s1@x.io }\npools:\n  any: [spare1, spare2]\n"
    ));
}

#[test]
fn diagnostic_unknown_pool() {
    insta::assert_snapshot!(diagnose(
        "version: 1\naccounts:\n  s: { email: s@x.io }\npools:\n  spares: [s]\nhomes:\n  h: { path: /h, account: { pool: spare } }\n"
    ));
}

#[test]
fn diagnostic_account_reference_mixing_kinds() {
    insta::assert_snapshot!(diagnose(
        "version: 1\naccounts:\n  odd: { email: a@x.io, api_key_env: KEY }\n"
    ));
}

#[test]
fn diagnostic_base_url_with_a_password() {
    let out = diagnose(
        "version: 1\naccounts:\n  gw: { api_key_env: GW_KEY, base_url: 'https://bob:hunter2@gw.example/v1' }\n",
    );
    assert!(!out.contains("hunter2"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn diagnostic_unknown_strategy_and_wrong_shape() {
    insta::assert_snapshot!(diagnose(
        "version: 1\nhomes:\n  h: { path: /h, account: { pool: p, strategy: most_remaining } }\n"
    ));
    insta::assert_snapshot!(diagnose("version: 1\nhomes:\n  h: [1, 2]\n"));
}

#[test]
fn diagnostic_version_and_yaml_syntax() {
    insta::assert_snapshot!(diagnose("version: 2\n"));
    insta::assert_snapshot!(diagnose("version: 1\nhomes: { a: { path: /x }\n"));
}

#[test]
fn several_problems_are_all_reported() {
    let out = diagnose(
        "version: 1\naccounts:\n  me: { email: me@x.io }\npools:\n  p: [me, ghost]\nhomes:\n  a: { path: /a, account: me }\n  b: { path: /a, account: mee }\n",
    );
    assert!(out.contains("`ghost` is not declared"), "{out}");
    assert!(out.contains("did you mean `me`?"), "{out}");
    assert!(out.contains("two homes use the folder"), "{out}");
    assert!(out.contains("has 3 problems"), "{out}");
    // every problem has a file:line:column
    assert_eq!(out.matches("[ROOT]/work/cdxs.yaml:").count(), 3, "{out}");
}

#[test]
fn schema_file_is_up_to_date() {
    let env = Env::new();
    let out = env.run(&["schema"]);
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/cdxs.schema.json"),
    )
    .unwrap();
    assert!(
        stdout(&out) == committed,
        "schema/cdxs.schema.json is stale: run `make schema` and commit it"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

/// Every shipped example validates in a clean environment (a laptop, a pre-commit hook):
/// validation checks the file, not the machine.
#[test]
fn every_example_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let env = Env::new();
            let out = env.run(&["-f", path.to_str().unwrap(), "validate"]);
            assert!(out.status.success(), "{}: {}", path.display(), text(&out));
            n += 1;
        }
    }
    assert!(n >= 3, "expected at least three examples, found {n}");
}

/// An unset variable in a path: a warning in `validate` (its name, where, what to do), an
/// error in `plan`, `apply` and the commands that use the homes; set, all is well.
#[test]
fn an_unset_variable_in_a_path_warns_in_validate_and_stops_plan() {
    let env = Env::new();
    env.manifest(
        "version: 1\naccounts:\n  ci: { api_key_env: OPENAI_API_KEY }\nhomes:\n  ci:\n    path: $CDXS_TEST_PROJECT/.codex-ci\n    account: ci\n",
    );
    let out = env.run(&["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("uses `$CDXS_TEST_PROJECT`, which is not set here"),
        "{err}"
    );
    assert!(
        err.contains("set `CDXS_TEST_PROJECT` where `cdxs plan`"),
        "{err}"
    );
    assert!(err.contains("cdxs.yaml:6:"), "names the line: {err}");
    assert!(err.contains("1 warning(s)"), "{err}");
    for args in [
        &["plan"][..],
        &["apply", "--yes"],
        &["status"],
        &["session", "list", "--all-homes"],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        assert!(
            stderr(&out).contains("`$CDXS_TEST_PROJECT`, which is not set here"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // Commands that use the manifest only for aliases still work.
    assert!(env.run(&["account", "list"]).status.success());
    let out = env
        .cdxs()
        .env("CDXS_TEST_PROJECT", env.path("project"))
        .env("OPENAI_API_KEY", "sk-test-0123456789abcdef")
        .args(["plan"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("project/.codex-ci"), "{}", text(&out));
}

#[test]
fn commands_without_a_manifest_name_init() {
    let env = Env::new();
    for args in [
        vec!["plan"],
        vec!["apply", "--yes"],
        vec!["status"],
        vec!["home", "list"],
        vec!["validate"],
    ] {
        let out = env.run(&args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(
            stderr(&out).contains("cdxs init"),
            "{args:?}: {}",
            text(&out)
        );
    }
    let out = env.run(&["-f", "/nope/cdxs.yaml", "plan"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("/nope/cdxs.yaml"), "{}", text(&out));
}

/// One rule for a named manifest (`-f`, `CDXS_MANIFEST`) that does not exist yet: commands
/// that use it only for aliases say so in one line and work on the vault; commands that
/// need it fail with the `cdxs init` hint.
#[test]
fn a_named_manifest_that_does_not_exist_yet_one_rule_per_group() {
    let env = Env::new();
    let id = env.add_api_key_id("sk-proj-aliases-only-0001");
    assert!(env.run(&["switch", &id]).status.success());
    let missing = env.path("not-yet/cdxs.yaml");
    let run = |args: &[&str]| {
        env.cdxs()
            .env("CDXS_MANIFEST", &missing)
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["list"][..],
        &["show"],
        &["quota", "--all"],
        &["account", "list"],
        &["account", "show", &id],
        &["account", "current"],
        &["session", "list"],
        &["session", "trash-list"],
        &["session", "visibility", "check"],
    ] {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let notes = stderr(&out).matches("does not exist yet").count();
        assert_eq!(notes, 1, "{args:?}: one note: {}", text(&out));
    }
    let out = run(&["refresh-token", &id]);
    assert!(
        stderr(&out).contains("does not exist yet"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("API key"), "{}", text(&out));
    for args in [
        &["plan"][..],
        &["apply", "--yes"],
        &["switch", &id],
        &["home", "list"],
        &["run", "--home", "work", "--", "true"],
        &["session", "list", "--home", "work"],
    ] {
        let out = run(args);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        assert!(
            stderr(&out).contains("cdxs init"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            stderr(&out).contains("not-yet/cdxs.yaml"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn init_declares_the_current_home_and_refuses_to_overwrite() {
    let env = Env::new();
    Login::new("ida@example.com", "acct-ida").write_to(&env.default_codex_home());
    let out = env.run(&["init"]);
    assert!(out.status.success(), "{}", text(&out));
    let path = env.home.join(".config/cdxs/cdxs.yaml");
    let text_ = std::fs::read_to_string(&path).unwrap();
    assert!(text_.contains("ida: { email: ida@example.com }"), "{text_}");
    assert!(
        text_.contains("    path: ~/.codex\n    account: ida\n"),
        "{text_}"
    );
    // found from any folder, and already converged
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stdout(&out).contains("No changes."), "{}", text(&out));
    let before = std::fs::read(&path).unwrap();
    let out = env.run(&["init"]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("never overwrites"), "{}", text(&out));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}
