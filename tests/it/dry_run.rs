//! Issue 18, point 3: `--dry-run` on every command that writes renders the plan the
//! executor was handed and writes nothing: not cdxs.yaml, not a home, not the vault, not
//! the journal, not a backup. Commands whose writes cannot be shown refuse the flag.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::harness::*;

/// Every file under `dir` with its bytes (paths relative to `dir`).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// What a write would change: the manifest, every home, the backups, the vault's accounts
/// and placements (as `account list` shows them) and the journal.
#[derive(Debug, PartialEq)]
struct World {
    manifest: Option<String>,
    homes: BTreeMap<String, Vec<u8>>,
    backups: Vec<String>,
    accounts: Value,
    history: Value,
}

fn world(env: &Env) -> World {
    let history = env.run(&["history", "--all", "--json"]);
    World {
        manifest: std::fs::read_to_string(env.work.join("cdxs.yaml")).ok(),
        homes: files(&env.path("homes")),
        backups: files(&env.state.join("backups")).into_keys().collect(),
        accounts: env.accounts_json(),
        history: serde_json::from_slice(&history.stdout).unwrap_or(Value::Null),
    }
}

fn set_up() -> Env {
    let env = Env::new();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    env.import_login(&Login::new("bob@example.com", "acct-bob"));
    let out = env.run_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--name", "ci"],
        "sk-dry-run-0001",
    );
    assert!(out.status.success(), "{}", text(&out));
    env.manifest(&format!(
        "version: 1\naccounts:\n  ann: {{ email: ann@example.com }}\n  bob: {{ email: bob@example.com }}\nhomes:\n  work: {{ path: {}, account: ann }}\n  side: {{ path: {} }}\n",
        env.codex_home("work").display(),
        env.codex_home("side").display()
    ));
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    env
}

/// `args` with `--dry-run` exits 0, prints `expect` (an address of its plan), and leaves
/// the world as it was.
fn dry(env: &Env, args: &[&str], stdin: &str, expect: &str) {
    let before = world(env);
    let out = env.run_stdin(&[args, &["--dry-run"]].concat(), stdin);
    assert_eq!(code(&out), 0, "{args:?}: {}", text(&out));
    assert!(stdout(&out).contains(expect), "{args:?}: {}", text(&out));
    assert!(
        stderr(&out).contains("dry run: nothing was written"),
        "{args:?}: {}",
        text(&out)
    );
    assert_eq!(world(env), before, "{args:?} wrote something");
}

#[test]
fn every_writing_command_shows_its_plan_and_writes_nothing() {
    let env = set_up();
    let work = env.codex_home("work");
    let elsewhere = env.codex_home("elsewhere");
    dry(
        &env,
        &["switch", "bob", "--home", "work"],
        "",
        "home.work.auth",
    );
    dry(&env, &["switch", "bob", "--home", "work"], "", "manifest");
    dry(&env, &["home", "bind", "side", "bob"], "", "manifest");
    let lab = env.codex_home("lab");
    dry(
        &env,
        &["home", "create", "lab", "--path", lab.to_str().unwrap()],
        "",
        "home.lab.dir",
    );
    dry(
        &env,
        &["home", "remove", "work", "--keep-login"],
        "",
        "manifest",
    );
    dry(
        &env,
        &["home", "remove", "work", "--clear-login"],
        "",
        "manifest",
    );
    dry(&env, &["account", "rename", "ci", "build"], "", "account.");
    dry(&env, &["account", "remove", "ci", "--yes"], "", "account.");
    dry(
        &env,
        &["account", "add-api-key", "--api-key-stdin"],
        "sk-dry-run-0002",
        "account.",
    );
    let other = env.path("other-auth.json");
    std::fs::write(
        &other,
        Login::new("cyd@example.com", "acct-cyd").auth_json(),
    )
    .unwrap();
    dry(
        &env,
        &["import", "auth", "--file", other.to_str().unwrap()],
        "",
        "account.",
    );
    dry(
        &env,
        &[
            "switch",
            "bob@example.com",
            "--codex-home",
            elsewhere.to_str().unwrap(),
        ],
        "",
        "auth",
    );
    dry(&env, &["refresh-token", "ann@example.com"], "", "refresh");
    // Rollback of the first apply.
    let first = env.generations_of("apply").last().unwrap()["id"].to_string();
    dry(&env, &["rollback", &first, "--yes"], "", "auth.json");
    // Drift: `work` lost its auth.json; apply would write it again.
    std::fs::remove_file(work.join("auth.json")).unwrap();
    dry(&env, &["apply", "--yes"], "", "home.work.auth");
    dry(&env, &["apply"], "", "home.work.auth");
    assert!(!elsewhere.exists() && !lab.exists());
    assert!(!work.join("auth.json").exists());
}

#[test]
fn dry_run_json_is_the_outcome_with_the_plan() {
    let env = set_up();
    // Whatever a comment in cdxs.yaml holds stays out of the document.
    let yaml = env.manifest_text();
    env.manifest(&format!("# old key: sk-proj-dryruncomment0001abcd\n{yaml}"));
    let out = env.run(&["switch", "bob", "--home", "work", "--dry-run", "--json"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    crate::json_docs::assert_matches("outcome", &doc);
    assert_eq!(doc["command"], "switch", "{doc}");
    assert_eq!(doc["dry_run"], true, "{doc}");
    assert_eq!(doc["changed"], false, "{doc}");
    let addresses: Vec<&str> = doc["plan"]["plan"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["address"].as_str())
        .collect();
    assert_eq!(addresses.first(), Some(&"manifest"), "{doc}");
    assert!(addresses.contains(&"home.work.auth"), "{doc}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rt-"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("sk-proj-dryrun"));
}

#[test]
fn a_new_manifest_and_a_vault_import_are_plans_too() {
    // `init`: the default home's login goes into the vault first; a dry run stops there.
    let env = Env::new();
    Login::new("dee@example.com", "acct-dee").write_to(&env.default_codex_home());
    let before = world(&env);
    let out = env.run(&["init", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stdout(&out).contains("account."), "{}", text(&out));
    assert_eq!(world(&env), before);
    // Without a login to take, the first write is cdxs.yaml itself: shown, not written.
    let bare = Env::new();
    let out = bare.run(&["init", "--dry-run"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stdout(&out).contains("manifest"), "{}", text(&out));
    assert!(
        stdout(&out).contains("+version: 1"),
        "the new text: {}",
        text(&out)
    );
    assert!(!bare.work.join("cdxs.yaml").exists());

    // `vault import`: the archive's contents are shown as counts, never taken.
    let out = env.run(&["import", "auth"]);
    assert!(out.status.success(), "{}", text(&out));
    let file = env.path("v.cdxs");
    let args = [
        "vault",
        "export",
        file.to_str().unwrap(),
        "--passphrase-stdin",
    ];
    let out = env.run_stdin(&args, "correct horse battery\n");
    assert!(out.status.success(), "{}", text(&out));
    let target = Env::new();
    let before = world(&target);
    let args = [
        "vault",
        "import",
        file.to_str().unwrap(),
        "--passphrase-stdin",
    ];
    let out = target.run_stdin(
        &[&args[..], &["--dry-run"]].concat(),
        "correct horse battery\n",
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stdout(&out).contains("vault.import"), "{}", text(&out));
    assert_eq!(world(&target), before);
    let out = target.run_stdin(&args, "correct horse battery\n");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        target.accounts_json()["accounts"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(target.generations_of("vault import").len(), 1);
}

#[test]
fn commands_that_cannot_show_their_writes_refuse_dry_run() {
    let env = Env::new();
    for args in [
        &["login", "oauth", "--dry-run"][..],
        &["watch", "--once", "--dry-run"],
        &["server", "user", "add", "ann", "--dry-run"],
        &["sync", "logout", "--dry-run"],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        assert!(
            stderr(&out).contains("has no `--dry-run`"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn run_under_dry_run_never_starts_the_command() {
    let env = set_up();
    let marker = env.path("ran");
    let script = format!("touch {}", marker.display());
    let out = env.run(&[
        "run",
        "--home",
        "work",
        "--dry-run",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(stderr(&out).contains("would run"), "{}", text(&out));
    assert!(!marker.exists());
}

#[test]
fn manifest_edits_are_journaled_writes_that_rollback_puts_back() {
    let env = set_up();
    let text_before = env.manifest_text();
    // A dotfiles set-up: cdxs.yaml is a link into another folder, and stays one.
    let dots = env.path("dots");
    std::fs::create_dir_all(&dots).unwrap();
    std::fs::rename(env.work.join("cdxs.yaml"), dots.join("cdxs.yaml")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dots.join("cdxs.yaml"), env.work.join("cdxs.yaml")).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(dots.join("cdxs.yaml"), env.work.join("cdxs.yaml")).unwrap();
    let out = env.run(&["home", "remove", "side"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!env.manifest_text().contains("side:"));
    let g = env.generations_of("home remove");
    assert_eq!(g.len(), 1, "home remove is a generation: {g:?}");
    let id = g[0]["id"].to_string();
    let shown = env.run(&["history", &id]);
    assert!(stdout(&shown).contains("manifest"), "{}", text(&shown));
    let out = env.run(&["rollback", &id, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(env.manifest_text(), text_before);
    #[cfg(unix)]
    {
        let link = std::fs::symlink_metadata(env.work.join("cdxs.yaml")).unwrap();
        assert!(link.file_type().is_symlink(), "the link stays a link");
        assert_eq!(
            std::fs::read_to_string(dots.join("cdxs.yaml")).unwrap(),
            text_before
        );
    }
}
