//! What the session policies observe of each home (visibility problems for `auto_repair`,
//! trash entries for `trash_max_age`, threads for `share_threads`), cached in the vault by a
//! fingerprint of everything it depends on: the state database and its WAL, the name index,
//! the folders rollouts live in, the trash. A plan (or a `watch` cycle) over homes where
//! nothing changed does no per-thread work: it stats a few hundred folders and files.

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::observe::{Observed, Scope, SessionsObs};
use crate::error::Result;
use crate::manifest::Manifest;
use crate::sessions::{HomeRef, share, trash, visibility};
use crate::vault::Vault;

/// Bump when what is cached changes shape or meaning.
const FORMAT: &str = "cdxs-session-obs-1";

fn stamp(hash: &mut Sha256, path: &Path) {
    match std::fs::metadata(path) {
        Ok(m) => hash.update(format!(
            "{}|{}|{}\n",
            path.display(),
            m.len(),
            crate::platform::fs::mtime_ns(&m)
        )),
        Err(_) => hash.update(format!("{}|-\n", path.display())),
    }
}

/// Folders under `dir`: their mtimes change when a file in them is added, removed or
/// renamed. Codex's day folders (`sessions/YYYY/MM/DD`) are stat-ed, not read.
fn stamp_tree(hash: &mut Sha256, dir: &Path, depth: usize) {
    stamp(hash, dir);
    if depth >= 3 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut dirs: Vec<_> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for d in dirs {
        stamp_tree(hash, &d, depth + 1);
    }
}

/// A fingerprint of what the home's session observation depends on.
fn key(home: &Path, wants: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(format!("{FORMAT}|{wants}\n"));
    let db_home = crate::codex::state::sqlite_home(home);
    for f in [
        "state_5.sqlite",
        "state_5.sqlite-wal",
        "thread_history_1.sqlite",
        "thread_history_1.sqlite-wal",
    ] {
        stamp(&mut hash, &db_home.join(f));
    }
    for f in ["session_index.jsonl", "config.toml"] {
        stamp(&mut hash, &home.join(f));
    }
    stamp_tree(&mut hash, &home.join(crate::codex::rollout::SESSIONS), 0);
    stamp_tree(&mut hash, &home.join(crate::codex::rollout::ARCHIVED), 2);
    // The trash folder and each entry's folder (a manifest rewritten by rename).
    stamp_tree(&mut hash, &trash::trash_dir(home), 2);
    crate::secret::hex(&hash.finalize())
}

fn cached(vault: &Vault, home: &Path, key: &str) -> Option<SessionsObs> {
    let (k, text): (String, String) = vault
        .conn()
        .query_row(
            "SELECT key, obs FROM session_obs WHERE home = ?1",
            [home.to_string_lossy()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .ok()??;
    (k == key).then(|| serde_json::from_str(&text).ok())?
}

fn remember(vault: &Vault, home: &Path, key: &str, obs: &SessionsObs) {
    // A cache write failing (a busy vault) only costs the work next time.
    if let Ok(text) = serde_json::to_string(obs) {
        let _ = vault.conn().execute(
            "INSERT OR REPLACE INTO session_obs (home, key, obs) VALUES (?1, ?2, ?3)",
            params![home.to_string_lossy(), key, text],
        );
    }
}

pub fn observe(
    manifest: &Manifest,
    vault: &Vault,
    scope: &Scope,
    observed: &mut Observed,
) -> Result<()> {
    let policy = &manifest.sessions;
    if !policy.auto_repair && policy.trash_max_age.is_none() && policy.share_threads.is_empty() {
        return Ok(());
    }
    let mut heads: Option<crate::vault::heads::CachedHeads> = None;
    for (name, home) in &manifest.homes {
        if scope
            .homes
            .as_ref()
            .is_some_and(|only| !only.contains(name))
            || !home.path.is_dir()
        {
            continue;
        }
        let shares = policy.share_threads.contains(name);
        let wants = format!(
            "{}{}{}",
            u8::from(policy.auto_repair),
            u8::from(policy.trash_max_age.is_some()),
            u8::from(shares)
        );
        let k = key(&home.path, &wants);
        if let Some(obs) = cached(vault, &home.path, &k) {
            observed.sessions.insert(name.clone(), obs);
            continue;
        }
        let h = HomeRef {
            name: name.clone(),
            path: home.path.clone(),
        };
        let (writable, gate) = crate::sessions::gate(&h.path)?;
        let mut obs = SessionsObs {
            read_only: !writable,
            gate,
            ..SessionsObs::default()
        };
        if policy.auto_repair {
            let heads = heads.get_or_insert_with(|| crate::vault::heads::CachedHeads::new(vault));
            obs.issues = Some(visibility::check(&h, heads)?);
        }
        if policy.trash_max_age.is_some() {
            obs.trash = Some(
                trash::entries(&h)?
                    .into_iter()
                    .map(|(_, m)| (m.id, m.trashed_at))
                    .collect(),
            );
        }
        if shares {
            obs.threads = Some(share::home_threads(&h)?);
        }
        // Stamped before the work would race a writer: stamp again after it, and keep the
        // result only if nothing moved meanwhile.
        if key(&home.path, &wants) == k {
            remember(vault, &home.path, &k, &obs);
        }
        observed.sessions.insert(name.clone(), obs);
    }
    observed.heads_read = heads.map(|h| h.reads).unwrap_or(0);
    Ok(())
}
