//! Screens that fit (issue 21): `list`, `quota`, `status`, `session list` and `history` at 80
//! and 120 columns (forced with `COLUMNS`, which cdxs honours without a terminal), with the
//! legend of their marks, reset times labelled, colours by threshold, cached quota marked
//! with its age, aliases shown, and thread ids cut to their shortest unique prefix.

use serde_json::json;

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};

/// Quota answers with reset times relative to cdxs's clock (deterministic): 2h30m and 5d.
fn usage(plan: &str, five_used: f64, week_used: f64) -> serde_json::Value {
    json!({
        "plan_type": plan,
        "rate_limit": {
            "primary_window": {"used_percent": five_used, "reset_after_seconds": 9000},
            "secondary_window": {"used_percent": week_used, "reset_after_seconds": 432_000}
        }
    })
}

/// Three ChatGPT logins (65%, 25% and 5% of the 5-hour window left), an API key named `ci`,
/// four homes (one on a pool), threads whose UUIDv7 ids share their first 12 characters.
pub fn world() -> (Env, MockOpenAi) {
    let mock = MockOpenAi::start();
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    let now = env.now.timestamp();
    for (email, acct, plan, five, week) in [
        ("ann@example.com", "acct-ann", "plus", 35.0, 20.0),
        ("bob@example.com", "acct-bob", "pro", 75.0, 50.0),
        (
            "carol.longname@subsidiary.example.com",
            "acct-carol",
            "team",
            95.0,
            97.0,
        ),
    ] {
        let mut m = MockAccount::new(email, acct);
        m.usage = Some(usage(plan, five, week));
        mock.add(m);
        let mut login = Login::new(email, acct);
        login.plan = plan.into();
        login.iat = now;
        login.exp = now + 10 * 86_400;
        env.import_login(&login);
    }
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--name", "ci"],
        "sk-screens-key-0001",
    );
    assert!(out.status.success(), "{}", text(&out));
    env.manifest(
        "version: 1\naccounts:\n  ann: { email: ann@example.com }\n  bob: { email: bob@example.com }\n  carol: { email: carol.longname@subsidiary.example.com }\npools:\n  spares: [carol]\nhomes:\n  default: { path: ~/.codex, account: ann }\n  work: { path: ~/codex-homes/work, account: bob }\n  burst: { path: ~/codex-homes/burst, account: { pool: spares } }\n  scratch: { path: ~/codex-homes/scratch }\n",
    );
    let home = env.default_codex_home();
    codex_like_home(&home);
    let state = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    for (n, (id, title, cwd)) in [
        (
            "019abc12-3456-7a01-8000-00000000000a",
            "fix the flaky login test",
            "/src/app",
        ),
        (
            "019abc12-3456-7b02-8000-00000000000b",
            "explain the sync protocol and its leases",
            "/src/app/sync",
        ),
        (
            "019abd00-0000-7000-8000-00000000000c",
            "write release notes for version 2",
            "/src/docs",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        add_thread(&home, id, title, None);
        state
            .execute(
                "UPDATE threads SET updated_at = ?2, cwd = ?3, tokens_used = ?4 WHERE id = ?1",
                rusqlite::params![
                    id,
                    now - 3600 * (n as i64 + 1) * 24,
                    cwd,
                    1000 * (n as i64 + 1)
                ],
            )
            .unwrap();
    }
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.run(&["quota"]);
    assert!(out.status.success(), "{}", text(&out));
    (env, mock)
}

/// `args` at `width` columns: the snapshot, and no line wider than the screen.
fn at_width(env: &Env, args: &[&str], width: usize) -> String {
    let out = env
        .cdxs()
        .args(args)
        .env("COLUMNS", width.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    for line in stdout(&out).lines() {
        assert!(
            line.chars().count() <= width,
            "{args:?} at {width}: {} columns: {line}",
            line.chars().count()
        );
    }
    snapshot_text(env, &out)
}

#[test]
fn tables_fit_80_and_120_columns() {
    let (env, _mock) = world();
    for width in [80, 120] {
        for (name, args) in [
            ("list", &["list"][..]),
            ("quota", &["quota", "--all"]),
            ("status", &["status"]),
            ("sessions", &["session", "list"]),
            ("history", &["history"]),
        ] {
            insta::assert_snapshot!(format!("{name}_{width}"), at_width(&env, args, width));
        }
    }
}

#[test]
fn narrow_layouts_keep_bars_whole_and_say_what_marks_mean() {
    let (env, _mock) = world();
    let list = stdout(
        &env.cdxs()
            .arg("list")
            .env("COLUMNS", "80")
            .output()
            .unwrap(),
    );
    // Every quota cell is a whole bar, its figure and its reset: never split.
    for line in list.lines().filter(|l| l.contains('%')) {
        assert!(line.contains("█") || line.contains("░"), "{line}");
        assert!(line.contains("↻2h30m") && line.contains("↻5d0h"), "{line}");
    }
    assert!(list.contains("*: the default Codex home uses it"), "{list}");
    assert!(list.contains("↻: time until the window resets"), "{list}");
    // Aliases are shown, and where each account is bound.
    let wide = stdout(
        &env.cdxs()
            .arg("list")
            .env("COLUMNS", "200")
            .output()
            .unwrap(),
    );
    assert!(
        wide.contains("ALIAS") && wide.contains("burst (pool spares)"),
        "{wide}"
    );
    // Levels: 65% ok, 25% low, 5% very low; the API key is named `ci`.
    for (who, word) in [
        ("ann", "ok"),
        ("bob", "low"),
        ("carol", "very low"),
        ("ci", "ok"),
    ] {
        let line = wide
            .lines()
            .find(|l| l.split_whitespace().any(|w| w == who))
            .unwrap_or_else(|| panic!("{who}: {wide}"));
        assert!(line.trim_end().ends_with(word), "{who}: {line}");
    }
}

#[test]
fn colours_follow_the_threshold_and_no_color_is_respected() {
    let (env, _mock) = world();
    let coloured = stdout(&env.run(&["--color", "always", "quota"]));
    let line = |who: &str| {
        coloured
            .lines()
            .find(|l| l.contains(who))
            .unwrap_or_else(|| panic!("{who}: {coloured}"))
            .to_string()
    };
    // green (32) for 65% left, yellow (33) for 25%, red (31) for 5%.
    assert!(line("ann@").contains("\x1b[32m██████"), "{}", line("ann@"));
    assert!(line("bob@").contains("\x1b[33m██"), "{}", line("bob@"));
    assert!(line("carol").contains("\x1b[31m"), "{}", line("carol"));
    // NO_COLOR (the harness sets it) and a pipe: no escape at all.
    let plain = stdout(&env.run(&["quota"]));
    assert!(!plain.contains('\x1b'), "{plain}");
    let plain = stdout(&env.run(&["list"]));
    assert!(!plain.contains('\x1b'), "{plain}");
}

/// Cached figures say how old they are: `show` never calls the network, and `quota` shows
/// the cache when the usage call fails.
#[test]
fn cached_quota_is_marked_with_its_age() {
    let (env, mock) = world();
    let fresh = stdout(&env.run(&["show"]));
    assert!(!fresh.contains("cached"), "{fresh}");
    env.set_env(
        "CDXS_NOW",
        &(env.now + chrono::Duration::hours(2)).to_rfc3339(),
    );
    let later = stdout(&env.run(&["show"]));
    assert!(later.contains("cached 2h00m ago"), "{later}");
    mock.with(|s| {
        for a in s.accounts.values_mut() {
            a.usage = None;
        }
    });
    let out = env.run(&["quota", "ann"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stdout(&out).contains("65%"), "{}", text(&out));
    assert!(stdout(&out).contains("cached 2h00m ago"), "{}", text(&out));
    assert!(stderr(&out).contains("cached figures"), "{}", text(&out));
}

/// Issue 21: `cdxs quota` with no argument showed only the default home's account (an API
/// key there: `n/a`). It shows every account cdxs.yaml binds, and a pool's name its members.
#[test]
fn quota_without_an_account_shows_every_account_the_manifest_binds() {
    let (env, _mock) = world();
    let names = |args: &[&str]| -> Vec<String> {
        let out = env.run(args);
        assert!(out.status.success(), "{}", text(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["quota"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["alias"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    assert_eq!(names(&["quota", "--json"]), ["ann", "bob", "carol"]);
    assert_eq!(names(&["quota", "spares", "--json"]), ["carol"]);
    assert_eq!(names(&["quota", "bob", "--json"]), ["bob"]);
    assert_eq!(names(&["quota", "--all", "--json"]).len(), 4);
}
