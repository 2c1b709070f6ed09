//! One live copy of a ChatGPT login, whoever asks: the side doors (rollback of an old
//! switch, a second manifest, a home removed and its login bound elsewhere) are refused
//! with both folders named; moves and swaps between declared homes go through without a
//! moment of two copies.

use std::path::Path;

use crate::harness::*;

fn holds(home: &Path) -> Option<String> {
    let p = home.join("auth.json");
    p.exists()
        .then(|| {
            read_json(&p)["tokens"]["account_id"]
                .as_str()
                .map(str::to_string)
        })
        .flatten()
}

fn three_logins(env: &Env) {
    for (e, a) in [
        ("ada@example.com", "acct-ada"),
        ("ben@example.com", "acct-ben"),
        ("cyd@example.com", "acct-cyd"),
    ] {
        env.import_login(&Login::new(e, a));
    }
}

#[test]
fn rollback_of_an_old_switch_never_puts_back_a_login_live_elsewhere() {
    let env = Env::new();
    three_logins(&env);
    let (a, b) = (env.codex_home("a"), env.codex_home("b"));
    let to = |who: &str, folder: &Path| {
        let out = env.run(&["switch", who, "--codex-home", folder.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
    };
    to("ada@example.com", &a);
    to("cyd@example.com", &a); // the generation to roll back: ada left `a`
    to("ada@example.com", &b); // ada is live in `b` now
    let gens = env.generations_of("switch");
    let mut ids: Vec<i64> = gens.iter().map(|g| g["id"].as_i64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "{gens:?}");
    let switch_away = ids[1];
    let out = env.run(&["rollback", &switch_away.to_string(), "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("not put back"), "{said}");
    assert!(
        said.contains(&b.display().to_string()),
        "names the folder: {said}"
    );
    assert_eq!(
        holds(&a).as_deref(),
        Some("acct-cyd"),
        "`a` kept what it had"
    );
    assert_eq!(holds(&b).as_deref(), Some("acct-ada"));
}

#[test]
fn a_second_manifest_cannot_bind_a_login_live_in_the_first_ones_home() {
    let env = Env::new();
    three_logins(&env);
    let (main, other) = (env.codex_home("main"), env.codex_home("other"));
    env.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  main: {{ path: {}, account: ada }}\n",
        main.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    let second = env.path("other.yaml");
    std::fs::write(
        &second,
        format!(
            "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  other: {{ path: {}, account: ada }}\n",
            other.display()
        ),
    )
    .unwrap();
    let f = second.to_str().unwrap();
    let out = env.run(&["-f", f, "plan"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("is live in"), "{}", text(&out));
    assert!(
        text(&out).contains(&main.display().to_string()),
        "{}",
        text(&out)
    );
    let out = env.run(&["-f", f, "apply", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_eq!(holds(&other), None, "nothing written there");
    assert_eq!(holds(&main).as_deref(), Some("acct-ada"));
}

#[test]
fn a_removed_homes_login_stays_its_one_copy_until_it_is_cleared() {
    let env = Env::new();
    three_logins(&env);
    let (h1, h2) = (env.codex_home("h1"), env.codex_home("h2"));
    let manifest = |h1_account: &str| {
        env.manifest(&format!(
            "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  h1: {{ path: {}{h1_account} }}\n  h2: {{ path: {} }}\n",
            h1.display(),
            h2.display()
        ))
    };
    manifest(", account: ada");
    assert!(env.run(&["apply", "--yes"]).status.success());
    // No terminal: the login is kept, and said so.
    let out = env.run(&["home", "remove", "h1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("one live copy"), "{}", text(&out));
    assert_eq!(holds(&h1).as_deref(), Some("acct-ada"));
    let out = env.run(&["home", "bind", "h2", "ada"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains(&h1.display().to_string()),
        "{}",
        text(&out)
    );
    assert_eq!(holds(&h2), None);
    // Cleared (backed up, journaled): the login may go elsewhere.
    manifest(", account: ada");
    let out = env.run(&["home", "remove", "h1", "--clear-login"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(holds(&h1), None);
    let out = env.run(&["home", "bind", "h2", "ada"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(holds(&h2).as_deref(), Some("acct-ada"));
}

#[test]
fn a_login_moving_between_homes_and_a_swap_never_exist_twice() {
    let env = Env::new();
    three_logins(&env);
    let (h1, h2) = (env.codex_home("h1"), env.codex_home("h2"));
    let bind = |a: &str, b: &str| {
        env.manifest(&format!(
            "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\n  ben: {{ email: ben@example.com }}\n  cyd: {{ email: cyd@example.com }}\nhomes:\n  h1: {{ path: {}, account: {a} }}\n  h2: {{ path: {}, account: {b} }}\n",
            h1.display(),
            h2.display()
        ))
    };
    bind("ada", "ben");
    assert!(env.run(&["apply", "--yes"]).status.success());
    // A swap: one login is taken out first, then both are written.
    bind("ben", "ada");
    let out = env.run(&["plan", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ops: Vec<(String, String)> = plan["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap().to_string(),
                a["op"]["op"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(ops[0].1, "remove_auth", "{ops:?}");
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(holds(&h1).as_deref(), Some("acct-ben"));
    assert_eq!(holds(&h2).as_deref(), Some("acct-ada"));
    // A move: h2 gives ada up to h1 and takes cyd; h2 is written first.
    bind("ada", "cyd");
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(holds(&h1).as_deref(), Some("acct-ada"));
    assert_eq!(holds(&h2).as_deref(), Some("acct-cyd"));
    assert_eq!(
        code(&env.run(&["plan", "--detailed-exitcode"])),
        0,
        "converged"
    );
}
