//! `cdxs watch`: the loop over the engine, with real processes, real files, a live clock,
//! and the real Codex where it matters (a turn in progress, Codex refreshing a login,
//! `codex login` in a watched home).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi, usage};
use crate::mock_responses::MockResponses;
use crate::rotation::{env_with, rt, vault_rt};

/// A running `cdxs watch --json` and the lines it printed.
struct Watching {
    child: Child,
    lines: Receiver<Value>,
    seen: Vec<Value>,
    /// `wait_for` looks only at lines after the last one it returned.
    checked: usize,
}

impl Watching {
    fn start(env: &Env, extra: &[(&str, &str)]) -> Watching {
        // A live clock: watch compares deadlines with the wall clock.
        let mut vars = vec![("CDXS_NOW", "+0")];
        vars.extend_from_slice(extra);
        let mut child = env.spawn(&["watch", "--json"], &vars);
        let out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        let mut w = Watching {
            child,
            lines: rx,
            seen: Vec::new(),
            checked: 0,
        };
        w.wait_for("start", |v| v["event"] == "start", 20);
        // What it said before starting (notes) is still there to wait for.
        w.checked = 0;
        w
    }

    /// Wait for a new line matching `pred`; panics with everything seen after `secs`.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool, secs: u64) -> Value {
        if let Some(i) = self.seen[self.checked..].iter().position(&pred) {
            self.checked += i + 1;
            return self.seen[self.checked - 1].clone();
        }
        self.checked = self.seen.len();
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Ok(v) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(v.clone());
                self.checked = self.seen.len();
                if pred(&v) {
                    return v;
                }
            }
        }
        panic!("watch never said {what}; it said:\n{:#?}", self.seen);
    }

    /// Lines so far (after waiting `ms` for more).
    fn drain(&mut self, ms: u64) -> &[Value] {
        let deadline = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < deadline {
            if let Ok(v) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(v);
            }
        }
        &self.seen
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop watch as its service manager would and check it ends with 0. Under wine no
    /// console control event (Ctrl-C, Ctrl-Break) reaches a process, so on Windows watch is
    /// ended instead and only what it did before counts; `sigterm_ends_watch_...` (ignored
    /// there) is the test of the stop itself.
    fn stop_cleanly(mut self) {
        if cfg!(windows) {
            // It must still be running: a watch that died on its own is a failure here too.
            let early = self.child.try_wait().unwrap();
            assert!(
                early.is_none(),
                "watch ended before it was stopped: {early:?}"
            );
            drop(self);
        } else {
            assert_eq!(self.stop(), 0);
        }
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> i32 {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "watch did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_file(env: &Env) -> Value {
    read_json(&env.state.join("watch.json"))
}

fn key_env(env: &Env, key: &str) -> PathBuf {
    env.set_env("WATCH_KEY", key);
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  k: {{ api_key_env: WATCH_KEY }}\nhomes:\n  h: {{ path: {}, account: k }}\n",
        home.display()
    ));
    home
}

fn api_key_of(home: &Path) -> String {
    read_json(&home.join("auth.json"))["OPENAI_API_KEY"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn watch_once_runs_one_cycle_and_exits_0() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-once-aaaaaaaaaaaa1111");
    let out = env
        .cdxs()
        .env("CDXS_NOW", "+0")
        .args(["watch", "--once", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.iter().all(|l| l["version"] == 1), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l["event"] == "action" && l["home"] == "h"),
        "{lines:?}"
    );
    assert_eq!(api_key_of(&home), "sk-proj-once-aaaaaaaaaaaa1111");
    let st = status_file(&env);
    assert_eq!(st["stopped"], true);
    assert_eq!(st["cycles"], 1);
    assert!(
        !text(&out).contains("aaaaaaaaaaaa1111\""),
        "no secret in the log"
    );
}

#[test]
#[cfg_attr(
    windows,
    ignore = "wine delivers no console control event (Ctrl-C, Ctrl-Break) to a process: watch's stop on Windows is not exercised here"
)]
fn sigterm_ends_watch_with_exit_0_and_apply_works_beside_it() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-beside-bbbbbbbb2222");
    let mut w = Watching::start(&env, &[]);
    w.wait_for(
        "the first write",
        |v| v["event"] == "action" && v["message"].as_str().unwrap_or("").contains("auth.json"),
        20,
    );
    // Locks are per cycle: apply and plan work while watch runs.
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let st = status_file(&env);
    assert_eq!(st["pid"], w.pid());
    let out = env.run(&["status"]);
    assert!(
        stdout(&out).contains(&format!("watch: running (pid {}", w.pid())),
        "{}",
        text(&out)
    );
    assert_eq!(w.stop(), 0);
    assert_eq!(status_file(&env)["stopped"], true);
    assert!(stdout(&env.run(&["status"])).contains("watch: not running (stopped"));
    assert_eq!(api_key_of(&home), "sk-proj-beside-bbbbbbbb2222");
}

#[test]
fn a_manifest_edit_is_applied_within_seconds_and_own_writes_start_no_cycle() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-first-cccccccc3333");
    env.set_env("OTHER_KEY", "sk-proj-second-dddddddd4444");
    let mut w = Watching::start(&env, &[]);
    w.wait_for(
        "the first write",
        |v| {
            v["event"] == "action"
                && v["home"] == "h"
                && v["message"].as_str().unwrap_or("").contains("auth.json")
        },
        20,
    );
    // Its own write into auth.json raised file events: no cycle follows them.
    std::thread::sleep(Duration::from_millis(300));
    let cycles = status_file(&env)["cycles"].as_u64().unwrap();
    w.drain(2500);
    assert_eq!(
        status_file(&env)["cycles"].as_u64().unwrap(),
        cycles,
        "a write by cdxs started another cycle"
    );
    let started = Instant::now();
    env.manifest(&env.manifest_text().replace("WATCH_KEY", "OTHER_KEY"));
    w.wait_for(
        "the edit applied",
        |v| v["event"] == "action" && v["message"].as_str().unwrap_or("").contains("auth.json"),
        10,
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api_key_of(&home), "sk-proj-second-dddddddd4444");
    w.stop_cleanly();
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads the CPU time of watch from /proc"
)]
fn idle_watch_uses_no_measurable_cpu() {
    let env = Env::new();
    key_env(&env, "sk-proj-idle-eeeeeeee5555");
    let mut w = Watching::start(&env, &[]);
    w.wait_for("the first write", |v| v["event"] == "action", 20);
    std::thread::sleep(Duration::from_millis(500));
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    };
    let before = ticks(w.pid());
    std::thread::sleep(Duration::from_secs(4));
    let used = ticks(w.pid()) - before;
    // Clock ticks are 10 ms: idle means (almost) none in 4 s.
    assert!(used <= 2, "idle watch used {used} clock ticks in 4 s");
    w.stop_cleanly();
}

#[test]
fn without_file_events_watch_polls_and_says_how_to_raise_the_limit() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-poll-ffffffff6666");
    std::fs::create_dir_all(&home).unwrap();
    let mut w = Watching::start(&env, &[("CDXS_WATCH_MAX_WATCHES", "1")]);
    let note = w.wait_for(
        "the fallback",
        |v| v["event"] == "note" && v["message"].as_str().unwrap_or("").contains("polling"),
        10,
    );
    assert!(
        note["message"]
            .as_str()
            .unwrap()
            .contains("fs.inotify.max_user_watches"),
        "{note}"
    );
    w.wait_for(
        "the first write",
        |v| v["event"] == "action" && v["message"].as_str().unwrap_or("").contains("auth.json"),
        20,
    );
    // A change someone else makes is still seen (by polling), under `all` repaired.
    env.manifest(&format!("{}watch:\n  apply: all\n", env.manifest_text()));
    std::thread::sleep(Duration::from_secs(3));
    std::fs::write(
        home.join("auth.json"),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-someone-else"}"#,
    )
    .unwrap();
    w.wait_for(
        "the repair",
        |v| {
            v["event"] == "action"
                && v["home"] == "h"
                && v["message"].as_str().unwrap_or("").contains("auth.json")
        },
        15,
    );
    assert_eq!(status_file(&env)["watching"], "polling");
    assert_eq!(api_key_of(&home), "sk-proj-poll-ffffffff6666");
    w.stop_cleanly();
}

#[test]
fn a_token_near_expiry_is_refreshed_once() {
    let mock = MockOpenAi::start();
    let mut a = MockAccount::new("tia@example.com", "acct-tia");
    a.ttl = 300; // expires within watch.refresh_before_expiry (10m)
    mock.add(a);
    let env = env_with(&mock);
    env.import_auth_json(&mock.auth_json("tia@example.com"));
    mock.with(|s| s.accounts.get_mut("tia@example.com").unwrap().ttl = 3600);
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  tia: {{ email: tia@example.com }}\nhomes:\n  h: {{ path: {}, account: tia }}\nwatch:\n  interval: 1s\n",
        home.display()
    ));
    let mut w = Watching::start(&env, &[]);
    w.wait_for(
        "the refresh",
        |v| v["event"] == "action" && v["message"].as_str().unwrap_or("").contains("refreshed"),
        20,
    );
    w.drain(3500); // a few more cycles
    assert_eq!(
        mock.count("/oauth/token"),
        1,
        "refreshed once, not every cycle"
    );
    assert_eq!(rt(&home), mock.current_token("tia@example.com"));
    assert_eq!(
        vault_rt(&env, "tia@example.com"),
        mock.current_token("tia@example.com")
    );
    assert!(
        w.seen.iter().all(|v| !v.to_string().contains("rt_acct")),
        "no token in the log"
    );
    w.stop_cleanly();
}

#[test]
fn a_home_that_keeps_changing_is_flapping_and_left_alone() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-flap-gggggggg7777");
    env.manifest(&format!("{}watch:\n  apply: all\n", env.manifest_text()));
    let mut w = Watching::start(&env, &[]);
    w.wait_for("the first write", |v| v["event"] == "action", 20);
    // Something else rewrites the file again and again.
    for i in 0..8 {
        std::fs::write(
            home.join("auth.json"),
            format!(r#"{{"auth_mode":"apikey","OPENAI_API_KEY":"sk-other-{i}"}}"#),
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(900));
        if w.drain(0).iter().any(|v| v["event"] == "flapping") {
            break;
        }
    }
    let flap = w.wait_for("flapping", |v| v["event"] == "flapping", 10);
    assert_eq!(flap["home"], "h");
    let repairs = w
        .seen
        .iter()
        .filter(|v| v["event"] == "action" && v["home"] == "h")
        .count();
    std::fs::write(
        home.join("auth.json"),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-after"}"#,
    )
    .unwrap();
    w.drain(2000);
    let after = w
        .seen
        .iter()
        .filter(|v| v["event"] == "action" && v["home"] == "h")
        .count();
    assert_eq!(repairs, after, "watch kept applying to a flapping home");
    assert_eq!(status_file(&env)["homes"]["h"]["state"], "flapping");
    w.stop_cleanly();
}

fn codex_login_in_a_watched_home_is_reported_not_overwritten(codex: PathBuf) {
    let env = Env::new();
    env.import_login(&Login::new("wes@example.com", "acct-wes"));
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  wes: {{ email: wes@example.com }}\nhomes:\n  h: {{ path: {}, account: wes }}\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    let mut w = Watching::start(&env, &[]);
    // Someone runs `codex login --with-api-key` in the watched home.
    let out = write_stdin(
        std::process::Command::new(&codex)
            .args(["login", "--with-api-key"])
            .env("CODEX_HOME", &home),
        "sk-proj-typed-by-hand-0123456789",
    );
    assert!(out.status.success(), "{}", text(&out));
    let drift = w.wait_for("the drift", |v| v["event"] == "drift", 15);
    assert_eq!(drift["home"], "h");
    w.drain(1500);
    assert_eq!(
        api_key_of(&home),
        "sk-proj-typed-by-hand-0123456789",
        "watch (safe) overwrote a login someone chose"
    );
    let (status, said) = login_status(&codex, &home);
    assert_eq!(status, 0);
    assert!(said.contains("API key configured"), "{said}");
    assert_eq!(status_file(&env)["homes"]["h"]["state"], "drift");
    w.stop_cleanly();
}
codex_matrix!(codex_login_in_a_watched_home_is_reported_not_overwritten);

fn codex_refreshing_in_a_watched_home_is_harvested_not_drift(codex: PathBuf) {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("ada@example.com", "acct-ada"));
    let env = env_with(&mock);
    env.import_auth_json(&mock.auth_json("ada@example.com"));
    let home = env.codex_home("h");
    env.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  h: {{ path: {}, account: ada }}\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    let mut w = Watching::start(&env, &[]);
    std::fs::write(
        home.join("config.toml"),
        format!("chatgpt_base_url = \"{}/\"\n", mock.chatgpt_base()),
    )
    .unwrap();
    // The real Codex refreshes the login in the home (rt_1 -> rt_2).
    app_server_call(
        &codex,
        &home,
        &[("CODEX_REFRESH_TOKEN_URL_OVERRIDE", mock.token_url())],
        "account/read",
        json!({"refreshToken": true}),
    );
    assert_eq!(rt(&home), "rt_acct-ada_2", "Codex rotated it");
    let deadline = Instant::now() + Duration::from_secs(15);
    while vault_rt(&env, "ada@example.com") != "rt_acct-ada_2" {
        assert!(
            Instant::now() < deadline,
            "watch never took Codex's new token: {:#?}",
            w.drain(0)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    w.drain(1500);
    assert!(
        w.seen.iter().all(|v| v["event"] != "drift"),
        "a refresh by Codex is not drift: {:#?}",
        w.seen
    );
    assert_eq!(status_file(&env)["homes"]["h"]["state"], "ok");
    assert!(mock.refusals().is_empty());
    w.stop_cleanly();
}
codex_matrix!(
    codex_refreshing_in_a_watched_home_is_harvested_not_drift,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

fn a_pool_switch_waits_for_the_running_turn_to_end(codex: PathBuf) {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("pia@example.com", "acct-pia"));
    mock.add(MockAccount::new("quin@example.com", "acct-quin"));
    let env = env_with(&mock);
    for e in ["pia@example.com", "quin@example.com"] {
        env.import_auth_json(&mock.auth_json(e));
    }
    let home = env.codex_home("pool");
    env.manifest(&format!(
        "version: 1\naccounts:\n  pia: {{ email: pia@example.com }}\n  quin: {{ email: quin@example.com }}\npools:\n  p: [pia, quin]\nhomes:\n  pool:\n    path: {}\n    account: {{ pool: p, strategy: first, switch_below: 10% }}\nwatch:\n  interval: 1s\n  min_dwell: 0s\n",
        home.display()
    ));
    assert!(env.run(&["apply", "--yes"]).status.success());
    let account_of = |home: &Path| {
        read_json(&home.join("auth.json"))["tokens"]["account_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(account_of(&home), "acct-pia");
    // The turns go to a local mock through a provider of their own; each takes 6 s.
    let responses = MockResponses::start("working on it");
    responses.set_delay(6000);
    std::fs::write(home.join("config.toml"), responses.custom_provider_toml()).unwrap();
    let mut w = Watching::start(&env, &[]);
    let work = env.path("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut turn = std::process::Command::new(&codex)
        .args(["exec", "--skip-git-repo-check", "--json", "a long task"])
        .current_dir(&work)
        .env("CODEX_HOME", &home)
        .env_remove("OPENAI_API_KEY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Mid-turn, pia drops below the threshold.
    std::thread::sleep(Duration::from_millis(1500));
    mock.with(|s| {
        s.accounts.get_mut("pia@example.com").unwrap().usage =
            Some(crate::mock_openai::usage(97.0, 40.0))
    });
    let mut vault = cdxs::vault::Vault::open(&env.state).unwrap();
    let id = vault
        .accounts()
        .unwrap()
        .into_iter()
        .find(|a| a.email.as_deref() == Some("pia@example.com"))
        .unwrap()
        .id;
    let now = chrono::Utc::now().timestamp();
    vault
        .set_quota(
            &id,
            &cdxs::quota::parse(&crate::mock_openai::usage(97.0, 40.0), now),
        )
        .unwrap();
    drop(vault);
    let waiting = w.wait_for(
        "the wait",
        |v| v["event"] == "waiting" && v["home"] == "pool",
        10,
    );
    assert!(
        waiting["message"]
            .as_str()
            .unwrap()
            .contains("waits for the turn to end"),
        "{waiting}"
    );
    assert_eq!(
        account_of(&home),
        "acct-pia",
        "switched under a running turn"
    );
    let status = turn.wait().unwrap();
    assert!(status.success(), "the turn failed");
    w.wait_for(
        "the switch",
        |v| {
            v["event"] == "action"
                && v["home"] == "pool"
                && v["message"].as_str().unwrap_or("").contains("quin")
        },
        15,
    );
    assert_eq!(account_of(&home), "acct-quin");
    assert!(mock.refusals().is_empty());
    w.stop_cleanly();
}
codex_matrix!(
    a_pool_switch_waits_for_the_running_turn_to_end,
    windows_ignore = "codex exec and codex app-server under wine 8.0 stop at `Lock violation (os error 33)`; the Linux suite runs this against the real Codex"
);

#[test]
#[cfg_attr(
    windows,
    ignore = "parses the LaunchAgent with python3's plistlib, which this Windows build cannot start"
)]
fn the_service_files_in_examples_run_cdxs_watch_in_the_foreground() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let unit = std::fs::read_to_string(dir.join("cdxs-watch.service")).unwrap();
    let mut section = "";
    let mut keys = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let (k, v) = line.split_once('=').expect("key=value");
        keys.push((section.to_string(), k.to_string(), v.to_string()));
    }
    let get = |s: &str, k: &str| {
        keys.iter()
            .find(|(sec, key, _)| sec == s && key == k)
            .map(|(_, _, v)| v.clone())
    };
    assert!(
        get("[Service]", "ExecStart").is_some_and(|v| v.ends_with("cdxs watch --json")),
        "{keys:?}"
    );
    assert_eq!(
        get("[Service]", "Type"),
        None,
        "simple: watch stays in the foreground"
    );
    assert_eq!(
        get("[Install]", "WantedBy").as_deref(),
        Some("default.target")
    );
    assert!(unit.contains("loginctl enable-linger"));
    // The plist is a valid property list that runs `cdxs watch`.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import plistlib,sys; p=plistlib.load(open(sys.argv[1],'rb')); print(' '.join(p['ProgramArguments'][1:]), p['Label'], p['RunAtLoad'])",
            dir.join("net.cdxs.watch.plist").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out).trim(), "watch --json net.cdxs.watch True");
}

#[test]
fn codex_locks_in_a_watched_home_start_no_cycle() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-locks-eeeeeeee5555");
    let mut w = Watching::start(&env, &[]);
    w.wait_for(
        "the first write",
        |v| {
            v["event"] == "action"
                && v["home"] == "h"
                && v["message"].as_str().unwrap_or("").contains("auth.json")
        },
        20,
    );
    w.drain(1000);
    let cycles = status_file(&env)["cycles"].as_u64().unwrap();
    // As Codex 0.171 takes them while it signs in, signs in to a gateway, maintains its
    // databases and compresses rollouts: created, locked, written, released, removed.
    for _ in 0..3 {
        for lock in [
            ".login.lock",
            ".sqlite-maintenance.lock",
            "gateway_oauth.lock",
            "secrets/gateway_oauth.lock",
            ".tmp/rollout-maintenance.lock",
            ".tmp/rollout-compression.lock",
        ] {
            let path = home.join(lock);
            let held = hold_flock(&path);
            std::fs::write(&path, "pid=1 started_at=SystemTime { tv_sec: 1 }\n").unwrap();
            drop(held);
        }
        std::fs::remove_file(home.join(".tmp/rollout-compression.lock")).unwrap();
        std::thread::sleep(Duration::from_millis(200));
    }
    w.drain(2500);
    assert_eq!(
        status_file(&env)["cycles"].as_u64().unwrap(),
        cycles,
        "Codex's locks started a cycle"
    );
    w.stop_cleanly();
}

/// `watch --once` (or `watch`) at `offset` seconds after the test's clock, JSON lines.
fn watch_once_at(env: &Env, offset: i64) -> (std::process::Output, Vec<Value>) {
    let at = env.now + chrono::Duration::seconds(offset);
    let out = env
        .cdxs()
        .env(
            "CDXS_NOW",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .args(["watch", "--once", "--json"])
        .output()
        .unwrap();
    let lines = stdout(&out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out, lines)
}

/// Before: a second `cdxs watch` started beside a running one, wrote the status file over
/// the first's (and, ending, marked it stopped): `status` said "not running" while the
/// first ran.
#[test]
fn a_second_watch_says_who_runs_and_leaves_the_status_file_alone() {
    let env = Env::new();
    key_env(&env, "sk-proj-twice-hhhhhhhh8888");
    let mut w = Watching::start(&env, &[]);
    w.wait_for("the first write", |v| v["event"] == "action", 20);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !env.state.join("watch.json").exists() {
        assert!(Instant::now() < deadline, "no status file");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = status_file(&env);
    let out = env.run(&["watch", "--once"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    // Linux names the holder of the lock (`pid N`); elsewhere the note watch keeps in it
    // (`pid=N since=...`) does.
    let pid = if cfg!(target_os = "linux") {
        format!("pid {}", w.pid())
    } else {
        format!("pid={}", w.pid())
    };
    assert!(
        stderr(&out).contains("already runs") && stderr(&out).contains(&pid),
        "{}",
        text(&out)
    );
    let out = env.run(&["watch", "--once", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let err: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["kind"], "user", "{err}");
    assert!(
        err["error"]["message"].as_str().unwrap().contains(&pid),
        "{err}"
    );
    let after = status_file(&env);
    assert_eq!(after["pid"], w.pid());
    assert_eq!(after["stopped"], false);
    assert_eq!(after["started_at"], before["started_at"]);
    let out = env.run(&["status"]);
    assert!(
        stdout(&out).contains(&format!("watch: running (pid {}", w.pid())),
        "{}",
        text(&out)
    );
    let st: Value = serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    assert_eq!(st["watch"]["pid"], w.pid());
    assert_eq!(st["watch"]["liveness"], "running");
    w.stop_cleanly();
    // Once it stopped, the next one starts.
    let (out, _) = watch_once_at(&env, 0);
    assert_eq!(code(&out), 0, "{}", text(&out));
}

/// Before: under `watch.apply: safe` a deleted auth.json was called drift ("changed outside
/// cdxs: now holds nothing") and never written again, though an absent file is one a
/// binding writes.
#[test]
fn under_safe_a_deleted_auth_json_is_written_again() {
    let env = Env::new();
    let home = key_env(&env, "sk-proj-gone-iiiiiiii9999");
    assert!(env.run(&["apply", "--yes"]).status.success());
    std::fs::remove_file(home.join("auth.json")).unwrap();
    let plan = env.run(&["plan"]);
    assert!(
        !stdout(&plan).contains("changed outside cdxs")
            && stdout(&plan).contains("will be created"),
        "{}",
        text(&plan)
    );
    let (out, lines) = watch_once_at(&env, 0);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(lines.iter().all(|l| l["event"] != "drift"), "{lines:?}");
    assert_eq!(api_key_of(&home), "sk-proj-gone-iiiiiiii9999", "{lines:?}");
    assert_eq!(status_file(&env)["homes"]["h"]["state"], "ok");
}

/// Before: a token refresh rewrote auth.json and reset the pool's dwell timer: the home
/// "switched recently" and stayed on an exhausted member although nothing had switched.
#[test]
fn a_token_refresh_does_not_move_the_pools_dwell_timer_a_switch_does() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("pia@example.com", "acct-pia"));
    mock.add(MockAccount::new("quin@example.com", "acct-quin"));
    let env = env_with(&mock);
    for e in ["pia@example.com", "quin@example.com"] {
        env.import_auth_json(&mock.auth_json(e));
    }
    let home = env.codex_home("pool");
    env.manifest(&format!(
        "version: 1\naccounts:\n  pia: {{ email: pia@example.com }}\n  quin: {{ email: quin@example.com }}\npools:\n  p: [pia, quin]\nhomes:\n  pool:\n    path: {}\n    account: {{ pool: p, strategy: first, switch_below: 10% }}\nwatch:\n  min_dwell: 10m\n",
        home.display()
    ));
    let account_of = |home: &Path| {
        read_json(&home.join("auth.json"))["tokens"]["account_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(env.run(&["apply", "--yes"]).status.success());
    assert_eq!(account_of(&home), "acct-pia");
    // 20 minutes later pia's tokens are refreshed (and written into the home).
    let later = (env.now + chrono::Duration::minutes(20))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let out = env
        .cdxs()
        .env("CDXS_NOW", &later)
        .args(["refresh-token", "pia"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rt(&home), mock.current_token("pia@example.com"));
    // Then pia runs out: 25 minutes after the switch to it, the pool moves on.
    mock.with(|s| s.accounts.get_mut("pia@example.com").unwrap().usage = Some(usage(97.0, 40.0)));
    let (out, lines) = watch_once_at(&env, 25 * 60);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(account_of(&home), "acct-quin", "{lines:#?}");
    // A real switch does hold the home for min_dwell: quin runs out 5 minutes later.
    mock.with(|s| {
        s.accounts.get_mut("pia@example.com").unwrap().usage = Some(usage(20.0, 40.0));
        s.accounts.get_mut("quin@example.com").unwrap().usage = Some(usage(97.0, 40.0));
    });
    let (out, lines) = watch_once_at(&env, 31 * 60);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(account_of(&home), "acct-quin", "{lines:#?}");
    assert!(
        lines.iter().any(|l| l["event"] == "waiting"
            && l["message"]
                .as_str()
                .unwrap_or("")
                .contains("switched recently")),
        "{lines:#?}"
    );
}
