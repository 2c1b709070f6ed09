//! Threads whose rollout Codex compressed (`rollout-….jsonl.zst`, written by its worker
//! behind `local_thread_store_compression`), without the real Codex; the real-Codex checks
//! of the same facts are in real_codex_compressed.rs. What Codex 0.169 and 0.171 do, seen on
//! both: the worker leaves the row naming `x.jsonl`; Codex lists and resumes a thread whose
//! only rollout is `x.jsonl.zst`, whichever spelling its row names; when both spellings
//! exist it reads the plain one.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::*;

const PLAIN: &str = "0199dddd-0000-7000-8000-000000000001";
const ZST: &str = "0199dddd-0000-7000-8000-000000000002";
const BOTH: &str = "0199dddd-0000-7000-8000-000000000003";

/// A home with three threads: `PLAIN` (a `.jsonl`), `ZST` (only its `.jsonl.zst`, the row
/// naming `.jsonl`), `BOTH` (a `.jsonl` of 300 tokens and a stale `.jsonl.zst` of 107, the
/// row naming the `.zst`). Returns the env and the home.
fn home_with_compressed_threads() -> (Env, PathBuf) {
    let env = Env::new();
    let home = env.codex_home("a");
    codex_like_home(&home);
    add_real_thread(&home, PLAIN, "plain thread", 107, false);
    add_real_thread(&home, ZST, "compressed thread", 214, true);
    let both = add_real_thread(&home, BOTH, "both spellings", 107, true);
    // Resumed after it was compressed, then a crash before the `.zst` went: the plain one
    // is newer (300 tokens) and the row names the stale `.zst`.
    std::fs::write(
        rollout_plain(&both),
        real_shaped_rollout(BOTH, "both spellings", 300),
    )
    .unwrap();
    set_rollout_path(&home, BOTH, &both);
    env.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        home.display()
    ));
    (env, home)
}

fn rollout_plain(zst: &Path) -> PathBuf {
    PathBuf::from(zst.to_string_lossy().strip_suffix(".zst").unwrap())
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(out)))
}

fn thread<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed: {list}"))
}

#[test]
fn a_compressed_thread_is_listed_sized_and_read_like_codex_reads_it() {
    let (env, home) = home_with_compressed_threads();
    let list = json(&env.run(&["session", "list", "--json"]));
    let zst = thread(&list, ZST);
    // Codex lists it (its row names `x.jsonl`, only `x.jsonl.zst` is there): not "missing".
    assert_eq!(zst["hidden"], serde_json::json!([]), "{zst}");
    let zst_file = files_under(&home.join("sessions"))
        .into_iter()
        .find(|f| f.to_string_lossy().contains(ZST))
        .unwrap();
    assert_eq!(
        zst["size"].as_u64(),
        Some(std::fs::metadata(&zst_file).unwrap().len())
    );
    // Both spellings: the plain one is the thread's rollout (its size, its tokens).
    let both = thread(&list, BOTH);
    let plain = files_under(&home.join("sessions"))
        .into_iter()
        .find(|f| f.to_string_lossy().contains(BOTH) && !f.to_string_lossy().ends_with(".zst"))
        .unwrap();
    assert_eq!(
        both["size"].as_u64(),
        Some(std::fs::metadata(&plain).unwrap().len())
    );
    for (id, tokens, compressed) in [(ZST, 214, true), (BOTH, 300, false), (PLAIN, 107, false)] {
        let out = env.run(&["session", "stats", id, "--lines", "--json"]);
        let v = json(&out);
        assert_eq!(v["stats"]["tokens"]["total_tokens"], tokens, "{id}: {v}");
        assert_eq!(v["stats"]["compressed"], compressed, "{id}: {v}");
        assert_eq!(v["stats"]["lines"], 9, "{id}: {v}");
    }
    // Nothing to repair: a row naming either spelling of a file that exists is fine.
    let v = json(&env.run(&["session", "visibility", "check", "--json"]));
    assert_eq!(v["homes"][0]["issues"], serde_json::json!([]), "{v}");
}

#[test]
fn an_empty_preview_of_a_compressed_thread_is_found_and_repaired() {
    let (env, home) = home_with_compressed_threads();
    let db = rusqlite::Connection::open(home.join("state_5.sqlite")).unwrap();
    db.execute("UPDATE threads SET preview = '' WHERE id = ?1", [ZST])
        .unwrap();
    drop(db);
    let v = json(&env.run(&["session", "visibility", "check", "--json"]));
    let issues = v["homes"][0]["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{v}");
    assert_eq!(issues[0]["kind"], "empty_preview");
    assert_eq!(issues[0]["preview"], "compressed thread");
    let out = env.run(&["session", "visibility", "repair"]);
    assert!(out.status.success(), "{}", text(&out));
    let list = json(&env.run(&["session", "list", "--json"]));
    assert_eq!(thread(&list, ZST)["preview"], "compressed thread");
}

#[test]
fn trash_and_restore_move_each_spelling_once_and_restore_never_shadows() {
    let (env, home) = home_with_compressed_threads();
    let before = files_under(&home.join("sessions"));
    assert_eq!(before.len(), 4, "{before:?}");
    for id in [ZST, BOTH] {
        let out = env.run(&["session", "trash", id]);
        assert!(out.status.success(), "{id}: {}", text(&out));
    }
    let left = files_under(&home.join("sessions"));
    assert_eq!(left.len(), 1, "only PLAIN's rollout stays: {left:?}");
    let v = json(&env.run(&["session", "trash-list", "--json"]));
    let files = |id: &str| {
        v["trash"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()["files"]
            .as_u64()
    };
    assert_eq!(files(ZST), Some(1), "{v}");
    assert_eq!(files(BOTH), Some(2), "both spellings, each once: {v}");
    // A plain rollout of the compressed thread appeared meanwhile (Codex resumed a copy):
    // putting the `.zst` back would be shadowed by it; restore refuses and moves nothing.
    let zst_original = before
        .iter()
        .find(|f| f.to_string_lossy().contains(ZST))
        .unwrap()
        .clone();
    let appeared = rollout_plain(&zst_original);
    std::fs::write(&appeared, real_shaped_rollout(ZST, "another", 1)).unwrap();
    let out = env.run(&["session", "restore", ZST]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(stderr(&out).contains("exists again"), "{}", text(&out));
    assert!(!zst_original.exists(), "nothing was moved back");
    std::fs::remove_file(&appeared).unwrap();
    for id in [ZST, BOTH] {
        let out = env.run(&["session", "restore", id]);
        assert!(out.status.success(), "{id}: {}", text(&out));
    }
    let mut after = files_under(&home.join("sessions"));
    after.sort();
    let mut before = before;
    before.sort();
    assert_eq!(after, before, "every file back where it was, each once");
    assert_eq!(
        rollout_path_of(&home, ZST).as_deref(),
        Some(rollout_plain(&zst_original).to_str().unwrap()),
        "the row as Codex's worker left it"
    );
    // And purge deletes both spellings of a trashed thread for good.
    assert!(env.run(&["session", "trash", BOTH]).status.success());
    let out = env.run(&["session", "purge", BOTH, "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!home.join("cdxs-trash").join(BOTH).exists());
    assert!(
        !files_under(&home.join("sessions"))
            .iter()
            .any(|f| f.to_string_lossy().contains(BOTH))
    );
}

#[test]
fn sync_threads_copies_a_compressed_thread_once_in_the_spelling_codex_reads() {
    let (env, a) = home_with_compressed_threads();
    let b = env.codex_home("b");
    codex_like_home(&b);
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  share_threads: [a, b]\n",
        a.display(),
        b.display()
    ));
    let out = env.run(&["session", "sync-threads", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let in_b = files_under(&b.join("sessions"));
    let of = |id: &str| -> Vec<&PathBuf> {
        in_b.iter()
            .filter(|f| f.to_string_lossy().contains(id))
            .collect()
    };
    // The compressed thread is copied (as its `.zst`: Codex reads it), once.
    let zst = of(ZST);
    assert_eq!(zst.len(), 1, "{in_b:?}");
    assert!(zst[0].to_string_lossy().ends_with(".jsonl.zst"), "{zst:?}");
    // Both spellings: only the plain one Codex reads travels, not the stale `.zst`.
    let both = of(BOTH);
    assert_eq!(both.len(), 1, "{in_b:?}");
    assert!(both[0].to_string_lossy().ends_with(".jsonl"), "{both:?}");
    assert_eq!(of(PLAIN).len(), 1);
    // Rows in b point at the files copied, and the threads read as they do in a.
    let env_b = Env::new();
    env_b.manifest(&format!(
        "version: 1\nhomes:\n  default: {{ path: {} }}\n",
        b.display()
    ));
    let list = json(&env_b.run(&["session", "list", "--json"]));
    for id in [PLAIN, ZST, BOTH] {
        assert_eq!(
            thread(&list, id)["hidden"],
            serde_json::json!([]),
            "{id}: {list}"
        );
    }
    let v = json(&env_b.run(&["session", "stats", BOTH, "--json"]));
    assert_eq!(v["stats"]["tokens"]["total_tokens"], 300);
    // Converged: a second run copies nothing.
    let out = env.run(&["session", "sync-threads", "--json", "--yes"]);
    assert_eq!(
        json(&out)["copies"],
        serde_json::json!([]),
        "{}",
        text(&out)
    );
}

#[test]
fn a_copy_never_lands_on_the_other_spelling_of_a_rollout_the_target_has() {
    let (env, a) = home_with_compressed_threads();
    let b = env.codex_home("b");
    codex_like_home(&b);
    // b has the compressed twin of where PLAIN's rollout would land (no row: an orphan).
    let source = files_under(&a.join("sessions"))
        .into_iter()
        .find(|f| f.to_string_lossy().contains(PLAIN))
        .unwrap();
    let same = b.join(source.strip_prefix(&a).unwrap());
    std::fs::create_dir_all(same.parent().unwrap()).unwrap();
    let orphan = PathBuf::from(format!("{}.zst", same.display()));
    std::fs::write(&orphan, b"orphan bytes").unwrap();
    env.manifest(&format!(
        "version: 1\nhomes:\n  a: {{ path: {} }}\n  b: {{ path: {} }}\nsessions:\n  share_threads: [a, b]\n",
        a.display(),
        b.display()
    ));
    let out = env.run(&["session", "sync-threads", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !same.exists(),
        "a plain copy next to b's `.zst` would shadow it (or be mistaken for it)"
    );
    assert_eq!(std::fs::read(&orphan).unwrap(), b"orphan bytes");
    let landed = rollout_path_of(&b, PLAIN).unwrap();
    assert!(landed.contains(&sep("/sessions/cdxs-sync/a/")), "{landed}");
}
