//! Shell completions that know your homes, aliases, accounts, pools and threads: clap's
//! dynamic engine (`clap_complete::CompleteEnv`). The shell asks `cdxs` itself at each
//! `<TAB>` (`COMPLETE=bash cdxs -- cdxs switch <TAB>`), and these completers answer from
//! cdxs.yaml, the vault and the Codex homes' state databases, read only: completing never
//! creates a folder, opens anything for writing or calls the network, and a file that
//! cannot be read just completes nothing. `cdxs completions SHELL` prints the line a shell
//! sources (bash, zsh, fish, PowerShell, elvish: the shells clap's engine supports).

use std::ffi::OsStr;
use std::path::PathBuf;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

/// The environment variable that turns a run into a completion request.
pub const VAR: &str = "COMPLETE";

/// Answer a completion request and exit, when this run is one.
pub fn answer_if_asked(factory: fn() -> clap::Command) {
    clap_complete::CompleteEnv::with_factory(factory)
        .var(VAR)
        .complete();
}

/// The script `shell` sources to complete cdxs dynamically.
pub fn registration(shell: clap_complete::Shell) -> crate::error::Result<String> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells.completer(&name).ok_or_else(|| {
        crate::error::Error::user(format!("clap cannot complete dynamically in `{name}`"))
            .with_help("use bash, zsh, fish, powershell or elvish")
    })?;
    // The binary the shell calls at each <TAB>: this one, as it was invoked.
    let bin = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .filter(|p| p.components().count() > 1)
        .map(|p| crate::paths::absolute(&p).display().to_string())
        .unwrap_or_else(|| "cdxs".into());
    let mut out = Vec::new();
    completer
        .write_registration(VAR, "cdxs", "cdxs", &bin, &mut out)
        .map_err(|e| crate::error::Error::io("cannot write the completion script", e))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Candidates starting with what was typed so far.
fn matching(current: &OsStr, all: Vec<(String, Option<String>)>) -> Vec<CompletionCandidate> {
    let typed = current.to_string_lossy();
    let mut seen = std::collections::BTreeSet::new();
    all.into_iter()
        .filter(|(v, _)| v.starts_with(typed.as_ref()) && seen.insert(v.clone()))
        .map(|(v, help)| CompletionCandidate::new(v).help(help.map(Into::into)))
        .collect()
}

/// The manifest the command would read (`$CDXS_MANIFEST`, `./cdxs.yaml`, the config
/// folder's), if it reads; `-f` on the line being completed is not known here.
fn manifest() -> Option<crate::manifest::Manifest> {
    let at = crate::paths::manifest_location(None);
    at.exists
        .then(|| crate::manifest::load(&at.path).ok())
        .flatten()
}

/// Home names from cdxs.yaml (`--home`, `home path NAME`, ...).
pub fn homes() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let all = manifest()
            .map(|m| {
                m.homes
                    .values()
                    .map(|h| (h.name.clone(), Some(crate::paths::display(&h.path))))
                    .collect()
            })
            .unwrap_or_default();
        matching(current, all)
    })
}

/// Accounts: aliases from cdxs.yaml, then the vault's emails and names.
pub fn accounts() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let mut all: Vec<(String, Option<String>)> = manifest()
            .map(|m| {
                m.accounts
                    .iter()
                    .map(|(alias, r)| (alias.clone(), Some(r.describe())))
                    .collect()
            })
            .unwrap_or_default();
        all.extend(vault_names());
        matching(current, all)
    })
}

/// Accounts (as [`accounts`]) and pools from cdxs.yaml (`quota POOL`).
pub fn accounts_and_pools() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let mut out = accounts().complete(current);
        let pools = manifest()
            .map(|m| {
                m.pools
                    .iter()
                    .map(|(p, members)| (p.clone(), Some(format!("pool: {}", members.join(", ")))))
                    .collect()
            })
            .unwrap_or_default();
        out.extend(matching(current, pools));
        out
    })
}

/// Every home a bare thread id is looked up in (declared ones and the default one).
fn session_homes() -> Vec<crate::sessions::HomeRef> {
    let Ok(default) = crate::paths::default_codex_home() else {
        return Vec::new();
    };
    let sel = crate::manifest::select::Selection {
        all_homes: true,
        ..Default::default()
    };
    crate::manifest::select::session_homes(manifest().as_ref(), &sel, &default).unwrap_or_default()
}

/// Trashed thread ids of every home, with their titles (`session restore`, `purge`).
pub fn trashed() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let mut all = Vec::new();
        for h in &session_homes() {
            for (_, m) in crate::sessions::trash::entries(h).unwrap_or_default() {
                let title = m.name.as_deref().or(m.preview.as_deref()).unwrap_or("");
                let help = format!("{} (trash): {}", h.name, crate::text::short(title, 50));
                all.push((m.id.clone(), Some(help)));
            }
        }
        matching(current, all)
    })
}

/// Thread ids of every home (newest first), with their titles.
pub fn threads() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().to_ascii_lowercase();
        let homes = session_homes();
        let mut all = Vec::new();
        for h in &homes {
            let Ok(threads) = crate::sessions::list::threads_matching(h, &typed) else {
                continue;
            };
            all.extend(threads.into_iter().take(200).map(|t| {
                let title = crate::text::short(t.title(), 50);
                (t.id.clone(), Some(format!("{}: {title}", h.name)))
            }));
        }
        matching(current, all)
    })
}

/// Emails and names of the vault's accounts, read only (nothing when there is no vault).
fn vault_names() -> Vec<(String, Option<String>)> {
    let Ok(dir) = crate::paths::state_dir(None) else {
        return Vec::new();
    };
    crate::vault::names_read_only(&dir)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, id)| (name, Some(id)))
        .collect()
}
