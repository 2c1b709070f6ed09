//! Writing an account from the vault into a Codex home's `auth.json`, safely:
//! under Codex's locks, after harvesting whatever login the file holds (so a token Codex
//! rotated is never lost or overwritten by an older copy), after a backup.

use std::path::Path;

use crate::backup::Backups;
use crate::codex::auth::{self, AuthState, Credentials, WriteOutcome};
use crate::error::{Error, Result, tick};
use crate::fsx;
use crate::secret::fingerprint;
use crate::vault::accounts::Upsert;
use crate::vault::{Account, Vault};

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
        Upsert::Unchanged | Upsert::KeptNewer => None,
    })
}

/// Where the credentials come from.
#[derive(Debug, Clone)]
pub enum Source<'a> {
    /// A vault account, read after the harvest so its newest tokens are written.
    Vault(&'a str),
    /// Credentials that are not stored (an API key from the environment).
    Direct(Credentials),
}

/// Write an account into `home`, creating the folder (0700) if needed.
pub fn write_account(
    vault: &mut Vault,
    backups: &mut Backups,
    home: &Path,
    account_id: &str,
    expect: &Expect,
    now: i64,
) -> Result<HomeWrite> {
    write_source(vault, backups, home, Source::Vault(account_id), expect, now)
}

/// Write credentials from `source` into `home`, creating the folder (0700) if needed.
pub fn write_source(
    vault: &mut Vault,
    backups: &mut Backups,
    home: &Path,
    source: Source,
    expect: &Expect,
    now: i64,
) -> Result<HomeWrite> {
    fsx::ensure_private_dir(home)?;
    let mut harvested = None;
    let mut written = None;
    let outcome = auth::write_with(
        home,
        |current| {
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
            if let Some(bytes) = current {
                harvested = harvest(vault, bytes, now)?;
            }
            fsx::remove_stale_temps(home, auth::AUTH_FILE);
            let (account, creds) = match &source {
                Source::Direct(creds) => (
                    Account::from_credentials(creds, None, "environment", now),
                    creds.clone(),
                ),
                Source::Vault(account_id) => {
                    // Re-read after the harvest: the vault may now hold newer tokens.
                    let account = vault.account(account_id)?.ok_or_else(|| {
                        Error::user(format!("account `{account_id}` is not in the vault"))
                            .with_help("see `cdxs account list`")
                    })?;
                    let creds = account.credentials().ok_or_else(|| {
                        Error::user(format!(
                            "account `{}` has no stored credentials to write",
                            account.name()
                        ))
                        .with_help("log in again with `cdxs login oauth` or `cdxs import auth`")
                    })?;
                    (account, creds)
                }
            };
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
