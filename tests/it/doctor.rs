//! `cdxs doctor`: read only, one screen, exit 1 with the fix on the line when something
//! needs doing.

use std::path::Path;

use serde_json::Value;

use crate::harness::*;

fn cdxs_binary() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("cdxs")
}

/// A PATH with only the folders given (and the system's: `/usr/bin:/bin`, or Windows'
/// own folder, where `cmd` is).
fn path_of(dirs: &[&Path]) -> String {
    let system: Vec<std::path::PathBuf> = if cfg!(windows) {
        let root = std::env::var("SystemRoot").unwrap_or_else(|_| r"C:\windows".into());
        vec![Path::new(&root).join("system32")]
    } else {
        vec!["/usr/bin".into(), "/bin".into()]
    };
    let all = dirs.iter().map(|d| d.to_path_buf()).chain(system);
    std::env::join_paths(all)
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// This cdxs, hard-linked into `dir` as `cdxs` (`cdxs.exe`).
fn link_cdxs_into(dir: &Path) {
    std::fs::hard_link(cdxs_binary(), dir.join(cdxs::platform::exe_name("cdxs"))).unwrap();
}

/// A program `cdxs` in `dir` that says it is version 0.0.1 (a script; `cdxs.cmd` on
/// Windows).
fn fake_old_cdxs_in(dir: &Path) {
    if cfg!(windows) {
        std::fs::write(dir.join("cdxs.cmd"), "@echo cdxs 0.0.1\r\n").unwrap();
    } else {
        std::fs::write(dir.join("cdxs"), "#!/bin/sh\necho 'cdxs 0.0.1'\n").unwrap();
        cdxs::platform::fs::set_mode(&dir.join("cdxs"), 0o755).unwrap();
    }
}

/// Warnings doctor gives here beyond the test's own: under wine, `schtasks` answers without
/// a task definition, so whether a task runs `cdxs watch` cannot be told (a warning).
fn platform_warnings(shown: &str) -> usize {
    usize::from(
        cfg!(windows) && shown.contains("cannot tell whether a scheduled task runs `cdxs watch`"),
    )
}

#[test]
fn doctor_changes_nothing_and_says_nothing_needs_doing() {
    let env = Env::new();
    env.manifest("version: 1\nhomes:\n  default: { path: ~/.codex }\n");
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    link_cdxs_into(&bin);
    let out = env
        .cdxs()
        .env("PATH", path_of(&[&bin]))
        .arg("doctor")
        .output()
        .unwrap();
    // No `codex` on PATH is a warning: exit 0, and the last line says so (issue 21: six
    // warnings, then "Nothing needs doing."); `--strict` fails on it.
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = stdout(&out);
    let warnings = 1 + platform_warnings(&shown);
    assert!(
        shown.contains(&format!(
            "Nothing needs fixing; {warnings} warning(s) above are worth a look"
        )),
        "{shown}"
    );
    assert!(!shown.contains("Nothing needs doing."), "{shown}");
    let strict = env
        .cdxs()
        .env("PATH", path_of(&[&bin]))
        .args(["doctor", "--strict"])
        .output()
        .unwrap();
    assert_eq!(code(&strict), 1, "{}", text(&strict));
    assert!(
        shown.contains("is valid: 0 accounts, 0 pools, 1 homes"),
        "{shown}"
    );
    assert!(shown.contains(NO_LOCK_HELD), "{shown}");
    assert!(!env.state.exists(), "doctor created the state folder");
}

/// What doctor says when no lock is held; only Linux says who holds one.
const NO_LOCK_HELD: &str = if cfg!(target_os = "linux") {
    "no lock is held"
} else {
    "does not say who holds a lock"
};

#[test]
fn doctor_exits_1_with_the_fix_on_each_line() {
    let env = Env::new();
    // A state folder others can read, a broken manifest, two different cdxs on PATH.
    assert!(env.run(&["account", "list"]).status.success());
    cdxs::platform::fs::set_mode(&env.state, 0o755).unwrap();
    env.manifest("version: 1\nhomez: {}\n");
    let (a, b) = (env.path("bin-a"), env.path("bin-b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    link_cdxs_into(&a);
    fake_old_cdxs_in(&b);
    let out = env
        .cdxs()
        .env("PATH", path_of(&[&a, &b]))
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    let shown = env.redact(&stdout(&out));
    // Windows has no mode bits to find open (a folder takes its parent's ACL).
    let unix = cfg!(unix);
    for (want, here) in [
        (
            "fix  state folder `[ROOT]/state` is 755: other users can reach the vault's folder",
            unix,
        ),
        ("-> `chmod 700 [ROOT]/state`", unix),
        (
            "-> `cdxs -f [ROOT]/work/cdxs.yaml validate` shows every problem",
            true,
        ),
        ("2 cdxs binaries on PATH:", true),
        ("(0.0.1)", true),
        (
            if unix {
                "3 thing(s) need doing"
            } else {
                "2 thing(s) need doing"
            },
            true,
        ),
    ] {
        assert_eq!(shown.contains(want), here, "{want:?} in\n{shown}");
    }
    // The JSON says the same, versioned.
    let out = env
        .cdxs()
        .env("PATH", path_of(&[&a, &b]))
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["needs_action"], true);
    let actions = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "action")
        .count();
    assert_eq!(actions, if unix { 3 } else { 2 }, "{v}");
    crate::harness::assert_mode(&env.state, 0o755);
}

#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "only Linux lists who holds a lock (/proc/locks); elsewhere doctor says it cannot tell"
)]
fn doctor_names_who_holds_a_lock() {
    let env = Env::new();
    assert!(env.run(&["account", "list"]).status.success());
    let locks = env.state.join("locks");
    std::fs::create_dir_all(&locks).unwrap();
    let f = std::fs::File::create(locks.join("vault.lock")).unwrap();
    f.lock().unwrap();
    let out = env.run(&["doctor"]);
    let shown = stdout(&out);
    assert!(
        shown.contains(&format!(
            "cdxs: `vault.lock` is held by pid {}",
            std::process::id()
        )),
        "{shown}"
    );
    drop(f);
}

/// Issue 21: doctor named home locks by hash (`home-1a2b3c4d5e6f7a8b.lock`).
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "only Linux lists who holds a lock (/proc/locks); elsewhere doctor says it cannot tell"
)]
fn doctor_names_a_home_lock_by_its_home() {
    let env = Env::new();
    let work = env.codex_home("work");
    env.manifest(&format!(
        "version: 1\nhomes:\n  work: {{ path: {} }}\n",
        work.display()
    ));
    std::fs::create_dir_all(&work).unwrap();
    assert!(env.run(&["account", "list"]).status.success());
    // Hold the lock as `apply` holds it.
    let lock = env
        .state
        .join("locks")
        .join(cdxs::vault::lock::home_file(&work));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(&lock, "").unwrap();
    let f = std::fs::File::open(&lock).unwrap();
    f.lock().unwrap();
    let shown = env.redact(&stdout(&env.run(&["doctor"])));
    assert!(
        shown.contains(&format!(
            "cdxs, the lock of home `work` (`[ROOT]/homes/work`): `{}` is held by pid {}",
            lock.file_name().unwrap().to_string_lossy(),
            std::process::id()
        )),
        "{shown}"
    );
    drop(f);
}

/// A sync target written into the vault as `sync login` leaves it.
fn sync_target(env: &Env, name: &str, url: &str, expires_at: i64) {
    assert!(env.run(&["account", "list"]).status.success());
    let db = rusqlite::Connection::open(env.state.join("cdxs.db")).unwrap();
    db.execute(
        "INSERT INTO sync_targets (name, server_url, username, device_id, device_name, token, token_expires_at, created_at) VALUES (?1, ?2, 'alice', 'dev-1', 'laptop', 'cdxs_token', ?3, 0)",
        rusqlite::params![name, url, expires_at],
    )
    .unwrap();
}

/// A local sync server that answers `/health` only (127.0.0.1, a free port).
fn health_server() -> (String, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        server.server_addr().to_ip().unwrap().port()
    );
    let handle = std::thread::spawn(move || {
        if let Ok(Some(req)) = server.recv_timeout(std::time::Duration::from_secs(30)) {
            let body = r#"{"status":"ok","version":"0.1.0","protocol":1,"min_client":"0.1.0"}"#;
            let _ = req.respond(
                tiny_http::Response::from_string(body).with_header(
                    "content-type: application/json"
                        .parse::<tiny_http::Header>()
                        .unwrap(),
                ),
            );
        }
    });
    (url, handle)
}

/// Issue 21: doctor did not check sync logins, their servers, or accounts that need a new
/// login.
#[test]
fn doctor_checks_sync_logins_servers_and_accounts_needing_a_login() {
    let env = Env::new();
    let now = env.now.timestamp();
    let (up, server) = health_server();
    sync_target(&env, "home-server", &up, now + 30 * 86_400);
    // A closed port: nothing answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    sync_target(&env, "old-server", &down, now - 3600);
    env.import_login(&Login::new("hal@example.com", "acct-hal"));
    rusqlite::Connection::open(env.state.join("cdxs.db"))
        .unwrap()
        .execute("UPDATE accounts SET requires_reauth = 1", [])
        .unwrap();
    let started = std::time::Instant::now();
    let out = env.run(&["doctor"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "a short timeout"
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let shown = stdout(&out);
    for want in [
        format!("ok   sync target `home-server` (alice at {up}): logged in, expires in 30d0h"),
        format!("ok   sync target `home-server`: `{up}` answers (cdxs server 0.1.0, ok)"),
        format!("fix  sync target `old-server` (alice at {down}): the login expired 1h00m ago"),
        "-> `cdxs sync login --target old-server`".into(),
        format!("warn sync target `old-server`: `{down}` does not answer within 3s"),
        "fix  hal@example.com (oauth_".into(),
        "needs a new login".into(),
        "-> `cdxs login oauth` as hal@example.com".into(),
    ] {
        assert!(shown.contains(&want), "missing {want:?} in\n{shown}");
    }
    server.join().unwrap();
    // Read only: nothing in the vault changed.
    let v: serde_json::Value =
        serde_json::from_slice(&env.run(&["doctor", "--json"]).stdout).unwrap();
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["area"] == "sync"),
        "{v}"
    );
    assert_eq!(env.accounts_json()["accounts"][0]["requires_reauth"], true);
}

/// The watch service of this OS (here the systemd user unit of `examples/`): none is fine;
/// one that starts a cdxs that is not there needs action; one that starts this cdxs is ok.
#[test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "checks the systemd user unit (Linux); wine's Task Scheduler neither holds nor answers for a task (docs/known-limits.md)"
)]
fn doctor_checks_the_watch_service_definition() {
    let env = Env::new();
    let service = |out: &std::process::Output| -> Value {
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["area"] == "service")
            .cloned()
            .unwrap_or_else(|| panic!("no service check in {v}"))
    };
    let c = service(&env.run(&["doctor", "--json"]));
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("no systemd user unit runs `cdxs watch`"),
        "{c}"
    );
    let units = env.home.join(".config/systemd/user");
    std::fs::create_dir_all(&units).unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cdxs-watch.service"),
    )
    .unwrap();
    std::fs::write(units.join("cdxs-watch.service"), &example).unwrap();
    let out = env.run(&["doctor", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let c = service(&out);
    assert_eq!(c["status"], "action", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("starts `~/.cargo/bin/cdxs`, which does not exist"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("write the path of cdxs there"),
        "{c}"
    );
    let mine = example.replace("%h/.cargo/bin/cdxs", &cdxs_binary().display().to_string());
    std::fs::write(units.join("cdxs-watch.service"), mine).unwrap();
    let c = service(&env.run(&["doctor", "--json"]));
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["message"].as_str().unwrap().contains("runs this cdxs"),
        "{c}"
    );
}
