//! Issue 18, point 4: one live copy of a ChatGPT login across machines. A synced record
//! carries where each machine has the login live, so machine B does not write a login into
//! a folder of its own while machine A has it in a home: `switch` (with or without
//! `--move`) and `apply` on B are refused, naming both places and the fix. Once A lets go
//! (another login in that home, or the folder emptied) and pushes, B's pull frees it.

use std::path::Path;

use crate::harness::{Env, Login, read_json, stderr, text};
use crate::sync_harness::*;

crate::on_both_backends!(
    switch_on_one_machine_is_refused_while_another_has_the_login_in_a_home,
    apply_on_one_machine_does_not_bind_a_login_another_has_in_a_home,
);

/// `sync login` under a machine name of the test's choosing, joining with `phrase` when
/// given, else making the key (`sync init`, which pushes); returns the phrase.
fn machine(m: &Env, url: &str, device: &str, phrase: Option<&str>) -> String {
    let mut args = vec![
        "sync",
        "login",
        "--server",
        url,
        "--user",
        "dee",
        "--password-stdin",
        "--device",
        device,
    ];
    let mut stdin = format!("{PASSWORD}\n");
    if let Some(p) = phrase {
        args.push("--key-stdin");
        stdin.push_str(&format!("{p}\n"));
    }
    ok(m.run_stdin(&args, &stdin));
    match phrase {
        Some(p) => p.to_string(),
        None => {
            let out = ok(m.run(&["sync", "init"]));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    }
}

fn two_logins(m: &Env) {
    m.import_login(&Login::new("ada@example.com", "acct-ada"));
    m.import_login(&Login::new("ben@example.com", "acct-ben"));
}

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

/// Machine A (`laptop-a`) with ada bound to its home `work` by an `apply` that pushes
/// (its manifest shares accounts with the server); machine B (`desk-b`) joined and pulled.
/// Returns (A, B, A's home `work`).
fn ada_at_work_on_a(url: &str) -> (Env, Env, std::path::PathBuf) {
    let a = Env::new();
    let phrase = machine(&a, url, "laptop-a", None);
    two_logins(&a);
    ok(a.run(&["sync", "push"]));
    let work = a.codex_home("work");
    a.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\n  ben: {{ email: ben@example.com }}\nhomes:\n  work: {{ path: {}, account: ada }}\nsync:\n  targets:\n    - name: default\n      url: {url}\n      user: dee\n      share: [accounts]\n",
        work.display()
    ));
    // Nothing was pending before the apply: writing ada into `work` is what it pushes, so
    // the other machines hear of it from the same run.
    let out = ok(a.run(&["apply", "--yes"]));
    assert!(stderr(&out).contains("pushed 1 account"), "{}", text(&out));
    assert_eq!(holds(&work).as_deref(), Some("acct-ada"));
    let out = a.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "converged: {}", text(&out));
    let b = Env::new();
    machine(&b, url, "desk-b", Some(&phrase));
    ok(b.run(&["sync", "pull"]));
    assert_eq!(account_ids(&b).len(), 2);
    (a, b, work)
}

/// A lets go of ada (its home `work` gets ben) and pushes; B pulls.
fn a_lets_go(a: &Env, b: &Env) {
    ok(a.run(&["switch", "ben@example.com", "--home", "work"]));
    ok(a.run(&["sync", "push"]));
    ok(b.run(&["sync", "pull"]));
}

fn switch_on_one_machine_is_refused_while_another_has_the_login_in_a_home(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["dee"], &[]);
    let (a, b, work) = ada_at_work_on_a(&s.url);
    let mine = b.codex_home("mine");
    let to_mine = [
        "switch",
        "ada@example.com",
        "--codex-home",
        mine.to_str().unwrap(),
    ];

    let said = fails(b.run(&to_mine));
    assert!(
        said.contains("home `work` on machine `laptop-a`"),
        "names where it is live: {said}"
    );
    assert!(said.contains(&work.display().to_string()), "{said}");
    assert!(
        said.contains(&mine.display().to_string()),
        "names this folder: {said}"
    );
    assert!(
        said.contains("cdxs switch OTHER --home work") && said.contains("`cdxs sync push`"),
        "the fix on that machine: {said}"
    );
    assert!(said.contains("`cdxs sync pull`"), "the fix here: {said}");
    assert_eq!(holds(&mine), None, "nothing written");

    // `--move` moves a login between folders of one machine, not off another machine.
    let mut moving = to_mine.to_vec();
    moving.push("--move");
    let said = fails(b.run(&moving));
    assert!(said.contains("machine `laptop-a`"), "{said}");
    assert_eq!(holds(&mine), None);

    // `run --account` writes through the same door.
    let said = fails(b.run(&[
        "run",
        "--account",
        "ada@example.com",
        "--codex-home",
        mine.to_str().unwrap(),
        "--",
        "true",
    ]));
    assert!(said.contains("home `work` on machine `laptop-a`"), "{said}");
    assert_eq!(holds(&mine), None);

    // Scripts see the same kind as for two folders of one machine.
    let mut json = to_mine.to_vec();
    json.push("--json");
    let out = b.run(&json);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "live_elsewhere", "{doc}");

    a_lets_go(&a, &b);
    let out = ok(b.run(&to_mine));
    assert_eq!(holds(&mine).as_deref(), Some("acct-ada"), "{}", text(&out));
    assert_eq!(holds(&work).as_deref(), Some("acct-ben"));

    // And now the other way round: B pushes, A does not take ada back into `work`.
    ok(b.run(&["sync", "push"]));
    ok(a.run(&["sync", "pull"]));
    let out = a.run(&["plan"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = fails(a.run(&["switch", "ada@example.com", "--home", "work"]));
    assert!(said.contains("on machine `desk-b`"), "{said}");
    assert_eq!(holds(&work).as_deref(), Some("acct-ben"));
}

fn apply_on_one_machine_does_not_bind_a_login_another_has_in_a_home(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["dee"], &[]);
    let (a, b, work) = ada_at_work_on_a(&s.url);
    let main = b.codex_home("main");
    b.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  main: {{ path: {}, account: ada }}\n",
        main.display()
    ));
    let out = b.run(&["plan"]);
    assert_eq!(crate::harness::code(&out), 1, "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("home `work` on machine `laptop-a`"), "{said}");
    assert!(said.contains(&work.display().to_string()), "{said}");
    assert!(said.contains("home `main`"), "names this home: {said}");
    assert!(said.contains("cdxs sync pull"), "{said}");
    let said = fails(b.run(&["apply", "--yes"]));
    assert!(said.contains("machine `laptop-a`"), "{said}");
    assert_eq!(holds(&main), None, "nothing written");

    a_lets_go(&a, &b);
    ok(b.run(&["apply", "--yes"]));
    assert_eq!(holds(&main).as_deref(), Some("acct-ada"));
}

/// A folder that no longer holds the login (Codex logged out there) is dropped from the
/// placements by the harvest `sync push` runs first, and the push says so.
#[test]
fn a_folder_emptied_by_hand_frees_the_login_with_the_next_push() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["dee"], &[]);
    let a = Env::new();
    let phrase = machine(&a, &s.url, "laptop-a", None);
    two_logins(&a);
    let spot = a.codex_home("spot");
    ok(a.run(&[
        "switch",
        "ada@example.com",
        "--codex-home",
        spot.to_str().unwrap(),
    ]));
    ok(a.run(&["sync", "push"]));
    let b = Env::new();
    machine(&b, &s.url, "desk-b", Some(&phrase));
    ok(b.run(&["sync", "pull"]));
    let mine = b.codex_home("mine");
    let to_mine = [
        "switch",
        "ada@example.com",
        "--codex-home",
        mine.to_str().unwrap(),
    ];
    let said = fails(b.run(&to_mine));
    assert!(
        said.contains(&format!("`{}` on machine `laptop-a`", spot.display())),
        "{said}"
    );
    assert!(
        said.contains(&format!("--codex-home {}", spot.display())),
        "{said}"
    );

    // `codex logout` in that folder: the login is gone from it.
    std::fs::remove_file(spot.join("auth.json")).unwrap();
    let out = ok(a.run(&["sync", "push"]));
    assert!(stderr(&out).contains("pushed 1 account"), "{}", text(&out));
    ok(b.run(&["sync", "pull"]));
    ok(b.run(&to_mine));
    assert_eq!(holds(&mine).as_deref(), Some("acct-ada"));
}

/// A pool does not pick a login another machine has live: it says why, and picks another.
#[test]
fn a_pool_skips_a_login_another_machine_has_in_a_home() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["dee"], &[]);
    let (_a, b, _work) = ada_at_work_on_a(&s.url);
    let main = b.codex_home("main");
    b.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\n  ben: {{ email: ben@example.com }}\npools:\n  p: [ada, ben]\nhomes:\n  main: {{ path: {}, account: {{ pool: p }} }}\n",
        main.display()
    ));
    let out = ok(b.run(&["plan"]));
    assert!(
        text(&out).contains("`ada` (live in home `work` on machine `laptop-a`"),
        "{}",
        text(&out)
    );
    ok(b.run(&["apply", "--yes"]));
    assert_eq!(holds(&main).as_deref(), Some("acct-ben"));
}

/// A machine gone for good never lets go of its logins itself: `sync forget-device` on
/// another machine forgets it (a generation), pushes, and the other machines let the login
/// go at their next pull. The refusal says how.
#[test]
fn a_machine_gone_for_good_is_forgotten_with_forget_device() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["dee"], &[]);
    let (_a, b, _work) = ada_at_work_on_a(&s.url);
    let mine = b.codex_home("mine");
    let to_mine = [
        "switch",
        "ada@example.com",
        "--codex-home",
        mine.to_str().unwrap(),
    ];
    let said = fails(b.run(&to_mine));
    assert!(
        said.contains("cdxs sync forget-device laptop-a"),
        "says how to forget a lost machine: {said}"
    );
    // A third machine joins and pulls: it sees laptop-a's placement too.
    let phrase = String::from_utf8_lossy(&ok(b.run(&["sync", "key"])).stdout)
        .trim()
        .to_string();
    let c = Env::new();
    machine(&c, &s.url, "desk-c", Some(&phrase));
    ok(c.run(&["sync", "pull"]));
    let c_mine = c.codex_home("mine");
    let c_to_mine = [
        "switch",
        "ada@example.com",
        "--codex-home",
        c_mine.to_str().unwrap(),
    ];
    fails(c.run(&c_to_mine));

    // laptop-a is gone: B forgets it.
    let before = b.generations_of("sync forget-device").len();
    let out = ok(b.run(&["sync", "forget-device", "laptop-a"]));
    assert!(
        stderr(&out).contains("forgot 1 placement"),
        "{}",
        text(&out)
    );
    assert_eq!(b.generations_of("sync forget-device").len(), before + 1);
    ok(b.run(&to_mine));
    assert_eq!(holds(&mine).as_deref(), Some("acct-ada"));
    // C hears it at its next pull; and once B says it has ada live, C is refused because
    // of B.
    ok(b.run(&["sync", "push"]));
    ok(c.run(&["sync", "pull"]));
    let said = fails(c.run(&c_to_mine));
    assert!(said.contains("desk-b"), "{said}");
    assert!(!said.contains("laptop-a"), "{said}");
}
