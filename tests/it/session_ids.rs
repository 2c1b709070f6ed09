//! Issue 21, sessions: ids as their shortest unique prefix (UUIDv7 threads of one minute
//! share 8 to 13 leading characters), every session command finding the thread's home by
//! itself, `visibility check` failing with hints that keep the flags, list filters, and
//! `cdxs resume ID` in the thread's home.

use std::path::PathBuf;

use crate::harness::*;

/// Made in the same minute: the first 12 characters are the same.
const A: &str = "019abc12-3456-7a01-8000-00000000000a";
const B: &str = "019abc12-3456-7b02-8000-00000000000b";
/// In the other home.
const W: &str = "019abd77-0000-7000-8000-0000000000ee";

/// Homes `default` (threads A and B) and `work` (thread W), declared in cdxs.yaml.
fn two_homes() -> (Env, PathBuf, PathBuf) {
    let env = Env::new();
    let default = env.codex_home("default");
    let work = env.codex_home("work");
    for (home, threads) in [(&default, &[A, B][..]), (&work, &[W][..])] {
        codex_like_home(home);
        for (n, id) in threads.iter().enumerate() {
            add_thread(home, id, &format!("thread {n} of {}", home.display()), None);
        }
    }
    let db = rusqlite::Connection::open(default.join("state_5.sqlite")).unwrap();
    let now = env.now.timestamp();
    // On Windows, folders as Codex stores them there: the desktop app's verbatim spelling
    // (and another case) for A, the plain one for B; `--cwd /src/app` is `<drive>\src\app`
    // for a cdxs started on the drive of the world's working folder.
    let drive: String = env.work.display().to_string().chars().take(2).collect();
    let (app, sync) = if cfg!(windows) {
        (
            format!(r"\\?\{}\SRC\app", drive.to_uppercase()),
            format!(r"{drive}\src\app\sync"),
        )
    } else {
        ("/src/app".to_string(), "/src/app/sync".to_string())
    };
    for (id, cwd, text, age) in [
        (A, app.as_str(), "fix the flaky login test", 3 * 86_400),
        (B, sync.as_str(), "explain the sync protocol", 3600),
    ] {
        db.execute(
            "UPDATE threads SET cwd = ?2, preview = ?3, title = ?3, updated_at = ?4 WHERE id = ?1",
            rusqlite::params![id, cwd, text, now - age],
        )
        .unwrap();
    }
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n  work: {{ path: {} }}\n",
        default.display(),
        work.display()
    ));
    (env, default, work)
}

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    stdout(&out)
}

#[test]
fn lists_show_the_shortest_unique_prefix_and_every_command_takes_it() {
    let (env, _default, _work) = two_homes();
    let list = ok(&env, &["session", "list", "--all-homes"]);
    // Not the 36 characters: the prefix that tells the two apart (15), and at least 8 for
    // the other (its unique prefix is 6).
    assert!(
        list.contains("019abc12-3456-7a ") && list.contains("019abc12-3456-7b "),
        "{list}"
    );
    assert!(list.contains("019abd77 ") && !list.contains(W), "{list}");
    // Highlighted as jj does: the prefix bold and coloured, the rest dim.
    let coloured = ok(
        &env,
        &["--color", "always", "session", "list", "--all-homes"],
    );
    assert!(
        coloured.contains("\x1b[1m\x1b[36m019abd\x1b[0m\x1b[0m\x1b[2m77\x1b[0m"),
        "{coloured:?}"
    );
    // The prefix as shown is accepted everywhere, in whichever home holds the thread.
    let stats = ok(&env, &["session", "stats", "019abc12-3456-7b"]);
    assert!(stats.contains(B), "{stats}");
    let out = env.run(&["session", "stats", "019abc12"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("matches 2 threads"), "{}", text(&out));
    let out = env.run(&["session", "trash", "019abd"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("in home `work`"), "{}", text(&out));
    let trash = ok(&env, &["session", "trash-list"]);
    assert!(trash.contains("019abd77"), "{trash}");
    let out = env.run(&["session", "restore", "019abd77"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("restored"), "{}", text(&out));
    assert!(stderr(&out).contains("in home `work`"), "{}", text(&out));
}

/// Issue 21: `session trash ID` looked only in `default`; `stats` and `restore` found the
/// home by themselves.
#[test]
fn trash_finds_the_threads_home_by_itself() {
    let (env, _default, work) = two_homes();
    let out = env.run(&["session", "trash", W, A]);
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("trashed 1 thread(s) in home `work`"), "{err}");
    assert!(
        err.contains("trashed 1 thread(s) in home `default`"),
        "{err}"
    );
    assert!(work.join("cdxs-trash").join(W).is_dir());
    assert_eq!(thread_count(&work), 0);
    // A dry run says where too.
    let out = env.run(&["session", "trash", B, "--dry-run"]);
    assert!(
        stdout(&out).contains("would trash 019abc12-3456-7b02"),
        "{}",
        text(&out)
    );
    assert!(stdout(&out).contains("in home `default`"), "{}", text(&out));
}

/// Issue 21: `visibility check --codex-home P` exited 0 on problems and its hint dropped
/// `--codex-home` (run as printed, it repaired the default home).
#[test]
fn visibility_check_fails_on_problems_and_its_hint_keeps_the_flags() {
    let (env, default, _work) = two_homes();
    let other = env.codex_home("other");
    codex_like_home(&other);
    let id = "019abe00-0000-7000-8000-000000000001";
    add_thread(&other, id, "lost preview", None);
    for home in [&other, &default] {
        rusqlite::Connection::open(home.join("state_5.sqlite"))
            .unwrap()
            .execute("UPDATE threads SET preview = ''", [])
            .unwrap();
    }
    let p = other.display().to_string();
    let out = env.run(&["session", "visibility", "check", "--codex-home", &p]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let hint = format!("`cdxs session visibility repair --codex-home {p}`");
    assert!(stderr(&out).contains(&hint), "{}", text(&out));
    assert_eq!(
        code(&env.run(&[
            "session",
            "visibility",
            "check",
            "--codex-home",
            &p,
            "--json"
        ])),
        1
    );
    let out = env.run(&["session", "visibility", "check", "--home", "work"]);
    assert_eq!(code(&out), 0, "nothing wrong there: {}", text(&out));
    // Run as printed, the hint repairs that home and no other.
    let out = env.run(&["session", "visibility", "repair", "--codex-home", &p]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        code(&env.run(&["session", "visibility", "check", "--codex-home", &p])),
        0
    );
    assert_eq!(
        code(&env.run(&["session", "visibility", "check", "--home", "default"])),
        1
    );
    let out = env.run(&["session", "visibility", "check", "--all-homes"]);
    assert!(
        stderr(&out).contains("repair --all-homes`"),
        "{}",
        text(&out)
    );
}

#[test]
fn list_filters_by_folder_text_time_and_count() {
    let (env, _default, _work) = two_homes();
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["session", "list", "--all-homes", "--json"];
        all.extend_from_slice(args);
        let v: serde_json::Value = serde_json::from_str(&ok(&env, &all)).unwrap();
        v["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&[]).len(), 3);
    assert_eq!(ids(&["--cwd", "/src/app"]), vec![B, A]);
    assert_eq!(ids(&["--cwd", "/src/app/sync"]), vec![B]);
    assert_eq!(ids(&["--search", "FLAKY"]), vec![A]);
    assert_eq!(ids(&["--since", "1d"]), vec![B]);
    assert_eq!(ids(&["--limit", "1"]), vec![B]);
    assert_eq!(
        ids(&["--cwd", "/src", "--since", "7d", "--limit", "5"]),
        vec![B, A]
    );
    let out = env.run(&["session", "list", "--since", "yesterday-ish"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("--since 2d"), "{}", text(&out));
    // The text listing filters the same way.
    let text_list = ok(
        &env,
        &[
            "session",
            "list",
            "--all-homes",
            "--search",
            "sync protocol",
        ],
    );
    assert!(
        text_list.contains("019abc12-3456-7b") && !text_list.contains("019abd77"),
        "{text_list}"
    );
}

/// A `codex` on PATH that records how it was started.
/// A shell script standing in for `codex` on PATH (unix: Windows has no `#!`).
#[cfg(unix)]
fn fake_codex(env: &Env) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = env.path("codex-started.txt");
    let script = bin.join("codex");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"CODEX_HOME=$CODEX_HOME\" \"$@\" > '{}'\nexit 7\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.set_env(
        "PATH",
        &format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    log
}

#[cfg(unix)]
#[test]
fn resume_runs_codex_resume_in_the_threads_home_with_its_account() {
    let (env, _default, work) = two_homes();
    env.set_env("WORK_KEY", "sk-resume-test-key-0001");
    env.manifest(&format!(
        "{}accounts:\n  ci: {{ api_key_env: WORK_KEY }}\n",
        env.manifest_text().replace(
            &format!("work: {{ path: {} }}", work.display()),
            &format!("work: {{ path: {}, account: ci }}", work.display())
        )
    ));
    let log = fake_codex(&env);
    let out = env.run(&["resume", "019abd77"]);
    // It became `codex` (exit 7 is the fake's own).
    assert_eq!(code(&out), 7, "{}", text(&out));
    assert!(stderr(&out).contains("in home `work`"), "{}", text(&out));
    let started = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = started.lines().collect();
    assert_eq!(lines[0], format!("CODEX_HOME={}", work.display()));
    assert_eq!(
        &lines[1..],
        ["-c", "cli_auth_credentials_store=\"file\"", "resume", W],
        "{started}"
    );
    // Its account was written there first, as `cdxs run --home work` does.
    let auth = read_json(&work.join("auth.json"));
    assert_eq!(auth["OPENAI_API_KEY"], "sk-resume-test-key-0001");
    // More arguments go after the id; an unknown id is an error naming it.
    let out = env.run(&["resume", "019abc12-3456-7a", "--", "--model", "o3"]);
    assert_eq!(code(&out), 7, "{}", text(&out));
    let started = std::fs::read_to_string(&log).unwrap();
    assert!(
        started.ends_with(&format!("resume\n{A}\n--model\no3\n")),
        "{started}"
    );
    let out = env.run(&["resume", "0000dead"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("no thread `0000dead`"),
        "{}",
        text(&out)
    );
}

/// With `CDXS_MANIFEST` naming a file not written yet, `session list` of a home with
/// threads says so once (reading every home for the short ids must not say it again).
#[test]
fn a_missing_named_manifest_is_one_note_in_a_listing_with_short_ids() {
    let env = Env::new();
    let home = env.default_codex_home();
    codex_like_home(&home);
    add_thread(&home, A, "one", None);
    env.set_env("CDXS_MANIFEST", env.path("not-yet.yaml").to_str().unwrap());
    let out = env.run(&["session", "list"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).contains("019abc12"), "{}", text(&out));
    assert_eq!(
        stderr(&out).matches("does not exist yet").count(),
        1,
        "{}",
        text(&out)
    );
}
