//! The session operations of the executor: repair, trash, restore, purge, copy a thread,
//! and take a copy out again. Each holds Codex's maintenance lock of the home and backs up
//! its databases once per run before it changes them.

use std::path::Path;

use super::Did;
use super::run::{Run, home_ref};
use crate::error::{Result, tick};
use crate::reconcile::HomeId;
use crate::sessions::HomeRef;
use crate::sessions::share::{self, Copied};
use crate::sessions::{trash, visibility};
use crate::vault::Vault;
use crate::vault::journal::JournalThread;

pub(super) fn repair_thread(
    run: &mut Run,
    home: &HomeId,
    path: &Path,
    issue: &visibility::Issue,
) -> Result<Did> {
    run.hold_maintenance(home, path)?;
    run.save_dbs(path)?;
    let fixed = visibility::repair(
        &home_ref(home, path),
        std::slice::from_ref(issue),
        &mut visibility::Direct,
        run.env.clock.ts(),
    )?;
    run.changed |= !fixed.fixed.is_empty();
    Ok(Did::said(if let Some(live) = fixed.live.first() {
        format!("skipped: {live}")
    } else if fixed.fixed.is_empty() {
        "nothing left to fix".into()
    } else {
        format!("fixed: {}", issue.describe())
    }))
}

pub(super) fn trash_thread(run: &mut Run, home: &HomeId, path: &Path, id: &str) -> Result<Did> {
    let h = home_ref(home, path);
    run.hold_maintenance(home, path)?;
    // A live thread is refused before anything is backed up or moved.
    crate::codex::writer_lock::lock(path, id)?;
    run.save_dbs(path)?;
    let all = crate::codex::rollout::list(path);
    let m = trash::trash_one(&h, id, &all, &mut run.backups, run.env.clock.ts())?;
    run.changed = true;
    Ok(Did::said(format!(
        "moved thread {id} to the trash{}",
        m.name.map(|n| format!(" (\"{n}\")")).unwrap_or_default()
    )))
}

pub(super) fn restore_thread(run: &mut Run, home: &HomeId, path: &Path, id: &str) -> Result<Did> {
    run.hold_maintenance(home, path)?;
    run.save_dbs(path)?;
    let m = trash::restore_one(&home_ref(home, path), id)?;
    run.changed = true;
    Ok(Did::said(format!(
        "restored thread {id}{}",
        m.name.map(|n| format!(" (\"{n}\")")).unwrap_or_default()
    )))
}

pub(super) fn purge_trash(run: &mut Run, home: &HomeId, path: &Path, id: &str) -> Result<Did> {
    run.hold_maintenance(home, path)?;
    trash::purge_one(&home_ref(home, path), id)?;
    run.changed = true;
    Ok(Did::said(format!("deleted trashed thread {id}")))
}

pub(super) fn copy_thread(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    copy: &share::Copy,
    from_path: &Path,
    to_path: &Path,
) -> Result<Did> {
    // The source too: its file may be renamed into `.jsonl.zst` while it is read.
    let (from, to) = (HomeId::of_shown(&copy.from), HomeId::of_shown(&copy.to));
    run.hold_maintenance(&from, from_path)?;
    run.hold_maintenance(&to, to_path)?;
    run.save_dbs(to_path)?;
    let copied = share::copy(
        &home_ref(&from, from_path),
        &home_ref(&to, to_path),
        copy,
        run.env.clock.now(),
    )?;
    Ok(Did::said(match copied {
        Copied::Live(why) => format!("skipped: {why}"),
        Copied::AlreadyThere => format!("home `{}` already has thread {}", copy.to, copy.id),
        Copied::Done => {
            run.changed = true;
            // Journaled: `rollback` of this generation takes the copy out again.
            vault.record_thread_copy(run.generation, seq, to_path, &copy.id, &copy.target)?;
            format!("copied thread {} into {}", copy.id, tick(&copy.target))
        }
    }))
}

/// Take a copied thread out of a home again (rollback of a thread copy): through the trash,
/// so that rows and files go exactly as `session trash` takes them (under Codex's writer
/// lock: a live thread is refused), then purged when the rollout is still what the copy
/// left; a copy Codex continued since stays in the trash, restorable.
pub(super) fn remove_thread_copy(
    run: &mut Run,
    home: &HomeId,
    copied: &JournalThread,
) -> Result<Did> {
    let h: HomeRef = home_ref(home, &copied.home);
    let id = &copied.thread_id;
    crate::codex::rollout::check_thread_id(id, "the thread copy")?;
    let in_db = match crate::sessions::open_state(&h.path, false)? {
        Some(db) => db.has_thread(id)?,
        None => false,
    };
    let all = crate::codex::rollout::list(&h.path);
    if !in_db && !all.iter().any(|f| &f.thread_id == id) {
        return Ok(Did::said(format!(
            "thread {id} is no longer in home `{}`: nothing to take out",
            h.name
        )));
    }
    let unchanged = copied.unchanged();
    crate::codex::writer_lock::lock(&h.path, id)?;
    run.save_dbs(&h.path)?;
    trash::trash_one(&h, id, &all, &mut run.backups, run.env.clock.ts())?;
    run.changed = true;
    if unchanged {
        trash::purge_one(&h, id)?;
        Ok(Did::said(format!(
            "took the copy of thread {id} out of home `{}` (its rows, name and rollout)",
            h.name
        )))
    } else {
        Ok(Did::said(format!(
            "moved thread {id} out of home `{}` into its trash: it changed since the copy (Codex continued it there); `cdxs session restore {id}` brings it back",
            h.name
        )))
    }
}
