//! The one executor: every command that writes (apply, switch, run, refresh-token,
//! rollback, the session commands) runs a [`Plan`] through here, as one numbered generation
//! in the journal ([`run_generation`]) with the backups of what it replaced. The caller
//! holds the locks ([`lock_for`]). A failed action stops the run; the error names the
//! action, the cause and the backup to restore from. Fault points let tests kill it
//! anywhere.

mod accounts;
mod config;
mod files;
mod logins;
mod run;
mod sessions;

use std::path::{Path, PathBuf};

use self::run::Run;
use super::observe::Observed;
use super::{Action, CredentialSource, HomeFingerprint, Op, Plan};
use crate::clock::Clock;
use crate::codex::auth;
use crate::error::{Error, Result, tick};
use crate::fsx::{self, FileLock};
use crate::manifest::Manifest;
use crate::vault::Vault;
use crate::vault::journal::{GenerationSpec, Stopped, run_generation};

/// What apply needs from the outside world.
pub struct ApplyEnv<'a> {
    pub state_dir: &'a Path,
    /// Read at every use: an apply that waited for a lock stamps the time it wrote.
    pub clock: &'a dyn Clock,
    /// `apply`, `switch`, `run`, ... (recorded in the journal).
    pub command: &'a str,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Every home cdxs knows (declared ones and the default): a refresh searches them (and
    /// every folder the vault placed the login in) and updates them.
    pub known_homes: Vec<PathBuf>,
    /// The generation this one rolls back.
    pub rollback_of: Option<i64>,
    /// A refresh runs when the login is due within this many seconds (the window the plan
    /// was made with: Codex's 5 minutes, or `watch.refresh_before_expiry`), unless forced.
    pub refresh_window: i64,
}

/// One action's outcome, for the person.
#[derive(Debug, Clone)]
pub struct Done {
    pub address: super::Address,
    pub message: String,
    pub backup: Option<PathBuf>,
    /// A put account: what the vault made of it, and the id it is stored under.
    pub account: Option<(crate::vault::accounts::Upsert, String)>,
    /// An imported vault archive: what became of each account.
    pub imported: Option<Box<crate::archive::Imported>>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub generation: Option<i64>,
    pub done: Vec<Done>,
}

/// The locks an apply holds while it checks and executes a plan: the vault's, then one per
/// folder it writes in.
pub struct Held {
    _vault: FileLock,
    homes: Vec<(PathBuf, FileLock)>,
}

/// The folders a plan writes in (a refresh may rewrite any folder holding the login: all
/// known homes and the vault's placements).
fn folders(plan: &Plan, vault: &Vault, known_homes: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = plan
        .actions
        .iter()
        .flat_map(|a| a.op.folders())
        .map(Path::to_path_buf)
        .collect();
    for a in &plan.actions {
        if let Op::Refresh { account_id, .. } = &a.op {
            paths.extend(plan.observed.values().map(|h| h.path.clone()));
            paths.extend(known_homes.iter().cloned());
            paths.extend(vault.placements_of(account_id)?);
        }
    }
    Ok(paths)
}

/// Take the vault lock and the locks of every folder the plan writes in.
pub fn lock_for(
    plan: &Plan,
    state_dir: &Path,
    holder: &str,
    vault: &Vault,
    known_homes: &[PathBuf],
) -> Result<Held> {
    let vault_lock = crate::vault::lock::vault(state_dir, holder)?;
    let mut held = Held {
        _vault: vault_lock,
        homes: Vec::new(),
    };
    held.extend(plan, state_dir, holder, vault, known_homes)?;
    Ok(held)
}

impl Held {
    /// Also lock the folders of `plan` not held yet (a plan made again under the locks).
    /// The vault lock is held, so no other cdxs can hold one of these while waiting for it.
    pub fn extend(
        &mut self,
        plan: &Plan,
        state_dir: &Path,
        holder: &str,
        vault: &Vault,
        known_homes: &[PathBuf],
    ) -> Result<()> {
        let mut wanted: Vec<(PathBuf, PathBuf)> = folders(plan, vault, known_homes)?
            .into_iter()
            .map(|p| (crate::vault::lock::key(&p), p))
            .filter(|(k, _)| !self.homes.iter().any(|(h, _)| h == k))
            .collect();
        wanted.sort();
        wanted.dedup_by(|a, b| a.0 == b.0);
        for (key, path) in wanted {
            let lock = crate::vault::lock::home(state_dir, &path, holder)?;
            self.homes.push((key, lock));
        }
        Ok(())
    }
}

/// Compare what a plan observed with the world now. Returns the first difference, in
/// words.
pub fn stale_reason(plan: &Plan, manifest: &Manifest, now: &Observed) -> Option<String> {
    if plan.manifest_fingerprint != manifest.fingerprint() {
        return Some(format!(
            "{} changed since the plan was made",
            tick(&manifest.path)
        ));
    }
    for (name, then) in &plan.observed {
        let Some(obs) = now.homes.get(name) else {
            return Some(format!("home `{name}` is no longer declared"));
        };
        let current = HomeFingerprint {
            path: obs.path.clone(),
            dir_exists: obs.dir_exists,
            auth: obs.auth_fingerprint.clone(),
        };
        if &current != then {
            return Some(format!(
                "home `{name}` ({}) changed since the plan was made",
                crate::paths::display(&obs.path)
            ));
        }
    }
    for a in &plan.actions {
        if let Op::WriteAuth {
            source:
                CredentialSource::Env {
                    var,
                    key_fingerprint,
                },
            ..
        } = &a.op
            && now.env_keys.get(var).cloned().flatten().as_deref() != Some(key_fingerprint.as_str())
        {
            return Some(format!(
                "the API key in `${var}` changed since the plan was made"
            ));
        }
    }
    None
}

/// Execute `plan` as one generation. The caller holds the locks (see [`lock_for`]) and has
/// checked that the plan is not stale. `progress` sees each action before it runs.
///
/// A generation records what changed: when every action found its work already done (a
/// refresh another process made first, a file that already held its login) and no file was
/// journaled, it is dropped again, with any backup it made, and the report has no
/// generation. `watch` therefore writes a generation only when it wrote something.
pub fn apply(
    plan: &Plan,
    vault: &mut Vault,
    env: &ApplyEnv,
    progress: &mut dyn FnMut(&Action),
) -> Result<Report> {
    vault.mark_interrupted(env.clock.ts())?;
    // Temp files of a killed writer, in homes this apply does not otherwise touch.
    for home in plan.observed.values() {
        fsx::remove_temps_older_than(
            &home.path,
            auth::AUTH_FILE,
            std::time::Duration::from_secs(60),
        );
    }
    if plan.actions.is_empty() {
        accept(plan, vault, None, env.clock.ts())?;
        return Ok(Report::default());
    }
    let manifest_text = (!plan.manifest.as_os_str().is_empty())
        .then(|| plan.manifest.to_string_lossy().into_owned());
    let spec = GenerationSpec {
        command: env.command,
        manifest: manifest_text.as_deref(),
        rollback_of: env.rollback_of,
        actions: plan.actions.iter().map(journaled).collect(),
    };
    let mut run: Option<Run> = None;
    let result = run_generation(
        vault,
        &spec,
        env.clock,
        |vault, generation, seq| {
            let r = run.get_or_insert_with(|| Run::new(generation, env));
            if seq == 0 {
                fsx::fault_point("apply.after_begin");
            }
            let action = &plan.actions[seq];
            progress(action);
            fsx::fault_point("apply.before_action");
            let done = run_action(action, seq, vault, r)?;
            fsx::fault_point("apply.after_action");
            Ok(done)
        },
        |vault, generation| accept(plan, vault, Some(generation), env.clock.ts()),
    );
    match result {
        Ok((generation, done)) => finished(vault, run.as_ref(), generation, done),
        Err(stopped) => Err(failed(plan, run.as_ref(), stopped)),
    }
}

/// An action as the journal records it: address, kind, and its description (saying when
/// rollback cannot undo it).
fn journaled(a: &Action) -> (String, String, String) {
    (
        a.address.to_string(),
        format!("{:?}", a.kind).to_lowercase(),
        match a.op.irreversible() {
            Some(why) => crate::vault::journal::not_undone(&a.description, why),
            None => a.description.clone(),
        },
    )
}

/// A generation that ran to its end; dropped again (with its backups) when it changed
/// nothing.
fn finished(
    vault: &mut Vault,
    run: Option<&Run>,
    generation: i64,
    done: Vec<Done>,
) -> Result<Report> {
    let discarded =
        run.is_none_or(|r| !r.changed) && vault.discard_unchanged_generation(generation)?;
    if discarded {
        if let Some(r) = run {
            r.backups.discard();
        }
        return Ok(Report {
            generation: None,
            done,
        });
    }
    Ok(Report {
        generation: Some(generation),
        done,
    })
}

/// The error of a generation that stopped at an action: the action, the cause (kept as the
/// source), what stayed done and the backup to restore from.
fn failed(plan: &Plan, run: Option<&Run>, stopped: Stopped) -> Error {
    let Stopped {
        generation,
        seq,
        done,
        error,
    } = stopped;
    let error = *error;
    let Some(action) = plan.actions.get(seq) else {
        return error;
    };
    // A lock that could not be taken says who holds it; it needs nothing more (and keeps
    // its exit code, 3).
    if matches!(error, Error::LockTimeout { .. }) {
        return error;
    }
    let mut help: Vec<String> = miette::Diagnostic::help(&error)
        .map(|h| h.to_string())
        .into_iter()
        .collect();
    help.push(if done > 0 {
        format!(
            "{done} earlier action(s) of generation {generation} stayed done; see `cdxs history {generation}`"
        )
    } else {
        format!("nothing else was changed; see `cdxs history {generation}`")
    });
    if let Some((orig, b)) = run.and_then(|r| r.backups.saved().last()) {
        help.push(format!(
            "the previous {} is saved at {}",
            tick(orig),
            tick(b)
        ));
    }
    // The cause stays the source (the shell shows it, and adds its hint).
    Error::Action {
        message: format!("`{}` failed", action.address),
        help: (!help.is_empty()).then(|| help.join("; ")),
        source: Some(Box::new(error)),
    }
}

/// Record the homes that already matched as the drift baseline.
fn accept(plan: &Plan, vault: &mut Vault, generation: Option<i64>, now: i64) -> Result<()> {
    let baselines = vault.baselines()?;
    for a in &plan.accepted {
        let same = baselines
            .get(&a.path)
            .is_some_and(|b| b.fingerprint == a.fingerprint && b.account_id == a.account_id);
        if !same {
            vault.set_baseline(
                &a.path,
                &a.fingerprint,
                a.account_id.as_deref(),
                generation,
                now,
            )?;
        }
    }
    Ok(())
}

/// What one operation did: a line for the person and the backup of what it replaced.
pub(super) struct Did {
    message: String,
    backup: Option<PathBuf>,
    account: Option<(crate::vault::accounts::Upsert, String)>,
    imported: Option<Box<crate::archive::Imported>>,
}

impl Did {
    fn said(message: String) -> Did {
        Did {
            message,
            backup: None,
            account: None,
            imported: None,
        }
    }

    fn backed(message: String, backup: Option<PathBuf>) -> Did {
        Did {
            backup,
            ..Did::said(message)
        }
    }
}

/// Run one action: one small function per operation.
fn run_action(action: &Action, seq: usize, vault: &mut Vault, run: &mut Run) -> Result<Done> {
    let did = match &action.op {
        Op::RepairThread { home, path, issue } => sessions::repair_thread(run, home, path, issue),
        Op::TrashThread { home, path, id } => sessions::trash_thread(run, home, path, id),
        Op::RestoreThread { home, path, id } => sessions::restore_thread(run, home, path, id),
        Op::PurgeTrash { home, path, id } => sessions::purge_trash(run, home, path, id),
        Op::CopyThread {
            copy,
            from_path,
            to_path,
        } => sessions::copy_thread(run, vault, seq, copy, from_path, to_path),
        Op::RemoveThreadCopy {
            home,
            path,
            id,
            rollout,
            size,
            mtime_ns,
        } => {
            let copied = crate::vault::journal::JournalThread {
                seq: seq as i64,
                home: path.clone(),
                thread_id: id.clone(),
                rollout: rollout.clone(),
                size: *size,
                mtime_ns: *mtime_ns,
            };
            sessions::remove_thread_copy(run, home, &copied)
        }
        // The engine runs these outside the locks (engine/sync_actions.rs): a pull takes the
        // vault lock itself, so under this executor's it would wait on itself.
        Op::Sync { .. } => Err(Error::user(format!(
            "`{}` cannot run with the local actions",
            action.address
        ))),
        Op::Refresh { account_id, force } => logins::refresh(run, vault, seq, account_id, *force),
        Op::SetBaseUrl {
            path, url, expect, ..
        } => config::set_base_url(run, vault, seq, path, url.as_deref(), expect),
        Op::SetCredentialsStore { path, expect, .. } => {
            config::set_credentials_store(run, vault, seq, path, expect)
        }
        Op::CreateHomeDir { path, .. } => config::create_home_dir(run, vault, seq, path),
        Op::ImportAuthFile { path, alias } => logins::import_auth_file(run, vault, path, alias),
        Op::Harvest {
            path, account_id, ..
        } => logins::harvest(run, vault, path, account_id),
        Op::WriteAuth {
            home,
            path,
            source,
            expect,
            any,
            ..
        } => logins::write_auth(run, vault, seq, (home, path), source, expect, *any),
        Op::RemoveAuth { path, account_id } => {
            logins::remove_auth(run, vault, seq, path, account_id)
        }
        Op::RestoreFile {
            path,
            backup,
            after,
        } => logins::restore_file(run, vault, seq, path, backup.as_deref(), after.as_deref()),
        Op::PutAccount { account } => accounts::put(run, vault, account),
        Op::RemoveAccount { account_id } => accounts::remove(run, vault, account_id),
        Op::RenameAccount { account_id, name } => accounts::rename(run, vault, account_id, name),
        Op::KeepPlacement { path, account_id } => {
            accounts::keep_placement(run, vault, path, account_id)
        }
        Op::ForgetDevice { device } => accounts::forget_device(run, vault, device),
        Op::ForgetPlacement { path, account_id } => {
            accounts::forget_placement(run, vault, path, account_id)
        }
        Op::ImportArchive { file, contents } => {
            accounts::import_archive(run, vault, file, contents)
        }
        Op::WriteManifest { path, before, text } => {
            files::write_manifest(run, vault, seq, path, before.as_deref(), &text.0)
        }
        Op::DeleteBackup { path, folder } => files::delete_backup(run, path, *folder),
    }?;
    Ok(Done {
        address: action.address.clone(),
        message: did.message,
        backup: did.backup,
        account: did.account,
        imported: did.imported,
    })
}
