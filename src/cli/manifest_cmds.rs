//! `validate` (and, later, `init`): the manifest itself.

use super::Ctx;
use crate::error::{Exit, Result};
use crate::manifest;

pub fn validate(ctx: &Ctx) -> Result<Exit> {
    let m = manifest::require(ctx.global.manifest.as_deref())?;
    ctx.printer.status(format!(
        "`{}` is valid: {} accounts, {} pools, {} homes",
        crate::paths::display(&m.path),
        m.accounts.len(),
        m.pools.len(),
        m.homes.len()
    ));
    Ok(Exit::Success)
}

/// `cdxs init`: a manifest from the current state. The default home's login goes into the
/// vault and becomes its binding; other vault accounts get aliases, unbound.
pub fn init(ctx: &Ctx) -> Result<Exit> {
    use crate::codex::auth::{self, AuthState};
    use crate::error::{Error, tick};
    use crate::vault::Account;

    let loc = crate::paths::manifest_location(ctx.global.manifest.as_deref());
    let path = if loc.explicit {
        loc.path
    } else {
        dirs::config_dir()
            .map(|d| d.join("cdxs").join("cdxs.yaml"))
            .ok_or_else(|| Error::user("cannot find a config folder").with_help("pass `-f PATH`"))?
    };
    if path.exists() {
        return Err(Error::user(format!(
            "{} already exists; `init` never overwrites",
            tick(&path)
        ))
        .with_help("edit it, or pass `-f OTHER.yaml` to create another"));
    }
    let home = crate::paths::default_codex_home()?;
    let mut vault = ctx.vault()?;
    let mut bound: Option<String> = None;
    if home.is_dir() {
        match auth::read(&home)?.state {
            AuthState::Credentials(creds) => {
                let account = Account::from_credentials(&creds, None, "init", ctx.ts());
                let (_, stored) = vault.upsert(&account)?;
                ctx.printer.status(format!(
                    "imported {} from `{}`",
                    stored.name(),
                    crate::paths::display(&home)
                ));
                bound = Some(stored.id);
            }
            AuthState::Foreign { mode } => ctx.printer.warn(format!(
                "`{}` uses auth mode `{mode}`; it is declared without an account",
                crate::paths::display(&home)
            )),
            _ => {}
        }
    }
    let accounts = vault.accounts()?;
    let mut aliases: Vec<(String, String)> = Vec::new(); // (alias, flow mapping)
    let mut bound_alias = None;
    for a in &accounts {
        let local = |x: &Account| {
            x.email
                .as_deref()
                .and_then(|e| e.split('@').next())
                .map(str::to_lowercase)
        };
        let shared =
            local(a).is_some() && accounts.iter().filter(|o| local(o) == local(a)).count() > 1;
        let candidate =
            super::homes::alias_with(a, &|c| aliases.iter().any(|(x, _)| x == c), shared);
        let same_email = accounts
            .iter()
            .filter(|o| o.email.is_some() && o.email == a.email)
            .count();
        let reference = match (&a.email, same_email) {
            (Some(e), 1) => format!("{{ email: {} }}", crate::manifest::edit::scalar(e)),
            _ => format!("{{ id: {} }}", a.id),
        };
        if Some(&a.id) == bound.as_ref() {
            bound_alias = Some(candidate.clone());
        }
        aliases.push((candidate, reference));
    }
    let mut text = format!(
        "# cdxs.yaml: the desired state of your Codex homes (no secrets here).\n\
         # Created by `cdxs init` on {}. Check it with `cdxs plan`; schema: `cdxs schema`.\n\
         version: 1\n",
        ctx.now().format("%Y-%m-%d")
    );
    if aliases.is_empty() {
        text.push_str("accounts: {}\n");
    } else {
        text.push_str("accounts:\n");
        for (alias, reference) in &aliases {
            text.push_str(&format!("  {alias}: {reference}\n"));
        }
    }
    text.push_str("homes:\n  default:   # the home Codex uses when CODEX_HOME is unset\n");
    text.push_str(&format!(
        "    path: {}\n",
        crate::manifest::edit::scalar(&crate::paths::display(&home))
    ));
    if let Some(alias) = &bound_alias {
        text.push_str(&format!("    account: {alias}\n"));
    }
    // Never write something `validate` would reject.
    crate::manifest::parse(&text, &path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(dir)), e))?;
    }
    crate::fsx::write_atomic(&path, text.as_bytes(), 0o644)?;
    ctx.printer.status(format!("created {}", tick(&path)));
    // What matches now becomes the drift baseline.
    let m = crate::manifest::load(&path)?;
    drop(vault);
    if let Err(e) =
        super::plan::converge(ctx, &m, &["default".to_string()], "init", Vec::new(), true)
    {
        ctx.printer
            .warn(format!("the default home does not match yet: {e}"));
    }
    ctx.printer.status("next: review it, then `cdxs plan`");
    Ok(Exit::Success)
}
