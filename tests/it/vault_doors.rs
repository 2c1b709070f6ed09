//! Issue 18, point 3: the vault's own changes (import, add, rename, remove an account) go
//! through the one executor, as generations of their own under the vault lock: `history`
//! lists them and says what `rollback` cannot undo, and `rollback` of one says so instead
//! of "changed no files".

use serde_json::Value;

use crate::harness::*;

fn newest(env: &Env) -> Value {
    let out = env.run(&["history", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["generations"][0].clone()
}

#[test]
fn account_changes_are_generations_that_say_rollback_cannot_undo_them() {
    let env = Env::new();
    let login = Login::new("ivy@example.com", "acct-ivy");
    login.write_to(&env.default_codex_home());
    let out = env.run(&["import", "auth"]);
    assert!(out.status.success(), "{}", text(&out));
    let g = newest(&env);
    assert_eq!(g["command"], "import auth", "{g}");
    let imported = g["id"].as_i64().unwrap();

    // Importing the same login again changes nothing: no generation.
    assert!(env.run(&["import", "auth"]).status.success());
    assert_eq!(newest(&env)["id"].as_i64().unwrap(), imported);

    let out = env.run_stdin(
        &[
            "account",
            "add-api-key",
            "--api-key-stdin",
            "--name",
            "build",
        ],
        "sk-vault-doors-0001",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(newest(&env)["command"], "account add-api-key");
    let out = env.run(&["account", "rename", "build", "ci"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(newest(&env)["command"], "account rename");
    // A name that is refused is refused before any generation.
    let before = newest(&env)["id"].as_i64().unwrap();
    let out = env.run(&["account", "rename", "ci", "oauth_x"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("may not start like an account id"));
    assert_eq!(newest(&env)["id"].as_i64().unwrap(), before);

    let out = env.run(&["account", "remove", "ci", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let g = newest(&env);
    assert_eq!(g["command"], "account remove", "{g}");
    let removed = g["id"].as_i64().unwrap();
    let shown = env.run(&["history", &removed.to_string()]);
    assert!(
        stdout(&shown).contains("rollback cannot undo this"),
        "{}",
        text(&shown)
    );
    assert!(!text(&shown).contains("sk-vault-doors-0001"));

    // Rolling it back says what it cannot undo and why, and changes nothing.
    let out = env.run(&["rollback", &removed.to_string(), "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        stderr(&out).contains("changed nothing rollback can put back"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("erased"), "{}", text(&out));
    assert_eq!(newest(&env)["id"].as_i64().unwrap(), removed);
    let list: Value =
        serde_json::from_slice(&env.run(&["account", "list", "--json"]).stdout).unwrap();
    assert_eq!(list["accounts"].as_array().map(Vec::len), Some(1), "{list}");
}

#[test]
fn an_import_waits_for_the_vault_lock_like_every_other_write() {
    let env = Env::new();
    let login = Login::new("joe@example.com", "acct-joe");
    login.write_to(&env.default_codex_home());
    // Another cdxs holds the vault lock: the import waits for it, then gives up naming it.
    std::fs::create_dir_all(env.state.join("locks")).unwrap();
    let held = std::fs::File::create(env.state.join("locks/vault.lock")).unwrap();
    held.lock().unwrap();
    let out = env
        .cdxs()
        .env("CDXS_LOCK_TIMEOUT", "0.5")
        .args(["import", "auth"])
        .output()
        .unwrap();
    drop(held);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(stderr(&out).contains("the vault lock"), "{}", text(&out));
    assert_eq!(
        env.accounts_json()["accounts"].as_array().map(Vec::len),
        Some(0)
    );
    assert!(env.run(&["import", "auth"]).status.success());
}
