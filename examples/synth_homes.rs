//! Build large synthetic Codex homes from a real Codex 0.169 session, for benchmarks:
//! the real `codex exec` makes one session offline (against the local Responses mock),
//! then each home gets N clones of it: rollout files with new thread ids in Codex's folder
//! layout, and rows in copies of Codex's own databases (made with SQLite's backup API).
//!
//!   cargo run --release --example synth_homes -- --codex PATH --out DIR \
//!       [--homes 5] [--threads 10000] [--big-rollout-mb 0]
//!
//! Prints one line per home: `home <path> <threads>`; with --big-rollout-mb, also
//! `big <thread id> <path>` for a rollout padded to that size (for `session stats`).

#[path = "../tests/support/mock_responses.rs"]
mod mock_responses;

use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let codex =
        std::fs::canonicalize(arg(&args, "--codex").expect("--codex PATH")).expect("codex exists");
    let out = PathBuf::from(arg(&args, "--out").expect("--out DIR"));
    std::fs::create_dir_all(&out).unwrap();
    let out = std::fs::canonicalize(out).unwrap();
    let homes: usize = arg(&args, "--homes")
        .map(|v| v.parse().unwrap())
        .unwrap_or(5);
    let threads: usize = arg(&args, "--threads")
        .map(|v| v.parse().unwrap())
        .unwrap_or(10_000);
    let big_mb: u64 = arg(&args, "--big-rollout-mb")
        .map(|v| v.parse().unwrap())
        .unwrap_or(0);
    std::fs::create_dir_all(&out).unwrap();

    // 1. One real session.
    let mock = mock_responses::MockResponses::start("synthetic reply");
    let template = out.join("template");
    let _ = std::fs::remove_dir_all(&template);
    mock_responses::prepare_home(&template, &mock);
    let tid = mock_responses::codex_exec(
        &codex,
        &template,
        &out.join("work"),
        None,
        "a synthetic thread",
    )
    .expect("codex exec");
    let tdb = Connection::open(template.join("state_5.sqlite")).unwrap();
    let trow_path: String = tdb
        .query_row(
            "SELECT rollout_path FROM threads WHERE id = ?1",
            [&tid],
            |r| r.get(0),
        )
        .unwrap();
    let rollout = std::fs::read_to_string(&trow_path).unwrap();

    // 2. Clones.
    for h in 0..homes {
        let home = out.join(format!("home-{h}"));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        for f in ["config.toml", "auth.json"] {
            std::fs::copy(template.join(f), home.join(f)).unwrap();
        }
        for db in ["state_5.sqlite", "thread_history_1.sqlite"] {
            let src = Connection::open(template.join(db)).unwrap();
            let mut dst = Connection::open(home.join(db)).unwrap();
            rusqlite::backup::Backup::new(&src, &mut dst)
                .unwrap()
                .run_to_completion(1000, std::time::Duration::ZERO, None)
                .unwrap();
        }
        let mut db = Connection::open(home.join("state_5.sqlite")).unwrap();
        db.execute_batch("PRAGMA journal_mode = WAL; DELETE FROM threads;")
            .unwrap();
        Connection::open(home.join("thread_history_1.sqlite"))
            .unwrap()
            .execute_batch("DELETE FROM thread_turns; DELETE FROM thread_items; DELETE FROM thread_history_projection_state;")
            .unwrap();
        let cols: Vec<String> = {
            let mut s = tdb.prepare("PRAGMA table_info(threads)").unwrap();
            s.query_map([], |r| r.get::<_, String>(1))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let select = format!("SELECT {} FROM threads WHERE id = ?1", cols.join(", "));
        let template_row: Vec<rusqlite::types::Value> = tdb
            .query_row(&select, [&tid], |r| {
                (0..cols.len()).map(|i| r.get(i)).collect()
            })
            .unwrap();
        let insert = format!(
            "INSERT INTO threads ({}) VALUES ({})",
            cols.join(", "),
            (1..=cols.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let tx = db.transaction().unwrap();
        {
            let mut stmt = tx.prepare(&insert).unwrap();
            let base_ms = chrono::Utc::now().timestamp_millis() - (threads as i64) * 60_000;
            for t in 0..threads {
                let id = uuid::Uuid::now_v7().to_string();
                let ms = base_ms + t as i64 * 60_000;
                let when = chrono::DateTime::from_timestamp_millis(ms).unwrap();
                let dir = home
                    .join("sessions")
                    .join(when.format("%Y/%m/%d").to_string());
                std::fs::create_dir_all(&dir).unwrap();
                let path = dir.join(format!(
                    "rollout-{}-{id}.jsonl",
                    when.format("%Y-%m-%dT%H-%M-%S")
                ));
                std::fs::write(&path, rollout.replace(&tid, &id)).unwrap();
                let mut row = template_row.clone();
                for (i, c) in cols.iter().enumerate() {
                    use rusqlite::types::Value as V;
                    row[i] = match c.as_str() {
                        "id" => V::Text(id.clone()),
                        "rollout_path" => V::Text(path.to_string_lossy().into_owned()),
                        "created_at" | "updated_at" | "recency_at" => V::Integer(ms / 1000),
                        "created_at_ms" | "updated_at_ms" | "recency_at_ms" => V::Integer(ms),
                        "preview" | "title" | "first_user_message" => {
                            V::Text(format!("synthetic thread {t} of home {h}"))
                        }
                        _ => row[i].clone(),
                    };
                }
                stmt.execute(rusqlite::params_from_iter(row)).unwrap();
            }
        }
        tx.commit().unwrap();
        println!("home {} {threads}", home.display());
    }

    // 3. A big rollout for `session stats`.
    if big_mb > 0 {
        let home = out.join("home-0");
        let db = Connection::open(home.join("state_5.sqlite")).unwrap();
        let (id, path): (String, String) = db
            .query_row(
                "SELECT id, rollout_path FROM threads ORDER BY created_at_ms DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let lines: Vec<&str> = rollout.lines().collect();
        let (body, tail): (Vec<&str>, Vec<&str>) = lines
            .iter()
            .skip(1)
            .partition(|l| !l.contains("\"token_count\""));
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let target = big_mb * 1024 * 1024;
        let mut size = std::fs::metadata(&path).unwrap().len();
        while size < target {
            for l in &body {
                f.write_all(l.as_bytes()).unwrap();
                f.write_all(b"\n").unwrap();
                size += l.len() as u64 + 1;
            }
        }
        for l in &tail {
            writeln!(f, "{l}").unwrap();
        }
        println!("big {id} {}", Path::new(&path).display());
    }
}
