//! Issue 18, point 4: `sync push` harvests first. A token Codex rotated in a home of this
//! machine goes up to the server, not the vault's older copy of the login (which the issuer
//! has already forgotten), so the other machines get the live token without an
//! `import auth` by hand.

use crate::harness::{Env, Login, stderr, text};
use crate::sync_harness::*;

#[test]
fn push_after_codex_rotated_a_token_here_sends_the_rotated_token() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["dee"], &[]);
    let b = Env::new();
    let phrase = first_machine(&b, &s.url, "dee");
    let mut login = Login::new("dee@example.com", "acct-dee");
    login.refresh_token = "rt_before_codex".into();
    login.last_refresh = Some("2026-11-10T00:00:00Z".into());
    b.import_login(&login);
    ok(b.run(&["sync", "push"]));
    let id = account_ids(&b).pop().unwrap();

    // Codex refreshed in the home: its auth.json now holds a rotated refresh token.
    let mut rotated = login.clone();
    rotated.refresh_token = "rt_rotated_by_codex".into();
    rotated.last_refresh = Some("2026-11-20T00:00:00Z".into());
    rotated.write_to(&b.default_codex_home());

    let out = ok(b.run(&["sync", "push"]));
    assert!(stderr(&out).contains("pushed 1 account"), "{}", text(&out));
    assert_eq!(vault_refresh_token(&b, &id), "rt_rotated_by_codex");

    let a = Env::new();
    ok(join(&a, &s.url, "dee", &phrase));
    ok(a.run(&["sync", "pull"]));
    assert_eq!(vault_refresh_token(&a, &id), "rt_rotated_by_codex");

    // Each sync that changed something is a generation of its own (issue 18, point 3):
    // the harvest that took the rotated token, the push, the pull; rollback cannot undo a
    // sync and says why.
    assert_eq!(
        b.generations_of("sync push").len(),
        3,
        "harvest, two pushes"
    );
    let pulled = a.generations_of("sync pull");
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    let id = pulled[0]["id"].to_string();
    let one: serde_json::Value =
        serde_json::from_slice(&ok(a.run(&["history", &id, "--json"])).stdout).unwrap();
    let step = &one["generation"]["actions"][0];
    assert_eq!(step["address"], "sync.default.pull", "{step}");
    assert!(
        step["description"]
            .as_str()
            .unwrap()
            .contains("rollback cannot undo this"),
        "{step}"
    );
    let out = a.run(&["rollback", &id, "--yes"]);
    assert_eq!(crate::harness::code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("sync server"), "{}", text(&out));
    // A pull with nothing new leaves no generation.
    ok(a.run(&["sync", "pull"]));
    assert_eq!(a.generations_of("sync pull").len(), 1);
}

/// `--dry-run` (issue 18, point 3): `sync push` shows the harvest it would make first, then,
/// with nothing to harvest, the push; `sync pull` the pull. Neither reaches the vault, the
/// journal or the server.
#[test]
fn sync_push_and_pull_under_dry_run_show_their_plan_and_change_nothing() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["eve"], &[]);
    let b = Env::new();
    let phrase = first_machine(&b, &s.url, "eve");
    let login = Login::new("eve@example.com", "acct-eve");
    b.import_login(&login);
    let history = |e: &Env| ok(e.run(&["history", "--all", "--json"])).stdout;
    let before = history(&b);

    // A token Codex rotated here: the first write of a push is taking it.
    let mut rotated = login.clone();
    rotated.refresh_token = "rt_rotated_for_dry_run".into();
    rotated.last_refresh = Some("2026-11-20T00:00:00Z".into());
    rotated.write_to(&b.default_codex_home());
    let out = ok(b.run(&["sync", "push", "--dry-run"]));
    // The harvest first, then the push: one plan.
    let shown = crate::harness::stdout(&out);
    assert!(shown.contains(".harvest"), "{}", text(&out));
    assert!(shown.contains("sync.default.push"), "{}", text(&out));
    assert_eq!(history(&b), before, "{}", text(&out));
    std::fs::remove_file(b.default_codex_home().join("auth.json")).unwrap();

    let out = ok(b.run(&["sync", "push", "--dry-run"]));
    assert!(
        crate::harness::stdout(&out).contains("sync.default.push"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("nothing was written"),
        "{}",
        text(&out)
    );
    assert_eq!(history(&b), before);
    // The server has nothing yet: a machine joining finds no account.
    let a = Env::new();
    ok(join(&a, &s.url, "eve", &phrase));
    let out = ok(a.run(&["sync", "pull", "--dry-run"]));
    assert!(
        crate::harness::stdout(&out).contains("sync.default.pull"),
        "{}",
        text(&out)
    );
    ok(b.run(&["sync", "push"]));
    ok(a.run(&["sync", "pull", "--dry-run"]));
    assert!(account_ids(&a).is_empty(), "a dry pull took nothing");
    ok(a.run(&["sync", "pull"]));
    assert_eq!(account_ids(&a).len(), 1);
}
