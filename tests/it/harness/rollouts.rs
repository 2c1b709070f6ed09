//! Codex 0.171 home contents for the tests: real-shaped rollouts (the records `codex exec`
//! writes, in their order and with their keys), compressed the way Codex's worker compresses
//! them (zstd, `x.jsonl` -> `x.jsonl.zst`), and the files of other providers' logins and
//! Codex's maintenance locks.

use super::*;

/// A rollout as Codex 0.169/0.171 `codex exec` writes one turn (seen in real homes; the
/// long instruction texts shortened): session meta, task start, the user message as a
/// response item and as an `item_completed` event, the turn context, the answer, token usage
/// (`total_tokens` cumulative) and the task's end.
pub fn real_shaped_rollout(id: &str, prompt: &str, total_tokens: i64) -> String {
    let turn = "01a24b6c-9e79-72a3-b45a-ddd0127892a2";
    let usage = json!({"input_tokens": total_tokens - 7, "cached_input_tokens": 40, "cache_write_input_tokens": 0, "output_tokens": 7, "reasoning_output_tokens": 2, "total_tokens": total_tokens});
    let lines = [
        json!({"timestamp": "2026-11-26T08:27:37.170Z", "ordinal": 0, "type": "session_meta", "payload": {"account_scoped": true, "session_id": id, "id": id, "timestamp": "2026-11-26T08:27:37.150Z", "cwd": "/w", "runtime_workspace_roots": ["/w"], "originator": "codex_exec", "cli_version": "0.171.0", "source": "cli", "thread_source": "user", "model_provider": "openai", "base_instructions": {"text": "You are a coding agent running in the Codex CLI.", "provenance": {"type": "model", "model": "gpt-5.1"}}, "history_mode": "paginated", "context_window": {"window_id": "01a24b6c-9e69-71e3-bae2-e638a2896588"}}}),
        json!({"timestamp": "2026-11-26T08:27:37.171Z", "ordinal": 1, "type": "event_msg", "payload": {"type": "task_started", "turn_id": turn, "root_turn_id": turn, "started_at": 1795681657, "model_context_window": 258400, "collaboration_mode_kind": "default"}}),
        json!({"timestamp": "2026-11-26T08:27:37.175Z", "ordinal": 2, "type": "turn_context", "payload": {"turn_id": turn, "root_turn_id": turn, "cwd": "/w", "approval_policy": "never", "permission_profile": {"type": "managed", "file_system": {"type": "restricted", "entries": [{"path": {"type": "special", "value": {"kind": "root"}}, "access": "read"}]}, "network": "restricted"}, "model": "gpt-5.1", "collaboration_mode": {"mode": "default", "settings": {"model": "gpt-5.1", "reasoning_effort": null}}}}),
        json!({"timestamp": "2026-11-26T08:27:37.177Z", "ordinal": 3, "type": "response_item", "payload": {"type": "message", "id": "msg_1", "role": "user", "content": [{"type": "input_text", "text": prompt}]}, "metadata": {"history_sequence": 3, "sampled_through_sequence": 0, "client_authored": false}}),
        json!({"timestamp": "2026-11-26T08:27:37.177Z", "ordinal": 4, "type": "event_msg", "payload": {"type": "item_completed", "thread_id": id, "turn_id": turn, "item": {"type": "UserMessage", "id": "item_1", "content": [{"type": "text", "text": prompt, "text_elements": []}]}, "started_at_ms": 1795681657177u64, "completed_at_ms": 1795681657177u64}}),
        json!({"timestamp": "2026-11-26T08:27:37.300Z", "ordinal": 5, "type": "response_item", "payload": {"type": "message", "id": "msg_resp_1", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}, "metadata": {"history_sequence": 4, "sampled_through_sequence": 3, "client_authored": false}}),
        json!({"timestamp": "2026-11-26T08:27:37.301Z", "ordinal": 6, "type": "token_usage_record", "payload": {"thread_id": id, "turn_id": turn, "session_id": id, "response_id": "resp_1", "usage": usage, "turn_token_usage": usage, "thread_token_usage": usage}}),
        json!({"timestamp": "2026-11-26T08:27:37.302Z", "ordinal": 7, "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": usage, "last_token_usage": usage, "model_context_window": 258400}, "rate_limits": {"limit_id": "codex", "primary": null, "secondary": null}}}),
        json!({"timestamp": "2026-11-26T08:27:37.305Z", "ordinal": 8, "type": "event_msg", "payload": {"type": "task_complete", "turn_id": turn, "root_turn_id": turn, "last_agent_message": "ok", "duration_ms": 128}}),
    ];
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Compress a rollout as Codex's worker does: `x.jsonl.zst` (zstd level 3) next to it, the
/// plain file removed. Returns the compressed path.
pub fn compress_rollout(plain: &Path) -> PathBuf {
    let bytes = std::fs::read(plain).unwrap();
    let zst = PathBuf::from(format!("{}.zst", plain.display()));
    std::fs::write(&zst, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    std::fs::remove_file(plain).unwrap();
    zst
}

/// Add a thread to a [`codex_like_home`] with a real-shaped rollout (`total_tokens` as its
/// usage) and its rows; `compressed`: only `x.jsonl.zst` is left, the row still naming
/// `x.jsonl` (what Codex's worker leaves). Returns the file on disk.
pub fn add_real_thread(
    home: &Path,
    id: &str,
    prompt: &str,
    tokens: i64,
    compressed: bool,
) -> PathBuf {
    let file = add_thread(home, id, prompt, None);
    std::fs::write(&file, real_shaped_rollout(id, prompt, tokens)).unwrap();
    if compressed {
        compress_rollout(&file)
    } else {
        file
    }
}

/// Set a thread's `rollout_path`.
pub fn set_rollout_path(home: &Path, id: &str, path: &Path) {
    let conn = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    conn.execute(
        "UPDATE threads SET rollout_path = ?2 WHERE id = ?1",
        rusqlite::params![id, path.to_string_lossy()],
    )
    .unwrap();
}

/// A thread's `rollout_path`.
pub fn rollout_path_of(home: &Path, id: &str) -> Option<String> {
    let conn = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    conn.query_row(
        "SELECT rollout_path FROM threads WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .ok()
}

/// The files of other providers' logins in a Codex 0.171 home (codex-formats.md 9.5), with
/// content unique to `tag`: `gateway_oauth.json`, `gateway_oauth.lock`, `.login.lock`, and
/// `secrets/` (`gateway_oauth.age`, `gateway_oauth.lock`, `local.age`, `codex_auth.age`).
pub fn other_provider_files(home: &Path, tag: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(home.join("secrets")).unwrap();
    let files = [
        ("gateway_oauth.json", format!("{{\"gateway\":\"{tag}\"}}")),
        ("gateway_oauth.lock", String::new()),
        (".login.lock", String::new()),
        (
            "secrets/gateway_oauth.age",
            format!("age-encryption.org/v1 {tag} gateway"),
        ),
        ("secrets/gateway_oauth.lock", String::new()),
        (
            "secrets/local.age",
            format!("age-encryption.org/v1 {tag} local"),
        ),
        (
            "secrets/codex_auth.age",
            format!("age-encryption.org/v1 {tag} login"),
        ),
    ];
    files
        .iter()
        .map(|(name, text)| {
            let p = home.join(name);
            std::fs::write(&p, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            p
        })
        .collect()
}

/// What a file is, to see that nothing touched it: content, mode, inode, mtime (s, ns).
pub type FileState = (Vec<u8>, u32, u64, i64, i64);

/// [`FileState`] of a file.
#[cfg(unix)]
pub fn file_state(path: &Path) -> FileState {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).unwrap();
    (
        std::fs::read(path).unwrap(),
        m.mode(),
        m.ino(),
        m.mtime(),
        m.mtime_nsec(),
    )
}

/// [`FileState`] of a file where there are no modes or inodes: content, read-only flag and
/// the modification time.
#[cfg(not(unix))]
pub fn file_state(path: &Path) -> FileState {
    let m = std::fs::symlink_metadata(path).unwrap();
    let modified = m
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    (
        std::fs::read(path).unwrap(),
        u32::from(m.permissions().readonly()),
        0,
        modified.as_secs() as i64,
        i64::from(modified.subsec_nanos()),
    )
}

/// [`file_state`] of several files.
pub fn files_state(paths: &[PathBuf]) -> Vec<(PathBuf, FileState)> {
    paths.iter().map(|p| (p.clone(), file_state(p))).collect()
}

/// Hold an exclusive flock on `path` (created if absent) the way Codex holds its locks
/// (std `File::lock`), until the returned file is dropped.
pub fn hold_flock(path: &Path) -> std::fs::File {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    f.lock().unwrap();
    f
}
