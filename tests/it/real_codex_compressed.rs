//! Threads compressed by the real Codex's own worker, in every supported release. Codex's
//! rollout compression (`rollout-….jsonl.zst`) is behind the feature
//! `local_thread_store_compression` ("under development", off by default in 0.169 and
//! 0.171); these tests turn it on only for the one Codex run that compresses, then check
//! with Codex running as users run it (flag off).
//!
//! What Codex did here, on 0.169.0 and 0.171.0 alike (the assertions below pin it):
//! - at app-server start its worker takes `flock(LOCK_EX|LOCK_NB)` on
//!   `.tmp/rollout-maintenance.lock`, creates `.tmp/rollout-compression.lock` with `O_EXCL`
//!   (`pid=… started_at=…`), compresses every rollout older than seven days into
//!   `x.jsonl.zst` (temp file, rename, unlink of `x.jsonl`), releases the lock and leaves the
//!   marker; the thread's row keeps naming `x.jsonl`;
//! - with the flag off, `thread/list` (scan and state-DB-only) lists such a thread, and
//!   `codex exec resume` continues it: Codex writes `x.jsonl` again and removes `x.jsonl.zst`;
//! - a scan `thread/list` re-making a lost row of such a thread names `x.jsonl.zst` in it;
//! - while another process holds `.tmp/rollout-maintenance.lock`, the worker compresses
//!   nothing and leaves no marker, and `codex migrate-rollouts --apply` (which takes the same
//!   lock) fails with "rollout compression or another migration is already running".

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_responses::{MockResponses, codex_exec};
use crate::real_codex_sessions::{codex_threads, ids, make};

/// The rollout files of thread `id` under a home's `sessions/`.
fn rollouts_of(home: &Path, id: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = files_under(&home.join("sessions"))
        .into_iter()
        .filter(|f| f.to_string_lossy().contains(id))
        .collect();
    v.sort();
    v
}

/// Make a rollout cold (modified ten days ago): Codex's worker compresses only those.
fn make_cold(path: &Path) {
    let ten_days = Duration::from_secs(10 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - ten_days)
        .unwrap();
}

/// Run `codex app-server` with the compression feature on until `done()` holds (or `secs`
/// pass); whether it held.
fn run_codex_worker(codex: &Path, home: &Path, secs: u64, done: impl Fn() -> bool) -> bool {
    use std::io::Write;
    let mut child = CodexProcess(
        std::process::Command::new(codex)
            .args([
                "-c",
                "features.local_thread_store_compression=true",
                "app-server",
            ])
            .env("CODEX_HOME", home)
            .env_remove("OPENAI_API_KEY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    for msg in [
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "cdxs_test", "title": null, "version": "0"}, "capabilities": {"experimentalApi": false, "requestAttestation": false}}}),
        json!({"method": "initialized"}),
    ] {
        writeln!(stdin, "{msg}").unwrap();
    }
    stdin.flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    done()
}

fn cdxs_json(env: &Env, args: &[&str]) -> Value {
    let out = env.run(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)))
}

fn a_thread_codex_compressed_is_listed_trashed_restored_resumed_and_shared(codex: PathBuf) {
    let mock = MockResponses::start("ok from mock");
    let env = Env::new();
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    let made = make(&codex, &env, &mock, &a, 2);
    let in_b = make(&codex, &env, &mock, &b, 1);
    let (cold, warm) = (made[0].clone(), made[1].clone());
    let plain = rollouts_of(&a, &cold);
    assert_eq!(plain.len(), 1);
    make_cold(&plain[0]);
    // Codex's own worker compresses it.
    let zst = PathBuf::from(format!("{}.zst", plain[0].display()));
    assert!(
        run_codex_worker(&codex, &a, 30, || zst.exists() && !plain[0].exists()),
        "Codex did not compress {}: {:?}",
        plain[0].display(),
        rollouts_of(&a, &cold)
    );
    assert_eq!(
        rollouts_of(&a, &warm).len(),
        1,
        "a fresh rollout stays plain"
    );
    assert_eq!(
        rollout_path_of(&a, &cold).as_deref(),
        Some(plain[0].to_str().unwrap()),
        "Codex's worker leaves the row naming the plain spelling"
    );
    assert!(a.join(".tmp/rollout-compression.lock").is_file());
    // Codex (flag off) lists it from its database and in a scan.
    for db_only in [true, false] {
        assert!(ids(&codex_threads(&codex, &a, db_only)).contains(&cold));
    }

    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  share_threads: [default, b]\n",
        a.display(),
        b.display()
    ));
    // cdxs sees it as Codex does: there, with its size and tokens.
    let list = cdxs_json(&env, &["session", "list", "--json"]);
    let t = list["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == cold.as_str())
        .unwrap()
        .clone();
    assert!(!t["hidden"].to_string().contains("missing_rollout"), "{t}");
    assert_eq!(
        t["size"].as_u64(),
        Some(std::fs::metadata(&zst).unwrap().len())
    );
    let stats = cdxs_json(&env, &["session", "stats", &cold, "--json"]);
    assert_eq!(stats["stats"]["tokens"]["total_tokens"], 107, "{stats}");
    assert_eq!(stats["stats"]["compressed"], true);

    // Shared into b as it is (compressed): Codex there lists it and continues it.
    let out = env.run(&["session", "sync-threads", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let copied = rollouts_of(&b, &cold);
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert!(copied[0].to_string_lossy().ends_with(".jsonl.zst"));
    let mut all: Vec<String> = made.iter().chain(in_b.iter()).cloned().collect();
    all.sort();
    assert_eq!(ids(&codex_threads(&codex, &b, true)), all);
    let resumed = codex_exec(&codex, &b, &env.path("work"), Some(&cold), "go on in b").unwrap();
    assert_eq!(resumed, cold);
    let after = rollouts_of(&b, &cold);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(
        after[0].to_string_lossy().ends_with(".jsonl"),
        "Codex wrote the plain spelling back: {after:?}"
    );

    // Trash in a: Codex no longer lists it, not even after scanning twice.
    let out = env.run(&["session", "trash", &cold]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(rollouts_of(&a, &cold).is_empty());
    for _ in 0..2 {
        assert!(!ids(&codex_threads(&codex, &a, false)).contains(&cold));
    }
    // Restore: back as `.zst`, listed, and `codex exec resume` continues it.
    let out = env.run(&["session", "restore", &cold]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rollouts_of(&a, &cold), vec![zst.clone()]);
    assert!(ids(&codex_threads(&codex, &a, true)).contains(&cold));
    // Codex's own read-repair of a lost row names the `.zst`: also a row cdxs reads as is.
    let db = rusqlite::Connection::open(a.join("state_5.sqlite")).unwrap();
    db.execute("DELETE FROM threads WHERE id = ?1", [&cold])
        .unwrap();
    drop(db);
    assert!(ids(&codex_threads(&codex, &a, false)).contains(&cold));
    assert_eq!(
        rollout_path_of(&a, &cold).as_deref(),
        Some(zst.to_str().unwrap()),
        "Codex's scan re-made the row naming the compressed file"
    );
    let check = cdxs_json(&env, &["session", "visibility", "check", "--json"]);
    assert!(
        !check.to_string().contains(&cold),
        "nothing to repair about it: {check}"
    );
    let resumed = codex_exec(&codex, &a, &env.path("work"), Some(&cold), "continue").unwrap();
    assert_eq!(resumed, cold);
    assert_eq!(
        rollouts_of(&a, &cold),
        vec![plain[0].clone()],
        "the resume turned it back into `.jsonl`"
    );
    let stats = cdxs_json(
        &env,
        &["session", "stats", &cold, "--home", "default", "--json"],
    );
    assert_eq!(stats["stats"]["tokens"]["total_tokens"], 214, "{stats}");
}
codex_matrix!(
    a_thread_codex_compressed_is_listed_trashed_restored_resumed_and_shared,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn codex_does_not_compress_while_the_maintenance_lock_is_held(codex: PathBuf) {
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("h");
    let made = make(&codex, &env, &mock, &home, 1);
    let plain = rollouts_of(&home, &made[0]);
    make_cold(&plain[0]);
    let zst = PathBuf::from(format!("{}.zst", plain[0].display()));
    let marker = home.join(".tmp/rollout-compression.lock");
    // Held the way cdxs holds it during a session write.
    let held = hold_flock(&home.join(".tmp/rollout-maintenance.lock"));
    assert!(
        !run_codex_worker(&codex, &home, 5, || zst.exists() || marker.exists()),
        "Codex compressed while the maintenance lock was held"
    );
    assert!(plain[0].exists());
    // Its migration of legacy rollouts takes the same lock, and refuses while it is held.
    let out = run_codex(&codex, &home, &["migrate-rollouts", "--apply"]);
    assert!(
        !out.status.success()
            && stderr(&out).contains("rollout compression or another migration is already running"),
        "{}",
        text(&out)
    );
    drop(held);
    assert!(
        run_codex_worker(&codex, &home, 30, || zst.exists() && !plain[0].exists()),
        "Codex did not compress once the lock was free"
    );
}
codex_matrix!(
    codex_does_not_compress_while_the_maintenance_lock_is_held,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);
