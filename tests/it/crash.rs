//! Crash safety: apply killed at every fault point leaves no torn or foreign file, and the
//! next apply converges.

use serde_json::Value;

use crate::harness::*;

const POINTS: &[&str] = &[
    "apply.after_begin",
    "apply.before_action",
    "auth.before_write",
    "write_atomic.before_rename",
    "auth.after_write",
    "apply.after_action",
];

fn setup() -> Env {
    let env = Env::new();
    env.import_login(&Login::new("kim@example.com", "acct-kim"));
    env.import_login(&Login::new("lee@example.com", "acct-lee"));
    // `one` holds something else (an update, with a backup); `two` has nothing (a create).
    std::fs::create_dir_all(env.codex_home("one")).unwrap();
    std::fs::write(env.codex_home("one").join("auth.json"), OLD).unwrap();
    env.manifest(&format!(
        "version: 1\naccounts:\n  kim: {{ email: kim@example.com }}\n  lee: {{ email: lee@example.com }}\nhomes:\n  one: {{ path: {}, account: kim }}\n  two: {{ path: {}, account: lee }}\n",
        env.codex_home("one").display(),
        env.codex_home("two").display()
    ));
    env
}

const OLD: &str = r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-old-0001"}"#;

/// auth.json is absent, the old content, or a complete file for `acct`.
fn assert_whole(env: &Env, home: &str, acct: &str, allow_old: bool) {
    let path = env.codex_home(home).join("auth.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    if allow_old && bytes == OLD.as_bytes() {
        return;
    }
    let v: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("torn {home}/auth.json: {e}"));
    assert_eq!(v["tokens"]["account_id"], acct, "{home}: {v}");
    crate::harness::assert_mode(&path, 0o600);
}

fn stray_files(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for home in ["one", "two"] {
        if let Ok(entries) = std::fs::read_dir(env.codex_home(home)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !matches!(name.as_str(), "auth.json" | "auth.lock" | "auth.json.lock") {
                    out.push(format!("{home}/{name}"));
                }
            }
        }
    }
    out
}

#[test]
fn killed_at_every_fault_point_the_next_apply_converges() {
    // Each point, at each of its first three hits (the plan has three actions).
    for point in POINTS
        .iter()
        .flat_map(|p| (1..=3).map(move |n| format!("{p}:{n}")))
    {
        let env = setup();
        let out = env
            .cdxs()
            .env("CDXS_FAULT", &point)
            .args(["apply", "--yes"])
            .output()
            .unwrap();
        if out.status.success() {
            // This point is reached fewer than n times: nothing was killed.
            assert!(!point.ends_with(":1"), "{point} was never reached");
            continue;
        }
        let point = point.split(':').next().unwrap().to_string();
        assert!(
            crate::harness::aborted(&out.status),
            "{point}: expected a kill, got {}",
            text(&out)
        );
        assert!(
            stderr(&out).contains(&format!("fault point `{point}`")),
            "{point}: {}",
            text(&out)
        );
        assert_whole(&env, "one", "acct-kim", true);
        assert_whole(&env, "two", "acct-lee", false);
        // The next apply cleans up, finishes the job, and records the interruption.
        let out = env.run(&["apply", "--yes"]);
        assert!(out.status.success(), "{point}: {}", text(&out));
        assert_eq!(
            code(&env.run(&["plan", "--detailed-exitcode"])),
            0,
            "{point}"
        );
        assert_whole(&env, "one", "acct-kim", false);
        assert_whole(&env, "two", "acct-lee", false);
        assert!(
            stray_files(&env).is_empty(),
            "{point}: {:?}",
            stray_files(&env)
        );
        let applies = env.generations_of("apply");
        let statuses: Vec<&str> = applies
            .iter()
            .map(|g| g["status"].as_str().unwrap())
            .collect();
        // The killed generation is marked interrupted; a second one finished the job unless
        // the killed one had already done everything.
        assert!(
            statuses == ["ok", "interrupted"] || statuses == ["interrupted"],
            "{point}: {statuses:?}"
        );
    }
}

#[test]
fn a_failed_action_names_the_action_and_keeps_earlier_ones() {
    let env = setup();
    // `two` cannot be created: its parent is a file.
    std::fs::create_dir_all(env.codex_home("")).unwrap();
    let blocker = env.root.path().join("homes/blocker");
    std::fs::write(&blocker, "not a folder").unwrap();
    let m = env.manifest_text().replace(
        &env.codex_home("two").display().to_string(),
        &blocker.join("two").display().to_string(),
    );
    env.manifest(&m);
    let out = env.run(&["apply", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("`home.two.dir` failed"), "{err}");
    assert!(err.contains("history"), "{err}");
    let v: Value = serde_json::from_slice(&env.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(v["generations"][0]["status"], "failed");
}
