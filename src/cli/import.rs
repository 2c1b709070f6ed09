//! `import auth` and `import legacy`.

use std::path::PathBuf;

use super::Ctx;
use super::accounts::switch_default_home;
use crate::codex::auth::{self, AuthState};
use crate::error::{Error, Exit, Result, tick};
use crate::legacy;
use crate::paths;
use crate::vault::Account;
use crate::vault::accounts::Upsert;

pub fn auth(
    ctx: &Ctx,
    file: Option<PathBuf>,
    codex_home: Option<PathBuf>,
    switch: bool,
) -> Result<Exit> {
    let path = match (file, codex_home) {
        (Some(f), _) => paths::absolute(&f),
        (None, Some(h)) => auth::auth_path(&paths::absolute(&h)),
        (None, None) => auth::auth_path(&paths::default_codex_home()?),
    };
    let doc = auth::read_file(&path)?;
    let creds = match doc.state {
        AuthState::Credentials(c) => c,
        AuthState::Missing => {
            return Err(
                Error::user(format!("{} does not exist", tick(&path))).with_help(
                    "pass `--file PATH` or `--codex-home PATH`, or log in with `cdxs login oauth`",
                ),
            );
        }
        AuthState::Empty => {
            return Err(
                Error::user(format!("{} holds no credentials", tick(&path))).with_help(
                    "log in with `cdxs login oauth` or add a key with `cdxs account add-api-key`",
                ),
            );
        }
        AuthState::Foreign { mode } => {
            return Err(Error::user(format!(
                "{} uses auth mode `{mode}`, which cdxs cannot import",
                tick(&path)
            ))
            .with_help("cdxs manages API keys (`apikey`) and ChatGPT logins (`chatgpt`)"));
        }
    };
    let account = Account::from_credentials(&creds, None, "import auth", ctx.ts());
    let mut vault = ctx.vault()?;
    let (outcome, stored) = vault.upsert(&account)?;
    let name = format!("{} ({})", stored.name(), stored.id);
    ctx.printer.status(match outcome {
        Upsert::Created => format!("imported {name}"),
        Upsert::Updated => format!("updated {name} with the tokens in {}", tick(&path)),
        Upsert::Unchanged => format!("{name} is already in the vault"),
        Upsert::KeptNewer => format!(
            "the vault already holds newer tokens for {name}; kept them (the file's copy is older)"
        ),
    });
    if switch {
        switch_default_home(ctx, &mut vault, &stored, "import auth")?;
    }
    Ok(Exit::Success)
}

pub fn legacy(ctx: &Ctx, path: Option<PathBuf>) -> Result<Exit> {
    let path = match path {
        Some(p) => paths::absolute(&p),
        None => paths::default_codex_home()?.join("cdxs.toml"),
    };
    let store = legacy::read(&path, ctx.ts())?;
    let mut vault = ctx.vault()?;
    let (mut created, mut updated, mut same) = (0, 0, 0);
    for entry in &store.accounts {
        let (outcome, stored) = vault.upsert(&entry.account)?;
        match outcome {
            Upsert::Created => created += 1,
            Upsert::Updated => updated += 1,
            Upsert::Unchanged | Upsert::KeptNewer => same += 1,
        }
        ctx.printer
            .detail(format!("{:?}: {} ({})", outcome, stored.name(), stored.id));
    }
    for why in &store.skipped {
        ctx.printer.warn(format!("skipped {why}"));
    }
    ctx.printer.status(format!(
        "imported {} accounts from {}: {created} new, {updated} updated, {same} unchanged",
        store.accounts.len(),
        tick(&path)
    ));
    if !store.homes.is_empty() {
        let list = store
            .homes
            .iter()
            .map(|h| format!("{} ({})", h.name, h.path.display()))
            .collect::<Vec<_>>()
            .join(", ");
        ctx.printer.status(format!("homes in the old file: {list}"));
    }
    Ok(Exit::Success)
}
