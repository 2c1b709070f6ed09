//! The sync server (SPEC 8): `cdxs server run` on axum and tokio, over one storage trait
//! with an embedded SQLite backend (default) and a PostgreSQL one for several stateless
//! instances. The server stores opaque records: it never sees a sync key, an email or an
//! OpenAI token, and keeps only SHA-256 hashes of its own bearer tokens and Argon2id hashes
//! of passwords.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result, tick};

pub mod admin;
pub mod api;
pub mod auth;
pub mod limits;
pub mod store;

use store::{Storage, StoreError};

/// Where the server keeps its data.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Backend {
    /// For messages: the SQLite path, or the PostgreSQL host and database without the
    /// password.
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite(p) => format!("SQLite {}", tick(p)),
            Backend::Postgres(url) => format!("PostgreSQL {}", redact_url(url)),
        }
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user@host/db`.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "(an unparsable URL)".into(),
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: String,
    pub backend: Backend,
    pub caps: api::Caps,
    pub login_per_user_per_min: u32,
    pub login_per_ip_per_min: u32,
    pub trusted_proxies: Vec<limits::Cidr>,
    /// Password hashes computed at once.
    pub hash_concurrency: usize,
    /// PostgreSQL connections per instance for transactions.
    pub pool_size: usize,
    /// PostgreSQL connections per instance that pipeline pulls and token checks.
    pub read_connections: usize,
    pub log_json: bool,
    pub log_level: String,
}

fn store_error(backend: &Backend, e: StoreError) -> Error {
    match e {
        StoreError::NewerSchema { found, known } => Error::user(format!(
            "the server database ({}) is at schema {found}, newer than this cdxs knows ({known})",
            backend.describe()
        ))
        .with_help("run the cdxs version that wrote it, or upgrade this one; nothing was changed"),
        StoreError::Db(why) => Error::user(format!(
            "the server database ({}) failed: {why}",
            backend.describe()
        ))
        .with_help(match backend {
            Backend::Sqlite(_) => "check the path, its permissions and free disk space",
            Backend::Postgres(_) => {
                "check that PostgreSQL runs and accepts this user and database (`psql URL`)"
            }
        }),
    }
}

/// Refuse the older tool's `cdxs.toml` (or any non-SQLite file) as `--data`.
fn check_sqlite_file(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let n = match std::fs::File::open(path) {
        Ok(mut f) => f.read(&mut head).unwrap_or(0),
        Err(_) => return Ok(()),
    };
    if n == 0 || head.starts_with(b"SQLite format 3\0") {
        return Ok(());
    }
    let toml_like = std::str::from_utf8(&head[..n]).is_ok();
    let mut err = Error::user(format!("{} is not a cdxs server database", tick(path)));
    if toml_like {
        err = err.with_help(format!(
            "if it is the older tool's `cdxs.toml`, import its users into a new database: `cdxs server import-legacy {} --data server.db`",
            path.display()
        ));
    }
    Err(err)
}

/// Open the storage (migrating it) inside a tokio runtime.
pub async fn open_store(
    backend: &Backend,
    pool_size: usize,
    read_connections: usize,
) -> Result<Arc<dyn Storage>> {
    match backend {
        Backend::Sqlite(path) => {
            check_sqlite_file(path)?;
            let p = path.clone();
            let store = tokio::task::spawn_blocking(move || store::sqlite::SqliteStore::open(&p))
                .await
                .map_err(|e| Error::user(format!("cannot open the database: {e}")))?
                .map_err(|e| store_error(backend, e))?;
            Ok(Arc::new(store))
        }
        Backend::Postgres(url) => {
            let store = store::postgres::PgStore::open(url, pool_size, read_connections)
                .await
                .map_err(|e| store_error(backend, e))?;
            Ok(Arc::new(store))
        }
    }
}

/// A multi-threaded runtime for the server.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cdxs-server")
        .build()
        .map_err(|e| Error::io("cannot start the server's runtime", e))
}

fn init_logs(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cfg.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if cfg.log_json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}

/// `cdxs server run`: serve until SIGINT/SIGTERM. `on_listen` is told the bound address
/// (the CLI prints it; `--bind 127.0.0.1:0` picks a free port).
pub fn run(cfg: Config, on_listen: impl FnOnce(SocketAddr)) -> Result<()> {
    init_logs(&cfg);
    let rt = runtime()?;
    rt.block_on(async move {
        let store = open_store(&cfg.backend, cfg.pool_size, cfg.read_connections).await?;
        let hasher =
            auth::Hasher::new(cfg.hash_concurrency, Duration::from_secs(5)).map_err(Error::user)?;
        let state = Arc::new(api::AppState {
            store,
            hasher,
            caps: cfg.caps.clone(),
            login_limits: limits::LoginLimits::new(
                cfg.login_per_user_per_min,
                cfg.login_per_ip_per_min,
            ),
            trusted_proxies: cfg.trusted_proxies.clone(),
        });
        let cleaner = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                cleaner.login_limits.retain_recent();
            }
        });
        let listener = tokio::net::TcpListener::bind(&cfg.bind)
            .await
            .map_err(|e| {
                Error::io(format!("cannot listen on `{}`", cfg.bind), e)
                    .with_help("pick a free address with `--bind HOST:PORT`")
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("cannot read the bound address", e))?;
        tracing::info!(
            %addr,
            backend = state.store.backend(),
            version = crate::sync::wire::VERSION,
            "cdxs sync server listening"
        );
        on_listen(addr);
        let app = api::router(state);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| Error::io("the server stopped", e))?;
        tracing::info!("cdxs sync server stopped");
        Ok(())
    })
}

async fn shutdown() {
    crate::platform::signals::stop_requested().await
}
