//! Crafted trash manifests, rollout paths and live threads: no session operation touches a
//! file outside the home, or a thread a running Codex has open.

use super::*;

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
        // Windows under wine cannot make links: there the other ways out are tried.
        if cfg!(unix) {
            cdxs::platform::fs::symlink(&outside, &home.join("sessions/link")).unwrap();
        }
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
            "{H}/relative/../../outside/new-file".to_string(),
            "".to_string(),
        ];
        // Random tails hang off the home or the outside folder: a relative path would
        // resolve against the test's working folder (the repository).
        prop_oneof![
            proptest::sample::select(names.to_vec()),
            "[a-zA-Z0-9./_-]{0,24}".prop_map(|t| format!("{{H}}/{t}")),
            "[a-zA-Z0-9./_-]{0,24}".prop_map(|t| format!("{{O}}/{t}")),
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
        #![proptest_config(ProptestConfig::with_cases(24))]

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
            // A name Windows cannot hold (`a.`, `...`) is no folder a home can have there.
            let made = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(dir.join("r.jsonl"), "stored"));
            prop_assume!(cfg!(unix) || made.is_ok());
            made.unwrap();
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
        #![proptest_config(ProptestConfig::with_cases(16))]
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

/// Two Codex-shaped homes `a` and `c` sharing threads, and a third folder `b` (another
/// home, not shared) whose auth.json holds a key.
fn sharing_homes() -> (Env, PathBuf, PathBuf, PathBuf) {
    let env = Env::new();
    let (a, b, c) = (
        env.codex_home("a"),
        env.codex_home("b"),
        env.codex_home("c"),
    );
    codex_like_home(&a);
    codex_like_home(&c);
    std::fs::create_dir_all(&b).unwrap();
    std::fs::write(
        b.join("auth.json"),
        "{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"sk-secret-of-home-b-123456\"}",
    )
    .unwrap();
    cdxs::platform::fs::set_mode(&b.join("auth.json"), 0o600).unwrap();
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  c: {{ path: {} }}\nsessions:\n  share_threads: [a, c]\n",
        a.display(),
        c.display()
    ));
    (env, a, b, c)
}

#[test]
fn hostile_sync_threads_does_not_copy_another_homes_auth_json_named_by_rollout_path() {
    let (env, a, _b, c) = sharing_homes();
    let crafted = format!("{}/sessions/../../b/auth.json", a.display());
    add_thread(&a, T1, "one", Some(&crafted));
    let out = env.run(&["session", "sync-threads", "--yes"]);
    assert_eq!(
        any_file_contains(&c, b"sk-secret-of-home-b"),
        None,
        "a key from another home was copied: {}",
        text(&out)
    );
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
    // The thread's own rollout is fine to share; nothing else is.
    let plan = env.run(&["plan"]);
    assert!(!stdout(&plan).contains("auth.json"), "{}", text(&plan));
}

#[test]
fn hostile_sync_threads_skips_a_source_thread_a_live_codex_is_appending_to() {
    let (env, a, _b, c) = sharing_homes();
    add_thread(&a, T1, "one", None);
    let lock = hold_writer_lock(&a, T1);
    let out = env.run(&["session", "sync-threads", "--yes"]);
    assert!(
        !c.join("sessions/2026/11/26")
            .join(rollout_name(T1))
            .exists(),
        "a live thread was copied: {}",
        text(&out)
    );
    assert_eq!(
        count_rows(&c.join("state_5.sqlite"), "threads", "id", T1),
        0
    );
    assert!(stderr(&out).contains("running Codex"), "{}", text(&out));
    drop(lock);
    let out = env.run(&["session", "sync-threads", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count_rows(&c.join("state_5.sqlite"), "threads", "id", T1),
        1
    );
}

/// A home where T1's preview is empty (repairable) and T2 is a rollout without a row
/// (an orphan), both held open by a "running Codex".
fn live_threads_needing_repair(extra: &str) -> (Env, PathBuf, [std::fs::File; 2]) {
    let (env, home) = one_home(extra);
    add_thread(&home, T1, "one", None);
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [T1])
        .unwrap();
    let dir = home.join("sessions/2026/11/26");
    std::fs::write(dir.join(rollout_name(T2)), rollout_text(T2, "two", true)).unwrap();
    let locks = [hold_writer_lock(&home, T1), hold_writer_lock(&home, T2)];
    (env, home, locks)
}

fn assert_live_threads_untouched(home: &Path) {
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    let preview: String = db
        .query_row("SELECT preview FROM threads WHERE id = ?1", [T1], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(preview, "", "the row of a live thread was edited");
    assert_eq!(
        count_rows(&home.join("state_5.sqlite"), "threads", "id", T2),
        0,
        "a row was inserted for a live thread"
    );
}

#[test]
fn hostile_visibility_repair_leaves_live_threads_alone() {
    let (env, home, locks) = live_threads_needing_repair("");
    let out = env.run(&["session", "visibility", "repair"]);
    assert_live_threads_untouched(&home);
    assert!(
        stdout(&out).contains("running Codex") || stderr(&out).contains("running Codex"),
        "{}",
        text(&out)
    );
    drop(locks);
    let out = env.run(&["session", "visibility", "repair"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count_rows(&home.join("state_5.sqlite"), "threads", "id", T2),
        1
    );
}

#[test]
fn hostile_auto_repair_in_apply_leaves_live_threads_alone() {
    let (env, home, locks) = live_threads_needing_repair("sessions:\n  auto_repair: true\n");
    let out = env.run(&["apply", "--yes"]);
    assert_live_threads_untouched(&home);
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
    drop(locks);
    assert!(env.run(&["apply", "--yes"]).status.success());
    assert_eq!(
        count_rows(&home.join("state_5.sqlite"), "threads", "id", T2),
        1
    );
}

/// Codex's own defaults for a thread whose rollout does not say (`ThreadMetadataBuilder`:
/// a read-only sandbox, approval on request), as 0.169 and 0.171 store them.
const CODEX_DEFAULT_SANDBOX: &str = r#"{"type":"managed","file_system":{"type":"restricted","entries":[{"path":{"type":"special","value":{"kind":"root"}},"access":"read"}]},"network":"restricted"}"#;

#[test]
fn hostile_repair_inserts_rows_with_codex_defaults_not_permissive_ones() {
    let (env, home) = one_home("");
    let dir = home.join("sessions/2026/11/26");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(rollout_name(T2)), rollout_text(T2, "two", false)).unwrap();
    let out = env.run(&["session", "visibility", "repair"]);
    assert!(out.status.success(), "{}", text(&out));
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    let (approval, sandbox, cwd, source, cli): (String, String, String, String, String) = db
        .query_row(
            "SELECT approval_mode, sandbox_policy, cwd, source, cli_version FROM threads WHERE id = ?1",
            [T2],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(approval, "on-request", "never approve-less by default");
    assert_eq!(
        sandbox, CODEX_DEFAULT_SANDBOX,
        "never an empty sandbox policy"
    );
    assert_eq!(
        (cwd.as_str(), source.as_str(), cli.as_str()),
        ("/w", "cli", "0.171.0"),
        "from session_meta"
    );
}

#[test]
fn hostile_all_homes_never_gives_two_homes_the_same_name() {
    let env = Env::new();
    let declared = env.codex_home("declared-default");
    let codex_default = env.default_codex_home();
    codex_like_home(&declared);
    codex_like_home(&codex_default);
    add_thread(&declared, T1, "one", None);
    add_thread(&codex_default, T2, "two", None);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        declared.display()
    ));
    let out = env.run(&["session", "list", "--all-homes", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let mut names: Vec<String> = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["home"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 2, "two homes, two names: {v}");
    // Name-keyed operations then reach the right home.
    let out = env.run(&["session", "sync-threads", "--all-homes", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    for home in [&declared, &codex_default] {
        for id in [T1, T2] {
            assert_eq!(
                count_rows(&home.join("state_5.sqlite"), "threads", "id", id),
                1,
                "{} lacks {id}: {}",
                home.display(),
                text(&out)
            );
        }
    }
}

#[test]
fn hostile_trash_checks_the_writer_lock_before_backups_or_messages() {
    let (env, home) = one_home("");
    add_thread(&home, T1, "one", None);
    let _lock = hold_writer_lock(&home, T1);
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("running Codex"), "{}", text(&out));
    assert!(
        !stdout(&out).contains(&format!("trash {T1}")),
        "announced a trash it could not do: {}",
        text(&out)
    );
    assert_eq!(
        files_under(&env.state.join("backups")),
        Vec::<PathBuf>::new(),
        "backed up before checking the lock"
    );
}

/// The row cdxs inserts for a rollout without one carries what Codex's own upsert would:
/// compared column by column with the row the real Codex wrote for the same rollout.
fn hostile_repaired_rows_match_codex_own_rows(codex: PathBuf) {
    use crate::mock_responses::MockResponses;
    use crate::real_codex_sessions::make;
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("main");
    let made = make(&codex, &env, &mock, &home, 1);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        home.display()
    ));
    const COLUMNS: &str = "rollout_path, created_at, source, model_provider, cwd, title, sandbox_policy, approval_mode, tokens_used, archived, cli_version, first_user_message, preview, model, reasoning_effort, thread_source, history_mode, originator, memory_mode";
    let row = |id: &str| -> Vec<rusqlite::types::Value> {
        let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
        db.query_row(
            &format!("SELECT {COLUMNS} FROM threads WHERE id = ?1"),
            [id],
            |r| (0..19).map(|i| r.get(i)).collect(),
        )
        .unwrap()
    };
    let codex_row = row(&made[0]);
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute("DELETE FROM threads WHERE id = ?1", [&made[0]])
        .unwrap();
    drop(db);
    let out = env.run(&["session", "visibility", "repair"]);
    assert!(out.status.success(), "{}", text(&out));
    let ours = row(&made[0]);
    let names: Vec<&str> = COLUMNS.split(", ").collect();
    for (i, name) in names.iter().enumerate() {
        if *name == "created_at" {
            continue;
        }
        assert_eq!(
            ours[i], codex_row[i],
            "column `{name}` differs from Codex's own row"
        );
    }
    // `created_at`: Codex's backfill (`builder_from_session_meta`) takes the session_meta
    // timestamp, which cdxs does too; the row a live Codex wrote took its clock a moment
    // earlier, so the two may straddle a second.
    let rollout = match &codex_row[0] {
        rusqlite::types::Value::Text(p) => PathBuf::from(p),
        other => panic!("rollout_path {other:?}"),
    };
    let first = std::fs::read_to_string(&rollout).unwrap();
    let meta: Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    let started =
        chrono::DateTime::parse_from_rfc3339(meta["payload"]["timestamp"].as_str().unwrap())
            .unwrap()
            .timestamp();
    let secs = |v: &rusqlite::types::Value| match v {
        rusqlite::types::Value::Integer(n) => *n,
        other => panic!("created_at {other:?}"),
    };
    assert_eq!(
        secs(&ours[1]),
        started,
        "created_at is the session_meta timestamp"
    );
    assert!(
        (secs(&codex_row[1]) - started).abs() <= 1,
        "Codex's live row: {} vs session_meta {started}",
        secs(&codex_row[1])
    );
}
crate::codex_matrix!(
    hostile_repaired_rows_match_codex_own_rows,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

#[test]
fn hostile_trash_list_names_the_crafted_entries_it_skips() {
    let (env, home, _) = home_with_dotdot_trash("");
    let out = env.run(&["session", "trash-list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("skipped trash entry `crafted`")
            && stderr(&out).contains("not a Codex thread id"),
        "{}",
        text(&out)
    );
    assert!(home.exists());
}
