//! `import auth` and `import legacy`.

use std::path::PathBuf;

use super::Ctx;
use super::write_home::switch_default_home;
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
        Upsert::Spent => format!(
            "the file's copy of {name} holds a refresh token that was already spent; the vault keeps its own"
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
            Upsert::Unchanged | Upsert::KeptNewer | Upsert::Spent => same += 1,
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
        legacy_homes(ctx, &store, &vault)?;
    }
    Ok(Exit::Success)
}

/// The older tool's homes go into cdxs.yaml (created if there is none), with their bindings.
fn legacy_homes(ctx: &Ctx, store: &legacy::LegacyStore, vault: &crate::vault::Vault) -> Result<()> {
    use crate::manifest::{self, Binding, edit};
    let existing = manifest::optional(ctx.global.manifest.as_deref())?;
    let (path, mut text) = match &existing {
        Some(m) => (m.path.clone(), m.text.clone()),
        None => {
            let loc = paths::manifest_location(ctx.global.manifest.as_deref());
            let path = if loc.explicit {
                loc.path
            } else {
                dirs::config_dir()
                    .map(|d| d.join("cdxs").join("cdxs.yaml"))
                    .ok_or_else(|| {
                        Error::user("cannot find a config folder").with_help("pass `-f PATH`")
                    })?
            };
            (
                path,
                "# cdxs.yaml: the desired state of your Codex homes (no secrets here).\n# Homes imported from the older tool's cdxs.toml by `cdxs import legacy`.\nversion: 1\naccounts: {}\nhomes: {}\n".to_string(),
            )
        }
    };
    let mut added = Vec::new();
    for h in &store.homes {
        let raw = h.path.to_string_lossy().to_string();
        if raw.contains('\\') || raw.chars().nth(1) == Some(':') {
            ctx.printer.warn(format!(
                "home `{}` has a Windows path ({raw}); declare it by hand",
                h.name
            ));
            continue;
        }
        let abs = match paths::expand(&raw, None) {
            Ok(p) => p,
            Err(e) => {
                ctx.printer.warn(format!("home `{}`: {e}", h.name));
                continue;
            }
        };
        let current = manifest::parse(&text, &path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
        if current.homes.values().any(|x| x.path == abs) {
            continue; // already declared
        }
        let mut name: String = h
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        if current.homes.contains_key(&name) {
            name = format!("{name}-legacy");
        }
        // The binding: an alias for the bound account, unless that login is bound elsewhere.
        let mut alias = None;
        if let Some(id) = &h.bound_account_id
            && let Some(a) = vault.account(id)?
        {
            let found = current
                .accounts
                .iter()
                .find(|(_, r)| super::homes::ref_names(r, &a))
                .map(|(al, _)| al.clone());
            let al = match found {
                Some(al) => al,
                None => {
                    let al = super::homes::alias_for(&a, &|c| {
                        current.accounts.contains_key(c) || current.pools.contains_key(c)
                    });
                    text = edit::add_account(&text, &al, "id", &a.id)?;
                    al
                }
            };
            let bound_elsewhere = a.kind == crate::vault::AccountKind::OAuth
                && current
                    .homes
                    .values()
                    .any(|x| x.binding == Some(Binding::Account(al.clone())));
            if bound_elsewhere {
                ctx.printer.warn(format!(
                    "{} is already bound to another home; home `{name}` is declared without an account",
                    a.name()
                ));
            } else {
                alias = Some(al);
            }
        }
        text = edit::add_home(&text, &name, &paths::display(&abs), alias.as_deref())?;
        added.push(name);
    }
    if added.is_empty() {
        return Ok(());
    }
    let mut backups = crate::backup::Backups::new(&ctx.state_dir()?, "manifest");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(dir)), e))?;
    }
    edit::write(&path, &text, &mut backups)?;
    ctx.printer.status(format!(
        "declared {} home(s) in {}: {}; review them with `cdxs plan`",
        added.len(),
        tick(&path),
        added.join(", ")
    ));
    Ok(())
}
