//! Every supported Codex release, and the next one: the structural gate against databases
//! the real Codex wrote (0.169.0 and 0.171.0), homes moved between releases, the per-thread
//! rows 0.171 added (`session_model_ids`), and synthetic "next releases" made from a real
//! 0.171 home.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde_json::Value;

use cdxs::codex::schema::{self, Db, RELEASES, Structure};

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_responses::{MockResponses, codex_exec};
use crate::real_codex_sessions::{codex_threads, copy_dir, ids, make};

fn max_version(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("SELECT MAX(version) FROM _sqlx_migrations", [], |r| {
            r.get(0)
        })
        .unwrap()
}

fn session_env(home: &Path) -> Env {
    let env = Env::new();
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        home.display()
    ));
    env
}

/// The newest release; a test that uses it carries the `cdxs_no_codex_0_171_0` ignore.
fn newest() -> PathBuf {
    codex_release(RELEASES[RELEASES.len() - 1].codex)
}

/// The dumps cdxs carries are what each release really writes, and cdxs reads the same
/// structure from the live databases.
fn each_release_writes_the_structure_cdxs_knows(codex: PathBuf) {
    let version = codex_version(&codex);
    let release = RELEASES
        .iter()
        .find(|r| r.codex == version)
        .unwrap_or_else(|| panic!("codex {version} is not in schema::RELEASES"));
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("h");
    make(&codex, &env, &mock, &home, 1);
    for (db, file, want) in [
        (Db::State, "state_5.sqlite", release.state),
        (Db::History, "thread_history_1.sqlite", release.history),
    ] {
        let path = home.join(file);
        assert_eq!(max_version(&path), want, "{file} of Codex {version}");
        let live = Structure::read(&Connection::open(&path).unwrap()).unwrap();
        let known = schema::known_structure(db, want).unwrap();
        assert_eq!(
            live.render(),
            known.render(),
            "{file} of Codex {version} differs from src/codex/schema"
        );
        assert_eq!(
            schema::judge(db, want, &Connection::open(&path).unwrap()).unwrap(),
            schema::Verdict::Known {
                codex: release.codex
            }
        );
    }
    // And `doctor` says so, without needing anything done.
    let out = env
        .cdxs()
        .env("CODEX_HOME", &home)
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let home_report = v["homes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["path"] == home.to_str().unwrap())
        .unwrap_or_else(|| panic!("{v}"))
        .clone();
    assert_eq!(home_report["databases"][0]["version"], release.state, "{v}");
    assert_eq!(home_report["databases"][0]["verdict"], "known", "{v}");
    assert_eq!(home_report["databases"][1]["version"], release.history);
}
codex_matrix!(
    each_release_writes_the_structure_cdxs_knows,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

/// Before: `session trash` on a 0.171 home failed with "migrated by a newer Codex (schema
/// 64)"; restore, purge, repair and sync-threads too.
#[test]
#[cfg_attr(
    windows,
    ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
)]
#[cfg_attr(
    cdxs_no_codex_0_171_0,
    ignore = "the real Codex CLI 0.171.0 is not installed (scripts/install-codex.sh)"
)]
fn a_home_codex_0_171_migrated_is_written() {
    let codex = newest();
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("h");
    let made = make(&codex, &env, &mock, &home, 2);
    assert_eq!(max_version(&home.join("state_5.sqlite")), 64);
    let env = session_env(&home);
    let out = env.run(&["session", "trash", &made[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stderr(&out).contains("only reads"), "{}", text(&out));
    assert_eq!(
        ids(&codex_threads(&codex, &home, false)),
        vec![made[1].clone()]
    );
    let out = env.run(&["session", "restore", &made[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(codex_threads(&codex, &home, true).len(), 2);
}

/// Codex 0.171 keeps per-thread rows in `session_model_ids` (keyed by `session_id`, no
/// `thread_id`): they are saved with a trashed thread, removed, restored and copied.
#[test]
#[cfg_attr(
    windows,
    ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
)]
#[cfg_attr(
    cdxs_no_codex_0_171_0,
    ignore = "the real Codex CLI 0.171.0 is not installed (scripts/install-codex.sh)"
)]
fn session_model_ids_rows_travel_with_their_thread() {
    let codex = newest();
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    let made = make(&codex, &env, &mock, &a, 2);
    make(&codex, &env, &mock, &b, 1);
    let count = |home: &Path, id: &str| -> i64 {
        Connection::open(home.join("state_5.sqlite"))
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM session_model_ids WHERE session_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    // What Codex 0.171 writes there for a session (its columns and CHECKs).
    let db = Connection::open(a.join("state_5.sqlite")).unwrap();
    db.execute(
        "INSERT INTO session_model_ids (session_id, kind, external_key, ordinal, initial_state) \
         VALUES (?1, 'model', 'gpt-5.1', 0, '{}'), (?1, 'model', 'gpt-5.2', 1, NULL)",
        [&made[0]],
    )
    .unwrap();
    drop(db);
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  b: {{ path: {} }}\n",
        a.display(),
        b.display()
    ));
    let out = env.run(&["session", "trash", &made[0], "--home", "a"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&a, &made[0]), 0, "removed with the thread");
    let manifest = read_json(&a.join("cdxs-trash").join(&made[0]).join("manifest.json"));
    let saved: Vec<&Value> = manifest["state_rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] == "session_model_ids")
        .collect();
    assert_eq!(saved.len(), 1, "{manifest}");
    assert_eq!(saved[0]["rows"].as_array().unwrap().len(), 2);
    assert!(!ids(&codex_threads(&codex, &a, false)).contains(&made[0]));

    let out = env.run(&["session", "restore", &made[0], "--home", "a"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&a, &made[0]), 2, "restored with the thread");
    assert!(ids(&codex_threads(&codex, &a, true)).contains(&made[0]));

    let out = env.run(&["session", "sync-threads", "--all-homes", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(count(&b, &made[0]), 2, "copied with the thread");
    assert!(ids(&codex_threads(&codex, &b, true)).contains(&made[0]));
    // Codex in the other home continues it.
    let resumed = codex_exec(&codex, &b, &env.path("work"), Some(&made[0]), "more").unwrap();
    assert_eq!(resumed, made[0]);
}

/// A copy of a real 0.171 home with one more migration row, as the next release might
/// leave it: `extra` is the migration's SQL.
fn next_release_home(codex: &Path, env: &Env, extra: &str) -> (PathBuf, Vec<String>) {
    let mock = MockResponses::start("ok");
    let made_in = env.codex_home("made");
    let made = make(codex, env, &mock, &made_in, 2);
    let home = env.codex_home("next");
    copy_dir(&made_in, &home);
    let db = Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute_batch(&format!(
        "BEGIN; {extra}; INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (65, 'next release', 1, x'00', 0); COMMIT;"
    ))
    .unwrap();
    (home, made)
}

#[test]
#[cfg_attr(
    windows,
    ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
)]
#[cfg_attr(
    cdxs_no_codex_0_171_0,
    ignore = "the real Codex CLI 0.171.0 is not installed (scripts/install-codex.sh)"
)]
fn a_next_release_that_only_adds_an_index_is_written_with_a_note() {
    let codex = newest();
    let env = Env::new();
    let (home, made) = next_release_home(
        &codex,
        &env,
        "CREATE INDEX idx_threads_next ON threads(cwd, updated_at_ms)",
    );
    let env = session_env(&home);
    let out = env.run(&["session", "trash", &made[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(
            "note: `state_5.sqlite` is at schema 65, newer than Codex 0.171.0's (64; new: 65 `next release`); what cdxs touches is unchanged, so it writes it"
        ),
        "{}",
        text(&out)
    );
    // Real Codex agrees with what cdxs did in the newer database.
    assert_eq!(
        ids(&codex_threads(&codex, &home, false)),
        vec![made[1].clone()]
    );
    let out = env.run(&["doctor"]);
    assert!(
        stdout(&out).contains("`state_5.sqlite` schema 65 (unknown to cdxs, same structure as Codex 0.171.0's: written)"),
        "{}",
        text(&out)
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
)]
#[cfg_attr(
    cdxs_no_codex_0_171_0,
    ignore = "the real Codex CLI 0.171.0 is not installed (scripts/install-codex.sh)"
)]
fn a_next_release_that_adds_a_column_cdxs_copies_is_refused_precisely() {
    let codex = newest();
    let env = Env::new();
    let (home, made) = next_release_home(
        &codex,
        &env,
        "ALTER TABLE threads ADD COLUMN color TEXT NOT NULL DEFAULT 'none'",
    );
    let env = session_env(&home);
    let db_before = std::fs::read(home.join("state_5.sqlite")).unwrap();
    let out = env.run(&["session", "trash", &made[0]]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let db_path = home.join("state_5.sqlite");
    assert!(
        stderr(&out).contains(&format!(
            "`{}` was migrated by a newer Codex (schema 65) whose structure differs from Codex 0.171.0's (schema 64): `threads`: new column `color TEXT NOT NULL DEFAULT 'none'`; cdxs only reads it",
            db_path.display()
        )),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read(&db_path).unwrap(),
        db_before,
        "nothing written"
    );
    assert!(!home.join("cdxs-trash").exists(), "nothing moved");
    assert_eq!(codex_threads(&codex, &home, true).len(), 2);
    // Listing still works, plan says why its policies skip the home, doctor says what to do.
    assert!(env.run(&["session", "list"]).status.success());
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\nsessions:\n  auto_repair: true\n",
        home.display()
    ));
    let out = env.run(&["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout(&out).contains("new column `color TEXT NOT NULL DEFAULT 'none'`"),
        "{}",
        text(&out)
    );
    let out = env.run(&["doctor"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stdout(&out).contains("-> upgrade cdxs"), "{}", text(&out));
}

/// A home goes back and forth: made by 0.171 (state 64, history 9), then used by 0.169
/// (which keeps the rows it does not know); and a 0.169 home that 0.171 only listed (state
/// 64, history still 8). cdxs writes both, and both Codex releases list what it did.
#[test]
#[cfg_attr(
    windows,
    ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
)]
#[cfg_attr(
    any(cdxs_no_codex_0_169_0, cdxs_no_codex_0_171_0),
    ignore = "the real Codex CLIs 0.169.0 and 0.171.0 are not both installed (scripts/install-codex.sh)"
)]
fn a_home_moved_between_releases_keeps_working() {
    let (old, new) = (codex_release("0.169.0"), codex_release("0.171.0"));
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("h");
    let mut made = make(&new, &env, &mock, &home, 1);
    made.push(codex_exec(&old, &home, &env.path("work"), None, "from 0.169").unwrap());
    assert_eq!(max_version(&home.join("state_5.sqlite")), 64);
    let env2 = session_env(&home);
    let out = env2.run(&["session", "trash", &made[1]]);
    assert!(out.status.success(), "{}", text(&out));
    for codex in [&old, &new] {
        assert_eq!(
            ids(&codex_threads(codex, &home, true)),
            vec![made[0].clone()]
        );
    }

    let home2 = env.codex_home("h2");
    let made2 = make(&old, &env, &mock, &home2, 2);
    codex_threads(&new, &home2, true); // 0.171 opens the state DB only
    assert_eq!(max_version(&home2.join("state_5.sqlite")), 64);
    assert_eq!(max_version(&home2.join("thread_history_1.sqlite")), 8);
    let env3 = session_env(&home2);
    let out = env3.run(&["session", "trash", &made2[0]]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        ids(&codex_threads(&new, &home2, true)),
        vec![made2[1].clone()]
    );
}

/// After a switch, the advice names the app-server `codex exec --remote` runs through.
#[test]
#[cfg_attr(
    windows,
    ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
)]
#[cfg_attr(
    cdxs_no_codex_0_171_0,
    ignore = "the real Codex CLI 0.171.0 is not installed (scripts/install-codex.sh)"
)]
fn a_switch_names_the_app_server_remote_execs_use() {
    let codex = newest();
    let env = Env::new();
    let home = env.codex_home("served");
    std::fs::create_dir_all(&home).unwrap();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    env.import_login(&Login::new("bob@example.com", "acct-bob"));
    env.manifest(&format!(
        "version: 1\naccounts:\n  ann: {{ email: ann@example.com }}\n  bob: {{ email: bob@example.com }}\nhomes:\n  served:\n    path: {}\n    account: ann\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("ws://127.0.0.1:{port}");
    let server = std::process::Command::new(&codex)
        .args(["app-server", "--listen", &listen])
        .env("CODEX_HOME", &home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = CodexProcess(server);
    // Wait until it listens (the process is up and named in /proc).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the app-server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = env.run(&["switch", "bob", "--home", "served"]);
    drop(server);
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains(&format!(
            "(an app-server on {listen}: `codex exec --remote` clients use its cached credentials)"
        )),
        "{all}"
    );
}
