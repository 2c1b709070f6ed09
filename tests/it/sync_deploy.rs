//! The sync server as it is deployed and moved: the older tool's users imported, a newer
//! schema refused, several instances on one PostgreSQL serving any request (a machine on
//! each), and a move from SQLite to PostgreSQL.

use crate::harness::{Env, Login, stderr, stdout, text};
use crate::mock_openai::{MockAccount, MockOpenAi};
use crate::sync_harness::*;

#[test]
fn import_legacy_users_log_in_with_their_old_password_once_rehashed() {
    use sha2::Digest;
    let env = Env::new();
    let db = Db::sqlite();
    let digest = hex(&sha2::Sha256::digest(
        format!("saltysalt:{PASSWORD}").as_bytes(),
    ));
    let toml = env.path("old-server-cdxs.toml");
    std::fs::write(
        &toml,
        format!(
            "[meta]\n\n[[server.users]]\nusername = \"alice\"\nsalt = \"saltysalt\"\npassword_hash = \"{digest}\"\n\n[[server.users]]\nusername = \"broken\"\n\n[[server.sessions]]\ntoken_hash = \"x\"\n"
        ),
    )
    .unwrap();
    let out = server_cmd(
        &env,
        &db,
        &["server", "import-legacy", toml.to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("imported 1 user(s)"),
        "{}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("skipped user broken"),
        "{}",
        text(&out)
    );
    let list = stdout(&server_cmd(&env, &db, &["server", "user", "list"], ""));
    assert!(list.contains("(legacy hash)"), "{list}");
    // The older tool's data file is not a database: `server run --data` says what to do.
    let out = env.run(&["server", "run", "--data", toml.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("server import-legacy"),
        "{}",
        text(&out)
    );
    let s = SyncServer::start(&env, &db, &[]);
    let api = Api::new(&s.url);
    assert_eq!(api.login("alice", "not the password").0, 401);
    assert_eq!(api.login("alice", PASSWORD).0, 200);
    // Re-hashed with Argon2id at that login; the old password keeps working.
    let conn = rusqlite::Connection::open(env.path("server/server.db")).unwrap();
    let hash: String = conn
        .query_row(
            "SELECT password_hash FROM users WHERE name = 'alice'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert_eq!(api.login("alice", PASSWORD).0, 200);
}

#[test]
fn the_server_refuses_a_database_with_a_newer_schema() {
    let env = Env::new();
    let db = Db::sqlite();
    add_user(&env, &db, "alice", PASSWORD);
    let conn = rusqlite::Connection::open(env.path("server/server.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let out = env.run(&[
        "server",
        "run",
        "--bind",
        "127.0.0.1:0",
        "--data",
        env.path("server/server.db").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("schema 99") && err.contains("newer"), "{err}");
}

#[test]
#[cfg_attr(
    cdxs_no_postgres,
    ignore = "PostgreSQL is not available here (scripts/install-postgres.sh; the build's warning says why)"
)]
fn two_server_instances_on_one_postgres_serve_any_request() {
    let db = Db::postgres();
    let env = Env::new();
    add_user(&env, &db, "alice", PASSWORD);
    let s1 = SyncServer::start(&env, &db, &[]);
    let env2 = Env::new();
    // The second instance reads its URL from a file (Docker secrets).
    let url_file = env2.path("database_url.txt");
    let Db::Postgres(pg) = &db else {
        unreachable!()
    };
    std::fs::write(&url_file, format!("{}\n", pg.url())).unwrap();
    let s2 = SyncServer::start_with(
        &env2,
        vec!["--database-file".into(), url_file.display().to_string()],
    );
    assert!(
        s2.log().contains("\"backend\":\"postgres\""),
        "{}",
        s2.log()
    );
    assert_ne!(s1.url, s2.url);
    // A client on each instance.
    let a = Env::new();
    let phrase = first_machine(&a, &s1.url, "alice");
    ok(a.add_api_key("sk-proj-instance-one-0001"));
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &s2.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    assert_eq!(account_ids(&a), account_ids(&b));
    ok(b.add_api_key("sk-proj-instance-two-0002"));
    ok(b.run(&["push"]));
    ok(a.run(&["pull"]));
    assert_eq!(account_ids(&a).len(), 2);
    // A token from one instance works on the other; a lease taken on one holds on both.
    let api1 = Api::new(&s1.url);
    let api2 = Api::new(&s2.url);
    let t = api1.token("alice");
    assert_eq!(api2.call("GET", "/v1/key", Some(&t), None).0, 200);
    let (s, _, _) = api1.call(
        "POST",
        "/v1/leases",
        Some(&t),
        Some(serde_json::json!({"record_id": "r_shared", "ttl_s": 30})),
    );
    assert_eq!(s, 200);
    let other = api2.token("alice");
    let (_, v, _) = api2.call(
        "POST",
        "/v1/login",
        None,
        Some(serde_json::json!({"username": "alice", "password": PASSWORD, "device": "elsewhere"})),
    );
    let elsewhere = v["token"].as_str().unwrap().to_string();
    let (s, v, _) = api2.call(
        "POST",
        "/v1/leases",
        Some(&elsewhere),
        Some(serde_json::json!({"record_id": "r_shared", "ttl_s": 30})),
    );
    assert_eq!(s, 409, "{v}");
    // Logout on instance 2 revokes for instance 1.
    assert_eq!(api2.call("POST", "/v1/logout", Some(&other), None).0, 204);
    assert_eq!(api1.call("GET", "/v1/key", Some(&other), None).0, 401);
    // Concurrent pushes through both instances still merge.
    let c1 = spawn(&a, &["sync", "push"]);
    ok(a.add_api_key("sk-proj-instance-one-0003"));
    ok(b.add_api_key("sk-proj-instance-two-0004"));
    let _ = c1.wait_with_output();
    let (pa, pb) = (spawn(&a, &["sync", "push"]), spawn(&b, &["sync", "push"]));
    for c in [pa, pb] {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    ok(a.run(&["pull"]));
    ok(b.run(&["pull"]));
    assert_eq!(account_ids(&a).len(), 4);
    assert_eq!(account_ids(&a), account_ids(&b));
}

#[test]
#[cfg_attr(
    cdxs_no_postgres,
    ignore = "PostgreSQL is not available here (scripts/install-postgres.sh; the build's warning says why)"
)]
fn two_machines_on_two_instances_refresh_one_account_once() {
    let db = Db::postgres();
    let env = Env::new();
    add_user(&env, &db, "alice", PASSWORD);
    let s1 = SyncServer::start(&env, &db, &[]);
    let env2 = Env::new();
    let s2 = SyncServer::start(&env2, &db, &[]);
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("two@example.com", "acct-two"));
    let (a, b) = (Env::new(), Env::new());
    for m in [&a, &b] {
        m.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    }
    let phrase = first_machine(&a, &s1.url, "alice");
    let now = chrono::Utc::now().timestamp();
    let mut login = Login::new("two@example.com", "acct-two");
    login.iat = now - 3500;
    login.exp = now + 30;
    login.refresh_token = mock.account("two@example.com").refresh_token;
    a.import_login(&login);
    ok(a.run(&["push"]));
    ok(join(&b, &s2.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    let ca = spawn(&a, &["sync", "refresh", "two@example.com"]);
    let cb = spawn(&b, &["sync", "refresh", "two@example.com"]);
    for c in [ca, cb] {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    assert_eq!(mock.count("/oauth/token"), 1);
    let id = account_ids(&a).pop().unwrap();
    assert_eq!(vault_refresh_token(&a, &id), "rt_acct-two_2");
    assert_eq!(vault_refresh_token(&b, &id), "rt_acct-two_2");
}

#[test]
#[cfg_attr(
    cdxs_no_postgres,
    ignore = "PostgreSQL is not available here (scripts/install-postgres.sh; the build's warning says why)"
)]
fn moving_from_sqlite_to_postgres_keeps_the_key_and_rebuilds_from_the_machines() {
    let old_env = Env::new();
    let sqlite = Db::sqlite();
    let old = server(&old_env, &sqlite, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &old.url, "alice");
    ok(a.add_api_key("sk-proj-moving-servers-0001"));
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &old.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    let kid = status_json(&a)["targets"][0]["key_id"].clone();
    // The new server starts empty: the admin adds the user there.
    let new_env = Env::new();
    // PostgreSQL, really: this is the move docs/sync.md documents.
    let db = Db::postgres();
    let new = server(&new_env, &db, &["alice"], &[]);
    drop(old);
    // Each machine logs in to the new server; the key stays, the first push rebuilds.
    let out = ok(login(&a, &new.url, "alice"));
    assert!(stderr(&out).contains("sync key kid_"), "{}", text(&out));
    let out = ok(a.run(&["push"]));
    assert!(
        stderr(&out).contains("pushed 1 account(s)"),
        "{}",
        text(&out)
    );
    ok(login(&b, &new.url, "alice"));
    ok(b.run(&["pull"]));
    assert_eq!(status_json(&b)["targets"][0]["key_id"], kid);
    assert_eq!(status_json(&b)["targets"][0]["pending"], 0);
    assert_eq!(account_ids(&a), account_ids(&b));
    let api = Api::new(&new.url);
    let (_, page, h) = api.call(
        "GET",
        "/v1/records?since=0",
        Some(&api.token("alice")),
        None,
    );
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    assert_eq!(h["x-cdxs-key-id"], kid.as_str().unwrap());
}
