//! The read path of the sync server (a pull, a token check): under concurrency, when the
//! database closes a connection, and for a token used long after login. On PostgreSQL
//! these reads share pipelined connections (`src/server/store/postgres/reads.rs`).

use std::time::Duration;

use serde_json::json;

use crate::harness::Env;
use crate::sync_harness::*;

crate::on_both_backends!(
    concurrent_pulls_of_many_users_each_get_their_own,
    a_token_used_a_minute_after_login_works_and_its_use_is_noted,
    no_request_sent_after_a_logout_answered_is_served,
);

/// On PostgreSQL, pulls and token checks of all users share pipelined connections: under
/// concurrency every answer must still be the asking user's, and complete.
fn concurrent_pulls_of_many_users_each_get_their_own(db: &Db) {
    let env = Env::new();
    let names = ["u0", "u1", "u2", "u3", "u4", "u5"];
    // More than one read connection, so that 40 clients spill onto a second.
    let s = server(&env, db, &names, &["--read-connections", "3"]);
    let api = Api::new(&s.url);
    // User n has n + 1 records, one per push: revision n + 1.
    let tokens: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(n, user)| {
            let t = api.token(user);
            for i in 0..=n {
                let record = fake_record(&format!("{user}_{i}"), 1);
                let body = json!({"base_revision": i, "records": [record]});
                let (status, v, _) = api.call("POST", "/v1/records", Some(&t), Some(body));
                assert_eq!(status, 200, "{v}");
            }
            t
        })
        .collect();
    std::thread::scope(|scope| {
        for worker in 0..40 {
            let (tokens, url) = (&tokens, &s.url);
            scope.spawn(move || {
                let api = Api::new(url);
                for k in 0..20 {
                    let n = (worker + k) % names.len();
                    let since = k % (n + 1);
                    let path = format!("/v1/records?since={since}");
                    let (status, page, _) = api.call("GET", &path, Some(&tokens[n]), None);
                    assert_eq!(status, 200, "{page}");
                    assert_eq!(page["revision"], n + 1, "{page}");
                    let got: Vec<&str> = page["records"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["record_id"].as_str().unwrap())
                        .collect();
                    let want: Vec<String> =
                        (since..=n).map(|i| format!("{}_{i}", names[n])).collect();
                    assert_eq!(got, want, "user {} since {since}", names[n]);
                    // A guarded route checks the token on the same shared connections.
                    let (status, leases, _) = api.call("GET", "/v1/leases", Some(&tokens[n]), None);
                    assert_eq!(status, 200, "{leases}");
                }
            });
        }
    });
    if let Db::Postgres(pg) = db {
        // 40 clients put more than 16 statements in flight on the first read connection:
        // a second one opened (the spill path ran, and answered right).
        let lanes = pg.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cdxs-server-reads'",
        );
        assert!(
            lanes.parse::<u32>().unwrap() >= 2,
            "{lanes} read connections"
        );
    }
}

#[test]
#[cfg_attr(
    cdxs_no_postgres,
    ignore = "PostgreSQL is not available here (scripts/install-postgres.sh; the build's warning says why)"
)]
fn a_read_connection_the_database_closes_is_replaced() {
    let db = Db::postgres();
    let Db::Postgres(pg) = &db else {
        unreachable!()
    };
    let env = Env::new();
    let s = server(&env, &db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let body = json!({"base_revision": 0, "records": [fake_record("r_1", 1)]});
    assert_eq!(api.call("POST", "/v1/records", Some(&t), Some(body)).0, 200);
    let (status, _, _) = api.call("GET", "/v1/records?since=0", Some(&t), None);
    assert_eq!(status, 200);
    let readers = "FROM pg_stat_activity WHERE application_name = 'cdxs-server-reads'";
    let pids = pg.sql(&format!("SELECT pid {readers}"));
    assert!(!pids.is_empty(), "the pulls ran on a read connection");
    // What an admin's pg_terminate_backend, or a database restart, does to it: here
    // while pulls are in flight, five times over. Not one request may fail.
    let done = std::sync::atomic::AtomicBool::new(false);
    let answered = std::thread::scope(|scope| {
        let pullers: Vec<_> = (0..6)
            .map(|_| {
                let (url, t, done) = (&s.url, &t, &done);
                scope.spawn(move || {
                    let api = Api::new(url);
                    let mut n = 0;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let (status, page, _) =
                            api.call("GET", "/v1/records?since=0", Some(t), None);
                        assert_eq!(status, 200, "{page}");
                        assert_eq!(page["records"][0]["record_id"], "r_1");
                        let (status, v, _) = api.call("GET", "/v1/leases", Some(t), None);
                        assert_eq!(status, 200, "{v}");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for _ in 0..5 {
            std::thread::sleep(Duration::from_millis(150));
            pg.sql(&format!(
                "SELECT count(pg_terminate_backend(pid)) {readers}"
            ));
        }
        std::thread::sleep(Duration::from_millis(150));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        pullers
            .into_iter()
            .map(|p| p.join().unwrap())
            .sum::<usize>()
    });
    assert!(answered > 10, "{answered} pulls");
    let now = pg.sql(&format!("SELECT pid {readers}"));
    assert!(!now.is_empty() && now != pids, "replaced: {pids} -> {now}");
    assert!(s.log().contains("read connection closed"), "{}", s.log());
}

/// The use of a token is written at most once a minute, so only a token older than a
/// minute takes that path: here by ageing `last_used_at` in the database.
fn a_token_used_a_minute_after_login_works_and_its_use_is_noted(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let sql = |q: &str| match db {
        Db::Postgres(pg) => pg.sql(q),
        Db::Sqlite => {
            let conn = rusqlite::Connection::open(env.path("server/server.db")).unwrap();
            if q.starts_with("SELECT") {
                conn.query_row(q, [], |r| r.get::<_, i64>(0))
                    .unwrap()
                    .to_string()
            } else {
                conn.execute(q, []).unwrap().to_string()
            }
        }
    };
    for (method, path) in [("GET", "/v1/records?since=0"), ("GET", "/v1/leases")] {
        sql("UPDATE tokens SET last_used_at = 0");
        let (status, v, _) = api.call(method, path, Some(&t), None);
        assert_eq!(status, 200, "{path}: {v}");
        // Noted off the request path, within a few seconds.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let noted = loop {
            let noted: i64 = sql("SELECT MIN(last_used_at) FROM tokens").parse().unwrap();
            if noted > 0 || std::time::Instant::now() > deadline {
                break noted;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let now = chrono::Utc::now().timestamp();
        assert!(
            (now - noted).abs() < 60,
            "{path}: last use {noted}, now {now}"
        );
    }
    assert!(!s.log().contains("cannot note"), "{}", s.log());
}

/// Revocation under load: pulls and guarded requests with one token run from several
/// threads while another thread logs that token out. Every request sent after the logout
/// was answered must get 401 (no read from an older snapshot, no cached token), and
/// every one sent before it 200 or 401, never an error. The logout waits until every
/// worker has had an answer (a machine under load may take longer than any fixed pause to
/// start six HTTP clients), and each worker goes on until it has sent a few requests after
/// the logout's answer: no step depends on how fast the machine is.
fn no_request_sent_after_a_logout_answered_is_served(db: &Db) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    const WORKERS: usize = 6;
    const AFTER: usize = 5;
    /// Stops the workers if this thread fails (else they would wait for a logout).
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let logged_out: std::sync::Mutex<Option<Instant>> = Default::default();
    let failed = AtomicBool::new(false);
    let (answered, first_answers) = std::sync::mpsc::channel();
    let seen = std::thread::scope(|scope| {
        let _stop = StopOnDrop(&failed);
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (url, t, failed, logged_out) = (&s.url, &t, &failed, &logged_out);
                let answered = answered.clone();
                scope.spawn(move || {
                    let api = Api::new(url);
                    let path = if w % 2 == 0 {
                        "/v1/records?since=0"
                    } else {
                        "/v1/leases"
                    };
                    let (mut after, mut before) = (0, 0);
                    while after < AFTER && !failed.load(Ordering::Relaxed) {
                        let sent = Instant::now();
                        let (status, v, _) = api.call("GET", path, Some(t), None);
                        let done = *logged_out.lock().unwrap();
                        match done {
                            Some(at) if sent > at => {
                                assert_eq!(status, 401, "{path} sent after the logout: {v}");
                                after += 1;
                            }
                            _ => {
                                assert!(matches!(status, 200 | 401), "{path}: {status} {v}");
                                before += 1;
                                if before == 1 {
                                    let _ = answered.send(());
                                }
                            }
                        }
                    }
                    (before, after)
                })
            })
            .collect();
        // Every worker has had an answer, and they go on while the logout runs.
        for _ in 0..WORKERS {
            first_answers
                .recv_timeout(Duration::from_secs(120))
                .expect("every worker gets a first answer");
        }
        let (status, v, _) = api.call("POST", "/v1/logout", Some(&t), None);
        assert_eq!(status, 204, "{v}");
        *logged_out.lock().unwrap() = Some(Instant::now());
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(b, a), (wb, wa)| (b + wb, a + wa))
    });
    assert!(
        seen.0 >= WORKERS && seen.1 == WORKERS * AFTER,
        "requests before and after: {seen:?}"
    );
}
