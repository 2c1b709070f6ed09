//! Thread copies need intent (`session sync-threads`): without `sessions.share_threads`,
//! `--from`/`--to` or `--all-homes` nothing is copied; on a terminal the copies are shown and
//! confirmed; the copy is a generation that `rollback` takes out again (rows, name and
//! rollout), keeping a copy Codex continued since in the home's trash.
//!
//! Homes here are one per client: client A's conversations must not land in client B's
//! home unless the person asked for it.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::*;

const T_A: &str = "0199aaaa-0000-7000-8000-00000000000a";
const T_B: &str = "0199bbbb-0000-7000-8000-00000000000b";

/// Homes `a` and `b` (one client each) with a thread each; no `share_threads`.
fn two_clients() -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let (a, b) = (env.codex_home("a"), env.codex_home("b"));
    codex_like_home(&a);
    codex_like_home(&b);
    add_thread(&a, T_A, "client A's secret plans", None);
    add_thread(&b, T_B, "client B's roadmap", None);
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  b: {{ path: {} }}\n",
        a.display(),
        b.display()
    ));
    (env, a, b)
}

fn has_thread(home: &std::path::Path, id: &str) -> bool {
    count_rows(&home.join("state_5.sqlite"), "threads", "id", id) > 0
}

fn copied_rollout(home: &std::path::Path, id: &str) -> PathBuf {
    home.join("sessions/2026/11/26").join(rollout_name(id))
}

fn nothing_copied(a: &std::path::Path, b: &std::path::Path) -> bool {
    !has_thread(b, T_A)
        && !has_thread(a, T_B)
        && !copied_rollout(b, T_A).exists()
        && !copied_rollout(a, T_B).exists()
}

/// Before: `session sync-threads` with no flags and no `share_threads` copied every thread
/// into every home without asking.
#[test]
fn sync_threads_without_intent_refuses_and_says_how() {
    let (env, a, b) = two_clients();
    for args in [
        &["session", "sync-threads"][..],
        &["session", "sync-threads", "--yes"],
        &["session", "sync-threads", "--dry-run"],
        &["session", "sync-threads", "--home", "a", "--yes"],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        let err = stderr(&out);
        for hint in ["share_threads", "--from", "--to", "--all-homes"] {
            assert!(err.contains(hint), "{args:?} names {hint}: {err}");
        }
        assert!(nothing_copied(&a, &b), "{args:?}: {}", text(&out));
    }
    assert_eq!(generation_count(&env), 0, "nothing ran");
}

#[test]
fn from_and_to_copy_one_way_only() {
    let (env, a, b) = two_clients();
    let out = env.run(&[
        "session",
        "sync-threads",
        "--from",
        "a",
        "--to",
        "b",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(has_thread(&b, T_A), "{}", text(&out));
    assert!(copied_rollout(&b, T_A).exists());
    assert!(!has_thread(&a, T_B), "never the other way: {}", text(&out));
    // A folder works as well as a name; an unknown name is an error that lists the homes.
    let out = env.run(&[
        "session",
        "sync-threads",
        "--from",
        b.to_str().unwrap(),
        "--to",
        "a",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains(T_B), "{}", text(&out));
    assert!(!has_thread(&a, T_B), "a dry run copies nothing");
    let out = env.run(&["session", "sync-threads", "--from", "c", "--to", "a"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("no home `c`"), "{}", text(&out));
    assert!(stderr(&out).contains("a, b"), "{}", text(&out));
}

#[test]
fn without_a_terminal_a_copy_needs_yes() {
    let (env, a, b) = two_clients();
    let out = env.run(&["session", "sync-threads", "--all-homes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("without a terminal"),
        "{}",
        text(&out)
    );
    assert!(nothing_copied(&a, &b));
}

#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for the prompt) is not installed"
)]
fn on_a_terminal_the_copies_are_shown_and_only_yes_copies() {
    let (env, a, b) = two_clients();
    let out = env.on_a_terminal("session sync-threads --all-homes", "no");
    let said = stdout(&out);
    assert!(said.contains(T_A) && said.contains(T_B), "{}", text(&out));
    assert!(said.contains("Only 'yes'"), "{}", text(&out));
    assert!(
        nothing_copied(&a, &b),
        "`no` copies nothing: {}",
        text(&out)
    );
    let out = env.on_a_terminal("session sync-threads --all-homes", "yes");
    assert!(out.status.success(), "{}", text(&out));
    assert!(has_thread(&b, T_A) && has_thread(&a, T_B), "{}", text(&out));
}

/// Before: `rollback` of a `sync-threads` generation said "changed no files" (the databases
/// had been backed up, and nothing undid the copy).
#[test]
fn rollback_takes_the_copied_rows_and_rollouts_out_again() {
    let (env, a, b) = two_clients();
    let before_a = std::fs::read(copied_rollout(&a, T_A)).unwrap();
    let out = env.run(&[
        "session",
        "sync-threads",
        "--from",
        "a",
        "--to",
        "b",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(has_thread(&b, T_A));
    assert_eq!(
        count_rows(
            &b.join("state_5.sqlite"),
            "thread_dynamic_tools",
            "thread_id",
            T_A
        ),
        1,
        "rows that belong to the thread travel with it"
    );
    let generation = newest_generation(&env);
    let shown = env.run(&["history", &generation.to_string()]);
    assert!(
        stdout(&shown).contains(T_A) && stdout(&shown).contains("threads copied"),
        "{}",
        text(&shown)
    );
    // The default target is that generation; rollback names what goes.
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stdout(&out).contains("changed no files"), "{}", text(&out));
    assert!(stdout(&out).contains(T_A), "{}", text(&out));
    assert!(!has_thread(&b, T_A), "the row is gone: {}", text(&out));
    assert_eq!(
        count_rows(
            &b.join("state_5.sqlite"),
            "thread_dynamic_tools",
            "thread_id",
            T_A
        ),
        0,
        "and the rows that came with it"
    );
    assert!(
        !copied_rollout(&b, T_A).exists(),
        "the copied rollout is gone"
    );
    assert!(
        !any_file_under(&b, T_A),
        "no trace left in b (trash included)"
    );
    // Home b's own thread and home a are untouched.
    assert!(has_thread(&b, T_B) && copied_rollout(&b, T_B).exists());
    assert!(has_thread(&a, T_A));
    assert_eq!(std::fs::read(copied_rollout(&a, T_A)).unwrap(), before_a);
    // The rollback is a generation of its own, and rolling back again finds nothing left.
    let v: Value = serde_json::from_slice(&env.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(v["generations"][0]["rollback_of"], generation);
}

#[test]
fn rollback_keeps_a_copy_codex_continued_in_the_trash() {
    let (env, _a, b) = two_clients();
    let out = env.run(&[
        "session",
        "sync-threads",
        "--from",
        "a",
        "--to",
        "b",
        "--yes",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // Codex resumed the copy in b: its rollout grew.
    let copy = copied_rollout(&b, T_A);
    let mut grown = std::fs::read_to_string(&copy).unwrap();
    grown.push_str(
        rollout_text(T_A, "continued in b", false)
            .lines()
            .last()
            .unwrap(),
    );
    grown.push('\n');
    std::fs::write(&copy, grown).unwrap();
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("trash"), "{}", text(&out));
    assert!(!has_thread(&b, T_A), "{}", text(&out));
    assert!(!copy.exists());
    // Nothing is lost: it is in b's trash and comes back.
    let out = env.run(&["session", "restore", T_A, "--home", "b"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(has_thread(&b, T_A));
    assert!(
        std::fs::read_to_string(&copy)
            .unwrap()
            .contains("continued in b")
    );
}

/// `share_threads` in cdxs.yaml is intent too: `apply` copies, as a generation rollback
/// undoes.
#[test]
fn share_threads_copies_are_undone_by_rollback_too() {
    let (env, a, b) = two_clients();
    env.manifest(&format!(
        "{}sessions:\n  share_threads: [a, b]\n",
        env.manifest_text()
    ));
    let out = env.run(&["session", "sync-threads", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(has_thread(&b, T_A) && has_thread(&a, T_B), "{}", text(&out));
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(nothing_copied(&a, &b), "{}", text(&out));
}

fn any_file_under(dir: &std::path::Path, needle: &str) -> bool {
    files_under(dir)
        .iter()
        .any(|f| f.to_string_lossy().contains(needle))
}

fn generation_count(env: &Env) -> i64 {
    let db = env.state.join("cdxs.db");
    if !db.exists() {
        return 0;
    }
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM generations", [], |r| r.get(0))
        .unwrap()
}

fn newest_generation(env: &Env) -> i64 {
    rusqlite::Connection::open(env.state.join("cdxs.db"))
        .unwrap()
        .query_row("SELECT MAX(id) FROM generations", [], |r| r.get(0))
        .unwrap()
}
