//! The manifest as written: serde types with spans (serde-saphyr `Spanned`) for
//! diagnostics, and schemars annotations from which `schema/cdxs.schema.json` is generated.

use std::collections::BTreeMap;
use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_saphyr::Spanned;

use super::values::{Duration, Percent};

pub type Name = Spanned<String>;

/// cdxs.yaml: the desired state of your Codex homes. It never holds secrets: accounts are
/// references into the local vault (or to an environment variable or a mounted file).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cdxs manifest (cdxs.yaml)")]
pub struct RawManifest {
    /// Manifest format version. Always 1.
    #[schemars(with = "u32")]
    pub version: Spanned<u32>,

    /// Local aliases for accounts: `alias: { email: ... }`, `{ id: ... }`,
    /// `{ api_key_env: VAR }` or `{ auth_file: PATH }`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawAccount>")]
    pub accounts: IndexMap<Name, Spanned<RawAccount>>,

    /// Named groups of account aliases that homes can draw from by quota.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, Vec<String>>")]
    pub pools: IndexMap<Name, Spanned<Vec<Name>>>,

    /// Codex homes (`CODEX_HOME` folders) and the account each one uses.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawHome>")]
    pub homes: IndexMap<Name, Spanned<RawHome>>,

    /// Session policies applied by plan/apply.
    #[serde(default)]
    pub sessions: Option<RawSessions>,

    /// Sync targets (self-hosted sync servers).
    #[serde(default)]
    pub sync: Option<RawSync>,

    /// Settings of `cdxs watch`.
    #[serde(default)]
    pub watch: Option<RawWatch>,

    /// How long backups of replaced files (old auth.json files among them) are kept.
    #[serde(default)]
    pub backups: Option<RawBackups>,
}

/// A reference to an account. Exactly one of `email`, `id`, `api_key_env`, `auth_file`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Account")]
#[serde(deny_unknown_fields)]
pub struct RawAccount {
    /// The login's email in the vault.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub email: Option<Spanned<String>>,
    /// With `email`: the ChatGPT workspace (account id) when one email has several.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub workspace: Option<Spanned<String>>,
    /// A vault account id (`oauth_...` or `apikey_...`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub id: Option<Spanned<String>>,
    /// An API key read from this environment variable at apply time, never stored.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_key_env: Option<Spanned<String>>,
    /// With `api_key_env`: the API base URL.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub base_url: Option<Spanned<String>>,
    /// An auth.json imported into the vault at apply time (CI secret mounts).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub auth_file: Option<Spanned<String>>,
}

/// One Codex home.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "Home")]
#[serde(deny_unknown_fields)]
pub struct RawHome {
    /// The folder (`~` and `$VARS` expand; relative to the manifest's folder).
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// The account: an alias, or a pool binding. Without it, auth.json is left alone.
    #[serde(default)]
    #[schemars(with = "Option<RawBinding>")]
    pub account: Option<Spanned<RawBinding>>,
    /// Settings cdxs writes into the home's config.toml (with a backup and a diff in the
    /// plan), everything else in the file kept as it is.
    #[serde(default)]
    pub codex_config: Option<RawCodexConfig>,
}

/// Keys of the home's config.toml that cdxs keeps as declared.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "CodexConfig")]
#[serde(deny_unknown_fields)]
pub struct RawCodexConfig {
    /// Where Codex keeps its login: `file` (auth.json, the only store cdxs writes).
    /// Other stores make Codex ignore or delete the auth.json cdxs writes.
    #[serde(default)]
    pub cli_auth_credentials_store: Option<CredentialsStore>,
}

/// The credential stores cdxs can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CredentialsStore {
    /// `auth.json` in the home.
    File,
}

/// An alias from `accounts`, or `{ pool, strategy, switch_below }`.
#[derive(Debug, JsonSchema)]
#[schemars(rename = "Binding")]
#[serde(untagged)]
pub enum RawBinding {
    /// An account alias.
    Alias(String),
    /// Pick a member of a pool by quota.
    Pool(RawPoolBinding),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "PoolBinding")]
#[serde(deny_unknown_fields)]
pub struct RawPoolBinding {
    /// The pool's name.
    #[schemars(with = "String")]
    pub pool: Spanned<String>,
    /// How to pick (default `most-remaining`).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Move to another member when the current one's remaining quota drops below this
    /// (default 10%).
    #[serde(default)]
    pub switch_below: Option<Percent>,
}

/// How a pool picks a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The member with the most quota left (the smaller of 5h and weekly).
    MostRemaining,
    /// The next member after the current one.
    RoundRobin,
    /// The first member with quota left, in the pool's order.
    First,
}

// A hand-written visitor instead of serde's untagged buffering, so that spans and
// precise errors survive inside the pool mapping.
impl<'de> Deserialize<'de> for RawBinding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawBinding;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an account alias or `{ pool: NAME, strategy: ..., switch_below: PERCENT }`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawBinding, E> {
                Ok(RawBinding::Alias(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawBinding, A::Error> {
                RawPoolBinding::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawBinding::Pool)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Sessions")]
#[serde(deny_unknown_fields)]
pub struct RawSessions {
    /// Purge trashed sessions older than this.
    #[serde(default)]
    pub trash_max_age: Option<Duration>,
    /// Repair visibility problems on apply.
    #[serde(default)]
    pub auto_repair: Option<bool>,
    /// Keep these homes' thread sets equal (copy what is missing).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub share_threads: Option<Vec<Name>>,
}

/// Backup retention (default: 30 days, and always the 10 newest backup folders).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Backups")]
#[serde(deny_unknown_fields)]
pub struct RawBackups {
    /// Delete backup folders older than this (default `30d`).
    #[serde(default)]
    pub max_age: Option<Duration>,
    /// Always keep this many of the newest backup folders, whatever their age (default 10).
    #[serde(default)]
    pub keep_last: Option<u32>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Sync")]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    /// Sync servers.
    #[serde(default)]
    pub targets: Vec<RawSyncTarget>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(rename = "SyncTarget")]
#[serde(deny_unknown_fields)]
pub struct RawSyncTarget {
    /// A name for this target.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// The server's URL.
    #[schemars(with = "String")]
    pub url: Spanned<String>,
    /// The user on that server (credentials come from `cdxs sync login`).
    pub user: String,
    /// What is synced: `accounts` (end-to-end encrypted).
    #[serde(default)]
    pub share: Vec<ShareKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ShareKind {
    /// Accounts (tokens and keys, end-to-end encrypted).
    Accounts,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(rename = "Watch")]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    /// How often `watch` runs a cycle without file events (default 60s).
    #[serde(default)]
    pub interval: Option<Duration>,
    /// Refresh OAuth tokens this long before they expire (default 10m; from 5m to 1d).
    #[serde(default)]
    #[schemars(with = "Option<Duration>")]
    pub refresh_before_expiry: Option<Spanned<Duration>>,
    /// `safe` (default) or `all`: whether watch overwrites files changed outside cdxs.
    #[serde(default)]
    pub apply: Option<WatchApply>,
    /// A pool home stays on its pick at least this long (default 10m).
    #[serde(default)]
    pub min_dwell: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WatchApply {
    #[default]
    Safe,
    All,
}
