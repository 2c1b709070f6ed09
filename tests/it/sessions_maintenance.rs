//! Session writes and Codex's rollout maintenance. Codex 0.169 and 0.171 (strace of both)
//! compress cold rollouts and migrate legacy ones holding `flock(LOCK_EX)` on
//! `<home>/.tmp/rollout-maintenance.lock` for the whole run; `.tmp/rollout-compression.lock`
//! is a marker the compression worker creates with `O_EXCL` and leaves after a finished run
//! (it throttles runs to one per six hours; it is not locked). Here a test process holds the
//! lock as Codex's worker does (std `File::lock`); real_codex_compressed.rs checks that the
//! real Codex's worker stands back while the lock is held.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::*;

const T1: &str = "0199eeee-0000-7000-8000-000000000001";
const T2: &str = "0199eeee-0000-7000-8000-000000000002";
const T3: &str = "0199eeee-0000-7000-8000-000000000003";

fn maintenance_lock(home: &Path) -> PathBuf {
    home.join(".tmp/rollout-maintenance.lock")
}

fn compression_marker(home: &Path) -> PathBuf {
    home.join(".tmp/rollout-compression.lock")
}

/// Two Codex-shaped homes `default` (threads T1, T2 and T3 trashed) and `b` (empty),
/// sharing threads, T2 with an empty preview to repair.
fn homes() -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    codex_like_home(&a);
    codex_like_home(&b);
    add_real_thread(&a, T1, "first", 107, false);
    add_real_thread(&a, T2, "second", 107, true);
    add_real_thread(&a, T3, "third", 107, false);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n  b: {{ path: {} }}\n",
        a.display(),
        b.display()
    ));
    let out = env.run(&["session", "trash", T3]);
    assert!(out.status.success(), "{}", text(&out));
    let db = rusqlite::Connection::open(a.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [T2])
        .unwrap();
    (env, a, b)
}

/// Everything under a home's session folders, its trash and its databases, to see that a
/// refused command changed nothing.
fn snapshot(home: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = ["sessions", "archived_sessions", "cdxs-trash"]
        .iter()
        .flat_map(|d| files_under(&home.join(d)))
        .map(|f| {
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect();
    let conn = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    let rows: Vec<String> = conn
        .prepare("SELECT id || '|' || rollout_path || '|' || preview FROM threads ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    out.push((PathBuf::from("threads"), rows.join("\n").into_bytes()));
    out.sort();
    out
}

#[test]
fn session_writes_wait_for_codex_rollout_maintenance_then_fail_naming_it() {
    let (env, a, b) = homes();
    env.set_env("CDXS_LOCK_TIMEOUT", "1");
    let before = (snapshot(&a), snapshot(&b));
    let held = hold_flock(&maintenance_lock(&a));
    for args in [
        vec!["session", "trash", T1],
        vec!["session", "restore", T3],
        vec!["session", "purge", T3, "--yes"],
        vec!["session", "visibility", "repair"],
        vec!["session", "sync-threads", "--all-homes", "--yes"],
    ] {
        let started = Instant::now();
        let out = env.run(&args);
        let waited = started.elapsed();
        assert_eq!(code(&out), 3, "{args:?}: {}", text(&out));
        let err = stderr(&out);
        // Only Linux says who holds a lock (and so what it is doing).
        let holder = !cfg!(target_os = "linux")
            || (err.contains("compressing rollouts")
                && err.contains(&format!("pid {}", std::process::id())));
        assert!(
            err.contains("rollout-maintenance.lock") && holder && err.contains("CDXS_LOCK_TIMEOUT"),
            "{args:?}: {err}"
        );
        assert!(
            waited >= Duration::from_millis(900),
            "{args:?} waited {waited:?}"
        );
        assert_eq!(
            (snapshot(&a), snapshot(&b)),
            before,
            "{args:?} changed something"
        );
    }
    // Reads never wait.
    for args in [
        vec!["session", "list", "--all-homes", "--json"],
        vec!["session", "stats", T2, "--lines"],
        vec!["session", "visibility", "check", "--all-homes"],
        vec!["session", "trash-list"],
    ] {
        let started = Instant::now();
        let out = env.run(&args);
        // `visibility check` reports the problems it finds with exit 1.
        let found = args[1] == "visibility" && stdout(&out).contains("problem(s)");
        assert!(
            out.status.success() || (found && code(&out) == 1),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{args:?} waited {:?}",
            started.elapsed()
        );
    }
    drop(held);
    for args in [
        vec!["session", "trash", T1],
        vec!["session", "restore", T3],
        vec!["session", "visibility", "repair"],
        vec!["session", "sync-threads", "--all-homes", "--yes"],
    ] {
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    }
    assert!(
        !compression_marker(&a).exists() && !compression_marker(&b).exists(),
        "cdxs never creates Codex's compression marker (it would stop compression for six hours)"
    );
}

#[test]
fn a_session_write_waits_while_maintenance_runs_and_goes_on_when_it_ends() {
    let (env, a, b) = homes();
    env.set_env("CDXS_LOCK_TIMEOUT", "30");
    // In the target home of a copy: the write there waits too.
    let held = hold_flock(&maintenance_lock(&b));
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        drop(held);
    });
    let started = Instant::now();
    let out = env.run(&["session", "sync-threads", "--all-homes", "--yes"]);
    let waited = started.elapsed();
    release.join().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        waited >= Duration::from_millis(1400),
        "did not wait: {waited:?}"
    );
    assert!(count_rows(&b.join("state_5.sqlite"), "threads", "id", T1) == 1);
    let _ = a;
}

#[test]
fn a_compression_marker_left_by_a_finished_run_is_not_a_lock_but_a_flocked_one_is() {
    let (env, a, _b) = homes();
    env.set_env("CDXS_LOCK_TIMEOUT", "1");
    // What Codex leaves after every finished compression run (seen on 0.169 and 0.171).
    std::fs::create_dir_all(a.join(".tmp")).unwrap();
    std::fs::write(
        compression_marker(&a),
        "pid=4242 started_at=SystemTime { tv_sec: 1796561740, tv_nsec: 302536223 }\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = env.run(&["session", "trash", T1]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_millis(900));
    // A Codex that locks its marker while it compresses is waited for as well.
    let held = hold_flock(&compression_marker(&a));
    let out = env.run(&["session", "restore", T1]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        stderr(&out).contains("rollout-compression.lock"),
        "{}",
        text(&out)
    );
    drop(held);
    let out = env.run(&["session", "restore", T1]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(compression_marker(&a)).unwrap(),
        "pid=4242 started_at=SystemTime { tv_sec: 1796561740, tv_nsec: 302536223 }\n",
        "Codex's marker is left as it was"
    );
}

#[test]
fn apply_waits_for_maintenance_only_where_it_moves_rollouts() {
    let (env, a, b) = homes();
    env.set_env("CDXS_LOCK_TIMEOUT", "1");
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  auto_repair: true\n",
        a.display(),
        b.display()
    ));
    // Maintenance in b, where the plan changes nothing: apply does not wait for it.
    let held_b = hold_flock(&maintenance_lock(&b));
    let started = Instant::now();
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(started.elapsed() < Duration::from_millis(900));
    drop(held_b);
    // In a, where the repair writes a row: it waits, then fails with exit 3, naming it.
    let db = rusqlite::Connection::open(a.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [T1])
        .unwrap();
    let held_a = hold_flock(&maintenance_lock(&a));
    let out = env.run(&["apply", "--yes"]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(
        stderr(&out).contains("rollout-maintenance.lock"),
        "{}",
        text(&out)
    );
    drop(held_a);
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[cfg(unix)]
#[test]
fn a_maintenance_lock_planted_as_a_symlink_is_refused_not_followed() {
    let (env, a, _b) = homes();
    let outside = env.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), "keep").unwrap();
    // `.tmp` pointing out of the home: cdxs neither creates nor locks anything there.
    let _ = std::fs::remove_dir_all(a.join(".tmp"));
    std::os::unix::fs::symlink(&outside, a.join(".tmp")).unwrap();
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("is not a folder"), "{}", text(&out));
    assert_eq!(files_under(&outside), vec![outside.join("keep")]);
    // The lock file itself a symlink to a file elsewhere: refused, the file untouched.
    std::fs::remove_file(a.join(".tmp")).unwrap();
    std::fs::create_dir_all(a.join(".tmp")).unwrap();
    std::os::unix::fs::symlink(outside.join("keep"), maintenance_lock(&a)).unwrap();
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("symlink"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).unwrap(),
        "keep"
    );
    assert!(count_rows(&a.join("state_5.sqlite"), "threads", "id", T1) == 1);
}
