//! Typed addresses of plan actions, errors, notes and drift (Terraform's
//! `internal/addrs`): built from parts, never from `format!` strings parsed back. Their text
//! is what people and saved plans see (`home.work.auth`, `home[~/x].auth`,
//! `account.ada.refresh`, `sessions.work.repair[kind:id]`, `trash.work.purge[id]`,
//! `threads.work.copy[id]`, `sync.home-server.push`), and [`Address::from_str`] reads it back
//! exactly. `--target` selects by [`Address::contains`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// A Codex home: declared in the manifest (by name), or a folder named on the command line
/// (`switch --codex-home`, `run --account --codex-home`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HomeId {
    Named(String),
    /// As people see it (`~/...`).
    Folder(String),
}

impl fmt::Display for HomeId {
    /// A declared home by its name, a folder as `[PATH]` (its spelling in plans and JSON).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HomeId::Named(n) => f.write_str(n),
            HomeId::Folder(p) => write!(f, "[{p}]"),
        }
    }
}

impl serde::Serialize for HomeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HomeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<HomeId, D::Error> {
        let text = String::deserialize(d)?;
        Ok(
            match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
                Some(p) => HomeId::Folder(p.to_string()),
                None => HomeId::Named(text),
            },
        )
    }
}

impl HomeId {
    /// The identity of a session command's home (`HomeRef::name`): a declared home's
    /// name, or a folder as it is shown (names never hold a path separator or start with
    /// `~`, manifest validation sees to it).
    pub fn of_shown(shown: &str) -> HomeId {
        if shown.contains(std::path::MAIN_SEPARATOR)
            || shown.contains('/')
            || shown.starts_with('~')
        {
            HomeId::Folder(shown.to_string())
        } else {
            HomeId::Named(shown.to_string())
        }
    }

    /// How a person reads it: `home `work`` or the folder.
    pub fn describe(&self) -> String {
        match self {
            HomeId::Named(n) => format!("home `{n}`"),
            HomeId::Folder(p) => format!("`{p}`"),
        }
    }

    /// The manifest home's name, for a declared home.
    pub fn name(&self) -> Option<&str> {
        match self {
            HomeId::Named(n) => Some(n),
            HomeId::Folder(_) => None,
        }
    }

    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HomeId::Named(n) => write!(f, "home.{n}"),
            HomeId::Folder(p) => write!(f, "home[{p}]"),
        }
    }
}

/// What of a home an action changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HomePart {
    /// The folder itself.
    Dir,
    Auth,
    BaseUrl,
    CodexConfig,
}

/// What of an account an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountPart {
    Import,
    Harvest,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    /// A home, or one part of it.
    Home {
        home: HomeId,
        part: Option<HomePart>,
    },
    /// An account (by alias, or by id where no alias names it), or one step of it.
    Account {
        name: String,
        part: Option<AccountPart>,
    },
    /// A home's sessions (notes), or one repair there: `sessions.H.repair[kind:id]`.
    Sessions {
        home: String,
        repair: Option<(String, String)>,
    },
    /// A thread going into a home's trash (`trash.H[id]`), or purged from it
    /// (`trash.H.purge[id]`).
    Trash {
        home: String,
        id: String,
        purge: bool,
    },
    /// A thread copied into a home: `threads.H.copy[id]` (`threads[PATH].copy[id]` for a
    /// folder: a rollback taking a copy out).
    Copy { home: HomeId, id: String },
    /// A sync target's pull or push: `sync.T.pull`.
    Sync { target: String, push: bool },
    /// A file a rollback puts back.
    File(PathBuf),
    /// cdxs.yaml, written by a command that edits it: `manifest`.
    Manifest,
    /// One backup of the state folder, relative to `backups/`: `backups[gen12]`.
    Backup(String),
    /// A vault archive taken into the vault: `vault.import`.
    VaultImport,
    /// What the other machines said about a device (`sync forget-device`): `device[NAME]`.
    Device(String),
}

impl Address {
    pub fn home(name: &str, part: HomePart) -> Address {
        Address::Home {
            home: HomeId::Named(name.to_string()),
            part: Some(part),
        }
    }

    pub fn folder(shown: &str, part: HomePart) -> Address {
        Address::Home {
            home: HomeId::Folder(shown.to_string()),
            part: Some(part),
        }
    }

    pub fn account(name: &str, part: AccountPart) -> Address {
        Address::Account {
            name: name.to_string(),
            part: Some(part),
        }
    }

    /// The declared home this address belongs to (a home's parts, its sessions, trash and
    /// thread copies).
    pub fn home_name(&self) -> Option<&str> {
        match self {
            Address::Home { home, .. } | Address::Copy { home, .. } => home.name(),
            Address::Sessions { home, .. } | Address::Trash { home, .. } => Some(home),
            _ => None,
        }
    }

    /// Is `self` a part of the declared home `name` (`home.NAME.…`)?
    pub fn in_home(&self, name: &str) -> bool {
        matches!(self, Address::Home { home: HomeId::Named(n), part: Some(_) } if n == name)
    }

    /// Is `self` the auth.json of a home?
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Address::Home {
                part: Some(HomePart::Auth),
                ..
            }
        )
    }

    /// `--target`: `self` is `target` or lies under it (`home.work` selects `home.work.dir`
    /// and `home.work.auth`; `trash.work` selects `trash.work.purge[id]`).
    pub fn contains(&self, target: &str) -> bool {
        let me = self.to_string();
        me == target
            || me.starts_with(&format!("{target}."))
            || me.starts_with(&format!("{target}["))
    }

    /// The address without its `[...]` key, for grouping long runs of one kind of action.
    pub fn group(&self) -> String {
        let me = self.to_string();
        me.split('[').next().unwrap_or("").to_string()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Home { home, part } => {
                home.write(f)?;
                match part {
                    None => Ok(()),
                    Some(HomePart::Dir) => f.write_str(".dir"),
                    Some(HomePart::Auth) => f.write_str(".auth"),
                    Some(HomePart::BaseUrl) => f.write_str(".base_url"),
                    Some(HomePart::CodexConfig) => f.write_str(".codex_config"),
                }
            }
            Address::Account { name, part } => {
                write!(f, "account.{name}")?;
                match part {
                    None => Ok(()),
                    Some(AccountPart::Import) => f.write_str(".import"),
                    Some(AccountPart::Harvest) => f.write_str(".harvest"),
                    Some(AccountPart::Refresh) => f.write_str(".refresh"),
                }
            }
            Address::Sessions { home, repair: None } => write!(f, "sessions.{home}"),
            Address::Sessions {
                home,
                repair: Some((kind, id)),
            } => write!(f, "sessions.{home}.repair[{kind}:{id}]"),
            Address::Trash {
                home,
                id,
                purge: false,
            } => write!(f, "trash.{home}[{id}]"),
            Address::Trash {
                home,
                id,
                purge: true,
            } => write!(f, "trash.{home}.purge[{id}]"),
            Address::Copy {
                home: HomeId::Named(h),
                id,
            } => write!(f, "threads.{h}.copy[{id}]"),
            Address::Copy {
                home: HomeId::Folder(p),
                id,
            } => write!(f, "threads[{p}].copy[{id}]"),
            Address::Sync { target, push } => {
                write!(f, "sync.{target}.{}", if *push { "push" } else { "pull" })
            }
            Address::File(p) => write!(f, "{}", p.display()),
            Address::Manifest => f.write_str("manifest"),
            Address::Backup(rel) => write!(f, "backups[{rel}]"),
            Address::VaultImport => f.write_str("vault.import"),
            Address::Device(d) => write!(f, "device[{d}]"),
        }
    }
}

/// Compare with an address's text (tests, `--target`).
impl PartialEq<&str> for Address {
    fn eq(&self, other: &&str) -> bool {
        let me: String = self.to_string();
        me.as_str() == *other
    }
}

impl PartialEq<str> for Address {
    fn eq(&self, other: &str) -> bool {
        let me: String = self.to_string();
        me.as_str() == other
    }
}

/// Text that is not an address cdxs makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadAddress(pub String);

impl fmt::Display for BadAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not an address cdxs makes", self.0)
    }
}

/// `body[key]` -> (body, key).
fn keyed(s: &str) -> Option<(&str, &str)> {
    let (body, rest) = s.split_once('[')?;
    Some((body, rest.strip_suffix(']')?))
}

impl FromStr for Address {
    type Err = BadAddress;

    fn from_str(s: &str) -> Result<Address, BadAddress> {
        let bad = || BadAddress(s.to_string());
        if s.starts_with('/') {
            return Ok(Address::File(PathBuf::from(s)));
        }
        if let Some(rest) = s.strip_prefix("home[") {
            // `home[PATH]` or `home[PATH].part` (the path may hold `.` and `]`).
            let (shown, part) = match rest.rsplit_once("].") {
                Some((p, part)) if home_part(part).is_some() => (p, home_part(part)),
                _ => (rest.strip_suffix(']').ok_or_else(bad)?, None),
            };
            return Ok(Address::Home {
                home: HomeId::Folder(shown.to_string()),
                part,
            });
        }
        if let Some(rest) = s.strip_prefix("home.") {
            let (name, part) = match rest.rsplit_once('.') {
                Some((n, part)) if home_part(part).is_some() => (n, home_part(part)),
                _ => (rest, None),
            };
            return Ok(Address::Home {
                home: HomeId::Named(name.to_string()),
                part,
            });
        }
        if let Some(rest) = s.strip_prefix("account.") {
            let (name, part) = match rest.rsplit_once('.') {
                Some((n, "import")) => (n, Some(AccountPart::Import)),
                Some((n, "harvest")) => (n, Some(AccountPart::Harvest)),
                Some((n, "refresh")) => (n, Some(AccountPart::Refresh)),
                _ => (rest, None),
            };
            return Ok(Address::Account {
                name: name.to_string(),
                part,
            });
        }
        if let Some(rest) = s.strip_prefix("sessions.") {
            return Ok(match keyed(rest) {
                Some((body, key)) => {
                    let home = body.strip_suffix(".repair").ok_or_else(bad)?;
                    let (kind, id) = key.split_once(':').ok_or_else(bad)?;
                    Address::Sessions {
                        home: home.to_string(),
                        repair: Some((kind.to_string(), id.to_string())),
                    }
                }
                None => Address::Sessions {
                    home: rest.to_string(),
                    repair: None,
                },
            });
        }
        if let Some(rest) = s.strip_prefix("trash.") {
            let (body, id) = keyed(rest).ok_or_else(bad)?;
            let (home, purge) = match body.strip_suffix(".purge") {
                Some(h) => (h, true),
                None => (body, false),
            };
            return Ok(Address::Trash {
                home: home.to_string(),
                id: id.to_string(),
                purge,
            });
        }
        if let Some(rest) = s.strip_prefix("threads.") {
            let (body, id) = keyed(rest).ok_or_else(bad)?;
            let home = body.strip_suffix(".copy").ok_or_else(bad)?;
            return Ok(Address::Copy {
                home: HomeId::Named(home.to_string()),
                id: id.to_string(),
            });
        }
        if let Some(rest) = s.strip_prefix("threads[") {
            let (shown, key) = rest.rsplit_once("].copy[").ok_or_else(bad)?;
            return Ok(Address::Copy {
                home: HomeId::Folder(shown.to_string()),
                id: key.strip_suffix(']').ok_or_else(bad)?.to_string(),
            });
        }
        match s {
            "manifest" => return Ok(Address::Manifest),
            "vault.import" => return Ok(Address::VaultImport),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("device[") {
            let device = rest.strip_suffix(']').ok_or_else(bad)?;
            return Ok(Address::Device(device.to_string()));
        }
        if let Some(rest) = s.strip_prefix("backups[") {
            let rel = rest.strip_suffix(']').ok_or_else(bad)?;
            return Ok(Address::Backup(rel.to_string()));
        }
        if let Some(rest) = s.strip_prefix("sync.") {
            let (target, dir) = rest.rsplit_once('.').ok_or_else(bad)?;
            let push = match dir {
                "push" => true,
                "pull" => false,
                _ => return Err(bad()),
            };
            return Ok(Address::Sync {
                target: target.to_string(),
                push,
            });
        }
        Err(bad())
    }
}

fn home_part(s: &str) -> Option<HomePart> {
    match s {
        "dir" => Some(HomePart::Dir),
        "auth" => Some(HomePart::Auth),
        "base_url" => Some(HomePart::BaseUrl),
        "codex_config" => Some(HomePart::CodexConfig),
        _ => None,
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_address_reads_back_as_itself() {
        for text in [
            "home.work.auth",
            "home.my.home.dir",
            "home.work.base_url",
            "home.work.codex_config",
            "home.work",
            "home[~/x/y.z].auth",
            "home[/a]b].base_url",
            "account.ada.refresh",
            "account.ada.harvest",
            "account.ada.import",
            "account.ada@x.io",
            "account.oauth_4f2a9c0d1e2b3a4f.refresh",
            "sessions.work",
            "sessions.work.repair[missing_row:019a-b]",
            "trash.work[019a]",
            "trash.work.purge[019a]",
            "threads.work.copy[019a]",
            "threads[~/w].copy[019a]",
            "sync.home-server.push",
            "sync.a.b.pull",
            "/home/me/.codex/auth.json",
            "manifest",
            "backups[gen12]",
            "backups[gen12/auth.json.1700000000]",
            "vault.import",
            "device[laptop-a]",
        ] {
            let a: Address = text.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(a.to_string(), text);
        }
        for bad in [
            "",
            "nonsense",
            "threads.work[x]",
            "sync.x.sideways",
            "trash.work",
            "backups[gen12",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_select_what_lies_under_them() {
        let auth = Address::home("work", HomePart::Auth);
        assert!(auth.contains("home.work"));
        assert!(auth.contains("home.work.auth"));
        assert!(!auth.contains("home.wor"));
        assert!(!auth.contains("home.work.dir"));
        let purge: Address = "trash.work.purge[1]".parse().unwrap();
        assert!(purge.contains("trash.work"));
        assert_eq!(purge.home_name(), Some("work"));
        assert_eq!(purge.group(), "trash.work.purge");
        let copy: Address = "threads.b.copy[1]".parse().unwrap();
        assert_eq!(copy.home_name(), Some("b"));
        assert_eq!(Address::folder("~/x", HomePart::Auth).home_name(), None);
        assert!(auth.is_auth());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,40}") {
            let _ = s.parse::<Address>();
        }

        #[test]
        fn named_homes_round_trip(name in "[a-z][a-z0-9._-]{0,12}") {
            for part in [HomePart::Dir, HomePart::Auth, HomePart::BaseUrl, HomePart::CodexConfig] {
                let a = Address::home(&name, part);
                prop_assert_eq!(a.to_string().parse::<Address>().unwrap(), a);
            }
        }
    }
}
