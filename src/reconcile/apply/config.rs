//! The executor's writes of a home's folder and its config.toml keys.

use std::path::Path;

use super::Did;
use super::run::Run;
use crate::codex::config;
use crate::error::{Result, tick};
use crate::fsx;
use crate::vault::Vault;
use crate::vault::home_write::{self as homes, Step};

/// Set (`Some`) or remove (`None`) one key of a home's config.toml, journaled, refusing
/// when the file changed since the plan saw it (unless this run wrote it already).
fn set_key(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
    key: &str,
    value: Option<&str>,
    expect: &Option<String>,
) -> Result<config::ConfigWrite> {
    fsx::ensure_private_dir(path)?;
    let file = config::config_path(path);
    let check = (!run.touched.contains(&file)).then_some(expect);
    let w = homes::set_config_key_journaled(
        vault,
        &mut run.backups,
        path,
        key,
        value,
        check,
        Step {
            generation: run.generation,
            seq,
        },
    )?;
    run.touched.insert(file);
    run.changed |= w.before != w.after;
    Ok(w)
}

pub(super) fn set_base_url(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
    url: Option<&str>,
    expect: &Option<String>,
) -> Result<Did> {
    let w = set_key(run, vault, seq, path, config::BASE_URL_KEY, url, expect)?;
    let file = config::config_path(path);
    Ok(Did::backed(
        match url {
            Some(u) => format!(
                "set `openai_base_url = \"{}\"` in {}",
                config::display_url(u),
                tick(&file)
            ),
            None => format!("removed `openai_base_url` from {}", tick(&file)),
        },
        w.backup,
    ))
}

pub(super) fn set_credentials_store(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
    expect: &Option<String>,
) -> Result<Did> {
    let w = set_key(
        run,
        vault,
        seq,
        path,
        config::STORE_KEY,
        Some("file"),
        expect,
    )?;
    Ok(Did::backed(
        format!(
            "set `cli_auth_credentials_store = \"file\"` in {}",
            tick(&config::config_path(path))
        ),
        w.backup,
    ))
}

pub(super) fn create_home_dir(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
) -> Result<Did> {
    let created = !path.exists();
    fsx::ensure_private_dir(path)?;
    if created {
        // Journaled: `rollback` removes it again (when it is empty by then).
        vault.record_created_folder(run.generation, seq, path)?;
        run.changed = true;
    }
    Ok(Did::said(format!("created {}", tick(path))))
}
