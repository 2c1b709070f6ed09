//! The older tool's `cdxs.toml` (kept in `<CODEX_HOME>/cdxs.toml`): `[meta]`,
//! `[[accounts]]` with `tokens` and `quota`, `[[homes]]`, `[sync]`, `[server]`.
//!
//! Read leniently: every field may be missing or have another type than expected; an
//! account is kept if it has credentials, and keeps its id so scripts and bindings that
//! name it still work.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use toml::Value;

use crate::codex::auth::ChatGptTokens;
use crate::error::{Error, Result, tick};
use crate::secret::Secret;
use crate::vault::Account;

#[derive(Debug, Default)]
pub struct LegacyStore {
    pub accounts: Vec<LegacyAccount>,
    pub homes: Vec<LegacyHome>,
    pub current_account_id: Option<String>,
    /// Accounts skipped, with why (no credentials, unreadable tokens).
    pub skipped: Vec<String>,
}

#[derive(Debug)]
pub struct LegacyAccount {
    pub account: Account,
    /// Quota as the old tool cached it: (5h remaining %, reset, weekly remaining %, reset, updated).
    pub quota: Option<LegacyQuota>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegacyQuota {
    pub primary_remaining_percent: Option<f64>,
    pub primary_reset_time: Option<i64>,
    pub secondary_remaining_percent: Option<f64>,
    pub secondary_reset_time: Option<i64>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyHome {
    pub name: String,
    pub path: PathBuf,
    pub bound_account_id: Option<String>,
}

/// The most the older tool's `cdxs.toml` may weigh.
const MAX_LEGACY_BYTES: u64 = 16 * 1024 * 1024;

pub fn read(path: &Path, now: i64) -> Result<LegacyStore> {
    let bytes = crate::fsx::read_bounded(path, MAX_LEGACY_BYTES).map_err(|e| {
        e.with_help("pass the path of the older tool's `cdxs.toml`: `cdxs import legacy PATH`")
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::user(format!("{} is not UTF-8 text", tick(path)))
            .with_help("pass the older tool's `cdxs.toml`")
    })?;
    parse(&text, now).map_err(|e| {
        Error::user(format!("{} is not a valid cdxs.toml: {e}", tick(path)))
            .with_help("pass the older tool's `cdxs.toml`")
    })
}

pub fn parse(text: &str, now: i64) -> std::result::Result<LegacyStore, String> {
    let root: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| e.message().to_string())?;
    let mut store = LegacyStore {
        current_account_id: root
            .get("meta")
            .and_then(|m| m.get("current_account_id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ..LegacyStore::default()
    };
    for (index, entry) in array(&root, "accounts").iter().enumerate() {
        match account(entry, now) {
            Ok(acc) => store.accounts.push(acc),
            Err(why) => store.skipped.push(format!(
                "account #{} ({}): {why}",
                index + 1,
                str_field(entry, "email")
                    .or_else(|| str_field(entry, "id"))
                    .unwrap_or_else(|| "unnamed".into())
            )),
        }
    }
    for entry in array(&root, "homes") {
        let (Some(name), Some(path)) = (str_field(entry, "name"), str_field(entry, "path")) else {
            continue;
        };
        store.homes.push(LegacyHome {
            name,
            path: PathBuf::from(path),
            bound_account_id: str_field(entry, "bound_account_id"),
        });
    }
    Ok(store)
}

fn array<'a>(root: &'a toml::Table, key: &str) -> &'a [Value] {
    root.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn num_field(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Timestamps were epoch seconds in some versions and RFC 3339 strings in others.
fn time_field(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Integer(i) => Some(if *i > 10_000_000_000 { i / 1000 } else { *i }),
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp())
            .or_else(|| s.parse().ok()),
        Value::Datetime(d) => DateTime::parse_from_rfc3339(&d.to_string())
            .ok()
            .map(|d| d.timestamp()),
        _ => None,
    }
}

/// Members of the older tool's `tokens` table that cdxs does not model (a login saved
/// from Codex 0.164 or later has `login_owner_id` and `oauth_provenance`), kept verbatim.
fn carried_members(tokens: &Value) -> crate::codex::auth::AuthExtra {
    let Ok(serde_json::Value::Object(t)) = serde_json::to_value(tokens) else {
        return Default::default();
    };
    let mut stored = serde_json::Map::new();
    stored.insert(
        "tokens".into(),
        serde_json::Value::Object(t.into_iter().filter(|(k, _)| k != "last_refresh").collect()),
    );
    crate::codex::auth::AuthExtra::from_value(Some(&serde_json::Value::Object(stored)))
}

fn account(entry: &Value, now: i64) -> std::result::Result<LegacyAccount, String> {
    let mode = str_field(entry, "auth_mode")
        .unwrap_or_default()
        .to_lowercase()
        .replace(['_', '-'], "");
    let tokens = entry.get("tokens");
    let api_key = str_field(entry, "openai_api_key").or_else(|| str_field(entry, "api_key"));
    let is_api_key = matches!(mode.as_str(), "apikey") || (tokens.is_none() && api_key.is_some());
    let mut acc = if is_api_key {
        let key = api_key.ok_or("API-key account without a key")?;
        let base = str_field(entry, "api_base_url").or_else(|| str_field(entry, "base_url"));
        let mut a = Account::api_key(Secret::new(key), base, "legacy", now);
        if let Some(email) = str_field(entry, "email") {
            a.label = Some(email);
        }
        a
    } else {
        let t = tokens.ok_or("OAuth account without tokens")?;
        let id_token = str_field(t, "id_token").ok_or("tokens without an id_token")?;
        let access_token = str_field(t, "access_token").ok_or("tokens without an access_token")?;
        let chatgpt = ChatGptTokens {
            id_token: Secret::new(id_token),
            access_token: Secret::new(access_token),
            refresh_token: Secret::new(str_field(t, "refresh_token").unwrap_or_default()),
            account_id: str_field(entry, "account_id").or_else(|| str_field(t, "account_id")),
            last_refresh: time_field(entry, "last_refresh")
                .or_else(|| time_field(t, "last_refresh"))
                .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)),
            extra: carried_members(t),
        };
        let mut a = Account::oauth(&chatgpt, "legacy", now);
        // The old tool's fields win over what the token says when both exist.
        for (slot, key) in [
            (&mut a.email, "email"),
            (&mut a.plan_type, "plan_type"),
            (&mut a.organization_id, "organization_id"),
        ] {
            if let Some(v) = str_field(entry, key) {
                *slot = Some(v);
            }
        }
        a
    };
    if let Some(id) = str_field(entry, "id") {
        acc.id = id;
    }
    acc.requires_reauth = entry
        .get("requires_reauth")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    acc.created_at = time_field(entry, "created_at").unwrap_or(now);
    acc.updated_at = time_field(entry, "updated_at").unwrap_or(now);
    acc.last_used_at = time_field(entry, "last_used_at");
    let quota = entry.get("quota").map(|q| LegacyQuota {
        primary_remaining_percent: num_field(q, "primary_remaining_percent"),
        primary_reset_time: time_field(q, "primary_reset_time"),
        secondary_remaining_percent: num_field(q, "secondary_remaining_percent"),
        secondary_reset_time: time_field(q, "secondary_reset_time"),
        updated_at: time_field(q, "updated_at"),
    });
    Ok(LegacyAccount {
        account: acc,
        quota,
    })
}

/// What [`declare_homes`] did to the manifest text.
pub struct Declared {
    pub text: String,
    /// Names of the homes added.
    pub added: Vec<String>,
    /// Homes not declared, and why (for people).
    pub warnings: Vec<String>,
}

/// The older tool's homes declared in manifest `text` (at `path`), with their bindings:
/// an alias for the bound account, unless that login is bound elsewhere already. Homes
/// already declared (same folder) are skipped; a path of another OS (a Windows path on
/// Linux or macOS, a Unix one on Windows) is left to the person.
pub fn declare_homes(
    text: &str,
    path: &std::path::Path,
    store: &LegacyStore,
    accounts: &[crate::vault::Account],
) -> Result<Declared> {
    use crate::manifest::{self, edit};
    let mut text = text.to_string();
    let mut warnings = Vec::new();
    let mut added = Vec::new();
    for h in &store.homes {
        let Some(abs) = native_folder(h, &mut warnings) else {
            continue;
        };
        let current = manifest::parse(&text, path).map_err(|r| Error::Diagnostics(Box::new(r)))?;
        if current.homes.values().any(|x| x.path == abs) {
            continue; // already declared
        }
        let name = home_name(&h.name, &current);
        // The binding: an alias for the bound account, unless that login is bound elsewhere.
        let mut alias = None;
        if let Some(id) = &h.bound_account_id
            && let Some(a) = accounts.iter().find(|a| &a.id == id)
        {
            alias = alias_to_bind(&mut text, &current, a, &name, &mut warnings)?;
        }
        text = edit::add_home(&text, &name, &crate::paths::display(&abs), alias.as_deref())?;
        added.push(name);
    }
    Ok(Declared {
        text,
        added,
        warnings,
    })
}

/// The home's folder, expanded; a path of another OS (or one that does not expand) is
/// left to the person, with a warning. The older tool ran on Windows as much as on Linux
/// (its README is written for PowerShell): on Windows, `D:\codex-homes\work` is a folder
/// like any other, and `/home/me/.codex` is the path that belongs elsewhere.
fn native_folder(h: &LegacyHome, warnings: &mut Vec<String>) -> Option<PathBuf> {
    use crate::text::sanitize;
    let raw = h.path.to_string_lossy().to_string();
    let windows_spelled = raw.contains('\\') || raw.chars().nth(1) == Some(':');
    let foreign = match (crate::platform::WINDOWS, windows_spelled) {
        (false, true) => Some("a Windows path"),
        // `//server/share` is a UNC path written with `/` on Windows.
        (true, false) if raw.starts_with('/') && !raw.starts_with("//") => Some("a Unix path"),
        _ => None,
    };
    if let Some(kind) = foreign {
        warnings.push(format!(
            "home `{}` has {kind} ({}); declare it by hand",
            sanitize(&h.name),
            sanitize(&raw)
        ));
        return None;
    }
    match crate::paths::expand(&raw, None) {
        Ok(p) => Some(p),
        Err(e) => {
            warnings.push(format!("home `{}`: {e}", sanitize(&h.name)));
            None
        }
    }
}

/// The older tool's home name as a manifest name (other characters become `-`), made
/// `<name>-legacy` when the manifest has a home of that name.
fn home_name(name: &str, current: &crate::manifest::Manifest) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if current.homes.contains_key(&name) {
        format!("{name}-legacy")
    } else {
        name
    }
}

/// The alias home `name` binds account `a` by (declared in `text` when the manifest has
/// none yet), or `None` with a warning when that ChatGPT login is bound to another home.
fn alias_to_bind(
    text: &mut String,
    current: &crate::manifest::Manifest,
    a: &crate::vault::Account,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Option<String>> {
    use crate::manifest::{self, Binding, edit};
    let al = match crate::resolve::alias_of(current, a) {
        Some(al) => al,
        None => {
            let al = manifest::alias::new_alias(current, a);
            *text = edit::add_account(text, &al, "id", &a.id)?;
            al
        }
    };
    let bound_elsewhere = a.kind == crate::vault::AccountKind::OAuth
        && current
            .homes
            .values()
            .any(|x| x.binding == Some(Binding::Account(al.clone())));
    if bound_elsewhere {
        warnings.push(format!(
            "{} is already bound to another home; home `{name}` is declared without an account",
            crate::text::sanitize(a.name())
        ));
        return Ok(None);
    }
    Ok(Some(al))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codex::jwt;
    use serde_json::json;

    #[test]
    fn reads_a_full_store_and_keeps_ids() {
        let tok = jwt::unsigned(
            &json!({"email": "me@x.io", "https://api.openai.com/auth": {"chatgpt_plan_type": "pro"}, "iat": 5, "exp": 10}),
        );
        let text = format!(
            r#"
[meta]
current_account_id = "oauth_aaaaaaaaaaaaaaaa"
current_home = "default"

[[accounts]]
id = "oauth_aaaaaaaaaaaaaaaa"
email = "me@x.io"
auth_mode = "oauth"
plan_type = "plus"
account_id = "acct-9"
requires_reauth = true
created_at = 1700000000
[accounts.tokens]
id_token = "{tok}"
access_token = "{tok}"
refresh_token = "rt-legacy"
[accounts.quota]
primary_remaining_percent = 80
primary_reset_time = 1700003600
secondary_remaining_percent = 55
updated_at = 1700000100

[[accounts]]
id = "apikey_bbbbbbbbbbbbbbbb"
email = "api-key-bbbbbbbb"
auth_mode = "api_key"
openai_api_key = "sk-legacy"
api_base_url = "https://proxy.example/v1"

[[accounts]]
id = "broken"
auth_mode = "oauth"

[[homes]]
name = "work"
path = "D:\\codex\\work"
bound_account_id = "apikey_bbbbbbbbbbbbbbbb"

[sync]
server_url = "http://x"
token = "secret"
"#
        );
        let store = parse(&text, 42).unwrap();
        assert_eq!(store.accounts.len(), 2);
        let oauth = &store.accounts[0].account;
        assert_eq!(oauth.id, "oauth_aaaaaaaaaaaaaaaa");
        assert_eq!(oauth.plan_type.as_deref(), Some("plus"));
        assert_eq!(oauth.chatgpt_account_id.as_deref(), Some("acct-9"));
        assert!(oauth.requires_reauth);
        assert_eq!(oauth.created_at, 1_700_000_000);
        assert_eq!(
            store.accounts[0]
                .quota
                .as_ref()
                .unwrap()
                .primary_remaining_percent,
            Some(80.0)
        );
        let key = &store.accounts[1].account;
        assert_eq!(key.id, "apikey_bbbbbbbbbbbbbbbb");
        assert_eq!(key.base_url.as_deref(), Some("https://proxy.example/v1"));
        assert_eq!(key.label.as_deref(), Some("api-key-bbbbbbbb"));
        assert_eq!(store.skipped.len(), 1, "{:?}", store.skipped);
        assert_eq!(store.homes[0].name, "work");
        assert_eq!(
            store.current_account_id.as_deref(),
            Some("oauth_aaaaaaaaaaaaaaaa")
        );
    }

    #[test]
    fn empty_and_odd_files_do_not_fail() {
        assert!(parse("", 1).unwrap().accounts.is_empty());
        assert!(
            parse("accounts = 3\nhomes = \"x\"", 1)
                .unwrap()
                .accounts
                .is_empty()
        );
        assert!(
            parse("[[accounts]]\nid = 5", 1)
                .unwrap()
                .accounts
                .is_empty()
        );
        assert!(parse("not toml [", 1).is_err());
    }
}
