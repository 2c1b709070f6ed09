//! A Codex 0.171 home also holds other providers' logins: `gateway_oauth.json` and
//! `gateway_oauth.lock`, the encrypted store `secrets/` (on Windows the login itself, in
//! `secrets/codex_auth.age`) and `.login.lock` (codex-formats.md 9.5). Every command that
//! writes, copies, moves or lists files of a home runs here in homes holding them (and with
//! Codex's locks among them held): none is copied into another home, touched, moved, backed
//! up or replaced.
//!
//! The paths that write a home's files, found by reading every `fs` call under src/: auth.json
//! (apply, switch, run, rollback, refresh; `codex::auth`), config.toml (`codex::config`,
//! rollback), session_index.jsonl (`codex::index`), the databases (`codex::state`, backed up
//! through SQLite), rollouts under `sessions/` and `archived_sessions/` (trash, restore,
//! sync-threads: only regular files named `rollout-…-<id>.jsonl[.zst]`), `cdxs-trash/`
//! (purge), `thread-writer-locks/` and `.tmp/rollout-maintenance.lock`. Nothing lists a
//! home outside its session folders and trash.

use std::path::{Path, PathBuf};

use crate::harness::*;

const T1: &str = "0199ffff-0000-7000-8000-000000000001";
const T2: &str = "0199ffff-0000-7000-8000-000000000002";

/// No file under `dirs` holds the contents of home `tag`'s other-provider files.
fn assert_not_copied(dirs: &[&Path], tag: &str) {
    for needle in [
        format!("{{\"gateway\":\"{tag}\"}}"),
        format!("age-encryption.org/v1 {tag}"),
    ] {
        for dir in dirs {
            let found = files_under(dir).into_iter().find(|f| {
                std::fs::read(f)
                    .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                    .unwrap_or(false)
            });
            assert_eq!(found, None, "{needle} was copied into {}", dir.display());
        }
    }
}

fn prepare(home: &Path, tag: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(home).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    other_provider_files(home, tag)
}

#[test]
fn switches_apply_run_and_rollback_leave_other_providers_credentials_alone() {
    let env = Env::new();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    env.import_login(&Login::new("bob@example.com", "acct-bob"));
    env.import_login(&Login::new("cid@example.com", "acct-cid"));
    let main = env.codex_home("main");
    let side = env.codex_home("side");
    let mut files = prepare(&main, "main");
    files.extend(prepare(&side, "side"));
    // Codex is signing in to a gateway in main (it holds the gateway locks meanwhile).
    let _gateway = hold_flock(&main.join("gateway_oauth.lock"));
    let _gateway_store = hold_flock(&main.join("secrets/gateway_oauth.lock"));
    let _login = hold_flock(&side.join(".login.lock"));
    let before = files_state(&files);
    env.manifest(&format!(
        "version: 1\naccounts:\n  ann: {{ email: ann@example.com }}\n  bob: {{ email: bob@example.com }}\nhomes:\n  main: {{ path: {}, account: ann }}\n  side: {{ path: {}, account: bob }}\n",
        main.display(),
        side.display()
    ));
    for args in [
        vec!["apply", "--yes"],
        vec!["switch", "cid@example.com", "--home", "side"],
        vec!["run", "--home", "main", "--", "true"],
        vec!["home", "bind", "main", "bob"],
        vec!["rollback", "--yes"],
        vec!["apply", "--yes"],
        vec!["status"],
        vec!["doctor"],
    ] {
        let out = env.run(&args);
        assert!(
            out.status.success() || args[0] == "doctor",
            "{args:?}: {}",
            text(&out)
        );
        assert_eq!(files_state(&files), before, "{args:?} touched one");
    }
    assert_eq!(
        read_json(&side.join("auth.json"))["tokens"]["account_id"],
        "acct-cid",
        "the switches did happen"
    );
    assert_not_copied(&[&env.state, &env.home, &main], "side");
    assert_not_copied(&[&env.state, &env.home, &side], "main");
}

#[test]
fn thread_copies_trash_restore_purge_and_repair_never_carry_other_providers_credentials() {
    let env = Env::new();
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    codex_like_home(&a);
    codex_like_home(&b);
    let mut files = other_provider_files(&a, "a");
    files.extend(other_provider_files(&b, "b"));
    add_real_thread(&a, T1, "one", 107, false);
    add_real_thread(&a, T2, "two", 214, true);
    let db = rusqlite::Connection::open(a.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [T1])
        .unwrap();
    drop(db);
    let _held = hold_flock(&a.join("gateway_oauth.lock"));
    let before = files_state(&files);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  share_threads: [default, b]\n  auto_repair: true\n  trash_max_age: 1d\n",
        a.display(),
        b.display()
    ));
    for args in [
        vec!["session", "visibility", "repair"],
        vec!["session", "sync-threads", "--yes"],
        vec!["session", "trash", T1, T2],
        vec!["session", "trash-list"],
        vec!["session", "restore", T1],
        vec!["session", "purge", T2, "--yes"],
        vec!["session", "trash", T1, "--home", "b"],
        vec!["apply", "--yes"],
    ] {
        let out = env.run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert_eq!(files_state(&files), before, "{args:?} touched one");
    }
    // Two days later the plan purges b's trash (trash_max_age) and copies nothing more.
    let later = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    let out = env
        .cdxs()
        .env("CDXS_NOW", &later)
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(files_state(&files), before);
    assert_not_copied(&[&env.state, &b], "a");
    assert_not_copied(&[&env.state, &a], "b");
    // Trash entries hold rollouts and their manifest, nothing else.
    for home in [&a, &b] {
        for f in files_under(&home.join("cdxs-trash")) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                name == "manifest.json" || name.starts_with("rollout-"),
                "{}",
                f.display()
            );
        }
    }
}

#[test]
fn a_rollout_hard_linked_to_a_credential_file_is_never_copied_to_another_home() {
    let env = Env::new();
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    codex_like_home(&a);
    codex_like_home(&b);
    other_provider_files(&a, "a");
    // A thread whose "rollout" is the gateway login under a rollout's name.
    let rollout = add_thread(&a, T1, "crafted", None);
    std::fs::remove_file(&rollout).unwrap();
    std::fs::hard_link(a.join("gateway_oauth.json"), &rollout).unwrap();
    add_real_thread(&a, T2, "a real one", 107, false);
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  share_threads: [a, b]\n",
        a.display(),
        b.display()
    ));
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count_rows(&b.join("state_5.sqlite"), "threads", "id", T2),
        1
    );
    assert_eq!(
        count_rows(&b.join("state_5.sqlite"), "threads", "id", T1),
        0
    );
    assert_not_copied(&[&b, &env.state], "a");
    assert_eq!(
        code(&env.run(&["plan", "--detailed-exitcode"])),
        0,
        "converged: the link is not proposed again"
    );
}
