//! `rollback [GEN]`: put back what a generation replaced, from its backups, as a new
//! generation (with its own backups). A restored auth.json never carries older tokens than
//! the vault holds: if the backup is an older copy of a login the vault knows, the vault's
//! newest copy of that login is written instead.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use crate::auth::freshness;
use crate::backup::Backups;
use crate::codex::auth::{self, AuthState, Credentials, WriteOutcome};
use crate::error::{Error, Result, tick};
use crate::fsx;
use crate::homes;
use crate::secret::fingerprint;
use crate::vault::Vault;
use crate::vault::accounts::{match_credentials, tokens_freshness};
use crate::vault::journal::Generation;

/// One file to put back.
#[derive(Debug, Clone)]
pub struct Step {
    pub path: PathBuf,
    /// Content to restore; `None` = the generation created the file: remove it.
    pub restore: Option<Vec<u8>>,
    /// The file changed after the generation wrote it (it will be backed up too).
    pub changed_since: bool,
    /// Why the content differs from the backup (newer tokens from the vault).
    pub note: Option<String>,
}

/// The newest generation that changed files, other than rollbacks of it.
pub fn default_target(vault: &Vault) -> Result<Option<i64>> {
    for g in vault.generations(200)? {
        if let Some(full) = vault.generation(g.id)?
            && !full.files.is_empty()
        {
            return Ok(Some(g.id));
        }
    }
    Ok(None)
}

pub fn prepare(vault: &Vault, generation: &Generation) -> Result<Vec<Step>> {
    let accounts = vault.accounts()?;
    let mut steps = Vec::new();
    // Files in reverse order; only the first record of a path counts (its pre-generation state).
    let mut seen = std::collections::BTreeSet::new();
    let firsts: Vec<_> = generation
        .files
        .iter()
        .filter(|f| seen.insert(f.path.clone()))
        .collect();
    for f in firsts.into_iter().rev() {
        let current = fsx::read_optional(&f.path)?.map(|b| fingerprint(&b));
        let changed_since = current != f.after_fingerprint;
        let (restore, note) = match &f.backup {
            None => (None, None),
            Some(b) => {
                let bytes = std::fs::read(b).map_err(|e| {
                    Error::io(format!("cannot read the backup {}", tick(b)), e).with_help(
                        "the backup folder was removed or damaged; restore the file by hand",
                    )
                })?;
                newest_tokens(&accounts, bytes)
            }
        };
        steps.push(Step {
            path: f.path.clone(),
            restore,
            changed_since,
            note,
        });
    }
    Ok(steps)
}

/// If `bytes` is an older copy of a login the vault holds, the vault's copy instead.
fn newest_tokens(
    accounts: &[crate::vault::Account],
    bytes: Vec<u8>,
) -> (Option<Vec<u8>>, Option<String>) {
    if let Ok(AuthState::Credentials(creds @ Credentials::ChatGpt(_))) = auth::parse(&bytes)
        && let Credentials::ChatGpt(t) = &creds
        && let Some(vault) = match_credentials(accounts, &creds)
        && freshness::compare(&vault.freshness(), &tokens_freshness(t)) == Ordering::Greater
        && let Some(newer) = vault.credentials()
    {
        return (
            Some(auth::render(&newer)),
            Some(format!("with the vault's newer tokens of {}", vault.name())),
        );
    }
    (Some(bytes), None)
}

fn is_auth_json(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == auth::AUTH_FILE)
}

/// Restore the steps as generation `new_gen`.
pub fn execute(
    vault: &mut Vault,
    steps: &[Step],
    new_gen: i64,
    state_dir: &Path,
    now: i64,
) -> Result<Vec<(PathBuf, Option<PathBuf>)>> {
    let mut backups = Backups::new(state_dir, &format!("gen{new_gen}-rollback"));
    let mut done = Vec::new();
    for (seq, step) in steps.iter().enumerate() {
        let before = fsx::read_optional(&step.path)?.map(|b| fingerprint(&b));
        let outcome = if is_auth_json(&step.path) {
            let home = fsx::parent_of(&step.path);
            match &step.restore {
                Some(content) => auth::write_with(
                    &home,
                    |current| {
                        if let Some(bytes) = current {
                            homes::harvest(vault, bytes, now)?;
                        }
                        Ok(Some(content.clone()))
                    },
                    |orig, bytes| backups.save(orig, bytes),
                )?,
                None => auth::remove_with(
                    &home,
                    |current| {
                        if let Some(bytes) = current {
                            homes::harvest(vault, bytes, now)?;
                        }
                        Ok(true)
                    },
                    |orig, bytes| backups.save(orig, bytes),
                )?,
            }
        } else {
            // Other files (the manifest): back up, then atomic write or remove.
            let current = fsx::read_optional(&step.path)?;
            let backup = match &current {
                Some(bytes) => Some(backups.save(&step.path, bytes)?),
                None => None,
            };
            match &step.restore {
                Some(content) if current.as_deref() != Some(content.as_slice()) => {
                    // Keep the file's mode; a re-created one may hold secrets (config.toml).
                    let mode = fsx::mode_of(&step.path).unwrap_or(fsx::SECRET_FILE_MODE);
                    fsx::write_atomic(&step.path, content, mode)?;
                    WriteOutcome::Written { backup }
                }
                None if current.is_some() => {
                    std::fs::remove_file(&step.path)
                        .map_err(|e| Error::io(format!("cannot remove {}", tick(&step.path)), e))?;
                    WriteOutcome::Written { backup }
                }
                _ => WriteOutcome::Unchanged,
            }
        };
        let after = fsx::read_optional(&step.path)?.map(|b| fingerprint(&b));
        let backup = match outcome {
            WriteOutcome::Written { backup } => backup,
            WriteOutcome::Unchanged => None,
        };
        vault.record_file(
            new_gen,
            seq,
            &step.path,
            backup.as_deref(),
            before.as_deref(),
            after.as_deref(),
        )?;
        if is_auth_json(&step.path)
            && let Some(fp) = &after
        {
            let id = step
                .restore
                .as_deref()
                .and_then(|b| auth::parse(b).ok())
                .and_then(|s| match s {
                    AuthState::Credentials(c) => {
                        match_credentials(&vault.accounts().ok()?, &c).map(|a| a.id.clone())
                    }
                    _ => None,
                });
            vault.set_baseline(&step.path, fp, id.as_deref(), Some(new_gen), now)?;
        }
        vault.finish_action(new_gen, seq, None)?;
        done.push((step.path.clone(), backup));
    }
    Ok(done)
}
