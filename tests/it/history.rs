//! `cdxs history` pages: the newest 20 by default, `--limit N`, `--all`, and it says when
//! it shows only part of the journal (it used to stop at 100 rows without a word).

use serde_json::Value;

use crate::harness::*;

/// A vault whose journal holds `n` finished generations (as a long `watch` leaves).
fn journal_of(n: i64) -> Env {
    let env = Env::new();
    // Any command that opens the vault creates it.
    assert!(env.run(&["account", "list"]).status.success());
    let db = rusqlite::Connection::open(env.state.join("cdxs.db")).unwrap();
    for i in 0..n {
        db.execute(
            "INSERT INTO generations (started_at, finished_at, command, status) VALUES (?1, ?1, ?2, 'ok')",
            rusqlite::params![1_700_000_000 + i, if i % 2 == 0 { "watch" } else { "apply" }],
        )
        .unwrap();
    }
    env
}

fn rows(out: &std::process::Output) -> usize {
    stdout(out)
        .lines()
        .filter(|l| l.contains(" watch ") || l.contains(" apply "))
        .count()
}

#[test]
fn history_pages_and_says_when_it_truncates() {
    let env = journal_of(130);
    let out = env.run(&["history"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rows(&out), 20, "{}", text(&out));
    assert!(
        stdout(&out).contains("130") && !stdout(&out).contains(" 110 "),
        "newest first: {}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("showing the newest 20 of 130 generations"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("--all"), "{}", text(&out));

    let out = env.run(&["history", "--limit", "5"]);
    assert_eq!(rows(&out), 5, "{}", text(&out));
    assert!(stderr(&out).contains("newest 5 of 130"), "{}", text(&out));

    let out = env.run(&["history", "--all"]);
    assert_eq!(rows(&out), 130, "{}", text(&out));
    assert!(!stderr(&out).contains("showing"), "{}", text(&out));

    let v: Value = serde_json::from_slice(&env.run(&["history", "--json"]).stdout).unwrap();
    assert_eq!(v["generations"].as_array().unwrap().len(), 20);
    assert_eq!(v["total"], 130);
    assert_eq!(v["truncated"], true);
    let v: Value =
        serde_json::from_slice(&env.run(&["history", "--all", "--json"]).stdout).unwrap();
    assert_eq!(v["generations"].as_array().unwrap().len(), 130);
    assert_eq!(v["truncated"], false);

    // Nonsense is refused, not guessed at.
    for bad in [
        &["history", "--limit", "0"][..],
        &["history", "--limit", "5", "--all"],
    ] {
        let out = env.run(bad);
        assert_eq!(code(&out), 1, "{bad:?}: {}", text(&out));
    }
}

#[test]
fn a_short_journal_is_shown_whole_without_a_note() {
    let env = journal_of(3);
    let out = env.run(&["history"]);
    assert_eq!(rows(&out), 3, "{}", text(&out));
    assert!(!stderr(&out).contains("showing"), "{}", text(&out));
}
