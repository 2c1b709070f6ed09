//! The executor's writes of cdxs's own files: cdxs.yaml (the commands that edit it) and the
//! state folder's backups (retention, purges of a removed account's secrets).

use std::path::Path;

use super::Did;
use super::run::Run;
use crate::error::{Error, Result, tick};
use crate::secret::fingerprint;
use crate::vault::Vault;

/// Write cdxs.yaml's new text, with a backup of the old, journaled so that `rollback`
/// puts it back. Refused when the file changed since the edit read it (`before`).
pub(super) fn write_manifest(
    run: &mut Run,
    vault: &mut Vault,
    seq: usize,
    path: &Path,
    before: Option<&str>,
    text: &str,
) -> Result<Did> {
    let now = crate::fsx::read_optional(path)?;
    let now_fingerprint = now.as_deref().map(fingerprint);
    if !run.touched.contains(path) && now_fingerprint.as_deref() != before {
        return Err(
            Error::user(format!("{} changed since this command read it", tick(path)))
                .with_help("nothing was written to it; run the command again"),
        );
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", tick(dir)), e))?;
    }
    let saved = run.backups.saved().len();
    crate::manifest::edit::write(path, text, &mut run.backups)?;
    let backup = run.backups.saved().get(saved).map(|(_, b)| b.clone());
    let after = fingerprint(text.as_bytes());
    vault.record_file(
        run.generation,
        seq,
        path,
        backup.as_deref(),
        now_fingerprint.as_deref(),
        Some(&after),
    )?;
    run.touched.insert(path.to_path_buf());
    run.changed = true;
    let verb = if now.is_some() { "wrote" } else { "created" };
    Ok(Did::backed(format!("{verb} {}", tick(path)), backup))
}

/// Delete one backup (a folder whole, or a file: a folder left empty goes with its last
/// file). Only what lies in this state folder's `backups/`, never through a symlink.
pub(super) fn delete_backup(run: &mut Run, path: &Path, folder: bool) -> Result<Did> {
    let root = crate::backup::backups_dir(run.env.state_dir);
    let inside = std::fs::symlink_metadata(path).is_ok_and(|m| !m.file_type().is_symlink())
        && path.parent().is_some_and(|p| {
            if folder {
                p == root
            } else {
                p.parent() == Some(root.as_path())
            }
        });
    if !inside {
        return Err(Error::user(format!(
            "{} is not a backup of this state folder",
            tick(path)
        )));
    }
    if folder {
        std::fs::remove_dir_all(path)
            .map_err(|e| Error::io(format!("cannot remove {}", tick(path)), e))?;
    } else {
        std::fs::remove_file(path)
            .map_err(|e| Error::io(format!("cannot remove {}", tick(path)), e))?;
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
    run.changed = true;
    Ok(Did::said(format!("deleted {}", tick(path))))
}
