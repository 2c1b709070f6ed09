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
}
