//! Every `--json` document against its JSON Schema (issue 21, point 3): `schema/json/*.json`
//! (draft 2020-12) is the contract a script or an editor relies on. Each command is run
//! here the way a user runs it, its stdout must be exactly one versioned document (JSON lines
//! for `watch`) and must match the schema its command maps to. Every command of the CLI is
//! either mapped to a schema and run here, or refuses `--json` with a reason (and that
//! refusal is itself a JSON error document); a command added without either fails
//! `every_command_has_a_json_document_or_a_reason`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use clap::CommandFactory;
use serde_json::Value;

use crate::harness::*;

/// Each command (as typed after `cdxs`) and the schema of its `--json` document.
pub const DOCS: &[(&str, &str)] = &[
    ("import auth", "outcome"),
    ("import legacy", "outcome"),
    ("account add-api-key", "outcome"),
    ("account rename", "outcome"),
    ("account list", "accounts"),
    ("account current", "account-current"),
    ("account show", "accounts"),
    ("account remove", "outcome"),
    ("login oauth", "outcome"),
    ("refresh-token", "outcome"),
    ("quota", "quota"),
    ("list", "accounts"),
    ("show", "accounts"),
    ("remove", "outcome"),
    ("init", "outcome"),
    ("validate", "validate"),
    ("plan", "plan"),
    ("apply", "outcome"),
    ("history", "history"),
    ("rollback", "outcome"),
    ("status", "status"),
    ("switch", "outcome"),
    ("home list", "homes"),
    ("home create", "outcome"),
    ("home bind", "outcome"),
    ("home path", "home-path"),
    ("home remove", "outcome"),
    ("session list", "sessions"),
    ("session stats", "session-stats"),
    ("session trash", "outcome"),
    ("session trash-list", "trash-list"),
    ("session restore", "outcome"),
    ("session purge", "outcome"),
    ("session visibility check", "visibility"),
    ("session visibility repair", "outcome"),
    ("session sync-threads", "outcome"),
    ("watch", "watch-line"),
    ("doctor", "doctor"),
    ("vault export", "outcome"),
    ("vault import", "outcome"),
    ("sync login", "outcome"),
    ("sync init", "outcome"),
    ("sync logout", "outcome"),
    ("sync push", "outcome"),
    ("sync pull", "outcome"),
    ("sync status", "sync-status"),
    ("sync key", "outcome"),
    ("sync key rotate", "outcome"),
    ("sync refresh", "outcome"),
    ("sync forget-device", "outcome"),
    ("server user add", "outcome"),
    ("server user list", "server-users"),
    ("server user remove", "outcome"),
    ("server user passwd", "outcome"),
    ("server import-legacy", "outcome"),
    ("pull", "outcome"),
    ("push", "outcome"),
    ("schema", "manifest-schema"),
];

/// Commands that print no document of their own: `--json` is refused with a JSON error.
pub const NO_JSON: &[&str] = &["run", "resume", "completions", "man", "server run"];

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/json")
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = schema_dir().join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft202012::new(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
}

/// The command path of `args` (the subcommands before the first argument or flag).
fn command_of(args: &[&str]) -> String {
    let mut cmd = cdxs::cli::Cli::command();
    let mut path = Vec::new();
    for a in args {
        match cmd.find_subcommand(a) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cmd = sub.clone();
            }
            None => break,
        }
    }
    path.join(" ")
}

fn schema_of(command: &str) -> &'static str {
    DOCS.iter()
        .find(|(c, _)| *c == command)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("`{command}` has no schema in DOCS"))
}

/// `value` against schema `name`; a failure names every mismatch and the document.
pub fn assert_matches(name: &str, value: &Value) {
    let v = validator(name);
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "does not match schema/json/{name}.schema.json:\n{}\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(value).unwrap()
    );
    if let Some(dir) = std::env::var_os("CDXS_DUMP_JSON") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let n = std::fs::read_dir(&dir).unwrap().count();
        let f = dir.join(format!("{n:03}-{name}.json"));
        std::fs::write(f, serde_json::to_string_pretty(value).unwrap()).unwrap();
    }
}

/// Runs `--json` commands and remembers which commands it saw.
pub struct Runner<'a> {
    pub env: &'a Env,
    pub seen: BTreeSet<String>,
}

impl<'a> Runner<'a> {
    pub fn new(env: &'a Env) -> Runner<'a> {
        Runner {
            env,
            seen: BTreeSet::new(),
        }
    }

    /// `cdxs ARGS --json` (with `stdin`): it succeeds, and stdout is one document matching
    /// its command's schema.
    pub fn doc_stdin(&mut self, args: &[&str], stdin: &str) -> Value {
        let out = self.env.run_stdin(&[args, &["--json"]].concat(), stdin);
        self.check(args, &out)
    }

    pub fn doc(&mut self, args: &[&str]) -> Value {
        self.doc_stdin(args, "")
    }

    pub fn check(&mut self, args: &[&str], out: &Output) -> Value {
        assert!(out.status.success(), "{args:?}: {}", text(out));
        let command = command_of(args);
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON document ({e}): {}",
                text(out)
            )
        });
        assert_eq!(doc["version"], 1, "{args:?}: {doc}");
        let schema = schema_of(&command);
        if schema == "outcome" {
            assert_eq!(doc["command"], command_label(&command, args), "{doc}");
        }
        assert_matches(schema, &doc);
        self.seen.insert(command);
        doc
    }
}

/// The `command` an outcome names: the command as typed (`sync key --set`, the shortcuts'
/// own names).
fn command_label(command: &str, args: &[&str]) -> String {
    match command {
        "remove" => "account remove".into(),
        "push" | "pull" => format!("sync {command}"),
        "sync key" if args.contains(&"--set") => "sync key --set".into(),
        other => other.into(),
    }
}

/// What `every_listing_and_every_change_matches_its_schema` runs.
const RUN_LOCALLY: &[&str] = &[
    "list",
    "show",
    "account list",
    "account show",
    "account current",
    "quota",
    "validate",
    "plan",
    "status",
    "home list",
    "home path",
    "history",
    "session list",
    "session stats",
    "session trash-list",
    "session visibility check",
    "doctor",
    "schema",
    "sync status",
    "server user list",
    "switch",
    "rollback",
    "home create",
    "home bind",
    "home remove",
    "account add-api-key",
    "account rename",
    "account remove",
    "remove",
    "import auth",
    "import legacy",
    "refresh-token",
    "session trash",
    "session restore",
    "session purge",
    "session visibility repair",
    "session sync-threads",
    "vault export",
    "vault import",
    "apply",
    "watch",
    "init",
];

/// What `sync_server_and_login_documents_match_their_schemas` runs.
const RUN_WITH_A_SERVER: &[&str] = &[
    "login oauth",
    "sync login",
    "sync init",
    "sync push",
    "push",
    "sync pull",
    "pull",
    "sync status",
    "sync key",
    "sync key rotate",
    "sync refresh",
    "sync forget-device",
    "sync logout",
    "server user add",
    "server user passwd",
    "server user list",
    "server user remove",
    "server import-legacy",
];

/// A thread id in the screens world's default home.
const THREAD: &str = "019abc12-3456-7a01-8000-00000000000a";

#[test]
fn every_listing_and_every_change_matches_its_schema() {
    let (env, mock) = crate::screens::world();
    let mut r = Runner::new(&env);
    // Listings.
    for args in [
        &["list"][..],
        &["show"],
        &["show", "ann"],
        &["account", "list"],
        &["account", "show", "ci"],
        &["account", "current"],
        &["quota"],
        &["quota", "--all"],
        &["validate"],
        &["plan"],
        &["status"],
        &["home", "list"],
        &["home", "path", "work"],
        &["history"],
        &["history", "1"],
        &["session", "list"],
        &["session", "list", "--all-homes", "--limit", "2"],
        &["session", "stats", THREAD],
        &["session", "trash-list"],
        &["session", "visibility", "check"],
        &["doctor"],
        &["schema"],
        &["sync", "status"],
    ] {
        r.doc(args);
    }
    let data = env.path("server/server.db");
    let data = data.to_str().unwrap();
    r.doc(&["server", "user", "list", "--data", data]);

    // Changes.
    let auth = env.path("dan-auth.json");
    std::fs::write(&auth, Login::new("dan@example.com", "acct-dan").auth_json()).unwrap();
    r.doc(&["import", "auth", "--file", auth.to_str().unwrap()]);
    r.doc(&["switch", "dan@example.com"]);
    r.doc(&["rollback", "--yes"]);
    let work2 = env.path("homes/work2");
    r.doc(&["home", "create", "work2", "--path", work2.to_str().unwrap()]);
    r.doc(&["home", "bind", "work2", "ci"]);
    r.doc(&["home", "remove", "work2", "--keep-login"]);
    r.doc_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--name", "k2"],
        "sk-json-docs-key-0002",
    );
    r.doc(&["account", "rename", "k2", "k3"]);
    r.doc(&["account", "remove", "k3", "--yes"]);
    r.doc_stdin(
        &["account", "add-api-key", "--api-key-stdin", "--name", "k4"],
        "sk-json-docs-key-0004",
    );
    r.doc(&["remove", "k4", "--yes"]);
    let legacy = env.path("legacy/cdxs.toml");
    std::fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    std::fs::write(
        &legacy,
        "[[accounts]]\nid = \"apikey_0123456789abcdef\"\nemail = \"api-key-01234567\"\nauth_mode = \"api_key\"\nopenai_api_key = \"sk-legacy-json-1\"\n",
    )
    .unwrap();
    r.doc(&["import", "legacy", legacy.to_str().unwrap()]);
    r.doc(&["refresh-token", "ann"]);
    r.doc(&["session", "trash", THREAD]);
    let trash = r.doc(&["session", "trash-list"]);
    assert_eq!(trash["trash"][0]["id"], THREAD, "{trash}");
    r.doc(&["session", "restore", THREAD]);
    r.doc(&["session", "trash", THREAD]);
    r.doc(&["session", "purge", THREAD, "--yes"]);
    r.doc(&["session", "visibility", "repair"]);
    r.doc(&[
        "session",
        "sync-threads",
        "--from",
        "default",
        "--to",
        "work",
        "--yes",
    ]);
    let archive = env.path("vault.cdxs");
    let archive = archive.to_str().unwrap();
    r.doc_stdin(
        &["vault", "export", archive, "--passphrase-stdin"],
        "json docs passphrase\n",
    );
    r.doc_stdin(
        &["vault", "import", archive, "--passphrase-stdin"],
        "json docs passphrase\n",
    );
    // A plan with changes: before and after as objects, display strings beside them.
    let yaml = env.manifest_text().replace(
        "scratch: { path: ~/codex-homes/scratch }",
        "scratch: { path: ~/codex-homes/scratch, account: ci }",
    );
    env.manifest(&yaml);
    let plan = r.doc(&["plan"]);
    assert!(
        !plan["plan"]["actions"].as_array().unwrap().is_empty(),
        "{plan}"
    );
    r.doc(&["apply", "--yes"]);
    // `watch --json`: one versioned object per line.
    let out = env.run(&["watch", "--once", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = stdout(&out);
    let lines: Vec<&str> = printed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!lines.is_empty(), "{}", text(&out));
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(v["version"], 1, "{line}");
        assert_matches("watch-line", &v);
    }
    r.seen.insert("watch".into());
    // `init` writes a manifest where there is none.
    let fresh = Env::new();
    let mut f = Runner::new(&fresh);
    f.doc(&["init"]);
    r.seen.extend(f.seen);
    drop(mock);
    let want: BTreeSet<&str> = RUN_LOCALLY.iter().copied().collect();
    let seen: BTreeSet<&str> = r.seen.iter().map(String::as_str).collect();
    assert_eq!(seen, want);
}

/// The command paths of every leaf of the CLI (`session visibility check`, `list`, ...).
fn leaves(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
    let subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
    // `sync key` runs by itself and has `rotate` under it: both count.
    if subs.is_empty() || !cmd.is_subcommand_required_set() {
        out.push(prefix.trim().to_string());
    }
    for s in subs {
        leaves(s, &format!("{prefix} {}", s.get_name()), out);
    }
}

#[test]
fn every_command_has_a_json_document_or_a_reason() {
    let mut all = Vec::new();
    leaves(&cdxs::cli::Cli::command(), "", &mut all);
    let mut missing = Vec::new();
    for c in &all {
        let mapped = DOCS.iter().any(|(d, _)| d == c);
        let refused = NO_JSON.contains(&c.as_str());
        if mapped == refused {
            missing.push(c.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "commands neither mapped to a schema in DOCS nor listed in NO_JSON (or both): {missing:?}"
    );
    for (c, _) in DOCS {
        assert!(
            all.iter().any(|a| a == c),
            "DOCS names `{c}`, which is no command"
        );
    }
    // The schemas themselves are valid, and every one is used.
    let used: BTreeSet<&str> = DOCS.iter().map(|(_, s)| *s).chain(["error"]).collect();
    for e in std::fs::read_dir(schema_dir()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".schema.json");
        assert!(
            used.contains(stem),
            "schema/json/{name} is used by no command"
        );
        validator(stem);
    }
    // The refused ones answer with a JSON error document, exit 1.
    let env = Env::new();
    for c in NO_JSON {
        let mut args: Vec<&str> = c.split(' ').collect();
        args.push("--json");
        match *c {
            "completions" => args.push("bash"),
            "run" => args.extend(["--home", "default", "--", "true"]),
            "resume" => args.push("019abc12"),
            _ => {}
        }
        let out = env.run(&args);
        assert_eq!(code(&out), 1, "{c}: {}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{c}: {e}: {}", text(&out)));
        assert_matches("error", &doc);
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no `--json` output"),
            "{doc}"
        );
    }
}

#[test]
fn sync_server_and_login_documents_match_their_schemas() {
    use crate::mock_openai::{MockAccount, MockOpenAi};
    use crate::sync_harness::{Db, PASSWORD, SyncServer};
    let env = Env::new();
    let db = Db::sqlite();
    let data = db.args(&env);
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    let mut r = Runner::new(&env);
    let pw = format!("{PASSWORD}\n");
    r.doc_stdin(
        &[
            &["server", "user", "add", "alice", "--password-stdin"][..],
            &data,
        ]
        .concat(),
        &pw,
    );
    r.doc_stdin(
        &[
            &["server", "user", "add", "bob", "--password-stdin"][..],
            &data,
        ]
        .concat(),
        &pw,
    );
    r.doc_stdin(
        &[
            &["server", "user", "passwd", "bob", "--password-stdin"][..],
            &data,
        ]
        .concat(),
        &pw,
    );
    r.doc(&[&["server", "user", "remove", "bob", "--yes"][..], &data].concat());
    let toml = env.path("old-server-cdxs.toml");
    std::fs::write(
        &toml,
        "[meta]\n\n[[server.users]]\nusername = \"carl\"\nsalt = \"s\"\npassword_hash = \"00\"\n",
    )
    .unwrap();
    r.doc(
        &[
            &["server", "import-legacy", toml.to_str().unwrap()][..],
            &data,
        ]
        .concat(),
    );
    r.doc(&[&["server", "user", "list"][..], &data].concat());
    let s = SyncServer::start(&env, &db, &[]);

    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("pat@example.com", "acct-pat"));
    mock.with(|s| s.login_as = Some("pat@example.com".into()));
    let a = Env::new();
    a.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    a.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    let mut m = Runner::new(&a);
    // `login oauth --manual --json`: the address the issuer redirected to, pasted.
    let mut child = a
        .spawn_cdxs(&["login", "oauth", "--manual", "--json"])
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let url = authorize_url(&mut err);
    let drain = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut rest);
        rest
    });
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location = client.get(&url).send().unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{location}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let rest = drain.join().unwrap();
    assert!(out.status.success(), "{rest}");
    m.check(&["login", "oauth"], &out);

    let login = [&[
        "sync",
        "login",
        "--server",
        &s.url,
        "--user",
        "alice",
        "--password-stdin",
    ][..]]
    .concat();
    m.doc_stdin(&login, &pw);
    let init = m.doc(&["sync", "init"]);
    assert_eq!(init["push"]["pushed"], 1, "{init}");
    m.doc(&["sync", "push"]);
    m.doc(&["push"]);
    m.doc(&["sync", "pull"]);
    m.doc(&["pull"]);
    m.doc(&["sync", "status"]);
    m.doc(&["sync", "refresh", "pat@example.com"]);
    m.doc(&["sync", "forget-device", "laptop-gone"]);
    let phrase = stdout(&a.run(&["sync", "key"])).trim().to_string();
    let b = Env::new();
    let mut n = Runner::new(&b);
    n.doc_stdin(&login, &pw);
    n.doc_stdin(&["sync", "key", "--set"], &phrase);
    n.doc(&["sync", "logout"]);
    let rotated = m.doc(&["sync", "key", "rotate"]);
    assert!(rotated["generation"].is_i64(), "{rotated}");
    drop(s);
    let mut seen = r.seen;
    seen.extend(m.seen);
    seen.extend(n.seen);
    let seen: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
    assert_eq!(seen, RUN_WITH_A_SERVER.iter().copied().collect());
}

/// Errors under `--json`: one object on stdout, in `error.schema.json`'s shape, for each
/// kind of failure (usage, a refused input, the manifest's diagnostics, plan's problems, a
/// missing account).
#[test]
fn errors_under_json_match_the_error_schema() {
    let env = Env::new();
    let fails = |args: &[&str], kind: &str| {
        let out = env.run(&[args, &["--json"]].concat());
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        let doc: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)));
        assert_matches("error", &doc);
        assert_eq!(doc["error"]["kind"], kind, "{doc}");
        doc
    };
    let doc = fails(&["completions"], "usage");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("<SHELL>"),
        "{doc}"
    );
    fails(&["no-such-command"], "usage");
    fails(&["show", "nobody@example.com"], "account");
    fails(
        &[
            "vault",
            "import",
            "/nonexistent/vault.cdxs",
            "--passphrase-stdin",
        ],
        "io",
    );
    env.manifest(
        "version: 1\nhomes:\n  work: { path: ~/w, account: ghost }\n  bad: { pathh: 1 }\n",
    );
    let doc = fails(&["plan"], "manifest");
    let d = doc["error"]["diagnostics"]["diagnostics"]
        .as_array()
        .unwrap();
    assert!(d.len() >= 2, "every problem in one document: {doc}");
    env.manifest("version: 1\naccounts:\n  ghost: { email: ghost@example.com }\nhomes:\n  work: { path: ~/w, account: ghost }\n");
    let doc = fails(&["apply", "--yes"], "plan");
    assert!(
        !doc["error"]["problems"].as_array().unwrap().is_empty(),
        "{doc}"
    );
    // plan --json is the plan itself, its problems inside, exit 1.
    let out = env.run(&["plan", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_matches("plan", &plan);
    assert!(
        !plan["plan"]["errors"].as_array().unwrap().is_empty(),
        "{plan}"
    );
    // validate --json is a document of its own, also when the file is broken.
    env.manifest("version: 1\nhomes:\n  bad: { pathh: 1 }\n");
    let out = env.run(&["validate", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert_matches("validate", &serde_json::from_slice(&out.stdout).unwrap());
}

/// The schemas are no formality: documents that break the contract fail them.
#[test]
fn the_schemas_refuse_documents_that_break_the_contract() {
    use serde_json::json;
    let refused = |name: &str, doc: Value| {
        assert!(
            validator(name).iter_errors(&doc).next().is_some(),
            "schema/json/{name}.schema.json accepts {doc}"
        );
    };
    let outcome = json!({"version": 1, "command": "vault import", "changed": true,
        "generation": null, "actions": [], "file": "/v.cdxs", "backup": null,
        "accounts": [{"id": "oauth_1", "name": "a@b.c", "kind": "oauth", "outcome": "created"}],
        "placements_added": 0, "spent_tokens": 0});
    assert!(validator("outcome").is_valid(&outcome));
    let mut o = outcome.clone();
    o.as_object_mut().unwrap().remove("changed");
    refused("outcome", o);
    let mut o = outcome.clone();
    o["version"] = 2.into();
    refused("outcome", o);
    let mut o = outcome.clone();
    o["accounts"][0]["outcome"] = "overwrote_newer".into();
    refused("outcome", o);
    let mut o = outcome.clone();
    o.as_object_mut().unwrap().remove("placements_added");
    refused("outcome", o);
    let mut o = outcome.clone();
    o["command"] = "vault obliterate".into();
    refused("outcome", o);
    // A plan change's before/after are objects, never display strings.
    let plan = json!({"version": 1, "format": "cdxs-plan", "summary": {"add": 1, "change": 0, "destroy": 0, "read": 0},
        "has_changes": true, "plan": {"manifest": "m", "manifest_fingerprint": "sha256:0", "drift": [], "errors": [],
        "notes": [], "observed": {}, "accepted": [], "actions": [{"address": "home.a.auth", "kind": "create",
        "description": "d", "op": {"op": "write_auth"}, "changes": [{"field": "account", "before": null,
        "after": "ci = ci (key sha256:0)", "before_display": null, "after_display": "ci"}]}]}});
    refused("plan", plan);
    refused(
        "error",
        json!({"version": 1, "error": {"kind": "oops", "message": "m", "help": null, "exit_code": 1}}),
    );
    refused("accounts", json!({"version": 1, "accounts": [{"id": "x"}]}));
    refused(
        "sessions",
        json!({"version": 1, "threads": [{"home": "h", "id": "i", "name": null, "preview": null,
        "cwd": "/", "updated_at": 1, "archived": false, "hidden": "not visible in the picker"}]}),
    );
}
