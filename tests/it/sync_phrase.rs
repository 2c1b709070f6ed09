//! The sync key's recovery phrase for people (issue 21, point 12): a numbered 4x6 grid on a
//! terminal (one line in a pipe, which every phrase reader takes back, grid numbers and
//! all), honest wording (`cdxs sync key` shows it again), `sync key --set` on a terminal
//! read word by word with echo on, each word checked against BIP39 with the closest ones
//! suggested, and `sync init` saying what it pushed. Terminal parts run on a
//! pseudo-terminal (util-linux `script`).

use cdxs::sync::crypto::SyncKey;

use crate::harness::{Env, Login, code, stderr, text};
use crate::sync_harness::*;

/// Any BIP39 word other than `word` that makes `words` fail the checksum in place `at`.
fn checksum_breaker(words: &[&str], at: usize) -> &'static str {
    [
        "zoo", "zone", "abandon", "ability", "able", "about", "above", "absent",
    ]
    .into_iter()
    .find(|w| {
        let mut v = words.to_vec();
        v[at] = w;
        *w != words[at] && SyncKey::from_phrase(&v.join(" ")).is_err()
    })
    .expect("one of eight words breaks an 8-bit checksum")
}

/// A typo of `word` that is no BIP39 word: one letter doubled in the middle.
fn typo(word: &str) -> String {
    let mid = word.len() / 2;
    format!("{}{}{}", &word[..mid], &word[mid..mid + 1], &word[mid..])
}

#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for the phrase entry) is not installed"
)]
fn sync_key_set_on_a_terminal_reads_word_by_word_and_suggests_the_closest_word() {
    let env = Env::new();
    let s = server(&env, &Db::sqlite(), &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let words: Vec<&str> = phrase.split(' ').collect();
    let b = Env::new();
    ok(login(&b, &s.url, "alice"));
    // Word 1 right; word 2 with a typo (asked again), then in capitals; word 3 by its first
    // four letters; word 4, back one (`-`), word 4 again; word 5 a valid but wrong word,
    // the rest pasted in one go (a grid row's numbers and all); the checksum fails, so
    // word 5 is retyped.
    let wrong5 = checksum_breaker(&words, 4);
    let rest: Vec<String> = (5..24).map(|i| format!("{} {}", i + 1, words[i])).collect();
    let typed = [
        words[0].to_string(),
        typo(words[1]),
        words[1].to_uppercase(),
        words[2].chars().take(4).collect(),
        words[3].to_string(),
        "-".into(),
        words[3].to_string(),
        wrong5.to_string(),
        rest.join("  "),
        "5".into(),
        words[4].to_string(),
    ];
    let out = b.on_a_terminal("sync key --set", &typed.join("\n"));
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(code(&out), 0, "{shown}");
    for want in [
        "one at a time".to_string(),
        "word  1/24:".into(),
        "word  5/24:".into(),
        "the phrase's checksum fails".into(),
        "Which word to retype".into(),
        "this machine now syncs with key kid_".into(),
    ] {
        assert!(shown.contains(&want), "wanted {want:?} in:\n{shown}");
    }
    let hint = shown
        .lines()
        .find(|l| {
            l.contains(&format!(
                "`{}` is not a BIP39 word; did you mean",
                typo(words[1])
            ))
        })
        .unwrap_or_else(|| panic!("no suggestion for the typo:\n{shown}"));
    assert!(hint.contains(&format!("`{}`", words[1])), "{hint}");
    assert!(hint.contains("Type word 2 again."), "{hint}");
    // Echo is on: the words typed are on the screen.
    assert!(shown.contains(&typo(words[1])), "{shown}");
    // It joined the very key of machine a.
    let kid = |m: &Env| status_json(m)["targets"][0]["key_id"].clone();
    assert_eq!(kid(&a), kid(&b));
    // Giving up (end of input) changes nothing.
    let c = Env::new();
    ok(login(&c, &s.url, "alice"));
    let out = c.on_a_terminal("sync key --set", words[0]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no phrase entered: nothing changed"));
    assert!(status_json(&c)["targets"][0]["key_id"].is_null());
}

#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for the phrase grid) is not installed"
)]
fn the_phrase_is_a_numbered_grid_on_a_terminal_and_one_line_in_a_pipe() {
    let env = Env::new();
    let s = server(&env, &Db::sqlite(), &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let words: Vec<&str> = phrase.split(' ').collect();
    let out = a.on_a_terminal("sync key", "");
    let shown = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(code(&out), 0, "{shown}");
    let grid: Vec<&str> = shown
        .lines()
        .filter(|l| l.trim_start().starts_with(char::is_numeric))
        .collect();
    assert_eq!(grid.len(), 6, "six rows of four:\n{shown}");
    assert!(
        grid[0].trim_start().starts_with(&format!("1 {}", words[0])),
        "{shown}"
    );
    assert!(grid[5].contains(&format!("24 {}", words[23])), "{shown}");
    assert!(grid.iter().all(|l| l.chars().count() <= 56), "{shown}");
    // A grid pasted back (numbers, line breaks and all) is the same key.
    let pasted = grid.join("\n");
    let b = Env::new();
    ok(login(&b, &s.url, "alice"));
    ok(b.run_stdin(&["sync", "key", "--set"], &pasted));
    let kid = |m: &Env| status_json(m)["targets"][0]["key_id"].clone();
    assert_eq!(kid(&a), kid(&b));
    // In a pipe: one line, for scripts.
    let out = ok(a.run(&["sync", "key"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), phrase);
    // The phrase is never a --json document.
    let out = a.run(&["sync", "key", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!text(&out).contains(&phrase), "{}", text(&out));
}

#[test]
fn sync_init_says_the_phrase_can_be_shown_again_and_what_it_pushed() {
    let env = Env::new();
    let s = server(&env, &Db::sqlite(), &["alice"], &[]);
    let a = Env::new();
    a.import_login(&Login::new("ada@example.com", "acct-ada"));
    ok(a.add_api_key("sk-proj-init0pushes0abcd1234"));
    ok(login(&a, &s.url, "alice"));
    let out = ok(a.run(&["sync", "init"]));
    let err = stderr(&out);
    assert!(!err.contains("shown this once"), "{err}");
    assert!(err.contains("`cdxs sync key` shows it again"), "{err}");
    assert!(
        err.contains("pushed 2 account(s) and 0 deletion(s)"),
        "{err}"
    );
    assert_eq!(status_json(&a)["targets"][0]["pending"], 0);
    // --json: the outcome, never the phrase (it goes to stderr for the person).
    let b = Env::new();
    add_user(&env, &Db::sqlite(), "bob", PASSWORD);
    ok(login(&b, &s.url, "bob"));
    let out = ok(b.run(&["sync", "init", "--no-push", "--json"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["command"], "sync init", "{doc}");
    assert_eq!(doc["changed"], true);
    assert!(doc["key_id"].as_str().unwrap().starts_with("kid_"));
    assert!(doc["push"].is_null());
    let err = String::from_utf8_lossy(&out.stderr);
    let phrase = err
        .lines()
        .find(|l| l.split(' ').count() == 24)
        .expect("the phrase on stderr, for the person");
    let first_three = phrase.split(' ').take(3).collect::<Vec<_>>().join(" ");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&first_three));
}
