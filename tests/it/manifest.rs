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
    assert!(
        stdout(&out).contains(&sep("project/.codex-ci")),
        "{}",
        text(&out)
    );
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
    assert!(
        stderr(&out).contains(&sep("/nope/cdxs.yaml")),
        "{}",
        text(&out)
    );
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
            stderr(&out).contains(&sep("not-yet/cdxs.yaml")),
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
    let path = env.default_manifest();
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

/// Issue 21: a new user's nine mistakes took seven runs of `validate`, one schema error
/// each. Every schema and semantic problem comes in one run, each with its place, and
/// `plan` (its manifest stage) says the same.
const NINE_MISTAKES: &str = "\
version: 1
acounts:
  me: { email: me@example.com }
accounts:
  work: { emial: w@corp.com }
  spare: { email: s@x.io }
homes:
  default:
    pth: ~/.codex
  work: { path: ~/w, account: wrk }
  burst: { path: ~/b, account: { pool: spares, strategy: best } }
sessions:
  trash_max_age: 30 days
  auto_repair: maybe
watch:
  interval: 5x
  intreval: 10s
";

#[test]
fn validate_and_plan_report_every_problem_in_one_run() {
    let env = Env::new();
    env.manifest(NINE_MISTAKES);
    for args in [&["validate"][..], &["plan"]] {
        let out = env.run(args);
        assert_eq!(code(&out), 1, "{}", text(&out));
        let err = stderr(&out);
        for (line, what) in [
            (2, "unknown key `acounts`"),
            (5, "unknown key `emial`"),
            (9, "unknown key `pth`"),
            (10, "account `wrk` is not declared"),
            (11, "pool `spares`, which is not declared"),
            (11, "unknown value `best`"),
            (13, "`30 days` is not a duration"),
            (14, "invalid boolean"),
            (16, "unknown unit `x`"),
            (17, "unknown key `intreval`"),
        ] {
            assert!(err.contains(what), "{what}: {}", text(&out));
            assert!(
                err.contains(&format!("cdxs.yaml:{line}:")),
                "line {line}: {}",
                text(&out)
            );
        }
        assert!(err.contains("has 10 problems"), "{}", text(&out));
    }
}

/// `validate --json` in the shape of Terraform's `validate -json`: severity, summary,
/// detail, range (file, line and column from 1, byte from 0); nothing on stderr.
#[test]
fn validate_json_has_terraforms_shape() {
    let env = Env::new();
    let path = env.manifest(NINE_MISTAKES);
    let out = env.run(&["validate", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(stderr(&out), "", "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["format_version"], "1.0");
    assert_eq!(v["valid"], false);
    assert_eq!(v["error_count"], 10);
    assert_eq!(v["warning_count"], 0);
    let diags = v["diagnostics"].as_array().unwrap();
    assert_eq!(diags.len(), 10);
    for d in diags {
        assert_eq!(d["severity"], "error", "{d}");
        assert!(d["summary"].as_str().is_some_and(|s| !s.is_empty()), "{d}");
        assert!(d["detail"].is_string(), "{d}");
        let r = &d["range"];
        assert_eq!(r["filename"], path.display().to_string(), "{d}");
        for end in ["start", "end"] {
            for k in ["line", "column", "byte"] {
                assert!(r[end][k].is_u64(), "{end}.{k}: {d}");
            }
        }
        assert!(!d["labels"].as_array().unwrap().is_empty(), "{d}");
    }
    // `emial` on line 5, column 11 (bytes counted from 0).
    let emial = &diags[1];
    assert_eq!(emial["summary"], "unknown key `emial`");
    assert!(
        emial["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean `email`?")
    );
    let start = &emial["range"]["start"];
    assert_eq!(
        (start["line"].as_u64(), start["column"].as_u64()),
        (Some(5), Some(11))
    );
    let byte = start["byte"].as_u64().unwrap() as usize;
    assert_eq!(&NINE_MISTAKES[byte..byte + 5], "emial");
    assert_eq!(emial["range"]["end"]["column"], 16);

    // A valid file: `valid: true`, its warnings with their places, exit 0.
    env.manifest("version: 1\nhomes:\n  ci: { path: $NOT_SET_HERE/ci }\n");
    let out = env.run(&["validate", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["valid"].as_bool(), v["error_count"].as_u64()),
        (Some(true), Some(0))
    );
    assert_eq!(v["warning_count"], 1);
    assert_eq!(v["diagnostics"][0]["severity"], "warning");
    assert_eq!(v["diagnostics"][0]["range"]["start"]["line"], 3);

    // No file at all: one error without a place, and the hint as its detail.
    let out = env.run(&["-f", "missing.yaml", "validate", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error_count"], 1);
    assert!(v["diagnostics"][0]["range"].is_null());
    assert!(
        v["diagnostics"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("cdxs init"),
        "{v}"
    );
}

/// Issue 21: `sync login` with `CDXS_MANIFEST` naming a file not written yet failed ("the
/// manifest ... does not exist"). Every command that can do without the manifest works
/// then, with the one-line note where it would have read it.
#[test]
fn commands_that_can_do_without_the_manifest_work_before_it_exists() {
    let env = Env::new();
    let missing = env.path("not-yet/cdxs.yaml");
    env.set_env("CDXS_MANIFEST", missing.to_str().unwrap());
    let id = env.add_api_key_id("sk-proj-before-the-manifest-01");
    let refused = |out: &std::process::Output| {
        stderr(out).contains("does not exist") && !stderr(out).contains("does not exist yet")
    };
    // Reaching for a server that is not there: the error is about the server, not the file.
    let out = env.run_stdin(
        &[
            "sync",
            "login",
            "--server",
            "http://127.0.0.1:9",
            "--user",
            "u",
            "--password-stdin",
        ],
        "pw\n",
    );
    assert!(!refused(&out), "{}", text(&out));
    assert!(
        stderr(&out).contains("does not exist yet"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", text(&out));
    for args in [
        &["history"][..],
        &["sync", "status"],
        &["doctor"],
        &["schema"],
        &["completions", "bash"],
        &["account", "rename", &id, "ci"],
        &["show", "ci"],
        &["quota"],
        &["sync", "refresh", "ci"],
        &["resume", "0000dead"],
        &["session", "stats", "0000dead"],
    ] {
        let out = env.run(args);
        assert!(!refused(&out), "{args:?}: {}", text(&out));
        assert!(
            !stderr(&out).contains("cdxs init` creates it")
                || stderr(&out).matches("does not exist yet").count() == 1,
            "{args:?}: one note at most: {}",
            text(&out)
        );
    }
    // `import legacy` declares the older tool's homes: it writes the named file.
    std::fs::write(
        env.path("legacy.toml"),
        format!(
            "[[homes]]\nname = \"old\"\npath = '{}'\n",
            env.path("old-home").display()
        ),
    )
    .unwrap();
    let out = env.run(&[
        "import",
        "legacy",
        env.path("legacy.toml").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::read_to_string(&missing).unwrap().contains("old"),
        "{}",
        text(&out)
    );
}
