//! The executor's vault operations: put an account (merged by the high-water rule), take
//! one out (its secrets erased from the vault's files), name one. They run under the vault
//! lock, inside a generation, like every other write.

use super::Did;
use super::run::Run;
use crate::error::Result;
use crate::reconcile::staged::StagedAccount;
use crate::text::sanitize;
use crate::vault::Vault;
use crate::vault::accounts::Upsert;

pub(super) fn put(run: &mut Run, vault: &mut Vault, staged: &StagedAccount) -> Result<Did> {
    let (outcome, mut stored) = if staged.new_login {
        vault.upsert_new_login(&staged.account)?
    } else {
        vault.upsert(&staged.account)?
    };
    run.changed |= matches!(outcome, Upsert::Created | Upsert::Updated);
    if let Some(name) = staged
        .name
        .as_deref()
        .filter(|n| stored.label.as_deref() != Some(n.trim()))
    {
        vault.rename(&stored.id, name, run.env.clock.ts())?;
        stored.label = Some(name.trim().to_string());
        run.changed = true;
    }
    let shown = format!("{} ({})", sanitize(stored.name()), stored.id);
    let message = match outcome {
        Upsert::Created => format!("added {shown} to the vault"),
        Upsert::Updated => format!("updated {shown} in the vault"),
        Upsert::Unchanged => format!("{shown} was already in the vault"),
        Upsert::KeptNewer => format!("kept the vault's newer tokens of {shown}"),
        Upsert::Spent => format!("kept the vault's tokens of {shown}: the other copy was spent"),
    };
    Ok(Did {
        account: Some((outcome, stored.id)),
        ..Did::said(message)
    })
}

pub(super) fn remove(run: &mut Run, vault: &mut Vault, account_id: &str) -> Result<Did> {
    let name = vault
        .account(account_id)?
        .map(|a| sanitize(a.name()).into_owned());
    let removed = vault.remove(account_id)?;
    run.changed |= removed;
    Ok(Did::said(match (removed, name) {
        (true, Some(name)) => format!("removed {name} ({account_id}) from the vault"),
        _ => format!("{account_id} was no longer in the vault"),
    }))
}

pub(super) fn rename(
    run: &mut Run,
    vault: &mut Vault,
    account_id: &str,
    name: &str,
) -> Result<Did> {
    vault.rename(account_id, name, run.env.clock.ts())?;
    run.changed = true;
    Ok(Did::said(format!(
        "named {account_id} {}",
        sanitize(name.trim())
    )))
}

pub(super) fn keep_placement(
    run: &mut Run,
    vault: &mut Vault,
    path: &std::path::Path,
    account_id: &str,
) -> Result<Did> {
    vault.set_placement(path, account_id, run.env.clock.ts())?;
    run.changed = true;
    Ok(Did::said(format!(
        "{account_id} stays in {} as its one live copy",
        crate::error::tick(path)
    )))
}

/// Take an archive into the vault ([`crate::archive::import`]: a backup of the vault
/// first, then spent tokens, accounts and placements by sync's rules).
pub(super) fn import_archive(
    run: &mut Run,
    vault: &mut Vault,
    file: &std::path::Path,
    contents: &crate::reconcile::staged::StagedArchive,
) -> Result<Did> {
    let imported = crate::archive::import(vault, &contents.0, run.env.clock.ts())?;
    run.changed |= imported.changed();
    let mut did = Did::said(format!(
        "took {} account(s) of {} into the vault",
        imported.accounts.len(),
        crate::error::tick(file)
    ));
    did.imported = Some(Box::new(imported));
    Ok(did)
}

pub(super) fn forget_placement(
    run: &mut Run,
    vault: &mut Vault,
    path: &std::path::Path,
    account_id: &str,
) -> Result<Did> {
    let gone = vault.forget_placement_if_stale(path)?;
    run.changed |= gone;
    Ok(Did::said(match gone {
        true => format!(
            "forgot that {} held {account_id}: it no longer does",
            crate::error::tick(path)
        ),
        false => format!("{} holds its login again: kept", crate::error::tick(path)),
    }))
}

pub(super) fn forget_device(run: &mut Run, vault: &mut Vault, device: &str) -> Result<Did> {
    let gone = vault.forget_device(device)?;
    run.changed |= !gone.is_empty();
    let shown = sanitize(device);
    Ok(Did::said(match gone.len() {
        0 => format!("no other machine's placement names `{shown}`"),
        n => format!("forgot {n} placement(s) of `{shown}`"),
    }))
}
