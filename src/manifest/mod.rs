//! `cdxs.yaml`: the desired state. Model (serde + schemars), parsing with spans,
//! validation with diagnostics, in-place edits that keep comments and formatting.

use std::path::PathBuf;

use indexmap::IndexMap;

pub mod alias;
pub mod diagnostics;
pub mod edit;
pub mod init;
pub mod load;
pub mod model;
mod recover;
pub mod schema;
pub mod select;
pub use select::HomeRef;
mod tree;
mod validate;
pub mod values;

pub use load::{is_yaml_name, load, optional, parse, require};
pub use model::{Strategy, WatchApply};
pub use values::{Duration, Percent};

/// A validated manifest with paths resolved.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// The text it was parsed from (edits and fingerprints start from it).
    pub text: String,
    pub accounts: IndexMap<String, AccountRef>,
    pub pools: IndexMap<String, Vec<String>>,
    pub homes: IndexMap<String, Home>,
    pub sessions: Sessions,
    pub sync: Vec<SyncTarget>,
    pub watch: Watch,
    /// `backups:`: how long backups are kept.
    pub backups: crate::backup::Retention,
    /// What `validate` warns about (the file is valid; plan and apply stop on these).
    pub warnings: Vec<diagnostics::Problem>,
    /// Variables its paths use that are not set here (those paths keep `${NAME}`).
    pub unset: Vec<String>,
}

impl Manifest {
    /// The warnings, rendered against the file.
    pub fn warnings_report(&self) -> diagnostics::Report {
        diagnostics::Report::new(
            self.path.display().to_string(),
            self.text.as_str(),
            self.warnings.clone(),
        )
    }

    /// Plan, apply and every command that uses the homes' paths need every variable in
    /// them: the warnings of `validate` are errors there.
    pub fn require_expanded(&self) -> crate::error::Result<()> {
        if self.unset.is_empty() {
            return Ok(());
        }
        let report = self.warnings_report().as_errors();
        Err(crate::error::Error::Diagnostics(Box::new(
            if is_yaml_name(&self.path) {
                report
            } else {
                report.without_source()
            },
        )))
    }
}

/// How the manifest names an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRef {
    /// A vault login by email, optionally in one ChatGPT workspace.
    Email {
        email: String,
        workspace: Option<String>,
    },
    /// A vault account by id.
    Id(String),
    /// An API key read from the environment at apply time, never stored.
    ApiKeyEnv {
        var: String,
        base_url: Option<String>,
    },
    /// An auth.json imported at apply time.
    AuthFile(PathBuf),
}

impl AccountRef {
    /// Does this reference name the vault account with these fields? An email names an
    /// OAuth login (in the given workspace, if any); an id names that id.
    pub fn names(
        &self,
        id: &str,
        kind: crate::vault::AccountKind,
        email: Option<&str>,
        workspace: Option<&str>,
    ) -> bool {
        match self {
            AccountRef::Id(want) => want == id,
            AccountRef::Email {
                email: want,
                workspace: want_ws,
            } => {
                kind == crate::vault::AccountKind::OAuth
                    && email.is_some_and(|e| e.eq_ignore_ascii_case(want))
                    && want_ws.as_deref().is_none_or(|w| workspace == Some(w))
            }
            AccountRef::ApiKeyEnv { .. } | AccountRef::AuthFile(_) => false,
        }
    }

    /// One line for plans and listings, without secrets.
    pub fn describe(&self) -> String {
        match self {
            AccountRef::Email {
                email,
                workspace: Some(w),
            } => format!("{email} (workspace {w})"),
            AccountRef::Email { email, .. } => email.clone(),
            AccountRef::Id(id) => id.clone(),
            AccountRef::ApiKeyEnv { var, .. } => format!("API key from ${var}"),
            AccountRef::AuthFile(p) => format!("auth file {}", p.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Home {
    pub name: String,
    pub path: PathBuf,
    pub binding: Option<Binding>,
    /// `codex_config: { cli_auth_credentials_store: file }`: cdxs keeps the key in the
    /// home's config.toml.
    pub store_file: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// An alias from `accounts`.
    Account(String),
    Pool {
        pool: String,
        strategy: Strategy,
        /// Percent (0 to 100).
        switch_below: f64,
    },
}

/// Default hysteresis for pools: switch when the current pick drops below 10%.
pub const DEFAULT_SWITCH_BELOW: f64 = 10.0;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sessions {
    pub trash_max_age: Option<Duration>,
    pub auto_repair: bool,
    pub share_threads: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncTarget {
    pub name: String,
    pub url: String,
    pub user: String,
    pub share_accounts: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    pub interval: Duration,
    pub refresh_before_expiry: Duration,
    pub apply: WatchApply,
    /// A pool home stays on a pick at least this long.
    pub min_dwell: Duration,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            interval: Duration { seconds: 60 },
            refresh_before_expiry: Duration { seconds: 600 },
            apply: WatchApply::Safe,
            min_dwell: Duration { seconds: 600 },
        }
    }
}

impl Manifest {
    /// A fingerprint of the manifest's text (saved plans refuse a changed manifest).
    pub fn fingerprint(&self) -> String {
        crate::secret::fingerprint(self.text.as_bytes())
    }
}
