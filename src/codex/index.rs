//! `session_index.jsonl`: Codex's append-only thread-name index. The last line for an id
//! wins; unparseable lines are skipped. Appends and rewrites happen under
//! `session_index.jsonl.lock`, as Codex does.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, IoContext, Result, tick};
use crate::fsx::{self, LockSpec};

pub const INDEX: &str = "session_index.jsonl";
const INDEX_LOCK: &str = "session_index.jsonl.lock";
/// The most `session_index.jsonl` may weigh (one short line per rename).
pub const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

pub fn path(home: &Path) -> PathBuf {
    home.join(INDEX)
}

/// The thread id an index line names.
pub fn id_of(line: &str) -> Option<String> {
    serde_json::from_str::<Value>(line)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// Latest name per thread id.
pub fn names(home: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let Some(bytes) = fsx::read_optional_bounded(&path(home), MAX_INDEX_BYTES)? else {
        return Ok(out);
    };
    for line in String::from_utf8_lossy(&bytes).lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if let (Some(id), Some(name)) = (
            v.get("id").and_then(Value::as_str),
            v.get("thread_name").and_then(Value::as_str),
        ) && !name.trim().is_empty()
        {
            out.insert(id.to_string(), name.to_string());
        }
    }
    Ok(out)
}

/// The raw lines of the index that belong to `id`.
pub fn lines_for(home: &Path, id: &str) -> Result<Vec<String>> {
    let Some(bytes) = fsx::read_optional_bounded(&path(home), MAX_INDEX_BYTES)? else {
        return Ok(Vec::new());
    };
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| id_of(l).as_deref() == Some(id))
        .map(str::to_string)
        .collect())
}

fn lock(home: &Path) -> Result<fsx::FileLock> {
    fsx::lock_exclusive(
        &home.join(INDEX_LOCK),
        LockSpec::new(Duration::from_secs(10)),
        "Codex's `session_index.jsonl.lock`",
    )
}

/// Rewrite the index without the lines of `ids` (as `codex delete` does), after saving the
/// old file with `backup`. Returns the removed lines.
pub fn remove(
    home: &Path,
    ids: &[String],
    backup: impl FnOnce(&Path, &[u8]) -> Result<PathBuf>,
) -> Result<Vec<String>> {
    let file = path(home);
    let _lock = lock(home)?;
    let Some(bytes) = fsx::read_optional_bounded(&file, MAX_INDEX_BYTES)? else {
        return Ok(Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    let (removed, kept): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|l| id_of(l).is_some_and(|i| ids.contains(&i)));
    if removed.is_empty() {
        return Ok(Vec::new());
    }
    backup(&file, &bytes)?;
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    fsx::write_atomic(&file, out.as_bytes(), 0o644)?;
    Ok(removed.into_iter().map(str::to_string).collect())
}

/// Append lines (restore, copy) under the lock.
pub fn append(home: &Path, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let file = path(home);
    let _lock = lock(home)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
        .context(|| format!("cannot open {}", tick(&file)))?;
    let mut data = String::new();
    for l in lines {
        data.push_str(l.trim_end_matches('\n'));
        data.push('\n');
    }
    f.write_all(data.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("cannot append to {}", tick(&file)), e))
}

/// One index line naming a thread, as Codex writes it.
pub fn line(id: &str, name: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "id": id,
        "thread_name": name,
        "updated_at": now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
    })
    .to_string()
}
