//! Apply: execute a plan's actions in order, under the vault lock and the locks of the
//! homes they touch, each apply a numbered generation in the journal with the backups of
//! what it replaced. A failed action stops the apply; the error names the action, the cause
//! and the backup to restore from. Fault points let tests kill apply anywhere.

use std::path::{Path, PathBuf};

use super::observe::{self, Observed};
use super::{Action, CredentialSource, HomeFingerprint, Op, Plan, locks};
use crate::backup::Backups;
use crate::codex::auth::{self, Credentials};
use crate::codex::config;
use crate::error::{Error, Result, tick};
use crate::fsx::{self, FileLock};
use crate::homes::{self, Expect, Source};
use crate::manifest::Manifest;
use crate::secret::{Secret, fingerprint};
use crate::vault::{Account, Vault};

/// What apply needs from the outside world.
pub struct ApplyEnv<'a> {
    pub state_dir: &'a Path,
    pub now: i64,
    /// `apply`, `switch`, `run`, ... (recorded in the journal).
    pub command: &'a str,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Files the same command changed before the apply (the manifest, edited in place),
    /// journaled in this generation so that `rollback` restores them too.
    pub extra_files: Vec<FileChange>,
}

/// A file changed outside the plan's actions, for the journal.
#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: PathBuf,
    pub backup: Option<PathBuf>,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One action's outcome, for the person.
#[derive(Debug, Clone)]
pub struct Done {
    pub address: String,
    pub message: String,
    pub backup: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Report {
    pub generation: Option<i64>,
    pub done: Vec<Done>,
}

/// The locks an apply holds while it checks and executes a plan.
pub struct Held {
    _vault: FileLock,
    _homes: Vec<FileLock>,
}

/// Take the vault lock and the locks of every home the plan touches.
pub fn lock_for(plan: &Plan, state_dir: &Path, holder: &str) -> Result<Held> {
    let vault = locks::vault(state_dir, holder)?;
    let paths: Vec<&Path> = plan
        .actions
        .iter()
        .filter_map(|a| match &a.op {
            Op::CreateHomeDir { path, .. }
            | Op::WriteAuth { path, .. }
            | Op::SetBaseUrl { path, .. }
            | Op::Harvest { path, .. }
            | Op::RepairThread { path, .. }
            | Op::PurgeTrash { path, .. } => Some(path.as_path()),
            Op::CopyThread { to_path, .. } => Some(to_path.as_path()),
            Op::ImportAuthFile { .. } | Op::Refresh { .. } => None,
        })
        // A refresh may rewrite any home that holds the login.
        .chain(
            plan.actions
                .iter()
                .any(|a| matches!(a.op, Op::Refresh { .. }))
                .then(|| plan.observed.values().map(|h| h.path.as_path()))
                .into_iter()
                .flatten(),
        )
        .collect();
    let homes = locks::homes(state_dir, paths, holder)?;
    Ok(Held {
        _vault: vault,
        _homes: homes,
    })
}

/// Compare what a (saved or shown) plan observed with the world now. Returns the first
/// home that changed, in words.
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

/// Execute `plan`. The caller holds the locks (see [`lock_for`]) and has checked that the
/// plan is not stale.
pub fn apply(
    plan: &Plan,
    vault: &mut Vault,
    env: &ApplyEnv,
    progress: &mut dyn FnMut(&Action),
) -> Result<Report> {
    vault.mark_interrupted(env.now)?;
    // Temp files of a killed writer, in homes this apply does not otherwise touch.
    for home in plan.observed.values() {
        fsx::remove_temps_older_than(
            &home.path,
            auth::AUTH_FILE,
            std::time::Duration::from_secs(60),
        );
    }
    if plan.actions.is_empty() && env.extra_files.is_empty() {
        accept(plan, vault, None, env.now)?;
        return Ok(Report {
            generation: None,
            done: Vec::new(),
        });
    }
    let listed: Vec<(String, String, String)> = plan
        .actions
        .iter()
        .map(|a| {
            (
                a.address.clone(),
                format!("{:?}", a.kind).to_lowercase(),
                a.description.clone(),
            )
        })
        .collect();
    let generation = vault.begin_generation(
        env.command,
        Some(&plan.manifest.to_string_lossy()),
        None,
        &listed,
        env.now,
    )?;
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
    let mut homes: Vec<PathBuf> = plan.observed.values().map(|h| h.path.clone()).collect();
    if let Ok(default) = crate::paths::default_codex_home()
        && !homes.contains(&default)
    {
        homes.push(default);
    }
    let mut run = Run {
        generation,
        backups: Backups::new(env.state_dir, &format!("gen{generation}")),
        homes,
        touched: Default::default(),
        dbs_saved: Default::default(),
        env,
    };
    let mut done = Vec::new();
    for (seq, action) in plan.actions.iter().enumerate() {
        progress(action);
        fsx::fault_point("apply.before_action");
        match run_action(action, seq, vault, &mut run) {
            Ok(d) => {
                vault.finish_action(generation, seq, None)?;
                fsx::fault_point("apply.after_action");
                done.push(d);
            }
            Err(err) => {
                let cause = err.to_string();
                vault.finish_action(generation, seq, Some(&cause))?;
                vault.finish_generation(generation, false, Some(&cause), env.now)?;
                let backup = run
                    .backups
                    .saved()
                    .last()
                    .map(|(orig, b)| (orig.clone(), b.clone()));
                let mut help = format!(
                    "{} earlier action(s) of generation {generation} stayed done; see `cdxs history {generation}`",
                    done.len()
                );
                if let Some((orig, b)) = backup {
                    help.push_str(&format!(
                        "; the previous {} is saved at {}",
                        tick(&orig),
                        tick(&b)
                    ));
                }
                return Err(Error::Action {
                    message: format!("`{}` failed: {cause}", action.address),
                    help: Some(help),
                    source: None,
                });
            }
        }
    }
    accept(plan, vault, Some(generation), env.now)?;
    vault.finish_generation(generation, true, None, env.now)?;
    Ok(Report {
        generation: Some(generation),
        done,
    })
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
    /// Every home cdxs knows (declared ones and the default): refresh harvests from and
    /// updates them.
    homes: Vec<PathBuf>,
    /// auth.json files this run already rewrote (a later write to one of them does not
    /// compare against what plan saw).
    touched: std::collections::BTreeSet<PathBuf>,
    /// Homes whose Codex databases this run already backed up.
    dbs_saved: std::collections::BTreeSet<PathBuf>,
    env: &'a ApplyEnv<'a>,
}

fn run_action(action: &Action, seq: usize, vault: &mut Vault, run: &mut Run) -> Result<Done> {
    let generation = run.generation;
    let env = run.env;
    let backups = &mut run.backups;
    let done = |message: String, backup: Option<PathBuf>| Done {
        address: action.address.clone(),
        message,
        backup,
    };
    let save_dbs = |run: &mut Run, home: &Path| -> Result<()> {
        if run.dbs_saved.insert(home.to_path_buf()) {
            crate::sessions::trash::backup_dbs(home, &mut run.backups)?;
        }
        Ok(())
    };
    match &action.op {
        Op::RepairThread { home, path, issue } => {
            save_dbs(run, path)?;
            let h = crate::sessions::HomeRef {
                name: home.clone(),
                path: path.clone(),
            };
            let fixed = crate::sessions::visibility::repair(
                &h,
                std::slice::from_ref(issue),
                &mut crate::sessions::visibility::Direct,
                run.env.now,
            )?;
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
        Op::PurgeTrash { home, path, id } => {
            let h = crate::sessions::HomeRef {
                name: home.clone(),
                path: path.clone(),
            };
            crate::sessions::trash::purge_one(&h, id)?;
            Ok(done(format!("deleted trashed thread {id}"), None))
        }
        Op::CopyThread {
            copy,
            from_path,
            to_path,
        } => {
            save_dbs(run, to_path)?;
            let from = crate::sessions::HomeRef {
                name: copy.from.clone(),
                path: from_path.clone(),
            };
            let to = crate::sessions::HomeRef {
                name: copy.to.clone(),
                path: to_path.clone(),
            };
            let now =
                chrono::DateTime::from_timestamp(run.env.now, 0).unwrap_or_else(chrono::Utc::now);
            let message = match crate::sessions::share::copy(&from, &to, copy, now)? {
                crate::sessions::share::Copied::Live(why) => format!("skipped: {why}"),
                _ => format!("copied thread {} into {}", copy.id, tick(&copy.target)),
            };
            Ok(done(message, None))
        }
        Op::Refresh { account_id } => {
            let now = chrono::DateTime::from_timestamp(env.now, 0).unwrap_or_else(chrono::Utc::now);
            let outcome = crate::auth::refresh::refresh_locked(
                vault, backups, &run.homes, account_id, false, now,
            )?;
            vault.record_auth_writes(generation, seq, &outcome.written, account_id, env.now)?;
            run.touched
                .extend(outcome.written.iter().map(|(f, _)| f.clone()));
            let name = vault
                .account(account_id)?
                .map(|a| a.name().to_string())
                .unwrap_or_default();
            Ok(done(
                match outcome.result {
                    crate::auth::refresh::Refreshed::Refreshed => format!("refreshed {name}"),
                    crate::auth::refresh::Refreshed::TookNewer => {
                        format!("took newer tokens of {name} from a home")
                    }
                    crate::auth::refresh::Refreshed::NotNeeded => {
                        format!("{name}'s tokens were fresh")
                    }
                },
                None,
            ))
        }
        Op::SetBaseUrl {
            path, url, expect, ..
        } => {
            fsx::ensure_private_dir(path)?;
            let file = config::config_path(path);
            let check = (!run.touched.contains(&file)).then_some(expect);
            let w = homes::set_base_url_journaled(
                vault,
                backups,
                path,
                url.as_deref(),
                check,
                homes::Step { generation, seq },
            )?;
            run.touched.insert(file.clone());
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
        Op::CreateHomeDir { path, .. } => {
            fsx::ensure_private_dir(path)?;
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
            let account = Account::from_credentials(&creds, None, "auth_file", env.now);
            let (outcome, stored) = vault.upsert(&account)?;
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
            let harvested = homes::harvest(vault, &bytes, env.now)?;
            vault.set_baseline(
                &file,
                &fingerprint(&bytes),
                Some(account_id),
                Some(generation),
                env.now,
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
                    Source::Direct(Credentials::ApiKey { key })
                }
            };
            let expect = if run.touched.contains(&file) {
                Expect::Anything
            } else {
                Expect::Fingerprint(expect.clone())
            };
            let (written, backup) = homes::write_journaled(
                vault,
                backups,
                path,
                source,
                &expect,
                homes::Step { generation, seq },
                env.now,
            )?;
            run.touched.insert(file.clone());
            let mut message = format!("wrote {} ({})", tick(&file), written.account.name());
            if let Some(h) = &written.harvested {
                message.push_str(&format!(
                    "; first saved {}'s {} into the vault",
                    h.name,
                    if h.imported { "login" } else { "newer tokens" }
                ));
            }
            Ok(done(message, backup))
        }
    }
}

/// Observe with the process environment.
pub fn observe_now(manifest: &Manifest, vault: &Vault, scope: &observe::Scope) -> Result<Observed> {
    observe::observe(manifest, vault, &|v| std::env::var(v).ok(), scope)
}
