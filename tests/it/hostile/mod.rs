//! Hostile input (issue 9): files in a home, trash manifests, the environment and the
//! network are untrusted. One test per case found in a sandbox, each named after the bug
//! it pins; property tests that no crafted trash manifest or rollout path makes an
//! operation touch a file outside the home.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::harness::*;

const T1: &str = "0199bbbb-0000-7000-8000-000000000001";
const T2: &str = "0199bbbb-0000-7000-8000-000000000002";
const T9: &str = "0199bbbb-0000-7000-8000-000000000009";

/// An Env whose manifest declares one Codex-shaped home `default` with `extra` appended.
fn one_home(extra: &str) -> (Env, PathBuf) {
    let env = Env::new();
    let home = env.codex_home("h");
    codex_like_home(&home);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n{extra}",
        home.display()
    ));
    (env, home)
}

/// A trash manifest as cdxs writes it, with the given fields replaced.
fn trash_manifest(id: &str, home: &Path, fields: Value) -> Value {
    let mut m = json!({
        "version": 1, "id": id, "home": home, "trashed_at": 0,
        "name": null, "preview": "crafted", "files": [], "thread": null,
        "state_rows": [], "history_rows": [], "index_lines": [], "stage": "done"
    });
    for (k, v) in fields.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

fn write_json(path: &Path, v: &Value) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// A home whose trash holds an entry claiming the id `..` (and the `manifest.json` that id
/// would make cdxs read next to the home's databases).
fn home_with_dotdot_trash(extra: &str) -> (Env, PathBuf, PathBuf) {
    let (env, home) = one_home(extra);
    let rollout = add_thread(&home, T1, "keep me", None);
    let m = trash_manifest("..", &home, json!({}));
    write_json(&home.join("cdxs-trash/crafted/manifest.json"), &m);
    write_json(&home.join("manifest.json"), &m);
    (env, home, rollout)
}

fn assert_home_intact(home: &Path, rollout: &Path) {
    assert!(
        home.join("state_5.sqlite").exists(),
        "the home's database is gone"
    );
    assert!(rollout.exists(), "the home's rollout is gone");
    assert_eq!(thread_count(home), 1);
}

mod files;
mod oauth_callback;
mod secrets;
mod sessions;
