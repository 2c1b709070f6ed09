//! Terminal escapes from data, reads that never end, symlinked manifests and state dirs,
//! backups that hold secrets, locks keyed by the resolved path.

use super::*;

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
#[cfg_attr(windows, ignore = "reads /dev/zero, which Windows does not have")]
fn hostile_an_auth_json_that_never_ends_is_a_clean_error_not_a_read_until_memory_runs_out() {
    let env = Env::new();
    let home = env.codex_home("zero");
    std::fs::create_dir_all(&home).unwrap();
    cdxs::platform::fs::symlink(Path::new("/dev/zero"), &home.join("auth.json")).unwrap();
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
        // `visibility check` reports the problems it finds with exit 1.
        let found = args[1] == "visibility" && stdout(&out).contains("problem(s)");
        assert!(
            out.status.success() || (found && code(&out) == 1),
            "{args:?} after {:?}: {}",
            started.elapsed(),
            text(&out)
        );
    }
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
)]
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
    cdxs::platform::fs::symlink(&real, &link).unwrap();
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
#[cfg_attr(
    windows,
    ignore = "Unix permission bits: a Windows file takes its folder's ACL"
)]
fn hostile_read_only_commands_never_chmod_an_existing_state_dir() {
    for mode in [0o1777, 0o755] {
        let env = Env::new();
        std::fs::create_dir_all(&env.state).unwrap();
        cdxs::platform::fs::set_mode(&env.state, mode).unwrap();
        for args in [&["account", "list"][..], &["show"][..], &["history"][..]] {
            let out = env.run(args);
            assert!(out.status.success(), "{args:?}: {}", text(&out));
            let now = cdxs::platform::fs::mode_of(&env.state);
            assert_eq!(now, Some(mode), "{args:?} changed the state folder's mode");
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

// Locks and the state dir's warning go through `paths::resolved_key` and
// `paths::state_dir_warning` (both unit tested too).

#[test]
#[cfg_attr(
    windows,
    ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
)]
fn hostile_home_locks_are_keyed_by_the_resolved_path() {
    let env = Env::new();
    let home = env.codex_home("h");
    codex_like_home(&home);
    add_thread(&home, T1, "one", None);
    let link = env.path("link-to-h");
    cdxs::platform::fs::symlink(&home, &link).unwrap();
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
#[cfg_attr(
    windows,
    ignore = "Unix permission bits: a Windows file takes its folder's ACL"
)]
fn hostile_an_open_state_dir_is_warned_about() {
    let env = Env::new();
    std::fs::create_dir_all(&env.state).unwrap();
    cdxs::platform::fs::set_mode(&env.state, 0o1777).unwrap();
    let out = env.run(&["account", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("chmod 700"), "{}", text(&out));
}

#[test]
#[cfg_attr(
    windows,
    ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
)]
fn hostile_a_symlinked_thread_lock_folder_or_trash_is_not_followed() {
    let (env, home) = one_home("");
    add_thread(&home, T1, "one", None);
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    cdxs::platform::fs::symlink(&elsewhere, &home.join("thread-writer-locks")).unwrap();
    let out = env.run(&["session", "trash", T1]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("does not follow"), "{}", text(&out));
    std::fs::remove_file(home.join("thread-writer-locks")).unwrap();
    cdxs::platform::fs::symlink(&elsewhere, &home.join("cdxs-trash")).unwrap();
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
