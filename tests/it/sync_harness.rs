//! Helpers for the sync tests: a cdxs sync server process on a free loopback port (SQLite
//! or PostgreSQL), a temporary PostgreSQL cluster per test (started as the `postgres` user
//! when run as root, from a template made once by initdb), machines (an `Env` each) and
//! raw HTTP calls to the API.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Env, stderr, text};

pub const PASSWORD: &str = "correct horse battery";

/// Each case runs twice: `sqlite::<case>` and `postgres::<case>` (a cluster of its own).
/// The PostgreSQL half is ignored, with the reason, where the build found no PostgreSQL
/// (`build.rs`, the `cdxs_no_postgres` flag), except under CI.
#[macro_export]
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(&super::Db::sqlite()) } )*
        }
        mod postgres {
            $(
                #[test]
                #[cfg_attr(
                    cdxs_no_postgres,
                    ignore = "PostgreSQL is not available here (scripts/install-postgres.sh; the build's warning says why)"
                )]
                fn $case() {
                    super::$case(&super::Db::postgres())
                }
            )*
        }
    };
}

/// Where the server keeps its data in a test.
pub enum Db {
    Sqlite,
    Postgres(Pg),
}

impl Db {
    pub fn sqlite() -> Db {
        Db::Sqlite
    }

    /// A fresh PostgreSQL cluster. A test that needs one carries the `cdxs_no_postgres`
    /// ignore (see [`on_both_backends!`]), so a missing or broken PostgreSQL here fails it.
    pub fn postgres() -> Db {
        Db::Postgres(Pg::start())
    }

    /// `--data PATH` or `--database URL` for a server whose files live under `env`.
    pub fn args(&self, env: &Env) -> Vec<String> {
        match self {
            Db::Sqlite => vec![
                "--data".into(),
                env.path("server/server.db").display().to_string(),
            ],
            Db::Postgres(pg) => vec!["--database".into(), pg.url()],
        }
    }

    /// Every file the backend keeps data in (for "no secret on disk" checks).
    pub fn files(&self, env: &Env) -> Vec<PathBuf> {
        match self {
            Db::Sqlite => ["", "-wal", "-shm"]
                .iter()
                .map(|s| env.path(&format!("server/server.db{s}")))
                .filter(|p| p.exists())
                .collect(),
            Db::Postgres(pg) => {
                pg.checkpoint();
                walk(&pg.dir)
            }
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The test's cdxs binary (`$CDXS_TEST_BIN` runs another build, as for the machines: an
/// older commit, to see a regression test fail before its fix).
pub fn cdxs_bin() -> PathBuf {
    std::env::var_os("CDXS_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_cdxs")))
}

/// A `cdxs server run` child on 127.0.0.1 and a free port.
pub struct SyncServer {
    child: Option<Child>,
    pub url: String,
    args: Vec<String>,
    /// Environment variables on top of the defaults (and winning over them).
    vars: Vec<(String, String)>,
    log: PathBuf,
    root: PathBuf,
}

impl SyncServer {
    pub fn start(env: &Env, db: &Db, extra: &[&str]) -> SyncServer {
        let mut args = db.args(env);
        args.extend(extra.iter().map(|s| s.to_string()));
        SyncServer::start_with(env, args)
    }

    /// With exactly these arguments after `server run --bind ...`.
    pub fn start_with(env: &Env, args: Vec<String>) -> SyncServer {
        SyncServer::start_env(env, args, Vec::new())
    }

    /// With these arguments and these environment variables as well.
    pub fn start_env(env: &Env, args: Vec<String>, vars: Vec<(String, String)>) -> SyncServer {
        let root = env.path("server");
        std::fs::create_dir_all(&root).unwrap();
        let mut s = SyncServer {
            child: None,
            url: String::new(),
            args,
            vars,
            log: root.join("server.log"),
            root,
        };
        s.spawn("127.0.0.1:0");
        s
    }

    fn spawn(&mut self, bind: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut child = Command::new(cdxs_bin())
            .args(["server", "run", "--bind", bind, "--log-level", "info"])
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.root)
            .env("CDXS_STATE_DIR", self.root.join("state"))
            .envs(crate::harness::windows_system_env())
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!(
                    "the server did not start: {line}\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )
            })
            .to_string();
        self.url = url;
        self.child = Some(child);
    }

    /// Stop (SIGTERM, then wait) and start again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let bind = self.url.trim_start_matches("http://").to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // The old socket may linger for a moment.
            if std::net::TcpListener::bind(&bind).is_ok() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spawn(&bind);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The server's resident memory now, in kB (`VmRSS`).
    pub fn rss_kb(&self) -> u64 {
        proc_status_kb(self.pid(), "VmRSS")
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SyncServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `cdxs ARGS` on a machine, as a child process (to run several at once), on the live
/// clock: machines refreshing at the same moment must see real time pass.
pub fn spawn(m: &Env, args: &[&str]) -> std::process::Child {
    m.spawn(args, &[("CDXS_NOW", "+0")])
}

/// `sync status --json` on a machine, parsed.
pub fn status_json(m: &Env) -> serde_json::Value {
    serde_json::from_slice(&ok(m.run(&["sync", "status", "--json"])).stdout).unwrap()
}

/// A server on `db` (with `extra` arguments) whose `users` exist, each with [`PASSWORD`].
pub fn server(env: &Env, db: &Db, users: &[&str], extra: &[&str]) -> SyncServer {
    for u in users {
        add_user(env, db, u, PASSWORD);
    }
    SyncServer::start(env, db, extra)
}

/// `cdxs server user add NAME --password-stdin` against `db`.
pub fn add_user(env: &Env, db: &Db, name: &str, password: &str) {
    let mut args = vec!["server", "user", "add", name, "--password-stdin"];
    let data = db.args(env);
    args.extend(data.iter().map(String::as_str));
    let out = env.run_stdin(&args, &format!("{password}\n"));
    assert!(out.status.success(), "{}", text(&out));
}

/// `cdxs server ...ARGS` against `db`.
pub fn server_cmd(env: &Env, db: &Db, args: &[&str], stdin: &str) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    let data = db.args(env);
    all.extend(data.iter().map(String::as_str));
    env.run_stdin(&all, stdin)
}

/// `sync login` on `m` as `user`.
pub fn login(m: &Env, url: &str, user: &str) -> std::process::Output {
    login_with(m, url, user, None)
}

/// `sync login` with the password on stdin, then the key phrase when given (`--key-stdin`).
fn login_with(m: &Env, url: &str, user: &str, phrase: Option<&str>) -> std::process::Output {
    let mut args = vec![
        "sync",
        "login",
        "--server",
        url,
        "--user",
        user,
        "--password-stdin",
    ];
    let mut stdin = format!("{PASSWORD}\n");
    if let Some(phrase) = phrase {
        args.push("--key-stdin");
        stdin.push_str(&format!("{phrase}\n"));
    }
    m.run_stdin(&args, &stdin)
}

/// First machine: log in and make the key; returns the recovery phrase.
pub fn first_machine(m: &Env, url: &str, user: &str) -> String {
    let out = login(m, url, user);
    assert!(out.status.success(), "{}", text(&out));
    let out = m.run(&["sync", "init"]);
    assert!(out.status.success(), "{}", text(&out));
    let phrase = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(phrase.split(' ').count(), 24, "{}", text(&out));
    phrase
}

/// Another machine: log in with the phrase.
pub fn join(m: &Env, url: &str, user: &str, phrase: &str) -> std::process::Output {
    login_with(m, url, user, Some(phrase))
}

pub fn ok(out: std::process::Output) -> std::process::Output {
    assert!(out.status.success(), "{}", text(&out));
    out
}

pub fn fails(out: std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {}", text(&out));
    stderr(&out)
}

/// Account ids in a machine's vault.
pub fn account_ids(m: &Env) -> Vec<String> {
    let mut ids: Vec<String> = m.accounts_json()["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The refresh token a machine's vault holds for an account (read from the vault file).
pub fn vault_refresh_token(m: &Env, account_id: &str) -> String {
    let conn = rusqlite::Connection::open(m.state.join("cdxs.db")).unwrap();
    conn.query_row(
        "SELECT refresh_token FROM accounts WHERE id = ?1",
        [account_id],
        |r| r.get(0),
    )
    .unwrap()
}

/// Raw HTTP against the API.
pub struct Api {
    pub url: String,
    http: reqwest::blocking::Client,
}

impl Api {
    pub fn new(url: &str) -> Api {
        Api {
            url: url.to_string(),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut r = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            headers,
        )
    }

    pub fn login(&self, user: &str, password: &str) -> (u16, Value) {
        let (s, v, _) = self.call(
            "POST",
            "/v1/login",
            None,
            Some(json!({"username": user, "password": password, "device": "test"})),
        );
        (s, v)
    }

    pub fn token(&self, user: &str) -> String {
        let (s, v) = self.login(user, PASSWORD);
        assert_eq!(s, 200, "{v}");
        v["token"].as_str().unwrap().to_string()
    }
}

/// A well-formed opaque record (the server cannot tell it from a real one).
pub fn fake_record(id: &str, version: u64) -> Value {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    json!({
        "record_id": id,
        "version": version,
        "deleted": false,
        "nonce": b64.encode([7u8; 24]),
        "ciphertext": b64.encode(b"opaque bytes the server cannot read"),
    })
}

// ---------------------------------------------------------------------------------------
// PostgreSQL: one cluster per test, copied from a template that initdb makes once.

pub struct Pg {
    pub dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
    _root: tempfile::TempDir,
}

/// `$CDXS_TEST_PG_BIN` (as build.rs looks), else the newest Debian PostgreSQL, else
/// `pg_config --bindir`.
fn pg_bin() -> Option<PathBuf> {
    if let Some(b) = std::env::var_os("CDXS_TEST_PG_BIN").filter(|v| !v.is_empty()) {
        let b = PathBuf::from(b);
        return b.join("initdb").exists().then_some(b);
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    candidates.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(p) = candidates.pop() {
        return Some(p);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.join("initdb").exists().then_some(p)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn postgres_uid() -> Option<u32> {
    let out = Command::new("id").args(["-u", "postgres"]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// PostgreSQL cannot run: the test fails (under CI, or when it went missing after the
/// build that found it; otherwise the test is compiled as ignored and never gets here).
fn unavailable(why: &str) -> ! {
    if std::env::var_os("CI").is_some() {
        panic!("PostgreSQL is needed by this test and {why} (run scripts/install-postgres.sh)");
    }
    panic!(
        "PostgreSQL is needed by this test and {why}; it was there when the tests were built: install it (scripts/install-postgres.sh), or rebuild (`touch build.rs`) so that these tests are ignored"
    );
}

impl Pg {
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        run_pg(&self.bin, self.as_postgres, tool, args)
    }

    pub fn start() -> Pg {
        let Some(bin) = pg_bin() else {
            unavailable("PostgreSQL is not installed");
        };
        let as_postgres = is_root();
        let uid = if as_postgres {
            match postgres_uid() {
                Some(u) => Some(u),
                None => unavailable("there is no `postgres` user to run it as"),
            }
        } else {
            None
        };
        let template = template(&bin, as_postgres, uid);
        let root = tempfile::Builder::new()
            .prefix("cdxs-it-pg-")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        if let Some(u) = uid {
            chown(root.path(), u);
        }
        let dir = root.path().join("data");
        let cp = Command::new("cp")
            .arg("-a")
            .arg(&template)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(cp.success(), "cannot copy the PostgreSQL template");
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let opts = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=200",
                dir.display()
            );
            let log = dir.join("postgres.log").display().to_string();
            let d = dir.display().to_string();
            let out = run_pg(
                &bin,
                as_postgres,
                "pg_ctl",
                &["-D", &d, "-l", &log, "-o", &opts, "-w", "start"],
            );
            if out.status.success() {
                return Pg {
                    dir,
                    port,
                    bin,
                    as_postgres,
                    _root: root,
                };
            }
        }
        let log = std::fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
        unavailable(&format!("PostgreSQL did not start:\n{log}"))
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Flush everything to the data files (for scans of what is on disk).
    pub fn checkpoint(&self) {
        self.sql("CHECKPOINT");
    }

    /// Run SQL, returning psql's unaligned output.
    pub fn sql(&self, query: &str) -> String {
        let port = self.port.to_string();
        let out = self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-At",
                "-c",
                query,
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let d = self.dir.display().to_string();
        let _ = self.run("pg_ctl", &["-D", &d, "-m", "immediate", "-w", "stop"]);
    }
}

fn run_pg(bin: &Path, as_postgres: bool, tool: &str, args: &[&str]) -> std::process::Output {
    let exe = bin.join(tool);
    let mut cmd = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// initdb once per machine and PostgreSQL version (under a file lock shared by the test
/// processes); every test copies it.
fn template(bin: &Path, as_postgres: bool, uid: Option<u32>) -> PathBuf {
    let version = bin
        .parent()
        .and_then(|p| p.file_name())
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pg".into());
    let base = std::env::temp_dir().join(format!("cdxs-it-pg-template-{version}"));
    std::fs::create_dir_all(&base).unwrap();
    if let Some(u) = uid {
        chown(&base, u);
    }
    let lock = std::fs::File::create(
        std::env::temp_dir().join(format!("cdxs-it-pg-template-{version}.lock")),
    )
    .unwrap();
    lock.lock().unwrap();
    let data = base.join("data");
    if !data.join("PG_VERSION").exists() || !base.join("ready").exists() {
        let _ = std::fs::remove_dir_all(&data);
        let d = data.display().to_string();
        let out = run_pg(
            bin,
            as_postgres,
            "initdb",
            &[
                "-D",
                &d,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        assert!(out.status.success(), "initdb failed: {}", stderr(&out));
        std::fs::write(base.join("ready"), b"").unwrap();
    }
    drop(lock);
    data
}

/// Give `path` to the `postgres` user (PostgreSQL refuses to run as root; Unix only).
fn chown(path: &Path, uid: u32) {
    #[cfg(unix)]
    std::os::unix::fs::chown(path, Some(uid), None).unwrap();
    #[cfg(not(unix))]
    let _ = (path, uid);
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `/proc/PID/status` figure in kB (0 when the process is gone).
pub fn proc_status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
