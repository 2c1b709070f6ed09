//! observe -> plan (pure) -> apply.
//!
//! `observe` reads every declared home, the vault and the environment into an [`Observed`]
//! snapshot; `plan` is a pure function from (manifest, observed, now) to a [`Plan`]: a list
//! of typed actions with addresses, never a secret; `apply` executes a plan under locks,
//! with backups and a journal of generations.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod address;
pub mod apply;
pub mod engine;
pub mod observe;
pub mod ops;
pub mod plan;
pub mod plan_file;
pub mod rollback;
mod sessions_obs;
pub mod staged;
pub mod status;
pub mod text_diff;
pub mod watch;

pub use address::{AccountPart, Address, HomeId, HomePart};
pub use observe::Observed;

/// Terraform's four kinds: create `+`, update `~`, delete `-`, read `<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    Create,
    Update,
    Delete,
    Read,
}

impl ActionKind {
    pub fn symbol(self) -> &'static str {
        match self {
            ActionKind::Create => "+",
            ActionKind::Update => "~",
            ActionKind::Delete => "-",
            ActionKind::Read => "<=",
        }
    }
}

/// What apply does for one action. Holds references (ids, paths, variable names), never
/// a secret: a saved plan file is safe to keep or show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Create a home's folder (0700).
    CreateHomeDir { home: HomeId, path: PathBuf },
    /// Import an auth.json (a CI secret mount) into the vault.
    ImportAuthFile { alias: String, path: PathBuf },
    /// Take newer tokens that Codex wrote into a home's auth.json into the vault.
    Harvest {
        home: HomeId,
        path: PathBuf,
        account_id: String,
    },
    /// Refresh a ChatGPT login's tokens (they expire within the refresh window, or `force`:
    /// `refresh-token`); every folder holding the login gets the new tokens at once.
    Refresh {
        account_id: String,
        #[serde(default)]
        force: bool,
    },
    /// Fix one visibility problem in a home's state DB.
    RepairThread {
        home: HomeId,
        path: PathBuf,
        issue: crate::sessions::visibility::Issue,
    },
    /// Delete a trashed thread for good (`trash_max_age`).
    PurgeTrash {
        home: HomeId,
        path: PathBuf,
        id: String,
    },
    /// Copy a thread a home lacks (`share_threads`).
    CopyThread {
        copy: crate::sessions::share::Copy,
        from_path: PathBuf,
        to_path: PathBuf,
    },
    /// Set (`Some`) or remove (`None`) `openai_base_url` in a home's config.toml, so that
    /// Codex calls the endpoint of the API-key account bound there.
    SetBaseUrl {
        home: HomeId,
        path: PathBuf,
        url: Option<String>,
        /// Fingerprint of config.toml at observe time (`None`: absent).
        expect: Option<String>,
    },
    /// Set `cli_auth_credentials_store = "file"` in a home's config.toml (the home declares
    /// `codex_config: { cli_auth_credentials_store: file }`), so that Codex reads the
    /// auth.json cdxs writes.
    SetCredentialsStore {
        home: HomeId,
        path: PathBuf,
        /// Fingerprint of config.toml at observe time (`None`: absent).
        expect: Option<String>,
    },
    /// Write a home's auth.json.
    WriteAuth {
        home: HomeId,
        path: PathBuf,
        source: CredentialSource,
        /// Fingerprint of the file at observe time (`None`: absent); apply refuses when it
        /// changed meanwhile.
        expect: Option<String>,
        /// An imperative write (`switch` without a manifest, `run --account`): whatever the
        /// file holds now is harvested and replaced.
        #[serde(default)]
        any: bool,
        /// The file holds another account now: this write switches the home (`watch` waits
        /// for the home's turns to end, and keeps a pool home on a pick for `min_dwell`).
        #[serde(default)]
        switch: bool,
    },
    /// Remove a login from a folder (`switch --move`: it lives elsewhere now), with a
    /// backup and after harvesting it.
    RemoveAuth { path: PathBuf, account_id: String },
    /// Put back a file a generation replaced (`rollback`). What an auth.json gets is
    /// decided under the locks, after the harvest: never an older or spent copy of a login
    /// than the vault or the file holds. `after` = [`crate::vault::journal::CREATED_FOLDER`]:
    /// the generation created this folder; it is removed when it is empty.
    RestoreFile {
        path: PathBuf,
        /// The backup to restore; `None`: the generation created the file, remove it.
        backup: Option<PathBuf>,
        /// Fingerprint the generation left the file with (to say it changed since).
        after: Option<String>,
    },
    /// Take a thread a generation copied into a home out again (`rollback` of a thread
    /// copy): its rows, its name and the copied rollout go. A copy Codex continued since
    /// (its rollout changed) is moved into the home's trash instead, to be restored.
    RemoveThreadCopy {
        home: HomeId,
        path: PathBuf,
        id: String,
        /// The copied rollout, and its size and mtime right after the copy.
        rollout: PathBuf,
        size: Option<u64>,
        mtime_ns: Option<i64>,
    },
    /// Move a thread into its home's trash (`session trash`).
    TrashThread {
        home: HomeId,
        path: PathBuf,
        id: String,
    },
    /// Put a trashed thread back (`session restore`).
    RestoreThread {
        home: HomeId,
        path: PathBuf,
        id: String,
    },
    /// Pull from or push to a `sync.targets` server (`sync.<target>.pull|push`). It runs
    /// outside the locks the local actions hold: a pull merges under the vault lock itself.
    Sync {
        target: String,
        direction: crate::sync::plan::Direction,
    },
    /// Put an account into the vault (`import auth|legacy`, `login`, `account add-api-key`,
    /// `init`), merged by the vault's rule: never an older or a spent token over a newer one.
    PutAccount { account: staged::StagedAccount },
    /// Take an account out of the vault (`account remove`): its secrets are erased from the
    /// vault's files.
    RemoveAccount { account_id: String },
    /// Name an account (`account rename`).
    RenameAccount { account_id: String, name: String },
    /// Write cdxs.yaml (`switch`, `home create|bind|unbind|remove`, `init`, `import
    /// legacy`): its whole new text, refused when the file changed since it was read.
    WriteManifest {
        path: PathBuf,
        /// Fingerprint of the text the edit was made from (`None`: the file must not exist).
        before: Option<String>,
        text: staged::StagedText,
    },
    /// Delete one backup of this state folder: a folder past its retention (`backups:`), or
    /// a file holding a removed account's secrets (`account remove --purge-backups`).
    DeleteBackup { path: PathBuf, folder: bool },
    /// Remember that a folder holds a login on purpose (`home remove --keep-login`): it
    /// stays a placement, so the one-live-copy rule sees it wherever cdxs writes next.
    KeepPlacement { path: PathBuf, account_id: String },
    /// Forget what the other machines said about a device (`sync forget-device`): a lost
    /// machine never lets go of its logins itself.
    ForgetDevice { device: String },
    /// Forget a placement whose folder no longer holds its login (before `sync push`: the
    /// next push tells the other machines the login left it).
    ForgetPlacement { path: PathBuf, account_id: String },
    /// Take a vault archive's accounts, spent tokens and placements into the vault (`vault
    /// import`), by sync's rules, after a backup of the vault.
    ImportArchive {
        file: PathBuf,
        contents: staged::StagedArchive,
    },
}

impl Op {
    /// The folders this operation writes in (their cdxs locks are taken first).
    pub fn folders(&self) -> Vec<&std::path::Path> {
        match self {
            Op::CreateHomeDir { path, .. }
            | Op::WriteAuth { path, .. }
            | Op::SetBaseUrl { path, .. }
            | Op::SetCredentialsStore { path, .. }
            | Op::Harvest { path, .. }
            | Op::RepairThread { path, .. }
            | Op::PurgeTrash { path, .. }
            | Op::TrashThread { path, .. }
            | Op::RestoreThread { path, .. }
            | Op::RemoveThreadCopy { path, .. }
            | Op::RemoveAuth { path, .. } => vec![path.as_path()],
            Op::CopyThread {
                from_path, to_path, ..
            } => vec![from_path.as_path(), to_path.as_path()],
            Op::RestoreFile { path, after, .. }
                if after.as_deref() == Some(crate::vault::journal::CREATED_FOLDER) =>
            {
                vec![path.as_path()]
            }
            Op::RestoreFile { path, .. } => {
                vec![path.parent().unwrap_or(std::path::Path::new("/"))]
            }
            Op::ImportAuthFile { .. }
            | Op::Refresh { .. }
            | Op::Sync { .. }
            | Op::PutAccount { .. }
            | Op::RemoveAccount { .. }
            | Op::RenameAccount { .. }
            | Op::DeleteBackup { .. }
            | Op::KeepPlacement { .. }
            | Op::ForgetPlacement { .. }
            | Op::ForgetDevice { .. }
            | Op::ImportArchive { .. }
            // The vault lock, which every cdxs writer holds, covers cdxs.yaml.
            | Op::WriteManifest { .. } => vec![],
        }
    }

    /// Why `rollback` cannot undo this operation; `None` when it can (what it changed is
    /// journaled with a backup: a file, a thread copy, a trashed thread).
    pub fn irreversible(&self) -> Option<&'static str> {
        match self {
            Op::Refresh { .. } => Some("the issuer has forgotten the tokens it replaced"),
            Op::ImportAuthFile { .. } | Op::Harvest { .. } | Op::PutAccount { .. } => Some(
                "the vault keeps the newest tokens it has seen; `cdxs account remove` takes an account out",
            ),
            Op::RemoveAccount { .. } => Some(
                "its secrets were erased from the vault; `cdxs import auth` or `cdxs login` adds it again",
            ),
            Op::RenameAccount { .. } => Some("`cdxs account rename` names it again"),
            Op::PurgeTrash { .. } => Some("the thread was deleted for good"),
            Op::Sync { .. } => Some("what a sync server holds is not journaled here"),
            Op::DeleteBackup { .. } => Some("the backup was deleted for good"),
            Op::ForgetDevice { .. } => {
                Some("that machine states its placements again when it next pushes")
            }
            Op::KeepPlacement { .. } | Op::ForgetPlacement { .. } => {
                Some("the vault forgets a placement once its folder no longer holds the login")
            }
            Op::ImportArchive { .. } => Some(
                "the vault keeps the newest tokens it has seen; its copy from before is in `backups/vault-import/`",
            ),
            Op::CreateHomeDir { .. }
            | Op::WriteAuth { .. }
            | Op::RemoveAuth { .. }
            | Op::SetBaseUrl { .. }
            | Op::SetCredentialsStore { .. }
            | Op::RepairThread { .. }
            | Op::CopyThread { .. }
            | Op::RemoveThreadCopy { .. }
            | Op::TrashThread { .. }
            | Op::RestoreThread { .. }
            | Op::RestoreFile { .. }
            | Op::WriteManifest { .. } => None,
        }
    }
}

/// Where the credentials written into a home come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum CredentialSource {
    Vault {
        account_id: String,
    },
    /// An API key in an environment variable (never stored), with its fingerprint at plan
    /// time so that apply notices a changed key.
    Env {
        var: String,
        key_fingerprint: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub address: Address,
    pub kind: ActionKind,
    /// One line: what and why.
    pub description: String,
    /// `label: before -> after` lines of the redacted diff.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    pub op: Op,
}

/// One side of a change: typed for scripts (`--json`: `before`, `after`), shown to people as
/// the display string beside it (`before_display`, `after_display`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub field: String,
    /// What the file holds now (`null`: nothing, the file is absent).
    #[serde(rename = "before", default)]
    pub before_value: Option<ChangeValue>,
    /// What it will hold.
    #[serde(rename = "after", default)]
    pub after_value: Option<ChangeValue>,
    #[serde(rename = "before_display", default)]
    pub before: Option<String>,
    #[serde(rename = "after_display", default)]
    pub after: Option<String>,
    /// The file's diff, where cdxs edits a text file people edit too (config.toml).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<text_diff::TextDiff>,
}

/// A value in a plan's change, typed (never a secret: keys and tokens appear only as
/// `sha256:` fingerprints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeValue {
    /// A login or API key: one of the vault's accounts (`in_vault`), or one a file holds
    /// that the vault does not know.
    Account {
        /// The manifest's alias, where the plan names the account by one.
        alias: Option<String>,
        id: Option<String>,
        /// The vault's name (an email, or an API key's name).
        name: Option<String>,
        kind: Option<crate::vault::AccountKind>,
        email: Option<String>,
        plan_type: Option<String>,
        /// An API key's fingerprint.
        key_fingerprint: Option<String>,
        /// Cached quota left, in percent (5-hour and weekly windows).
        five_hour_left: Option<f64>,
        weekly_left: Option<f64>,
        in_vault: bool,
    },
    /// An API key read from an environment variable at apply time (never stored).
    EnvKey {
        alias: String,
        var: String,
        key_fingerprint: String,
    },
    /// An auth.json without credentials.
    NoCredentials,
    /// An auth.json cdxs cannot read.
    Unreadable { error: String },
    /// A login of a mode cdxs does not manage (`agentIdentity`, ...).
    Foreign { mode: String },
    /// A setting's value (`openai_base_url`, `cli_auth_credentials_store`).
    Setting { value: String },
}

/// A file changed outside cdxs since cdxs last wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    pub address: Address,
    pub path: PathBuf,
    pub description: String,
}

/// Something plan cannot decide (unknown account, unset variable): no apply until fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanError {
    pub address: Address,
    pub message: String,
    pub help: String,
}

impl From<PlanError> for crate::error::PlanProblem {
    fn from(e: PlanError) -> Self {
        crate::error::PlanProblem {
            address: e.address.to_string(),
            message: e.message,
            help: e.help,
        }
    }
}

/// Every error of a plan, as the error that stops a command.
pub fn plan_failed(errors: Vec<PlanError>) -> crate::error::Error {
    crate::error::Error::Plan {
        errors: errors.into_iter().map(Into::into).collect(),
    }
}

/// A note for the person (processes that keep old credentials, keyring stores).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub address: Address,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub read: usize,
}

/// What plan observed about a home, so that a saved plan can tell when it went stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeFingerprint {
    pub path: PathBuf,
    pub dir_exists: bool,
    pub auth: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub manifest: PathBuf,
    pub manifest_fingerprint: String,
    pub actions: Vec<Action>,
    #[serde(default)]
    pub drift: Vec<Drift>,
    #[serde(default)]
    pub errors: Vec<PlanError>,
    #[serde(default)]
    pub notes: Vec<Note>,
    /// Per home name.
    pub observed: BTreeMap<String, HomeFingerprint>,
    /// Homes whose auth.json already holds what cdxs.yaml asks for: apply records them as
    /// the baseline against which later drift is measured.
    #[serde(default)]
    pub accepted: Vec<Accepted>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub home: String,
    /// The auth.json.
    pub path: PathBuf,
    pub fingerprint: String,
    pub account_id: Option<String>,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for a in &self.actions {
            match a.kind {
                ActionKind::Create => s.add += 1,
                ActionKind::Update => s.change += 1,
                ActionKind::Delete => s.destroy += 1,
                ActionKind::Read => s.read += 1,
            }
        }
        s
    }

    pub fn has_changes(&self) -> bool {
        !self.actions.is_empty()
    }

    /// Keep only actions whose address is one of `targets` or lies under one
    /// (`home.work` selects `home.work.dir` and `home.work.auth`).
    pub fn retain_targets(&mut self, targets: &[String]) {
        if targets.is_empty() {
            return;
        }
        self.actions
            .retain(|a| targets.iter().any(|t| a.address.contains(t)));
    }
}
