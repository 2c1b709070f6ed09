//! The Dockerfile and compose.yaml, without Docker (none on the machines these tests run
//! on): the commands, environment and paths they give cdxs are run against the real binary
//! (and a real PostgreSQL for compose), with only the bind address and the container's
//! paths moved into the test's folder. What needs a Docker daemon (the base images, the
//! build itself) stays unchecked; docs/known-limits.md says so.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::{Env, mode, text};
use crate::sync_harness::*;

fn repo(rel: &str) -> PathBuf {
    // Absolute with its drive on Windows (`Z:\work\...` under wine), as walks return it.
    std::path::absolute(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap()
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The Dockerfile's instructions of one kind (`CMD`, `ENV`, ...), as written after it.
fn instructions(dockerfile: &str, kind: &str) -> Vec<String> {
    dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{kind} ")))
        .map(|l| l.trim().to_string())
        .collect()
}

fn exec_form(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not an exec-form array: {text}: {e}"))
}

/// `--bind HOST:PORT` out of `args` (the tests bind 127.0.0.1 on a free port), returned.
fn take_bind(args: &mut Vec<String>) -> String {
    let at = args.iter().position(|a| a == "--bind").expect("--bind");
    args.remove(at);
    args.remove(at)
}

/// The cdxs arguments (from `server user add` on) of the first line of `doc` that shows
/// `example`.
fn documented_user_add<'a>(doc: &'a str, example: &str) -> Vec<&'a str> {
    let line = doc
        .lines()
        .find(|l| l.contains(example))
        .unwrap_or_else(|| panic!("no `{example}` shown"));
    line[line.find("server user add").unwrap()..]
        .split_whitespace()
        .collect()
}

/// The image's own command, with its ENV, serves; the documented way to add a user writes
/// to the database that command serves (the state dir's default is the CMD's `--data`).
#[test]
fn the_images_command_and_environment_serve_and_add_users_to_one_database() {
    let dockerfile = read("Dockerfile");
    let env = Env::new();
    let data = env.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let in_container = |s: &str| s.replace("/data", &data.display().to_string());

    assert_eq!(instructions(&dockerfile, "ENTRYPOINT"), [r#"["cdxs"]"#]);
    assert_eq!(instructions(&dockerfile, "USER"), ["cdxs"], "not root");
    assert_eq!(instructions(&dockerfile, "VOLUME"), [r#"["/data"]"#]);
    let vars: Vec<(String, String)> = instructions(&dockerfile, "ENV")
        .iter()
        .map(|e| {
            let (k, v) = e.split_once('=').expect("ENV KEY=VALUE");
            (k.to_string(), in_container(v))
        })
        .collect();
    assert!(vars.iter().any(|(k, _)| k == "CDXS_STATE_DIR"), "{vars:?}");
    let cmd = instructions(&dockerfile, "CMD");
    let mut args: Vec<String> = exec_form(&cmd[0]).iter().map(|a| in_container(a)).collect();
    assert_eq!(args[..2], ["server", "run"]);
    args.drain(..2);
    let bind = take_bind(&mut args);
    let port = bind.rsplit(':').next().unwrap();
    assert_eq!(
        instructions(&dockerfile, "EXPOSE"),
        [port],
        "EXPOSE names the bound port"
    );

    let s = SyncServer::start_env(&env, args, vars.clone());
    assert!(data.join("server.db").exists());
    assert_eq!(
        mode(&data.join("server.db")) & 0o077,
        0,
        "the database is 0600"
    );

    // The Dockerfile's own example: `docker run --rm -i -v cdxs-data:/data cdxs server user
    // add alice --password-stdin`, i.e. the same ENV and no `--data`.
    let add = documented_user_add(&dockerfile, "cdxs server user add");
    for (k, v) in &vars {
        env.set_env(k, v);
    }
    let out = env.run_stdin(&add, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", text(&out));
    let api = Api::new(&s.url);
    let (status, v) = api.login("alice", PASSWORD);
    assert_eq!(status, 200, "the running server sees the user: {v}");
}

/// compose.yaml's service: its command, with the URL from the secret file named by its
/// environment, serves from PostgreSQL; its documented `user add` reaches the same database.
#[test]
#[cfg_attr(
    cdxs_no_postgres,
    ignore = "PostgreSQL is not available here (scripts/install-postgres.sh; the build's warning says why)"
)]
fn the_compose_service_serves_postgres_from_its_secret_file() {
    let db = Db::postgres();
    let Db::Postgres(pg) = &db else {
        unreachable!()
    };
    let compose: Value = serde_saphyr::from_str(&read("compose.yaml")).unwrap();
    let service = &compose["services"]["cdxs"];
    let env = Env::new();

    // Secrets: the file the service reads is the one compose mounts, the one docs/sync.md writes.
    let url_var = service["environment"]["CDXS_DATABASE_URL_FILE"]
        .as_str()
        .expect("the URL comes from a file");
    let secret = url_var
        .strip_prefix("/run/secrets/")
        .expect("a compose secret");
    assert!(
        service["secrets"]
            .as_array()
            .unwrap()
            .contains(&json!(secret))
    );
    let file = compose["secrets"][secret]["file"].as_str().unwrap();
    let readme = read("docs/sync.md");
    let file_name = file.trim_start_matches("./");
    assert!(
        readme.contains(&format!("> {file_name}"))
            && readme.contains(&format!("chmod 600 db_password.txt {file_name}")),
        "docs/sync.md writes {file_name} (mode 600)"
    );
    let db_service = &compose["services"]["db"];
    let pw = db_service["environment"]["POSTGRES_PASSWORD_FILE"]
        .as_str()
        .unwrap();
    let pw_secret = pw.strip_prefix("/run/secrets/").unwrap();
    assert!(
        db_service["secrets"]
            .as_array()
            .unwrap()
            .contains(&json!(pw_secret))
    );
    // Published on loopback only: TLS and the body caps belong to the proxy in front.
    for port in service["ports"].as_array().unwrap() {
        assert!(port.as_str().unwrap().starts_with("127.0.0.1:"), "{port}");
    }

    // What docs/sync.md's printf writes, here with the test cluster's URL (and a newline).
    let secret_file = env.path("secrets").join(secret);
    std::fs::create_dir_all(secret_file.parent().unwrap()).unwrap();
    std::fs::write(&secret_file, format!("{}\n", pg.url())).unwrap();
    let vars = vec![(
        "CDXS_DATABASE_URL_FILE".to_string(),
        secret_file.display().to_string(),
    )];
    let mut args: Vec<String> = service["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(args[..2], ["server", "run"]);
    args.drain(..2);
    take_bind(&mut args);
    let s = SyncServer::start_env(&env, args, vars.clone());
    assert!(s.log().contains("\"backend\":\"postgres\""), "{}", s.log());

    // compose.yaml's and docs/sync.md's `docker compose exec -T cdxs cdxs server user add ...`.
    let add = documented_user_add(&readme, "docker compose exec -T cdxs cdxs server user add");
    env.set_env(&vars[0].0, &vars[0].1);
    let out = env.run_stdin(&add, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pg.sql("SELECT name FROM users"), "alice");
    let api = Api::new(&s.url);
    let token = api.token("alice");
    let body = json!({"base_revision": 0, "records": [fake_record("r_1", 1)]});
    assert_eq!(
        api.call("POST", "/v1/records", Some(&token), Some(body)).0,
        200
    );
    let (_, page, _) = api.call("GET", "/v1/records?since=0", Some(&token), None);
    assert_eq!(page["records"][0]["record_id"], "r_1");
    let secret_text = std::fs::read_to_string(&secret_file).unwrap();
    assert!(
        !s.log().contains(secret_text.trim()),
        "the URL stays out of the log"
    );
}

/// The build stage copies what `cargo build --locked --bin cdxs` reads, and the context
/// leaves out the gigabytes of `target/`.
#[test]
fn the_docker_build_context_holds_what_the_build_reads_and_not_target() {
    let dockerfile = read("Dockerfile");
    let second = dockerfile
        .match_indices("\nFROM ")
        .nth(1)
        .expect("two stages")
        .0;
    let build_stage = &dockerfile[..second];
    let mut copied: Vec<String> = Vec::new();
    for copy in instructions(build_stage, "COPY") {
        let mut parts: Vec<&str> = copy.split_whitespace().collect();
        parts.pop(); // the destination
        for source in parts {
            assert!(repo(source).exists(), "COPY {source}: no such file");
            copied.push(source.to_string());
        }
    }
    let is_copied = |path: &Path| {
        let rel = path.strip_prefix(repo("")).unwrap();
        copied.iter().any(|c| rel.starts_with(c))
    };
    assert!(!repo("build.rs").exists() || copied.contains(&"build.rs".to_string()));
    for target in ["src/lib.rs", "src/main.rs"] {
        assert!(is_copied(&repo(target)), "{target}");
    }
    // Every file the sources include at compile time.
    let include = regex::Regex::new(r#"include_(?:str|bytes)!\(\s*"([^"]+)""#).unwrap();
    let mut stack = vec![repo("src")];
    let mut seen = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let code = std::fs::read_to_string(&path).unwrap();
                for m in include.captures_iter(&code) {
                    let file = path.parent().unwrap().join(&m[1]);
                    let file = cdxs::platform::path::canonicalize(&file)
                        .unwrap_or_else(|_| panic!("{file:?}"));
                    assert!(is_copied(&file), "{} includes {file:?}", path.display());
                    seen += 1;
                }
            }
        }
    }
    assert!(seen > 0, "the schema files are included");
    let ignore = read(".dockerignore");
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for kept_out in ["target", ".git", "db_password.txt", "database_url.txt"] {
        assert!(ignored.contains(&kept_out), "{kept_out} in {ignored:?}");
    }
    for c in &copied {
        assert!(
            !ignored
                .iter()
                .any(|i| c.starts_with(i.trim_end_matches('/'))),
            "{c} is copied but ignored"
        );
    }
}
