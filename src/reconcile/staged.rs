//! An account an imperative command puts into the vault (`import auth|legacy`, `login`,
//! `account add-api-key`, `init`). It is the one operation that carries secrets, so it never
//! goes into a saved plan: serialized (for `--json` and the journal) it shows only who it
//! is; a plan file that holds one is refused.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::vault::Account;

#[derive(Debug, Clone, PartialEq)]
pub struct StagedAccount {
    pub account: Box<Account>,
    /// A login cdxs itself made (`login oauth`): it replaces the vault's copy even when the
    /// vault's tokens look newer ([`crate::vault::Vault::upsert_new_login`]).
    pub new_login: bool,
    /// The name `--name` gives it.
    pub name: Option<String>,
}

impl StagedAccount {
    /// An account from a file (an import): merged by the vault's rules, no name given.
    pub fn of(account: Account) -> StagedAccount {
        StagedAccount {
            account: Box::new(account),
            new_login: false,
            name: None,
        }
    }
}

impl Serialize for StagedAccount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown<'a> {
            id: &'a str,
            name: &'a str,
            kind: crate::vault::AccountKind,
        }
        Shown {
            id: &self.account.id,
            name: self.account.name(),
            kind: self.account.kind,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for StagedAccount {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a saved plan cannot put an account into the vault",
        ))
    }
}

/// A vault archive's contents on their way into the vault (`vault import`): like a put
/// account, it carries secrets, so serialized it shows only what it holds (counts), and a
/// plan file that holds one is refused.
#[derive(Clone)]
pub struct StagedArchive(pub Box<crate::archive::Contents>);

impl std::fmt::Debug for StagedArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("StagedArchive")
            .field(&self.0.counts())
            .finish()
    }
}

/// Two staged archives are the same operation when they hold the same accounts (by id) and
/// were exported at the same time; their secrets are never compared.
impl PartialEq for StagedArchive {
    fn eq(&self, other: &Self) -> bool {
        let ids = |c: &crate::archive::Contents| {
            c.accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>()
        };
        self.0.exported_at == other.0.exported_at && ids(&self.0) == ids(&other.0)
    }
}

impl Serialize for StagedArchive {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.counts().serialize(s)
    }
}

impl<'de> Deserialize<'de> for StagedArchive {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a saved plan cannot import a vault archive",
        ))
    }
}

/// cdxs.yaml's new text on its way to the file ([`crate::reconcile::Op::WriteManifest`]):
/// people see it as a diff with secrets masked; serialized (`--json`) it is only its
/// fingerprint (a comment may hold anything), and a plan file that holds one is refused.
#[derive(Clone, PartialEq)]
pub struct StagedText(pub String);

impl StagedText {
    pub fn fingerprint(&self) -> String {
        crate::secret::fingerprint(self.0.as_bytes())
    }
}

impl std::fmt::Debug for StagedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StagedText({})", self.fingerprint())
    }
}

impl Serialize for StagedText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shown {
            fingerprint: String,
        }
        Shown {
            fingerprint: self.fingerprint(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for StagedText {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a saved plan cannot write cdxs.yaml",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::Op;
    use crate::secret::Secret;

    #[test]
    fn a_put_account_shows_who_not_its_secret_and_never_loads_from_a_plan() {
        let account = Account::api_key(
            Secret::new(String::from("sk-staged-secret-42")),
            None,
            "t",
            1,
        );
        let op = Op::PutAccount {
            account: StagedAccount {
                account: Box::new(account.clone()),
                new_login: false,
                name: None,
            },
        };
        let json = serde_json::to_string(&op).unwrap();
        assert!(!json.contains("sk-staged-secret-42"), "{json}");
        assert!(json.contains(&account.id), "{json}");
        let err = serde_json::from_str::<Op>(&json).unwrap_err().to_string();
        assert!(err.contains("cannot put an account"), "{err}");
    }

    #[test]
    fn a_manifest_write_shows_its_fingerprint_not_its_text_and_never_loads_from_a_plan() {
        let op = Op::WriteManifest {
            path: "/c/cdxs.yaml".into(),
            before: None,
            text: StagedText("version: 1 # sk-proj-comment-secret-0001\n".into()),
        };
        let json = serde_json::to_string(&op).unwrap();
        assert!(!json.contains("sk-proj-comment-secret-0001"), "{json}");
        assert!(json.contains("sha256:"), "{json}");
        assert!(!format!("{op:?}").contains("sk-proj"));
        let err = serde_json::from_str::<Op>(&json).unwrap_err().to_string();
        assert!(err.contains("cannot write cdxs.yaml"), "{err}");
    }
}
