//! Writing one vault account into one home outside plan/apply (`switch` without a
//! manifest, `run --account`, `--switch` on imports): under the vault and home locks, as a
//! journaled generation with backups, with the account's endpoint in config.toml.

use std::path::Path;

use super::Ctx;
use crate::backup::Backups;
use crate::codex::auth::WriteOutcome;
use crate::codex::config;
use crate::error::{Error, Result};
use crate::homes::{self, Expect};
use crate::paths;
use crate::vault::{Account, AccountKind, Vault};

/// Write `account` into the default Codex home (`$CODEX_HOME` or `~/.codex`).
pub fn switch_default_home(
    ctx: &Ctx,
    vault: &mut Vault,
    account: &Account,
    command: &str,
) -> Result<()> {
    let home = paths::default_codex_home()?;
    write_into_home(ctx, vault, account, &home, command)
}

/// What `openai_base_url` change `home` needs for `account` (see [`config::base_url_change`]),
/// with the config.toml seen. An unreadable config.toml is an error only when the account
/// needs its endpoint there.
pub fn base_url_change(
    vault: &Vault,
    account: &Account,
    home: &Path,
) -> Result<(config::ConfigObs, Option<Option<String>>)> {
    let seen = config::observe(home);
    let all = vault.accounts()?;
    let known = |u: &str| all.iter().any(|a| a.base_url.as_deref() == Some(u));
    let change = config::base_url_change(
        account.base_url.as_deref(),
        seen.base_url.as_deref(),
        &known,
    );
    match (&seen.error, &change) {
        (Some(why), Some(Some(_))) => Err(Error::user(format!(
            "cannot read `{}` to set `openai_base_url` for {}: {why}",
            paths::display(&config::config_path(home)),
            account.name()
        ))
        .with_help("fix config.toml (Codex cannot read it either), then try again")),
        (Some(_), _) => Ok((seen, None)),
        (None, _) => Ok((seen, change)),
    }
}

/// Write `account` into a home outside plan/apply (no manifest, `run --account`): under the
/// vault and home locks, as a journaled generation with a backup.
pub fn write_into_home(
    ctx: &Ctx,
    vault: &mut Vault,
    account: &Account,
    home: &Path,
    command: &str,
) -> Result<()> {
    let state_dir = ctx.state_dir()?;
    let holder = format!("cdxs {command}");
    let _vault_lock = crate::reconcile::locks::vault(&state_dir, &holder)?;
    let _home_lock = crate::reconcile::locks::home(&state_dir, home, &holder)?;
    vault.mark_interrupted(ctx.ts())?;
    // As Codex does: a login about to expire is refreshed before it is written (rotation-safe).
    if account.kind == AccountKind::OAuth
        && !account.requires_reauth
        && crate::auth::refresh::expiring(account, ctx.ts())
    {
        let m = crate::manifest::optional(ctx.global.manifest.as_deref())
            .ok()
            .flatten();
        let mut homes = crate::auth::refresh::known_homes(m.as_ref());
        if !homes.contains(&home.to_path_buf()) {
            homes.push(home.to_path_buf());
        }
        let mut backups = Backups::new(&state_dir, "refresh");
        match crate::auth::refresh::refresh_locked(
            vault,
            &mut backups,
            &homes,
            &account.id,
            false,
            ctx.now,
        ) {
            Ok(_) => ctx
                .printer
                .status(format!("refreshed {}'s tokens first", account.name())),
            // Codex can still refresh it itself; say so, and write what the vault has.
            Err(e) => ctx
                .printer
                .warn(format!("could not refresh {} first: {e}", account.name())),
        }
    }
    let address = format!("home[{}].auth", paths::display(home));
    let (config_seen, base_url) = base_url_change(vault, account, home)?;
    let mut listed = vec![(
        address,
        "update".to_string(),
        format!("write {}", account.name()),
    )];
    if let Some(url) = &base_url {
        listed.push((
            format!("home[{}].base_url", paths::display(home)),
            "update".into(),
            match url {
                Some(u) => format!("set openai_base_url = {}", config::display_url(u)),
                None => "remove openai_base_url".into(),
            },
        ));
    }
    let generation = vault.begin_generation(command, None, None, &listed, ctx.ts())?;
    let mut backups = Backups::new(&state_dir, &format!("gen{generation}"));
    let (result, _) = match homes::write_journaled(
        vault,
        &mut backups,
        home,
        homes::Source::Vault(&account.id),
        &Expect::Anything,
        homes::Step { generation, seq: 0 },
        ctx.ts(),
    ) {
        Ok(r) => r,
        Err(e) => {
            vault.finish_action(generation, 0, Some(&e.to_string()))?;
            vault.finish_generation(generation, false, Some(&e.to_string()), ctx.ts())?;
            return Err(e);
        }
    };
    vault.finish_action(generation, 0, None)?;
    if let Some(url) = &base_url {
        if let Err(e) = homes::set_base_url_journaled(
            vault,
            &mut backups,
            home,
            url.as_deref(),
            Some(&config_seen.fingerprint),
            homes::Step { generation, seq: 1 },
        ) {
            vault.finish_action(generation, 1, Some(&e.to_string()))?;
            vault.finish_generation(generation, false, Some(&e.to_string()), ctx.ts())?;
            return Err(e);
        }
        vault.finish_action(generation, 1, None)?;
        ctx.printer.status(match url {
            Some(u) => format!(
                "`{}` now calls {} (`openai_base_url` in config.toml)",
                paths::display(home),
                config::display_url(u)
            ),
            None => format!(
                "removed `openai_base_url` from `{}`'s config.toml ({} uses the default endpoint)",
                paths::display(home),
                account.name()
            ),
        });
    }
    vault.finish_generation(generation, true, None, ctx.ts())?;
    let m = crate::manifest::optional(ctx.global.manifest.as_deref())
        .ok()
        .flatten();
    if let Some(w) = crate::backup::prune_after(vault, m.as_ref(), ctx.ts()) {
        ctx.printer.warn(w);
    }
    if let Some(h) = &result.harvested {
        let what = if h.imported {
            "saved new login"
        } else {
            "took newer tokens of"
        };
        ctx.printer.status(format!(
            "{what} {} from `{}` into the vault first",
            h.name,
            paths::display(home)
        ));
    }
    match result.outcome {
        WriteOutcome::Unchanged => ctx.printer.status(format!(
            "`{}` already uses {}",
            paths::display(home),
            result.account.name()
        )),
        WriteOutcome::Written { backup } => {
            ctx.printer.status(format!(
                "`{}` now uses {}",
                paths::display(home),
                result.account.name()
            ));
            if let Some(b) = backup {
                ctx.printer
                    .detail(format!("previous auth.json saved at {}", b.display()));
            }
        }
    }
    Ok(())
}
