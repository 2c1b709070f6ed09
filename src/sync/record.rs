//! What a record holds once decrypted: one vault account (identity, tokens or API key,
//! plan, quota cache, label), or a tombstone. The plaintext repeats the record id and the
//! account id, and both are checked after decryption.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto::{AssociatedData, CryptoError, SyncKey};
use super::wire::Record;
use crate::quota::Quota;
use crate::secret::Secret;
use crate::vault::accounts::OAuthTokens;
use crate::vault::{Account, AccountKind};

/// The plaintext format tag.
pub const PLAINTEXT_FORMAT: &str = "cdxs.account.v1";

/// The decrypted body of a record.
#[derive(Clone, Serialize, Deserialize)]
pub struct Plaintext {
    pub format: String,
    pub record_id: String,
    pub account_id: String,
    /// The device that wrote this version (the final tie-break of the merge).
    pub device_id: String,
    /// Unix seconds when that device wrote it.
    pub written_at: i64,
    /// `None` in a tombstone.
    #[serde(default)]
    pub account: Option<AccountPayload>,
}

impl std::fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plaintext")
            .field("record_id", &self.record_id)
            .field("account_id", &self.account_id)
            .field("device_id", &self.device_id)
            .field("deleted", &self.account.is_none())
            .finish()
    }
}

/// An account as it travels. Secrets are plain strings only inside the encrypted body.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountPayload {
    pub kind: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub chatgpt_account_id: Option<String>,
    #[serde(default)]
    pub chatgpt_user_id: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default)]
    pub plan_type: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub access_expires_at: Option<i64>,
    #[serde(default)]
    pub token_issued_at: Option<i64>,
    #[serde(default)]
    pub last_refresh: Option<DateTime<Utc>>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub requires_reauth: bool,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    #[serde(default)]
    pub quota: Option<Quota>,
    /// What the login's auth.json held beyond what cdxs models (`vault::Account::
    /// auth_extra`, stored form), absent when empty: older clients ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_extra: Option<serde_json::Value>,
    /// Where machines have this login live (SPEC 12, placements): the writer's own, and
    /// the other machines' as the writer last pulled them. Absent when none: a record
    /// without placements is what older clients wrote, byte for byte.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placements: Vec<PlacementPayload>,
}

/// One folder a machine has the login live in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlacementPayload {
    pub device_id: String,
    /// The machine's name, for the person on another machine.
    #[serde(default)]
    pub device_name: String,
    /// The folder as that machine shows it (`~/...`).
    pub folder: String,
    /// The manifest home it is declared as there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
}

/// Placements one record carries at most (a hostile or broken writer cannot flood a vault).
pub const MAX_PLACEMENTS: usize = 256;
/// Characters of a device name, folder or home that are kept.
const MAX_PLACEMENT_TEXT: usize = 512;

fn clean_text(s: &str) -> String {
    crate::text::sanitize(s)
        .chars()
        .take(MAX_PLACEMENT_TEXT)
        .collect()
}

impl PlacementPayload {
    /// The form every machine keeps and sends: text made safe to show (control characters
    /// escaped, bounded), an empty device name replaced by the device id. A machine's own
    /// placements go up in this form too, so that what it pushed and what it pulls back
    /// compare equal (else two machines would push to each other for ever).
    pub fn normalized(&self) -> PlacementPayload {
        PlacementPayload {
            device_id: clean_text(&self.device_id),
            device_name: match clean_text(self.device_name.trim()) {
                n if n.is_empty() => clean_text(&self.device_id),
                n => n,
            },
            folder: clean_text(&self.folder),
            home: self.home.as_deref().map(clean_text),
        }
    }

    /// As this vault keeps it ([`PlacementPayload::normalized`]).
    pub fn to_remote(&self, account_id: &str) -> crate::vault::placement::RemotePlacement {
        let n = self.normalized();
        crate::vault::placement::RemotePlacement {
            account_id: account_id.to_string(),
            device_id: n.device_id,
            device_name: n.device_name,
            folder: n.folder,
            home: n.home,
        }
    }

    pub fn of_remote(r: &crate::vault::placement::RemotePlacement) -> PlacementPayload {
        PlacementPayload {
            device_id: r.device_id.clone(),
            device_name: r.device_name.clone(),
            folder: r.folder.clone(),
            home: r.home.clone(),
        }
    }
}

impl AccountPayload {
    pub fn from_account(a: &Account, quota: Option<Quota>) -> AccountPayload {
        let t = a.tokens.as_ref();
        let s = |x: Option<&Secret>| x.map(|s| s.expose().to_string());
        AccountPayload {
            kind: a.kind.as_str().to_string(),
            email: a.email.clone(),
            label: a.label.clone(),
            chatgpt_account_id: a.chatgpt_account_id.clone(),
            chatgpt_user_id: a.chatgpt_user_id.clone(),
            organization_id: a.organization_id.clone(),
            plan_type: a.plan_type.clone(),
            id_token: s(t.map(|t| &t.id_token)),
            access_token: s(t.map(|t| &t.access_token)),
            refresh_token: s(t.map(|t| &t.refresh_token)),
            access_expires_at: a.access_expires_at,
            token_issued_at: a.token_issued_at,
            last_refresh: a.last_refresh,
            api_key: s(a.api_key.as_ref()),
            base_url: a.base_url.clone(),
            requires_reauth: a.requires_reauth,
            source: a.source.clone(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            quota,
            auth_extra: a.auth_extra.to_value(),
            placements: Vec::new(),
        }
    }

    /// The vault account this payload describes (`id` comes from the plaintext).
    pub fn to_account(&self, id: &str) -> Result<Account, RecordError> {
        let kind = match self.kind.as_str() {
            "oauth" => AccountKind::OAuth,
            "apikey" => AccountKind::ApiKey,
            other => return Err(RecordError::Invalid(format!("unknown kind `{other}`"))),
        };
        let tokens = match (&self.id_token, &self.access_token) {
            (Some(i), Some(a)) => Some(OAuthTokens {
                id_token: Secret::new(i.clone()),
                access_token: Secret::new(a.clone()),
                refresh_token: Secret::new(self.refresh_token.clone().unwrap_or_default()),
            }),
            _ => None,
        };
        if kind == AccountKind::OAuth && tokens.is_none() {
            return Err(RecordError::Invalid(
                "a ChatGPT account without tokens".into(),
            ));
        }
        if kind == AccountKind::ApiKey && self.api_key.as_deref().is_none_or(str::is_empty) {
            return Err(RecordError::Invalid(
                "an API-key account without a key".into(),
            ));
        }
        Ok(Account {
            id: id.to_string(),
            kind,
            email: self.email.clone(),
            label: self.label.clone(),
            chatgpt_account_id: self.chatgpt_account_id.clone(),
            chatgpt_user_id: self.chatgpt_user_id.clone(),
            organization_id: self.organization_id.clone(),
            plan_type: self.plan_type.clone(),
            tokens,
            access_expires_at: self.access_expires_at,
            token_issued_at: self.token_issued_at,
            last_refresh: self.last_refresh,
            api_key: self.api_key.clone().map(Secret::new),
            base_url: self.base_url.clone(),
            requires_reauth: self.requires_reauth,
            source: self.source.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: None,
            auth_extra: crate::codex::auth::AuthExtra::from_value(self.auth_extra.as_ref()),
        })
    }

    /// A stable, non-reversible fingerprint of everything that travels (change detection:
    /// a record is pushed when this differs from what was last synced).
    pub fn fingerprint(&self) -> String {
        let json = Zeroizing::new(serde_json::to_vec(self).unwrap_or_default());
        crate::secret::fingerprint(&json)
    }
}

/// Why a record could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("the record is not valid base64")]
    Base64,
    #[error("the decrypted record is not a cdxs account ({0})")]
    Invalid(String),
    #[error("the decrypted record names another record or account than its envelope")]
    Mismatch,
}

/// Seal a plaintext into a wire record for `user` at `version`.
pub fn seal(key: &SyncKey, user: &str, version: u64, plain: &Plaintext) -> Record {
    let deleted = plain.account.is_none();
    let ad = AssociatedData {
        user,
        record_id: &plain.record_id,
        version,
        deleted,
    };
    let body = Zeroizing::new(serde_json::to_vec(plain).unwrap_or_default());
    let sealed = key.seal(&ad, &body);
    Record {
        record_id: plain.record_id.clone(),
        version,
        revision: None,
        updated_at: 0,
        deleted,
        nonce: STANDARD.encode(sealed.nonce),
        ciphertext: STANDARD.encode(&sealed.ciphertext),
    }
}

/// Open a wire record: authenticate it against (user, id, version, deleted), then check
/// that the plaintext agrees with its envelope and that its record id is the one this key
/// derives for its account id.
pub fn open(key: &SyncKey, user: &str, record: &Record) -> Result<Plaintext, RecordError> {
    let nonce = STANDARD
        .decode(&record.nonce)
        .map_err(|_| RecordError::Base64)?;
    let ciphertext = STANDARD
        .decode(&record.ciphertext)
        .map_err(|_| RecordError::Base64)?;
    let ad = AssociatedData {
        user,
        record_id: &record.record_id,
        version: record.version,
        deleted: record.deleted,
    };
    let body = key.open(&ad, &nonce, &ciphertext)?;
    let plain: Plaintext =
        serde_json::from_slice(&body).map_err(|e| RecordError::Invalid(e.to_string()))?;
    if plain.format != PLAINTEXT_FORMAT {
        return Err(RecordError::Invalid(format!(
            "format `{}`",
            plain.format.chars().take(40).collect::<String>()
        )));
    }
    if plain.record_id != record.record_id
        || key.record_id(&plain.account_id) != record.record_id
        || plain.account.is_none() != record.deleted
    {
        return Err(RecordError::Mismatch);
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(key: &SyncKey, deleted: bool) -> Plaintext {
        let a = Account::api_key(Secret::new("sk-test-1"), None, "test", 100);
        Plaintext {
            format: PLAINTEXT_FORMAT.into(),
            record_id: key.record_id(&a.id),
            account_id: a.id.clone(),
            device_id: "dev-a".into(),
            written_at: 100,
            account: (!deleted).then(|| AccountPayload::from_account(&a, None)),
        }
    }

    #[test]
    fn a_sealed_account_opens_back_to_the_same_account() {
        let key = SyncKey::generate();
        let p = plain(&key, false);
        let rec = seal(&key, "alice", 1, &p);
        assert!(!rec.ciphertext.contains("sk-test-1"));
        let back = open(&key, "alice", &rec).unwrap();
        let acc = back.account.unwrap().to_account(&back.account_id).unwrap();
        assert_eq!(acc.api_key.unwrap().expose(), "sk-test-1");
        assert_eq!(acc.id, p.account_id);
    }

    #[test]
    fn envelope_tampering_is_refused() {
        let key = SyncKey::generate();
        let rec = seal(&key, "alice", 4, &plain(&key, false));
        // Another user, an older version, a resurrected/deleted flag, a swapped id.
        assert!(open(&key, "bob", &rec).is_err());
        for r in [
            Record {
                version: 3,
                ..rec.clone()
            },
            Record {
                deleted: true,
                ..rec.clone()
            },
            Record {
                record_id: "r_00".into(),
                ..rec.clone()
            },
        ] {
            assert!(open(&key, "alice", &r).is_err(), "{r:?}");
        }
        let tomb = seal(&key, "alice", 5, &plain(&key, true));
        assert!(open(&key, "alice", &tomb).unwrap().account.is_none());
    }

    proptest::proptest! {
        // Records come from a server: arbitrary envelopes never panic the client.
        #[test]
        fn arbitrary_records_never_panic(
            id in ".{0,40}", version in proptest::prelude::any::<u64>(), deleted in proptest::prelude::any::<bool>(),
            nonce in ".{0,40}", ciphertext in ".{0,200}", user in ".{0,20}",
        ) {
            let key = SyncKey::from_bytes([3u8; 32]);
            let r = Record { record_id: id, version, revision: None, updated_at: 0, deleted, nonce, ciphertext };
            let _ = open(&key, &user, &r);
        }

        // A validly sealed body that is not an account is refused, never a panic.
        #[test]
        fn arbitrary_plaintexts_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let key = SyncKey::from_bytes([4u8; 32]);
            let ad = AssociatedData { user: "u", record_id: "r_1", version: 1, deleted: false };
            let s = key.seal(&ad, &body);
            let r = Record {
                record_id: "r_1".into(), version: 1, revision: None, updated_at: 0, deleted: false,
                nonce: STANDARD.encode(s.nonce), ciphertext: STANDARD.encode(&s.ciphertext),
            };
            proptest::prop_assert!(open(&key, "u", &r).is_err());
        }
    }

    #[test]
    fn a_plaintext_naming_another_account_is_a_mismatch() {
        let key = SyncKey::generate();
        let mut p = plain(&key, false);
        p.account_id = "apikey_other".into();
        let rec = seal(&key, "alice", 1, &p);
        assert_eq!(
            open(&key, "alice", &rec).unwrap_err(),
            RecordError::Mismatch
        );
    }
}
