//! Sessions without the real Codex: fixtures built from Codex 0.169's schema (the real-Codex
//! checks are in real_codex_sessions.rs).

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use crate::harness::*;

/// A minimal state_5.sqlite with Codex's threads table and a migration version.
fn fake_home(home: &Path, version: i64, threads: &[(&str, &str)]) {
    std::fs::create_dir_all(home.join("sessions/2026/11/26")).unwrap();
    let db = Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute_batch(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL);
         CREATE TABLE threads (id TEXT PRIMARY KEY, rollout_path TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, source TEXT NOT NULL, model_provider TEXT NOT NULL, cwd TEXT NOT NULL, title TEXT NOT NULL, sandbox_policy TEXT NOT NULL, approval_mode TEXT NOT NULL, tokens_used INTEGER NOT NULL DEFAULT 0, has_user_event INTEGER NOT NULL DEFAULT 0, archived INTEGER NOT NULL DEFAULT 0, archived_at INTEGER, cli_version TEXT NOT NULL DEFAULT '', first_user_message TEXT NOT NULL DEFAULT '', preview TEXT NOT NULL DEFAULT '', history_mode TEXT NOT NULL DEFAULT 'legacy', name TEXT, updated_at_ms INTEGER);",
    )
    .unwrap();
    db.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?1, 'x', 1, x'00', 0)",
        [version],
    )
    .unwrap();
    for (id, text) in threads {
        let path = home.join(format!(
            "sessions/2026/11/26/rollout-2026-11-26T00-00-00-{id}.jsonl"
        ));
        std::fs::write(
            &path,
            format!(
                "{{\"type\":\"session_meta\",\"payload\":{{\"id\":\"{id}\",\"cwd\":\"/w\",\"source\":\"cli\",\"model_provider\":\"openai\"}}}}\n{{\"type\":\"event_msg\",\"payload\":{{\"type\":\"user_message\",\"message\":\"{text}\"}}}}\n"
            ),
        )
        .unwrap();
        db.execute(
            "INSERT INTO threads (id, rollout_path, created_at, updated_at, source, model_provider, cwd, title, sandbox_policy, approval_mode, preview) VALUES (?1, ?2, 1, 1, 'cli', 'openai', '/w', ?3, '{}', 'never', ?3)",
            rusqlite::params![id, path.to_string_lossy(), text],
        )
        .unwrap();
    }
}

/// An Env whose manifest declares one fake home `default` (schema `version`, `threads`),
/// with `sessions_yaml` appended.
fn env_with_home(version: i64, threads: &[(&str, &str)], sessions_yaml: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let home = env.codex_home("h");
    fake_home(&home, version, threads);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n{sessions_yaml}",
        home.display()
    ));
    (env, home)
}

const T1: &str = "0199aaaa-0000-7000-8000-00000000000a";
const T2: &str = "0199aaaa-0000-7000-8000-00000000000b";

#[test]
fn a_database_from_a_newer_codex_is_only_read() {
    let (env, home) = env_with_home(99, &[(T1, "hello")], "sessions:\n  auto_repair: true\n");
    let out = env.run(&["session", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["threads"][0]["id"], T1);
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("migrated by a newer Codex"),
        "{}",
        text(&out)
    );
    assert!(
        home.join(format!(
            "sessions/2026/11/26/rollout-2026-11-26T00-00-00-{T1}.jsonl"
        ))
        .exists()
    );
    let out = env.run(&["plan"]);
    assert!(stdout(&out).contains("newer Codex"), "{}", text(&out));
}

#[test]
fn a_second_plan_reads_no_rollout() {
    let (env, home) = env_with_home(
        62,
        &[(T1, "hello"), (T2, "again")],
        "sessions:\n  auto_repair: true\n",
    );
    // An empty preview makes the check read a head; an orphan rollout too.
    let db = Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [T2])
        .unwrap();
    drop(db);
    let out = env.run(&["-v", "plan", "--offline"]);
    assert!(
        stderr(&out).contains("read 1 rollout head(s) from disk"),
        "{}",
        text(&out)
    );
    assert!(
        stdout(&out).contains(&format!("~ sessions.default.repair[empty_preview:{T2}]")),
        "{}",
        text(&out)
    );
    let out = env.run(&["-v", "plan", "--offline"]);
    assert!(
        stderr(&out).contains("read 0 rollout head(s) from disk"),
        "{}",
        text(&out)
    );
    assert!(env.run(&["apply", "--yes"]).status.success());
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[test]
fn trash_dry_run_and_purge_ask_first() {
    let (env, home) = env_with_home(62, &[(T1, "hello")], "");
    let out = env.run(&["session", "trash", &T1[..13], "--dry-run"]);
    assert!(stdout(&out).contains("would trash"), "{}", text(&out));
    assert!(
        home.join(format!(
            "sessions/2026/11/26/rollout-2026-11-26T00-00-00-{T1}.jsonl"
        ))
        .exists()
    );
    assert!(env.run(&["session", "trash", T1]).status.success());
    let out = env.run(&["session", "purge", T1]);
    assert_eq!(
        code(&out),
        1,
        "purge needs a terminal or --yes: {}",
        text(&out)
    );
    assert!(home.join("cdxs-trash").join(T1).exists());
    let out = env.run(&["session", "purge", T1, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!home.join("cdxs-trash").join(T1).exists());
    let out = env.run(&["session", "restore", T1]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no trashed thread"), "{}", text(&out));
}

#[test]
fn interrupted_trash_is_finished_and_restore_works_from_any_stage() {
    for point in ["trash.after_manifest", "trash.after_move"] {
        let (env, _) = env_with_home(62, &[(T1, "hello")], "");
        let out = env
            .cdxs()
            .env("CDXS_FAULT", point)
            .args(["session", "trash", T1])
            .output()
            .unwrap();
        assert!(
            crate::harness::aborted(&out.status),
            "{point}: {}",
            text(&out)
        );
        // restore from the interrupted state puts everything back
        let out = env.run(&["session", "restore", T1]);
        assert!(out.status.success(), "{point}: {}", text(&out));
        let v: Value =
            serde_json::from_slice(&env.run(&["session", "list", "--json"]).stdout).unwrap();
        assert_eq!(v["threads"][0]["id"], T1, "{point}");
        assert!(
            v["threads"][0]["hidden"].as_array().unwrap().is_empty(),
            "{point}: {v}"
        );
        // and trash runs to the end the second time
        let out = env
            .cdxs()
            .env("CDXS_FAULT", point)
            .args(["session", "trash", T1])
            .output()
            .unwrap();
        assert!(crate::harness::aborted(&out.status));
        let out = env.run(&["session", "trash", T1]);
        assert!(out.status.success(), "{point}: {}", text(&out));
        let v: Value =
            serde_json::from_slice(&env.run(&["session", "list", "--json"]).stdout).unwrap();
        assert!(v["threads"].as_array().unwrap().is_empty(), "{point}: {v}");
    }
}

#[test]
fn legacy_homes_go_into_the_manifest() {
    let env = Env::new();
    let login = Login::new("leg@example.com", "acct-leg");
    let tok = jwt(&login.claims());
    let work = env.codex_home("work");
    let (foreign, foreign_kind) = if cfg!(windows) {
        ("/home/me/.codex", "a Unix path")
    } else {
        (r"D:\codex\win", "a Windows path")
    };
    std::fs::create_dir_all(env.default_codex_home()).unwrap();
    std::fs::write(
        env.default_codex_home().join("cdxs.toml"),
        format!(
            "[[accounts]]\nid = \"oauth_1111111111111111\"\nemail = \"leg@example.com\"\nauth_mode = \"oauth\"\n[accounts.tokens]\nid_token = \"{tok}\"\naccess_token = \"{tok}\"\nrefresh_token = \"rt\"\n\n[[homes]]\nname = \"default\"\npath = \"~/.codex\"\n\n[[homes]]\nname = \"work\"\npath = '{}'\nbound_account_id = \"oauth_1111111111111111\"\n\n[[homes]]\nname = \"elsewhere\"\npath = '{}'\n",
            work.display(),
            foreign,
        ),
    )
    .unwrap();
    let out = env.run(&["import", "legacy"]);
    assert!(out.status.success(), "{}", text(&out));
    // A folder of another OS is left to the person, with a warning.
    assert!(stderr(&out).contains(foreign_kind), "{}", text(&out));
    assert!(!stderr(&out).contains("home `work` has"), "{}", text(&out));
    let path = env.default_manifest();
    let m = std::fs::read_to_string(&path).unwrap();
    assert!(m.contains("leg: { id: oauth_1111111111111111 }"), "{m}");
    assert!(
        m.contains("  work:\n    path:") && m.contains("    account: leg\n"),
        "{m}"
    );
    assert!(m.contains("  default:\n    path: ~/.codex\n"), "{m}");
    let out = env.run(&["validate"]);
    assert!(out.status.success(), "{}", text(&out));
    // account arguments take the alias now
    let out = env.run(&["account", "show", "leg", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(v["account"]["id"], "oauth_1111111111111111");
    // importing again adds nothing
    let out = env.run(&["import", "legacy"]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), m);
}

#[test]
fn the_session_cache_sees_a_new_rollout_a_changed_row_and_a_new_trash_entry() {
    let (env, home) = env_with_home(
        62,
        &[(T1, "hello"), (T2, "again")],
        "sessions:\n  auto_repair: true\n  trash_max_age: 1d\n",
    );
    let out = env.run(&["plan", "--offline", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    // The cache is warm now; a second plan does no per-thread work.
    let out = env.run(&["-v", "plan", "--offline"]);
    assert!(
        stderr(&out).contains("read 0 rollout head(s)"),
        "{}",
        text(&out)
    );
    // A rollout without a row appears in a day folder.
    let orphan = "0199aaaa-0000-7000-8000-00000000000c";
    std::fs::write(
        home.join(format!("sessions/2026/11/26/rollout-2026-11-26T00-00-00-{orphan}.jsonl")),
        format!("{{\"type\":\"session_meta\",\"payload\":{{\"id\":\"{orphan}\",\"cwd\":\"/w\",\"source\":\"cli\",\"model_provider\":\"openai\"}}}}\n{{\"type\":\"event_msg\",\"payload\":{{\"type\":\"user_message\",\"message\":\"new\"}}}}\n"),
    )
    .unwrap();
    let out = env.run(&["plan", "--offline"]);
    assert!(
        stdout(&out).contains(&format!("orphan_rollout:{orphan}")),
        "{}",
        text(&out)
    );
    // A row changes in the database.
    let db = Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [T2])
        .unwrap();
    drop(db);
    let out = env.run(&["plan", "--offline"]);
    assert!(
        stdout(&out).contains(&format!("empty_preview:{T2}")),
        "{}",
        text(&out)
    );
    // A trashed thread ages past trash_max_age.
    assert!(env.run(&["apply", "--yes"]).status.success());
    assert!(env.run(&["session", "trash", T1]).status.success());
    let later = (env.now + chrono::Duration::days(2)).to_rfc3339();
    let out = env
        .cdxs()
        .env("CDXS_NOW", &later)
        .args(["plan", "--offline"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains(&format!("- trash.default.purge[{T1}]")),
        "{}",
        text(&out)
    );
}

/// `session list --all-homes` reads the homes in parallel and streams them: its elements are
/// byte for byte those of `session list --home` for each home, in the manifest's home order
/// (then newest first), hostile text escaped the same way; the table lists the same threads.
#[test]
fn all_homes_is_every_home_in_order_byte_for_byte() {
    let env = Env::new();
    let names = ["h0", "h1", "h2", "h3", "h4"];
    let mut yaml = String::from("version: 1\nhomes:\n");
    for (n, name) in names.iter().enumerate() {
        let home = env.codex_home(name);
        let ids: Vec<String> = (0..3)
            .map(|t| format!("0199aaaa-0000-7000-8000-0000000{n}{t:04}"))
            .collect();
        let texts = ["plain", "esc", "bidi \u{202e} ünïcode"];
        let threads: Vec<(&str, &str)> = ids
            .iter()
            .zip(texts)
            .map(|(id, t)| (id.as_str(), t))
            .collect();
        fake_home(&home, 22, &threads);
        // Newest first within a home: the first thread is the newest one; one rollout missing.
        let db = Connection::open(home.join("state_5.sqlite")).unwrap();
        db.execute(
            "UPDATE threads SET updated_at = 100 WHERE id = ?1",
            [&ids[0]],
        )
        .unwrap();
        db.execute(
            "UPDATE threads SET rollout_path = rollout_path || '.gone', \
             preview = 'esc \u{1b}[31m red\u{7}' WHERE id = ?1",
            [&ids[1]],
        )
        .unwrap();
        yaml.push_str(&format!("  {name}: {{ path: {} }}\n", home.display()));
    }
    env.manifest(&yaml);
    let elements = |out: &std::process::Output| -> Vec<String> {
        assert!(out.status.success(), "{}", text(out));
        stdout(out)
            .lines()
            .filter(|l| l.starts_with("    {"))
            .map(|l| l.trim_end_matches(',').to_string())
            .collect()
    };
    let all = env.run(&["session", "list", "--all-homes", "--json"]);
    let v: Value = serde_json::from_slice(&all.stdout).unwrap_or_else(|_| panic!("{}", text(&all)));
    assert_eq!(v["threads"].as_array().unwrap().len(), 15, "{v}");
    let mut each = Vec::new();
    for name in names {
        each.extend(elements(
            &env.run(&["session", "list", "--home", name, "--json"]),
        ));
    }
    assert_eq!(elements(&all), each);
    let homes: Vec<&str> = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["home"].as_str().unwrap())
        .collect();
    let mut sorted = homes.clone();
    sorted.sort();
    assert_eq!(homes, sorted, "home order");
    assert_eq!(
        v["threads"][0]["id"],
        "0199aaaa-0000-7000-8000-000000000000"
    );
    assert!(!stdout(&all).contains('\u{1b}') && !stdout(&all).contains('\u{202e}'));
    assert!(
        v["threads"][2]["hidden"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "missing_rollout"),
        "{v}"
    );
    // The table: the same threads, in the same order.
    let table = env.run(&["session", "list", "--all-homes"]);
    assert!(table.status.success(), "{}", text(&table));
    let ids: Vec<&str> = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"].as_str().unwrap()[..13])
        .collect();
    let mut at = 0;
    let table_text = stdout(&table);
    for id in &ids {
        at += table_text[at..]
            .find(id)
            .unwrap_or_else(|| panic!("{id} missing or out of order:\n{table_text}"));
    }
}
