//! The one executor: every command that writes (apply, switch, run, refresh-token,
//! rollback, the session commands) runs a [`Plan`] through here, as one numbered generation
//! in the journal ([`run_generation`]) with the backups of what it replaced. The caller
//! holds the locks ([`lock_for`]). A failed action stops the run; the error names the
//! action, the cause and the backup to restore from. Fault points let tests kill it
//! anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::observe::Observed;
use super::{Action, CredentialSource, HomeFingerprint, Op, Plan};
use crate::backup::Backups;
use crate::clock::Clock;
use crate::codex::auth::{self, Credentials};
use crate::codex::config;
use crate::error::{Error, Result, tick};
use crate::fsx::{self, FileLock};
use crate::manifest::Manifest;
use crate::secret::{Secret, fingerprint};
use crate::sessions::HomeRef;
use crate::vault::home_write::{self as homes, Expect, Source};
use crate::vault::journal::{GenerationSpec, Stopped, run_generation};
use crate::vault::{Account, Vault};

/// What apply needs from the outside world.
pub struct ApplyEnv<'a> {
    pub state_dir: &'a Path,
    /// Read at every use: an apply that waited for a lock stamps the time it wrote.
    pub clock: &'a dyn Clock,
    /// `apply`, `switch`, `run`, ... (recorded in the journal).
    pub command: &'a str,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Files the same command changed before the apply (the manifest, edited in place),
    /// journaled in this generation so that `rollback` restores them too.
    pub extra_files: Vec<FileChange>,
    /// Every home cdxs knows (declared ones and the default): a refresh searches them (and
    /// every folder the vault placed the login in) and updates them.
    pub known_homes: Vec<PathBuf>,
    /// The generation this one rolls back.
    pub rollback_of: Option<i64>,
    /// A refresh runs when the login is due within this many seconds (the window the plan
    /// was made with: Codex's 5 minutes, or `watch.refresh_before_expiry`), unless forced.
    pub refresh_window: i64,
}

/// A file changed outside the plan's actions, for the journal.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// What changed in it, for people (redacted).
    pub diff: Option<super::text_diff::TextDiff>,
}

/// One action's outcome, for the person.
#[derive(Debug, Clone)]
pub struct Done {
    pub address: super::Address,
    pub message: String,
    pub backup: Option<PathBuf>,
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
    if plan.actions.is_empty() && env.extra_files.is_empty() {
        accept(plan, vault, None, env.clock.ts())?;
        return Ok(Report::default());
    }
    let manifest_text = (!plan.manifest.as_os_str().is_empty())
        .then(|| plan.manifest.to_string_lossy().into_owned());
    let spec = GenerationSpec {
        command: env.command,
        manifest: manifest_text.as_deref(),
        rollback_of: env.rollback_of,
        actions: plan
            .actions
            .iter()
            .map(|a| {
                (
                    a.address.to_string(),
                    format!("{:?}", a.kind).to_lowercase(),
                    a.description.clone(),
                )
            })
            .collect(),
    };
    let mut run: Option<Run> = None;
    let result = run_generation(
        vault,
        &spec,
        env.clock,
        |vault, generation, seq| {
            let r = run.get_or_insert_with(|| Run::new(generation, env));
            if seq == 0 {
                for (i, f) in env.extra_files.iter().enumerate() {
                    vault.record_file(
                        generation,
                        plan.actions.len() + i,
                        &f.path,
                        f.backup.as_deref(),
                        f.before.as_deref(),
                        f.after.as_deref(),
                    )?;
                }
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
        Ok((generation, done)) => {
            let discarded = env.extra_files.is_empty()
                && run.as_ref().is_none_or(|r| !r.changed)
                && vault.discard_unchanged_generation(generation)?;
            if discarded {
                if let Some(r) = &run {
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
        Err(Stopped {
            generation,
            seq,
            done,
            error,
        }) => {
            let Some(action) = plan.actions.get(seq) else {
                return Err(error);
            };
            // A lock that could not be taken says who holds it; it needs nothing more
            // (and keeps its exit code, 3).
            if matches!(error, Error::LockTimeout { .. }) {
                return Err(error);
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
            if let Some((orig, b)) = run.as_ref().and_then(|r| r.backups.saved().last()) {
                help.push(format!(
                    "the previous {} is saved at {}",
                    tick(orig),
                    tick(b)
                ));
            }
            // The cause stays the source (the shell shows it, and adds its hint).
            Err(Error::Action {
                message: format!("`{}` failed", action.address),
                help: (!help.is_empty()).then(|| help.join("; ")),
                source: Some(Box::new(error)),
            })
        }
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

/// What one apply run knows across its actions.
struct Run<'a> {
    generation: i64,
    backups: Backups,
    /// Every home cdxs knows: refresh harvests from and updates them.
    homes: Vec<PathBuf>,
    /// Files this run already rewrote (a later write to one of them does not compare
    /// against what plan saw).
    touched: BTreeSet<PathBuf>,
    /// Homes whose Codex databases this run already backed up.
    dbs_saved: BTreeSet<PathBuf>,
    /// Codex's rollout maintenance locks this run holds (taken by the first session action
    /// in a home, held until the run ends).
    maintenance: BTreeMap<PathBuf, crate::codex::maintenance::Held>,
    /// Some action changed something (a file, a database, the vault's tokens).
    changed: bool,
    env: &'a ApplyEnv<'a>,
}

impl<'a> Run<'a> {
    fn new(generation: i64, env: &'a ApplyEnv<'a>) -> Self {
        let mut homes = env.known_homes.clone();
        if let Ok(default) = crate::paths::default_codex_home()
            && !homes.contains(&default)
        {
            homes.push(default);
        }
        Run {
            generation,
            backups: Backups::new(env.state_dir, &format!("gen{generation}")),
            homes,
            touched: BTreeSet::new(),
            dbs_saved: BTreeSet::new(),
            maintenance: BTreeMap::new(),
            changed: false,
            env,
        }
    }

    /// Before a session action moves, writes or deletes rollouts or their rows in a home:
    /// wait (`CDXS_LOCK_TIMEOUT`) while a Codex worker compresses or migrates that home's
    /// rollouts, then hold Codex's maintenance lock for the rest of the run.
    fn hold_maintenance(&mut self, id: &super::HomeId, home: &Path) -> Result<()> {
        let name = match id {
            super::HomeId::Named(n) | super::HomeId::Folder(n) => n.as_str(),
        };
        // Keyed by the resolved folder: a second flock on the same file from this process
        // would wait for itself.
        if let std::collections::btree_map::Entry::Vacant(slot) =
            self.maintenance.entry(crate::vault::lock::key(home))
        {
            slot.insert(crate::codex::maintenance::hold(
                home,
                name,
                fsx::lock_timeout(),
            )?);
        }
        Ok(())
    }

    /// Back up a home's Codex databases once per run (SQLite's online backup API).
    fn save_dbs(&mut self, home: &Path) -> Result<()> {
        if self.dbs_saved.insert(home.to_path_buf()) {
            crate::sessions::trash::backup_dbs(home, &mut self.backups)?;
        }
        Ok(())
    }
}

fn home_ref(home: &super::HomeId, path: &Path) -> HomeRef {
    HomeRef {
        name: match home {
            super::HomeId::Named(n) | super::HomeId::Folder(n) => n.clone(),
        },
        path: path.to_path_buf(),
    }
}

/// Take a copied thread out of a home again (rollback of a thread copy): through the trash,
/// so that rows and files go exactly as `session trash` takes them (under Codex's writer
/// lock: a live thread is refused), then purged when the rollout is still what the copy
/// left; a copy Codex continued since stays in the trash, restorable.
fn remove_thread_copy(
    h: &HomeRef,
    copied: &crate::vault::journal::JournalThread,
    run: &mut Run,
) -> Result<String> {
    let id = &copied.thread_id;
    crate::codex::rollout::check_thread_id(id, "the thread copy")?;
    let in_db = match crate::sessions::open_state(&h.path, false)? {
        Some(db) => db.has_thread(id)?,
        None => false,
    };
    let all = crate::codex::rollout::list(&h.path);
    if !in_db && !all.iter().any(|f| &f.thread_id == id) {
        return Ok(format!(
            "thread {id} is no longer in home `{}`: nothing to take out",
            h.name
        ));
    }
    let unchanged = copied.unchanged();
    crate::codex::writer_lock::lock(&h.path, id)?;
    run.save_dbs(&h.path)?;
    crate::sessions::trash::trash_one(h, id, &all, &mut run.backups, run.env.clock.ts())?;
    run.changed = true;
    if unchanged {
        crate::sessions::trash::purge_one(h, id)?;
        Ok(format!(
            "took the copy of thread {id} out of home `{}` (its rows, name and rollout)",
            h.name
        ))
    } else {
        Ok(format!(
            "moved thread {id} out of home `{}` into its trash: it changed since the copy (Codex continued it there); `cdxs session restore {id}` brings it back",
            h.name
        ))
    }
}

fn run_action(action: &Action, seq: usize, vault: &mut Vault, run: &mut Run) -> Result<Done> {
    let generation = run.generation;
    let env = run.env;
    let done = |message: String, backup: Option<PathBuf>| Done {
        address: action.address.clone(),
        message,
        backup,
    };
    match &action.op {
        Op::RepairThread { home, path, issue } => {
            run.hold_maintenance(home, path)?;
            run.save_dbs(path)?;
            let fixed = crate::sessions::visibility::repair(
                &home_ref(home, path),
                std::slice::from_ref(issue),
                &mut crate::sessions::visibility::Direct,
                env.clock.ts(),
            )?;
            run.changed |= !fixed.fixed.is_empty();
            Ok(done(
                if let Some(live) = fixed.live.first() {
                    format!("skipped: {live}")
                } else if fixed.fixed.is_empty() {
                    "nothing left to fix".into()
                } else {
                    format!("fixed: {}", issue.describe())
                },
                None,
            ))
        }
        Op::TrashThread { home, path, id } => {
            let h = home_ref(home, path);
            run.hold_maintenance(home, path)?;
            // A live thread is refused before anything is backed up or moved.
            crate::codex::writer_lock::lock(path, id)?;
            run.save_dbs(path)?;
            let all = crate::codex::rollout::list(path);
            let m =
                crate::sessions::trash::trash_one(&h, id, &all, &mut run.backups, env.clock.ts())?;
            run.changed = true;
            Ok(done(
                format!(
                    "moved thread {id} to the trash{}",
                    m.name.map(|n| format!(" (\"{n}\")")).unwrap_or_default()
                ),
                None,
            ))
        }
        Op::RestoreThread { home, path, id } => {
            run.hold_maintenance(home, path)?;
            run.save_dbs(path)?;
            let m = crate::sessions::trash::restore_one(&home_ref(home, path), id)?;
            run.changed = true;
            Ok(done(
                format!(
                    "restored thread {id}{}",
                    m.name.map(|n| format!(" (\"{n}\")")).unwrap_or_default()
                ),
                None,
            ))
        }
        // The engine runs these outside the locks (engine/sync_actions.rs): a pull takes the
        // vault lock itself, so under this executor's it would wait on itself.
        Op::Sync { .. } => Err(crate::error::Error::user(format!(
            "`{}` cannot run with the local actions",
            action.address
        ))),
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
            let h = home_ref(home, path);
            let message = remove_thread_copy(&h, &copied, run)?;
            Ok(done(message, None))
        }
        Op::PurgeTrash { home, path, id } => {
            run.hold_maintenance(home, path)?;
            crate::sessions::trash::purge_one(&home_ref(home, path), id)?;
            run.changed = true;
            Ok(done(format!("deleted trashed thread {id}"), None))
        }
        Op::CopyThread {
            copy,
            from_path,
            to_path,
        } => {
            // The source too: its file may be renamed into `.jsonl.zst` while it is read.
            let (from, to) = (
                super::HomeId::of_shown(&copy.from),
                super::HomeId::of_shown(&copy.to),
            );
            run.hold_maintenance(&from, from_path)?;
            run.hold_maintenance(&to, to_path)?;
            run.save_dbs(to_path)?;
            let copied = crate::sessions::share::copy(
                &home_ref(&from, from_path),
                &home_ref(&to, to_path),
                copy,
                env.clock.now(),
            )?;
            let message = match copied {
                crate::sessions::share::Copied::Live(why) => format!("skipped: {why}"),
                crate::sessions::share::Copied::AlreadyThere => {
                    format!("home `{}` already has thread {}", copy.to, copy.id)
                }
                crate::sessions::share::Copied::Done => {
                    run.changed = true;
                    // Journaled: `rollback` of this generation takes the copy out again.
                    vault.record_thread_copy(generation, seq, to_path, &copy.id, &copy.target)?;
                    format!("copied thread {} into {}", copy.id, tick(&copy.target))
                }
            };
            Ok(done(message, None))
        }
        Op::Refresh { account_id, force } => {
            let outcome = crate::auth::refresh::refresh_locked(
                vault,
                &mut run.backups,
                &run.homes,
                account_id,
                *force,
                env.refresh_window,
                env.clock,
            )?;
            run.changed |= outcome.result != crate::auth::refresh::Refreshed::NotNeeded
                || !outcome.written.is_empty();
            vault.record_auth_writes(
                generation,
                seq,
                &outcome.written,
                account_id,
                env.clock.ts(),
            )?;
            run.touched
                .extend(outcome.written.iter().map(|(f, _)| f.clone()));
            let name = vault
                .account(account_id)?
                .map(|a| a.name().to_string())
                .unwrap_or_default();
            let mut message = match outcome.result {
                crate::auth::refresh::Refreshed::Refreshed if *force => {
                    format!("refreshed {name}'s tokens")
                }
                crate::auth::refresh::Refreshed::Refreshed => {
                    format!("refreshed {name}'s tokens first (they were about to expire)")
                }
                crate::auth::refresh::Refreshed::TookNewer => {
                    format!("took newer tokens of {name} from a home")
                }
                crate::auth::refresh::Refreshed::NotNeeded => {
                    format!("{name}'s tokens were fresh")
                }
            };
            for (f, _) in &outcome.written {
                message.push_str(&format!("; wrote the new tokens into {}", tick(f)));
            }
            Ok(done(message, None))
        }
        Op::SetBaseUrl {
            path, url, expect, ..
        } => {
            fsx::ensure_private_dir(path)?;
            let file = config::config_path(path);
            let check = (!run.touched.contains(&file)).then_some(expect);
            let w = homes::set_config_key_journaled(
                vault,
                &mut run.backups,
                path,
                config::BASE_URL_KEY,
                url.as_deref(),
                check,
                homes::Step { generation, seq },
            )?;
            run.touched.insert(file.clone());
            run.changed |= w.before != w.after;
            Ok(done(
                match url {
                    Some(u) => format!(
                        "set `openai_base_url = \"{}\"` in {}",
                        config::display_url(u),
                        tick(&file)
                    ),
                    None => format!("removed `openai_base_url` from {}", tick(&file)),
                },
                w.backup,
            ))
        }
        Op::SetCredentialsStore { path, expect, .. } => {
            fsx::ensure_private_dir(path)?;
            let file = config::config_path(path);
            let check = (!run.touched.contains(&file)).then_some(expect);
            let w = homes::set_config_key_journaled(
                vault,
                &mut run.backups,
                path,
                config::STORE_KEY,
                Some("file"),
                check,
                homes::Step { generation, seq },
            )?;
            run.touched.insert(file.clone());
            Ok(done(
                format!(
                    "set `cli_auth_credentials_store = \"file\"` in {}",
                    tick(&file)
                ),
                w.backup,
            ))
        }
        Op::CreateHomeDir { path, .. } => {
            let created = !path.exists();
            fsx::ensure_private_dir(path)?;
            if created {
                // Journaled: `rollback` removes it again (when it is empty by then).
                vault.record_created_folder(generation, seq, path)?;
                run.changed = true;
            }
            Ok(done(format!("created {}", tick(path)), None))
        }
        Op::ImportAuthFile { path, alias } => {
            let doc = auth::read_file(path)?;
            let auth::AuthState::Credentials(creds) = doc.state else {
                return Err(Error::user(format!(
                    "{} holds no credentials cdxs can import",
                    tick(path)
                )));
            };
            let account = Account::from_credentials(&creds, None, "auth_file", env.clock.ts());
            let (outcome, stored) = vault.upsert(&account)?;
            run.changed |= matches!(
                outcome,
                crate::vault::accounts::Upsert::Created | crate::vault::accounts::Upsert::Updated
            );
            Ok(done(
                format!("{alias}: {:?} {} ({})", outcome, stored.name(), stored.id).to_lowercase(),
                None,
            ))
        }
        Op::Harvest {
            path, account_id, ..
        } => {
            let file = auth::auth_path(path);
            let Some(bytes) = fsx::read_optional(&file)? else {
                return Ok(done("nothing to take: the file is gone".into(), None));
            };
            let harvested = homes::harvest(vault, &bytes, env.clock.ts())?;
            run.changed |= harvested.is_some();
            vault.set_baseline(
                &file,
                &fingerprint(&bytes),
                Some(account_id),
                Some(generation),
                env.clock.ts(),
            )?;
            Ok(done(
                match harvested {
                    Some(h) => format!("took the newer tokens of {}", h.name),
                    None => "the vault already had these tokens".into(),
                },
                None,
            ))
        }
        Op::WriteAuth {
            path,
            source,
            expect,
            any,
            ..
        } => {
            let file = auth::auth_path(path);
            let source = match source {
                CredentialSource::Vault { account_id } => Source::Vault(account_id),
                CredentialSource::Env {
                    var,
                    key_fingerprint,
                } => {
                    let key = (env.env)(var)
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                        .ok_or_else(|| {
                            Error::user(format!("environment variable `{var}` is not set"))
                        })?;
                    let key = Secret::new(key);
                    if &key.fingerprint() != key_fingerprint {
                        return Err(Error::user(format!(
                            "the API key in `${var}` changed since the plan was made"
                        ))
                        .with_help("run `cdxs plan` again"));
                    }
                    Source::Direct(Credentials::ApiKey {
                        key,
                        extra: Default::default(),
                    })
                }
            };
            let expect = if *any || run.touched.contains(&file) {
                Expect::Anything
            } else {
                Expect::Fingerprint(expect.clone())
            };
            let (written, backup) = homes::write_journaled(
                vault,
                &mut run.backups,
                path,
                source,
                &expect,
                homes::Step { generation, seq },
                env.clock.ts(),
                &run.homes,
            )?;
            run.touched.insert(file.clone());
            run.changed |= written.harvested.is_some()
                || matches!(written.outcome, auth::WriteOutcome::Written { .. });
            let mut message = match &written.outcome {
                auth::WriteOutcome::Unchanged => {
                    format!("{} already held {}", tick(&file), written.account.name())
                }
                auth::WriteOutcome::Written { .. } => {
                    format!("wrote {} ({})", tick(&file), written.account.name())
                }
            };
            if let Some(h) = &written.harvested {
                message.push_str(&if h.imported {
                    format!("; saved new login {} into the vault first", h.name)
                } else {
                    format!("; took newer tokens of {} into the vault first", h.name)
                });
            }
            Ok(done(message, backup))
        }
        Op::RemoveAuth { path, account_id } => {
            let file = auth::auth_path(path);
            let before = fsx::read_optional(&file)?.map(|b| fingerprint(&b));
            let outcome = auth::remove_with(
                path,
                |current| {
                    let Some(bytes) = current else {
                        return Ok(false);
                    };
                    homes::harvest(vault, bytes, env.clock.ts())?;
                    // Only the login being moved is removed; anything else stays.
                    homes::holds_account(vault, bytes, account_id)
                },
                |orig, bytes| run.backups.save(orig, bytes),
            )?;
            let backup = match outcome {
                auth::WriteOutcome::Written { backup } => backup,
                auth::WriteOutcome::Unchanged => {
                    return Ok(done(format!("{} no longer held it", tick(&file)), None));
                }
            };
            vault.record_file(
                generation,
                seq,
                &file,
                backup.as_deref(),
                before.as_deref(),
                None,
            )?;
            vault.clear_placement(path)?;
            // A swap writes this home's new login next: not against what plan saw.
            run.touched.insert(file.clone());
            run.changed = true;
            Ok(done(
                format!("removed the login from {}", tick(&file)),
                backup,
            ))
        }
        Op::RestoreFile {
            path,
            backup,
            after,
        } => {
            let (message, saved) = super::rollback::restore(
                vault,
                &mut run.backups,
                super::rollback::Restore {
                    path,
                    backup: backup.as_deref(),
                    after: after.as_deref(),
                    known_homes: &run.homes,
                },
                homes::Step { generation, seq },
                env.clock,
            )?;
            run.changed = true;
            Ok(done(message, saved))
        }
    }
}
