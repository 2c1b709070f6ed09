//! `session ...`: list, stats, trash, trash-list, restore, purge, visibility, sync-threads.
//!
//! `browse`: list and stats (read only); `trash`: trash, trash-list, restore, purge;
//! `repair`: visibility and sync-threads. Shared here: which homes a command works on and
//! the journaled generation every changing command runs as.

use std::path::Path;

use super::Ctx;
use super::args::HomesArg;
use crate::error::{Error, Result};
use crate::manifest;
use crate::paths;
use crate::reconcile::locks;
use crate::sessions::HomeRef;

mod browse;
mod repair;
mod trash;

pub use browse::{list, stats};
pub use repair::{sync_threads, visibility};
pub use trash::{purge, restore, trash, trash_list};

use std::cell::RefCell;

/// The homes a session command works on.
pub fn resolve_homes(ctx: &Ctx, arg: &HomesArg) -> Result<Vec<HomeRef>> {
    if let Some(p) = &arg.codex_home {
        let path = paths::absolute(p);
        return Ok(vec![HomeRef {
            name: paths::display(&path),
            path,
        }]);
    }
    let m = manifest::optional(ctx.global.manifest.as_deref())?;
    if let Some(name) = &arg.home {
        let m = m.ok_or_else(|| {
            Error::user("`--home` needs cdxs.yaml")
                .with_help("run `cdxs init`, or pass `--codex-home PATH`")
        })?;
        let h = m.homes.get(name).ok_or_else(|| {
            Error::user(format!("cdxs.yaml declares no home `{name}`"))
                .with_help("see `cdxs home list`")
        })?;
        return Ok(vec![HomeRef {
            name: name.clone(),
            path: h.path.clone(),
        }]);
    }
    let default_path = paths::default_codex_home()?;
    let mut homes: Vec<HomeRef> = Vec::new();
    if let Some(m) = &m {
        if arg.all_homes {
            homes.extend(m.homes.values().map(|h| HomeRef {
                name: h.name.clone(),
                path: h.path.clone(),
            }));
        } else if let Some(h) = m.homes.get("default") {
            return Ok(vec![HomeRef {
                name: "default".into(),
                path: h.path.clone(),
            }]);
        } else if let Some(h) = m.homes.values().find(|h| h.path == default_path) {
            return Ok(vec![HomeRef {
                name: h.name.clone(),
                path: h.path.clone(),
            }]);
        }
    }
    let key = paths::resolved_key(&default_path);
    if !homes.iter().any(|h| paths::resolved_key(&h.path) == key) {
        // Names key journal addresses and copies: a second `default` goes by its path.
        let name = if homes.iter().any(|h| h.name == "default") {
            paths::display(&default_path)
        } else {
            "default".into()
        };
        homes.push(HomeRef {
            name,
            path: default_path,
        });
    }
    if !arg.all_homes {
        homes.truncate(1);
    }
    Ok(homes)
}

/// The named home, else every home (commands that look a thread up by id anywhere).
fn homes_or_all(ctx: &Ctx, arg: &HomesArg) -> Result<Vec<HomeRef>> {
    if arg.home.is_some() || arg.codex_home.is_some() {
        return resolve_homes(ctx, arg);
    }
    resolve_homes(
        ctx,
        &HomesArg {
            all_homes: true,
            home: None,
            codex_home: None,
        },
    )
}

/// Run actions as one journaled generation under the vault lock and the homes' locks.
fn journaled<T>(
    ctx: &Ctx,
    command: &str,
    homes: &[&Path],
    actions: Vec<(String, String, String)>,
    f: impl FnMut(usize) -> Result<T>,
) -> Result<Vec<T>> {
    journaled_with(ctx, command, homes, actions, || Ok(()), f)
}

/// [`journaled`] with a `prepare` step run once the locks are held and before the
/// generation begins: checks that must come first (a live thread), then messages and
/// backups.
fn journaled_with<T>(
    ctx: &Ctx,
    command: &str,
    homes: &[&Path],
    actions: Vec<(String, String, String)>,
    prepare: impl FnOnce() -> Result<()>,
    mut f: impl FnMut(usize) -> Result<T>,
) -> Result<Vec<T>> {
    let state_dir = ctx.state_dir()?;
    let holder = format!("cdxs {command}");
    let _v = locks::vault(&state_dir, &holder)?;
    let _h = locks::homes(&state_dir, homes.iter().copied(), &holder)?;
    let mut vault = ctx.vault()?;
    vault.mark_interrupted(ctx.ts())?;
    for home in homes {
        let (writable, notes) = crate::sessions::gate(home)?;
        if writable {
            for n in notes {
                ctx.printer.status(format!("note: {n}"));
            }
        }
    }
    prepare()?;
    let n = actions.len();
    let generation = vault.begin_generation(command, None, None, &actions, ctx.ts())?;
    let mut out = Vec::new();
    let bar = ctx.printer.progress(n, command);
    for seq in 0..n {
        bar.inc(1);
        match f(seq) {
            Ok(v) => {
                vault.finish_action(generation, seq, None)?;
                out.push(v);
            }
            Err(e) => {
                vault.finish_action(generation, seq, Some(&e.to_string()))?;
                vault.finish_generation(generation, false, Some(&e.to_string()), ctx.ts())?;
                return Err(e);
            }
        }
    }
    bar.finish_and_clear();
    vault.finish_generation(generation, true, None, ctx.ts())?;
    let m = manifest::optional(ctx.global.manifest.as_deref())
        .ok()
        .flatten();
    if let Some(w) = crate::backup::prune_after(&mut vault, m.as_ref(), ctx.ts()) {
        ctx.printer.warn(w);
    }
    Ok(out)
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn short(s: &str, n: usize) -> String {
    let one = s.lines().next().unwrap_or("").trim();
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n - 1).collect::<String>())
    } else {
        one.to_string()
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} kB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GB", n as f64 / 1_073_741_824.0),
    }
}
