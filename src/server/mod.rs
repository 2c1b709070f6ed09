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
    /// Wrong passwords per user and client address before each next attempt waits
    /// (doubling: 1 s, 2 s, 4 s ... at most 15 minutes).
    pub login_free_failures: u32,
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
    pub timeouts: Timeouts,
}

/// How long a connection may take over each part of its work, and how many may be open:
/// slow or hostile clients cost a bounded amount of time and memory.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send a request's head (line and headers); also how long an idle keep-alive
    /// connection stays open waiting for its next request.
    pub header: Duration,
    /// To send a request's body, from its first byte to its last.
    pub body: Duration,
    /// To answer a request, all in (503 past it).
    pub request: Duration,
    /// A response the client does not read for this long closes the connection.
    pub write_stall: Duration,
    /// Connections open at once; past it new ones wait in the listen queue.
    pub max_connections: usize,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            request: Duration::from_secs(60),
            write_stall: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

fn store_error(backend: &Backend, e: StoreError) -> Error {
    match e {
        StoreError::NewerSchema { found, known } => Error::user(format!(
            "the server database ({}) is at schema {found}, newer than this cdxs knows ({known})",
            backend.describe()
        ))
        .with_help("run the cdxs version that wrote it, or upgrade this one; nothing was changed"),
        StoreError::Busy => Error::user(format!(
            "the server database ({}) is locked by another process",
            backend.describe()
        ))
        .with_help("try again when the other cdxs command is done"),
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

/// Open the storage (migrating it) inside a tokio runtime, with a task that writes the
/// token uses it notes every couple of seconds (`store::UseNotes`).
pub async fn open_store(
    backend: &Backend,
    pool_size: usize,
    read_connections: usize,
) -> Result<Arc<dyn Storage>> {
    let store = open_backend(backend, pool_size, read_connections).await?;
    let flusher = Arc::downgrade(&store);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(store::USE_FLUSH_EVERY);
        loop {
            tick.tick().await;
            let Some(store) = flusher.upgrade() else {
                return;
            };
            if let Err(e) = store.flush_uses().await {
                // Bookkeeping only: the requests were answered.
                tracing::warn!(error = %e, "cannot note the tokens' use");
            }
        }
    });
    Ok(store)
}

async fn open_backend(
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
                cfg.login_free_failures,
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
        let app = api::router(state.clone(), &cfg.timeouts);
        serve(listener, app, cfg.timeouts, shutdown()).await;
        // The token uses noted since the last write.
        let _ = state.store.flush_uses().await;
        tracing::info!("cdxs sync server stopped");
        Ok(())
    })
}

/// Accept connections until `stop`, each served by hyper's HTTP/1 with the header and
/// idle timeout, a cap on open connections and a write-stall timeout; then let the open
/// ones finish (graceful shutdown, bounded by the request timeout).
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    t: Timeouts,
    stop: impl std::future::Future<Output = ()>,
) {
    use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let make: IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr> =
        app.into_make_service_with_connect_info();
    let make = TowerToHyperService::new(make);
    let slots = Arc::new(tokio::sync::Semaphore::new(t.max_connections.max(1)));
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: say so, breathe, go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(router) = hyper::service::Service::call(&make, peer).await;
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(t.header)
                .max_buf_size(64 * 1024)
                .serve_connection(
                    TokioIo::new(stall::WriteStall::new(stream, t.write_stall)),
                    TowerToHyperService::new(router),
                );
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(t.request, conn.as_mut()).await;
                }
            }
            drop(slot);
        });
    }
    let _ = closing_tx.send(true);
    // Every connection gives its slot back when it is done.
    let all = u32::try_from(t.max_connections.max(1)).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(t.request, slots.acquire_many(all)).await;
}

mod stall {
    //! A connection whose peer stops reading what it is sent (a response it never reads)
    //! is closed after a while, instead of holding its task and buffers for good.

    use std::io;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::time::Sleep;

    pub struct WriteStall<T> {
        inner: T,
        limit: Duration,
        timer: Option<Pin<Box<Sleep>>>,
    }

    impl<T> WriteStall<T> {
        pub fn new(inner: T, limit: Duration) -> Self {
            WriteStall {
                inner,
                limit,
                timer: None,
            }
        }

        /// After a pending write: start the clock, or fail once it ran out.
        fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
            let limit = self.limit;
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client stopped reading",
                )),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    use std::future::Future;

    impl<T: AsyncRead + Unpin> AsyncRead for WriteStall<T> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<T: AsyncWrite + Unpin> AsyncWrite for WriteStall<T> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            match Pin::new(&mut self.inner).poll_write(cx, buf) {
                Poll::Pending => match self.stalled(cx) {
                    Poll::Ready(e) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                },
                ready => {
                    self.timer = None;
                    ready
                }
            }
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            match Pin::new(&mut self.inner).poll_flush(cx) {
                Poll::Pending => match self.stalled(cx) {
                    Poll::Ready(e) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                },
                ready => {
                    self.timer = None;
                    ready
                }
            }
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
                Poll::Pending => match self.stalled(cx) {
                    Poll::Ready(e) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                },
                ready => {
                    self.timer = None;
                    ready
                }
            }
        }

        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }
    }
}

async fn shutdown() {
    crate::platform::signals::stop_requested().await
}
