//! `cdxs server run|user|import-legacy`: clap definitions and handlers. The server is in
//! `crate::server`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::cli::input::{Stdin, read_secret};
use crate::cli::shell::Shell;
use crate::error::{Error, Exit, Result};
use crate::output::views::{outcome::Outcome, sync::ServerUsers};
use crate::secret::Secret;
use crate::server::{self, Backend, admin, api::Caps, limits::Cidr};

/// Where the server's data lives (the same for `run` and the admin commands).
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The SQLite database (default: `<state dir>/server.db`)
    #[arg(long, value_name = "PATH", conflicts_with = "database")]
    pub data: Option<PathBuf>,
    /// A PostgreSQL (>= 14) URL instead of SQLite, e.g. `postgres://cdxs@db/cdxs`
    /// (better from `$CDXS_DATABASE_URL`: an URL in argv is visible in `ps`)
    #[arg(
        long,
        value_name = "URL",
        env = "CDXS_DATABASE_URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
    /// A file holding the PostgreSQL URL (Docker and compose secrets)
    #[arg(
        long,
        value_name = "PATH",
        env = "CDXS_DATABASE_URL_FILE",
        conflicts_with_all = ["data", "database"]
    )]
    pub database_file: Option<PathBuf>,
}

impl DataArgs {
    fn backend(&self, sh: &Shell) -> Result<Backend> {
        let from_file = match &self.database_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| {
                        Error::io(
                            format!("cannot read the database URL from `{}`", p.display()),
                            e,
                        )
                    })?
                    .trim()
                    .to_string(),
            ),
            None => None,
        };
        if let Some(url) = from_file.as_ref().or(self.database.as_ref()) {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(Error::user("`--database` takes a `postgres://` URL")
                    .with_help("for SQLite pass `--data PATH` instead"));
            }
            return Ok(Backend::Postgres(url.clone()));
        }
        Ok(Backend::Sqlite(match &self.data {
            Some(p) => crate::paths::absolute(p),
            None => sh.state_dir()?.join("server.db"),
        }))
    }
}

fn parse_duration(s: &str) -> std::result::Result<u64, String> {
    crate::manifest::Duration::parse(s).map(|d| d.seconds)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Address to listen on (`:0` picks a free port; the address is printed)
    #[arg(long, default_value = "127.0.0.1:8765", value_name = "ADDR")]
    bind: String,
    #[command(flatten)]
    data: DataArgs,
    /// Largest request body in bytes (413 above)
    #[arg(long, default_value_t = Caps::default().max_body, value_name = "BYTES")]
    max_body: usize,
    /// Most records in one push (413 above)
    #[arg(long, default_value_t = Caps::default().max_records, value_name = "N")]
    max_records: usize,
    /// Largest record in bytes (413 above)
    #[arg(long, default_value_t = Caps::default().max_record_bytes, value_name = "BYTES")]
    max_record_bytes: usize,
    /// How long a login lasts (e.g. `30d`, `12h`)
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    token_ttl: u64,
    /// Wrong passwords for one user from one client address before each next attempt
    /// from there waits twice as long as the last (1 s, 2 s, 4 s ... at most 15 min;
    /// 429 meanwhile). Other addresses are not slowed: nobody locks the user out
    #[arg(long, default_value_t = 5, value_name = "N")]
    login_limit_user: u32,
    /// Login attempts per client address (an IPv6 address counts by its /64) and
    /// minute (429 above; per instance)
    #[arg(long, default_value_t = 30, value_name = "N")]
    login_limit_ip: u32,
    /// Records one user may hold, deletions included (413 above)
    #[arg(long, default_value_t = Caps::default().max_user_records, value_name = "N")]
    max_user_records: usize,
    /// Refresh leases one user may hold at once (429 above)
    #[arg(long, default_value_t = Caps::default().max_leases, value_name = "N")]
    max_leases: usize,
    /// Connections open at once (more wait to be accepted)
    #[arg(long, default_value_t = server::Timeouts::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Time a client has to send a request's head; also how long an idle connection
    /// stays open between requests
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION", env = "CDXS_SERVER_HEADER_TIMEOUT")]
    header_timeout: u64,
    /// Time a client has to send a request's body, first byte to last
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION", env = "CDXS_SERVER_BODY_TIMEOUT")]
    body_timeout: u64,
    /// A proxy (address or network) whose `X-Forwarded-For` / `X-Real-IP` is believed
    /// (repeatable)
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
    /// PostgreSQL connections of this instance for pushes, leases and the other
    /// transactions (about 4 per core: more only adds processes competing for the cores)
    #[arg(long, default_value_t = 8, value_name = "N")]
    pool_size: usize,
    /// PostgreSQL connections that pulls and token checks are pipelined over (default:
    /// one per 4 cores); the second opens only when the first has 16 requests in
    /// flight, and so on
    #[arg(long, value_name = "N")]
    read_connections: Option<usize>,
    /// Log lines as JSON (default) or text, on standard error
    #[arg(long, value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
    /// Log level filter (`info`, `debug` for one line per request, `warn`)
    #[arg(long, default_value = "info", env = "CDXS_LOG", value_name = "FILTER")]
    log_level: String,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Run the sync server (put TLS in front of it: docs/sync.md shows Caddy and nginx)
    #[command(
        after_help = "Examples:\n  cdxs server run                                   # 127.0.0.1:8765, SQLite in the state dir\n  cdxs server run --bind 0.0.0.0:8765 --data /data/server.db\n  CDXS_DATABASE_URL=postgres://cdxs@db/cdxs cdxs server run --bind 0.0.0.0:8765\n  cdxs server run --trusted-proxy 127.0.0.1 --max-body 2097152"
    )]
    Run(RunArgs),
    /// Manage the server's users (registration is closed: an admin adds them)
    #[command(subcommand)]
    User(UserCommand),
    /// Import the users of the older tool's server `cdxs.toml` (each re-hashed with
    /// Argon2id at its next login)
    #[command(
        after_help = "Examples:\n  cdxs server import-legacy /data/cdxs.toml --data /data/server.db"
    )]
    ImportLegacy {
        /// The older tool's server `cdxs.toml`
        path: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user
    #[command(
        after_help = "Examples:\n  printf '%s\\n' \"$PASSWORD\" | cdxs server user add alice --password-stdin\n  cdxs server user add alice                  # prompts for the password"
    )]
    Add {
        name: String,
        /// Read the password from standard input
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password on the command line (kept for the older tool; visible in `ps`)
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List users, their devices (logins) and record counts
    List {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove a user with all their records and logins
    Remove {
        name: String,
        /// Do not ask for confirmation
        #[arg(long, short = 'y')]
        yes: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Set a user's password; every login (token) of the user is revoked
    Passwd {
        name: String,
        /// Read the password from standard input
        #[arg(long, conflicts_with = "password")]
        password_stdin: bool,
        /// The password on the command line (visible in `ps`)
        #[arg(long, value_name = "PASSWORD")]
        password: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
}

/// A user's new password (`user add`, `user passwd`): from standard input, or the flag with
/// a warning.
fn user_password(sh: &Shell, flag: Option<String>, from_stdin: bool) -> Result<Secret> {
    let mut stdin = Stdin::new();
    let (who, from) = (
        ("password", "--password-stdin"),
        from_stdin.then_some(&mut stdin),
    );
    read_secret(who, flag, from, &sh.printer, PASSWORD_HINT)
}

const PASSWORD_HINT: &str = "pipe it in with `--password-stdin`, e.g. `printf '%s\\n' \"$PASSWORD\" | cdxs server user add NAME --password-stdin`";

pub fn run(sh: &mut Shell, cmd: ServerCommand) -> Result<Exit> {
    match cmd {
        ServerCommand::Run(a) => serve(sh, a),
        ServerCommand::User(UserCommand::Add {
            name,
            password_stdin,
            password,
            data,
        }) => {
            let backend = data.backend(sh)?;
            let pw = user_password(sh, password, password_stdin)?;
            let name = admin::add_user(&backend, &name, &pw)?;
            sh.printer
                .status(format!("added `{name}` ({})", backend.describe()));
            sh.outcome(
                Outcome::new("server user add")
                    .changed(true)
                    .with("user", name),
            );
            Ok(Exit::Success)
        }
        ServerCommand::User(UserCommand::List { data }) => {
            let backend = data.backend(sh)?;
            let users = admin::list_users(&backend)?;
            if users.is_empty() && !sh.printer.json {
                sh.printer
                    .status("no users yet: `cdxs server user add NAME --password-stdin`");
                return Ok(Exit::Success);
            }
            sh.printer.emit(&ServerUsers { users });
            Ok(Exit::Success)
        }
        ServerCommand::User(UserCommand::Remove { name, yes, data }) => {
            let backend = data.backend(sh)?;
            if !yes
                && !sh.confirm(
                    &format!("Remove the user `{name}` and all their synced records?"),
                    "remove a user",
                )?
            {
                return Err(Error::user("not removed"));
            }
            let name = admin::remove_user(&backend, &name)?;
            sh.printer
                .status(format!("removed `{name}` with their records and logins"));
            sh.outcome(
                Outcome::new("server user remove")
                    .changed(true)
                    .with("user", name),
            );
            Ok(Exit::Success)
        }
        ServerCommand::User(UserCommand::Passwd {
            name,
            password_stdin,
            password,
            data,
        }) => {
            let backend = data.backend(sh)?;
            let pw = user_password(sh, password, password_stdin)?;
            let name = admin::passwd(&backend, &name, &pw)?;
            sh.printer.status(format!(
                "changed the password of `{name}`; every login of `{name}` was revoked"
            ));
            let o = Outcome::new("server user passwd").changed(true);
            sh.outcome(o.with("user", name).with("logins_revoked", true));
            Ok(Exit::Success)
        }
        ServerCommand::ImportLegacy { path, data } => import_legacy(sh, &path, &data),
    }
}

/// `server run`: serve until stopped, saying where once it listens.
fn serve(sh: &mut Shell, a: RunArgs) -> Result<Exit> {
    let backend = a.data.backend(sh)?;
    let described = backend.describe();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let cfg = server::Config {
        bind: a.bind,
        backend,
        caps: Caps {
            max_body: a.max_body,
            max_records: a.max_records.max(1),
            max_record_bytes: a.max_record_bytes,
            token_ttl_s: a.token_ttl.max(1) as i64,
            max_user_records: a.max_user_records.max(1),
            max_leases: a.max_leases.max(1),
            ..Caps::default()
        },
        login_free_failures: a.login_limit_user,
        login_per_ip_per_min: a.login_limit_ip,
        trusted_proxies: a.trusted_proxies,
        hash_concurrency: cores.min(4),
        pool_size: a.pool_size,
        read_connections: a.read_connections.unwrap_or(cores.div_ceil(4)).max(1),
        log_json: a.log_format == LogFormat::Json,
        log_level: a.log_level,
        timeouts: server::Timeouts {
            max_connections: a.max_connections.max(1),
            header: std::time::Duration::from_secs(a.header_timeout.max(1)),
            body: std::time::Duration::from_secs(a.body_timeout.max(1)),
            ..server::Timeouts::default()
        },
    };
    let printer = sh.printer.clone();
    server::run(cfg, move |addr| {
        printer.out(format!(
            "cdxs sync server listening on http://{addr} ({described})"
        ));
    })?;
    Ok(Exit::Success)
}

/// `server import-legacy`: the older tool's users, each keeping its password.
fn import_legacy(sh: &mut Shell, path: &Path, data: &DataArgs) -> Result<Exit> {
    let backend = data.backend(sh)?;
    let r = admin::import_legacy(&backend, path)?;
    for s in &r.skipped {
        sh.printer.warn(format!("skipped {s}"));
    }
    sh.printer.status(format!(
        "imported {} user(s) into {}: {}. Each keeps its password; it is re-hashed with Argon2id at its next login. Their machines migrate with `cdxs import legacy`, then `cdxs sync login`",
        r.imported.len(),
        backend.describe(),
        if r.imported.is_empty() {
            "none".to_string()
        } else {
            r.imported.join(", ")
        }
    ));
    let o = Outcome::new("server import-legacy").changed(!r.imported.is_empty());
    sh.outcome(o.with("imported", &r.imported).with("skipped", &r.skipped));
    Ok(Exit::Success)
}
