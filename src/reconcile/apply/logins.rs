//! The executor's login operations: refresh, import an auth file, harvest, write and remove
//! a home's auth.json, and put back a file a generation replaced. Every write to an
//! auth.json goes through the vault's one door ([`homes`]), which harvests first and never
//! writes an older or spent copy of a login.

use std::path::Path;

use super::Did;
use super::run::Run;
use crate::auth::refresh::{self, Refreshed};
use crate::codex::auth::{self, Credentials, WriteOutcome};
use crate::error::{Error, Result, tick};
use crate::fsx;
use crate::reconcile::CredentialSource;
use crate::secret::{Secret, fingerprint};
use crate::vault::accounts::Upsert;
use crate::vault::home_write::{self as homes, Expect, Source, Step};
use crate::vault::{Account, Vault};

fn step(run: &Run, seq: usize) -> Step {
    Step {
        generation: run.generation,
        seq,
    }
}

pub(super) fn refresh(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    account_id: &str,
    force: bool,
) -> Result<Did> {
    let env = run.env;
    let outcome = refresh::refresh_locked(
        vault,
        &mut run.backups,
        &run.homes,
        account_id,
        force,
        env.refresh_window,
        env.clock,
    )?;
    run.changed |= outcome.result != Refreshed::NotNeeded || !outcome.written.is_empty();
    vault.record_auth_writes(
        run.generation,
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
        Refreshed::Refreshed if force => format!("refreshed {name}'s tokens"),
        Refreshed::Refreshed => {
            format!("refreshed {name}'s tokens first (they were about to expire)")
        }
        Refreshed::TookNewer => format!("took newer tokens of {name} from a home"),
        Refreshed::NotNeeded => format!("{name}'s tokens were fresh"),
    };
    for (f, _) in &outcome.written {
        message.push_str(&format!("; wrote the new tokens into {}", tick(f)));
    }
    Ok(Did::said(message))
}

pub(super) fn import_auth_file(
    run: &mut Run,
    vault: &mut Vault,
    path: &Path,
    alias: &str,
) -> Result<Did> {
    let doc = auth::read_file(path)?;
    let auth::AuthState::Credentials(creds) = doc.state else {
        return Err(Error::user(format!(
            "{} holds no credentials cdxs can import",
            tick(path)
        )));
    };
    let account = Account::from_credentials(&creds, None, "auth_file", run.env.clock.ts());
    let (outcome, stored) = vault.upsert(&account)?;
    run.changed |= matches!(outcome, Upsert::Created | Upsert::Updated);
    Ok(Did::said(
        format!("{alias}: {:?} {} ({})", outcome, stored.name(), stored.id).to_lowercase(),
    ))
}

pub(super) fn harvest(
    run: &mut Run,
    vault: &mut Vault,
    path: &Path,
    account_id: &str,
) -> Result<Did> {
    let file = auth::auth_path(path);
    let Some(bytes) = fsx::read_optional(&file)? else {
        return Ok(Did::said("nothing to take: the file is gone".into()));
    };
    let now = run.env.clock.ts();
    let harvested = homes::harvest(vault, &bytes, now)?;
    run.changed |= harvested.is_some();
    vault.set_baseline(
        &file,
        &fingerprint(&bytes),
        Some(account_id),
        Some(run.generation),
        now,
    )?;
    Ok(Did::said(match harvested {
        Some(h) => format!("took the newer tokens of {}", h.name),
        None => "the vault already had these tokens".into(),
    }))
}

/// The credentials a `WriteAuth` writes: the vault's account, or an API key read from the
/// environment now (refused when it is not the key the plan saw).
fn source_of<'s>(run: &Run, source: &'s CredentialSource) -> Result<Source<'s>> {
    Ok(match source {
        CredentialSource::Vault { account_id } => Source::Vault(account_id),
        CredentialSource::Env {
            var,
            key_fingerprint,
        } => {
            let key = (run.env.env)(var)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::user(format!("environment variable `{var}` is not set")))?;
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
    })
}

pub(super) fn write_auth(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    (home, path): (&crate::reconcile::HomeId, &Path),
    source: &CredentialSource,
    expect: &Option<String>,
    any: bool,
) -> Result<Did> {
    let file = auth::auth_path(path);
    let source = source_of(run, source)?;
    let expect = if any || run.touched.contains(&file) {
        Expect::Anything
    } else {
        Expect::Fingerprint(expect.clone())
    };
    let at = step(run, seq);
    let (written, backup) = homes::write_journaled(
        vault,
        &mut run.backups,
        path,
        source,
        &expect,
        at,
        run.env.clock.ts(),
        &run.homes,
    )?;
    // Other machines see the placement by the home's name.
    let name = match home {
        crate::reconcile::HomeId::Named(n) => Some(n.as_str()),
        crate::reconcile::HomeId::Folder(_) => None,
    };
    vault.name_placement(path, name)?;
    run.touched.insert(file.clone());
    run.changed |=
        written.harvested.is_some() || matches!(written.outcome, WriteOutcome::Written { .. });
    let mut message = match &written.outcome {
        WriteOutcome::Unchanged => {
            format!("{} already held {}", tick(&file), written.account.name())
        }
        WriteOutcome::Written { .. } => {
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
    Ok(Did::backed(message, backup))
}

pub(super) fn remove_auth(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
    account_id: &str,
) -> Result<Did> {
    let file = auth::auth_path(path);
    let before = fsx::read_optional(&file)?.map(|b| fingerprint(&b));
    let now = run.env.clock.ts();
    let outcome = auth::remove_with(
        path,
        |current| {
            let Some(bytes) = current else {
                return Ok(false);
            };
            homes::harvest(vault, bytes, now)?;
            // Only the login being moved is removed; anything else stays.
            homes::holds_account(vault, bytes, account_id)
        },
        |orig, bytes| run.backups.save(orig, bytes),
    )?;
    let backup = match outcome {
        WriteOutcome::Written { backup } => backup,
        WriteOutcome::Unchanged => {
            return Ok(Did::said(format!("{} no longer held it", tick(&file))));
        }
    };
    vault.record_file(
        run.generation,
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
    Ok(Did::backed(
        format!("removed the login from {}", tick(&file)),
        backup,
    ))
}

pub(super) fn restore_file(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
    backup: Option<&Path>,
    after: Option<&str>,
) -> Result<Did> {
    let at = step(run, seq);
    let (message, saved) = crate::reconcile::rollback::restore(
        vault,
        &mut run.backups,
        crate::reconcile::rollback::Restore {
            path,
            backup,
            after,
            known_homes: &run.homes,
        },
        at,
        run.env.clock,
    )?;
    run.changed = true;
    Ok(Did::backed(message, saved))
}
