//! Errors and the one exit-code table.
//!
//! The core returns [`Error`]; `main` renders it with miette and maps it to an exit code
//! through [`Error::exit_code`]. Messages start lower-case, carry no trailing period, put
//! commands and paths in backticks, and say what to do next in `help`.

use std::fmt;
use std::path::Path;

pub mod diagnostic;

/// Process exit codes, documented in `cdxs --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (and, for `plan --detailed-exitcode`, "no changes").
    Success = 0,
    /// Any error: bad input, bad manifest, failed action.
    Error = 1,
    /// `plan --detailed-exitcode`: the plan has changes.
    Changes = 2,
    /// A lock (vault, home, Codex's own) could not be taken in time.
    LockTimeout = 3,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// The exit-code table shown in `--help`.
pub const EXIT_CODE_HELP: &str = "\
Exit codes:
  0  success (plan --detailed-exitcode: no changes)
  1  error; validate, session visibility check and doctor finding a problem
  2  plan --detailed-exitcode: changes present
  3  a lock could not be taken in time (the message names its holder)";

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the user can fix: bad input, missing file, unknown account.
    #[error("{message}")]
    User {
        message: String,
        help: Option<String>,
    },
    /// A lock could not be taken within its deadline.
    #[error("{message}")]
    LockTimeout {
        message: String,
        help: Option<String>,
    },
    /// A manifest (or other source file) diagnostic with labelled spans.
    #[error(transparent)]
    Diagnostics(Box<diagnostic::Report>),
    /// An I/O failure, with what we were doing.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The vault database failed.
    #[error("vault database error")]
    Sqlite(#[from] rusqlite::Error),
    /// One of Codex's databases in a home failed (never called "the vault").
    #[error("Codex's database {} failed", tick(path))]
    CodexDb {
        path: std::path::PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// An action failed after some earlier ones were done (apply).
    #[error("{message}")]
    Action {
        message: String,
        help: Option<String>,
        #[source]
        source: Option<Box<Error>>,
    },
    /// A name on the command line did not name one account.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A plan a person reviewed (saved, or confirmed at the prompt) no longer matches the
    /// world.
    #[error("the plan is stale: {why}")]
    Stale { why: String, saved: bool },
    /// The manifest a command needs does not exist.
    #[error("{}", no_manifest(path, *explicit))]
    NoManifest {
        path: std::path::PathBuf,
        /// Named by `-f` or `$CDXS_MANIFEST` (else found by the default search).
        explicit: bool,
    },
    /// A home name the manifest does not declare.
    #[error("cdxs.yaml declares no home `{name}`")]
    UnknownHome {
        name: String,
        suggestion: Option<String>,
        declared: Vec<String>,
    },
    /// Plan found problems it cannot decide (unknown account, unset variable).
    #[error("cannot plan: {} problem{} above", errors.len(), if errors.len() == 1 { "" } else { "s" })]
    Plan { errors: Vec<PlanProblem> },
    /// A ChatGPT login cannot be used until someone logs in again (its refresh token was
    /// refused or spent).
    #[error("{account} needs a new login: {why}")]
    NeedsLogin { account: String, why: String },
    /// A ChatGPT login is live in another folder: a second copy would be spent by one of
    /// them (`refresh_token_reused`).
    #[error("{account} is live in {}{}: a second copy would end in `refresh_token_reused`", tick(folder), home.as_ref().map(|h| format!(" (home `{h}`)")).unwrap_or_default())]
    LiveElsewhere {
        account: String,
        folder: std::path::PathBuf,
        /// The manifest home it is bound to, if any.
        home: Option<String>,
    },
    /// `--dry-run` reached the executor's door: the command stops there, having written
    /// nothing (the shell shows the plan it stopped at; not a failure).
    #[error("dry run: stopped before the first write")]
    DryRun,
    /// A ChatGPT login is live on another machine (its synced record says so): a copy here
    /// would be spent by one of the two.
    #[error(
        "{account} is live in {there}, so it does not go into {here} too: a second copy would end in `refresh_token_reused`"
    )]
    LiveOnAnotherMachine {
        account: String,
        /// This machine's folder, described (`home `work` (~/.codex-work)` or `` `PATH` ``).
        here: String,
        /// Where it is live, described (`home `work` on machine `laptop-a` (~/.codex-work)`).
        there: String,
        /// How that machine lets it go (`on `laptop-a`, switch it to another login ...`).
        let_go: String,
    },
}

fn no_manifest(path: &Path, explicit: bool) -> String {
    if explicit {
        format!("the manifest {} does not exist", tick(path))
    } else {
        "no cdxs.yaml found (looked in `./cdxs.yaml` and the config folder)".to_string()
    }
}

/// Messages quote data (thread names, paths, server answers): a terminal gets them with
/// control characters escaped, whoever built the message.
fn clean(text: impl Into<String>) -> String {
    let text = text.into();
    match crate::text::sanitize(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

impl Error {
    pub fn user(message: impl Into<String>) -> Self {
        Error::User {
            message: clean(message),
            help: None,
        }
    }

    pub fn lock_timeout(message: impl Into<String>, help: impl Into<String>) -> Self {
        Error::LockTimeout {
            message: clean(message),
            help: Some(clean(help)),
        }
    }

    /// Attach (or replace) the help line.
    pub fn with_help(mut self, text: impl Into<String>) -> Self {
        match &mut self {
            Error::User { help, .. }
            | Error::LockTimeout { help, .. }
            | Error::Action { help, .. } => *help = Some(clean(text)),
            Error::Io { context, source } => {
                return Error::Action {
                    message: context.clone(),
                    help: Some(text.into()),
                    source: Some(Box::new(Error::Io {
                        context: source.to_string(),
                        source: std::io::Error::new(source.kind(), source.to_string()),
                    })),
                };
            }
            _ => {}
        }
        self
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: clean(context),
            source,
        }
    }

    /// Output went to a closed pipe (`cdxs session list --json | head`): not a failure.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The message with its causes (`cannot create X: Not a directory`), for one line.
    pub fn full_message(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let text = c.to_string();
            if !out.contains(&text) {
                out.push_str(": ");
                out.push_str(&text);
            }
            cause = c.source();
        }
        out
    }

    /// A stable name for the kind of error (`--json` errors carry it; scripts match on it,
    /// never on the message).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::User { .. } => "user",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::Diagnostics(_) => "manifest",
            Error::Io { .. } => "io",
            Error::Sqlite(_) => "vault_database",
            Error::CodexDb { .. } => "codex_database",
            Error::Action { .. } => "action_failed",
            Error::Resolve(_) => "account",
            Error::Stale { .. } => "stale_plan",
            Error::NoManifest { .. } => "no_manifest",
            Error::UnknownHome { .. } => "unknown_home",
            Error::Plan { .. } => "plan",
            Error::NeedsLogin { .. } => "needs_login",
            Error::LiveElsewhere { .. } | Error::LiveOnAnotherMachine { .. } => "live_elsewhere",
            Error::DryRun => "dry_run",
        }
    }

    pub fn exit(&self) -> Exit {
        match self {
            Error::LockTimeout { .. } => Exit::LockTimeout,
            Error::Action {
                source: Some(inner),
                ..
            } => match inner.exit() {
                Exit::LockTimeout => Exit::LockTimeout,
                _ => Exit::Error,
            },
            Error::DryRun => Exit::Success,
            _ => Exit::Error,
        }
    }
}

impl miette::Diagnostic for Error {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self {
            Error::User { help, .. }
            | Error::LockTimeout { help, .. }
            | Error::Action { help, .. } => help
                .as_ref()
                .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>),
            Error::Sqlite(_) => Some(Box::new(
                "another cdxs may be busy with the vault; retry, or check the state folder's disk space and permissions",
            )),
            Error::CodexDb { .. } => Some(Box::new(
                "Codex may be busy with it, or it is damaged or from a Codex release cdxs does not know; run Codex once in that home, then retry (never delete it: thread names live only there)",
            )),
            Error::Diagnostics(report) => report.help(),
            // Typed errors: the shell adds the hints (they name commands).
            _ => None,
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        match self {
            Error::Diagnostics(report) => report.source_code(),
            _ => None,
        }
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        match self {
            Error::Diagnostics(report) => report.labels(),
            _ => None,
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        match self {
            Error::Diagnostics(report) => report.related(),
            _ => None,
        }
    }
}

/// Why a name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("an account name cannot be empty")]
    Empty,
    #[error("no account matches `{query}`")]
    NoMatch { query: String },
    #[error("`{query}` matches {} accounts: {}", candidates.len(), candidates.join(", "))]
    Ambiguous {
        query: String,
        /// `name (id)` of each match.
        candidates: Vec<String>,
    },
    #[error("alias `{alias}` ({reference}) does not name an account in the vault")]
    AliasUnknown { alias: String, reference: String },
    #[error("alias `{alias}` matches several accounts in the vault")]
    AliasAmbiguous { alias: String },
}

/// A problem plan could not decide, as an error carries it: the address it is on (as text),
/// what is wrong, what to do (the engine's typed `reconcile::PlanError` becomes this).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanProblem {
    pub address: String,
    pub message: String,
    pub help: String,
}

/// Names the Codex database a failure happened in (instead of "the vault").
pub trait OnCodexDb<T> {
    fn on_db(self, path: &Path) -> Result<T>;
}

impl<T> OnCodexDb<T> for Result<T> {
    fn on_db(self, path: &Path) -> Result<T> {
        self.map_err(|e| match e {
            Error::Sqlite(source) => Error::CodexDb {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }
}

impl<T> OnCodexDb<T> for std::result::Result<T, rusqlite::Error> {
    fn on_db(self, path: &Path) -> Result<T> {
        self.map_err(|source| Error::CodexDb {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Adds "what we were doing" to I/O results.
pub trait IoContext<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::io(what(), source))
    }
}

/// Backticked display of a path for messages.
pub fn tick(path: &Path) -> String {
    format!("`{}`", path.display())
}
