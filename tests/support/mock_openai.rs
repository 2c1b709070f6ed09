//! A local stand-in for auth.openai.com and chatgpt.com/backend-api (127.0.0.1, free port):
//! PKCE authorization codes, rotating refresh tokens with `refresh_token_reused` on reuse,
//! and `/wham/usage` answers per account. Every request is logged.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// An unsigned JWT, shaped like ChatGPT's (Codex never verifies signatures locally).
pub fn jwt(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.c2ln")
}

/// The members a Codex 0.164+ login carries beside the four older ones
/// (`login_owner_id`, `oauth_provenance`), plus one made-up future member: every copy cdxs
/// makes must keep them verbatim. `issuer` is where the login was made.
pub fn login_members(account_id: &str, issuer: &str) -> Value {
    json!({
        "login_owner_id": format!("lo_{account_id}_0f3c9a7e"),
        "oauth_provenance": {"issuer": issuer, "client_id": "app_EMoamEEZ73f0CkXaXp7hrann"},
        "x_future_member": {"since": "0.999", "flags": [1, 2]},
    })
}

/// A real-shaped `tokens` object: the four modeled members, then [`login_members`].
pub fn tokens_object(
    id: &str,
    access: &str,
    refresh: &str,
    account_id: &str,
    issuer: &str,
) -> Value {
    let mut t = json!({"id_token": id, "access_token": access, "refresh_token": refresh, "account_id": account_id});
    for (k, v) in login_members(account_id, issuer).as_object().unwrap() {
        t[k] = v.clone();
    }
    t
}

#[derive(Debug, Clone)]
pub struct MockAccount {
    pub email: String,
    pub account_id: String,
    pub plan: String,
    /// The one refresh token the issuer accepts now.
    pub refresh_token: String,
    /// Rotated-away tokens: presenting one is `refresh_token_reused`.
    pub used: BTreeSet<String>,
    pub generation: u32,
    /// Lifetime of issued access tokens.
    pub ttl: i64,
    /// `/wham/usage` answer; `None` = 500.
    pub usage: Option<Value>,
    /// When set, `/wham/usage` answers this status (403: the account may not read usage).
    pub usage_status: Option<u16>,
    /// The issuer's `iat` of the last pair it issued (issuer time only moves forward).
    pub last_iat: i64,
    /// The issuer's clock when a test moves time itself (Unix seconds); `None`: the real one.
    pub clock: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub body: String,
    pub headers: BTreeMap<String, String>,
    pub status: u16,
}

#[derive(Default)]
pub struct State {
    pub accounts: BTreeMap<String, MockAccount>,
    /// code -> (email, code_challenge, redirect_uri)
    pub codes: BTreeMap<String, (String, String, String)>,
    /// Who logs in at /oauth/authorize.
    pub login_as: Option<String>,
    pub log: Vec<Logged>,
    /// Answer refresh requests this late (the token is rotated when the request arrives,
    /// as at the real issuer): a refresh stays "in flight" for a race to happen in.
    pub token_delay: Option<std::time::Duration>,
    /// Refresh requests received so far (counted on arrival, before any delay).
    pub token_requests: usize,
}

pub struct MockOpenAi {
    pub url: String,
    pub state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

pub fn usage(five_used: f64, week_used: f64) -> Value {
    json!({
        "plan_type": "plus",
        "rate_limit": {
            "allowed": true,
            "limit_reached": false,
            "primary_window": {"used_percent": five_used, "limit_window_seconds": 18000, "reset_after_seconds": 3600, "reset_at": chrono::Utc::now().timestamp() + 3600},
            "secondary_window": {"used_percent": week_used, "limit_window_seconds": 604800, "reset_after_seconds": 86400}
        },
        "credits": {"has_credits": false, "unlimited": false}
    })
}

impl MockAccount {
    pub fn new(email: &str, account_id: &str) -> Self {
        MockAccount {
            email: email.into(),
            account_id: account_id.into(),
            plan: "plus".into(),
            refresh_token: format!("rt_{account_id}_1"),
            used: BTreeSet::new(),
            generation: 1,
            ttl: 3600,
            usage: Some(usage(20.0, 40.0)),
            usage_status: None,
            last_iat: 0,
            clock: None,
        }
    }

    fn claims(&self, iat: i64) -> Value {
        json!({
            "email": self.email,
            "https://api.openai.com/profile": {"email": self.email},
            "https://api.openai.com/auth": {
                "chatgpt_plan_type": self.plan,
                "chatgpt_user_id": format!("user-{}", self.account_id),
                "user_id": format!("user-{}", self.account_id),
                "chatgpt_account_id": self.account_id,
            },
            "iat": iat,
            "exp": iat + self.ttl,
        })
    }

    /// A fresh id/access token pair (the refresh token is rotated by the caller). The
    /// issuer's clock is the real one (or the test's `clock`), and each pair is stamped
    /// later than the last.
    pub fn tokens(&mut self) -> (String, String) {
        let now = self
            .clock
            .unwrap_or_else(|| chrono::Utc::now().timestamp())
            .max(self.last_iat + 1);
        self.last_iat = now;
        let c = self.claims(now);
        let mut access = c.clone();
        access["jti"] = json!(format!("{}-{}", self.account_id, self.generation));
        (jwt(&c), jwt(&access))
    }
}

impl MockOpenAi {
    pub fn start() -> MockOpenAi {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let (s, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for req in s.incoming_requests() {
                handle(req, &st);
            }
        });
        MockOpenAi {
            url: format!("http://127.0.0.1:{port}"),
            state,
            server,
            thread: Some(thread),
        }
    }

    pub fn auth_base(&self) -> String {
        self.url.clone()
    }

    pub fn chatgpt_base(&self) -> String {
        format!("{}/backend-api", self.url)
    }

    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.url)
    }

    pub fn add(&self, a: MockAccount) {
        self.state
            .lock()
            .unwrap()
            .accounts
            .insert(a.email.clone(), a);
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    pub fn account(&self, email: &str) -> MockAccount {
        self.state.lock().unwrap().accounts[email].clone()
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn count(&self, path_suffix: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| {
                l.path
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .ends_with(path_suffix)
            })
            .count()
    }

    /// An auth.json with tokens the issuer knows (current refresh token).
    pub fn auth_json(&self, email: &str) -> String {
        let (a, (id, access)) = self.with(|s| {
            let a = s.accounts.get_mut(email).expect("configured account");
            let t = a.tokens();
            (a.clone(), t)
        });
        serde_json::to_string_pretty(&json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": tokens_object(&id, &access, &a.refresh_token, &a.account_id, &self.auth_base()),
            "last_refresh": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        }))
        .unwrap()
    }
}

impl MockOpenAi {
    /// What the real Codex does when it refreshes a login in `home` (codex-formats.md 1.2,
    /// 1.3): `flock(auth.lock)` (waiting, as Codex does, while cdxs holds it), read the
    /// token, one refresh at the issuer, write the rotated pair with `last_refresh` from
    /// Codex's own clock (`skew_secs` off the real one). `Err` when the issuer refused the
    /// token (a reused one: the guarantee under test is broken).
    pub fn rotate_as_codex(
        &self,
        home: &std::path::Path,
        skew_secs: i64,
    ) -> Result<String, String> {
        let outer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(home.join("auth.lock"))
            .unwrap();
        outer.lock().unwrap();
        let text = std::fs::read_to_string(home.join("auth.json")).map_err(|e| e.to_string())?;
        let mut doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let rt = doc["tokens"]["refresh_token"]
            .as_str()
            .ok_or("no refresh token")?
            .to_string();
        let answer = self.with(|s| {
            s.log.push(Logged {
                method: "POST".into(),
                path: "/oauth/token".into(),
                body: "(codex)".into(),
                headers: BTreeMap::new(),
                status: 0,
            });
            let Some(a) = s.accounts.values_mut().find(|a| a.refresh_token == rt) else {
                if let Some(l) = s.log.last_mut() {
                    l.status = 401;
                }
                return Err(format!("the issuer refused {rt} (reused or unknown)"));
            };
            a.used.insert(rt.clone());
            a.generation += 1;
            a.refresh_token = format!("rt_{}_{}", a.account_id, a.generation);
            let (id, access) = a.tokens();
            if let Some(l) = s.log.last_mut() {
                l.status = 200;
            }
            Ok((id, access, a.refresh_token.clone()))
        })?;
        doc["tokens"]["id_token"] = json!(answer.0);
        doc["tokens"]["access_token"] = json!(answer.1);
        doc["tokens"]["refresh_token"] = json!(answer.2);
        doc["last_refresh"] = json!(
            (chrono::Utc::now() + chrono::Duration::seconds(skew_secs))
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
        );
        let commit = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(home.join("auth.json.lock"))
            .unwrap();
        commit.lock().unwrap();
        let tmp = home.join(".auth-codex-tmp");
        std::fs::write(&tmp, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        std::fs::rename(&tmp, home.join("auth.json")).unwrap();
        drop(commit);
        drop(outer);
        Ok(answer.2)
    }

    /// The refresh token the issuer accepts now for `email`.
    pub fn current_token(&self, email: &str) -> String {
        self.account(email).refresh_token
    }

    /// Requests the issuer refused (a reused or unknown refresh token).
    pub fn refusals(&self) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.path == "/oauth/token" && l.status != 200)
            .collect()
    }
}

impl Drop for MockOpenAi {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(
    req: tiny_http::Request,
    status: u16,
    body: Value,
    st: &Arc<Mutex<State>>,
    logged: Logged,
) {
    let mut logged = logged;
    logged.status = status;
    st.lock().unwrap().log.push(logged);
    let data = body.to_string();
    let resp = tiny_http::Response::from_string(data)
        .with_status_code(status)
        .with_header(
            "Content-Type: application/json"
                .parse::<tiny_http::Header>()
                .unwrap(),
        );
    let _ = req.respond(resp);
}

fn form(body: &str) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn handle(mut req: tiny_http::Request, st: &Arc<Mutex<State>>) {
    let mut body = String::new();
    let _ = req.as_reader().read_to_string(&mut body);
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let url = req.url().to_string();
    let path = url.split('?').next().unwrap_or("").to_string();
    let logged = Logged {
        method: req.method().as_str().to_string(),
        path: url.clone(),
        body: body.clone(),
        headers: headers.clone(),
        status: 0,
    };
    match (req.method().as_str(), path.as_str()) {
        ("GET", "/oauth/authorize") => {
            let q: BTreeMap<String, String> = url::Url::parse(&format!("http://x{url}"))
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect();
            let mut s = st.lock().unwrap();
            let Some(email) = s.login_as.clone() else {
                drop(s);
                return respond(
                    req,
                    400,
                    json!({"error": "no login configured"}),
                    st,
                    logged,
                );
            };
            let code = format!("code-{}", s.codes.len() + 1);
            s.codes.insert(
                code.clone(),
                (
                    email,
                    q["code_challenge"].clone(),
                    q["redirect_uri"].clone(),
                ),
            );
            let mut l = logged;
            l.status = 302;
            s.log.push(l);
            drop(s);
            let location = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
            let resp = tiny_http::Response::empty(302).with_header(
                format!("Location: {location}")
                    .parse::<tiny_http::Header>()
                    .unwrap(),
            );
            let _ = req.respond(resp);
        }
        ("POST", "/oauth/token") => {
            let mut s = st.lock().unwrap();
            s.token_requests += 1;
            let delay = s.token_delay;
            let (status, answer) = if headers
                .get("content-type")
                .is_some_and(|c| c.contains("json"))
            {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let rt = v["refresh_token"].as_str().unwrap_or("").to_string();
                if v["grant_type"] != "refresh_token"
                    || v["client_id"] != "app_EMoamEEZ73f0CkXaXp7hrann"
                {
                    (400, json!({"error": "invalid_request"}))
                } else if let Some(a) = s.accounts.values_mut().find(|a| a.refresh_token == rt) {
                    a.used.insert(rt);
                    a.generation += 1;
                    a.refresh_token = format!("rt_{}_{}", a.account_id, a.generation);
                    let (id, access) = a.tokens();
                    (
                        200,
                        json!({"id_token": id, "access_token": access, "refresh_token": a.refresh_token, "token_type": "Bearer", "expires_in": a.ttl}),
                    )
                } else if s.accounts.values().any(|a| a.used.contains(&rt)) {
                    (
                        401,
                        json!({"error": {"code": "refresh_token_reused", "message": "Your refresh token has already been used"}}),
                    )
                } else {
                    (400, json!({"error": "invalid_grant"}))
                }
            } else {
                let f = form(&body);
                let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                match s
                    .codes
                    .remove(f.get("code").map(String::as_str).unwrap_or(""))
                {
                    Some((email, want, redirect))
                        if want == challenge
                            && f.get("grant_type").map(String::as_str)
                                == Some("authorization_code")
                            && f.get("redirect_uri") == Some(&redirect)
                            && f.get("client_id").map(String::as_str)
                                == Some("app_EMoamEEZ73f0CkXaXp7hrann") =>
                    {
                        let a = s.accounts.get_mut(&email).expect("configured account");
                        let (id, access) = a.tokens();
                        (
                            200,
                            json!({"id_token": id, "access_token": access, "refresh_token": a.refresh_token}),
                        )
                    }
                    Some(_) => (
                        400,
                        json!({"error": "invalid_grant", "error_description": "PKCE verification failed"}),
                    ),
                    None => (400, json!({"error": "invalid_grant"})),
                }
            };
            drop(s);
            match delay {
                Some(d) => {
                    let st = st.clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(d);
                        respond(req, status, answer, &st, logged);
                    });
                }
                None => respond(req, status, answer, st, logged),
            }
        }
        ("GET", "/backend-api/wham/usage") => {
            let token = headers
                .get("authorization")
                .and_then(|a| a.strip_prefix("Bearer "))
                .unwrap_or("");
            let email = token
                .split('.')
                .nth(1)
                .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .and_then(|v| v["email"].as_str().map(str::to_string));
            let s = st.lock().unwrap();
            let found = email.and_then(|e| s.accounts.get(&e).cloned());
            drop(s);
            match found {
                None => respond(req, 401, json!({"error": "unauthorized"}), st, logged),
                Some(a) if a.usage_status.is_some() => respond(
                    req,
                    a.usage_status.unwrap_or(500),
                    json!({"error": {"code": "forbidden", "message": "not allowed"}}),
                    st,
                    logged,
                ),
                Some(a) => match &a.usage {
                    Some(u) => respond(req, 200, u.clone(), st, logged),
                    None => respond(req, 500, json!({"error": "boom"}), st, logged),
                },
            }
        }
        _ => respond(req, 404, json!({"error": "not found"}), st, logged),
    }
}
