//! Writing an account from the vault into a Codex home's `auth.json`, safely:
//! under Codex's locks, after harvesting whatever login the file holds (so a token Codex
//! rotated is never lost or overwritten by an older copy), after a backup.

use std::path::Path;

use crate::backup::Backups;
use crate::codex::auth::{self, AuthState, Credentials, WriteOutcome};
use crate::codex::config;
use crate::error::{Error, Result, tick};
use crate::fsx;
use crate::secret::fingerprint;
use crate::vault::accounts::Upsert;
use crate::vault::{Account, Vault, placement};

/// A login found in a home's `auth.json` and saved into the vault before it was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Harvested {
    pub account_id: String,
    pub name: String,
    /// True when the vault did not know this login before.
    pub imported: bool,
}

#[derive(Debug)]
pub struct HomeWrite {
    pub outcome: WriteOutcome,
    pub harvested: Option<Harvested>,
    /// The account as written (with the newest tokens the vault had).
    pub account: Account,
}

/// What the caller believes the file holds (compare-and-swap against a plan).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there now.
    Anything,
    /// The file's content fingerprint at observe time (`None` = absent).
    Fingerprint(Option<String>),
}

/// Save the login held by `bytes` (an `auth.json`) into the vault when it is newer or new.
pub fn harvest(vault: &mut Vault, bytes: &[u8], now: i64) -> Result<Option<Harvested>> {
    let Ok(AuthState::Credentials(creds @ Credentials::ChatGpt(_))) = auth::parse(bytes) else {
        // API keys never rotate; foreign and corrupt files go to the backup untouched.
        return Ok(None);
    };
    let found = Account::from_credentials(&creds, None, "harvest", now);
    if found.email.is_none() && found.chatgpt_account_id.is_none() {
        return Ok(None);
    }
    let (outcome, stored) = vault.upsert(&found)?;
    Ok(match outcome {
        Upsert::Created => Some(Harvested {
            account_id: stored.id.clone(),
            name: stored.name().to_string(),
            imported: true,
        }),
        Upsert::Updated => Some(Harvested {
            account_id: stored.id.clone(),
            name: stored.name().to_string(),
            imported: false,
        }),
        Upsert::Unchanged | Upsert::KeptNewer | Upsert::Spent => None,
    })
}

/// The vault account an auth.json's bytes hold, if the vault knows it.
pub fn account_of(vault: &Vault, bytes: &[u8]) -> Result<Option<String>> {
    let Ok(AuthState::Credentials(creds)) = auth::parse(bytes) else {
        return Ok(None);
    };
    let all = vault.accounts()?;
    Ok(crate::vault::accounts::match_credentials(&all, &creds).map(|a| a.id.clone()))
}

/// Do these auth.json bytes hold (any copy of) vault account `account_id`?
pub fn holds_account(vault: &Vault, bytes: &[u8], account_id: &str) -> Result<bool> {
    Ok(account_of(vault, bytes)?.as_deref() == Some(account_id))
}

/// Where the credentials come from.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// A vault account, read after the harvest so its newest tokens are written.
    Vault(&'a str),
    /// Credentials that are not stored (an API key from the environment).
    Direct(Credentials),
}

/// One write of a journaled generation (apply, switch, run).
pub struct Step {
    pub generation: i64,
    pub seq: usize,
}

/// [`write_source`] as one action of a generation: the file's fingerprints before and
/// after and its backup are recorded (for `history` and `rollback`), the new content becomes
/// the drift baseline, and the account's last use is stamped. Returns the backup too.
#[allow(clippy::too_many_arguments)] // one journaled write: where, what, from whom, when
pub fn write_journaled(
    vault: &mut Vault,
    backups: &mut Backups,
    home: &Path,
    source: Source,
    expect: &Expect,
    step: Step,
    now: i64,
    known_homes: &[std::path::PathBuf],
) -> Result<(HomeWrite, Option<std::path::PathBuf>)> {
    let file = auth::auth_path(home);
    let before = fsx::read_optional(&file)?.map(|b| fingerprint(&b));
    let written = write_source(vault, backups, home, source, expect, now, known_homes)?;
    let after = fsx::read_optional(&file)?.map(|b| fingerprint(&b));
    let backup = match &written.outcome {
        WriteOutcome::Written { backup } => backup.clone(),
        WriteOutcome::Unchanged => None,
    };
    vault.record_file(
        step.generation,
        step.seq,
        &file,
        backup.as_deref(),
        before.as_deref(),
        after.as_deref(),
    )?;
    if let Some(fp) = &after {
        // Credentials from the environment are not in the vault: no account to name.
        let id = vault.account(&written.account.id)?.map(|a| a.id);
        vault.set_baseline(&file, fp, id.as_deref(), Some(step.generation), now)?;
        // Every folder a vault login goes into is known, so a refresh reaches it.
        match &id {
            Some(id) => vault.set_placement(home, id, now)?,
            None => vault.clear_placement(home)?,
        }
    }
    vault.touch_used(&written.account.id, now)?;
    Ok((written, backup))
}

/// [`config::set_key`] as one action of a generation, recorded for `history` and
/// `rollback`.
pub fn set_config_key_journaled(
    vault: &mut Vault,
    backups: &mut Backups,
    home: &Path,
    key: &str,
    to: Option<&str>,
    expect: Option<&Option<String>>,
    step: Step,
) -> Result<config::ConfigWrite> {
    let w = config::set_key(home, key, to, expect, backups)?;
    vault.record_file(
        step.generation,
        step.seq,
        &w.path,
        w.backup.as_deref(),
        w.before.as_deref(),
        w.after.as_deref(),
    )?;
    Ok(w)
}

/// Write credentials from `source` into `home`, creating the folder (0700) if needed.
///
/// The door of the one-live-copy rule: a ChatGPT login that is live in another folder
/// (`known_homes`, or a folder the vault placed it in) or, as pulled, on another machine is
/// not written here; the error names both folders.
pub fn write_source(
    vault: &mut Vault,
    backups: &mut Backups,
    home: &Path,
    source: Source,
    expect: &Expect,
    now: i64,
    known_homes: &[std::path::PathBuf],
) -> Result<HomeWrite> {
    refuse_live_elsewhere(vault, home, &source, known_homes)?;
    fsx::ensure_private_dir(home)?;
    let mut harvested = None;
    let mut written = None;
    let outcome = auth::write_with(
        home,
        |current| {
            check_expected(home, current, expect)?;
            if let Some(bytes) = current {
                harvested = harvest(vault, bytes, now)?;
            }
            fsx::remove_stale_temps(home, auth::AUTH_FILE);
            let (account, creds) = what_to_write(vault, &source, now)?;
            written = Some(account);
            Ok(Some(auth::render(&creds)))
        },
        |original, bytes| backups.save(original, bytes),
    )?;
    let account = written.ok_or_else(|| Error::user("internal: account was not resolved"))?;
    Ok(HomeWrite {
        outcome,
        harvested,
        account,
    })
}

/// A ChatGPT login live in another folder, here or on another machine (its synced record
/// says so), stays there: the error names both places.
fn refuse_live_elsewhere(
    vault: &mut Vault,
    home: &Path,
    source: &Source,
    known_homes: &[std::path::PathBuf],
) -> Result<()> {
    let Source::Vault(account_id) = source else {
        return Ok(());
    };
    let Some(a) = vault
        .account(account_id)?
        .filter(|a| a.kind == crate::vault::AccountKind::OAuth)
    else {
        return Ok(());
    };
    if let Some(folder) = vault.live_elsewhere(account_id, home, known_homes)? {
        return Err(Error::LiveElsewhere {
            account: a.name().to_string(),
            folder,
            home: None,
        });
    }
    if let Some(there) = vault.live_on_another_machine(account_id)? {
        let here = format!("`{}`", crate::paths::display(home));
        return Err(placement::refusal(a.name(), here, &there));
    }
    Ok(())
}

/// The auth.json the plan saw is the one there now (under the lock).
fn check_expected(home: &Path, current: Option<&[u8]>, expect: &Expect) -> Result<()> {
    if let Expect::Fingerprint(expected) = expect {
        let actual = current.map(fingerprint);
        if &actual != expected {
            return Err(Error::user(format!(
                "{} changed since the plan was made",
                tick(&auth::auth_path(home))
            ))
            .with_help("run `cdxs plan` again and review the new plan"));
        }
    }
    Ok(())
}

/// The account and credentials `source` gives: a vault account is read after the harvest
/// (the vault may now hold newer tokens), and never with a spent refresh token.
fn what_to_write(vault: &Vault, source: &Source, now: i64) -> Result<(Account, Credentials)> {
    match source {
        Source::Direct(creds) => Ok((
            Account::from_credentials(creds, None, "environment", now),
            (*creds).clone(),
        )),
        Source::Vault(account_id) => {
            let account = vault.account(account_id)?.ok_or_else(|| {
                Error::user(format!("account `{account_id}` is not in the vault"))
                    .with_help("see `cdxs account list`")
            })?;
            // A spent refresh token is dead: writing it would log Codex out.
            if let Some(fp) = account.secret_fingerprint()
                && account.kind == crate::vault::AccountKind::OAuth
                && vault.is_spent(&fp)?
            {
                return Err(Error::NeedsLogin {
                    account: account.name().to_string(),
                    why: "its refresh token in the vault was already spent".into(),
                });
            }
            let creds = account.credentials().ok_or_else(|| {
                Error::user(format!(
                    "account `{}` has no stored credentials to write",
                    account.name()
                ))
                .with_help("log in again with `cdxs login oauth` or `cdxs import auth`")
            })?;
            Ok((account, creds))
        }
    }
}
