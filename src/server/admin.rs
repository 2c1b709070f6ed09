//! User administration (`cdxs server user add|list|remove|passwd`) and the import of the
//! older tool's server users (`cdxs server import-legacy PATH`). Registration is closed:
//! only an admin with access to the database adds users.

use std::path::Path;

use super::{Backend, auth, open_store, store::UserSummary};
use crate::error::{Error, Result, tick};
use crate::secret::Secret;

const MIN_PASSWORD: usize = 8;

fn block_on<T>(f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start a runtime", e))?
        .block_on(f)
}

fn db_err(backend: &Backend, e: super::store::StoreError) -> Error {
    Error::user(format!(
        "the server database ({}) failed: {e}",
        backend.describe()
    ))
}

pub fn check_user_name(name: &str) -> Result<String> {
    super::api::normalize_user(name).ok_or_else(|| {
        Error::user(format!("`{name}` is not a valid user name"))
            .with_help("use 1 to 64 of letters, digits, `.`, `_`, `-`, `@` (compared lower-case)")
    })
}

fn check_password(p: &Secret) -> Result<()> {
    if p.expose().chars().count() < MIN_PASSWORD {
        return Err(Error::user(format!(
            "the password is too short (at least {MIN_PASSWORD} characters)"
        )));
    }
    if p.expose().len() > 1024 {
        return Err(Error::user("the password is too long (at most 1024 bytes)"));
    }
    Ok(())
}

pub fn add_user(backend: &Backend, name: &str, password: &Secret) -> Result<String> {
    let name = check_user_name(name)?;
    check_password(password)?;
    let hash = auth::hash_password(password.expose()).map_err(Error::user)?;
    block_on(async {
        let store = open_store(backend, 1, 1).await?;
        let created = store
            .create_user(name.clone(), hash, chrono::Utc::now().timestamp())
            .await
            .map_err(|e| db_err(backend, e))?;
        if !created {
            return Err(
                Error::user(format!("the user `{name}` already exists")).with_help(format!(
                    "change its password with `cdxs server user passwd {name}`"
                )),
            );
        }
        Ok(name)
    })
}

pub fn list_users(backend: &Backend) -> Result<Vec<UserSummary>> {
    block_on(async {
        let store = open_store(backend, 1, 1).await?;
        store
            .users(chrono::Utc::now().timestamp())
            .await
            .map_err(|e| db_err(backend, e))
    })
}

pub fn remove_user(backend: &Backend, name: &str) -> Result<String> {
    let name = check_user_name(name)?;
    block_on(async {
        let store = open_store(backend, 1, 1).await?;
        if !store
            .remove_user(name.clone())
            .await
            .map_err(|e| db_err(backend, e))?
        {
            return Err(no_user(&name));
        }
        Ok(name)
    })
}

fn no_user(name: &str) -> Error {
    Error::user(format!("there is no user `{name}` on this server"))
        .with_help("see `cdxs server user list`")
}

/// Set a new password and revoke every token of the user.
pub fn passwd(backend: &Backend, name: &str, password: &Secret) -> Result<String> {
    let name = check_user_name(name)?;
    check_password(password)?;
    let hash = auth::hash_password(password.expose()).map_err(Error::user)?;
    block_on(async {
        let store = open_store(backend, 1, 1).await?;
        if !store
            .set_password(name.clone(), hash, true)
            .await
            .map_err(|e| db_err(backend, e))?
        {
            return Err(no_user(&name));
        }
        Ok(name)
    })
}

/// One server user of the older tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyUser {
    pub name: String,
    /// Already in [`auth::LEGACY_PREFIX`] form.
    pub hash: String,
}

/// The users under `[server]` of the older tool's `cdxs.toml`: `[[server.users]]` tables
/// (or `users = [...]`) with `username`, `salt` and `password_hash` (the hex or base64 of
/// `sha256(salt + ":" + password)`). Lenient: entries that lack a field are skipped with why.
pub fn parse_legacy_users(
    text: &str,
) -> std::result::Result<(Vec<LegacyUser>, Vec<String>), String> {
    let root: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let users = root
        .get("server")
        .and_then(|s| s.get("users"))
        .and_then(toml::Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let field = |v: &toml::Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(toml::Value::as_str))
            .map(str::to_string)
    };
    for (i, u) in users.iter().enumerate() {
        let name = field(u, &["username", "name", "user"]);
        let label = name.clone().unwrap_or_else(|| format!("#{}", i + 1));
        let (Some(name), Some(salt), Some(hash)) = (
            name,
            field(u, &["salt"]),
            field(u, &["password_hash", "hash"]),
        ) else {
            skipped.push(format!(
                "user {label}: needs `username`, `salt` and `password_hash`"
            ));
            continue;
        };
        let Some(normal) = super::api::normalize_user(&name) else {
            skipped.push(format!("user {label}: not a valid user name"));
            continue;
        };
        match auth::legacy_hash(&salt, &hash) {
            Some(h) => out.push(LegacyUser {
                name: normal,
                hash: h,
            }),
            None => skipped.push(format!(
                "user {label}: `password_hash` is not a SHA-256 digest"
            )),
        }
    }
    Ok((out, skipped))
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: Vec<String>,
    pub skipped: Vec<String>,
}

/// Take the older tool's users into the database. Each keeps its old hash until its next
/// login, which verifies it once and stores Argon2id instead. Users that already exist
/// are left alone.
pub fn import_legacy(backend: &Backend, path: &Path) -> Result<ImportReport> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read {}", tick(path)), e))?;
    let (users, mut skipped) = parse_legacy_users(&text).map_err(|e| {
        Error::user(format!("{} is not a valid cdxs.toml: {e}", tick(path))).with_help(
            "pass the older tool's server `cdxs.toml` (the one `server run --data` used)",
        )
    })?;
    if users.is_empty() && skipped.is_empty() {
        return Err(
            Error::user(format!("{} has no `[[server.users]]`", tick(path))).with_help(
                "pass the older tool's server `cdxs.toml` (the one `server run --data` used)",
            ),
        );
    }
    block_on(async {
        let store = open_store(backend, 1, 1).await?;
        let mut report = ImportReport::default();
        let now = chrono::Utc::now().timestamp();
        for u in users {
            if store
                .create_user(u.name.clone(), u.hash, now)
                .await
                .map_err(|e| db_err(backend, e))?
            {
                report.imported.push(u.name);
            } else {
                skipped.push(format!("user {}: already exists here", u.name));
            }
        }
        report.skipped = skipped;
        Ok(report)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn legacy_users_parse_leniently() {
        let digest = crate::secret::hex(&Sha256::digest(b"s1:pw-alice"));
        let text = format!(
            r#"
[meta]
current_account_id = "x"

[[server.users]]
username = "Alice"
salt = "s1"
password_hash = "{digest}"

[[server.users]]
username = "bob"
salt = "s2"

[[server.users]]
name = "carol"
salt = "s3"
password_hash = "zz"

[[server.sessions]]
token_hash = "abc"
"#
        );
        let (users, skipped) = parse_legacy_users(&text).unwrap();
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].name, "alice");
        assert!(users[0].hash.starts_with(auth::LEGACY_PREFIX));
        assert!(matches!(
            auth::verify_password("pw-alice", &users[0].hash),
            auth::Verified::YesRehash(_)
        ));
        assert_eq!(
            auth::verify_password("pw-bob", &users[0].hash),
            auth::Verified::No
        );
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(parse_legacy_users("not [ toml").is_err());
        assert!(parse_legacy_users("").unwrap().0.is_empty());
    }
}
