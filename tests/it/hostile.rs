//! Hostile input (issue 9): files in a home, trash manifests, the environment and the
//! network are untrusted. One test per case found in a sandbox, each named after the bug
//! it pins; property tests that no crafted trash manifest or rollout path makes an
//! operation touch a file outside the home.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::*;

const T1: &str = "0199bbbb-0000-7000-8000-000000000001";
const T2: &str = "0199bbbb-0000-7000-8000-000000000002";
const T9: &str = "0199bbbb-0000-7000-8000-000000000009";

/// An Env whose manifest declares one Codex-shaped home `default` with `extra` appended.
fn one_home(extra: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let home = env.codex_home("h");
    codex_like_home(&home);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n{extra}",
        home.display()
    ));
    (env, home)
}

/// A trash manifest as cdxs writes it, with the given fields replaced.
fn trash_manifest(id: &str, home: &Path, fields: Value) -> Value {
    let mut m = json!({
        "version": 1, "id": id, "home": home, "trashed_at": 0,
        "name": null, "preview": "crafted", "files": [], "thread": null,
        "state_rows": [], "history_rows": [], "index_lines": [], "stage": "done"
    });
    for (k, v) in fields.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

fn write_json(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// A home whose trash holds an entry claiming the id `..` (and the `manifest.json` that id
/// would make cdxs read next to the home's databases).
fn home_with_dotdot_trash(extra: &str) -> (Env, PathBuf, PathBuf) {
    let (env, home) = one_home(extra);
    let rollout = add_thread(&home, T1, "keep me", None);
    let m = trash_manifest("..", &home, json!({}));
    write_json(&home.join("cdxs-trash/crafted/manifest.json"), &m);
    write_json(&home.join("manifest.json"), &m);
    (env, home, rollout)
}

fn assert_home_intact(home: &Path, rollout: &Path) {
    assert!(
        home.join("state_5.sqlite").exists(),
        "the home's database is gone"
    );
    assert!(rollout.exists(), "the home's rollout is gone");
    assert_eq!(thread_count(home), 1);
}

#[test]
fn hostile_purge_of_a_trash_entry_named_dotdot_keeps_the_home() {
    let (env, home, rollout) = home_with_dotdot_trash("");
    let out = env.run(&["session", "purge", "--older-than", "0s", "--yes"]);
    assert_home_intact(&home, &rollout);
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
}

#[test]
fn hostile_apply_with_trash_max_age_and_a_trash_entry_named_dotdot_keeps_the_home() {
    let (env, home, rollout) = home_with_dotdot_trash("sessions:\n  trash_max_age: 0s\n");
    let out = env.run(&["apply", "--yes"]);
    assert_home_intact(&home, &rollout);
    assert!(
        !stdout(&out).contains("trash.default.purge[..]"),
        "a trash entry whose id is not a thread id is never planned: {}",
        text(&out)
    );
}

#[test]
fn hostile_restore_of_a_crafted_trash_manifest_writes_and_moves_nothing_outside_the_home() {
    let (env, home) = one_home("");
    let autostart = env.home.join(".config/autostart/evil.desktop");
    let key = env.home.join(".ssh/id_rsa.pub");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "ssh-ed25519 AAAA me@host").unwrap();
    let entry = home.join("cdxs-trash").join(T9);
    std::fs::create_dir_all(&entry).unwrap();
    std::fs::write(
        entry.join("evil.desktop"),
        "[Desktop Entry]\nExec=sh -c pwned\n",
    )
    .unwrap();
    let m = trash_manifest(
        T9,
        &home,
        json!({
            "stage": "saved",
            "files": [
                {"original": autostart, "stored": "evil.desktop"},
                {"original": home.join("sessions/2026/11/26").join(rollout_name(T9)),
                 "stored": "../../../../home/.ssh/id_rsa.pub"},
            ]
        }),
    );
    write_json(&entry.join("manifest.json"), &m);
    let out = env.run(&["session", "restore", T9]);
    assert_eq!(
        code(&out),
        1,
        "a crafted manifest is refused: {}",
        text(&out)
    );
    assert!(
        !autostart.exists(),
        "restore created a file outside the home"
    );
    assert!(key.exists(), "restore moved a file from outside the home");
    assert!(
        !home
            .join("sessions/2026/11/26")
            .join(rollout_name(T9))
            .exists(),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("trash"), "{}", text(&out));
}

#[test]
fn hostile_trash_manifest_table_names_and_rows_never_reach_other_threads() {
    let (env, home) = one_home("");
    add_thread(&home, T1, "one", None);
    add_thread(&home, T2, "two", None);
    // An interrupted trash of T1 whose manifest names tables by SQL fragments.
    let crafted = [
        "threads",
        "threads\" WHERE 1=1 --",
        "threads WHERE 1 = 1; --",
        "thread_dynamic_tools\" OR 1=1 --",
    ];
    let tables: Vec<Value> = crafted
        .iter()
        .map(|t| json!({"table": t, "rows": []}))
        .collect();
    let m = trash_manifest(
        T1,
        &home,
        json!({"stage": "files_moved", "state_rows": tables, "history_rows": tables}),
    );
    write_json(&home.join("cdxs-trash").join(T1).join("manifest.json"), &m);
    let out = env.run(&["session", "trash", T1]);
    assert!(out.status.success(), "{}", text(&out));
    let db = home.join("state_5.sqlite");
    assert_eq!(count_rows(&db, "threads", "id", T2), 1, "T2 lost its row");
    assert_eq!(count_rows(&db, "thread_dynamic_tools", "thread_id", T2), 1);
    assert_eq!(count_rows(&db, "threads", "id", T1), 0);
    // Restoring a manifest whose saved rows belong to another thread clobbers nothing.
    let other_row = json!([["id", {"t": "text", "v": T2}], ["rollout_path", {"t": "text", "v": "/etc/passwd"}],
        ["created_at", {"t": "int", "v": 1}], ["updated_at", {"t": "int", "v": 1}],
        ["source", {"t": "text", "v": "cli"}], ["model_provider", {"t": "text", "v": "x"}],
        ["cwd", {"t": "text", "v": "/"}], ["title", {"t": "text", "v": "hijacked"}],
        ["sandbox_policy", {"t": "text", "v": "{}"}], ["approval_mode", {"t": "text", "v": "never"}]]);
    let tool_row = json!([["thread_id", {"t": "text", "v": T2}], ["position", {"t": "int", "v": 0}],
        ["name", {"t": "text", "v": "evil"}], ["description", {"t": "text", "v": "d"}],
        ["input_schema", {"t": "text", "v": "{}"}]]);
    let m = trash_manifest(
        T1,
        &home,
        json!({"thread": other_row, "state_rows": [{"table": "thread_dynamic_tools", "rows": [tool_row]}],
               "index_lines": [format!("{{\"id\":\"{T2}\",\"thread_name\":\"hijacked\",\"updated_at\":\"2026-11-26T00:00:00Z\"}}")]}),
    );
    write_json(&home.join("cdxs-trash").join(T1).join("manifest.json"), &m);
    let _ = env.run(&["session", "restore", T1]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let title: String = conn
        .query_row("SELECT title FROM threads WHERE id = ?1", [T2], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(title, "two", "restore replaced another thread's row");
    let tool: String = conn
        .query_row(
            "SELECT name FROM thread_dynamic_tools WHERE thread_id = ?1",
            [T2],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(tool, "tool");
    let index = std::fs::read_to_string(home.join("session_index.jsonl")).unwrap_or_default();
    assert!(
        !index.contains("hijacked"),
        "restore renamed another thread: {index}"
    );
}

#[test]
fn hostile_trash_does_not_move_a_file_outside_the_home_named_by_rollout_path() {
    let (env, home) = one_home("");
    let victim = home.parent().unwrap().join("victim.txt");
    std::fs::write(&victim, "not a rollout").unwrap();
    let crafted = format!("{}/sessions/../../victim.txt", home.display());
    let real = add_thread(&home, T1, "one", Some(&crafted));
    let out = env.run(&["session", "trash", T1]);
    assert!(
        victim.exists(),
        "trash moved a file from outside the home: {}",
        text(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not a rollout");
    assert!(out.status.success(), "{}", text(&out));
    assert!(!real.exists(), "the thread's own rollout went to the trash");
    // Restore puts back only what trash took.
    let out = env.run(&["session", "restore", T1]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(real.exists() && victim.exists());
}

mod confinement {
    //! Property tests: whatever a trash manifest or a `threads.rollout_path` says, no
    //! operation creates, changes, moves or removes a file outside the home.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use cdxs::backup::Backups;
    use cdxs::sessions::{HomeRef, share, trash, visibility};
    use proptest::prelude::*;
    use serde_json::json;

    use super::{T1, T9, write_json};
    use crate::harness::*;

    struct World {
        _dir: tempfile::TempDir,
        root: PathBuf,
        home: HomeRef,
        outside: PathBuf,
    }

    /// A home with thread T1, and next to it a folder of files that must never change
    /// (reachable through `..`, absolute paths, and a symlink inside the home).
    fn world() -> World {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/it-tmp");
        std::fs::create_dir_all(&base).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("p")
            .tempdir_in(&base)
            .unwrap();
        let root = dir.path().to_path_buf();
        let home = root.join("home");
        codex_like_home(&home);
        add_thread(&home, T1, "one", None);
        let outside = root.join("outside");
        std::fs::create_dir_all(outside.join("sessions/2026")).unwrap();
        std::fs::write(outside.join("sentinel"), "OUTSIDE-MARKER sentinel").unwrap();
        std::fs::write(outside.join(rollout_name(T9)), "OUTSIDE-MARKER rollout").unwrap();
        std::fs::write(
            outside.join("sessions/2026").join(rollout_name(T1)),
            "OUTSIDE-MARKER dated",
        )
        .unwrap();
        std::os::unix::fs::symlink(&outside, home.join("sessions/link")).unwrap();
        std::fs::create_dir_all(home.join("archived_sessions")).unwrap();
        World {
            home: HomeRef {
                name: "h".into(),
                path: home,
            },
            outside,
            root,
            _dir: dir,
        }
    }

    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        for f in files_under(dir) {
            out.insert(f.clone(), std::fs::read(&f).unwrap());
        }
        for e in walkdir_all(dir) {
            out.entry(e).or_default();
        }
        out
    }

    /// Every entry (files, folders, symlinks) below `dir`.
    fn walkdir_all(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                out.push(e.path());
                if e.file_type().unwrap().is_dir() {
                    out.extend(walkdir_all(&e.path()));
                }
            }
        }
        out
    }

    /// Paths a crafted file may name, spelled from the home (`{H}`) or the outside (`{O}`).
    fn path_strategy() -> impl Strategy<Value = String> {
        let names = [
            "{O}/sentinel".to_string(),
            format!("{{O}}/{}", rollout_name(T9)),
            format!("{{H}}/sessions/../../outside/{}", rollout_name(T9)),
            format!("{{H}}/sessions/link/{}", rollout_name(T9)),
            format!("{{H}}/sessions/link/2026/{}", rollout_name(T1)),
            format!("{{H}}/sessions/2026/11/26/{}", rollout_name(T9)),
            format!("{{H}}/sessions/2026/11/26/{}", rollout_name(T1)),
            format!("{{H}}/archived_sessions/{}", rollout_name(T9)),
            "{H}/auth.json".to_string(),
            "{H}/../outside/sentinel".to_string(),
            "{O}/new-file".to_string(),
            "relative/path".to_string(),
            "".to_string(),
        ];
        prop_oneof![
            proptest::sample::select(names.to_vec()),
            "[a-zA-Z0-9./{}HO_-]{0,24}",
        ]
    }

    fn spell(w: &World, s: &str) -> String {
        s.replace("{H}", &w.home.path.to_string_lossy())
            .replace("{O}", &w.outside.to_string_lossy())
    }

    fn check_outside(w: &World, before: &BTreeMap<PathBuf, Vec<u8>>) {
        assert_eq!(
            &snapshot(&w.outside),
            before,
            "a file outside the home changed"
        );
        // Nothing new next to the home either.
        let top: Vec<String> = std::fs::read_dir(&w.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut top = top;
        top.sort();
        assert!(
            top.iter()
                .all(|n| n == "home" || n == "outside" || n == "state"),
            "{top:?}"
        );
        assert!(
            w.home.path.join("state_5.sqlite").exists(),
            "the home lost its database"
        );
        // Nor was a file from outside copied or moved into the home.
        assert_eq!(any_file_contains(&w.home.path, b"OUTSIDE-MARKER"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn hostile_no_crafted_trash_manifest_touches_a_file_outside_the_home(
            entry in prop_oneof![Just(T9.to_string()), Just(T1.to_string()), Just("..".to_string()), "[a-z.]{1,6}"],
            id in prop_oneof![Just(T9.to_string()), Just(T1.to_string()), Just("..".to_string()), Just("../outside".to_string()), "[a-z./]{0,10}"],
            originals in proptest::collection::vec(path_strategy(), 0..4),
            stored in proptest::collection::vec(prop_oneof![
                Just("r.jsonl".to_string()), Just("../../../outside/sentinel".to_string()),
                Just("..".to_string()), Just("".to_string()), Just("/etc/hostname".to_string()),
                "[a-z./]{0,12}"], 0..4),
            stage in prop_oneof![Just("saved"), Just("files_moved"), Just("done")],
        ) {
            let w = world();
            let before = snapshot(&w.outside);
            std::fs::create_dir_all(w.home.path.join("cdxs-trash")).unwrap();
            let dir = w.home.path.join("cdxs-trash").join(&entry);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("r.jsonl"), "stored").unwrap();
            let files: Vec<_> = originals
                .iter()
                .zip(stored.iter().chain(std::iter::repeat(&"r.jsonl".to_string())))
                .map(|(o, s)| json!({"original": spell(&w, o), "stored": s}))
                .collect();
            let m = super::trash_manifest(&id, &w.home.path, json!({"stage": stage, "files": files}));
            write_json(&dir.join("manifest.json"), &m);
            if entry == ".." || id == ".." {
                write_json(&w.home.path.join("manifest.json"), &m);
            }
            let state = w.root.join("state");
            let mut backups = Backups::new(&state, "t");
            let all = cdxs::codex::rollout::list(&w.home.path);
            for q in [id.as_str(), entry.as_str(), T9, T1] {
                let _ = trash::restore_one(&w.home, q);
                let _ = trash::purge_one(&w.home, q);
                let _ = trash::trash_one(&w.home, q, &all, &mut backups, 0);
            }
            for (_, m) in trash::entries(&w.home).unwrap_or_default() {
                let _ = trash::restore_one(&w.home, &m.id);
                let _ = trash::purge_one(&w.home, &m.id);
            }
            check_outside(&w, &before);
        }

    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn hostile_no_crafted_rollout_path_makes_an_operation_touch_a_file_outside_the_home(
            paths in proptest::collection::vec(path_strategy(), 1..3),
        ) {
            let w = world();
            let before = snapshot(&w.outside);
            // Rows for T9 and T1 name crafted rollout paths; a second home shares threads.
            let db = rusqlite::Connection::open(w.home.path.join("state_5.sqlite")).unwrap();
            let p0 = spell(&w, &paths[0]);
            db.execute("UPDATE threads SET rollout_path = ?1 WHERE id = ?2", rusqlite::params![p0, T1]).unwrap();
            if let Some(p1) = paths.get(1) {
                db.execute(
                    "INSERT INTO threads (id, rollout_path, created_at, updated_at, source, model_provider, cwd, title, sandbox_policy, approval_mode, preview) VALUES (?1, ?2, 1, 1, 'cli', 'openai', '/w', 't', '{}', 'on-request', 't')",
                    rusqlite::params![T9, spell(&w, p1)],
                ).unwrap();
            }
            drop(db);
            let other = HomeRef { name: "o".into(), path: w.root.join("home/other-home") };
            codex_like_home(&other.path);
            let mut backups = Backups::new(&w.root.join("state"), "t");
            let all = cdxs::codex::rollout::list(&w.home.path);
            let _ = trash::trash_one(&w.home, T1, &all, &mut backups, 0);
            let _ = trash::trash_one(&w.home, T9, &all, &mut backups, 0);
            let _ = trash::restore_one(&w.home, T1);
            if let Ok(issues) = visibility::check(&w.home, &mut visibility::Direct) {
                let _ = visibility::repair(&w.home, &issues, &mut visibility::Direct, 0);
            }
            let homes = vec![
                (w.home.clone(), share::home_threads(&w.home).unwrap_or_default()),
                (other.clone(), share::home_threads(&other).unwrap_or_default()),
            ];
            for c in share::plan_copies(&homes) {
                let (from, to) = if c.from == "h" { (&w.home, &other) } else { (&other, &w.home) };
                let _ = share::copy(from, to, &c, chrono::Utc::now());
            }
            check_outside(&w, &before);
        }
    }
}
