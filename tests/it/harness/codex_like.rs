//! Hostile-input helpers (tests/it/hostile/): Codex-shaped homes built from the schema
//! dumps cdxs knows, crafted files, held locks, runs under a memory limit.

use super::*;

/// A Codex home without the real Codex: `state_5.sqlite` and `thread_history_1.sqlite` with
/// exactly the structure Codex 0.171 has (every table that hangs off a thread), no threads.
pub fn codex_like_home(home: &Path) {
    use cdxs::codex::schema::{Db, known_structure};
    std::fs::create_dir_all(home.join("sessions")).unwrap();
    for (db, version, file) in [
        (Db::State, 64, "state_5.sqlite"),
        (Db::History, 9, "thread_history_1.sqlite"),
    ] {
        let known = known_structure(db, version).unwrap();
        let conn = rusqlite::Connection::open(home.join(file)).unwrap();
        conn.execute_batch(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL DEFAULT 1, checksum BLOB NOT NULL DEFAULT x'00', execution_time BIGINT NOT NULL DEFAULT 0);",
        )
        .unwrap();
        for (v, d) in &known.migrations {
            conn.execute(
                "INSERT INTO _sqlx_migrations (version, description) VALUES (?1, ?2)",
                rusqlite::params![v, d],
            )
            .unwrap();
        }
        known.create_tables(&conn).unwrap();
    }
}

/// The rollout file name Codex gives thread `id`.
pub fn rollout_name(id: &str) -> String {
    format!("rollout-2026-11-26T00-00-00-{id}.jsonl")
}

/// Add a thread to a [`codex_like_home`]: a rollout under `sessions/2026/11/26/`, its
/// `threads` row (pointing at `rollout_path`, default the real file), one dynamic-tool row
/// and one history row. Returns the rollout's path.
pub fn add_thread(home: &Path, id: &str, text: &str, rollout_path: Option<&str>) -> PathBuf {
    let dir = home.join("sessions").join("2026").join("11").join("26");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(rollout_name(id));
    std::fs::write(&file, rollout_text(id, text, true)).unwrap();
    let state = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    let path = rollout_path
        .map(str::to_string)
        .unwrap_or_else(|| file.to_string_lossy().into_owned());
    state
        .execute(
            "INSERT INTO threads (id, rollout_path, created_at, updated_at, source, model_provider, cwd, title, sandbox_policy, approval_mode, preview, first_user_message) VALUES (?1, ?2, 1, 1, 'cli', 'openai', '/w', ?3, '{\"type\":\"read-only\"}', 'on-request', ?3, ?3)",
            rusqlite::params![id, path, text],
        )
        .unwrap();
    state
        .execute(
            "INSERT INTO thread_dynamic_tools (thread_id, position, name, description, input_schema) VALUES (?1, 0, 'tool', 'd', '{}')",
            [id],
        )
        .unwrap();
    let history = rusqlite::Connection::open(home.join("thread_history_1.sqlite")).unwrap();
    history
        .execute(
            "INSERT INTO thread_history_projection_state (thread_id, next_rollout_byte_offset, next_rollout_ordinal) VALUES (?1, 0, 0)",
            [id],
        )
        .unwrap();
    file
}

/// A rollout's text: `session_meta`, optionally a `turn_context`, one user message.
pub fn rollout_text(id: &str, text: &str, turn_context: bool) -> String {
    let mut s = format!(
        "{{\"timestamp\":\"2026-11-26T00:00:00.000Z\",\"type\":\"session_meta\",\"payload\":{{\"id\":\"{id}\",\"timestamp\":\"2026-11-26T00:00:00.000Z\",\"cwd\":\"/w\",\"originator\":\"codex_cli_rs\",\"cli_version\":\"0.171.0\",\"source\":\"cli\",\"model_provider\":\"openai\"}}}}\n"
    );
    if turn_context {
        s.push_str("{\"timestamp\":\"2026-11-26T00:00:00.500Z\",\"type\":\"turn_context\",\"payload\":{\"cwd\":\"/w\",\"approval_policy\":\"on-request\",\"sandbox_policy\":{\"type\":\"read-only\"},\"model\":\"gpt-5.1\"}}\n");
    }
    s.push_str(&format!(
        "{{\"timestamp\":\"2026-11-26T00:00:01.000Z\",\"type\":\"event_msg\",\"payload\":{{\"type\":\"user_message\",\"message\":{}}}}}\n",
        serde_json::to_string(text).unwrap()
    ));
    s
}

/// Ids of the rows in a table of a home's database where `column = value` (counts rows).
pub fn count_rows(db: &Path, table: &str, column: &str, value: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        &format!("SELECT COUNT(*) FROM \"{table}\" WHERE \"{column}\" = ?1"),
        [value],
        |r| r.get(0),
    )
    .unwrap()
}

/// Every row of `threads` (count).
pub fn thread_count(home: &Path) -> i64 {
    let conn = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    conn.query_row("SELECT COUNT(*) FROM threads", [], |r| r.get(0))
        .unwrap()
}

/// Hold a thread's writer lock the way a running Codex does (flock EX on
/// `thread-writer-locks/<id>.lock`) until the returned file is dropped.
pub fn hold_writer_lock(home: &Path, id: &str) -> std::fs::File {
    let dir = home.join("thread-writer-locks");
    std::fs::create_dir_all(&dir).unwrap();
    let f = std::fs::File::create(dir.join(format!("{id}.lock"))).unwrap();
    f.lock().unwrap();
    f
}

/// Every regular file under `dir` (recursively, symlinks not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(files_under(&e.path()));
        } else if t.is_file() {
            out.push(e.path());
        }
    }
    out
}

/// Does any regular file under `dir` contain `needle`?
pub fn any_file_contains(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    files_under(dir).into_iter().find(|f| {
        std::fs::read(f)
            .map(|b| b.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}

impl Env {
    /// Run cdxs under a 2 GB address-space limit (`ulimit -v`), with a wall-clock bound:
    /// a command that reads without bound fails here instead of eating the machine.
    /// Windows has no `ulimit`: there only the wall-clock bound holds.
    pub fn run_limited(&self, args: &[&str], secs: u64) -> Output {
        if cfg!(windows) {
            return self
                .cdxs()
                .args(args)
                .timeout(std::time::Duration::from_secs(secs))
                .output()
                .unwrap();
        }
        let bin = assert_cmd::cargo::cargo_bin("cdxs");
        let mut cmd = self.cdxs_process("sh");
        cmd.arg("-c")
            .arg("ulimit -v 2000000; exec timeout \"$0\" \"$@\"")
            .arg(secs.to_string())
            .arg(bin)
            .args(args);
        cmd.output().unwrap()
    }
}

impl Env {
    /// `cdxs ARGS` as a process to talk to while it runs (a login waiting for its
    /// callback): the same clean environment as [`Env::cdxs`], stdio piped.
    pub fn spawn_cdxs(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("cdxs"));
        cmd.current_dir(&self.work)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("CDXS_STATE_DIR", &self.state)
            .env("NO_COLOR", "1")
            .env("BROWSER", self.no_browser())
            .args(args)
            .envs(if cfg!(windows) {
                self.windows_env()
            } else {
                Vec::new()
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in self.extra.borrow().iter() {
            cmd.env(k, v);
        }
        cmd
    }

    /// Add an API-key account; its vault id.
    pub fn add_api_key_id(&self, key: &str) -> String {
        let ids = |v: Value| -> Vec<String> {
            v["accounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["id"].as_str().map(str::to_string))
                .collect()
        };
        let before = ids(self.accounts_json());
        let out = self.add_api_key(key);
        assert!(out.status.success(), "{}", text(&out));
        ids(self.accounts_json())
            .into_iter()
            .find(|id| !before.contains(id))
            .expect("a new account")
    }
}

/// Read a running login's stderr up to the authorize address it prints.
pub fn authorize_url(stderr: &mut BufReader<std::process::ChildStderr>) -> String {
    for _ in 0..20 {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(u) = line.trim().strip_prefix("http") {
            return format!("http{u}");
        }
    }
    panic!("no authorize URL printed")
}
