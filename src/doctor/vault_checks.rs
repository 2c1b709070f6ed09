//! What doctor reads from the vault, opened read only (never created, migrated or locked):
//! sync logins and whether their servers answer, and accounts that need a new login.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Check, Status, check};
use crate::output::format::duration;

/// How long doctor waits for a sync server's `/health` (it must not hang on a dead one).
pub const REACH_TIMEOUT: Duration = Duration::from_secs(3);

/// A sync login expiring sooner than this is worth a warning.
const EXPIRY_WARNING_SECS: i64 = 7 * 86_400;

fn open(state_dir: &Path) -> Option<Connection> {
    let path = state_dir.join(crate::vault::VAULT_FILE);
    if !path.is_file() {
        return None;
    }
    Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()
}

/// Each sync target's login (present, expiring, expired) and whether its server answers.
pub fn sync_checks(state_dir: &Path, now: i64) -> Vec<Check> {
    let Some(conn) = open(state_dir) else {
        return Vec::new();
    };
    let rows: Vec<(String, String, String, bool, Option<i64>)> = conn
        .prepare(
            "SELECT name, server_url, username, token IS NOT NULL, token_expires_at \
             FROM sync_targets ORDER BY name",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (name, url, user, logged_in, expires) in rows {
        let who = format!("sync target `{name}` ({user} at {url})");
        let login_again = format!("`cdxs sync login --target {name}`");
        out.push(match (logged_in, expires) {
            (false, _) => check(
                "sync",
                Status::Warn,
                format!("{who}: logged out (the sync key stays)"),
                Some(format!("{login_again} to sync again")),
            ),
            (true, Some(exp)) if exp <= now => check(
                "sync",
                Status::Action,
                format!("{who}: the login expired {} ago", duration(now - exp)),
                Some(login_again),
            ),
            (true, Some(exp)) if exp - now < EXPIRY_WARNING_SECS => check(
                "sync",
                Status::Warn,
                format!("{who}: the login expires in {}", duration(exp - now)),
                Some(format!("{login_again} before then")),
            ),
            (true, Some(exp)) => check(
                "sync",
                Status::Ok,
                format!("{who}: logged in, expires in {}", duration(exp - now)),
                None,
            ),
            (true, None) => check("sync", Status::Ok, format!("{who}: logged in"), None),
        });
        out.push(reach(&name, &url));
    }
    out
}

/// `GET /health` of a sync server, with a short timeout.
fn reach(name: &str, url: &str) -> Check {
    let base = crate::sync::client::normalize_url(url);
    let answer = reqwest::blocking::Client::builder()
        .timeout(REACH_TIMEOUT)
        .connect_timeout(REACH_TIMEOUT)
        .user_agent(format!("cdxs/{}", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            c.get(format!("{base}/health"))
                .send()
                .map_err(|e| crate::endpoints::describe(&e))
        })
        .and_then(|r| {
            let status = r.status();
            r.json::<crate::sync::wire::Health>()
                .map_err(|_| format!("HTTP {status}, not a cdxs sync server's answer"))
        });
    match answer {
        Ok(h) => check(
            "sync",
            Status::Ok,
            format!(
                "sync target `{name}`: `{base}` answers (cdxs server {}, {})",
                crate::output::sanitize(&h.version),
                crate::output::sanitize(&h.status)
            ),
            None,
        ),
        Err(why) => check(
            "sync",
            Status::Warn,
            format!(
                "sync target `{name}`: `{base}` does not answer within {}s: {}",
                REACH_TIMEOUT.as_secs(),
                crate::output::sanitize(&why)
            ),
            Some(
                "accounts sync when it is back (refreshes of logins bound here go on); check the server and the network"
                    .into(),
            ),
        ),
    }
}

/// ChatGPT logins the issuer refused (`requires_reauth`): nothing can refresh them, and cdxs
/// writes them nowhere until they are logged in again.
pub fn account_checks(state_dir: &Path) -> Vec<Check> {
    let Some(conn) = open(state_dir) else {
        return Vec::new();
    };
    let rows: Vec<(String, String)> = conn
        .prepare(
            "SELECT COALESCE(email, label, id), id FROM accounts \
             WHERE requires_reauth != 0 ORDER BY 1",
        )
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .unwrap_or_default();
    if rows.is_empty() {
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get(0))
            .unwrap_or(0);
        return vec![check(
            "accounts",
            Status::Ok,
            format!("{n} account(s) in the vault; none needs a new login"),
            None,
        )];
    }
    rows.into_iter()
        .map(|(name, id)| {
            let name = crate::output::sanitize(&name).into_owned();
            check(
                "accounts",
                Status::Action,
                format!("{name} ({id}) needs a new login: the issuer refused its refresh token"),
                Some(format!("`cdxs login oauth` as {name}")),
            )
        })
        .collect()
}
