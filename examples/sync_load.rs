//! Load for the sync server benchmark (`scripts/bench-sync.sh`, BENCHMARKS.md).
//!
//!   sync_load setup URL USERS RECORDS TOKENS_FILE   log every user in (passwords: `bench-password-<n>`),
//!                                                 write one token per line, seed RECORDS records each
//!   sync_load seed DATA USERS RECORDS TOKENS_FILE   the same straight into a server's storage (DATA: a
//!                                                 SQLite path or a postgres:// URL; before the server
//!                                                 starts), through the storage trait, with one Argon2id
//!                                                 hash shared by all users, then VACUUM ANALYZE (as
//!                                                 on a server grown to that size)
//!   sync_load run URL TOKENS_FILE CLIENTS SECONDS   CLIENTS threads doing pull -> push cycles as a
//!                                                 client does (pull since the cursor, push one changed
//!                                                 record with the base revision, on 409 pull and retry);
//!                                                 prints one JSON line with counts and latencies
//!
//! Records are opaque to the server, so sealed-looking bytes of a real record's size are
//! enough: the server's work is the same. `run`'s clients speak HTTP/1.1 over one kept-alive
//! connection each, with no runtime behind them (as wrk does): they share the server's cores,
//! so a client that spent 75 us of CPU per request (reqwest's blocking client, a runtime
//! thread per client) took CPU from the server it measures.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cdxs::sync::wire::{LoginRequest, LoginResponse, PushRequest, Record, RecordsPage};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(4)
        .build()
        .expect("an HTTP client")
}

/// One kept-alive HTTP/1.1 connection: a request written whole, a response read by its
/// `content-length` (the server always sends one).
struct Conn {
    host: String,
    stream: std::io::BufReader<std::net::TcpStream>,
}

impl Conn {
    fn open(url: &str) -> std::io::Result<Conn> {
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let stream = std::net::TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            host,
            stream: std::io::BufReader::new(stream),
        })
    }

    /// (status, body).
    fn call(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        use std::io::{BufRead, Read, Write};
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.stream.get_mut().write_all(&req)?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut out = vec![0u8; length];
        self.stream.read_exact(&mut out)?;
        Ok((status, out))
    }
}

fn record(user: usize, i: usize, version: u64) -> Record {
    let mut body = vec![0u8; 1500];
    for (j, b) in body.iter_mut().enumerate() {
        *b = (j * 31 + i * 7 + user + version as usize) as u8;
    }
    Record {
        record_id: format!("r_{:032x}", user * 1000 + i),
        version,
        revision: None,
        updated_at: 0,
        deleted: false,
        nonce: STANDARD.encode([version as u8; 24]),
        ciphertext: STANDARD.encode(&body),
    }
}

fn setup(url: &str, users: usize, records: usize, tokens_file: &str) {
    let http = client();
    let mut tokens = Vec::new();
    for n in 0..users {
        let resp: LoginResponse = http
            .post(format!("{url}/v1/login"))
            .json(&LoginRequest {
                username: format!("bench{n}"),
                password: format!("bench-password-{n}"),
                device: Some("bench".into()),
                device_id: None,
            })
            .send()
            .and_then(|r| r.error_for_status())
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("login of bench{n}: {e}"));
        let recs: Vec<Record> = (0..records).map(|i| record(n, i, 1)).collect();
        let page: RecordsPage = http
            .get(format!("{url}/v1/records?since=0"))
            .bearer_auth(&resp.token)
            .send()
            .and_then(|r| r.json())
            .expect("a page");
        if page.records.is_empty() {
            http.post(format!("{url}/v1/records"))
                .bearer_auth(&resp.token)
                .json(&PushRequest {
                    base_revision: page.revision,
                    key_id: Some("kid_0000000000000000".into()),
                    records: recs,
                    lease: None,
                })
                .send()
                .and_then(|r| r.error_for_status())
                .expect("seed push");
        }
        tokens.push(resp.token);
    }
    std::fs::write(tokens_file, tokens.join("\n") + "\n").expect("write tokens");
}

#[derive(Default)]
struct Stats {
    pulls: Vec<u32>,
    pushes: Vec<u32>,
    conflicts: u64,
    errors: u64,
    cycles: u64,
}

fn percentile(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx] as f64 / 1000.0
}

/// `rate`: pushes per second for all clients together (each paces to its share, never
/// catching up on a late cycle); 0: each client cycles as fast as the server answers.
fn run(url: &str, tokens_file: &str, clients: usize, seconds: u64, rate: f64) {
    let tokens: Vec<String> = std::fs::read_to_string(tokens_file)
        .expect("tokens")
        .lines()
        .map(str::to_string)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let url = url.to_string();
            // Client c works as user c (its own account set), like one machine each.
            let token = tokens[c % tokens.len()].clone();
            std::thread::spawn(move || {
                let mut conn = Conn::open(&url).expect("a connection to the server");
                let mut s = Stats::default();
                let mut cursor = 0i64;
                let mut version = 1u64;
                let user = c % 100;
                let every = (rate > 0.0).then(|| Duration::from_secs_f64(clients as f64 / rate));
                let mut next = Instant::now();
                while Instant::now() < deadline {
                    if let Some(every) = every {
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        }
                        next = next.max(now) + every;
                    }
                    // Pull since the cursor.
                    let t = Instant::now();
                    let path = format!("/v1/records?since={cursor}");
                    let page = conn.call("GET", &path, &token, b"");
                    s.pulls.push(t.elapsed().as_micros() as u32);
                    let page = match page {
                        Ok((200, body)) => serde_json::from_slice::<RecordsPage>(&body).ok(),
                        Ok(_) => None,
                        Err(_) => {
                            conn = Conn::open(&url).expect("a connection to the server");
                            None
                        }
                    };
                    let Some(page) = page else {
                        s.errors += 1;
                        continue;
                    };
                    for r in &page.records {
                        if r.record_id == record(user, 0, 0).record_id {
                            version = version.max(r.version);
                        }
                    }
                    cursor = page.revision;
                    // Push one changed record with the base revision.
                    let body = serde_json::to_vec(&PushRequest {
                        base_revision: cursor,
                        key_id: Some("kid_0000000000000000".into()),
                        records: vec![record(user, 0, version + 1)],
                        lease: None,
                    })
                    .expect("a push body");
                    let t = Instant::now();
                    let resp = conn.call("POST", "/v1/records", &token, &body);
                    s.pushes.push(t.elapsed().as_micros() as u32);
                    match resp.map(|(status, _)| status) {
                        Ok(200) => {
                            version += 1;
                            s.cycles += 1;
                        }
                        Ok(409) => s.conflicts += 1,
                        Ok(_) => s.errors += 1,
                        Err(_) => {
                            s.errors += 1;
                            conn = Conn::open(&url).expect("a connection to the server");
                        }
                    }
                }
                s
            })
        })
        .collect();
    let mut all = Stats::default();
    for h in handles {
        let s = h.join().expect("a client thread");
        all.pulls.extend(s.pulls);
        all.pushes.extend(s.pushes);
        all.conflicts += s.conflicts;
        all.errors += s.errors;
        all.cycles += s.cycles;
    }
    let secs = started.elapsed().as_secs_f64();
    let requests = all.pulls.len() + all.pushes.len();
    let mut both: Vec<u32> = all.pulls.iter().chain(all.pushes.iter()).copied().collect();
    println!(
        "{{\"requests\":{requests},\"rps\":{:.1},\"cycles\":{},\"conflicts\":{},\"errors\":{},\"pull_p50_ms\":{:.2},\"pull_p99_ms\":{:.2},\"push_p50_ms\":{:.2},\"push_p99_ms\":{:.2},\"p99_ms\":{:.2}}}",
        requests as f64 / secs,
        all.cycles,
        all.conflicts,
        all.errors,
        percentile(&mut all.pulls.clone(), 0.5),
        percentile(&mut all.pulls, 0.99),
        percentile(&mut all.pushes.clone(), 0.5),
        percentile(&mut all.pushes, 0.99),
        percentile(&mut both, 0.99),
    );
}

/// Users, tokens and records straight into the storage (see the module doc).
fn seed(data: &str, users: usize, records: usize, tokens_file: &str) {
    use cdxs::server::store::{Push, PushLimits};
    let backend = if data.starts_with("postgres://") || data.starts_with("postgresql://") {
        cdxs::server::Backend::Postgres(data.to_string())
    } else {
        cdxs::server::Backend::Sqlite(std::path::PathBuf::from(data))
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let tokens = rt.block_on(async {
        let store = cdxs::server::open_store(&backend, 4, 1)
            .await
            .expect("the storage");
        let hash = cdxs::server::auth::hash_password("bench-password").expect("a hash");
        let now = chrono::Utc::now().timestamp();
        let mut tokens = Vec::with_capacity(users);
        for n in 0..users {
            let name = format!("bench{n}");
            store
                .create_user(name.clone(), hash.clone(), now)
                .await
                .expect("a user");
            let id = store.user(name).await.expect("read").expect("the user").id;
            let token = cdxs::server::auth::new_token().to_string();
            store
                .create_token(
                    id,
                    cdxs::server::auth::token_hash(&token),
                    "bench".into(),
                    None,
                    now,
                    now + 30 * 86_400,
                )
                .await
                .expect("a token");
            let push = Push {
                base_revision: 0,
                key_id: Some("kid_0000000000000000".into()),
                records: (0..records).map(|i| record(n, i, 1)).collect(),
                fence: None,
                holder_key: "bench".into(),
                limits: PushLimits {
                    max_user_records: usize::MAX,
                },
            };
            store.push(id, push, now).await.expect("a push");
            tokens.push(token);
        }
        tokens
    });
    // A server that grew to this size has its tables vacuumed and analyzed (autovacuum on
    // PostgreSQL) and its dirty pages written: do that now, so that the measurement is of
    // the steady state, not of the maintenance a bulk load sets off.
    match &backend {
        cdxs::server::Backend::Postgres(url) => rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(conn);
            // One statement each: VACUUM may not run in the implicit transaction of a batch.
            for sql in ["VACUUM ANALYZE", "CHECKPOINT"] {
                client.batch_execute(sql).await.expect(sql);
            }
        }),
        cdxs::server::Backend::Sqlite(path) => {
            rusqlite::Connection::open(path)
                .and_then(|c| c.execute_batch("ANALYZE"))
                .expect("ANALYZE");
        }
    }
    std::fs::write(tokens_file, tokens.join("\n") + "\n").expect("write tokens");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("setup") if args.len() == 6 => setup(
            &args[2],
            args[3].parse().expect("USERS"),
            args[4].parse().expect("RECORDS"),
            &args[5],
        ),
        Some("seed") if args.len() == 6 => seed(
            &args[2],
            args[3].parse().expect("USERS"),
            args[4].parse().expect("RECORDS"),
            &args[5],
        ),
        Some("run") if args.len() == 6 || args.len() == 7 => run(
            &args[2],
            &args[3],
            args[4].parse().expect("CLIENTS"),
            args[5].parse().expect("SECONDS"),
            args.get(6)
                .map_or(0.0, |r| r.parse().expect("PUSHES_PER_SECOND")),
        ),
        _ => {
            eprintln!(
                "usage: sync_load setup URL USERS RECORDS TOKENS_FILE | seed DATA USERS RECORDS TOKENS_FILE | run URL TOKENS_FILE CLIENTS SECONDS [PUSHES_PER_SECOND]"
            );
            std::process::exit(2);
        }
    }
}
