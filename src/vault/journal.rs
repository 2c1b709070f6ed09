//! The apply journal: each apply is a numbered generation with its actions, the files it
//! replaced and where their backups are; plus, per auth.json, what cdxs last wrote there
//! (the baseline against which drift is measured).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Vault;
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub id: i64,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub command: String,
    pub status: String,
    pub manifest: Option<String>,
    pub rollback_of: Option<i64>,
    pub error: Option<String>,
    pub actions: Vec<JournalAction>,
    pub files: Vec<JournalFile>,
    /// Threads it copied into a home (`rollback` takes them out again).
    pub threads: Vec<JournalThread>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalAction {
    pub seq: i64,
    pub address: String,
    pub kind: String,
    pub description: String,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JournalFile {
    pub seq: i64,
    pub path: PathBuf,
    /// Where the previous content was saved; `None` when the file did not exist before.
    pub backup: Option<PathBuf>,
    pub before_fingerprint: Option<String>,
    pub after_fingerprint: Option<String>,
}

/// A thread a generation copied into a home.
#[derive(Debug, Clone, Serialize)]
pub struct JournalThread {
    pub seq: i64,
    /// The home it was copied into.
    pub home: PathBuf,
    pub thread_id: String,
    /// The copied rollout.
    pub rollout: PathBuf,
    /// The rollout's size and modification time right after the copy: when either differs
    /// later, Codex continued the thread there.
    pub size: Option<u64>,
    pub mtime_ns: Option<i64>,
}

impl JournalThread {
    /// The size and mtime a rollout has now, as recorded (`None`: gone).
    pub fn stamp(path: &std::path::Path) -> Option<(u64, i64)> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        Some((meta.len(), crate::platform::fs::mtime_ns(&meta)))
    }

    /// The copied rollout is still exactly what the copy left.
    pub fn unchanged(&self) -> bool {
        match (Self::stamp(&self.rollout), self.size, self.mtime_ns) {
            (Some((size, mtime)), Some(s), Some(m)) => size == s && mtime == m,
            _ => false,
        }
    }
}

/// What cdxs last wrote into (or accepted from) a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    pub fingerprint: String,
    pub account_id: Option<String>,
    pub generation: Option<i64>,
    /// Since when the file holds this account as cdxs left it: when cdxs first wrote (or
    /// accepted) the account there. Writing the same account again (a token refresh, a
    /// harvest) keeps the time, so that it says when the home last switched (`watch`'s
    /// `min_dwell` counts from it).
    pub account_since: i64,
}

/// How a journaled action says that `rollback` cannot undo it (and why), at the end of its
/// description: `history` shows it, `rollback` reads it back.
const NOT_UNDONE: &str = " (rollback cannot undo this: ";

/// `description` with the reason `rollback` cannot undo the action.
pub fn not_undone(description: &str, why: &str) -> String {
    format!("{description}{NOT_UNDONE}{why})")
}

/// What a journaled description says `rollback` cannot undo: (what, why).
pub fn why_not_undone(description: &str) -> Option<(&str, &str)> {
    let (what, rest) = description.rsplit_once(NOT_UNDONE)?;
    Some((what, rest.strip_suffix(')').unwrap_or(rest)))
}

/// What a generation is about to do (for [`run_generation`]).
pub struct GenerationSpec<'a> {
    /// `apply`, `switch`, `run`, `session trash`, ...
    pub command: &'a str,
    pub manifest: Option<&'a str>,
    pub rollback_of: Option<i64>,
    /// (address, kind, description) of each action, in order.
    pub actions: Vec<(String, String, String)>,
}

/// Why a generation stopped: the action that failed (its index), how many were done, and
/// the cause. Later actions are journaled as `skipped`.
#[derive(Debug)]
pub struct Stopped {
    pub generation: i64,
    pub seq: usize,
    pub done: usize,
    /// Boxed: the error is large, and this is the `Err` of every generation.
    pub error: Box<crate::error::Error>,
}

/// Run one journaled generation: every command that writes goes through here. `run` does
/// action `seq`; the first failure finishes the generation as `failed` and stops.
/// `finish` runs after the last action, before the generation is marked `ok` (the drift
/// baseline is recorded there).
pub fn run_generation<T>(
    vault: &mut Vault,
    spec: &GenerationSpec,
    clock: &dyn crate::clock::Clock,
    mut run: impl FnMut(&mut Vault, i64, usize) -> Result<T>,
    finish: impl FnOnce(&mut Vault, i64) -> Result<()>,
) -> std::result::Result<(i64, Vec<T>), Stopped> {
    let stop = |generation, seq, done, error| Stopped {
        generation,
        seq,
        done,
        error: Box::new(error),
    };
    let generation = vault
        .begin_generation(
            spec.command,
            spec.manifest,
            spec.rollback_of,
            &spec.actions,
            clock.ts(),
        )
        .map_err(|e| stop(0, 0, 0, e))?;
    let mut out = Vec::with_capacity(spec.actions.len());
    for seq in 0..spec.actions.len() {
        match run(vault, generation, seq) {
            Ok(v) => {
                vault
                    .finish_action(generation, seq, None)
                    .map_err(|e| stop(generation, seq, out.len(), e))?;
                out.push(v);
            }
            Err(e) => {
                let cause = e.full_message();
                let _ = vault.finish_action(generation, seq, Some(&cause));
                let _ = vault.finish_generation(generation, false, Some(&cause), clock.ts());
                return Err(stop(generation, seq, out.len(), e));
            }
        }
    }
    if let Err(e) = finish(vault, generation) {
        let cause = e.to_string();
        let _ = vault.finish_generation(generation, false, Some(&cause), clock.ts());
        return Err(stop(generation, spec.actions.len(), out.len(), e));
    }
    vault
        .finish_generation(generation, true, None, clock.ts())
        .map_err(|e| stop(generation, spec.actions.len(), out.len(), e))?;
    Ok((generation, out))
}

const GENERATION_COLUMNS: &str =
    "id, started_at, finished_at, command, status, manifest, rollback_of, error";

fn generation_from_row(r: &rusqlite::Row) -> rusqlite::Result<Generation> {
    Ok(Generation {
        id: r.get(0)?,
        started_at: r.get(1)?,
        finished_at: r.get(2)?,
        command: r.get(3)?,
        status: r.get(4)?,
        manifest: r.get(5)?,
        rollback_of: r.get(6)?,
        error: r.get(7)?,
        actions: Vec::new(),
        files: Vec::new(),
        threads: Vec::new(),
    })
}

impl Vault {
    /// Generations left `running` by a killed process become `interrupted`. Call with the
    /// vault lock held: then no live apply can own them.
    pub fn mark_interrupted(&mut self, now: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE generations SET status = 'interrupted', finished_at = ?1,
                 error = COALESCE(error, 'the process stopped before finishing')
                 WHERE status = 'running'",
                [now],
            )?)
        })
    }

    /// Journal an operation that ran outside a generation's locks (a sync pull or push: the
    /// network is never waited on under the vault lock) as a finished generation of its own,
    /// after the fact: `error` when it failed. The caller holds the vault lock for this.
    pub fn record_finished(
        &mut self,
        command: &str,
        action: (String, String, String),
        started_at: i64,
        error: Option<&str>,
        now: i64,
    ) -> Result<i64> {
        let id = self.begin_generation(command, None, None, &[action], started_at)?;
        self.finish_action(id, 0, error)?;
        self.finish_generation(id, error.is_none(), error, now)?;
        Ok(id)
    }

    pub fn begin_generation(
        &mut self,
        command: &str,
        manifest: Option<&str>,
        rollback_of: Option<i64>,
        actions: &[(String, String, String)],
        now: i64,
    ) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO generations (started_at, command, status, manifest, rollback_of, pid)
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
                params![now, command, manifest, rollback_of, std::process::id()],
            )?;
            let id = tx.last_insert_rowid();
            for (seq, (address, kind, description)) in actions.iter().enumerate() {
                tx.execute(
                    "INSERT INTO journal_actions (generation, seq, address, kind, description, status)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
                    params![id, seq as i64, address, kind, description],
                )?;
            }
            Ok(id)
        })
    }

    pub fn finish_action(
        &mut self,
        generation: i64,
        seq: usize,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE journal_actions SET status = ?3, error = ?4 WHERE generation = ?1 AND seq = ?2",
                params![
                    generation,
                    seq as i64,
                    if error.is_some() { "failed" } else { "done" },
                    error
                ],
            )?;
            Ok(())
        })
    }

    pub fn record_file(
        &mut self,
        generation: i64,
        seq: usize,
        path: &std::path::Path,
        backup: Option<&std::path::Path>,
        before: Option<&str>,
        after: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO journal_files (generation, seq, path, backup, before_fingerprint, after_fingerprint)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    generation,
                    seq as i64,
                    path.to_string_lossy(),
                    backup.map(|b| b.to_string_lossy().into_owned()),
                    before,
                    after
                ],
            )?;
            Ok(())
        })
    }

    pub fn finish_generation(
        &mut self,
        id: i64,
        ok: bool,
        error: Option<&str>,
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE journal_actions SET status = 'skipped' WHERE generation = ?1 AND status = 'pending'",
                [id],
            )?;
            tx.execute(
                "UPDATE generations SET status = ?2, finished_at = ?3, error = ?4 WHERE id = ?1",
                params![id, if ok { "ok" } else { "failed" }, now, error],
            )?;
            Ok(())
        })
    }

    /// Journal a thread copied into `home` (its rollout's size and mtime now).
    pub fn record_thread_copy(
        &mut self,
        generation: i64,
        seq: usize,
        home: &std::path::Path,
        thread_id: &str,
        rollout: &std::path::Path,
    ) -> Result<()> {
        let stamp = JournalThread::stamp(rollout);
        self.write(|tx| {
            tx.execute(
                "INSERT INTO journal_threads (generation, seq, home, thread_id, rollout, size, mtime_ns)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    generation,
                    seq as i64,
                    home.to_string_lossy(),
                    thread_id,
                    rollout.to_string_lossy(),
                    stamp.map(|s| s.0 as i64),
                    stamp.map(|s| s.1)
                ],
            )?;
            Ok(())
        })
    }

    /// Drop a finished generation that changed nothing (no file journaled): it leaves no
    /// trace in `history`, and a drift baseline that named it names none. `false` when it
    /// did journal a file (it is kept).
    pub fn discard_unchanged_generation(&mut self, id: i64) -> Result<bool> {
        self.write(|tx| {
            let files: i64 = tx.query_row(
                "SELECT (SELECT COUNT(*) FROM journal_files WHERE generation = ?1)
                      + (SELECT COUNT(*) FROM journal_threads WHERE generation = ?1)",
                [id],
                |r| r.get(0),
            )?;
            if files > 0 {
                return Ok(false);
            }
            tx.execute("DELETE FROM journal_actions WHERE generation = ?1", [id])?;
            tx.execute(
                "UPDATE baselines SET generation = NULL WHERE generation = ?1",
                [id],
            )?;
            tx.execute("DELETE FROM generations WHERE id = ?1", [id])?;
            Ok(true)
        })
    }

    /// Generations, newest first (without their actions and files); at most `limit`.
    pub fn generations(&self, limit: usize) -> Result<Vec<Generation>> {
        let mut stmt = self.conn().prepare(&format!(
            "SELECT {GENERATION_COLUMNS} FROM generations ORDER BY id DESC LIMIT ?1"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map([limit], generation_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// How many generations the journal holds.
    pub fn generation_count(&self) -> Result<usize> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM generations", [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The newest generation that journaled a file or a thread copy, however far back.
    pub fn newest_generation_with_files(&self) -> Result<Option<i64>> {
        Ok(self.conn().query_row(
            "SELECT MAX(generation) FROM (SELECT generation FROM journal_files
                                          UNION ALL SELECT generation FROM journal_threads)",
            [],
            |r| r.get(0),
        )?)
    }

    /// One generation with its actions and files.
    pub fn generation(&self, id: i64) -> Result<Option<Generation>> {
        let Some(mut g) = self
            .conn()
            .query_row(
                &format!("SELECT {GENERATION_COLUMNS} FROM generations WHERE id = ?1"),
                [id],
                generation_from_row,
            )
            .optional()?
        else {
            return Ok(None);
        };
        let mut stmt = self.conn().prepare(
            "SELECT seq, address, kind, description, status, error FROM journal_actions
             WHERE generation = ?1 ORDER BY seq",
        )?;
        g.actions = stmt
            .query_map([id], |r| {
                Ok(JournalAction {
                    seq: r.get(0)?,
                    address: r.get(1)?,
                    kind: r.get(2)?,
                    description: r.get(3)?,
                    status: r.get(4)?,
                    error: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn().prepare(
            "SELECT seq, path, backup, before_fingerprint, after_fingerprint FROM journal_files
             WHERE generation = ?1 ORDER BY rowid",
        )?;
        g.files = stmt
            .query_map([id], |r| {
                Ok(JournalFile {
                    seq: r.get(0)?,
                    path: PathBuf::from(r.get::<_, String>(1)?),
                    backup: r.get::<_, Option<String>>(2)?.map(PathBuf::from),
                    before_fingerprint: r.get(3)?,
                    after_fingerprint: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stmt = self.conn().prepare(
            "SELECT seq, home, thread_id, rollout, size, mtime_ns FROM journal_threads
             WHERE generation = ?1 ORDER BY rowid",
        )?;
        g.threads = stmt
            .query_map([id], |r| {
                Ok(JournalThread {
                    seq: r.get(0)?,
                    home: PathBuf::from(r.get::<_, String>(1)?),
                    thread_id: r.get(2)?,
                    rollout: PathBuf::from(r.get::<_, String>(3)?),
                    size: r.get::<_, Option<i64>>(4)?.map(|s| s as u64),
                    mtime_ns: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Some(g))
    }

    /// Journal auth.json files written for `account_id` (refresh write-backs) and make them
    /// the drift baseline.
    pub fn record_auth_writes(
        &mut self,
        generation: i64,
        seq: usize,
        written: &[(PathBuf, Option<PathBuf>)],
        account_id: &str,
        now: i64,
    ) -> Result<()> {
        for (file, backup) in written {
            let after = crate::fsx::read_optional(file)?.map(|b| crate::secret::fingerprint(&b));
            self.record_file(
                generation,
                seq,
                file,
                backup.as_deref(),
                None,
                after.as_deref(),
            )?;
            if let Some(fp) = &after {
                self.set_baseline(file, fp, Some(account_id), Some(generation), now)?;
            }
        }
        Ok(())
    }

    pub fn baselines(&self) -> Result<BTreeMap<PathBuf, Baseline>> {
        let mut stmt = self.conn().prepare(
            "SELECT path, fingerprint, account_id, generation, written_at FROM baselines",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                PathBuf::from(r.get::<_, String>(0)?),
                Baseline {
                    fingerprint: r.get(1)?,
                    account_id: r.get(2)?,
                    generation: r.get(3)?,
                    account_since: r.get(4)?,
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<BTreeMap<_, _>>>()?)
    }

    pub fn set_baseline(
        &mut self,
        path: &std::path::Path,
        fingerprint: &str,
        account_id: Option<&str>,
        generation: Option<i64>,
        now: i64,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO baselines (path, fingerprint, account_id, generation, written_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (path) DO UPDATE SET fingerprint = excluded.fingerprint,
                 account_id = excluded.account_id, generation = excluded.generation,
                 written_at = CASE WHEN baselines.account_id IS excluded.account_id
                     THEN baselines.written_at ELSE excluded.written_at END",
                params![
                    path.to_string_lossy(),
                    fingerprint,
                    account_id,
                    generation,
                    now
                ],
            )?;
            Ok(())
        })
    }
}

/// What a journal entry's `after_fingerprint` says when the entry is a folder the action
/// created (`home.NAME.dir`), not a file: `rollback` removes it again when it is empty.
pub const CREATED_FOLDER: &str = "folder:created";

impl Vault {
    /// Journal a folder `seq` created (it did not exist before).
    pub fn record_created_folder(
        &mut self,
        generation: i64,
        seq: usize,
        path: &std::path::Path,
    ) -> Result<()> {
        self.record_file(generation, seq, path, None, None, Some(CREATED_FOLDER))
    }

    /// cdxs removed the file (rollback of the generation that created it): no baseline is
    /// left to measure drift against.
    pub fn clear_baseline(&mut self, path: &std::path::Path) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM baselines WHERE path = ?1",
                [path.to_string_lossy()],
            )?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_dates_from_the_switch_not_from_a_refresh_of_the_same_login() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        let file = dir.path().join("auth.json");
        v.set_baseline(&file, "sha256:1", Some("oauth_a"), None, 100)
            .unwrap();
        // The same login with new tokens (a refresh, a harvest): still on it since 100.
        v.set_baseline(&file, "sha256:2", Some("oauth_a"), None, 500)
            .unwrap();
        let b = &v.baselines().unwrap()[&file];
        assert_eq!((b.fingerprint.as_str(), b.account_since), ("sha256:2", 100));
        // Another account: a switch.
        v.set_baseline(&file, "sha256:3", Some("oauth_b"), None, 900)
            .unwrap();
        assert_eq!(v.baselines().unwrap()[&file].account_since, 900);
        v.clear_baseline(&file).unwrap();
        assert!(v.baselines().unwrap().is_empty());
    }

    fn finished(v: &mut Vault, now: i64) -> i64 {
        let actions = [(
            "account.a.refresh".to_string(),
            "update".to_string(),
            "refresh a".to_string(),
        )];
        let g = v
            .begin_generation("watch", None, None, &actions, now)
            .unwrap();
        v.finish_action(g, 0, None).unwrap();
        v.finish_generation(g, true, None, now).unwrap();
        g
    }

    #[test]
    fn a_generation_that_changed_nothing_leaves_no_trace_and_one_that_did_stays() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = Vault::open(&dir.path().join("s")).unwrap();
        let file = dir.path().join("auth.json");
        let kept = finished(&mut v, 1);
        v.record_file(kept, 0, &file, None, None, Some("sha256:1"))
            .unwrap();
        let copied = finished(&mut v, 2);
        v.record_thread_copy(copied, 0, dir.path(), "t", &dir.path().join("r.jsonl"))
            .unwrap();
        let empty = finished(&mut v, 3);
        v.set_baseline(&file, "sha256:1", None, Some(empty), 3)
            .unwrap();
        assert!(!v.discard_unchanged_generation(kept).unwrap(), "a file");
        assert!(!v.discard_unchanged_generation(copied).unwrap(), "a copy");
        assert!(v.discard_unchanged_generation(empty).unwrap());
        assert!(v.generation(empty).unwrap().is_none());
        assert_eq!(v.generation_count().unwrap(), 2);
        assert_eq!(v.baselines().unwrap()[&file].generation, None);
        // Rollback's default target is the newest generation that changed something.
        assert_eq!(v.newest_generation_with_files().unwrap(), Some(copied));
        let g = v.generation(copied).unwrap().unwrap();
        assert_eq!(g.threads.len(), 1);
        assert_eq!(g.threads[0].thread_id, "t");
        assert_eq!(v.generations(1).unwrap().len(), 1);
        assert_eq!(v.generations(usize::MAX).unwrap().len(), 2);
    }
}
