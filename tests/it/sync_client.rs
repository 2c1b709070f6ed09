//! Sync between machines end to end: machines are `Env`s (own `$HOME`, own vault), the
//! server is a real `cdxs server run`, the token issuer is the OpenAI mock.

use crate::harness::{Env, Login, login_status, stderr, stdout, text};
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::sync_harness::*;

crate::on_both_backends!(
    two_machines_of_one_user_converge,
    concurrent_pushes_merge,
    two_machines_refreshing_one_account_send_one_refresh_and_both_get_the_new_token,
);

fn two_machines_of_one_user_converge(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let login = Login::new("alice@example.com", "acct-alice");
    a.import_login(&login);
    ok(a.add_api_key("sk-proj-synced0key0abcd1234"));
    let out = ok(a.run(&["sync", "push"]));
    assert!(
        stderr(&out).contains("pushed 2 account(s)"),
        "{}",
        text(&out)
    );
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    let out = ok(b.run(&["pull"]));
    assert!(stderr(&out).contains("2 new"), "{}", text(&out));
    assert_eq!(account_ids(&a), account_ids(&b));
    let oauth = account_ids(&b)
        .into_iter()
        .find(|i| i.starts_with("oauth_"))
        .unwrap();
    assert_eq!(vault_refresh_token(&b, &oauth), login.refresh_token);
    // The same account ids, emails and plans on both sides.
    let (ja, jb) = (a.accounts_json(), b.accounts_json());
    assert_eq!(ja["accounts"], jb["accounts"]);
    // In step: nothing to push on either side.
    for m in [&a, &b] {
        let st: serde_json::Value =
            serde_json::from_slice(&ok(m.run(&["sync", "status", "--json"])).stdout).unwrap();
        assert_eq!(st["targets"][0]["pending"], 0, "{st}");
    }
    // A deletion travels as a tombstone.
    let key = account_ids(&b)
        .into_iter()
        .find(|i| i.starts_with("apikey_"))
        .unwrap();
    ok(b.run(&["account", "remove", &key]));
    let out = ok(b.run(&["push"]));
    assert!(stderr(&out).contains("1 deletion"), "{}", text(&out));
    let out = ok(a.run(&["sync", "pull"]));
    assert!(stderr(&out).contains("1 removed"), "{}", text(&out));
    assert_eq!(account_ids(&a), vec![oauth.clone()]);
    // A second pull changes nothing.
    let out = ok(a.run(&["sync", "pull"]));
    assert!(
        stderr(&out).contains("0 new, 0 updated, 0 removed"),
        "{}",
        text(&out)
    );
}

/// In every supported Codex release.
fn the_real_codex_reads_a_synced_api_key_and_chatgpt_login_on_the_second_machine(
    codex: std::path::PathBuf,
) {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-fromthefirstmachine9876"));
    a.import_login(&Login::new("bob@example.com", "acct-bob"));
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    let ids = account_ids(&b);
    assert_eq!(ids.len(), 2, "{ids:?}");
    for id in ids {
        let home = b.codex_home(&id);
        ok(b.run(&["switch", &id, "--codex-home", home.to_str().unwrap()]));
        let (status, said) = login_status(&codex, &home);
        assert_eq!(status, 0, "{said}");
        let expected = if id.starts_with("oauth_") {
            "Logged in using ChatGPT"
        } else {
            "API key configured - sk-proj-***e9876"
        };
        assert!(said.contains(expected), "{id}: {said}");
        if id.starts_with("oauth_") {
            // The members cdxs does not model travelled in the record, verbatim.
            let tokens = crate::harness::read_json(&home.join("auth.json"))["tokens"].clone();
            let want = crate::mock_openai::login_members("acct-bob", "https://auth.openai.com");
            for (k, v) in want.as_object().unwrap() {
                assert_eq!(&tokens[k], v, "{k} on the second machine");
            }
        }
    }
}
crate::codex_matrix!(the_real_codex_reads_a_synced_api_key_and_chatgpt_login_on_the_second_machine);

fn concurrent_pushes_merge(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let first = Env::new();
    let phrase = first_machine(&first, &s.url, "alice");
    let machines: Vec<Env> = (0..4).map(|_| Env::new()).collect();
    for (i, m) in machines.iter().enumerate() {
        ok(join(m, &s.url, "alice", &phrase));
        ok(m.add_api_key(&format!("sk-proj-concurrent-{i}-0000")));
    }
    // All push at the same moment: every 409 is pulled, merged and retried.
    let children: Vec<_> = machines
        .iter()
        .map(|m| spawn(m, &["sync", "push"]))
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    for m in machines.iter().chain([&first]) {
        ok(m.run(&["sync", "pull"]));
        assert_eq!(account_ids(m).len(), 4, "{:?}", account_ids(m));
    }
    let all: Vec<_> = machines.iter().map(account_ids).collect();
    assert!(all.windows(2).all(|w| w[0] == w[1]));
}

fn two_machines_refreshing_one_account_send_one_refresh_and_both_get_the_new_token(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("lease@example.com", "acct-lease"));
    let a = Env::new();
    let b = Env::new();
    for m in [&a, &b] {
        m.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    }
    let phrase = first_machine(&a, &s.url, "alice");
    // A token about to expire, with the refresh token the issuer accepts now.
    let now = chrono::Utc::now().timestamp();
    let mut login = Login::new("lease@example.com", "acct-lease");
    login.iat = now - 3500;
    login.exp = now + 60;
    login.refresh_token = mock.account("lease@example.com").refresh_token;
    a.import_login(&login);
    ok(a.run(&["push"]));
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    let id = account_ids(&a).pop().unwrap();
    // Both need a refresh at the same moment.
    let ca = spawn(&a, &["sync", "refresh", "lease@example.com"]);
    let cb = spawn(&b, &["sync", "refresh", "lease@example.com"]);
    let (oa, ob) = (
        ca.wait_with_output().unwrap(),
        cb.wait_with_output().unwrap(),
    );
    assert!(oa.status.success(), "{}", text(&oa));
    assert!(ob.status.success(), "{}", text(&ob));
    assert_eq!(
        mock.count("/oauth/token"),
        1,
        "exactly one refresh reaches the issuer:\nA: {}\nB: {}",
        stderr(&oa),
        stderr(&ob)
    );
    let said = format!("{}{}", stderr(&oa), stderr(&ob));
    assert!(
        said.contains("refreshed lease@example.com under the sync lease"),
        "{said}"
    );
    assert!(
        said.contains("another machine refreshed lease@example.com"),
        "{said}"
    );
    let new_rt = mock.account("lease@example.com").refresh_token;
    assert_eq!(new_rt, "rt_acct-lease_2");
    assert_eq!(vault_refresh_token(&a, &id), new_rt);
    assert_eq!(vault_refresh_token(&b, &id), new_rt);
    // No lease is left behind.
    let api = Api::new(&s.url);
    let (_, leases, _) = api.call("GET", "/v1/leases", Some(&api.token("alice")), None);
    assert_eq!(leases["leases"], serde_json::json!([]));
}

#[test]
fn a_wrong_key_on_a_joining_machine_is_refused_before_any_write() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-first-machine-0001"));
    ok(a.run(&["push"]));
    let a_kid = status_json(&a)["targets"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Machine B has its own (other) key, e.g. from `sync init` against another server.
    let other = Env::new();
    let env2 = Env::new();
    let s2 = server(&env2, &db, &["alice"], &[]);
    let wrong_phrase = first_machine(&other, &s2.url, "alice");
    let b = Env::new();
    ok(b.add_api_key("sk-proj-second-machine-0002"));
    let err = fails(join(&b, &s.url, "alice", &wrong_phrase));
    let wrong_kid = status_json(&other)["targets"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(err.contains(&a_kid) && err.contains(&wrong_kid), "{err}");
    assert!(err.contains("cdxs sync key --set"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    // Nothing on this machine...
    assert_eq!(status_json(&b)["targets"], serde_json::json!([]));
    // ...nor on the server: still one revision, one record, and the right key id.
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let (_, page, h) = api.call("GET", "/v1/records?since=0", Some(&t), None);
    assert_eq!(page["revision"], 1);
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(h["x-cdxs-key-id"], a_kid.as_str());
    // `sync init` on a second machine is refused too: the user has a key already.
    let c = Env::new();
    ok(login(&c, &s.url, "alice"));
    let err = fails(c.run(&["sync", "init"]));
    assert!(
        err.contains(&a_kid) && err.contains("sync key --set"),
        "{err}"
    );
    // And `sync key --set` with the wrong phrase.
    let err = fails(c.run_stdin(&["sync", "key", "--set"], &wrong_phrase));
    assert!(err.contains(&a_kid) && err.contains(&wrong_kid), "{err}");
    // A bad checksum is caught locally.
    let mut words: Vec<&str> = wrong_phrase.split(' ').collect();
    words[23] = if words[23] == "abandon" {
        "zoo"
    } else {
        "abandon"
    };
    let err = fails(c.run_stdin(&["sync", "key", "--set"], &words.join(" ")));
    assert!(err.contains("not a sync key"), "{err}");
}

#[test]
fn an_older_token_never_comes_back() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let now = chrono::Utc::now().timestamp();
    let mut old = Login::new("hw@example.com", "acct-hw");
    old.iat = now - 7200;
    old.refresh_token = "rt_old".into();
    old.last_refresh = None;
    a.import_login(&old);
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    // A refreshes (a newer token, later issuer time) and pushes.
    let mut new = old.clone();
    new.iat = now;
    new.refresh_token = "rt_new".into();
    a.import_login(&new);
    ok(a.run(&["push"]));
    // B, stale, overwrites the server with its older copy...
    let out = ok(b.run(&["push", "--force"]));
    assert!(
        stderr(&out).contains("saved the server's records"),
        "{}",
        text(&out)
    );
    // ...A refuses the older token and puts the newer one back.
    let out = ok(a.run(&["pull"]));
    assert!(
        stderr(&out).contains("older token(s) refused"),
        "{}",
        text(&out)
    );
    let id = account_ids(&a).pop().unwrap();
    assert_eq!(vault_refresh_token(&a, &id), "rt_new");
    ok(a.run(&["push"]));
    ok(b.run(&["pull"]));
    assert_eq!(vault_refresh_token(&b, &id), "rt_new");
    // Even a vault that lost the account never takes the older token back.
    ok(a.run(&["account", "remove", &id]));
    let conn = rusqlite::Connection::open(a.state.join("cdxs.db")).unwrap();
    conn.execute("DELETE FROM sync_records", []).unwrap();
    conn.execute("DELETE FROM tombstones", []).unwrap();
    conn.execute("UPDATE sync_targets SET revision = 0", [])
        .unwrap();
    drop(conn);
    ok(b.run(&["push", "--force"]));
    ok(a.run(&["pull"]));
    assert_eq!(vault_refresh_token(&a, &id), "rt_new");
}

#[test]
fn forced_pull_makes_the_vault_the_servers_after_a_backup() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-on-the-server-0001"));
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.add_api_key("sk-proj-only-local-0002"));
    let out = ok(b.run(&["pull", "--force"]));
    let err = stderr(&out);
    assert!(err.contains("saved the vault to"), "{err}");
    assert!(err.contains("1 removed"), "{err}");
    assert_eq!(account_ids(&b), account_ids(&a));
    // The backup holds the vault as it was (with the local-only key).
    let backups = walk_files(&b.state.join("backups"));
    let db_backup = backups
        .iter()
        .find(|p| p.to_string_lossy().ends_with("cdxs.db"))
        .unwrap();
    let conn = rusqlite::Connection::open(db_backup).unwrap();
    let kept: String = conn
        .query_row("SELECT api_key FROM accounts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, "sk-proj-only-local-0002");
    crate::harness::assert_mode(db_backup, 0o600);
}

fn walk_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn status_shows_pending_changes_and_never_a_secret() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-status-0001"));
    ok(a.add_api_key("sk-proj-status-0002"));
    let st = status_json(&a);
    let t = &st["targets"][0];
    assert_eq!(st["version"], 1);
    assert_eq!(t["pending"], 2);
    assert_eq!(t["user"], "alice");
    assert!(t["key_id"].as_str().unwrap().starts_with("kid_"));
    ok(a.run(&["push"]));
    let out = ok(a.run(&["sync", "status"]));
    let shown = format!(
        "{}{}",
        stdout(&out),
        stdout(&a.run(&["sync", "status", "--json"]))
    );
    assert!(shown.contains("0 change(s) to push"), "{shown}");
    let token = {
        let conn = rusqlite::Connection::open(a.state.join("cdxs.db")).unwrap();
        conn.query_row("SELECT token FROM sync_targets", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    let words = phrase.split(' ').take(3).collect::<Vec<_>>().join(" ");
    for secret in [
        token.as_str(),
        &token[5..],
        words.as_str(),
        "sk-proj-status",
        "cdxs_",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn the_older_tools_password_flag_still_logs_in_with_a_warning() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &[], &[]);
    // The older tool's admin command, same flags.
    let out = env.run(&[
        "server",
        "user",
        "add",
        "alice",
        "--password",
        PASSWORD,
        "--data",
        env.path("server/server.db").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("visible to other users in `ps`"),
        "{}",
        text(&out)
    );
    let m = Env::new();
    let out = ok(m.run(&[
        "sync",
        "login",
        "--server",
        &s.url,
        "--user",
        "alice",
        "--password",
        PASSWORD,
    ]));
    assert!(
        stderr(&out).contains("prefer `--password-stdin`"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("cdxs sync init"), "{}", text(&out));
}

#[test]
fn login_takes_the_server_and_user_from_the_manifests_sync_target() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let m = Env::new();
    m.manifest(&format!(
        "version: 1\nsync:\n  targets:\n    - name: home-server\n      url: {}\n      user: alice\n      share: [accounts]\n",
        s.url
    ));
    ok(m.run_stdin(
        &["sync", "login", "--password-stdin"],
        &format!("{PASSWORD}\n"),
    ));
    ok(m.run(&["sync", "init"]));
    ok(m.add_api_key("sk-proj-manifest-target-01"));
    ok(m.run(&["sync", "push", "--target", "home-server"]));
    let st = status_json(&m);
    assert_eq!(st["targets"][0]["target"], "home-server");
    assert_eq!(st["targets"][0]["revision"], 1);
}

#[test]
fn sync_targets_plan_a_pull_and_a_push_and_applying_them_leaves_nothing_to_do() {
    use cdxs::sync::plan::{self, Direction};
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(a.add_api_key("sk-proj-plan-from-a-0001"));
    ok(a.run(&["push"]));
    ok(b.add_api_key("sk-proj-plan-from-b-0002"));
    let declared = vec![cdxs::manifest::SyncTarget {
        name: "default".into(),
        url: s.url.clone(),
        user: "alice".into(),
        share_accounts: true,
    }];
    let mut vault = cdxs::vault::Vault::open(&b.state).unwrap();
    let seen = plan::observe(&vault, &declared, true).unwrap();
    let actions = plan::actions(&seen);
    let addrs: Vec<&str> = actions.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(addrs, ["sync.default.pull", "sync.default.push"]);
    assert_eq!(actions[0].direction, Direction::Pull);
    // Offline, only the push is planned (the server's revision is unknown).
    let offline = plan::actions(&plan::observe(&vault, &declared, false).unwrap());
    assert_eq!(offline.len(), 1);
    assert_eq!(offline[0].direction, Direction::Push);
    let now = chrono::Utc::now().timestamp();
    for action in &actions {
        let said = plan::apply(&mut vault, action, now).unwrap();
        assert!(!said.contains("sk-proj"), "{said}");
    }
    let again = plan::actions(&plan::observe(&vault, &declared, true).unwrap());
    assert!(again.is_empty(), "{again:?}");
    drop(vault);
    ok(a.run(&["pull"]));
    assert_eq!(account_ids(&a), account_ids(&b));
    assert_eq!(account_ids(&a).len(), 2);
}

#[test]
fn offline_a_machine_refreshes_only_logins_bound_on_it() {
    let env = Env::new();
    let db = Db::sqlite();
    let mut s = server(&env, &db, &["alice"], &[]);
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("bound@example.com", "acct-bound"));
    mock.add(MockAccount::new("free@example.com", "acct-free"));
    let a = Env::new();
    a.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    first_machine(&a, &s.url, "alice");
    let now = chrono::Utc::now().timestamp();
    for (email, acct) in [
        ("bound@example.com", "acct-bound"),
        ("free@example.com", "acct-free"),
    ] {
        let mut login = Login::new(email, acct);
        login.iat = now - 3500;
        login.exp = now + 60;
        login.refresh_token = mock.account(email).refresh_token;
        a.import_login(&login);
    }
    ok(a.run(&["push"]));
    a.manifest(&format!(
        "version: 1\naccounts:\n  bound: {{ email: bound@example.com }}\nhomes:\n  default:\n    path: {}\n    account: bound\n",
        a.default_codex_home().display()
    ));
    s.stop();
    let err = fails(a.run(&["sync", "refresh", "free@example.com"]));
    assert!(err.contains("cannot reach the sync server"), "{err}");
    assert!(err.contains("not bound to a home on this machine"), "{err}");
    assert_eq!(mock.count("/oauth/token"), 0);
    let out = ok(a.run(&["sync", "refresh", "bound@example.com"]));
    assert!(
        stderr(&out).contains("cannot reach the sync server")
            && stderr(&out).contains("refreshed bound@example.com on this machine"),
        "{}",
        text(&out)
    );
    assert_eq!(mock.count("/oauth/token"), 1);
    // Back online, the new tokens go up with the next push.
    s.restart();
    let out = ok(a.run(&["push"]));
    assert!(
        stderr(&out).contains("pushed 1 account(s)"),
        "{}",
        text(&out)
    );
}

/// `sync.targets` are plan actions: `plan` shows a push of what the vault has and the server
/// has not, `apply` runs it (and then there is nothing to do); on the other machine `plan`
/// shows the pull and `apply` brings the account; `watch` runs them like any other action.
#[test]
fn sync_targets_are_plan_actions_that_apply_and_watch_run() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let manifest = |m: &Env| {
        m.manifest(&format!(
            "version: 1\nsync:\n  targets:\n    - name: hs\n      url: {}\n      user: alice\n      share: [accounts]\n",
            s.url
        ))
    };
    let a = Env::new();
    manifest(&a);
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-plan-action-0001"));
    let out = a.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stdout(&out).contains("sync.hs.push"), "{}", text(&out));
    let out = ok(a.run(&["apply", "--yes"]));
    assert!(
        stderr(&out).contains("pushed 1 account(s)"),
        "{}",
        text(&out)
    );
    let out = a.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let b = Env::new();
    manifest(&b);
    ok(join(&b, &s.url, "alice", &phrase));
    // A joining login pulls nothing by itself: the plan says what a pull brings.
    let before = account_ids(&b).len();
    let out = b.run(&["plan", "--json"]);
    let addresses: Vec<String> = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        ["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(addresses, ["sync.hs.pull"], "{}", text(&out));
    ok(b.run(&["apply", "--yes"]));
    assert_eq!(account_ids(&b).len(), before + 1);
    assert_eq!(account_ids(&b), account_ids(&a));

    // watch pushes a change made on B, and A's watch pulls it.
    ok(b.add_api_key("sk-proj-plan-action-0002"));
    for m in [&b, &a] {
        m.manifest(&format!(
            "version: 1\nwatch:\n  interval: 1s\nsync:\n  targets:\n    - name: hs\n      url: {}\n      user: alice\n      share: [accounts]\n",
            s.url
        ));
    }
    let mut wb = b.spawn(&["watch"], &[("CDXS_NOW", "+0")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut wa = a.spawn(&["watch"], &[("CDXS_NOW", "+0")]);
    while account_ids(&a).len() < before + 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for w in [&mut wa, &mut wb] {
        crate::harness::stop_child(w);
    }
    assert_eq!(account_ids(&a), account_ids(&b));
    assert_eq!(account_ids(&a).len(), before + 2);
}
