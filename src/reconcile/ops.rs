//! Imperative intents as plans, run by the one executor: write an account into a folder
//! (`switch` without a manifest, `run --account`, `--switch` on imports), move a login, a
//! refresh now, and the session commands (trash, restore, purge, repair, copy threads).
//! Building them reads nothing; the caller observed what they need.

use crate::reconcile::{AccountPart, Address, HomeId, HomePart};
use std::path::{Path, PathBuf};

use super::{Action, ActionKind, CredentialSource, Op, Plan};
use crate::codex::config::{self, ConfigObs};
use crate::codex::settings::Login;
use crate::error::Error;
use crate::sessions::visibility::Issue;
use crate::sessions::{HomeRef, share};
use crate::vault::{Account, AccountKind};

pub fn plan_of(actions: Vec<Action>) -> Plan {
    Plan {
        manifest: PathBuf::new(),
        manifest_fingerprint: String::new(),
        actions,
        drift: vec![],
        errors: vec![],
        notes: vec![],
        observed: Default::default(),
        accepted: vec![],
    }
}

/// Refresh one login now (`force`: even when it is fresh).
pub fn refresh(account_id: &str, force: bool) -> Plan {
    plan_of(vec![Action {
        address: Address::account(account_id, AccountPart::Refresh),
        kind: ActionKind::Update,
        description: if force {
            format!("refresh {account_id} now")
        } else {
            format!("refresh {account_id} if it expires soon")
        },
        changes: vec![],
        op: Op::Refresh {
            account_id: account_id.to_string(),
            force,
        },
    }])
}

/// What writing an account into a folder needs to know.
pub struct WriteInto<'a> {
    pub account: &'a Account,
    pub home: &'a Path,
    /// The folder's config.toml as observed.
    pub config: &'a ConfigObs,
    /// Base URLs of accounts cdxs knows (a value it may take away again).
    pub known_urls: &'a [String],
    /// Refresh first: the login expires within the refresh window (and cdxs is online).
    pub refresh_first: bool,
    /// `--move`: the folder that holds the login now gives it up.
    pub moved_from: Option<&'a Path>,
}

/// Write an account into a folder outside plan/apply, as one generation: a refresh first
/// when it is about to expire (as Codex does), the login taken out of its old folder when
/// it moves, auth.json, and the endpoint in config.toml. `Err` when config.toml must change
/// but cannot be read, or when Codex's settings there would make it ignore, delete or
/// leave unused the login (the same rules as plan).
pub fn write_into(w: &WriteInto) -> Result<Plan, Error> {
    refuse_what_codex_would_not_use(w)?;
    let shown = crate::paths::display(w.home);
    let mut actions: Vec<Action> = w.refresh_action().into_iter().collect();
    actions.extend(w.take_out(&shown));
    actions.push(w.write_auth(&shown));
    actions.extend(w.set_base_url(&shown)?);
    Ok(plan_of(actions))
}

impl WriteInto<'_> {
    /// A refresh first, when the login is about to expire (and can be refreshed).
    fn refresh_action(&self) -> Option<Action> {
        let a = self.account;
        (self.refresh_first && a.kind == AccountKind::OAuth && !a.requires_reauth).then(|| Action {
            address: Address::account(&a.id, AccountPart::Refresh),
            kind: ActionKind::Update,
            description: format!("refresh {}'s tokens first: they expire soon", a.name()),
            changes: vec![],
            op: Op::Refresh {
                account_id: a.id.clone(),
                force: false,
            },
        })
    }

    /// `--move`: the login out of the folder that holds it now.
    fn take_out(&self, shown: &str) -> Option<Action> {
        let from = self.moved_from?;
        Some(Action {
            address: Address::folder(&crate::paths::display(from), HomePart::Auth),
            kind: ActionKind::Delete,
            description: format!(
                "take {} out of `{}` (it moves to `{shown}`)",
                self.account.name(),
                crate::paths::display(from)
            ),
            changes: vec![],
            op: Op::RemoveAuth {
                path: from.to_path_buf(),
                account_id: self.account.id.clone(),
            },
        })
    }

    fn write_auth(&self, shown: &str) -> Action {
        Action {
            address: Address::folder(shown, HomePart::Auth),
            kind: ActionKind::Update,
            description: format!("write {}", self.account.name()),
            changes: vec![],
            op: Op::WriteAuth {
                home: HomeId::Folder(shown.to_string()),
                path: self.home.to_path_buf(),
                source: CredentialSource::Vault {
                    account_id: self.account.id.clone(),
                },
                expect: None,
                any: true,
                switch: true,
            },
        }
    }

    /// The endpoint in config.toml, when the account's differs from the folder's (a URL
    /// cdxs knows may be taken away again). `Err` when config.toml must change but cannot
    /// be read.
    fn set_base_url(&self, shown: &str) -> Result<Option<Action>, Error> {
        let known = |u: &str| self.known_urls.iter().any(|k| k == u);
        let Some(url) = config::base_url_change(
            self.account.base_url.as_deref(),
            self.config.base_url.as_deref(),
            &known,
        ) else {
            return Ok(None);
        };
        if let (Some(why), Some(_)) = (&self.config.error, &url) {
            return Err(Error::user(format!(
                "cannot read `{}` to set `openai_base_url` for {}: {why}",
                crate::paths::display(&config::config_path(self.home)),
                self.account.name()
            ))
            .with_help("fix config.toml (Codex cannot read it either), then try again"));
        }
        if self.config.error.is_some() {
            return Ok(None);
        }
        Ok(Some(Action {
            address: Address::folder(shown, HomePart::BaseUrl),
            kind: ActionKind::Update,
            description: match &url {
                Some(u) => format!("set openai_base_url = {}", config::display_url(u)),
                None => "remove openai_base_url".into(),
            },
            changes: vec![],
            op: Op::SetBaseUrl {
                home: HomeId::Folder(shown.to_string()),
                path: self.home.to_path_buf(),
                url,
                expect: self.config.fingerprint.clone(),
            },
        }))
    }
}

/// The folder's Codex settings (every layer, codex-formats 9.3) would make Codex ignore,
/// delete or leave unused the login: refuse before anything is written.
fn refuse_what_codex_would_not_use(w: &WriteInto) -> Result<(), Error> {
    codex_would_use(w.account, w.home, w.config)
}

/// `Err` (what Codex does, and the fix) when the folder `home`'s Codex settings would make
/// Codex ignore, delete or leave unused `account`'s login there.
pub fn codex_would_use(account: &Account, home: &Path, config: &ConfigObs) -> Result<(), Error> {
    let settings = &config.settings;
    let place = crate::paths::display(home);
    if let Some(b) = settings.broken.first() {
        return Err(Error::user(format!(
            "cannot tell whether Codex reads auth.json in `{place}`: `{}` ({}) {}; Codex itself does not start until it is fixed",
            b.from.place,
            b.from.layer.name(),
            b.why
        ))
        .with_help("fix that file, then try again"));
    }
    let login = match account.kind {
        AccountKind::ApiKey => Login::ApiKey,
        AccountKind::OAuth => Login::ChatGpt {
            workspace: account.chatgpt_account_id.clone(),
        },
    };
    match settings.refusals(&login).into_iter().next() {
        None => Ok(()),
        Some(r) => Err(Error::user(format!(
            "Codex would not use {} in `{place}`: {}",
            account.name(),
            r.message()
        ))
        .with_help(r.fix)),
    }
}

/// Take a login out of a folder (`home remove --clear-login`): backed up, harvested first.
pub fn remove_login(folder: &Path, account: &Account) -> Plan {
    let shown = crate::paths::display(folder);
    plan_of(vec![Action {
        address: Address::folder(&shown, HomePart::Auth),
        kind: ActionKind::Delete,
        description: format!("take {} out of `{shown}`", account.name()),
        changes: vec![],
        op: Op::RemoveAuth {
            path: folder.to_path_buf(),
            account_id: account.id.clone(),
        },
    }])
}

/// Put accounts into the vault (`import auth|legacy`, `login`, `add-api-key`, `init`): one
/// action each, run in one generation.
pub fn put_accounts(accounts: Vec<super::staged::StagedAccount>) -> Plan {
    plan_of(
        accounts
            .into_iter()
            .map(|staged| Action {
                address: Address::Account {
                    name: staged.account.id.clone(),
                    part: None,
                },
                kind: ActionKind::Create,
                description: format!("put {} into the vault", staged.account.name()),
                changes: vec![],
                op: Op::PutAccount { account: staged },
            })
            .collect(),
    )
}

/// Take what Codex wrote into these folders into the vault when it is newer (`sync push`
/// first: a token Codex rotated on this machine must reach the others): (folder, account).
pub fn harvest(folders: &[(PathBuf, Account)]) -> Plan {
    plan_of(
        folders
            .iter()
            .map(|(folder, account)| {
                let shown = crate::paths::display(folder);
                Action {
                    address: Address::account(&account.id, AccountPart::Harvest),
                    kind: ActionKind::Read,
                    description: format!(
                        "take newer tokens of {} from `{shown}` into the vault",
                        account.name()
                    ),
                    changes: vec![],
                    op: Op::Harvest {
                        home: HomeId::Folder(shown),
                        path: folder.clone(),
                        account_id: account.id.clone(),
                    },
                }
            })
            .collect(),
    )
}

/// Take an account out of the vault (`account remove`).
pub fn remove_account(account: &Account) -> Plan {
    plan_of(vec![Action {
        address: Address::Account {
            name: account.id.clone(),
            part: None,
        },
        kind: ActionKind::Delete,
        description: format!("remove {} from the vault", account.name()),
        changes: vec![],
        op: Op::RemoveAccount {
            account_id: account.id.clone(),
        },
    }])
}

/// Name an account (`account rename`).
pub fn rename_account(account: &Account, name: &str) -> Plan {
    plan_of(vec![Action {
        address: Address::Account {
            name: account.id.clone(),
            part: None,
        },
        kind: ActionKind::Update,
        description: format!("name {} `{}`", account.name(), name.trim()),
        changes: vec![],
        op: Op::RenameAccount {
            account_id: account.id.clone(),
            name: name.to_string(),
        },
    }])
}

/// Move threads into their home's trash.
pub fn trash(home: &HomeRef, ids: &[String]) -> Plan {
    plan_of(
        ids.iter()
            .map(|id| Action {
                address: Address::Trash {
                    home: home.name.clone(),
                    id: id.clone(),
                    purge: false,
                },
                kind: ActionKind::Delete,
                description: format!("move thread {id} to the trash"),
                changes: vec![],
                op: Op::TrashThread {
                    home: HomeId::of_shown(&home.name),
                    path: home.path.clone(),
                    id: id.clone(),
                },
            })
            .collect(),
    )
}

/// Put trashed threads back.
pub fn restore(targets: &[(HomeRef, String)]) -> Plan {
    plan_of(
        targets
            .iter()
            .map(|(h, id)| Action {
                address: Address::Trash {
                    home: h.name.clone(),
                    id: id.clone(),
                    purge: false,
                },
                kind: ActionKind::Create,
                description: format!("restore thread {id}"),
                changes: vec![],
                op: Op::RestoreThread {
                    home: HomeId::of_shown(&h.name),
                    path: h.path.clone(),
                    id: id.clone(),
                },
            })
            .collect(),
    )
}

/// Delete trashed threads for good.
pub fn purge(targets: &[(HomeRef, String)]) -> Plan {
    plan_of(
        targets
            .iter()
            .map(|(h, id)| Action {
                address: Address::Trash {
                    home: h.name.clone(),
                    id: id.clone(),
                    purge: true,
                },
                kind: ActionKind::Delete,
                description: format!("delete trashed thread {id}"),
                changes: vec![],
                op: Op::PurgeTrash {
                    home: HomeId::of_shown(&h.name),
                    path: h.path.clone(),
                    id: id.clone(),
                },
            })
            .collect(),
    )
}

/// Fix a home's repairable visibility problems, one action each.
pub fn repair(home: &HomeRef, issues: &[Issue]) -> Plan {
    plan_of(
        issues
            .iter()
            .filter(|i| i.repairable())
            .map(|i| Action {
                address: Address::Sessions {
                    home: home.name.clone(),
                    repair: Some((i.kind().to_string(), i.id().to_string())),
                },
                kind: ActionKind::Update,
                description: i.describe(),
                changes: vec![],
                op: Op::RepairThread {
                    home: HomeId::of_shown(&home.name),
                    path: home.path.clone(),
                    issue: i.clone(),
                },
            })
            .collect(),
    )
}

/// Copy threads homes lack from the homes that have them.
pub fn copies(homes: &[HomeRef], copies: &[share::Copy]) -> Plan {
    let path_of = |name: &str| {
        homes
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.path.clone())
    };
    plan_of(
        copies
            .iter()
            .filter_map(|c| {
                Some(Action {
                    address: Address::Copy {
                        home: crate::reconcile::HomeId::Named(c.to.clone()),
                        id: c.id.clone(),
                    },
                    kind: ActionKind::Create,
                    description: format!("copy thread {} from `{}`", c.id, c.from),
                    changes: vec![],
                    op: Op::CopyThread {
                        copy: c.clone(),
                        from_path: path_of(&c.from)?,
                        to_path: path_of(&c.to)?,
                    },
                })
            })
            .collect(),
    )
}

/// Write cdxs.yaml's new `text` (made from the text whose fingerprint is `before`; `None`:
/// the file is new).
pub fn write_manifest(path: &Path, before: Option<String>, text: String) -> Action {
    let shown = crate::paths::display(path);
    Action {
        address: Address::Manifest,
        kind: if before.is_some() {
            ActionKind::Update
        } else {
            ActionKind::Create
        },
        description: match before {
            Some(_) => format!("edit `{shown}`"),
            None => format!("create `{shown}`"),
        },
        changes: vec![],
        op: Op::WriteManifest {
            path: path.to_path_buf(),
            before,
            text: super::staged::StagedText(text),
        },
    }
}

/// Delete backups of the state folder `backups` (`backups/` itself): folders past their
/// retention, and files that hold a removed account's secrets.
pub fn delete_backups(backups: &Path, folders: &[PathBuf], files: &[PathBuf]) -> Plan {
    let shown = |p: &Path| {
        p.strip_prefix(backups)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned()
    };
    let folders = folders
        .iter()
        .map(|f| (f, true, "a backup folder past its retention"));
    let files = files
        .iter()
        .map(|f| (f, false, "a backup that holds a removed account's secrets"));
    plan_of(
        folders
            .chain(files)
            .map(|(path, folder, what)| Action {
                address: Address::Backup(shown(path)),
                kind: ActionKind::Delete,
                description: format!("delete {what}"),
                changes: vec![],
                op: Op::DeleteBackup {
                    path: path.clone(),
                    folder,
                },
            })
            .collect(),
    )
}

/// Remember that `folder` holds `account`'s login on purpose (`home remove --keep-login`).
pub fn keep_placement(folder: &Path, account: &Account) -> Action {
    let shown = crate::paths::display(folder);
    Action {
        address: Address::folder(&shown, HomePart::Auth),
        kind: ActionKind::Update,
        description: format!(
            "keep {}'s login in `{shown}` as its one live copy",
            account.name()
        ),
        changes: vec![],
        op: Op::KeepPlacement {
            path: folder.to_path_buf(),
            account_id: account.id.clone(),
        },
    }
}

/// Forget placements whose folder no longer holds their login: (folder, account id).
pub fn forget_placements(stale: &[(PathBuf, String)]) -> Vec<Action> {
    stale
        .iter()
        .map(|(folder, account_id)| {
            let shown = crate::paths::display(folder);
            Action {
                address: Address::folder(&shown, HomePart::Auth),
                kind: ActionKind::Delete,
                description: format!(
                    "forget that `{shown}` holds {account_id}: it no longer does (the other machines hear it at the push)"
                ),
                changes: vec![],
                op: Op::ForgetPlacement {
                    path: folder.clone(),
                    account_id: account_id.clone(),
                },
            }
        })
        .collect()
}

/// Forget what the other machines said about `device` (`sync forget-device`).
pub fn forget_device(device: &str) -> Plan {
    plan_of(vec![Action {
        address: Address::Device(device.to_string()),
        kind: ActionKind::Delete,
        description: format!(
            "forget where machine `{device}` has logins live (it no longer holds them)"
        ),
        changes: vec![],
        op: Op::ForgetDevice {
            device: device.to_string(),
        },
    }])
}

/// Take a vault archive into the vault (`vault import`).
pub fn import_archive(file: &Path, contents: crate::archive::Contents) -> Plan {
    let n = contents.counts();
    plan_of(vec![Action {
        address: Address::VaultImport,
        kind: ActionKind::Update,
        description: format!(
            "take {} account(s), {} placement(s) and {} spent token(s) from `{}` into the vault (by sync's rules: never an older or a spent token)",
            n.accounts,
            n.placements,
            n.spent_tokens,
            crate::paths::display(file)
        ),
        changes: vec![],
        op: Op::ImportArchive {
            file: file.to_path_buf(),
            contents: super::staged::StagedArchive(Box::new(contents)),
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn a_write_refreshes_first_moves_then_sets_the_endpoint() {
        let a = Account::api_key(
            Secret::new("sk-x"),
            Some("https://gw.example/v1".into()),
            "t",
            0,
        );
        let plan = write_into(&WriteInto {
            account: &a,
            home: Path::new("/h/new"),
            config: &ConfigObs::default(),
            known_urls: &[],
            refresh_first: true,
            moved_from: Some(Path::new("/h/old")),
        })
        .unwrap();
        let ops: Vec<&str> = plan
            .actions
            .iter()
            .map(|a| match &a.op {
                Op::Refresh { .. } => "refresh",
                Op::RemoveAuth { .. } => "remove",
                Op::WriteAuth { any: true, .. } => "write",
                Op::SetBaseUrl { .. } => "base_url",
                _ => "other",
            })
            .collect();
        assert_eq!(
            ops,
            vec!["remove", "write", "base_url"],
            "API keys are never refreshed"
        );
        let broken = ConfigObs {
            error: Some("bad toml".into()),
            ..ConfigObs::default()
        };
        let err = write_into(&WriteInto {
            account: &a,
            home: Path::new("/h/new"),
            config: &broken,
            known_urls: &[],
            refresh_first: false,
            moved_from: None,
        })
        .unwrap_err();
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn an_imperative_write_obeys_the_folders_codex_settings() {
        let t = crate::codex::auth::ChatGptTokens {
            id_token: Secret::new(crate::codex::jwt::unsigned(&serde_json::json!({
                "email": "a@x.io",
                "https://api.openai.com/auth": {"chatgpt_account_id": "ws-1"}
            }))),
            access_token: Secret::new("at"),
            refresh_token: Secret::new("rt"),
            account_id: Some("ws-1".into()),
            last_refresh: None,
            extra: Default::default(),
        };
        let a = Account::oauth(&t, "t", 0);
        let config = |text: &str| ConfigObs {
            settings: crate::codex::settings::effective(
                &crate::codex::settings::MachineLayers::none(),
                Some(&Ok(text.to_string())),
                "/h/new/config.toml",
            ),
            ..ConfigObs::default()
        };
        for (text, says) in [
            (
                "cli_auth_credentials_store = \"keyring\"\n",
                "ignores auth.json",
            ),
            ("forced_login_method = \"api\"\n", "deletes a ChatGPT login"),
            (
                "forced_chatgpt_workspace_id = \"ws-2\"\n",
                "workspace `ws-1`",
            ),
            ("forced_login_method = \n", "does not start"),
        ] {
            let err = write_into(&WriteInto {
                account: &a,
                home: Path::new("/h/new"),
                config: &config(text),
                known_urls: &[],
                refresh_first: false,
                moved_from: None,
            })
            .unwrap_err();
            assert!(err.to_string().contains(says), "{text}: {err}");
        }
        assert!(
            write_into(&WriteInto {
                account: &a,
                home: Path::new("/h/new"),
                config: &config("forced_chatgpt_workspace_id = \"ws-1\"\n"),
                known_urls: &[],
                refresh_first: false,
                moved_from: None,
            })
            .is_ok()
        );
    }
}
