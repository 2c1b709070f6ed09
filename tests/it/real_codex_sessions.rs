//! Sessions against the real Codex 0.169: sessions made offline by `codex exec` against a
//! local Responses mock; what Codex shows is asked of `codex app-server` (`thread/list`).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_responses::{MockResponses, codex_exec, prepare_home};

const ALL_SOURCES: &[&str] = &["cli", "vscode", "exec", "appServer", "subAgent", "unknown"];

/// What Codex lists in `home`: id -> (name, path). `db_only`: what the TUI picker's first
/// page reads.
pub(crate) fn codex_threads(
    codex: &Path,
    home: &Path,
    db_only: bool,
) -> Vec<(String, Option<String>, PathBuf)> {
    let mut params = json!({"sourceKinds": ALL_SOURCES, "limit": 200});
    if db_only {
        params["useStateDbOnly"] = json!(true);
    }
    let answer = app_server_call(codex, home, &[], "thread/list", params);
    let data = answer["result"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("thread/list failed: {answer}"));
    data.iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                t["name"].as_str().map(str::to_string),
                PathBuf::from(t["path"].as_str().unwrap_or("")),
            )
        })
        .collect()
}

pub(crate) fn ids(list: &[(String, Option<String>, PathBuf)]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|t| t.0.clone()).collect();
    v.sort();
    v
}

pub(crate) fn make(
    codex: &Path,
    env: &Env,
    mock: &MockResponses,
    home: &Path,
    n: usize,
) -> Vec<String> {
    prepare_home(home, mock);
    (0..n)
        .map(|i| {
            codex_exec(
                codex,
                home,
                &env.path("work"),
                None,
                &format!("prompt {i} in {}", home.display()),
            )
            .unwrap()
        })
        .collect()
}

fn session_env(home: &Path) -> Env {
    let env = Env::new();
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        home.display()
    ));
    env
}

fn a_trashed_thread_is_gone_and_stays_gone_and_restore_brings_it_back_named(codex: PathBuf) {
    let mock = MockResponses::start("ok from mock");
    let env = Env::new();
    let home = env.codex_home("main");
    let made = make(&codex, &env, &mock, &home, 3);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        home.display()
    ));
    let victim = made[1].clone();
    // Codex names it.
    let named = app_server_call(
        &codex,
        &home,
        &[],
        "thread/name/set",
        json!({"threadId": victim, "name": "Keep this name"}),
    );
    assert!(named.get("error").is_none(), "{named}");
    assert_eq!(codex_threads(&codex, &home, false).len(), 3);

    let out = env.run(&["session", "trash", &victim]);
    assert!(out.status.success(), "{}", text(&out));
    // Gone for Codex, in a scan listing (which re-creates rows from any rollout it finds),
    // and still gone the second time.
    for _ in 0..2 {
        let listed = ids(&codex_threads(&codex, &home, false));
        assert!(
            !listed.contains(&victim),
            "Codex still lists the trashed thread: {listed:?}"
        );
        assert_eq!(listed.len(), 2);
    }
    let listed = ids(&codex_threads(&codex, &home, true));
    assert!(!listed.contains(&victim));
    let out = env.run(&["session", "trash-list", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["trash"][0]["id"], victim.as_str());
    assert_eq!(v["trash"][0]["name"], "Keep this name");

    let out = env.run(&["session", "restore", &victim]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = codex_threads(&codex, &home, true);
    let back = listed
        .iter()
        .find(|t| t.0 == victim)
        .expect("restored thread listed");
    assert_eq!(
        back.1.as_deref(),
        Some("Keep this name"),
        "the name came back"
    );
    // Codex can continue it: the resume appends to the same rollout.
    let before = std::fs::metadata(&back.2).unwrap().len();
    let resumed = codex_exec(
        &codex,
        &home,
        &env.path("work"),
        Some(&victim),
        "continue please",
    )
    .unwrap();
    assert_eq!(resumed, victim);
    assert!(
        std::fs::metadata(&back.2).unwrap().len() > before,
        "resume appended to the rollout"
    );
}
codex_matrix!(
    a_trashed_thread_is_gone_and_stays_gone_and_restore_brings_it_back_named,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn a_live_thread_is_refused(codex: PathBuf) {
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("main");
    let made = make(&codex, &env, &mock, &home, 1);
    let env2 = session_env(&home);
    let _ = env;
    std::fs::create_dir_all(home.join("thread-writer-locks")).unwrap();
    let lock =
        std::fs::File::create(home.join(format!("thread-writer-locks/{}.lock", made[0]))).unwrap();
    lock.lock().unwrap();
    let out = env2.run(&["session", "trash", &made[0], "--home", "default"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("open in a running Codex"),
        "{}",
        text(&out)
    );
    drop(lock);
    assert_eq!(
        codex_threads(&codex, &home, true).len(),
        1,
        "nothing was touched"
    );
}
codex_matrix!(
    a_live_thread_is_refused,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn a_copied_home_is_repaired(codex: PathBuf) {
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let original = env.codex_home("original");
    make(&codex, &env, &mock, &original, 2);
    // Copy the home (as `cp -a` would): rows still point into the original.
    let copy = env.codex_home("copy");
    copy_dir(&original, &copy);
    std::fs::remove_dir_all(&original).unwrap();
    let env2 = session_env(&copy);
    assert!(
        codex_threads(&codex, &copy, true).is_empty(),
        "Codex's picker hides rows pointing elsewhere"
    );
    let out = env2.run(&["session", "visibility", "check", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v["homes"][0]["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["foreign_rollout", "foreign_rollout"], "{v}");
    let out = env2.run(&["session", "visibility", "repair"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = codex_threads(&codex, &copy, true);
    assert_eq!(listed.len(), 2, "Codex lists them from its database again");
    assert!(listed.iter().all(|t| t.2.starts_with(&copy)), "{listed:?}");
    let out = env2.run(&["session", "visibility", "check", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["homes"][0]["issues"].as_array().unwrap().is_empty(),
        "{v}"
    );
}
codex_matrix!(
    a_copied_home_is_repaired,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn shared_threads_are_listed_and_resumable_in_the_other_home(codex: PathBuf) {
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let a = env.codex_home("a");
    let b = env.codex_home("b");
    let in_a = make(&codex, &env, &mock, &a, 2);
    let in_b = make(&codex, &env, &mock, &b, 1);
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  share_threads: [a, b]\n",
        a.display(),
        b.display()
    ));
    let out = env.run(&["plan"]);
    let shown = stdout(&out);
    assert!(
        shown.contains(&format!("+ threads.b.copy[{}]", in_a[0])),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("+ threads.a.copy[{}]", in_b[0])),
        "{shown}"
    );
    assert!(shown.contains("Plan: 3 to add"), "{shown}");
    assert!(env.run(&["apply", "--yes"]).status.success());
    assert_eq!(
        code(&env.run(&["plan", "--detailed-exitcode"])),
        0,
        "converged"
    );
    let mut all: Vec<String> = in_a.iter().chain(in_b.iter()).cloned().collect();
    all.sort();
    assert_eq!(ids(&codex_threads(&codex, &a, true)), all);
    assert_eq!(ids(&codex_threads(&codex, &b, true)), all);
    // Codex in b can resume a thread that was made in a.
    let resumed = codex_exec(&codex, &b, &env.path("work"), Some(&in_a[0]), "go on").unwrap();
    assert_eq!(resumed, in_a[0]);
}
codex_matrix!(
    shared_threads_are_listed_and_resumable_in_the_other_home,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn auto_repair_and_trash_max_age_are_plan_actions(codex: PathBuf) {
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("h");
    let made = make(&codex, &env, &mock, &home, 2);
    env.manifest(&format!(
        "version: 1\nhomes:\n  h: {{ path: {} }}\nsessions:\n  auto_repair: true\n  trash_max_age: 30d\n",
        home.display()
    ));
    // A name only in the index (0.169 reads names from the DB), an emptied preview.
    std::fs::write(
        home.join("session_index.jsonl"),
        format!("{{\"id\":\"{}\",\"thread_name\":\"Indexed name\",\"updated_at\":\"2026-11-26T00:00:00Z\"}}\n", made[0]),
    )
    .unwrap();
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [&made[1]])
        .unwrap();
    drop(db);
    assert!(
        !ids(&codex_threads(&codex, &home, true)).contains(&made[1]),
        "empty preview hides it"
    );
    let out = env.run(&["plan"]);
    let shown = stdout(&out);
    assert!(
        shown.contains(&format!(
            "~ sessions.h.repair[name_only_in_index:{}]",
            made[0]
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("~ sessions.h.repair[empty_preview:{}]", made[1])),
        "{shown}"
    );
    assert!(env.run(&["apply", "--yes"]).status.success());
    let listed = codex_threads(&codex, &home, true);
    assert_eq!(ids(&listed), {
        let mut m = made.clone();
        m.sort();
        m
    });
    assert_eq!(
        listed.iter().find(|t| t.0 == made[0]).unwrap().1.as_deref(),
        Some("Indexed name")
    );
    // Trash one, then 31 days later the plan purges it.
    assert!(
        env.run(&["session", "trash", &made[1], "--home", "h"])
            .status
            .success()
    );
    assert_eq!(code(&env.run(&["plan", "--detailed-exitcode"])), 0);
    let later = (chrono::Utc::now() + chrono::Duration::days(31)).to_rfc3339();
    let out = env
        .cdxs()
        .env("CDXS_NOW", &later)
        .args(["plan"])
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains(&format!("- trash.h.purge[{}]", made[1])),
        "{}",
        text(&out)
    );
    let out = env
        .cdxs()
        .env("CDXS_NOW", &later)
        .args(["apply", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!home.join("cdxs-trash").join(&made[1]).exists());
}
codex_matrix!(
    auto_repair_and_trash_max_age_are_plan_actions,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn garbage_and_truncated_rollouts_never_crash_anything(codex: PathBuf) {
    let mock = MockResponses::start("ok");
    let env = Env::new();
    let home = env.codex_home("g");
    let made = make(&codex, &env, &mock, &home, 1);
    let day = home.join("sessions/2026/11/26");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::write(
        day.join("rollout-2026-11-26T00-00-00-0199aaaa-0000-7000-8000-000000000001.jsonl"),
        b"\xff\xfe garbage\n{not json\n",
    )
    .unwrap();
    let real = list_rollouts(&home)
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&made[0]))
        .unwrap();
    let bytes = std::fs::read(&real).unwrap();
    // Cut in the middle of the line after the user message (a crash mid-write).
    let content = String::from_utf8_lossy(&bytes).into_owned();
    let user = content.find("\"UserMessage\"").unwrap();
    let next_line = user + content[user..].find('\n').unwrap() + 1;
    let cut = next_line + 40;
    let id2 = "0199aaaa-0000-7000-8000-000000000002";
    let truncated = content[..cut].replacen(&made[0], id2, 2);
    std::fs::write(
        day.join(format!("rollout-2026-11-26T00-00-01-{id2}.jsonl")),
        truncated,
    )
    .unwrap();
    let env2 = session_env(&home);
    for args in [
        vec!["session", "list", "--json"],
        vec!["session", "visibility", "check"],
        vec!["session", "visibility", "repair"],
        vec!["session", "stats", made[0].as_str()],
        vec![
            "session",
            "stats",
            "0199aaaa-0000-7000-8000-000000000002",
            "--lines",
        ],
    ] {
        let out = env2.run(&args);
        assert!(
            !stderr(&out).contains("panicked") && !stderr(&out).contains("internal error"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // The truncated copy had a user message in its head: repair gave it a row Codex lists.
    let listed = ids(&codex_threads(&codex, &home, true));
    assert!(
        listed.contains(&"0199aaaa-0000-7000-8000-000000000002".to_string()),
        "{listed:?}"
    );
    assert!(!listed.contains(&"0199aaaa-0000-7000-8000-000000000001".to_string()));
    // A compressed rollout reads transparently.
    let zst = real.with_extension("jsonl.zst");
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    std::fs::remove_file(&real).unwrap();
    let out = env2.run(&["session", "stats", &made[0], "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    assert_eq!(v["stats"]["tokens"]["total_tokens"], 107);
    assert_eq!(v["stats"]["compressed"], true);
}
codex_matrix!(
    garbage_and_truncated_rollouts_never_crash_anything,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn list_rollouts(home: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![home.join("sessions")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
