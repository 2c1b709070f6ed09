//! Backups of everything cdxs replaces, kept in the state folder (0700, files 0600) because
//! they may hold secrets. One folder per operation: `<state>/backups/<stamp>-<label>/`.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::fsx;

#[derive(Debug)]
pub struct Backups {
    dir: PathBuf,
    saved: Vec<(PathBuf, PathBuf)>,
}

impl Backups {
    /// Backups for one operation; the folder is created on the first save.
    pub fn new(state_dir: &Path, label: &str) -> Self {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
        let mut suffix = [0u8; 3];
        rand::fill(&mut suffix);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Backups {
            dir: state_dir
                .join("backups")
                .join(format!("{stamp}-{label}-{}", crate::secret::hex(&suffix))),
            saved: Vec::new(),
        }
    }

    /// Save `bytes` (the current content of `original`) and return where they went.
    pub fn save(&mut self, original: &Path, bytes: &[u8]) -> Result<PathBuf> {
        let target = self.path_for(original)?;
        if let Err(e) = fsx::write_atomic(&target, bytes, fsx::SECRET_FILE_MODE) {
            self.saved.pop();
            return Err(e);
        }
        Ok(target)
    }

    /// A path in this operation's backup folder (for SQLite online backups).
    pub fn path_for(&mut self, original: &Path) -> Result<PathBuf> {
        fsx::ensure_private_dir(&self.dir)?;
        let name = original
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        let target = self.dir.join(format!("{:03}-{name}", self.saved.len() + 1));
        self.saved.push((original.to_path_buf(), target.clone()));
        Ok(target)
    }

    /// (original, backup) pairs saved so far.
    pub fn saved(&self) -> &[(PathBuf, PathBuf)] {
        &self.saved
    }
}
