//! A home's `config.toml`: cdxs reads it (with every other layer of Codex's settings, see
//! [`super::settings`]) and changes two keys.
//!
//! * `cli_auth_credentials_store`: when not `file`, Codex ignores or deletes the auth.json
//!   cdxs writes (plan refuses to bind such a home). A home that declares
//!   `codex_config: { cli_auth_credentials_store: file }` gets the key written.
//! * `openai_base_url`: the endpoint of Codex's built-in OpenAI provider. An API-key account
//!   with a base URL (a proxy, a gateway) only works in a home whose config.toml names it;
//!   Codex 0.169 ignores an `OPENAI_BASE_URL` variable. cdxs sets the key when it binds such
//!   an account and removes it again when it binds an account without one, but only a value
//!   it can trace to an account it knows: a base URL the person set by hand stays.
//!
//! Edits go through toml_edit so that the person's comments, order and other settings stay
//! byte for byte as they were.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, value};

use super::settings::{self, Effective, MachineLayers};
use crate::backup::Backups;
use crate::error::{Error, Result, tick};
use crate::fsx;
use crate::secret::fingerprint;

pub const CONFIG_FILE: &str = "config.toml";
/// The most a config.toml may weigh (they are a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;
pub const BASE_URL_KEY: &str = "openai_base_url";

pub fn config_path(home: &Path) -> PathBuf {
    home.join(CONFIG_FILE)
}

/// What a home's config.toml says, as plan needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigObs {
    /// Fingerprint of the file's bytes (`None`: no file).
    pub fingerprint: Option<String>,
    /// Top-level `openai_base_url`.
    pub base_url: Option<String>,
    /// Top-level `cli_auth_credentials_store` as the file spells it.
    pub credentials_store: Option<String>,
    /// The settings Codex acts on in this home: this file over every other layer.
    pub settings: Effective,
    /// Why the file could not be read or parsed.
    pub error: Option<String>,
    /// Its text (bounded), for the diff a plan shows of an edit.
    pub text: Option<String>,
}

/// Observe a home's config.toml, reading this machine's layers of Codex's settings too
/// (imperative commands; plan's observation reads them once for every home).
pub fn observe(home: &Path) -> ConfigObs {
    observe_with(home, &MachineLayers::read())
}

/// Observe a home's config.toml (absent when the folder is) over `machine`'s layers.
pub fn observe_with(home: &Path, machine: &MachineLayers) -> ConfigObs {
    let path = config_path(home);
    let place = path.display().to_string();
    let (mut obs, text) = match fsx::read_optional_bounded(&path, MAX_CONFIG_BYTES) {
        Ok(None) => (ConfigObs::default(), None),
        Err(e) => (
            ConfigObs {
                error: Some(e.to_string()),
                ..ConfigObs::default()
            },
            Some(Err(e.to_string())),
        ),
        Ok(Some(bytes)) => {
            let mut obs = parse(&bytes);
            obs.fingerprint = Some(fingerprint(&bytes));
            obs.text = String::from_utf8(bytes).ok();
            let text = obs.text.clone().ok_or_else(|| "is not UTF-8".to_string());
            (obs, Some(text))
        }
    };
    obs.settings = settings::effective(machine, text.as_ref(), &place);
    obs
}

fn parse(bytes: &[u8]) -> ConfigObs {
    let doc = match std::str::from_utf8(bytes)
        .map_err(|_| "it is not UTF-8".to_string())
        .and_then(|t| {
            t.parse::<DocumentMut>()
                .map_err(|e| first_line(&e.to_string()))
        }) {
        Ok(doc) => doc,
        Err(why) => {
            return ConfigObs {
                error: Some(why),
                ..ConfigObs::default()
            };
        }
    };
    let string = |key: &str| doc.get(key).and_then(|v| v.as_str()).map(str::to_string);
    ConfigObs {
        fingerprint: None,
        base_url: string(BASE_URL_KEY),
        credentials_store: string("cli_auth_credentials_store"),
        settings: Effective::default(),
        error: None,
        text: None,
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

pub const STORE_KEY: &str = "cli_auth_credentials_store";

/// `text` with the top-level `openai_base_url` set to `url` (or removed for `None`),
/// everything else kept as it was.
pub fn with_base_url(text: &str, url: Option<&str>) -> std::result::Result<String, String> {
    with_key(text, BASE_URL_KEY, url)
}

/// `text` with the top-level string `key` set to `to` (or removed for `None`), everything
/// else kept as it was (a new key goes before the first table, where TOML puts top-level
/// keys).
pub fn with_key(text: &str, key: &str, to: Option<&str>) -> std::result::Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| first_line(&e.to_string()))?;
    match to {
        Some(u) => match doc.get_mut(key).and_then(|i| i.as_value_mut()) {
            // Keep the comment after the old value.
            Some(old) => {
                let decor = old.decor().clone();
                *old = toml_edit::Value::from(u);
                *old.decor_mut() = decor;
            }
            None => doc[key] = value(u),
        },
        None => {
            doc.remove(key);
        }
    }
    Ok(doc.to_string())
}

/// The change a home needs so that Codex calls the bound account's endpoint: `Some(new)`
/// when `openai_base_url` must become `new` (`None` = removed), `None` when it is right.
/// A value the account does not want is removed only when `known` traces it to an account
/// (cdxs put it there); a hand-set value stays.
pub fn base_url_change(
    want: Option<&str>,
    have: Option<&str>,
    known: &dyn Fn(&str) -> bool,
) -> Option<Option<String>> {
    match (want, have) {
        (Some(w), Some(h)) if w == h => None,
        (Some(w), _) => Some(Some(w.to_string())),
        (None, Some(h)) if known(h) => Some(None),
        (None, _) => None,
    }
}

/// What [`set_base_url`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWrite {
    pub path: PathBuf,
    pub before: Option<String>,
    pub after: Option<String>,
    pub backup: Option<PathBuf>,
}

/// Set (or remove) `openai_base_url` in `home`'s config.toml: backup first, atomic write,
/// the file's mode kept (a new file is 0600: config.toml can hold MCP server secrets).
/// With `expect`, refuse when the file's fingerprint is no longer the one plan saw.
pub fn set_base_url(
    home: &Path,
    url: Option<&str>,
    expect: Option<&Option<String>>,
    backups: &mut Backups,
) -> Result<ConfigWrite> {
    set_key(home, BASE_URL_KEY, url, expect, backups)
}

/// Set (or remove) the top-level `key` in `home`'s config.toml, as [`set_base_url`] does.
pub fn set_key(
    home: &Path,
    key: &str,
    to: Option<&str>,
    expect: Option<&Option<String>>,
    backups: &mut Backups,
) -> Result<ConfigWrite> {
    let url = to;
    let path = config_path(home);
    let current = fsx::read_optional_bounded(&path, MAX_CONFIG_BYTES)?;
    let before = current.as_deref().map(fingerprint);
    if let Some(expected) = expect
        && &before != expected
    {
        return Err(
            Error::user(format!("{} changed since the plan was made", tick(&path)))
                .with_help("run `cdxs plan` again and review the new plan"),
        );
    }
    let text = match &current {
        Some(bytes) => std::str::from_utf8(bytes)
            .map_err(|_| Error::user(format!("{} is not UTF-8", tick(&path))))?
            .to_string(),
        None if url.is_none() => {
            return Ok(ConfigWrite {
                path,
                before: None,
                after: None,
                backup: None,
            });
        }
        None => String::new(),
    };
    let new = with_key(&text, key, url).map_err(|why| {
        Error::user(format!("cannot edit {}: {why}", tick(&path)))
            .with_help("fix the TOML syntax error (Codex cannot read the file either)")
    })?;
    if current.as_deref() == Some(new.as_bytes()) {
        return Ok(ConfigWrite {
            path,
            after: before.clone(),
            before,
            backup: None,
        });
    }
    let backup = match &current {
        Some(bytes) => Some(backups.save(&path, bytes)?),
        None => None,
    };
    let mode = fsx::mode_of(&path).unwrap_or(fsx::SECRET_FILE_MODE);
    fsx::write_atomic(&path, new.as_bytes(), mode)?;
    Ok(ConfigWrite {
        after: Some(fingerprint(new.as_bytes())),
        path,
        before,
        backup,
    })
}

/// A base URL for display: the scheme, host, port and path, never a user or password.
pub fn display_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            // A query or fragment may carry a token (`?token=`, `#access_token=`).
            if parsed.query().is_some() {
                parsed.set_query(Some("(sensitive)"));
            }
            if parsed.fragment().is_some() {
                parsed.set_fragment(Some("(sensitive)"));
            }
            crate::text::sanitize(parsed.as_str()).into_owned()
        }
        // Not a URL: show nothing of it that could be a secret or a control sequence.
        Err(_) => crate::text::sanitize(&crate::secret::redact(u)).into_owned(),
    }
}

/// Check a base URL given by the person: http(s), no credentials in it, no query or
/// fragment (any of those would end up in plans, listings and config.toml; the key
/// belongs in the API key).
pub fn check_base_url(u: &str) -> std::result::Result<(), String> {
    let parsed =
        url::Url::parse(u).map_err(|e| format!("`{}` is not a URL: {e}", display_url(u)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("`{}` is not an http(s) URL", display_url(u)));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "the base URL holds a user name or password; put the secret in the API key instead"
                .into(),
        );
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "the base URL `{}` has a query or fragment (`?...`, `#...`), which may carry a token; give the endpoint only and put the secret in the API key",
            display_url(u)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# my settings\nmodel = \"gpt-5.1\" # the good one\n\n[projects.\"/src\"]\ntrust_level = \"trusted\"\n";

    #[test]
    fn setting_keeps_comments_and_tables() {
        let set = with_base_url(CONFIG, Some("https://proxy.example/v1")).unwrap();
        assert!(set.contains("# my settings\n"), "{set}");
        assert!(set.contains("model = \"gpt-5.1\" # the good one"), "{set}");
        assert!(
            set.contains("[projects.\"/src\"]\ntrust_level = \"trusted\""),
            "{set}"
        );
        let obs = parse(set.as_bytes());
        assert_eq!(obs.base_url.as_deref(), Some("https://proxy.example/v1"));
        // The key is top-level, not inside the last table.
        let table: toml::Table = set.parse().unwrap();
        assert_eq!(
            table["openai_base_url"].as_str(),
            Some("https://proxy.example/v1")
        );
        let removed = with_base_url(&set, None).unwrap();
        assert_eq!(removed, CONFIG);
    }

    #[test]
    fn changing_an_existing_value_keeps_its_place() {
        let text = "openai_base_url = \"https://old.example/v1\" # proxy\nmodel = \"m\"\n";
        let set = with_base_url(text, Some("https://new.example/v1")).unwrap();
        assert_eq!(
            set,
            "openai_base_url = \"https://new.example/v1\" # proxy\nmodel = \"m\"\n"
        );
    }

    #[test]
    fn a_broken_file_is_reported_not_rewritten() {
        assert!(with_base_url("model = \n", Some("https://x")).is_err());
        let obs = parse(b"model = \n");
        assert!(obs.error.is_some());
        assert_eq!(obs.base_url, None);
    }

    #[test]
    fn the_home_layer_is_judged_over_the_machine_layers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            config_path(dir.path()),
            "cli_auth_credentials_store = \"keyring\"\n",
        )
        .unwrap();
        let obs = observe_with(dir.path(), &MachineLayers::none());
        assert_eq!(obs.credentials_store.as_deref(), Some("keyring"));
        assert_eq!(obs.settings.store.value, settings::Store::Keyring);
        assert_eq!(obs.settings.store.from.layer, settings::Layer::Home);
        let none = tempfile::tempdir().unwrap();
        let obs = observe_with(none.path(), &MachineLayers::none());
        assert_eq!(obs.settings.store.value, settings::Store::File);
    }

    #[test]
    fn change_rules() {
        let known = |u: &str| u == "https://cdxs-set.example/v1";
        assert_eq!(
            base_url_change(Some("https://a/v1"), None, &known),
            Some(Some("https://a/v1".into()))
        );
        assert_eq!(
            base_url_change(Some("https://a/v1"), Some("https://a/v1"), &known),
            None
        );
        assert_eq!(
            base_url_change(Some("https://a/v1"), Some("https://b/v1"), &known),
            Some(Some("https://a/v1".into()))
        );
        assert_eq!(
            base_url_change(None, Some("https://cdxs-set.example/v1"), &known),
            Some(None)
        );
        // Set by hand: stays.
        assert_eq!(
            base_url_change(None, Some("https://mine.example/v1"), &known),
            None
        );
        assert_eq!(base_url_change(None, None, &known), None);
    }

    #[test]
    fn urls_with_credentials_are_refused_and_never_shown() {
        assert!(check_base_url("https://proxy.example/v1").is_ok());
        assert!(check_base_url("ftp://proxy.example/").is_err());
        assert!(check_base_url("not a url").is_err());
        let err = check_base_url("https://bob:hunter2@proxy.example/v1").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            display_url("https://bob:hunter2@proxy.example/v1"),
            "https://proxy.example/v1"
        );
    }

    #[test]
    fn set_base_url_backs_up_keeps_mode_and_checks_expectation() {
        let modes = crate::platform::fs::HAS_MODES;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let path = config_path(home);
        std::fs::write(&path, CONFIG).unwrap();
        crate::platform::fs::set_mode(&path, 0o640).unwrap();
        let mut backups = Backups::new(&home.join("state"), "t");
        let stale = Some(Some("sha256:nothing".to_string()));
        assert!(set_base_url(home, Some("https://p/v1"), stale.as_ref(), &mut backups).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), CONFIG);

        let fp = Some(fingerprint(CONFIG.as_bytes()));
        let w = set_base_url(home, Some("https://p/v1"), Some(&fp), &mut backups).unwrap();
        assert_eq!(std::fs::read_to_string(w.backup.unwrap()).unwrap(), CONFIG);
        assert_eq!(observe(home).base_url.as_deref(), Some("https://p/v1"));
        assert_eq!(fsx::mode_of(&path), modes.then_some(0o640));

        // A home without config.toml gets a 0600 one; removing from none is a no-op.
        let empty = tempfile::tempdir().unwrap();
        let w = set_base_url(empty.path(), None, None, &mut backups).unwrap();
        assert_eq!(w.after, None);
        assert!(!config_path(empty.path()).exists());
        set_base_url(
            empty.path(),
            Some("https://p/v1"),
            Some(&None),
            &mut backups,
        )
        .unwrap();
        assert_eq!(
            fsx::mode_of(&config_path(empty.path())),
            modes.then_some(0o600)
        );
        assert_eq!(
            std::fs::read_to_string(config_path(empty.path())).unwrap(),
            "openai_base_url = \"https://p/v1\"\n"
        );
    }
}
