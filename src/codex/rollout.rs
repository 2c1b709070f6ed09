//! Rollout files: `sessions/YYYY/MM/DD/rollout-<ts>-<uuid>[_<rollout>].jsonl[.zst]` and
//! `archived_sessions/rollout-...`. cdxs reads their first records (session meta, first user
//! message) and their last `token_count`, never rewrites their bytes (Codex keeps byte
//! offsets into them), and reads `.jsonl.zst` transparently.
//!
//! Two spellings, one rollout. Codex's compression worker (0.169 and 0.171, feature
//! `local_thread_store_compression`) replaces a cold `x.jsonl` by `x.jsonl.zst` and leaves
//! the thread's row naming `x.jsonl`; Codex's own read-repair inserts rows naming
//! `x.jsonl.zst`; a resume turns it back into `x.jsonl`. Codex reads whichever exists, the
//! plain one first: when both exist the `.zst` one is shadowed ([`existing`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result, tick};

pub const SESSIONS: &str = "sessions";
pub const ARCHIVED: &str = "archived_sessions";

/// A rollout file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFile {
    pub path: PathBuf,
    pub thread_id: String,
    pub archived: bool,
    pub compressed: bool,
    /// A `.jsonl.zst` whose plain `.jsonl` twin is in the same folder: Codex reads the
    /// plain one, so this one is not the thread's rollout (but is still a file of it).
    pub shadowed: bool,
}

/// Whether `id` has the shape of a Codex thread id (a UUID: 8-4-4-4-12 hex digits). Only
/// such ids ever become part of a path (trash folders, writer locks, rollout names): a
/// thread id read from a file or a database row is data, and `..` or `a/b` is not one.
pub fn is_thread_id(id: &str) -> bool {
    id.len() == 36
        && id.chars().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// [`is_thread_id`] as a clean error naming where the id came from.
pub fn check_thread_id(id: &str, from: &str) -> Result<()> {
    if is_thread_id(id) {
        return Ok(());
    }
    Err(Error::user(format!(
        "{from} names `{}`, which is not a Codex thread id",
        crate::text::sanitize(&id.chars().take(80).collect::<String>())
    ))
    .with_help("thread ids are UUIDs like `0199aaaa-0000-7000-8000-00000000000a`; cdxs leaves that entry alone"))
}

/// The thread id in a rollout file name, if it is one.
pub fn thread_id_of(name: &str) -> Option<String> {
    let rest = name.strip_prefix("rollout-")?;
    let stem = rest
        .strip_suffix(".jsonl.zst")
        .or_else(|| rest.strip_suffix(".jsonl"))?;
    // "YYYY-MM-DDThh-mm-ss-" is 20 characters; then the uuid (36), then maybe "_<rollout id>".
    let after = stem.get(20..)?;
    let id = after.get(..36)?;
    let rest = &after[36..];
    // After the id: nothing, or `_<rollout id>` without separators.
    let tail_ok = rest.is_empty() || (rest.starts_with('_') && !rest.contains(['/', '\\']));
    (is_thread_id(id) && tail_ok).then(|| id.to_ascii_lowercase())
}

/// Every rollout file under a home's `sessions/` and `archived_sessions/`.
pub fn list(home: &Path) -> Vec<RolloutFile> {
    let mut out = Vec::new();
    for (dir, archived) in [(SESSIONS, false), (ARCHIVED, true)] {
        walk(&home.join(dir), archived, &mut out);
    }
    out
}

fn walk(dir: &Path, archived: bool, out: &mut Vec<RolloutFile>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let first = out.len();
    for e in entries.flatten() {
        let Ok(kind) = e.file_type() else {
            continue;
        };
        let name = e.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() {
            walk(&e.path(), archived, out);
        } else if kind.is_file()
            && let Some(id) = thread_id_of(&name)
        {
            out.push(RolloutFile {
                path: e.path(),
                thread_id: id,
                archived,
                compressed: name.ends_with(".zst"),
                shadowed: false,
            });
        }
    }
    // The files of this folder (sub-folders were walked into `out` meanwhile; a twin is
    // always in the same folder, so comparing full paths is enough).
    let plain: std::collections::HashSet<PathBuf> = out[first..]
        .iter()
        .filter(|f| !f.compressed)
        .map(|f| f.path.clone())
        .collect();
    for f in &mut out[first..] {
        f.shadowed = f.compressed && plain.contains(&twin(&f.path));
    }
}

/// The other spelling of a rollout (`x.jsonl` <-> `x.jsonl.zst`).
pub fn twin(path: &Path) -> PathBuf {
    let s = path.to_string_lossy();
    match s.strip_suffix(".zst") {
        Some(plain) => PathBuf::from(plain),
        None => PathBuf::from(format!("{s}.zst")),
    }
}

/// Is this a compressed spelling (`...jsonl.zst`)?
pub fn is_compressed(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".jsonl.zst"))
}

/// The plain spelling of a rollout path (`x.jsonl.zst` -> `x.jsonl`; a plain one as it is).
pub fn plain(path: &Path) -> PathBuf {
    if is_compressed(path) {
        twin(path)
    } else {
        path.to_path_buf()
    }
}

/// The file Codex reads for a rollout path of either spelling: the plain `x.jsonl` when it
/// exists, else `x.jsonl.zst` when that exists (Codex's `existing_rollout_path`). A path
/// that names no rollout (another file name) is only itself.
pub fn existing(path: &Path) -> Option<PathBuf> {
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".jsonl") || n.ends_with(".jsonl.zst"));
    if !named {
        return path.exists().then(|| path.to_path_buf());
    }
    let plain = plain(path);
    if plain.exists() {
        return Some(plain);
    }
    let compressed = twin(&plain);
    compressed.exists().then_some(compressed)
}

/// Size in bytes of the file Codex reads for a rollout path ([`existing`]), `None` when
/// neither spelling is there. One `stat` for a plain path that exists (the common case).
pub fn existing_size(path: &Path) -> Option<u64> {
    let named_plain = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".jsonl"));
    if named_plain && let Ok(m) = std::fs::metadata(path) {
        return Some(m.len());
    }
    existing(path).and_then(|p| std::fs::metadata(p).ok().map(|m| m.len()))
}

/// Open a rollout for reading, decompressing `.zst`.
pub fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).map_err(|e| Error::io(format!("cannot open {}", tick(path)), e))?;
    if path.extension().is_some_and(|e| e == "zst") {
        let dec = zstd::Decoder::new(file)
            .map_err(|e| Error::io(format!("cannot decompress {}", tick(path)), e))?;
        Ok(Box::new(dec))
    } else {
        Ok(Box::new(file))
    }
}

/// What cdxs reads from the first records of a rollout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub id: Option<String>,
    pub timestamp: Option<String>,
    pub cwd: Option<String>,
    pub source: Option<String>,
    pub model_provider: Option<String>,
    pub cli_version: Option<String>,
    pub originator: Option<String>,
    pub thread_source: Option<String>,
    pub history_mode: Option<String>,
    pub creator_user_id: Option<String>,
    pub creator_account_id: Option<String>,
    /// The first user message (what Codex shows as the preview).
    pub first_user_message: Option<String>,
    pub model: Option<String>,
    pub approval_policy: Option<String>,
    /// JSON text of the permission profile / sandbox policy.
    pub sandbox_policy: Option<String>,
    pub reasoning_effort: Option<String>,
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

/// The text of a user-message record, in either the legacy or the 0.169 shape.
fn user_text(payload: &Value) -> Option<String> {
    match payload.get("type").and_then(Value::as_str)? {
        "user_message" => s(payload, "message"),
        "item_completed" => {
            let item = payload.get("item")?;
            if item.get("type").and_then(Value::as_str) != Some("UserMessage") {
                return None;
            }
            let parts: Vec<&str> = item
                .get("content")?
                .as_array()?
                .iter()
                .filter_map(|c| c.get("text").and_then(Value::as_str))
                .collect();
            (!parts.is_empty()).then(|| parts.join("\n"))
        }
        _ => None,
    }
}

/// The longest rollout line cdxs reads (a `session_meta` with long base instructions is
/// tens of kilobytes); a longer line ends the reading of that file.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// The most bytes the head of a rollout is read for.
pub const MAX_HEAD_BYTES: u64 = 64 * 1024 * 1024;
/// The most bytes read backwards from a rollout's end looking for its last `token_count`.
pub const MAX_TAIL_BYTES: u64 = 256 * 1024 * 1024;

/// Lines of a rollout (without their `\n`), each at most [`MAX_LINE_BYTES`], and at most
/// `budget` bytes in all: a rollout whose line never ends (a sparse file, `/dev/zero`
/// behind a name) stops the reading instead of filling memory.
pub struct BoundedLines<R> {
    reader: R,
    budget: u64,
    done: bool,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(reader: R, budget: u64) -> Self {
        BoundedLines {
            reader,
            budget,
            done: false,
        }
    }
}

impl<R: BufRead> Iterator for BoundedLines<R> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let limit = (MAX_LINE_BYTES as u64 + 1).min(self.budget);
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut line)
            .unwrap_or(0);
        self.budget = self.budget.saturating_sub(read as u64);
        if read == 0 {
            self.done = true;
            return None;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if read as u64 == limit {
            // Cut off by a bound: this line, and the rest of the file, are not read.
            self.done = true;
            return None;
        }
        Some(line)
    }
}

/// Read the head the way Codex lists threads: the session meta and the first user message
/// within the first couple of hundred records. Garbage lines are skipped, never fatal;
/// reading is bounded ([`MAX_LINE_BYTES`], [`MAX_HEAD_BYTES`]).
pub fn read_head(path: &Path) -> Result<Head> {
    Ok(read_head_from(open(path)?))
}

/// [`read_head`] of rollout bytes from any reader (a file, a decompressor, fuzz input).
pub fn read_head_from(reader: impl Read) -> Head {
    let reader = BufReader::with_capacity(64 * 1024, reader);
    let mut head = Head::default();
    for (n, line) in BoundedLines::new(reader, MAX_HEAD_BYTES).enumerate() {
        if n > 210 || (head.first_user_message.is_some() && head.model.is_some()) {
            break;
        }
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        let payload = v.get("payload").cloned().unwrap_or(Value::Null);
        match v.get("type").and_then(Value::as_str) {
            Some("session_meta") if head.id.is_none() => {
                head.id = s(&payload, "id");
                head.timestamp = s(&payload, "timestamp").or_else(|| s(&v, "timestamp"));
                head.cwd = s(&payload, "cwd");
                head.source = payload.get("source").map(|src| match src {
                    Value::String(x) => x.clone(),
                    other => other.to_string(),
                });
                head.model_provider = s(&payload, "model_provider");
                head.cli_version = s(&payload, "cli_version");
                head.originator = s(&payload, "originator");
                head.thread_source = s(&payload, "thread_source");
                head.history_mode = s(&payload, "history_mode");
                head.creator_user_id = s(&payload, "creator_user_id");
                head.creator_account_id = s(&payload, "creator_account_id");
            }
            Some("turn_context") if head.model.is_none() => {
                head.model = s(&payload, "model");
                head.approval_policy = s(&payload, "approval_policy");
                head.sandbox_policy = payload
                    .get("permission_profile")
                    .or_else(|| payload.get("sandbox_policy"))
                    .map(|p| p.to_string());
                head.reasoning_effort = payload
                    .pointer("/collaboration_mode/settings/reasoning_effort")
                    .and_then(Value::as_str)
                    .map(str::to_string);
            }
            Some("event_msg") if head.first_user_message.is_none() => {
                head.first_user_message = user_text(&payload);
            }
            _ => {}
        }
    }
    head
}

/// Cumulative token usage as Codex records it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_output_tokens: i64,
    pub total_tokens: i64,
}

/// The cumulative usage a `token_count` line records (`None` for any other line).
pub fn token_usage_in_line(line: &[u8]) -> Option<TokenUsage> {
    memchr::memmem::find(line, b"token_count")?;
    let v: Value = serde_json::from_slice(line).ok()?;
    let p = v.get("payload")?;
    if p.get("type")?.as_str()? != "token_count" {
        return None;
    }
    let t = p.pointer("/info/total_token_usage")?;
    let n = |k: &str| t.get(k).and_then(Value::as_i64).unwrap_or(0);
    Some(TokenUsage {
        input_tokens: n("input_tokens"),
        cached_input_tokens: n("cached_input_tokens"),
        output_tokens: n("output_tokens"),
        reasoning_output_tokens: n("reasoning_output_tokens"),
        total_tokens: n("total_tokens"),
    })
}

/// The thread's cumulative usage: the last `token_count` event, found by reading the file
/// backwards from its end in growing chunks (a 1 GB rollout costs a few kilobytes).
pub fn last_token_usage(path: &Path) -> Result<Option<TokenUsage>> {
    if path.extension().is_some_and(|e| e == "zst") {
        // Compressed: stream through it, keeping the last one.
        let reader = BufReader::with_capacity(256 * 1024, open(path)?);
        let mut last = None;
        for line in BoundedLines::new(reader, u64::MAX) {
            if let Some(u) = token_usage_in_line(&line) {
                last = Some(u);
            }
        }
        return Ok(last);
    }
    let mut file =
        File::open(path).map_err(|e| Error::io(format!("cannot open {}", tick(path)), e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(format!("cannot read {}", tick(path)), e))?
        .len();
    let mut end = len;
    let mut chunk: u64 = 64 * 1024;
    // Bytes of a line cut by the previous (later) chunk's start.
    let mut carry: Vec<u8> = Vec::new();
    let floor = len.saturating_sub(MAX_TAIL_BYTES);
    while end > floor {
        let start = end.saturating_sub(chunk).max(floor);
        let mut buf = vec![0u8; (end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| Error::io(format!("cannot read {}", tick(path)), e))?;
        buf.extend_from_slice(&carry);
        // Lines fully inside buf, last to first; the first piece may be cut (unless start 0).
        let mut pieces: Vec<&[u8]> = buf.split(|b| *b == b'\n').collect();
        let first = if start > 0 {
            Some(pieces.remove(0))
        } else {
            None
        };
        for line in pieces.iter().rev() {
            if let Some(u) = token_usage_in_line(line) {
                return Ok(Some(u));
            }
        }
        carry = first.map(<[u8]>::to_vec).unwrap_or_default();
        if carry.len() > MAX_LINE_BYTES {
            // A line longer than any record cdxs reads: not a `token_count`.
            carry.clear();
        }
        end = start;
        chunk = (chunk * 2).min(8 * 1024 * 1024);
    }
    Ok(None)
}

/// Lines and turns (`turn_context` records) in one full read; opt-in for big files.
pub fn count_lines_and_turns(path: &Path) -> Result<(u64, u64)> {
    const TURN: &[u8] = b"\"type\":\"turn_context\"";
    let finder = memchr::memmem::Finder::new(TURN);
    let mut reader = open(path)?;
    let mut buf = vec![0u8; 1024 * 1024 + TURN.len()];
    // The last TURN.len()-1 bytes of the previous chunk, so a match across chunks counts.
    let mut keep = 0usize;
    let (mut lines, mut turns) = (0u64, 0u64);
    let mut last = b'\n';
    loop {
        let read = reader
            .read(&mut buf[keep..])
            .map_err(|e| Error::io(format!("cannot read {}", tick(path)), e))?;
        if read == 0 {
            break;
        }
        let fresh = &buf[keep..keep + read];
        lines += memchr::memchr_iter(b'\n', fresh).count() as u64;
        last = fresh[read - 1];
        let window = &buf[..keep + read];
        turns += finder.find_iter(window).count() as u64;
        // Carry a tail shorter than the pattern: it cannot hold a whole match counted above.
        let carry = (TURN.len() - 1).min(window.len());
        let start = window.len() - carry;
        buf.copy_within(start..start + carry, 0);
        keep = carry;
    }
    if last != b'\n' {
        lines += 1; // a last line without its newline still counts
    }
    Ok((lines, turns))
}

/// Count lines (full read).
pub fn count_lines(path: &Path) -> Result<u64> {
    count_lines_and_turns(path).map(|(l, _)| l)
}

/// Reads rollout heads, possibly from a cache keyed by (path, size, mtime).
pub trait HeadSource {
    fn head(&mut self, path: &Path) -> Option<Head>;
}

/// No cache: read the file.
pub struct Direct;

impl HeadSource for Direct {
    fn head(&mut self, path: &Path) -> Option<Head> {
        read_head(path).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    #[test]
    fn ids_from_file_names() {
        let id = "01a21730-653f-7990-89b7-d72a059f1914";
        assert_eq!(
            thread_id_of(&format!("rollout-2026-11-26T09-29-37-{id}.jsonl")).as_deref(),
            Some(id)
        );
        assert_eq!(
            thread_id_of(&format!("rollout-2026-11-26T09-29-37-{id}.jsonl.zst")).as_deref(),
            Some(id)
        );
        assert_eq!(
            thread_id_of(&format!("rollout-2026-11-26T09-29-37-{id}_r2.jsonl")).as_deref(),
            Some(id)
        );
        assert_eq!(thread_id_of("rollout-x.jsonl"), None);
        assert_eq!(
            thread_id_of(&format!("notes-2026-11-26T09-29-37-{id}.jsonl")),
            None
        );
        assert_eq!(
            thread_id_of("rollout-2026-11-26T09-29-37-zzzzzzzz-653f-7990-89b7-d72a059f1914.jsonl"),
            None
        );
    }

    fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
        let p = dir.join(name);
        let mut f = File::create(&p).unwrap();
        for l in lines {
            writeln!(f, "{l}").unwrap();
        }
        p
    }

    fn token_line(total: i64) -> String {
        format!(
            r#"{{"type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":1,"output_tokens":2,"total_tokens":{total}}}}}}}}}"#
        )
    }

    #[test]
    fn head_and_tail_with_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let lines = vec![
            r#"{"type":"session_meta","payload":{"id":"abc","cwd":"/w","source":"exec","model_provider":"openai"}}"#.to_string(),
            "not json at all".into(),
            "\u{0}\u{1}binary".into(),
            r#"{"type":"turn_context","payload":{"model":"gpt-5.1","approval_policy":"never","sandbox_policy":{"type":"read-only"}}}"#.into(),
            r#"{"type":"event_msg","payload":{"type":"item_completed","item":{"type":"UserMessage","content":[{"type":"text","text":"hello"}]}}}"#.into(),
            token_line(107),
            token_line(214),
            r#"{"type":"event_msg","payload":{"type":"task_compl"#.into(), // truncated
        ];
        let p = write(dir.path(), "r.jsonl", &lines);
        let h = read_head(&p).unwrap();
        assert_eq!(h.id.as_deref(), Some("abc"));
        assert_eq!(h.first_user_message.as_deref(), Some("hello"));
        assert_eq!(h.model.as_deref(), Some("gpt-5.1"));
        assert_eq!(last_token_usage(&p).unwrap().unwrap().total_tokens, 214);
        assert_eq!(count_lines(&p).unwrap(), 8);
        assert_eq!(count_lines_and_turns(&p).unwrap(), (8, 1));
        // zstd twin reads the same
        let z = dir.path().join("r.jsonl.zst");
        let data = std::fs::read(&p).unwrap();
        std::fs::write(&z, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
        assert_eq!(read_head(&z).unwrap(), h);
        assert_eq!(last_token_usage(&z).unwrap().unwrap().total_tokens, 214);
        assert_eq!(count_lines(&z).unwrap(), 8);
    }

    #[test]
    fn tail_search_crosses_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = vec![token_line(5)];
        let filler = format!(
            r#"{{"type":"response_item","payload":{{"text":"{}"}}}}"#,
            "x".repeat(50_000)
        );
        for _ in 0..10 {
            lines.push(filler.clone());
        }
        let p = write(dir.path(), "big.jsonl", &lines);
        assert_eq!(last_token_usage(&p).unwrap().unwrap().total_tokens, 5);
        let empty = write(dir.path(), "empty.jsonl", &[]);
        assert_eq!(last_token_usage(&empty).unwrap(), None);
    }

    #[test]
    fn turns_straddling_a_read_boundary_count_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("edge.jsonl");
        let mut data = vec![b'x'; 1024 * 1024 - 7];
        data.extend_from_slice(b"{\"type\":\"turn_context\"}\n");
        data.extend_from_slice(b"{\"type\":\"turn_context\"}\n");
        std::fs::write(&p, &data).unwrap();
        assert_eq!(count_lines_and_turns(&p).unwrap(), (2, 2));
    }

    proptest! {
        #[test]
        fn garbage_rollouts_never_panic(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 0..20)) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("g.jsonl");
            let mut data = Vec::new();
            for l in &lines { data.extend_from_slice(l); data.push(b'\n'); }
            std::fs::write(&p, &data).unwrap();
            let _ = read_head(&p);
            let _ = last_token_usage(&p);
            let _ = count_lines(&p);
        }
    }
}
