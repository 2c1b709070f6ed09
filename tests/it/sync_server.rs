//! The sync server's API, the same tests against SQLite and against a real PostgreSQL
//! (a temporary cluster per test): logins and tokens, isolation, caps, limits, conflicts,
//! leases, and what the server keeps on disk.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::json;

use crate::harness::{Env, Login, stderr, stdout, text};
use crate::sync_harness::*;

crate::on_both_backends!(
    login_returns_an_expiring_prefixed_token,
    requests_without_or_with_a_forged_token_get_401,
    an_unknown_user_and_a_bad_password_get_the_same_401,
    logout_revokes_the_token,
    passwd_revokes_every_token_of_the_user,
    brute_force_logins_get_429,
    a_64_mb_body_is_refused_and_the_server_stays_healthy,
    too_many_or_too_large_records_are_refused_with_413,
    another_user_sees_nothing,
    a_stale_base_revision_gets_409_and_versions_must_grow,
    health_and_every_answer_carry_versions,
    leases_exclude_other_devices_until_released,
    a_restart_loses_nothing,
    the_servers_files_hold_no_key_token_email_or_password,
    remove_deletes_the_users_records_too,
);

fn login_returns_an_expiring_prefixed_token(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &["--token-ttl", "2d"]);
    let api = Api::new(&s.url);
    let (status, v) = api.login("Alice", PASSWORD);
    assert_eq!(status, 200, "{v}");
    let token = v["token"].as_str().unwrap();
    assert!(token.starts_with("cdxs_") && token.len() > 40, "{token}");
    let expires = v["expires_at"].as_i64().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(
        (expires - (now + 2 * 86_400)).abs() < 60,
        "{expires} vs {now}"
    );
    assert_eq!(v["user"], "alice", "names are compared lower-case");
    let (status, _, _) = api.call("GET", "/v1/records?since=0", Some(token), None);
    assert_eq!(status, 200);
}

fn requests_without_or_with_a_forged_token_get_401(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let real = api.token("alice");
    // Same length and prefix, other bytes.
    let forged = format!("cdxs_{}", "A".repeat(real.len() - 5));
    for token in [
        None,
        Some(forged.as_str()),
        Some("not-a-cdxs-token"),
        Some(""),
    ] {
        for (method, path, body) in [
            ("GET", "/v1/records?since=0", None),
            (
                "POST",
                "/v1/records",
                Some(json!({"base_revision": 0, "records": []})),
            ),
            (
                "POST",
                "/v1/leases",
                Some(json!({"record_id": "r_1", "ttl_s": 5})),
            ),
            ("GET", "/v1/key", None),
            ("POST", "/v1/logout", None),
        ] {
            let (status, v, _) = api.call(method, path, token, body);
            assert_eq!(status, 401, "{method} {path} with {token:?}: {v}");
            assert_eq!(v["error"], "unauthorized");
        }
    }
}

fn an_unknown_user_and_a_bad_password_get_the_same_401(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let (s1, v1) = api.login("alice", "wrong password!");
    let (s2, v2) = api.login("mallory", PASSWORD);
    let (s3, v3) = api.login("bad name with spaces", PASSWORD);
    assert_eq!((s1, s2, s3), (401, 401, 401));
    assert_eq!(v1, v2);
    assert_eq!(v1, v3);
}

fn logout_revokes_the_token(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let t1 = api.token("alice");
    let t2 = api.token("alice");
    let (status, _, _) = api.call("POST", "/v1/logout", Some(&t1), None);
    assert_eq!(status, 204);
    assert_eq!(api.call("GET", "/v1/key", Some(&t1), None).0, 401);
    // Only that device's token.
    assert_eq!(api.call("GET", "/v1/key", Some(&t2), None).0, 200);
    // And through the client: `sync logout` revokes, then pushes fail with a hint.
    let m = Env::new();
    first_machine(&m, &s.url, "alice");
    ok(m.run(&["sync", "logout"]));
    let err = fails(m.run(&["sync", "push"]));
    assert!(err.contains("logged out"), "{err}");
    assert!(err.contains("cdxs sync login"), "{err}");
}

fn passwd_revokes_every_token_of_the_user(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice", "bob"], &[]);
    let api = Api::new(&s.url);
    let a1 = api.token("alice");
    let a2 = api.token("alice");
    let b = api.token("bob");
    let out = server_cmd(
        &env,
        db,
        &["server", "user", "passwd", "alice", "--password-stdin"],
        "a brand new password\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(api.call("GET", "/v1/key", Some(&a1), None).0, 401);
    assert_eq!(api.call("GET", "/v1/key", Some(&a2), None).0, 401);
    assert_eq!(api.call("GET", "/v1/key", Some(&b), None).0, 200);
    assert_eq!(api.login("alice", PASSWORD).0, 401);
    assert_eq!(api.login("alice", "a brand new password").0, 200);
}

fn brute_force_logins_get_429(db: &Db) {
    let env = Env::new();
    let s = server(
        &env,
        db,
        &["alice"],
        &["--login-limit-user", "5", "--login-limit-ip", "1000"],
    );
    let api = Api::new(&s.url);
    let statuses: Vec<u16> = (0..8)
        .map(|i| api.login("alice", &format!("guess {i}")).0)
        .collect();
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // From this address the next attempt waits, the right password too: a delay that
    // doubles with each failure, not a lockout.
    let (status, _, headers) = api.call(
        "POST",
        "/v1/login",
        None,
        Some(json!({"username": "alice", "password": PASSWORD})),
    );
    assert_eq!(status, 429);
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{headers:?}");
    std::thread::sleep(std::time::Duration::from_millis(wait * 1000 + 200));
    assert_eq!(api.login("alice", PASSWORD).0, 200);
    // Per IP as well.
    let env2 = Env::new();
    let s2 = server(
        &env2,
        db,
        &[],
        &["--login-limit-user", "1000", "--login-limit-ip", "3"],
    );
    let api2 = Api::new(&s2.url);
    let statuses: Vec<u16> = ["a", "b", "c", "d"]
        .iter()
        .map(|u| api2.login(u, "nope").0)
        .collect();
    assert_eq!(statuses, [401, 401, 401, 429]);
}

fn a_64_mb_body_is_refused_and_the_server_stays_healthy(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let token = api.token("alice");
    let addr = s.url.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let len = 64 * 1024 * 1024;
    write!(
        conn,
        "POST /v1/records HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
    )
    .unwrap();
    // Send a first megabyte; the server answers without reading the rest.
    let _ = conn.write_all(&vec![b' '; 1024 * 1024]);
    let mut answer = vec![0u8; 4096];
    let n = conn.read(&mut answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..n]).to_lowercase();
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert!(head.contains("x-cdxs-server-version"), "{head}");
    drop(conn);
    // A chunked body (no length up front) is cut off as well.
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        conn,
        "POST /v1/records HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..8 {
        if write!(conn, "{:x}\r\n", chunk.len()).is_err()
            || conn.write_all(&chunk).is_err()
            || conn.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let n = conn.read(&mut answer).unwrap_or(0);
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Still healthy, still serving.
    assert_eq!(api.call("GET", "/health", None, None).0, 200);
    assert_eq!(
        api.call("GET", "/v1/records?since=0", Some(&token), None).0,
        200
    );
}

fn too_many_or_too_large_records_are_refused_with_413(db: &Db) {
    let env = Env::new();
    let s = server(
        &env,
        db,
        &["alice"],
        &["--max-records", "3", "--max-record-bytes", "1000"],
    );
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let many: Vec<_> = (0..4).map(|i| fake_record(&format!("r_{i}"), 1)).collect();
    let (status, v, _) = api.call(
        "POST",
        "/v1/records",
        Some(&t),
        Some(json!({"base_revision": 0, "records": many})),
    );
    assert_eq!(status, 413, "{v}");
    use base64::Engine;
    let mut big = fake_record("r_big", 1);
    big["ciphertext"] = json!(base64::engine::general_purpose::STANDARD.encode(vec![1u8; 2000]));
    let (status, v, _) = api.call(
        "POST",
        "/v1/records",
        Some(&t),
        Some(json!({"base_revision": 0, "records": [big]})),
    );
    assert_eq!(status, 413, "{v}");
    // Nothing was stored.
    let (_, page, _) = api.call("GET", "/v1/records?since=0", Some(&t), None);
    assert_eq!(page["revision"], 0);
    // Malformed records are a 400, not a crash.
    let mut bad = fake_record("r_1", 1);
    bad["nonce"] = json!("AAAA");
    let (status, _, _) = api.call(
        "POST",
        "/v1/records",
        Some(&t),
        Some(json!({"base_revision": 0, "records": [bad]})),
    );
    assert_eq!(status, 400);
    let (status, _, _) = api.call("POST", "/v1/records", Some(&t), Some(json!({"nope": 1})));
    assert!((400..500).contains(&status), "{status}");
}

fn another_user_sees_nothing(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice", "bob"], &[]);
    let alice = Env::new();
    first_machine(&alice, &s.url, "alice");
    ok(alice.add_api_key("sk-alice-secret-0001"));
    ok(alice.run(&["sync", "push"]));
    let bob = Env::new();
    first_machine(&bob, &s.url, "bob");
    let out = ok(bob.run(&["sync", "pull"]));
    assert!(stderr(&out).contains("0 new"), "{}", text(&out));
    assert!(account_ids(&bob).is_empty());
    // Raw: bob's token reads bob's empty revision, not alice's records.
    let api = Api::new(&s.url);
    let (_, page, _) = api.call("GET", "/v1/records?since=0", Some(&api.token("bob")), None);
    assert_eq!(page["records"], json!([]));
    assert_eq!(page["revision"], 0);
    let (_, page, _) = api.call(
        "GET",
        "/v1/records?since=0",
        Some(&api.token("alice")),
        None,
    );
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
}

fn a_stale_base_revision_gets_409_and_versions_must_grow(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let push = |base: i64, recs: Vec<serde_json::Value>| {
        api.call(
            "POST",
            "/v1/records",
            Some(&t),
            Some(json!({"base_revision": base, "records": recs})),
        )
    };
    let (status, v, _) = push(0, vec![fake_record("r_a", 1)]);
    assert_eq!((status, &v["revision"]), (200, &json!(1)), "{v}");
    let (status, v, _) = push(0, vec![fake_record("r_b", 1)]);
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["revision"], 1);
    // A version that does not grow is refused too, and nothing of that push lands.
    let (status, _, _) = push(1, vec![fake_record("r_c", 1), fake_record("r_a", 1)]);
    assert_eq!(status, 409);
    let (_, page, _) = api.call("GET", "/v1/records?since=0", Some(&t), None);
    assert_eq!(page["revision"], 1);
    assert_eq!(page["records"].as_array().unwrap().len(), 1);
    let (status, v, _) = push(1, vec![fake_record("r_a", 2)]);
    assert_eq!((status, &v["revision"]), (200, &json!(2)));
    // since=1 returns only what changed after revision 1.
    let (_, page, _) = api.call("GET", "/v1/records?since=1", Some(&t), None);
    let recs = page["records"].as_array().unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["version"], 2);
    assert_eq!(page["revision"], 2);
}

fn health_and_every_answer_carry_versions(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let (status, v, h) = api.call("GET", "/health", None, None);
    assert_eq!(status, 200);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert!(v["min_client"].is_string());
    assert_eq!(h["x-cdxs-server-version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(h["x-cdxs-protocol"], "1");
    let (status, _, h) = api.call("GET", "/v1/records", None, None);
    assert_eq!(status, 401);
    assert!(h.contains_key("x-cdxs-server-version"));
    // A client from the future (another protocol) is told which versions meet.
    let resp = reqwest::blocking::Client::new()
        .get(format!("{}/health", s.url))
        .header("x-cdxs-protocol", "99")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 426);
    let body = resp.text().unwrap();
    assert!(body.contains("protocol 1") && body.contains("99"), "{body}");
    let resp = reqwest::blocking::Client::new()
        .get(format!("{}/health", s.url))
        .header("x-cdxs-client-version", "0.0.1")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 426);
}

fn leases_exclude_other_devices_until_released(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let login = |device: &str| {
        let (_, v, _) = api.call(
            "POST",
            "/v1/login",
            None,
            Some(json!({"username": "alice", "password": PASSWORD, "device": device})),
        );
        v["token"].as_str().unwrap().to_string()
    };
    let a = login("laptop");
    let b = login("desktop");
    let take = |t: &str| {
        api.call(
            "POST",
            "/v1/leases",
            Some(t),
            Some(json!({"record_id": "r_x", "ttl_s": 30})),
        )
    };
    let (status, v, _) = take(&a);
    assert_eq!(status, 200, "{v}");
    let until = v["until"].as_i64().unwrap();
    let (status, v, _) = take(&b);
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["holder"], "laptop");
    assert_eq!(v["until"], until);
    // The holder may extend it; the other device cannot release it.
    assert_eq!(take(&a).0, 200);
    assert_eq!(api.call("DELETE", "/v1/leases/r_x", Some(&b), None).0, 204);
    assert_eq!(take(&b).0, 409);
    let (_, list, _) = api.call("GET", "/v1/leases", Some(&b), None);
    assert_eq!(list["leases"][0]["holder"], "laptop");
    assert_eq!(api.call("DELETE", "/v1/leases/r_x", Some(&a), None).0, 204);
    assert_eq!(take(&b).0, 200);
    // An expired lease is free for anyone.
    let (status, _, _) = api.call(
        "POST",
        "/v1/leases",
        Some(&a),
        Some(json!({"record_id": "r_short", "ttl_s": 1})),
    );
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_millis(2100));
    let (status, v, _) = api.call(
        "POST",
        "/v1/leases",
        Some(&b),
        Some(json!({"record_id": "r_short", "ttl_s": 5})),
    );
    assert_eq!(status, 200, "{v}");
}

fn a_restart_loses_nothing(db: &Db) {
    let env = Env::new();
    let mut s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-survives-restart-1"));
    ok(a.run(&["sync", "push"]));
    s.restart();
    // The token issued before the restart still works; the records are there.
    ok(a.add_api_key("sk-survives-restart-2"));
    ok(a.run(&["sync", "push"]));
    s.restart();
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["sync", "pull"]));
    assert_eq!(account_ids(&b), account_ids(&a));
    assert_eq!(account_ids(&b).len(), 2);
}

fn the_servers_files_hold_no_key_token_email_or_password(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let login = Login::new("secret.person@example.com", "acct-secret-1");
    a.import_login(&login);
    ok(a.add_api_key("sk-proj-never-on-the-server-42"));
    ok(a.run(&["sync", "push"]));
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["sync", "pull"]));
    let cdxs_token = {
        let conn = rusqlite::Connection::open(a.state.join("cdxs.db")).unwrap();
        conn.query_row("SELECT token FROM sync_targets", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap()
    };
    let key_bytes: Vec<u8> = {
        let conn = rusqlite::Connection::open(a.state.join("cdxs.db")).unwrap();
        conn.query_row("SELECT sync_key FROM sync_targets", [], |r| r.get(0))
            .unwrap()
    };
    let account_id = account_ids(&a)
        .into_iter()
        .find(|i| i.starts_with("oauth_"))
        .unwrap();
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        ("email", b"secret.person@example.com".to_vec()),
        ("api key", b"sk-proj-never-on-the-server-42".to_vec()),
        ("refresh token", login.refresh_token.as_bytes().to_vec()),
        (
            "access token",
            login
                .auth_json()
                .split('"')
                .find(|p| p.starts_with("eyJ"))
                .unwrap()
                .as_bytes()
                .to_vec(),
        ),
        ("password", PASSWORD.as_bytes().to_vec()),
        ("bearer token", cdxs_token.as_bytes().to_vec()),
        (
            "bearer token body",
            cdxs_token.as_bytes()["cdxs_".len()..].to_vec(),
        ),
        ("sync key", key_bytes.clone()),
        ("sync key hex", hex(&key_bytes).into_bytes()),
        (
            "recovery phrase word run",
            phrase
                .split(' ')
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
                .into_bytes(),
        ),
        ("account id", account_id.into_bytes()),
    ];
    let files = db.files(&env);
    assert!(!files.is_empty());
    let mut scanned = 0;
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        scanned += bytes.len();
        for (what, needle) in &secrets {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "the server's file {} holds the {what}",
                f.display()
            );
        }
    }
    assert!(scanned > 0);
    // The server's own log neither.
    let log = s.log();
    for (what, needle) in &secrets {
        assert!(
            !log.as_bytes()
                .windows(needle.len())
                .any(|w| w == needle.as_slice()),
            "the server's log holds the {what}"
        );
    }
}

fn remove_deletes_the_users_records_too(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice", "bob"], &[]);
    let a = Env::new();
    first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-to-be-removed-0001"));
    ok(a.run(&["sync", "push"]));
    let out = server_cmd(&env, db, &["server", "user", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    let alice = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .unwrap();
    assert_eq!(alice["records"], 1);
    assert!(!stdout(&out).contains("sk-to-be-removed"));
    // Without a terminal and without --yes it refuses.
    let out = server_cmd(&env, db, &["server", "user", "remove", "alice"], "");
    assert!(!out.status.success());
    let out = server_cmd(
        &env,
        db,
        &["server", "user", "remove", "alice", "--yes"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out));
    let api = Api::new(&s.url);
    assert_eq!(api.login("alice", PASSWORD).0, 401);
    let out = server_cmd(&env, db, &["server", "user", "list", "--json"], "");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob"]);
    match db {
        Db::Postgres(pg) => assert_eq!(pg.sql("SELECT COUNT(*) FROM records"), "0"),
        Db::Sqlite => {
            let conn = rusqlite::Connection::open(env.path("server/server.db")).unwrap();
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 0);
        }
    }
}
