//! End-to-end encryption of sync records (SPEC 8).
//!
//! - The sync key is 256 random bits made by `sync init`, independent of any password,
//!   shown once as a 24-word BIP39 phrase and accepted back with its checksum checked.
//! - Per-purpose subkeys come from HKDF-SHA-256 over the key: `cdxs/v1/record` encrypts,
//!   `cdxs/v1/key-id` names the key on the server (never a plain hash of the key),
//!   `cdxs/v1/record-id` turns an account id into an opaque record id (the server never
//!   learns account ids, which are hashes of emails).
//! - Records are sealed with XChaCha20-Poly1305 and a random 24-byte nonce per write; the
//!   associated data binds the format, the user, the record id, the version and the
//!   `deleted` flag ([`AssociatedData::encode`], frozen by a golden test), so the server
//!   cannot swap records between users or ids, replay an older version, or resurrect a
//!   deleted record.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::{Secret, hex};

/// The format tag at the start of every record's associated data.
pub const AD_FORMAT: &[u8] = b"cdxs-record-v1";
const INFO_RECORD: &[u8] = b"cdxs/v1/record";
const INFO_KEY_ID: &[u8] = b"cdxs/v1/key-id";
const INFO_RECORD_ID: &[u8] = b"cdxs/v1/record-id";
pub const NONCE_LEN: usize = 24;

/// Why a key or a record could not be used. Messages never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the recovery phrase has {0} words; a sync key phrase has 24")]
    WordCount(usize),
    #[error("word {0} of the recovery phrase is not a BIP39 English word")]
    UnknownWord(usize),
    #[error("the recovery phrase's checksum does not match (a word is wrong or out of order)")]
    Checksum,
    #[error("the recovery phrase is not a sync key: {0}")]
    Phrase(String),
    #[error("the record's nonce is not {NONCE_LEN} bytes")]
    Nonce,
    #[error("the record does not decrypt with this sync key (wrong key, or it was altered)")]
    Open,
}

/// The 256-bit sync key. Zeroed when dropped; `Debug` shows only its key id.
#[derive(Clone)]
pub struct SyncKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SyncKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SyncKey({})", self.key_id())
    }
}

impl SyncKey {
    /// 256 fresh random bits from the operating system.
    pub fn generate() -> SyncKey {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::fill(&mut bytes[..]);
        SyncKey(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SyncKey {
        SyncKey(Zeroizing::new(bytes))
    }

    /// The raw key, for the vault (0600) only.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// From the vault's copy; `None` when it is not 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<SyncKey> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(SyncKey::from_bytes(arr))
    }

    /// The 24-word BIP39 (English) phrase of the key.
    pub fn phrase(&self) -> Secret {
        // 32 bytes is a valid BIP39 entropy length, so this cannot fail.
        match bip39::Mnemonic::from_entropy(&self.0[..]) {
            Ok(m) => Secret::new(m.words().collect::<Vec<_>>().join(" ")),
            Err(_) => Secret::new(String::new()),
        }
    }

    /// Parse a phrase back (case, extra spaces and line breaks are forgiven; the checksum is
    /// checked).
    pub fn from_phrase(phrase: &str) -> Result<SyncKey, CryptoError> {
        // Any case, and the numbers of the grid it is shown as (`super::phrase::grid`).
        let normalized = Zeroizing::new(super::phrase::words_of(phrase));
        if normalized.len() != 24 {
            return Err(CryptoError::WordCount(normalized.len()));
        }
        let joined = Zeroizing::new(normalized.join(" "));
        let m = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &joined).map_err(
            |e| match e {
                bip39::Error::UnknownWord(i) => CryptoError::UnknownWord(i + 1),
                bip39::Error::InvalidChecksum => CryptoError::Checksum,
                bip39::Error::BadWordCount(n) => CryptoError::WordCount(n),
                other => CryptoError::Phrase(other.to_string()),
            },
        )?;
        let (entropy, len) = m.to_entropy_array();
        let entropy = Zeroizing::new(entropy);
        SyncKey::from_slice(&entropy[..len]).ok_or(CryptoError::WordCount(normalized.len()))
    }

    fn subkey(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, &self.0[..]);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA-256's 255 * 32 limit: cannot fail.
        let _ = hk.expand(info, &mut out[..]);
        out
    }

    /// The key's public name: `kid_` + 16 hex digits of the key-id subkey.
    pub fn key_id(&self) -> String {
        let sub = self.subkey(INFO_KEY_ID);
        format!("kid_{}", &hex(&sub[..8]))
    }

    /// The opaque record id of an account: `r_` + 32 hex digits. Every machine with the
    /// same key derives the same id; the server cannot reverse it.
    pub fn record_id(&self, account_id: &str) -> String {
        let hk = Hkdf::<Sha256>::new(None, &self.subkey(INFO_RECORD_ID)[..]);
        let mut out = [0u8; 16];
        let _ = hk.expand(account_id.as_bytes(), &mut out);
        format!("r_{}", hex(&out))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        let key = self.subkey(INFO_RECORD);
        // A 32-byte key is the cipher's key size: cannot fail.
        XChaCha20Poly1305::new_from_slice(&key[..]).unwrap_or_else(|_| unreachable!())
    }

    /// Encrypt with a fresh random nonce.
    pub fn seal(&self, ad: &AssociatedData, plaintext: &[u8]) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        self.seal_with_nonce(ad, plaintext, nonce)
    }

    /// Encrypt with a given nonce (fixtures and golden tests only; never reuse a nonce).
    pub fn seal_with_nonce(
        &self,
        ad: &AssociatedData,
        plaintext: &[u8],
        nonce: [u8; NONCE_LEN],
    ) -> Sealed {
        let aad = ad.encode();
        let ciphertext = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Only fails for messages beyond 256 GiB.
            .unwrap_or_default();
        Sealed { nonce, ciphertext }
    }

    /// Decrypt and authenticate against `ad`.
    pub fn open(
        &self,
        ad: &AssociatedData,
        nonce: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Nonce)?;
        let aad = ad.encode();
        self.cipher()
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }
}

/// A sealed record body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub nonce: [u8; NONCE_LEN],
    pub ciphertext: Vec<u8>,
}

/// What a record's ciphertext is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociatedData<'a> {
    /// The sync user (as the server spells it, lower-case).
    pub user: &'a str,
    pub record_id: &'a str,
    pub version: u64,
    pub deleted: bool,
}

impl AssociatedData<'_> {
    /// The fixed binary encoding (never change it: old records must decrypt forever):
    /// `"cdxs-record-v1"`, `0x00`, then user and record id each as a big-endian `u16`
    /// length and UTF-8 bytes, the version as a big-endian `u64`, and the deleted flag as
    /// one byte (`0` or `1`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            AD_FORMAT.len() + 1 + 4 + self.user.len() + self.record_id.len() + 9,
        );
        out.extend_from_slice(AD_FORMAT);
        out.push(0);
        for part in [self.user, self.record_id] {
            let bytes = part.as_bytes();
            // User names and record ids are capped far below 64 KiB by the server.
            let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&bytes[..len as usize]);
        }
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(u8::from(self.deleted));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SyncKey {
        SyncKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    #[test]
    fn associated_data_encoding_is_frozen() {
        let ad = AssociatedData {
            user: "alice",
            record_id: "r_0123",
            version: 258,
            deleted: true,
        };
        // Golden bytes: changing the encoding breaks every record already on a server.
        assert_eq!(
            hex(&ad.encode()),
            "636478732d7265636f72642d763100\
             0005616c696365\
             0006725f30313233\
             0000000000000102\
             01"
        );
        let live = AssociatedData {
            deleted: false,
            ..ad.clone()
        };
        assert!(live.encode().ends_with(&[0]));
    }

    #[test]
    fn phrase_round_trips_and_checks_its_checksum() {
        let k = SyncKey::generate();
        let phrase = k.phrase();
        assert_eq!(phrase.expose().split(' ').count(), 24);
        let back = SyncKey::from_phrase(&format!("  {}\n", phrase.expose().to_uppercase()))
            .expect("the phrase parses back");
        assert_eq!(back.expose_bytes(), k.expose_bytes());
        // Swap two words: the checksum catches it (or a word is unknown).
        let mut words: Vec<&str> = phrase.expose().split(' ').collect();
        words.swap(0, 1);
        if words[0] != words[1] {
            assert!(SyncKey::from_phrase(&words.join(" ")).is_err());
        }
        assert_eq!(
            SyncKey::from_phrase("abandon abandon").unwrap_err(),
            CryptoError::WordCount(2)
        );
        let mut bad: Vec<&str> = phrase.expose().split(' ').collect();
        bad[3] = "notaword";
        assert_eq!(
            SyncKey::from_phrase(&bad.join(" ")).unwrap_err(),
            CryptoError::UnknownWord(4)
        );
    }

    #[test]
    fn key_id_is_not_a_plain_hash_of_the_key_and_is_stable() {
        let k = key();
        let id = k.key_id();
        assert!(id.starts_with("kid_") && id.len() == 4 + 16, "{id}");
        use sha2::Digest;
        let plain = hex(&Sha256::digest(k.expose_bytes()));
        assert!(!plain.starts_with(&id[4..]));
        assert_eq!(id, key().key_id());
        assert_ne!(id, SyncKey::generate().key_id());
    }

    #[test]
    fn record_ids_are_deterministic_per_key_and_opaque() {
        let k = key();
        let r = k.record_id("oauth_4f2a9c0d1e2b3a4f");
        assert_eq!(r, key().record_id("oauth_4f2a9c0d1e2b3a4f"));
        assert!(!r.contains("4f2a9c0d"));
        assert_ne!(r, k.record_id("oauth_4f2a9c0d1e2b3a40"));
        assert_ne!(r, SyncKey::generate().record_id("oauth_4f2a9c0d1e2b3a4f"));
    }

    #[test]
    fn sealed_records_only_open_with_the_same_binding() {
        let k = key();
        let ad = AssociatedData {
            user: "alice",
            record_id: "r_1",
            version: 3,
            deleted: false,
        };
        let s = k.seal(&ad, b"hello");
        assert_eq!(&k.open(&ad, &s.nonce, &s.ciphertext).unwrap()[..], b"hello");
        let tamper = [
            AssociatedData {
                user: "bob",
                ..ad.clone()
            },
            AssociatedData {
                record_id: "r_2",
                ..ad.clone()
            },
            AssociatedData {
                version: 2,
                ..ad.clone()
            },
            AssociatedData {
                deleted: true,
                ..ad.clone()
            },
        ];
        for other in &tamper {
            assert_eq!(
                k.open(other, &s.nonce, &s.ciphertext).unwrap_err(),
                CryptoError::Open,
                "{other:?}"
            );
        }
        assert!(
            SyncKey::generate()
                .open(&ad, &s.nonce, &s.ciphertext)
                .is_err()
        );
        let mut flipped = s.ciphertext.clone();
        flipped[0] ^= 1;
        assert!(k.open(&ad, &s.nonce, &flipped).is_err());
        assert_eq!(
            k.open(&ad, &s.nonce[..5], &s.ciphertext).unwrap_err(),
            CryptoError::Nonce
        );
        // A fresh nonce per write.
        assert_ne!(k.seal(&ad, b"hello").nonce, s.nonce);
    }

    #[test]
    fn debug_shows_only_the_key_id() {
        let k = key();
        let shown = format!("{k:?}");
        assert_eq!(shown, format!("SyncKey({})", k.key_id()));
    }
}
