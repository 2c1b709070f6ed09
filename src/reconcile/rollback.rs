//! `rollback [GEN]`: put back what a generation replaced, from its backups, as a new
//! generation (with its own backups), run by the one executor.
//!
//! What an auth.json gets is decided at the moment of writing, under Codex's locks and after
//! the harvest: if the backup holds a ChatGPT login, the vault's newest copy of that login
//! is written (it may have been refreshed, or rotated by Codex, since the backup was made),
//! never an older or a spent one.

use std::path::{Path, PathBuf};

use super::{Action, ActionKind, Op, Plan};
use crate::backup::Backups;
use crate::clock::Clock;
use crate::codex::auth::{self, AuthState, Credentials, WriteOutcome};
use crate::error::{Error, Result, tick};
use crate::fsx;
use crate::secret::fingerprint;
use crate::text::sanitize;
use crate::vault::Vault;
use crate::vault::accounts::match_credentials;
use crate::vault::home_write as homes;
use crate::vault::journal::{CREATED_FOLDER, Generation};

/// What `generation` did that rollback cannot undo: (what, why) per journaled action
/// (refreshes, vault changes, purges, sync).
pub fn not_undone(generation: &Generation) -> Vec<(String, String)> {
    generation
        .actions
        .iter()
        .filter_map(|a| crate::vault::journal::why_not_undone(&a.description))
        .map(|(what, why)| (what.to_string(), why.to_string()))
        .collect()
}

/// Why rolling back generation `id` can do nothing when it has no file to put back but
/// steps it cannot undo (`kept`, from [`not_undone`]); `None` when there are none.
pub fn nothing_to_put_back(id: i64, kept: &[(String, String)]) -> Option<crate::error::Error> {
    let (what, why) = kept.first()?;
    let all: Vec<String> = kept.iter().map(|(w, _)| sanitize(w).into_owned()).collect();
    Some(
        crate::error::Error::user(format!(
            "generation {id} changed nothing rollback can put back: {}",
            all.join("; ")
        ))
        .with_help(format!("{}: {}", sanitize(what), sanitize(why))),
    )
}

/// The newest generation that changed files (however many generations came after it).
pub fn default_target(vault: &Vault) -> Result<Option<i64>> {
    vault.newest_generation_with_files()
}

/// A file to put back, as rollback shows it before asking.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    pub path: PathBuf,
    /// `false`: the generation created the file; it is removed.
    pub restore: bool,
    /// The path is a folder the generation created: removed when it is empty.
    pub folder: bool,
    /// For an auth.json: the login it gets back (a restore) or the one it holds now (a
    /// removal), by name (`me@corp.com`, `API key sha256:...`).
    pub account: Option<String>,
    /// The file changed after the generation wrote it (it is backed up too).
    pub changed_since: bool,
    /// What the vault's newer tokens would put in instead (decided again when writing).
    pub note: Option<String>,
    /// Why it is not put back: the login it held is live in another folder now, and a
    /// second copy would end in `refresh_token_reused`.
    pub refused: Option<String>,
}

/// The plan that undoes `generation`: one `RestoreFile` per file it changed (the first
/// record of a path is its state before the generation), in reverse order. An auth.json
/// whose login is live in another folder now (`known_homes`, the vault's placements) is
/// not put back: its step says why, and the rest is restored.
pub fn plan(
    vault: &Vault,
    generation: &Generation,
    known_homes: &[PathBuf],
) -> Result<(Plan, Vec<Step>)> {
    let mut seen = std::collections::BTreeSet::new();
    let firsts: Vec<_> = generation
        .files
        .iter()
        .filter(|f| seen.insert(f.path.clone()))
        .collect();
    let mut actions = Vec::new();
    let mut steps = Vec::new();
    for f in firsts.into_iter().rev() {
        // A folder the generation removed (it rolled back the one that created it): the
        // files put back below create it again.
        if f.before_fingerprint.as_deref() == Some(CREATED_FOLDER) {
            continue;
        }
        let (step, action) = if f.after_fingerprint.as_deref() == Some(CREATED_FOLDER) {
            let (step, action) = created_folder(f, generation.id, &steps);
            (step, Some(action))
        } else {
            file_step(vault, f, generation.id, known_homes)?
        };
        steps.push(step);
        actions.extend(action);
    }
    // Threads the generation copied into a home go out again (rows, name, rollout).
    for t in generation.threads.iter().rev() {
        let (step, action) = thread_copy(t, generation.id);
        steps.push(step);
        actions.push(action);
    }
    let plan = Plan {
        manifest: PathBuf::new(),
        manifest_fingerprint: String::new(),
        actions,
        drift: vec![],
        errors: vec![],
        notes: vec![],
        observed: Default::default(),
        accepted: vec![],
    };
    Ok((plan, steps))
}

/// A folder the generation created: removed when nothing else is in it.
fn created_folder(
    f: &crate::vault::journal::JournalFile,
    generation: i64,
    before: &[Step],
) -> (Step, Action) {
    let step = Step {
        path: f.path.clone(),
        restore: false,
        folder: true,
        account: None,
        changed_since: false,
        // What the steps before it leave there (they remove what it created).
        note: folder_leftovers(&f.path, &going(before)).err(),
        refused: None,
    };
    let action = Action {
        address: crate::reconcile::Address::File(f.path.clone()),
        kind: ActionKind::Delete,
        description: format!(
            "remove the folder generation {generation} created, if nothing else is in it"
        ),
        changes: vec![],
        op: Op::RestoreFile {
            path: f.path.clone(),
            backup: None,
            after: f.after_fingerprint.clone(),
        },
    };
    (step, action)
}

/// A file the generation changed: put back from its backup (or removed, when it created
/// it). An auth.json whose login is live in another folder now is refused (no action).
fn file_step(
    vault: &Vault,
    f: &crate::vault::journal::JournalFile,
    generation: i64,
    known_homes: &[PathBuf],
) -> Result<(Step, Option<Action>)> {
    if let Some(b) = &f.backup
        && !b.exists()
    {
        return Err(Error::user(format!(
            "the backup {} of {} is gone",
            tick(b),
            tick(&f.path)
        ))
        .with_help("the backup folder was removed or damaged; restore the file by hand"));
    }
    let current = fsx::read_optional(&f.path)?.map(|b| fingerprint(&b));
    let saved = match &f.backup {
        Some(b) if is_auth_json(&f.path) => std::fs::read(b).ok(),
        _ => None,
    };
    // A preview for the person; the content is decided again under the locks.
    let note = saved
        .as_ref()
        .and_then(|saved| auth_content(vault, saved).ok())
        .and_then(|(_, note)| note);
    let refused = saved
        .as_ref()
        .map(|saved| live_copy_of(vault, saved, &fsx::parent_of(&f.path), known_homes))
        .transpose()?
        .flatten();
    // The login the file gets back, or (a removal) the one it holds now.
    let account = match &f.backup {
        _ if !is_auth_json(&f.path) => None,
        Some(_) => saved.as_ref().and_then(|bytes| login_in(vault, bytes)),
        None => fsx::read_optional(&f.path)?.and_then(|bytes| login_in(vault, &bytes)),
    };
    let step = Step {
        path: f.path.clone(),
        restore: f.backup.is_some(),
        folder: false,
        account,
        changed_since: current != f.after_fingerprint,
        note,
        refused: refused.clone(),
    };
    let action = refused.is_none().then(|| Action {
        address: crate::reconcile::Address::File(f.path.clone()),
        kind: ActionKind::Update,
        description: format!("restore from generation {generation}"),
        changes: vec![],
        op: Op::RestoreFile {
            path: f.path.clone(),
            backup: f.backup.clone(),
            after: f.after_fingerprint.clone(),
        },
    });
    Ok((step, action))
}

/// A thread the generation copied into a home: its rows, name and rollout go out again.
fn thread_copy(t: &crate::vault::journal::JournalThread, generation: i64) -> (Step, Action) {
    let home = crate::paths::display(&t.home);
    let changed = t.rollout.exists() && !t.unchanged();
    let step = Step {
        path: t.rollout.clone(),
        restore: false,
        folder: false,
        account: None,
        // Said in the note: a changed copy is kept in the trash, not backed up.
        changed_since: false,
        note: Some(format!(
            "the copy of thread {} in home `{home}`: its rows and name go too{}",
            t.thread_id,
            if changed {
                " (it changed since: it is kept in that home's trash)"
            } else {
                ""
            }
        )),
        refused: None,
    };
    let action = Action {
        address: crate::reconcile::Address::Copy {
            home: crate::reconcile::HomeId::Folder(home.clone()),
            id: t.thread_id.clone(),
        },
        kind: ActionKind::Delete,
        description: format!(
            "take thread {} out of `{home}` (generation {generation} copied it there)",
            t.thread_id
        ),
        changes: vec![],
        op: Op::RemoveThreadCopy {
            home: crate::reconcile::HomeId::Folder(home),
            path: t.home.clone(),
            id: t.thread_id.clone(),
            rollout: t.rollout.clone(),
            size: t.size,
            mtime_ns: t.mtime_ns,
        },
    };
    (step, action)
}

/// Why the ChatGPT login in `saved` (an auth.json) must not go back into `home`: the folder
/// where it is live now, in words.
fn live_copy_of(
    vault: &Vault,
    saved: &[u8],
    home: &Path,
    known_homes: &[PathBuf],
) -> Result<Option<String>> {
    let Ok(AuthState::Credentials(creds @ Credentials::ChatGpt(_))) = auth::parse(saved) else {
        return Ok(None);
    };
    let all = vault.accounts()?;
    let Some(account) = match_credentials(&all, &creds) else {
        return Ok(None);
    };
    let (found, _) = vault.find_live_copy(&account.id, home, known_homes)?;
    let there = match found {
        Some(f) => tick(&f),
        None => match vault.live_on_another_machine(&account.id)? {
            Some(r) => r.describe(),
            None => return Ok(None),
        },
    };
    Ok(Some(format!(
        "{} is live in {there} now: a second copy would end in `refresh_token_reused`",
        account.name()
    )))
}

/// The login an auth.json's bytes hold, by the vault's name for it (or as the file
/// describes it when the vault does not know it).
fn login_in(vault: &Vault, bytes: &[u8]) -> Option<String> {
    let Ok(AuthState::Credentials(creds)) = auth::parse(bytes) else {
        return None;
    };
    let all = vault.accounts().ok()?;
    Some(match match_credentials(&all, &creds) {
        Some(a) => a.name().to_string(),
        None => format!("{} (not in the vault)", creds.describe()),
    })
}

/// The files earlier steps remove.
fn going(steps: &[Step]) -> Vec<PathBuf> {
    let removed = steps.iter().filter(|s| !s.restore && s.refused.is_none());
    removed.map(|s| s.path.clone()).collect()
}

/// Codex's lock files that cdxs's own writes of auth.json leave in a home (Codex keeps
/// them too): a folder holding only these, unheld, is empty for rollback.
const LEFT_BY_WRITES: &[&str] = &["auth.lock", "auth.json.lock"];

/// What a created folder holds besides [`LEFT_BY_WRITES`]: `Ok` (those, to remove first)
/// when nothing else, else why it is kept.
fn folder_leftovers(dir: &Path, going: &[PathBuf]) -> std::result::Result<Vec<PathBuf>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("kept: cannot read it ({e})")),
    };
    let (mut ours, mut other) = (Vec::new(), Vec::new());
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if going.contains(&e.path()) {
            continue;
        }
        let file = e.file_type().is_ok_and(|t| t.is_file());
        if file
            && LEFT_BY_WRITES.contains(&name.as_str())
            && crate::platform::locks::holder(&e.path()).is_none()
        {
            ours.push(e.path());
        } else {
            other.push(name);
        }
    }
    if other.is_empty() {
        return Ok(ours);
    }
    other.sort();
    Err(format!(
        "kept: it is not empty ({} entr{}: {})",
        other.len(),
        if other.len() == 1 { "y" } else { "ies" },
        other
            .iter()
            .take(3)
            .map(|n| format!("`{}`", crate::text::sanitize(n)))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Remove a folder the rolled-back generation created, when nothing but Codex's lock files
/// from cdxs's own writes is in it; otherwise keep it and say why.
fn remove_created_folder(vault: &mut Vault, dir: &Path, step: homes::Step) -> Result<String> {
    if !dir.is_dir() {
        return Ok(format!("{} is already gone", tick(dir)));
    }
    let ours = match folder_leftovers(dir, &[]) {
        Ok(ours) => ours,
        Err(why) => return Ok(format!("{} {why}", tick(dir))),
    };
    for f in &ours {
        std::fs::remove_file(f).map_err(|e| Error::io(format!("cannot remove {}", tick(f)), e))?;
    }
    match std::fs::remove_dir(dir) {
        Ok(()) => {}
        // Something appeared meanwhile: it stays.
        Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty => {
            return Ok(format!("{} kept: something was written into it", tick(dir)));
        }
        Err(e) => return Err(Error::io(format!("cannot remove {}", tick(dir)), e)),
    }
    let _ = fsx::sync_dir(&fsx::parent_of(dir));
    vault.record_file(
        step.generation,
        step.seq,
        dir,
        None,
        Some(CREATED_FOLDER),
        None,
    )?;
    vault.clear_placement(dir)?;
    Ok(format!(
        "removed the folder {} (the generation created it)",
        tick(dir)
    ))
}

fn is_auth_json(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == auth::AUTH_FILE)
}

/// One `RestoreFile` action.
pub struct Restore<'a> {
    pub path: &'a Path,
    pub backup: Option<&'a Path>,
    pub after: Option<&'a str>,
    /// Every home cdxs knows: a login live in one of them is not put back elsewhere.
    pub known_homes: &'a [PathBuf],
}

/// What an auth.json restored from `saved` gets: for a ChatGPT login, the vault's newest
/// copy (both the file's current copy and the backup were harvested just before); anything
/// else (an API key, a foreign mode) as it was.
fn auth_content(vault: &Vault, saved: &[u8]) -> Result<(Vec<u8>, Option<String>)> {
    let Ok(AuthState::Credentials(creds @ Credentials::ChatGpt(_))) = auth::parse(saved) else {
        return Ok((saved.to_vec(), None));
    };
    let all = vault.accounts()?;
    let Some(account) = match_credentials(&all, &creds) else {
        return Ok((saved.to_vec(), None));
    };
    let spent = match account.secret_fingerprint() {
        Some(fp) => vault.is_spent(&fp)?,
        None => false,
    };
    match account.credentials() {
        Some(newest) if !spent => {
            let bytes = auth::render(&newest);
            let note = (bytes != saved)
                .then(|| format!("with the vault's newer tokens of {}", account.name()));
            Ok((bytes, note))
        }
        _ => Err(Error::NeedsLogin {
            account: account.name().to_string(),
            why:
                "every copy of its login that cdxs knows is spent; restoring it would log Codex out"
                    .into(),
        }),
    }
}

/// Restore one file (the caller holds the locks). Returns what was done and the backup of
/// the content it replaced.
pub fn restore(
    vault: &mut Vault,
    backups: &mut Backups,
    r: Restore,
    step: homes::Step,
    clock: &dyn Clock,
) -> Result<(String, Option<PathBuf>)> {
    let path = r.path;
    if r.after == Some(CREATED_FOLDER) {
        return Ok((remove_created_folder(vault, path, step)?, None));
    }
    let saved = match r.backup {
        Some(b) => Some(std::fs::read(b).map_err(|e| {
            Error::io(format!("cannot read the backup {}", tick(b)), e)
                .with_help("the backup folder was removed or damaged; restore the file by hand")
        })?),
        None => None,
    };
    // A file goes back into the folder it was in, made again when a rollback removed it
    // (journaled: rolling this back removes it again).
    let parent = fsx::parent_of(path);
    if saved.is_some() && !parent.exists() {
        fsx::ensure_private_dir(&parent)?;
        vault.record_created_folder(step.generation, step.seq, &parent)?;
    }
    let before = fsx::read_optional(path)?.map(|b| fingerprint(&b));
    let changed_since = before.as_deref() != r.after;
    let mut note = None;
    let outcome = if is_auth_json(path) {
        restore_auth(vault, backups, &r, saved.as_deref(), &mut note, clock.ts())?
    } else {
        restore_other(backups, path, saved.as_deref())?
    };
    let after = fsx::read_optional(path)?.map(|b| fingerprint(&b));
    let backup = match outcome {
        WriteOutcome::Written { backup } => backup,
        WriteOutcome::Unchanged => None,
    };
    vault.record_file(
        step.generation,
        step.seq,
        path,
        backup.as_deref(),
        before.as_deref(),
        after.as_deref(),
    )?;
    if is_auth_json(path) {
        remember_what_it_holds(vault, path, after.as_deref(), step.generation, clock.ts())?;
    }
    let mut message = match (&saved, after.is_some()) {
        (None, false) => format!("removed {} (the generation created it)", tick(path)),
        _ => format!("restored {}", tick(path)),
    };
    if let Some(n) = note {
        message.push_str(&format!(" {n}"));
    }
    if changed_since {
        message.push_str("; it had changed since, and that content is backed up too");
    }
    Ok((message, backup))
}

/// An auth.json put back (or removed, when the generation created it) inside Codex's
/// locks: both copies harvested first, never a login live in another folder now, never an
/// older or spent token than the vault has (`note` says what it got instead).
fn restore_auth(
    vault: &mut Vault,
    backups: &mut Backups,
    r: &Restore,
    saved: Option<&[u8]>,
    note: &mut Option<String>,
    now: i64,
) -> Result<WriteOutcome> {
    let path = r.path;
    let home = fsx::parent_of(path);
    match saved {
        Some(saved) => auth::write_with(
            &home,
            |current| {
                // Inside Codex's locks: the newest copies are known before deciding.
                if let Some(bytes) = current {
                    homes::harvest(vault, bytes, now)?;
                }
                homes::harvest(vault, saved, now)?;
                // The door: a login live in another folder now is not put back here.
                if let Some(why) = live_copy_of(vault, saved, &home, r.known_homes)? {
                    return Err(Error::user(format!("{} is not put back: {why}", tick(path)))
                        .with_help("take the login out of that folder first (`cdxs switch ACCOUNT --codex-home FOLDER` puts another one there), then roll back again"));
                }
                let (content, why) = auth_content(vault, saved)?;
                *note = why;
                Ok(Some(content))
            },
            |orig, bytes| backups.save(orig, bytes),
        ),
        None => auth::remove_with(
            &home,
            |current| {
                if let Some(bytes) = current {
                    homes::harvest(vault, bytes, now)?;
                }
                Ok(true)
            },
            |orig, bytes| backups.save(orig, bytes),
        ),
    }
}

/// Another file (the manifest, config.toml): back up what is there, then write the saved
/// content atomically, or remove the file the generation created.
fn restore_other(backups: &mut Backups, path: &Path, saved: Option<&[u8]>) -> Result<WriteOutcome> {
    let current = fsx::read_optional(path)?;
    Ok(match (saved, &current) {
        (Some(content), cur) if cur.as_deref() != Some(content) => {
            let backup = match cur {
                Some(bytes) => Some(backups.save(path, bytes)?),
                None => None,
            };
            // Keep the file's mode; a re-created one may hold secrets (config.toml). A
            // symlinked file (a dotfiles cdxs.yaml) is written where it points: the link
            // stays a link.
            let target = crate::manifest::edit::link_target(path)?;
            let mode = fsx::mode_of(&target).unwrap_or(fsx::SECRET_FILE_MODE);
            fsx::write_atomic(&target, content, mode)?;
            WriteOutcome::Written { backup }
        }
        (None, Some(bytes)) => {
            let backup = Some(backups.save(path, bytes)?);
            std::fs::remove_file(path)
                .map_err(|e| Error::io(format!("cannot remove {}", tick(path)), e))?;
            WriteOutcome::Written { backup }
        }
        _ => WriteOutcome::Unchanged,
    })
}

/// After an auth.json was restored: the drift baseline and the placement follow what the
/// folder holds now.
fn remember_what_it_holds(
    vault: &mut Vault,
    path: &Path,
    after: Option<&str>,
    generation: i64,
    now: i64,
) -> Result<()> {
    let home = fsx::parent_of(path);
    match (after, fsx::read_optional(path)?) {
        (Some(fp), Some(bytes)) => {
            let id = homes::account_of(vault, &bytes)?;
            vault.set_baseline(path, fp, id.as_deref(), Some(generation), now)?;
            match id {
                Some(id) => vault.set_placement(&home, &id, now)?,
                None => vault.clear_placement(&home)?,
            }
        }
        _ => {
            // cdxs removed it: nothing left to measure drift against.
            vault.clear_placement(&home)?;
            vault.clear_baseline(path)?;
        }
    }
    Ok(())
}
