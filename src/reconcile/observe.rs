//! Observe: read the actual state of every declared home, the vault, the environment
//! variables and auth files the manifest references, and the drift baselines. All I/O of a
//! plan happens here; the result holds fingerprints and identities, not secrets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::codex::auth::{self, AuthState, Credentials};
use crate::codex::config::ConfigObs;
use crate::codex::processes::{self, CodexProcess};
use crate::error::Result;
use crate::manifest::{AccountRef, Manifest};
use crate::secret::Secret;
use crate::vault::accounts::{match_credentials, tokens_freshness};
use crate::vault::freshness::Freshness;
use crate::vault::journal::Baseline;
use crate::vault::{Account, AccountKind, Vault};

/// A vault account as plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountObs {
    pub id: String,
    pub kind: AccountKind,
    pub name: String,
    pub email: Option<String>,
    pub workspace: Option<String>,
    pub plan_type: Option<String>,
    pub freshness: Freshness,
    pub secret_fingerprint: Option<String>,
    pub has_credentials: bool,
    pub requires_reauth: bool,
    /// An API-key account's endpoint (`openai_base_url` in the homes that use it).
    pub base_url: Option<String>,
}

impl AccountObs {
    pub fn from_account(a: &Account) -> Self {
        AccountObs {
            id: a.id.clone(),
            kind: a.kind,
            name: a.name().to_string(),
            email: a.email.clone(),
            workspace: a.chatgpt_account_id.clone(),
            plan_type: a.plan_type.clone(),
            freshness: a.freshness(),
            secret_fingerprint: a.secret_fingerprint(),
            has_credentials: a.credentials().is_some(),
            requires_reauth: a.requires_reauth,
            base_url: a.base_url.clone(),
        }
    }
}

/// Credentials found in a file, described without secrets.
#[derive(Debug, Clone, PartialEq)]
pub enum CredObs {
    ApiKey {
        /// The id this key has (or would have) in the vault, without a base URL.
        identity_id: String,
        key_fingerprint: String,
        /// The vault account with this key, if any.
        account_id: Option<String>,
    },
    ChatGpt {
        /// The id this login has (or would have) in the vault.
        identity_id: String,
        email: Option<String>,
        workspace: Option<String>,
        plan_type: Option<String>,
        freshness: Freshness,
        refresh_fingerprint: String,
        account_id: Option<String>,
    },
}

impl CredObs {
    pub fn account_id(&self) -> Option<&str> {
        match self {
            CredObs::ApiKey { account_id, .. } | CredObs::ChatGpt { account_id, .. } => {
                account_id.as_deref()
            }
        }
    }
}

/// What a home's auth.json holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthObs {
    Missing,
    Unreadable(String),
    Empty,
    Foreign(String),
    Credentials(CredObs),
}

#[derive(Debug, Clone, PartialEq)]
pub struct HomeObs {
    pub path: PathBuf,
    pub dir_exists: bool,
    pub auth: AuthObs,
    /// Fingerprint of auth.json's bytes (`None` when absent).
    pub auth_fingerprint: Option<String>,
    /// What the home's config.toml says (credentials store, `openai_base_url`).
    pub config: ConfigObs,
    pub processes: Vec<CodexProcess>,
    /// Why the home's file system puts Codex's files at risk (a Windows drive seen from
    /// WSL, a network file system), if it does.
    pub shared_fs: Option<String>,
    /// Threads a running Codex has open (their writer lock is held): a turn may be running.
    pub live_threads: Vec<LiveThread>,
}

/// A thread whose writer lock is held, and by which process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveThread {
    pub id: String,
    pub pid: Option<u32>,
}

impl HomeObs {
    /// Why writing this home's auth.json now would change an account under a running turn
    /// (`None`: idle). App-servers alone do not count: they run idle for hours (the note
    /// about restarting them is given anyway).
    pub fn busy(&self) -> Option<String> {
        if let Some(t) = self.live_threads.first() {
            return Some(format!(
                "thread {} is live{}",
                t.id,
                t.pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ));
        }
        self.processes
            .iter()
            .find(|p| {
                !matches!(
                    p.role,
                    crate::codex::processes::Role::AppServer { .. }
                        | crate::codex::processes::Role::DesktopApp
                )
            })
            .map(|p| format!("Codex pid {} uses it", p.pid))
    }
}

/// An `auth_file` the manifest references.
#[derive(Debug, Clone, PartialEq)]
pub enum FileObs {
    Unreadable(String),
    Credentials(CredObs),
    NoCredentials(String),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observed {
    /// By home name.
    pub homes: BTreeMap<String, HomeObs>,
    pub accounts: Vec<AccountObs>,
    /// `api_key_env` variables: fingerprint of the key, or `None` when unset/empty.
    pub env_keys: BTreeMap<String, Option<String>>,
    pub auth_files: BTreeMap<PathBuf, FileObs>,
    /// By auth.json path.
    pub baselines: BTreeMap<PathBuf, Baseline>,
    /// Cached quota by account id (remaining percentages).
    pub quota: BTreeMap<String, QuotaObs>,
    /// Whether apply may call the network (token refresh); `--offline` turns it off.
    pub online: bool,
    /// Session state of homes that session policies apply to (by home name).
    pub sessions: BTreeMap<String, SessionsObs>,
    /// Rollout heads read from disk (not from the cache) while observing.
    pub heads_read: usize,
    /// Fingerprints of refresh tokens that are spent: a copy holding one is dead.
    pub spent: std::collections::BTreeSet<String>,
    /// The `sync.targets` that share accounts: cursors, pending changes, and (online) the
    /// server's revision. Only for a plan of every home.
    pub sync: Vec<crate::sync::plan::Observed>,
    /// ChatGPT logins live in folders this manifest does not declare: folders the vault
    /// placed a login in (another manifest's homes, `switch --codex-home`, `run --account`,
    /// a home removed from the manifest) and the default home. One live copy per login.
    pub elsewhere: Vec<LiveCopy>,
    /// ChatGPT logins other machines have live, as the last pulled records said: none of
    /// them goes into a home here (one live copy across machines).
    pub other_machines: Vec<crate::vault::placement::RemotePlacement>,
}

/// A ChatGPT login live in a folder the manifest does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCopy {
    pub folder: PathBuf,
    pub account_id: String,
}

/// What the session policies need to know about one home.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SessionsObs {
    /// `auto_repair`: the visibility problems.
    pub issues: Option<Vec<crate::sessions::visibility::Issue>>,
    /// `trash_max_age`: trash entries (id, trashed_at).
    pub trash: Option<Vec<(String, i64)>>,
    /// `share_threads`: the threads this home has and knows.
    pub threads: Option<crate::sessions::share::HomeThreads>,
    /// Its databases have a structure cdxs does not know (a newer Codex): it only reads them.
    pub read_only: bool,
    /// What the structural gate said, when it did more than recognise a release.
    pub gate: Vec<String>,
}

/// Remaining quota of an account, as cached.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QuotaObs {
    pub five_hour: Option<f64>,
    pub weekly: Option<f64>,
    pub limit_reached: bool,
    pub fetched_at: i64,
}

impl QuotaObs {
    /// The smaller of the two windows: what `most-remaining` ranks by.
    pub fn remaining(&self) -> Option<f64> {
        if self.limit_reached {
            return Some(0.0);
        }
        match (self.five_hour, self.weekly) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn from_quota(q: &crate::quota::Quota) -> Self {
        QuotaObs {
            five_hour: q.five_hour.map(|w| w.remaining_percent),
            weekly: q.weekly.map(|w| w.remaining_percent),
            limit_reached: q.limit_reached,
            fetched_at: q.fetched_at,
        }
    }
}

impl Observed {
    pub fn account(&self, id: &str) -> Option<&AccountObs> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

pub fn describe_creds(creds: &Credentials, vault: &[Account]) -> CredObs {
    let account_id = match_credentials(vault, creds).map(|a| a.id.clone());
    match creds {
        Credentials::ApiKey { key, .. } => CredObs::ApiKey {
            identity_id: crate::vault::ids::apikey_id(key.expose(), ""),
            key_fingerprint: key.fingerprint(),
            account_id,
        },
        Credentials::ChatGpt(t) => {
            let probe = Account::oauth(t, "observe", 0);
            CredObs::ChatGpt {
                identity_id: probe.id.clone(),
                email: probe.email.clone(),
                workspace: probe.chatgpt_account_id.clone(),
                plan_type: probe.plan_type.clone(),
                freshness: tokens_freshness(t),
                refresh_fingerprint: t.refresh_token.fingerprint(),
                account_id,
            }
        }
    }
}

fn observe_auth(home: &Path, vault: &[Account]) -> (AuthObs, Option<String>) {
    let path = auth::auth_path(home);
    let bytes = match auth::read_bytes(&path) {
        Ok(Some(b)) => b,
        Ok(None) => return (AuthObs::Missing, None),
        Err(e) => return (AuthObs::Unreadable(e.to_string()), None),
    };
    let fp = Some(crate::secret::fingerprint(&bytes));
    let obs = match auth::parse(&bytes) {
        Err(e) => AuthObs::Unreadable(e.to_string()),
        Ok(AuthState::Missing | AuthState::Empty) => AuthObs::Empty,
        Ok(AuthState::Foreign { mode }) => AuthObs::Foreign(mode),
        Ok(AuthState::Credentials(c)) => AuthObs::Credentials(describe_creds(&c, vault)),
    };
    (obs, fp)
}

/// What to observe.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only these homes (by name); `None` = all.
    pub homes: Option<Vec<String>>,
    /// Skip the scan for running Codex processes (`run` does not need it).
    pub skip_processes: bool,
    /// `--offline`: plan no token refresh (quota comes from the cache either way).
    pub offline: bool,
    /// Do not look at sessions (`run`, `switch`: only the auth of one home matters).
    pub skip_sessions: bool,
}

/// Read everything plan needs. `env` looks up environment variables (tests pass a map).
pub fn observe(
    manifest: &Manifest,
    vault: &Vault,
    env: &dyn Fn(&str) -> Option<String>,
    scope: &Scope,
) -> Result<Observed> {
    let accounts = vault.accounts()?;
    let mut observed = Observed {
        accounts: accounts.iter().map(AccountObs::from_account).collect(),
        baselines: vault.baselines()?,
        quota: vault
            .quotas()?
            .iter()
            .map(|(id, q)| (id.clone(), QuotaObs::from_quota(q)))
            .collect(),
        online: !scope.offline,
        spent: vault.spent()?,
        ..Observed::default()
    };
    let machine = MachineObs::read(scope.skip_processes);
    for (name, home) in &manifest.homes {
        if scope
            .homes
            .as_ref()
            .is_some_and(|only| !only.contains(name))
        {
            continue;
        }
        let obs = machine.home(&home.path, &accounts);
        observed.homes.insert(name.clone(), obs);
    }
    for r in manifest.accounts.values() {
        match r {
            AccountRef::ApiKeyEnv { var, .. } => {
                let fp = env(var)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
                    .map(|v| Secret::new(v).fingerprint());
                observed.env_keys.insert(var.clone(), fp);
            }
            AccountRef::AuthFile(path) => {
                let obs = observe_auth_file(path, &accounts);
                observed.auth_files.insert(path.clone(), obs);
            }
            _ => {}
        }
    }
    observed.elsewhere = live_copies_elsewhere(manifest, vault, &accounts)?;
    observed.other_machines = vault.remote_placements()?;
    if !scope.skip_sessions {
        observe_sessions(manifest, vault, scope, &mut observed)?;
    }
    Ok(observed)
}

/// What the machine says about every home at once, read once per observation.
struct MachineObs {
    /// Skip running Codex processes and held locks (`run` does not need them).
    skip_processes: bool,
    /// Running Codex processes by the folder they run in.
    procs: BTreeMap<PathBuf, Vec<CodexProcess>>,
    held_locks: crate::platform::locks::LockTable,
    /// Codex's settings outside any home, judged per home with its config.toml.
    settings: crate::codex::settings::MachineLayers,
}

impl MachineObs {
    fn read(skip_processes: bool) -> MachineObs {
        let procs = if skip_processes {
            BTreeMap::new()
        } else {
            processes::by_home(&crate::paths::codex_home_unset().unwrap_or_default())
        };
        let held_locks = if skip_processes {
            Default::default()
        } else {
            crate::platform::locks::LockTable::read()
        };
        MachineObs {
            skip_processes,
            procs,
            held_locks,
            settings: crate::codex::settings::MachineLayers::read(),
        }
    }

    /// One home: its login, its Codex settings, the Codex processes in it and the threads
    /// they hold open.
    fn home(&self, path: &Path, accounts: &[Account]) -> HomeObs {
        let dir_exists = path.is_dir();
        let (auth, auth_fingerprint) = if dir_exists {
            observe_auth(path, accounts)
        } else {
            (AuthObs::Missing, None)
        };
        let canonical =
            crate::platform::path::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        HomeObs {
            path: path.to_path_buf(),
            dir_exists,
            auth,
            auth_fingerprint,
            config: if dir_exists {
                crate::codex::config::observe_with(path, &self.settings)
            } else {
                ConfigObs {
                    settings: crate::codex::settings::effective(
                        &self.settings,
                        None,
                        &crate::codex::config::config_path(path)
                            .display()
                            .to_string(),
                    ),
                    ..ConfigObs::default()
                }
            },
            processes: self.procs.get(&canonical).cloned().unwrap_or_default(),
            shared_fs: crate::codex::wsl::risk(
                &canonical,
                crate::platform::mounts::file_system_type(path).as_deref(),
            ),
            live_threads: if self.skip_processes || !dir_exists {
                Vec::new()
            } else {
                live_threads(path, &self.held_locks)
            },
        }
    }
}

/// A mounted `auth_file` an account names.
fn observe_auth_file(path: &Path, accounts: &[Account]) -> FileObs {
    match auth::read_file(path) {
        Err(e) => FileObs::Unreadable(e.to_string()),
        Ok(doc) => match doc.state {
            AuthState::Credentials(c) => FileObs::Credentials(describe_creds(&c, accounts)),
            AuthState::Missing => FileObs::Unreadable("the file does not exist".into()),
            AuthState::Empty => FileObs::NoCredentials("it holds no credentials".into()),
            AuthState::Foreign { mode } => {
                FileObs::NoCredentials(format!("it uses auth mode `{mode}`"))
            }
        },
    }
}

/// The ChatGPT logins live in folders `manifest` does not declare (its placements in the
/// vault, and the default home): what a write into a declared home must not copy.
fn live_copies_elsewhere(
    manifest: &Manifest,
    vault: &Vault,
    accounts: &[Account],
) -> Result<Vec<LiveCopy>> {
    use crate::vault::placement::placement_key;
    let declared: std::collections::BTreeSet<PathBuf> = manifest
        .homes
        .values()
        .map(|h| placement_key(&h.path))
        .collect();
    let mut folders: Vec<PathBuf> = vault.placements()?.into_iter().map(|(p, _)| p).collect();
    folders.extend(crate::paths::default_codex_home().ok());
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for folder in folders {
        let key = placement_key(&folder);
        if declared.contains(&key) || !seen.insert(key) {
            continue;
        }
        if let Ok(doc) = auth::read(&folder)
            && let AuthState::Credentials(c @ auth::Credentials::ChatGpt(_)) = doc.state
            && let Some(a) = match_credentials(accounts, &c)
        {
            out.push(LiveCopy {
                folder,
                account_id: a.id.clone(),
            });
        }
    }
    Ok(out)
}

/// The threads of `home` whose writer lock a process holds: read from the OS's lock table
/// where it has one (Linux: nothing is locked to find out); elsewhere each lock file is
/// tried under Codex's coordination lock, as Codex does before it takes one.
fn live_threads(home: &Path, held: &crate::platform::locks::LockTable) -> Vec<LiveThread> {
    let Ok(entries) = std::fs::read_dir(home.join("thread-writer-locks")) else {
        return Vec::new();
    };
    let mut out: Vec<LiveThread> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".lock")?.to_string();
            if id.starts_with('.') {
                return None;
            }
            if held.can_tell() {
                let pid = held.holder(&e.path())?;
                return Some(LiveThread { id, pid: Some(pid) });
            }
            crate::codex::writer_lock::probe(home, &id).then_some(LiveThread { id, pid: None })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn observe_sessions(
    manifest: &Manifest,
    vault: &Vault,
    scope: &Scope,
    observed: &mut Observed,
) -> Result<()> {
    super::sessions_obs::observe(manifest, vault, scope, observed)
}
