//! A cache of rollout heads (session meta, first user message) keyed by (path, size, mtime):
//! a plan with nothing changed never reads a rollout again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::params;

use super::Vault;
use crate::codex::rollout::HeadSource;
use crate::codex::rollout::{self, Head};

/// Heads from the vault's cache, reading (and remembering) what changed.
pub struct CachedHeads<'a> {
    vault: &'a Vault,
    known: HashMap<PathBuf, (i64, i64, Head)>,
    pub reads: usize,
}

impl<'a> CachedHeads<'a> {
    pub fn new(vault: &'a Vault) -> Self {
        let mut known = HashMap::new();
        if let Ok(mut stmt) = vault
            .conn()
            .prepare("SELECT path, size, mtime_ns, head FROM rollout_heads")
            && let Ok(rows) = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
        {
            for (path, size, mtime, text) in rows.flatten() {
                if let Ok(head) = serde_json::from_str(&text) {
                    known.insert(PathBuf::from(path), (size, mtime, head));
                }
            }
        }
        CachedHeads {
            vault,
            known,
            reads: 0,
        }
    }
}

impl HeadSource for CachedHeads<'_> {
    fn head(&mut self, path: &Path) -> Option<Head> {
        let meta = std::fs::metadata(path).ok()?;
        let (size, mtime) = (meta.len() as i64, crate::platform::fs::mtime_ns(&meta));
        if let Some((s, m, head)) = self.known.get(path)
            && *s == size
            && *m == mtime
        {
            return Some(head.clone());
        }
        self.reads += 1;
        let head = rollout::read_head(path).ok()?;
        // A cache write failing (busy vault) only costs a read next time.
        let _ = self.vault.conn().execute(
            "INSERT OR REPLACE INTO rollout_heads (path, size, mtime_ns, head) VALUES (?1, ?2, ?3, ?4)",
            params![path.to_string_lossy(), size, mtime, serde_json::to_string(&head).unwrap_or_default()],
        );
        self.known
            .insert(path.to_path_buf(), (size, mtime, head.clone()));
        Some(head)
    }
}
