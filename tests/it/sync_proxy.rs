//! A hostile (or broken) sync server for the client tests: a local HTTP server on a free
//! loopback port in front of a real `cdxs server run`. Each request goes to a hook, which
//! answers it itself (a proxy's 502, an endless page, a lie about the revision) or forwards
//! it to the real server, and may change the answer on the way back.

#![allow(dead_code)]

use std::io::Read;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::Value;

/// A request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// With the query.
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<String> {
        let q = self.url.split_once('?')?.1;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

/// An answer.
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

pub enum Body {
    Bytes(Vec<u8>),
    /// Streamed (chunked), as long as the reader gives.
    Stream(Box<dyn Read + Send>),
}

impl Canned {
    /// Any status and body, without the sync API's headers (a proxy's error page).
    pub fn status(status: u16, body: &str) -> Canned {
        Canned {
            status,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: Body::Bytes(body.as_bytes().to_vec()),
        }
    }

    /// A JSON answer with the sync API's version headers (it looks like a cdxs server).
    pub fn api(status: u16, body: &Value) -> Canned {
        Canned::api_bytes(status, serde_json::to_vec(body).unwrap())
    }

    pub fn api_bytes(status: u16, body: Vec<u8>) -> Canned {
        Canned {
            status,
            headers: api_headers(),
            body: Body::Bytes(body),
        }
    }

    /// A streamed body with the sync API's headers and no length.
    pub fn api_stream(status: u16, body: Box<dyn Read + Send>) -> Canned {
        Canned {
            status,
            headers: api_headers(),
            body: Body::Stream(body),
        }
    }

    /// The body as JSON (for hooks that change a forwarded answer).
    pub fn json(&self) -> Option<Value> {
        match &self.body {
            Body::Bytes(b) => serde_json::from_slice(b).ok(),
            Body::Stream(_) => None,
        }
    }

    pub fn set_json(&mut self, v: &Value) {
        self.body = Body::Bytes(serde_json::to_vec(v).unwrap());
    }
}

fn api_headers() -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("x-cdxs-server-version".into(), "0.1.0".into()),
        ("x-cdxs-protocol".into(), "1".into()),
    ]
}

/// Sends a request to the real server.
pub struct Upstream {
    base: String,
    http: reqwest::blocking::Client,
}

impl Upstream {
    pub fn forward(&self, req: &Req) -> Canned {
        let mut r = self.http.request(
            req.method.parse().unwrap(),
            format!("{}{}", self.base, req.url),
        );
        for (k, v) in &req.headers {
            let k = k.to_ascii_lowercase();
            if !matches!(
                k.as_str(),
                "host" | "content-length" | "connection" | "transfer-encoding"
            ) {
                r = r.header(k, v);
            }
        }
        let resp = r.body(req.body.clone()).send().unwrap();
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter(|(k, _)| {
                let k = k.as_str();
                k.starts_with("x-cdxs") || k == "content-type" || k == "retry-after"
            })
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        Canned {
            status,
            headers,
            body: Body::Bytes(resp.bytes().unwrap().to_vec()),
        }
    }
}

type Hook = dyn Fn(&Req, &Upstream) -> Canned + Send + Sync;

pub struct Proxy {
    pub url: String,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Answer with `hook` when it says so, else forward to `upstream`.
    pub fn start(
        upstream: &str,
        hook: impl Fn(&Req) -> Option<Canned> + Send + Sync + 'static,
    ) -> Proxy {
        Proxy::start_with(upstream, move |req, up| {
            hook(req).unwrap_or_else(|| up.forward(req))
        })
    }

    /// Every request goes to `hook`, which may forward it (and change the answer).
    pub fn start_with(
        upstream: &str,
        hook: impl Fn(&Req, &Upstream) -> Canned + Send + Sync + 'static,
    ) -> Proxy {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let hook: Arc<Hook> = Arc::new(hook);
        let up = Arc::new(Upstream {
            base: upstream.trim_end_matches('/').to_string(),
            http: reqwest::blocking::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .unwrap(),
        });
        let s = server.clone();
        let thread = std::thread::spawn(move || {
            for mut rq in s.incoming_requests() {
                let hook = hook.clone();
                let up = up.clone();
                // One thread per request: a slow answer holds up nobody else.
                std::thread::spawn(move || {
                    let mut body = Vec::new();
                    let _ = rq.as_reader().read_to_end(&mut body);
                    let req = Req {
                        method: rq.method().as_str().to_string(),
                        url: rq.url().to_string(),
                        headers: rq
                            .headers()
                            .iter()
                            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string()))
                            .collect(),
                        body,
                    };
                    let answer = hook(&req, &up);
                    let headers: Vec<tiny_http::Header> = answer
                        .headers
                        .iter()
                        .filter_map(|(k, v)| {
                            tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).ok()
                        })
                        .collect();
                    let _ = match answer.body {
                        Body::Bytes(b) => {
                            let n = b.len();
                            rq.respond(tiny_http::Response::new(
                                answer.status.into(),
                                headers,
                                std::io::Cursor::new(b),
                                Some(n),
                                None,
                            ))
                        }
                        Body::Stream(r) => rq.respond(tiny_http::Response::new(
                            answer.status.into(),
                            headers,
                            r,
                            None,
                            None,
                        )),
                    };
                });
            }
        });
        Proxy {
            url: format!("http://127.0.0.1:{port}"),
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Wait for `child` (spawned with piped output) and say how much memory it took at its
/// peak (its `ru_maxrss`, kB: `wait4`, unix only).
#[cfg(unix)]
pub fn run_measured(mut child: std::process::Child) -> (std::process::Output, u64) {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let e = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let mut status = 0i32;
    // SAFETY: a zeroed rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child by its pid; `status` and `usage` outlive the call.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    use std::os::unix::process::ExitStatusExt;
    let output = std::process::Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    };
    (output, usage.ru_maxrss as u64)
}
