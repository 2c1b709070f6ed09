//! A tiny offline stand-in for the OpenAI Responses API (SSE), so that the real Codex CLI
//! can run `codex exec` and make real sessions without a network. Shared by the tests and
//! by `examples/synth_homes.rs`. Binds 127.0.0.1 on a free port.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub struct MockResponses {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    /// The `Authorization` header of every POST (tests check which key Codex sent).
    pub authorizations: Arc<Mutex<Vec<String>>>,
    /// How long a turn takes (ms): the answer waits this long (a turn in progress).
    pub delay_ms: Arc<AtomicU64>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

fn sse(events: &[serde_json::Value]) -> String {
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap_or("")))
        .collect()
}

impl MockResponses {
    pub fn start(reply: &str) -> MockResponses {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let (s, n, reply) = (server.clone(), requests.clone(), reply.to_string());
        let seen = authorizations.clone();
        let delay_ms = Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                // Read a body only for POST: a websocket upgrade has none and reading would
                // wait for the connection to close.
                if req.method().as_str() == "POST" {
                    if let Some(h) = req
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("Authorization"))
                    {
                        seen.lock().unwrap().push(h.value.to_string());
                    }
                    let mut body = String::new();
                    let _ = std::io::Read::read_to_string(req.as_reader(), &mut body);
                }
                let path = req.url().split('?').next().unwrap_or("").to_string();
                let json = |code: u16, v: serde_json::Value| {
                    tiny_http::Response::from_string(v.to_string())
                        .with_status_code(code)
                        .with_header(
                            "Content-Type: application/json"
                                .parse::<tiny_http::Header>()
                                .unwrap(),
                        )
                };
                let upgrade = req.headers().iter().any(|h| h.field.equiv("Upgrade"));
                let resp = match (req.method().as_str(), path.as_str()) {
                    // A websocket attempt: 426 makes Codex fall back to HTTP at once.
                    ("GET", p) if upgrade || p.ends_with("/responses") => json(
                        426,
                        serde_json::json!({"error": {"message": "no websockets"}}),
                    ),
                    ("GET", p) if p.ends_with("/models") => json(
                        200,
                        serde_json::json!({"object": "list", "data": [], "models": []}),
                    ),
                    ("POST", p) if p.ends_with("/responses") => {
                        std::thread::sleep(std::time::Duration::from_millis(
                            delay.load(Ordering::SeqCst),
                        ));
                        let k = n.fetch_add(1, Ordering::SeqCst);
                        let rid = format!("resp_{k}");
                        let events = [
                            serde_json::json!({"type": "response.created", "response": {"id": rid}}),
                            serde_json::json!({"type": "response.output_item.done", "item": {"type": "message", "role": "assistant", "id": format!("msg_{rid}"), "content": [{"type": "output_text", "text": reply}]}}),
                            serde_json::json!({"type": "response.completed", "response": {"id": rid, "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 40}, "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 107}}}),
                        ];
                        tiny_http::Response::from_string(sse(&events))
                            .with_status_code(200)
                            .with_header(
                                "Content-Type: text/event-stream"
                                    .parse::<tiny_http::Header>()
                                    .unwrap(),
                            )
                    }
                    _ => json(404, serde_json::json!({"error": {"message": "not found"}})),
                };
                let _ = req.respond(resp);
            }
        });
        MockResponses {
            url: format!("http://127.0.0.1:{port}/v1"),
            requests,
            authorizations,
            delay_ms,
            server,
            thread: Some(thread),
        }
    }

    /// Make every turn take `ms` milliseconds.
    pub fn set_delay(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// A config.toml with a provider of its own (`mock`): turns go here whatever login
    /// auth.json holds (a ChatGPT login cannot run a turn offline).
    pub fn custom_provider_toml(&self) -> String {
        format!(
            "model = \"gpt-5.1\"\nmodel_provider = \"mock\"\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"{}\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\nsupports_websockets = false\nstream_idle_timeout_ms = 60000\n",
            self.url
        )
    }

    /// The `Authorization` header of the last turn Codex posted.
    pub fn last_authorization(&self) -> Option<String> {
        self.authorizations.lock().unwrap().last().cloned()
    }

    /// The config.toml that sends a home's built-in `openai` provider here.
    pub fn config_toml(&self) -> String {
        format!(
            "model = \"gpt-5.1\"\nmodel_provider = \"openai\"\nopenai_base_url = \"{}\"\n",
            self.url
        )
    }
}

impl Drop for MockResponses {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Prepare `home` to run `codex exec` against `mock` (config.toml, an API-key auth.json).
pub fn prepare_home(home: &std::path::Path, mock: &MockResponses) {
    std::fs::create_dir_all(home).unwrap();
    std::fs::write(home.join("config.toml"), mock.config_toml()).unwrap();
    if !home.join("auth.json").exists() {
        std::fs::write(
            home.join("auth.json"),
            "{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"sk-mock\"\n}",
        )
        .unwrap();
    }
}

/// Run the real `codex exec` (or `codex exec resume ID`) in `home`; the thread id it made.
pub fn codex_exec(
    codex: &std::path::Path,
    home: &std::path::Path,
    cwd: &std::path::Path,
    resume: Option<&str>,
    prompt: &str,
) -> Result<String, String> {
    std::fs::create_dir_all(cwd).unwrap();
    let mut cmd = std::process::Command::new(codex);
    cmd.arg("exec");
    if let Some(id) = resume {
        cmd.args(["resume", id]);
    }
    cmd.args(["--skip-git-repo-check", "--json", prompt])
        .current_dir(cwd)
        .env("CODEX_HOME", home)
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .stdin(std::process::Stdio::null());
    let out = cmd.output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
            && v["type"] == "thread.started"
            && let Some(id) = v["thread_id"].as_str()
        {
            return Ok(id.to_string());
        }
    }
    Err(format!(
        "codex exec made no thread (exit {:?}): {}\n{}",
        out.status.code(),
        stdout,
        String::from_utf8_lossy(&out.stderr)
    ))
}
