//! The sync client against a hostile or broken server (issue 19, findings 6, 8, 12, 13):
//! a local proxy (`sync_proxy`) in front of a real server lies, floods or fails, and the
//! client must stay bounded, keep its cursor honest, keep its URL rules, and rotate a
//! leaked key without losing anything.

use serde_json::{Value, json};

use crate::harness::{Env, stderr, stdout, text};
use crate::sync_harness::*;
#[cfg(unix)]
use crate::sync_proxy::run_measured;
use crate::sync_proxy::{Canned, Proxy};

crate::on_both_backends!(
    a_page_claiming_a_huge_revision_does_not_make_the_client_skip_later_records,
    a_rotated_key_re_encrypts_everything_and_other_machines_are_told_to_set_it,
    a_rotation_whose_answer_is_lost_is_settled_by_the_next_pull,
);

/// Point a machine's target at another URL (the proxy), as if it had logged in there.
fn retarget(m: &Env, url: &str) {
    let conn = rusqlite::Connection::open(m.state.join("cdxs.db")).unwrap();
    conn.execute("UPDATE sync_targets SET server_url = ?1", [url])
        .unwrap();
}

#[cfg(unix)]
fn fake_page(since: i64, n: usize, size: usize) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = b64.encode(vec![7u8; size]);
    let nonce = b64.encode([1u8; 24]);
    let mut out = format!("{{\"revision\":{},\"more\":true,\"records\":[", since + 1).into_bytes();
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(
            format!(
                "{{\"record_id\":\"r_{since:016x}{i:016x}\",\"version\":1,\"revision\":{},\"deleted\":false,\"nonce\":\"{nonce}\",\"ciphertext\":\"{body}\"}}",
                since + 1
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"]}");
    out
}

/// Finding 6: a server that answers every page with `more` and 2 MB of records drove the
/// client to gigabytes. Now a pull stops at its limits with a clear error, in bounded
/// memory; so does one endless answer.
#[cfg(unix)]
#[test]
fn a_flooding_server_cannot_drive_the_client_out_of_memory() {
    use std::io::Read as _;
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let a = Env::new();
    first_machine(&a, &s.url, "alice");
    // Pages of 500 records of 4 kB, `more` every time, for 600 MB in all.
    let flood = Proxy::start(&s.url, |req| {
        if req.path() != "/v1/records" || req.method != "GET" {
            return None;
        }
        let since: i64 = req.query("since").and_then(|s| s.parse().ok()).unwrap_or(0);
        if since > 300 {
            return Some(Canned::api(
                200,
                &json!({"revision": since, "more": false, "records": []}),
            ));
        }
        Some(Canned::api_bytes(200, fake_page(since, 500, 3000)))
    });
    retarget(&a, &flood.url);
    let (out, peak_kb) = run_measured(a.spawn(&["sync", "pull"], &[]));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("records or") && stderr(&out).contains("in one pull"),
        "{}",
        text(&out)
    );
    assert!(
        peak_kb < 300 * 1024,
        "the client grew to {} MB",
        peak_kb / 1024
    );

    // One answer that never ends.
    let endless = Proxy::start(&s.url, |req| {
        (req.path() == "/v1/records").then(|| {
            let head = std::io::Cursor::new(
                b"{\"revision\":1,\"more\":false,\"records\":[{\"record_id\":\"".to_vec(),
            );
            Canned::api_stream(
                200,
                Box::new(std::io::Read::chain(
                    head,
                    std::io::repeat(b'a').take(400 << 20),
                )),
            )
        })
    });
    retarget(&a, &endless.url);
    let (out, peak_kb) = run_measured(a.spawn(&["sync", "pull"], &[]));
    assert!(!out.status.success(), "{}", text(&out));
    assert!(stderr(&out).contains("larger than"), "{}", text(&out));
    assert!(
        peak_kb < 200 * 1024,
        "the client grew to {} MB",
        peak_kb / 1024
    );
}

/// Finding 8: one page claiming `revision = i64::MAX` made the client skip every later
/// record for good. The cursor now follows the records a page holds, and a server behind
/// the cursor is read again from 0.
fn a_page_claiming_a_huge_revision_does_not_make_the_client_skip_later_records(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.add_api_key("sk-proj-first-from-b-0001"));
    ok(b.run(&["push"]));
    // The first answer to a pull lies about the revision (with and without the records'
    // own revisions), later ones are honest.
    let lies = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let told = lies.clone();
    let proxy = Proxy::start_with(&s.url, move |req, up| {
        let mut answer = up.forward(req);
        if req.path() == "/v1/records"
            && req.method == "GET"
            && told.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0
            && let Some(mut v) = answer.json()
        {
            v["revision"] = json!(i64::MAX);
            answer.set_json(&v);
        }
        answer
    });
    retarget(&a, &proxy.url);
    ok(a.run(&["pull"]));
    assert_eq!(account_ids(&a).len(), 1);
    // B pushes another account: A must get it.
    ok(b.add_api_key("sk-proj-second-from-b-0002"));
    ok(b.run(&["push"]));
    ok(a.run(&["pull"]));
    assert_eq!(
        account_ids(&a),
        account_ids(&b),
        "A skipped B's second push"
    );
    let rev = status_json(&a)["targets"][0]["revision"].as_i64().unwrap();
    assert!(rev < 100, "cursor {rev}");

    // The same lie from a server that does not say the records' revisions: the cursor is
    // taken, and the next pull finds the server behind it and reads from 0.
    lies.store(0, std::sync::atomic::Ordering::SeqCst);
    let strip = Proxy::start_with(&s.url, move |req, up| {
        let mut answer = up.forward(req);
        if req.path() == "/v1/records"
            && req.method == "GET"
            && let Some(mut v) = answer.json()
        {
            if let Some(recs) = v["records"].as_array_mut() {
                for r in recs {
                    r.as_object_mut().unwrap().remove("revision");
                }
            }
            if lies.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                v["revision"] = json!(i64::MAX);
            }
            answer.set_json(&v);
        }
        answer
    });
    ok(b.add_api_key("sk-proj-third-from-b-0003"));
    ok(b.run(&["push"]));
    retarget(&a, &strip.url);
    ok(a.run(&["pull"]));
    ok(b.add_api_key("sk-proj-fourth-from-b-0004"));
    ok(b.run(&["push"]));
    ok(a.run(&["pull"]));
    assert_eq!(account_ids(&a), account_ids(&b));
    assert_eq!(account_ids(&a).len(), 4);
}

/// Finding 12: a sync URL with `user:password@` was accepted and printed; plain http was
/// accepted for any host. Now credentials are refused with a hint, and plain http only
/// goes to loopback unless `--allow-insecure-http`.
#[test]
fn sync_urls_never_carry_credentials_and_plain_http_stays_on_loopback() {
    let env = Env::new();
    let db = Db::sqlite();
    let s = server(&env, &db, &["alice"], &[]);
    let m = Env::new();
    let login = |url: &str, extra: &[&str]| {
        let mut args = vec![
            "sync",
            "login",
            "--server",
            url,
            "--user",
            "alice",
            "--password-stdin",
        ];
        args.extend_from_slice(extra);
        m.run_stdin(&args, &format!("{PASSWORD}\n"))
    };
    let with_creds = s.url.replace("http://", "http://alice:hunter2secret@");
    let out = login(&with_creds, &[]);
    let err = fails(out);
    assert!(err.contains("carries a user name or password"), "{err}");
    assert!(err.contains("--password-stdin"), "{err}");
    assert!(!err.contains("hunter2secret"), "{err}");
    // Plain http to another host: refused unless asked for.
    let err = fails(login("http://sync.example.invalid:8765", &[]));
    assert!(err.contains("plain http"), "{err}");
    assert!(err.contains("--allow-insecure-http"), "{err}");
    // With the flag it is accepted (and then fails to connect: nothing listens there).
    let err = fails(login(
        "http://sync.example.invalid:8765",
        &["--allow-insecure-http"],
    ));
    assert!(!err.contains("plain http"), "{err}");
    // Loopback is fine; `localhost` too.
    ok(login(&s.url, &[]));
    // A vault from before, with credentials in its URL, never shows them.
    let conn = rusqlite::Connection::open(m.state.join("cdxs.db")).unwrap();
    conn.execute("UPDATE sync_targets SET server_url = ?1", [&with_creds])
        .unwrap();
    drop(conn);
    let shown = format!(
        "{}{}",
        stdout(&ok(m.run(&["sync", "status"]))),
        stdout(&ok(m.run(&["sync", "status", "--json"])))
    );
    assert!(!shown.contains("hunter2secret"), "{shown}");
    let err = fails(m.run(&["sync", "pull"]));
    assert!(!err.contains("hunter2secret"), "{err}");
}

/// Finding 13: a leaked sync key could not be rotated (the server kept the first key id
/// for good). `sync key rotate` re-encrypts every record under a new key, saves what was
/// there first, journals it; the other machines are refused with the fix until they set
/// the new phrase, and then see everything.
fn a_rotated_key_re_encrypts_everything_and_other_machines_are_told_to_set_it(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    let phrase = first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-rotate-one-0001"));
    ok(a.add_api_key("sk-proj-rotate-two-0002"));
    ok(a.run(&["push"]));
    let b = Env::new();
    ok(join(&b, &s.url, "alice", &phrase));
    ok(b.run(&["pull"]));
    let old_kid = status_json(&a)["targets"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = ok(a.run(&["sync", "key", "rotate"]));
    let new_phrase = stdout(&out).trim().to_string();
    assert_eq!(new_phrase.split(' ').count(), 24, "{}", text(&out));
    assert_ne!(new_phrase, phrase);
    let err = stderr(&out);
    assert!(err.contains("re-encrypted 2 record(s)"), "{err}");
    assert!(err.contains("cdxs sync key --set"), "{err}");
    let new_kid = status_json(&a)["targets"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_kid, old_kid);
    // The server holds the new key id, and records that open only with the new key.
    let api = Api::new(&s.url);
    let t = api.token("alice");
    let (_, page, h) = api.call("GET", "/v1/records?since=0", Some(&t), None);
    assert_eq!(h["x-cdxs-key-id"], new_kid.as_str());
    assert_eq!(page["records"].as_array().unwrap().len(), 2);
    // Journaled, with the backups.
    let hist: Value = serde_json::from_slice(&ok(a.run(&["history", "--json"])).stdout).unwrap();
    let gen_id = hist["generations"][0]["id"].as_i64().unwrap().to_string();
    let one: Value =
        serde_json::from_slice(&ok(a.run(&["history", &gen_id, "--json"])).stdout).unwrap();
    let shown = format!("{hist}{one}");
    assert!(shown.contains("sync key rotate"), "{shown}");
    assert!(shown.contains("server-records.json"), "{shown}");
    // B, on the old key, is refused with both key ids and the fix...
    let err = fails(b.run(&["pull"]));
    assert!(err.contains(&old_kid) && err.contains(&new_kid), "{err}");
    assert!(err.contains("sync key --set"), "{err}");
    // ...and after setting the new phrase sees everything, and syncs on.
    ok(b.run_stdin(&["sync", "key", "--set"], &new_phrase));
    ok(b.run(&["pull"]));
    assert_eq!(account_ids(&a), account_ids(&b));
    ok(b.add_api_key("sk-proj-after-rotate-0003"));
    ok(b.run(&["push"]));
    ok(a.run(&["pull"]));
    assert_eq!(account_ids(&a).len(), 3);
    // The old phrase no longer joins.
    let c = Env::new();
    let err = fails(join(&c, &s.url, "alice", &phrase));
    assert!(err.contains(&new_kid), "{err}");
}

/// The rotation's answer is lost (the proxy forwards it, then answers 502): the new key
/// waits in the vault, and the next pull finds the server on it and takes it. Nothing is
/// lost either way.
fn a_rotation_whose_answer_is_lost_is_settled_by_the_next_pull(db: &Db) {
    let env = Env::new();
    let s = server(&env, db, &["alice"], &[]);
    let a = Env::new();
    first_machine(&a, &s.url, "alice");
    ok(a.add_api_key("sk-proj-lost-answer-0001"));
    ok(a.run(&["push"]));
    let proxy = Proxy::start_with(&s.url, |req, up| {
        let answer = up.forward(req);
        if req.path() == "/v1/key/rotate" {
            return Canned::status(502, "<html>bad gateway</html>");
        }
        answer
    });
    retarget(&a, &proxy.url);
    let err = fails(a.run(&["sync", "key", "rotate"]));
    assert!(err.contains("next `cdxs sync pull` settles it"), "{err}");
    retarget(&a, &s.url);
    ok(a.run(&["pull"]));
    let api = Api::new(&s.url);
    let (_, _, h) = api.call(
        "GET",
        "/v1/records?since=0",
        Some(&api.token("alice")),
        None,
    );
    assert_eq!(
        status_json(&a)["targets"][0]["key_id"].as_str().unwrap(),
        h["x-cdxs-key-id"].to_str().unwrap()
    );
    // The account is still readable here, under the key the server has.
    ok(a.run(&["pull", "--force"]));
    assert_eq!(account_ids(&a).len(), 1);
}
