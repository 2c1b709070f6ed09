//! Sync keeps its promise under faults (issue 19): one test per finding of the audit, each
//! seen failing against the code before the fix (`CDXS_TEST_BIN` pointed at that build).
//! Machines are `Env`s, the server a real `cdxs server run` on both backends, the issuer
//! the OpenAI mock.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Env, Login, stderr, text};
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::sync_harness::*;

crate::on_both_backends!(
    machines_with_the_same_long_name_hold_leases_apart,
    a_forced_pull_never_takes_back_a_spent_token,
    a_forced_push_without_some_accounts_removes_them_elsewhere_only_after_a_backup,
    a_record_this_machine_cannot_open_does_not_block_its_other_pushes,
    a_failing_sync_server_never_blocks_refreshes_of_logins_bound_here,
);

/// A machine's sync login token (from its vault), for raw API calls as that machine.
fn machine_token(m: &Env) -> String {
    let conn = rusqlite::Connection::open(m.state.join("cdxs.db")).unwrap();
    conn.query_row("SELECT token FROM sync_targets", [], |r| r.get(0))
        .unwrap()
}

/// Finding 1 stops a process (SIGSTOP) and watches its open files (`/proc`): Linux only.
#[cfg(target_os = "linux")]
mod stopped_holder {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use super::*;

    crate::on_both_backends!(
        a_lease_holder_stopped_past_the_ttl_never_sends_the_same_refresh_token_again
    );

    fn signal(pid: u32, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    }

    /// Wait until `f` holds (polling), or panic with `what`.
    fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + limit;
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Finding 1: machine A takes the refresh lease, then stalls (a laptop suspend: SIGSTOP,
    /// here while it waits for Codex's `auth.lock` of its home, which the test holds) past the
    /// lease's ttl. Machine B takes the expired lease and refreshes. A resumes: it must not send
    /// the refresh token B already spent. Exactly one request per refresh token reaches the
    /// issuer, and both machines end with the newest token.
    fn a_lease_holder_stopped_past_the_ttl_never_sends_the_same_refresh_token_again(db: &Db) {
        const TTL: u64 = 6;
        let env = Env::new();
        let s = server(&env, db, &["alice"], &[]);
        let mock = MockOpenAi::start();
        mock.add(MockAccount::new("stall@example.com", "acct-stall"));
        let a = Env::new();
        let b = Env::new();
        for m in [&a, &b] {
            m.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
            m.set_env("CDXS_SYNC_LEASE_TTL", &TTL.to_string());
            m.set_env("CDXS_LOCK_TIMEOUT", "120");
        }
        let phrase = first_machine(&a, &s.url, "alice");
        let mut login = Login::new("stall@example.com", "acct-stall");
        login.refresh_token = mock.account("stall@example.com").refresh_token;
        a.import_login(&login);
        let id = account_ids(&a).pop().unwrap();
        // The login lives in a Codex home on A: its refresh locks that home's `auth.lock`.
        let home = a.codex_home("stall");
        ok(a.run(&["switch", &id, "--codex-home", home.to_str().unwrap()]));
        ok(a.run(&["push"]));
        ok(join(&b, &s.url, "alice", &phrase));
        ok(b.run(&["pull"]));
        let first_rt = login.refresh_token.clone();

        // Codex on A holds `auth.lock` (as it does while it refreshes), so A waits under its
        // lease.
        let codex_lock = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(home.join("auth.lock"))
            .unwrap();
        codex_lock.lock().unwrap();
        let child_a = spawn(&a, &["sync", "refresh", "stall@example.com", "--force"]);
        let api = Api::new(&s.url);
        let token = api.token("alice");
        wait_for("A's lease", Duration::from_secs(30), || {
            let (_, v, _) = api.call("GET", "/v1/leases", Some(&token), None);
            v["leases"].as_array().is_some_and(|l| !l.is_empty())
        });
        // A has taken the lease and pulled, and waits for the home's lock: it has the lock file
        // open.
        let lock_file = std::fs::canonicalize(home.join("auth.lock")).unwrap();
        wait_for("A waiting for auth.lock", Duration::from_secs(30), || {
            std::fs::read_dir(format!("/proc/{}/fd", child_a.id()))
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|p| p == lock_file))
        });
        // A stalls, past the ttl.
        signal(child_a.id(), "-STOP");
        std::thread::sleep(Duration::from_secs(TTL + 2));
        // B takes the expired lease and refreshes.
        let out_b = b
            .cdxs()
            .args(["sync", "refresh", "stall@example.com", "--force"])
            .env("CDXS_NOW", "+0")
            .output()
            .unwrap();
        assert!(out_b.status.success(), "B: {}", text(&out_b));
        assert_eq!(mock.count("/oauth/token"), 1, "B's refresh");
        // A resumes, and Codex lets go of the lock.
        drop(codex_lock);
        signal(child_a.id(), "-CONT");
        let out_a = child_a.wait_with_output().unwrap();

        let sent: Vec<String> = mock
            .log()
            .iter()
            .filter(|l| l.path == "/oauth/token")
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(&l.body).unwrap()["refresh_token"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        assert_eq!(
            sent,
            vec![first_rt.clone()],
            "exactly one request per refresh token reaches the issuer\nA: {}\nB: {}",
            text(&out_a),
            text(&out_b)
        );
        assert!(mock.refusals().is_empty(), "{:?}", mock.refusals());
        assert!(out_a.status.success(), "A: {}", text(&out_a));
        assert!(
            stderr(&out_a).contains("another machine refreshed stall@example.com"),
            "A: {}",
            text(&out_a)
        );
        let newest = mock.current_token("stall@example.com");
        assert_ne!(newest, first_rt);
        assert_eq!(vault_refresh_token(&a, &id), newest);
        assert_eq!(vault_refresh_token(&b, &id), newest);
        // A's Codex home got the newest token as well.
        let written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(home.join("auth.json")).unwrap())
                .unwrap();
        assert_eq!(written["tokens"]["refresh_token"], newest.as_str());
    }
}

/// Finding 9: a lease is held by the device, not its name. Two machines with the same
/// long name (cut at 100 characters, the old holder) must not share a lease, nor release
/// each other's.
fn machines_with_the_same_long_name_hold_leases_apart(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let name = format!("build-runner-{}", "x".repeat(120));
    let a = Env::new();
    let b = Env::new();
    for m in [&a, &b] {
        let out = m.run_stdin(
            &[
                "sync",
                "login",
                "--server",
                &s.url,
                "--user",
                "alice",
                "--password-stdin",
                "--device",
                &name,
            ],
            &format!("{PASSWORD}\n"),
        );
        ok(out);
    }
    let api = Api::new(&s.url);
    let (ta, tb) = (machine_token(&a), machine_token(&b));
    let rid = "r_0123456789abcdef0123456789abcdef";
    let lease = json!({"record_id": rid, "ttl_s": 60});
    let (status, _, _) = api.call("POST", "/v1/leases", Some(&ta), Some(lease.clone()));
    assert_eq!(status, 200);
    let (status, body, _) = api.call("POST", "/v1/leases", Some(&tb), Some(lease.clone()));
    assert_eq!(status, 409, "B shares A's lease: {body}");
    assert_eq!(body["error"], "lease_held");
    // B cannot release A's lease either.
    let (status, _, _) = api.call("DELETE", &format!("/v1/leases/{rid}"), Some(&tb), None);
    assert_eq!(status, 204);
    let (status, _, _) = api.call("POST", "/v1/leases", Some(&tb), Some(lease));
    assert_eq!(status, 409, "B released A's lease");
}

/// A ChatGPT login about to need a refresh, known to the mock issuer, imported on `m`.
fn expiring_login(mock: &MockOpenAi, m: &Env, email: &str, acct: &str) -> Login {
    mock.add(MockAccount::new(email, acct));
    let now = chrono::Utc::now().timestamp();
    let mut login = Login::new(email, acct);
    login.iat = now - 3500;
    login.exp = now + 60;
    login.refresh_token = mock.account(email).refresh_token;
    m.import_login(&login);
    login
}

/// The refresh tokens the issuer received, in order.
fn sent_tokens(mock: &MockOpenAi) -> Vec<String> {
    mock.log()
        .iter()
        .filter(|l| l.path == "/oauth/token")
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(&l.body)
                .ok()
                .and_then(|v| v["refresh_token"].as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

/// Finding 2: a refresh whose push failed leaves the server with the token it spent;
/// `pull --force` used to put that spent token back into the vault (and replace the
/// high-water mark), and the next refresh sent it to the issuer again.
fn a_forced_pull_never_takes_back_a_spent_token(db: &Db) {
    let env = Env::new();
    let mut s = server(&env, db, &["alice"], &[]);
    let mock = MockOpenAi::start();
    let a = Env::new();
    a.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    first_machine(&a, &s.url, "alice");
    let login = expiring_login(&mock, &a, "spent@example.com", "acct-spent");
    ok(a.run(&["push"]));
    a.manifest(&format!(
        "version: 1\naccounts:\n  me: {{ email: spent@example.com }}\nhomes:\n  default:\n    path: {}\n    account: me\n",
        a.default_codex_home().display()
    ));
    // The server goes away: the refresh happens here (bound), its push cannot.
    s.stop();
    ok(a.cdxs()
        .args(["sync", "refresh", "spent@example.com"])
        .env("CDXS_NOW", "+0")
        .output()
        .unwrap());
    let id = account_ids(&a).pop().unwrap();
    let fresh = vault_refresh_token(&a, &id);
    assert_ne!(fresh, login.refresh_token);
    s.restart();
    // The server still holds the spent token; a forced pull must not take it.
    let out = ok(a.run(&["pull", "--force"]));
    assert_eq!(
        vault_refresh_token(&a, &id),
        fresh,
        "the forced pull took the spent token: {}",
        text(&out)
    );
    // The next refresh sends the fresh token, never the spent one again.
    ok(a.cdxs()
        .args(["sync", "refresh", "spent@example.com", "--force"])
        .env("CDXS_NOW", "+0")
        .output()
        .unwrap());
    let sent = sent_tokens(&mock);
    assert_eq!(sent, vec![login.refresh_token.clone(), fresh.clone()]);
    assert!(mock.refusals().is_empty(), "{:?}", mock.refusals());
}

/// Finding 3: a machine that lacks some accounts pushes with `--force`; the others used to
/// delete those accounts at their next pull with no backup there. Now the pull saves the
/// vault first and says so.
fn a_forced_push_without_some_accounts_removes_them_elsewhere_only_after_a_backup(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-everywhere-0001"));
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    // A gets one more account that B never sees, then B pushes with --force.
    ok(a.add_api_key("sk-proj-only-on-a-0002"));
    ok(a.run(&["push"]));
    ok(b.run(&["push", "--force"]));
    let out = ok(a.run(&["pull"]));
    let err = stderr(&out);
    assert!(err.contains("1 removed"), "{}", text(&out));
    assert!(
        err.contains("saved the vault to"),
        "a removal without a backup: {}",
        text(&out)
    );
    // The backup holds the removed key.
    let backups = walk(&a.state.join("backups"));
    let saved = backups
        .iter()
        .filter(|p| p.to_string_lossy().ends_with("cdxs.db"))
        .any(|p| {
            let conn = rusqlite::Connection::open(p).unwrap();
            let keys: Vec<String> = conn
                .prepare("SELECT api_key FROM accounts")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            keys.contains(&"sk-proj-only-on-a-0002".to_string())
        });
    assert!(saved, "no backup holds the removed account: {backups:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Finding 7: one record this machine cannot open (altered on the server) used to block
/// every later push from it (409 eight times). Now it is reported once and left alone, and
/// the other records are pushed.
fn a_record_this_machine_cannot_open_does_not_block_its_other_pushes(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    first_machine(&a, &s.url, "alice");
    let mock = MockOpenAi::start();
    let login = expiring_login(&mock, &a, "tamper@example.com", "acct-tamper");
    ok(a.run(&["push"]));
    // The server's copy of that record is replaced by something that does not open.
    let api = Api::new(&s.url);
    let token = machine_token(&a);
    let (_, page, _) = api.call("GET", "/v1/records?since=0", Some(&token), None);
    let rec = &page["records"][0];
    let rid = rec["record_id"].as_str().unwrap().to_string();
    let mut bad = fake_record(&rid, rec["version"].as_u64().unwrap() + 1);
    bad["deleted"] = json!(false);
    let kid = status_json(&a)["targets"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body, _) = api.call(
        "POST",
        "/v1/records",
        Some(&token),
        Some(json!({"base_revision": page["revision"], "key_id": kid, "records": [bad]})),
    );
    assert_eq!(status, 200, "{body}");
    // A changes that account locally (a newer login) and adds another account.
    let mut newer = login.clone();
    newer.iat += 100;
    newer.refresh_token = "rt_local_newer".into();
    a.import_login(&newer);
    ok(a.add_api_key("sk-proj-after-tamper-0003"));
    let out = a.run(&["push"]);
    assert!(out.status.success(), "the push is blocked: {}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("do not open"), "{err}");
    assert!(err.contains("pushed 1 account(s)"), "{err}");
    // Reported once: the next push is quiet about it, and still works.
    ok(a.add_api_key("sk-proj-after-tamper-0004"));
    let out = ok(a.run(&["push"]));
    assert!(!stderr(&out).contains("do not open"), "{}", text(&out));
    assert!(
        stderr(&out).contains("pushed 1 account(s)"),
        "{}",
        text(&out)
    );
    // A forced push overwrites it; from then on that account's changes go up again.
    ok(a.run(&["push", "--force"]));
    let mut newest = newer.clone();
    newest.iat += 100;
    newest.refresh_token = "rt_local_newest".into();
    a.import_login(&newest);
    let out = ok(a.run(&["push"]));
    assert!(
        stderr(&out).contains("pushed 1 account(s)"),
        "{}",
        text(&out)
    );
    assert!(!stderr(&out).contains("not pushed"), "{}", text(&out));
}

/// Finding 5: once a machine syncs, a failing sync server (an expired sync login, a
/// proxy's 502, a 5xx) used to block refreshes of logins bound to a home on it, and `run`
/// refused to start Codex. Now they refresh here, warned once, and an expired sync login
/// says how to log in again.
fn a_failing_sync_server_never_blocks_refreshes_of_logins_bound_here(db: &Db) {
    let env = Env::new();
    // Logins of this server expire after 5 seconds (set-up and the first push, on a loaded
    // machine, must fit in them).
    let s = server(&env, db, &["alice"], &["--token-ttl", "5s"]);
    let mock = MockOpenAi::start();
    let a = Env::new();
    a.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    first_machine(&a, &s.url, "alice");
    expiring_login(&mock, &a, "one@example.com", "acct-one");
    expiring_login(&mock, &a, "two@example.com", "acct-two");
    ok(a.run(&["push"]));
    a.manifest(&format!(
        "version: 1\naccounts:\n  one: {{ email: one@example.com }}\n  two: {{ email: two@example.com }}\nhomes:\n  h1:\n    path: {}\n    account: one\n  h2:\n    path: {}\n    account: two\n",
        a.codex_home("h1").display(),
        a.codex_home("h2").display(),
    ));
    std::thread::sleep(Duration::from_secs(6));
    // The sync login has expired: apply refreshes both bound logins here, says so once,
    // and says how to log in again.
    let out = a
        .cdxs()
        .args(["apply", "--yes"])
        .env("CDXS_NOW", "+0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let err = stderr(&out);
    assert_eq!(mock.count("/oauth/token"), 2, "{err}");
    assert_eq!(
        err.matches("without the sync lease: `cdxs sync push`")
            .count(),
        1,
        "warned once: {err}"
    );
    assert!(err.contains("cdxs sync login --server"), "{err}");
    // A server that answers 500 (a proxy's 502 alike): `run` still starts the program.
    let proxy = crate::sync_proxy::Proxy::start(&s.url, |_req| {
        Some(crate::sync_proxy::Canned::status(
            502,
            "<html>bad gateway</html>",
        ))
    });
    let conn = rusqlite::Connection::open(a.state.join("cdxs.db")).unwrap();
    conn.execute("UPDATE sync_targets SET server_url = ?1", [&proxy.url])
        .unwrap();
    drop(conn);
    // (the tokens are fresh now: force one more refresh through `run`'s converge by
    // expiring them in the vault)
    let conn = rusqlite::Connection::open(a.state.join("cdxs.db")).unwrap();
    conn.execute("UPDATE accounts SET access_expires_at = 1", [])
        .unwrap();
    drop(conn);
    let out = a
        .cdxs()
        .args(["run", "--home", "h1", "--", "true"])
        .env("CDXS_NOW", "+0")
        .output()
        .unwrap();
    assert!(out.status.success(), "run refused: {}", text(&out));
    assert!(
        stderr(&out).contains("without the sync lease"),
        "{}",
        text(&out)
    );
    assert_eq!(mock.count("/oauth/token"), 3);
}
