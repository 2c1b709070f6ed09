//! What one apply run carries from action to action: its generation, its backups, the
//! files it already rewrote, the locks of Codex's maintenance it holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::ApplyEnv;
use crate::backup::Backups;
use crate::error::Result;
use crate::fsx;
use crate::sessions::HomeRef;

/// What one apply run knows across its actions.
pub(super) struct Run<'a> {
    pub(super) generation: i64,
    pub(super) backups: Backups,
    /// Every home cdxs knows: refresh harvests from and updates them.
    pub(super) homes: Vec<PathBuf>,
    /// Files this run already rewrote (a later write to one of them does not compare
    /// against what plan saw).
    pub(super) touched: BTreeSet<PathBuf>,
    /// Homes whose Codex databases this run already backed up.
    pub(super) dbs_saved: BTreeSet<PathBuf>,
    /// Codex's rollout maintenance locks this run holds (taken by the first session action
    /// in a home, held until the run ends).
    pub(super) maintenance: BTreeMap<PathBuf, crate::codex::maintenance::Held>,
    /// Some action changed something (a file, a database, the vault's tokens).
    pub(super) changed: bool,
    pub(super) env: &'a ApplyEnv<'a>,
}

impl<'a> Run<'a> {
    pub(super) fn new(generation: i64, env: &'a ApplyEnv<'a>) -> Self {
        let mut homes = env.known_homes.clone();
        if let Ok(default) = crate::paths::default_codex_home()
            && !homes.contains(&default)
        {
            homes.push(default);
        }
        Run {
            generation,
            backups: Backups::new(env.state_dir, &format!("gen{generation}")),
            homes,
            touched: BTreeSet::new(),
            dbs_saved: BTreeSet::new(),
            maintenance: BTreeMap::new(),
            changed: false,
            env,
        }
    }

    /// Before a session action moves, writes or deletes rollouts or their rows in a home:
    /// wait (`CDXS_LOCK_TIMEOUT`) while a Codex worker compresses or migrates that home's
    /// rollouts, then hold Codex's maintenance lock for the rest of the run.
    pub(super) fn hold_maintenance(
        &mut self,
        id: &crate::reconcile::HomeId,
        home: &Path,
    ) -> Result<()> {
        let name = match id {
            crate::reconcile::HomeId::Named(n) | crate::reconcile::HomeId::Folder(n) => n.as_str(),
        };
        // Keyed by the resolved folder: a second flock on the same file from this process
        // would wait for itself.
        if let std::collections::btree_map::Entry::Vacant(slot) =
            self.maintenance.entry(crate::vault::lock::key(home))
        {
            slot.insert(crate::codex::maintenance::hold(
                home,
                name,
                fsx::lock_timeout(),
            )?);
        }
        Ok(())
    }

    /// Back up a home's Codex databases once per run (SQLite's online backup API).
    pub(super) fn save_dbs(&mut self, home: &Path) -> Result<()> {
        if self.dbs_saved.insert(home.to_path_buf()) {
            crate::sessions::trash::backup_dbs(home, &mut self.backups)?;
        }
        Ok(())
    }
}

pub(super) fn home_ref(home: &crate::reconcile::HomeId, path: &Path) -> HomeRef {
    HomeRef {
        name: match home {
            crate::reconcile::HomeId::Named(n) | crate::reconcile::HomeId::Folder(n) => n.clone(),
        },
        path: path.to_path_buf(),
    }
}
