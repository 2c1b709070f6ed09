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
    std::fs::set_permissions(
        b.join("auth.json"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
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
    let out = env.run(&["session", "sync-threads"]);
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
    let out = env.run(&["session", "sync-threads"]);
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
    let out = env.run(&["session", "sync-threads"]);
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
    let out = env.run(&["session", "sync-threads", "--all-homes"]);
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
        assert_eq!(
            ours[i], codex_row[i],
            "column `{name}` differs from Codex's own row"
        );
    }
}
crate::codex_matrix!(hostile_repaired_rows_match_codex_own_rows);

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

/// No part of a secret that is longer than a fingerprint shows in `s`.
fn assert_no_secret(s: &str, secret: &str) {
    for w in secret.as_bytes().windows(12) {
        let part = std::str::from_utf8(w).unwrap();
        assert!(!s.contains(part), "`{part}` of a secret is shown:\n{s}");
    }
}

#[test]
fn hostile_an_api_key_pasted_as_api_key_env_is_not_quoted_in_the_diagnostic() {
    let key = "sk-proj-AbCdEf0123456789GhIjKl0123456789";
    let env = Env::new();
    env.manifest(&format!(
        "version: 1\naccounts:\n  ci: {{ api_key_env: \"{key}\" }}\nhomes:\n  default: {{ path: ~/.codex, account: ci }}\n"
    ));
    let out = env.run(&["validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("api_key_env"), "{}", text(&out));
    assert_no_secret(&text(&out), key);
}

#[test]
fn hostile_validate_on_an_auth_json_shows_no_key_line() {
    let key = "sk-live-1234567890abcdefghijKLMNOP";
    let env = Env::new();
    let f = env.work.join("auth.json");
    std::fs::write(
        &f,
        format!("{{\"auth_mode\":\"apikey\",\"OPENAI_API_KEY\":\"{key}\"}}"),
    )
    .unwrap();
    let out = env.run(&["-f", f.to_str().unwrap(), "validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_secret(&text(&out), key);
    assert!(stderr(&out).contains("auth.json"), "{}", text(&out));
}

#[test]
fn hostile_validate_on_a_dotenv_file_shows_no_key_line() {
    let key = "sk-proj-ZyXwVu9876543210ZyXwVu98765";
    let env = Env::new();
    let f = env.work.join(".env");
    std::fs::write(&f, format!("# secrets\nOPENAI_API_KEY={key}\nOTHER=1\n")).unwrap();
    let out = env.run(&["-f", f.to_str().unwrap(), "validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_no_secret(&text(&out), key);
}

/// A home whose `auth.json` holds an API key, an account to switch it to, and the
/// account's id.
fn home_with_key(env: &Env, key: &str) -> (PathBuf, String) {
    let home = env.codex_home("locked");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("auth.json"),
        format!("{{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"{key}\"\n}}"),
    )
    .unwrap();
    (home, env.add_api_key_id("sk-other-account-000000000000"))
}

#[test]
fn hostile_a_lock_timeout_never_prints_what_a_symlinked_lock_file_points_at() {
    let key = "sk-in-auth-json-0123456789abcdefgh";
    let env = Env::new();
    let (home, id) = home_with_key(&env, key);
    std::os::unix::fs::symlink("auth.json", home.join("auth.lock")).unwrap();
    // Someone holds a lock on the file the link points at.
    let held = std::fs::File::open(home.join("auth.json")).unwrap();
    held.lock().unwrap();
    let out = env
        .cdxs()
        .env("CDXS_LOCK_TIMEOUT", "1")
        .args(["switch", &id, "--codex-home", home.to_str().unwrap()])
        .output()
        .unwrap();
    assert_ne!(code(&out), 0, "{}", text(&out));
    assert_no_secret(&text(&out), key);
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
    let still = std::fs::read_to_string(home.join("auth.json")).unwrap();
    assert!(
        still.contains(key),
        "auth.json was changed through a symlinked lock"
    );
}

#[test]
fn hostile_lock_files_are_not_created_through_symlinks() {
    let env = Env::new();
    let (home, id) = home_with_key(&env, "sk-in-auth-json-0123456789abcdefgh");
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("made-by-cdxs"), home.join("auth.lock")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("also-made"), home.join("auth.json.lock")).unwrap();
    let out = env.run(&["switch", &id, "--codex-home", home.to_str().unwrap()]);
    assert!(
        !elsewhere.join("made-by-cdxs").exists() && !elsewhere.join("also-made").exists(),
        "a lock file was created through a symlink: {}",
        text(&out)
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("symlink"), "{}", text(&out));
}

#[test]
fn hostile_token_response_debug_shows_no_token() {
    let resp = cdxs::auth::refresh::TokenResponse {
        id_token: Some("eyJhbGciOi.id-token-secret-value.sig".into()),
        access_token: Some("access-token-secret-value".into()),
        refresh_token: Some("rt_refresh-token-secret-value".into()),
    };
    let shown = format!("{resp:?} {resp:#?}");
    for secret in [
        "id-token-secret",
        "access-token-secret",
        "refresh-token-secret",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn hostile_an_imported_api_key_with_nul_or_escape_is_refused() {
    for key in [
        "sk-abc\u{1b}]0;pwned\u{7}def0123",
        "sk-abc\u{0}def0123456789",
    ] {
        let env = Env::new();
        let f = env.path("auth.json");
        std::fs::write(
            &f,
            json!({"auth_mode": "apikey", "OPENAI_API_KEY": key}).to_string(),
        )
        .unwrap();
        let out = env.run(&["import", "auth", "--file", f.to_str().unwrap()]);
        assert_eq!(code(&out), 1, "{key:?}: {}", text(&out));
        assert!(
            env.accounts_json()["accounts"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{key:?} went into the vault"
        );
        assert!(!text(&out).contains('\u{1b}'), "{}", text(&out));
    }
}

#[test]
fn hostile_a_base_url_carrying_a_token_is_refused_and_never_shown() {
    let env = Env::new();
    let url = "https://gw.example.com/v1?token=abc123topsecret456";
    let out = env
        .cdxs()
        .args([
            "account",
            "add-api-key",
            "--api-key-stdin",
            "--base-url",
            url,
        ])
        .write_stdin("sk-gateway-key-0123456789")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!text(&out).contains("abc123topsecret456"), "{}", text(&out));
    assert!(
        env.accounts_json()["accounts"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    env.manifest(&format!(
        "version: 1\naccounts:\n  gw: {{ api_key_env: GW_KEY, base_url: \"{url}\" }}\n"
    ));
    let out = env.run(&["validate"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!text(&out).contains("abc123topsecret456"), "{}", text(&out));
}

#[test]
fn hostile_a_broken_codex_database_is_not_called_the_vault() {
    let (env, home) = one_home("");
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute_batch("DROP TABLE threads;").unwrap();
    drop(db);
    let out = env.run(&["session", "list"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!stderr(&out).contains("vault"), "{}", text(&out));
    assert!(stderr(&out).contains("state_5.sqlite"), "{}", text(&out));
}

#[test]
fn hostile_cdxs_lock_timeout_inf_or_huge_is_not_a_panic() {
    for value in ["inf", "1e19", "NaN", "-5", "18446744073709551616", "abc"] {
        let env = Env::new();
        let (home, id) = home_with_key(&env, "sk-in-auth-json-0123456789abcdefgh");
        let out = env
            .cdxs()
            .env("CDXS_LOCK_TIMEOUT", value)
            .args(["switch", &id, "--codex-home", home.to_str().unwrap()])
            .output()
            .unwrap();
        assert_ne!(code(&out), 101, "{value}: {}", text(&out));
        assert!(
            !stderr(&out).contains("internal error"),
            "{value}: {}",
            text(&out)
        );
        assert!(out.status.success(), "{value}: {}", text(&out));
    }
}

#[test]
fn hostile_a_huge_cdxs_login_timeout_is_a_clean_error() {
    for value in ["18446744073709551615", "99999999999", "-1", "soon"] {
        let env = Env::new();
        let out = env
            .cdxs()
            .env("CDXS_LOGIN_TIMEOUT", value)
            .env("BROWSER", "/bin/false")
            .args(["login", "oauth", "--no-browser", "--port", "0"])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{value}: {}", text(&out));
        assert!(
            stderr(&out).contains("CDXS_LOGIN_TIMEOUT"),
            "{value}: {}",
            text(&out)
        );
    }
}

#[test]
fn hostile_quota_percentages_must_be_finite_numbers_from_0_to_100() {
    for bad in [
        json!("NaN"),
        json!("inf"),
        json!("-inf"),
        json!("1e999"),
        json!("nan"),
    ] {
        let q = cdxs::quota::parse(
            &json!({"rate_limit": {"primary_window": {"used_percent": bad}, "secondary_window": {"used_percent": 10}}}),
            1_800_000_000,
        );
        let all = [q.five_hour, q.weekly];
        for w in all.iter().flatten() {
            assert!(
                w.used_percent.is_finite()
                    && w.remaining_percent.is_finite()
                    && (0.0..=100.0).contains(&w.used_percent)
                    && (0.0..=100.0).contains(&w.remaining_percent),
                "{bad}: {w:?}"
            );
        }
        assert!(q.five_hour.is_none(), "{bad} accepted as a percentage");
        let left = q.remaining().unwrap();
        assert!(left.is_finite(), "{bad}: {left}");
    }
}

#[test]
fn hostile_quota_reset_after_seconds_does_not_overflow() {
    for huge in [
        json!(9.2e18),
        json!(i64::MAX),
        json!(1e300),
        json!("9223372036854775807"),
        json!(-9.2e18),
    ] {
        let q = cdxs::quota::parse(
            &json!({"rate_limit": {"primary_window": {"used_percent": 10, "reset_after_seconds": huge}}}),
            1_800_000_000,
        );
        let w = q.five_hour.unwrap();
        if let Some(at) = w.resets_at {
            assert!(
                (1_800_000_000..=1_800_000_000 + 10 * 366 * 86_400).contains(&at),
                "{huge}: reset at {at}"
            );
        }
    }
}

#[test]
fn hostile_a_jwt_with_exp_i64_min_does_not_wrap() {
    let env = Env::new();
    let mut login = Login::new("wrap@example.com", "acct-wrap");
    login.exp = i64::MIN;
    login.iat = i64::MIN;
    env.import_login(&login);
    let out = env.run(&["account", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stderr(&out).contains("internal error"), "{}", text(&out));
    let claims = cdxs::codex::jwt::decode(&jwt(&login.claims())).unwrap();
    assert_eq!(
        (claims.exp, claims.iat),
        (None, None),
        "an impossible time is no time"
    );
    let v = env.accounts_json();
    assert!(v["accounts"][0]["access_token_expires_at"].is_null(), "{v}");
}

mod oauth_callback {
    //! The local OAuth callback: requests without this login's `state` are answered and
    //! ignored, the deadline holds, connections are served concurrently with a bound per
    //! request, and server text never reaches the terminal raw.

    use std::io::{BufReader, Read, Write};
    use std::net::TcpStream;
    use std::process::{Child, Stdio};
    use std::time::{Duration, Instant};

    use crate::harness::*;
    use crate::mock_openai::{MockAccount, MockOpenAi};

    struct Login {
        child: Child,
        url: String,
        port: u16,
        state: String,
        err: BufReader<std::process::ChildStderr>,
    }

    fn start(env: &Env, timeout: &str) -> Login {
        let mut child = env
            .spawn_cdxs(&["login", "oauth", "--no-browser", "--port", "0"])
            .env("CDXS_LOGIN_TIMEOUT", timeout)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let url = authorize_url(&mut err);
        let q: std::collections::HashMap<String, String> = url::Url::parse(&url)
            .unwrap_or_else(|_| panic!("no authorize URL printed: {url}"))
            .query_pairs()
            .into_owned()
            .collect();
        let port = url::Url::parse(&q["redirect_uri"]).unwrap().port().unwrap();
        // Wait until the callback listens.
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Login {
            child,
            url,
            port,
            state: q["state"].clone(),
            err,
        }
    }

    fn finish(mut l: Login) -> (i32, String) {
        let status = l.child.wait().unwrap();
        let mut rest = String::new();
        let _ = l.err.read_to_string(&mut rest);
        (status.code().unwrap_or(-1), rest)
    }

    /// A raw HTTP/1.1 GET on the callback; the status line of the answer (empty if none
    /// within `wait`).
    fn get(port: u16, target: &str, wait: Duration) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(wait)).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    }

    fn env_with_mock() -> (Env, MockOpenAi) {
        let mock = MockOpenAi::start();
        mock.add(MockAccount::new("cb@example.com", "acct-cb"));
        mock.with(|s| s.login_as = Some("cb@example.com".into()));
        let env = Env::new();
        env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
        env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
        (env, mock)
    }

    /// The "browser": the issuer logs in and redirects to the local callback.
    fn browser(url: &str, wait: Duration) -> Result<String, String> {
        let client = reqwest::blocking::Client::builder()
            .timeout(wait)
            .build()
            .unwrap();
        let page = client.get(url).send().map_err(|e| e.to_string())?;
        page.text().map_err(|e| e.to_string())
    }

    #[test]
    fn hostile_an_error_callback_without_the_state_does_not_abort_the_login() {
        let (env, _mock) = env_with_mock();
        let l = start(&env, "30");
        let answer = get(
            l.port,
            "/auth/callback?error=access_denied&error_description=forged",
            Duration::from_secs(5),
        );
        assert!(answer.starts_with("HTTP/1.1 4"), "answered: {answer}");
        let forged_state = get(
            l.port,
            "/auth/callback?code=stolen&state=not-this-one",
            Duration::from_secs(5),
        );
        assert!(
            forged_state.starts_with("HTTP/1.1 4"),
            "answered: {forged_state}"
        );
        let page = browser(&l.url, Duration::from_secs(10)).expect("the real callback is served");
        assert!(page.contains("login complete"), "{page}");
        let (code, rest) = finish(l);
        assert_eq!(code, 0, "{rest}");
        assert!(rest.contains("logged in as cb@example.com"), "{rest}");
    }

    #[test]
    fn hostile_error_description_reaches_the_terminal_escaped() {
        let (env, _mock) = env_with_mock();
        let l = start(&env, "30");
        let target = format!(
            "/auth/callback?state={}&error=access_denied&error_description=%1B%5D0%3Bpwned%07%1B%5B2J%3Cscript%3E",
            l.state
        );
        let answer = get(l.port, &target, Duration::from_secs(5));
        assert!(
            !answer.contains("<script>"),
            "the page echoes HTML: {answer}"
        );
        assert!(!answer.contains('\u{1b}'), "{answer:?}");
        let (code, rest) = finish(l);
        assert_eq!(code, 1, "{rest}");
        assert!(rest.contains("access_denied"), "{rest}");
        assert!(
            !rest.contains('\u{1b}') && !rest.contains('\u{7}'),
            "raw escapes: {rest:?}"
        );
    }

    #[test]
    fn hostile_idle_connections_do_not_stretch_the_login_deadline() {
        let (env, _mock) = env_with_mock();
        let started = Instant::now();
        let l = start(&env, "2");
        let idle: Vec<TcpStream> = (0..4)
            .map(|_| TcpStream::connect(("127.0.0.1", l.port)).unwrap())
            .collect();
        let (code, rest) = finish(l);
        let took = started.elapsed();
        drop(idle);
        assert_eq!(code, 1, "{rest}");
        assert!(
            rest.contains("no login callback within 2 seconds"),
            "{rest}"
        );
        assert!(
            took < Duration::from_secs(5),
            "the 2 s deadline took {took:?}"
        );
    }

    #[test]
    fn hostile_one_idle_connection_does_not_block_the_real_callback() {
        let (env, _mock) = env_with_mock();
        let l = start(&env, "30");
        let _idle = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
        let mut partial = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
        partial.write_all(b"GET /auth/callback?state=").unwrap();
        let page = browser(&l.url, Duration::from_secs(3))
            .expect("the real callback waits behind an idle connection");
        assert!(page.contains("login complete"), "{page}");
        let (code, rest) = finish(l);
        assert_eq!(code, 0, "{rest}");
    }

    #[test]
    fn hostile_an_endless_request_line_is_cut_off() {
        let (env, _mock) = env_with_mock();
        let l = start(&env, "30");
        let mut s = TcpStream::connect(("127.0.0.1", l.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut writer = s.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = writer.write_all(b"GET /auth/callback?x=");
            let chunk = vec![b'A'; 64 * 1024];
            for _ in 0..64 {
                if writer.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let got = s.read(&mut buf);
        let took = started.elapsed();
        match got {
            Ok(0) | Err(_) if took < Duration::from_secs(3) => {} // closed or reset
            Ok(n) if n > 0 => {
                let head = String::from_utf8_lossy(&buf[..n]);
                assert!(head.starts_with("HTTP/1.1 4"), "{head}");
            }
            other => panic!("no answer to an endless request line after {took:?}: {other:?}"),
        }
        // The login still waits, and completes.
        let page = browser(&l.url, Duration::from_secs(10)).expect("callback still served");
        assert!(page.contains("login complete"), "{page}");
        assert_eq!(finish(l).0, 0);
    }

    #[test]
    fn hostile_a_token_error_code_from_the_server_reaches_the_terminal_escaped() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        std::thread::spawn(move || {
            for req in server.incoming_requests() {
                let body = r#"{"error":{"code":"bad\u001b]0;pwned\u0007\u001b[2Jcode"}}"#;
                let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(400));
            }
        });
        let env = Env::new();
        env.set_env("CDXS_AUTH_BASE_URL", &format!("http://127.0.0.1:{port}"));
        let mut child = env
            .spawn_cdxs(&["login", "oauth", "--manual"])
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let url = authorize_url(&mut err);
        let state = url::Url::parse(&url)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("code=abc&state={state}\n").as_bytes())
            .unwrap();
        let status = child.wait().unwrap();
        let mut rest = String::new();
        err.read_to_string(&mut rest).unwrap();
        assert_eq!(status.code(), Some(1), "{rest}");
        assert!(rest.contains("refused"), "{rest}");
        assert!(
            !rest.contains('\u{1b}') && !rest.contains('\u{7}'),
            "raw escapes: {rest:?}"
        );
    }
}

#[test]
fn hostile_terminal_escapes_in_a_jwt_email_are_shown_escaped() {
    let env = Env::new();
    let login = Login::new("evil\u{1b}]0;owned\u{7}\u{1b}[2J@example.com", "acct-esc");
    env.import_login(&login);
    for args in [
        &["account", "list"][..],
        &["show"][..],
        &["account", "show", "acct-esc"][..],
    ] {
        let out = env.run(args);
        assert!(
            !text(&out).contains('\u{1b}'),
            "{args:?}: raw escape in {:?}",
            text(&out)
        );
        assert!(!text(&out).contains('\u{7}'), "{args:?}: {:?}", text(&out));
    }
    // `--json` keeps the exact text (JSON escapes it).
    let v = env.accounts_json();
    assert_eq!(v["accounts"][0]["email"], login.email.as_str());
}

#[test]
fn hostile_terminal_escapes_in_thread_names_and_previews_are_shown_escaped() {
    let (env, home) = one_home("");
    add_thread(
        &home,
        T1,
        "preview\u{1b}[2J\u{1b}]0;title\u{7}\rhidden",
        None,
    );
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    add_thread(&home, T2, "two", None);
    db.execute(
        "UPDATE threads SET name = ?2 WHERE id = ?1",
        rusqlite::params![T2, "name\u{1b}[31m\u{9b}31m\u{202e}x"],
    )
    .unwrap();
    for args in [
        &["session", "list"][..],
        &["session", "stats", T1][..],
        &["session", "trash", T2, "--dry-run"][..],
        &["session", "visibility", "check"][..],
    ] {
        let out = env.run(args);
        let shown = text(&out);
        for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
            assert!(!shown.contains(bad), "{args:?}: raw {bad:?} in {shown:?}");
        }
    }
    let out = env.run(&["session", "list", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["name\u{1b}[31m\u{9b}31m\u{202e}x"],
        "--json keeps the exact text"
    );
}

#[test]
fn hostile_an_auth_json_that_never_ends_is_a_clean_error_not_a_read_until_memory_runs_out() {
    let env = Env::new();
    let home = env.codex_home("zero");
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::symlink("/dev/zero", home.join("auth.json")).unwrap();
    env.manifest(&format!(
        "version: 1\naccounts:\n  z: {{ auth_file: /dev/zero }}\nhomes:\n  default: {{ path: {}, account: z }}\n",
        home.display()
    ));
    let home_arg = home.to_str().unwrap();
    for args in [
        &["account", "current", "--codex-home", home_arg][..],
        &["import", "auth", "--file", "/dev/zero"][..],
        &["import", "auth", "--codex-home", home_arg][..],
        &["plan", "--offline"][..],
    ] {
        let out = env.run_limited(args, 30);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        assert!(
            stderr(&out).contains("larger than") || stderr(&out).contains("never ends"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // `validate` only peeks at the file (bounded) to see what kind of login it holds.
    let out = env.run_limited(&["validate"], 30);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{}", text(&out));
}

#[test]
fn hostile_a_rollout_whose_first_line_never_ends_is_read_with_a_bound() {
    let (env, home) = one_home("");
    add_thread(&home, T1, "one", None);
    // A 4 GB rollout without a newline (sparse: it costs no disk), an orphan and a row's.
    let dir = home.join("sessions/2026/11/26");
    for id in [T2, T9] {
        let f = std::fs::File::create(dir.join(rollout_name(id))).unwrap();
        f.set_len(4 << 30).unwrap();
    }
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute(
        "UPDATE threads SET rollout_path = ?1, preview = '' WHERE id = ?2",
        rusqlite::params![dir.join(rollout_name(T9)).to_string_lossy(), T1],
    )
    .unwrap();
    drop(db);
    let started = std::time::Instant::now();
    for args in [
        &["session", "visibility", "check"][..],
        &["session", "stats", T1][..],
        &["session", "list"][..],
    ] {
        let out = env.run_limited(args, 60);
        assert!(
            out.status.success(),
            "{args:?} after {:?}: {}",
            started.elapsed(),
            text(&out)
        );
    }
}

#[test]
fn hostile_editing_a_symlinked_manifest_keeps_the_link() {
    let env = Env::new();
    let dotfiles = env.path("dotfiles");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let real = dotfiles.join("cdxs.yaml");
    std::fs::write(
        &real,
        "# my dotfiles\nversion: 1\nhomes:\n  default: { path: ~/.codex }\n",
    )
    .unwrap();
    let link = env.work.join("cdxs.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let scratch = env.codex_home("scratch");
    let out = env.run(&[
        "home",
        "create",
        "scratch",
        "--path",
        scratch.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a regular file"
    );
    let text_now = std::fs::read_to_string(&real).unwrap();
    assert!(
        text_now.starts_with("# my dotfiles\n") && text_now.contains("scratch"),
        "{text_now}"
    );
    assert_eq!(
        std::fs::read_dir(&dotfiles).unwrap().count(),
        1,
        "no temp file left next to the target"
    );
}

#[test]
fn hostile_read_only_commands_never_chmod_an_existing_state_dir() {
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o1777, 0o755] {
        let env = Env::new();
        std::fs::create_dir_all(&env.state).unwrap();
        std::fs::set_permissions(&env.state, std::fs::Permissions::from_mode(mode)).unwrap();
        for args in [&["account", "list"][..], &["show"][..], &["history"][..]] {
            let out = env.run(args);
            assert!(out.status.success(), "{args:?}: {}", text(&out));
            let now = std::fs::metadata(&env.state).unwrap().permissions().mode() & 0o7777;
            assert_eq!(now, mode, "{args:?} changed the state folder's mode");
        }
        // What cdxs creates inside stays private.
        assert_eq!(mode_of(&env.state.join("cdxs.db")), 0o600);
    }
    // A state folder cdxs creates is 0700.
    let env = Env::new();
    assert!(env.run(&["account", "list"]).status.success());
    assert_eq!(mode_of(&env.state), 0o700);
}

fn mode_of(p: &Path) -> u32 {
    mode(p)
}

/// Two API-key accounts; home `h` was switched A, B, A, B (so backups hold both keys).
fn backups_of_two_keys(env: &Env) -> (PathBuf, String, String) {
    let home = env.codex_home("h");
    std::fs::create_dir_all(&home).unwrap();
    let (a, b) = (
        "sk-key-to-forget-0123456789abcdef",
        "sk-key-that-stays-0123456789abcdef",
    );
    let id_a = env.add_api_key_id(a);
    let id_b = env.add_api_key_id(b);
    for id in [&id_a, &id_b, &id_a, &id_b] {
        let out = env.run(&["switch", id, "--codex-home", home.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
    }
    (home, id_a, id_b)
}

#[test]
fn hostile_account_remove_purges_the_backups_that_hold_its_key() {
    let env = Env::new();
    let (home, id_a, _) = backups_of_two_keys(&env);
    let backups = env.state.join("backups");
    assert!(
        any_file_contains(&backups, b"sk-key-to-forget").is_some(),
        "precondition"
    );
    let out = env.run(&["account", "remove", &id_a, "--purge-backups"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        any_file_contains(&backups, b"sk-key-to-forget"),
        None,
        "the removed key is still in a backup: {}",
        text(&out)
    );
    assert!(
        any_file_contains(&backups, b"sk-key-that-stays").is_some(),
        "other backups stay"
    );
    assert!(
        std::fs::read_to_string(home.join("auth.json"))
            .unwrap()
            .contains("sk-key-that-stays")
    );
    let history = env.run(&["history", "--json"]);
    assert!(
        stdout(&history).contains("purge backups"),
        "journaled: {}",
        text(&history)
    );
    // Without the flag and without a terminal: nothing deleted, and the files are named.
    let env = Env::new();
    let (_, id_a, _) = backups_of_two_keys(&env);
    let out = env.run(&["account", "remove", &id_a]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("still hold this account's secrets"),
        "{}",
        text(&out)
    );
    assert!(any_file_contains(&env.state.join("backups"), b"sk-key-to-forget").is_some());
}

#[test]
fn hostile_backups_past_their_retention_are_pruned_and_journaled() {
    let env = Env::new();
    let home = env.codex_home("h");
    std::fs::create_dir_all(&home).unwrap();
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\nbackups:\n  max_age: 7d\n  keep_last: 1\n",
        home.display()
    ));
    let backups = env.state.join("backups");
    let old = backups.join("20200101T000000.000Z-gen1-aaaaaa");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(
        old.join("001-auth.json"),
        "{\"OPENAI_API_KEY\":\"sk-very-old-key-0123456789\"}",
    )
    .unwrap();
    let notes = backups.join("my-notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("keep.txt"), "mine").unwrap();
    let id = env.add_api_key_id("sk-current-key-0123456789abcdef");
    std::fs::write(
        home.join("auth.json"),
        "{\"OPENAI_API_KEY\":\"sk-replaced-key-0123456789\"}",
    )
    .unwrap();
    let out = env.run(&["switch", &id, "--codex-home", home.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!old.exists(), "an expired backup folder is still there");
    assert!(
        notes.join("keep.txt").exists(),
        "a folder cdxs did not make was touched"
    );
    assert!(
        any_file_contains(&backups, b"sk-replaced-key").is_some(),
        "the newest backup is kept"
    );
    let history = env.run(&["history", "--json"]);
    assert!(
        stdout(&history).contains("prune backups"),
        "{}",
        text(&history)
    );
}

// The two cases below need wiring in files the lead is rewriting (see the report): the
// library functions exist (`paths::resolved_key`, `paths::state_dir_warning`, both unit
// tested); enable these once `reconcile/locks.rs` and `cli::Ctx::vault` use them.

#[test]
fn hostile_home_locks_are_keyed_by_the_resolved_path() {
    let env = Env::new();
    let home = env.codex_home("h");
    codex_like_home(&home);
    add_thread(&home, T1, "one", None);
    let link = env.path("link-to-h");
    std::os::unix::fs::symlink(&home, &link).unwrap();
    let out = env.run(&[
        "session",
        "trash",
        T1,
        "--codex-home",
        home.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = env.run(&[
        "session",
        "restore",
        T1,
        "--codex-home",
        link.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let home_locks: Vec<_> = std::fs::read_dir(env.state.join("locks"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("home-"))
        .collect();
    assert_eq!(
        home_locks.len(),
        1,
        "two spellings, two locks: {home_locks:?}"
    );
}

#[test]
fn hostile_an_open_state_dir_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    std::fs::create_dir_all(&env.state).unwrap();
    std::fs::set_permissions(&env.state, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let out = env.run(&["account", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("chmod 700"), "{}", text(&out));
}

#[test]
fn hostile_a_symlinked_thread_lock_folder_or_trash_is_not_followed() {
    let (env, home) = one_home("");
    add_thread(&home, T1, "one", None);
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, home.join("thread-writer-locks")).unwrap();
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("does not follow"), "{}", text(&out));
    std::fs::remove_file(home.join("thread-writer-locks")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, home.join("cdxs-trash")).unwrap();
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "{}",
        text(&out)
    );
    assert!(
        home.join("sessions/2026/11/26")
            .join(rollout_name(T1))
            .exists()
    );
}
