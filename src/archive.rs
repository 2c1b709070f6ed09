//! Vault archives (`cdxs vault export FILE`, `cdxs vault import FILE`): the whole vault
//! (accounts with their tokens or API keys and the auth.json members Codex wrote, quota
//! caches, the folders cdxs placed logins in, the spent refresh tokens) in one file, sealed
//! as sync records are sealed ([`crate::sync::crypto`]: XChaCha20-Poly1305 with a random
//! 24-byte nonce), under a key from a passphrase (Argon2id) or the sync key.
//!
//! The file is JSON: a clear header (format, how it is sealed: the Argon2id parameters and
//! salt, or the sync key's public id), the nonce and the ciphertext. The header is bound to
//! the ciphertext as associated data, so an altered header (weaker parameters, another
//! salt) does not open either. Accounts travel as sync's own payload
//! ([`crate::sync::record::AccountPayload`]), so what a record carries an archive carries.
//!
//! Import takes an account's tokens only by sync's rules: never a copy whose refresh token
//! is spent (the vault's list, and the archive's), never one older than what the vault
//! holds or has seen ([`crate::auth::freshness`], the per-account high-water mark), and
//! when the two cannot be told apart, the vault's copy stays.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result, tick};
use crate::quota::Quota;
use crate::secret::Secret;
use crate::sync::crypto::{AssociatedData, SyncKey};
use crate::sync::record::AccountPayload;
use crate::vault::accounts::Upsert;
use crate::vault::freshness;
use crate::vault::tokens::Spent;
use crate::vault::{Account, AccountKind, Vault};

/// The file's format tag.
pub const FORMAT: &str = "cdxs-vault-archive";
/// The plaintext's format tag.
const CONTENTS_FORMAT: &str = "cdxs.vault.v1";
/// Argon2id for a passphrase: RFC 9106's second recommendation (64 MiB, 3 passes, 4 lanes).
const M_COST_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 4;
/// An archive asking for more than this is refused before any work (it is a file from
/// outside: a crafted one must not make import take a gigabyte or an hour).
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 10;
const MAX_P_COST: u32 = 16;
/// The largest passphrase file read (its first line is the passphrase).
const MAX_PASSPHRASE_FILE_BYTES: u64 = 64 * 1024;
/// The largest archive read.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// The shortest passphrase accepted for a new archive.
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// How an archive is sealed (its clear header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "with", rename_all = "snake_case")]
pub enum SealedWith {
    /// A key derived from a passphrase with Argon2id.
    Passphrase {
        kdf: String,
        m_kib: u32,
        t: u32,
        p: u32,
        /// Base64 of 16 random bytes.
        salt: String,
    },
    /// The sync key itself; `key_id` is its public name (`kid_...`), never the key.
    SyncKey { key_id: String },
}

/// The file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Archive {
    pub format: String,
    pub version: u32,
    pub sealed: SealedWith,
    nonce: String,
    ciphertext: String,
}

/// What a key opens: the vault's contents. Secrets live only here, in memory.
#[derive(Clone, Serialize, Deserialize)]
pub struct Contents {
    format: String,
    pub exported_at: i64,
    pub accounts: Vec<ArchivedAccount>,
    #[serde(default)]
    pub placements: Vec<Placement>,
    #[serde(default)]
    pub spent: Vec<SpentToken>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ArchivedAccount {
    pub id: String,
    pub account: AccountPayload,
}

/// A folder cdxs wrote a login into.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Placement {
    pub path: PathBuf,
    pub account_id: String,
}

/// A refresh token that is spent (by fingerprint: never the token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpentToken {
    pub fingerprint: String,
    pub account_id: String,
    pub spent_at: i64,
    pub why: String,
}

/// The key an archive is sealed with.
pub enum Key<'a> {
    Passphrase(&'a Secret),
    SyncKey(&'a SyncKey),
}

/// What the person is told an archive holds (no secret).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub accounts: usize,
    pub chatgpt_logins: usize,
    pub api_keys: usize,
    pub placements: usize,
    pub spent_tokens: usize,
}

impl Contents {
    pub fn counts(&self) -> Counts {
        let logins = self
            .accounts
            .iter()
            .filter(|a| a.account.kind == "oauth")
            .count();
        Counts {
            accounts: self.accounts.len(),
            chatgpt_logins: logins,
            api_keys: self.accounts.len() - logins,
            placements: self.placements.len(),
            spent_tokens: self.spent.len(),
        }
    }
}

fn invalid(why: impl std::fmt::Display) -> Error {
    let why = crate::text::sanitize(&why.to_string()).into_owned();
    Error::user(format!("not a cdxs vault archive: {why}")).with_help(
        "pass a file `cdxs vault export` wrote (a truncated or altered copy does not open)",
    )
}

/// The first line of a passphrase file (`--passphrase-file`).
pub fn passphrase_file(path: &Path) -> Result<String> {
    let bytes = crate::fsx::read_bounded(path, MAX_PASSPHRASE_FILE_BYTES)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::user(format!("{} is not UTF-8 text", tick(path)))
            .with_help("put the passphrase on the file's first line")
    })?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// A passphrase of at least `min_chars` characters (8 for a new archive: it is all that
/// guards every token in it).
pub fn check_passphrase(pass: Secret, min_chars: usize) -> Result<Secret> {
    if pass.expose().chars().count() < min_chars {
        let what = match min_chars {
            1 => "the passphrase is empty".to_string(),
            n => format!("the passphrase is shorter than {n} characters"),
        };
        return Err(Error::user(what)
            .with_help("a longer one: it is all that guards every token in the archive"));
    }
    Ok(pass)
}

/// Everything in the vault, to seal.
pub fn contents(vault: &Vault, now: i64) -> Result<Contents> {
    let mut accounts = Vec::new();
    for a in vault.accounts()? {
        let quota = vault.quota(&a.id)?;
        accounts.push(ArchivedAccount {
            account: AccountPayload::from_account(&a, quota),
            id: a.id,
        });
    }
    let placements = vault
        .placements()?
        .into_iter()
        .map(|(path, account_id)| Placement { path, account_id })
        .collect();
    let spent = vault
        .spent_tokens()?
        .into_iter()
        .map(|(fingerprint, account_id, spent_at, why)| SpentToken {
            fingerprint,
            account_id,
            spent_at,
            why,
        })
        .collect();
    Ok(Contents {
        format: CONTENTS_FORMAT.into(),
        exported_at: now,
        accounts,
        placements,
        spent,
    })
}

/// The associated data: the format and the clear header, so that neither can be altered.
fn header_binding(sealed: &SealedWith) -> String {
    // An empty user is never a sync user: an archive's ciphertext cannot pass for a record.
    format!(
        "{FORMAT} v1 {}",
        serde_json::to_string(sealed).unwrap_or_default()
    )
}

fn key_of(sealed: &SealedWith, key: &Key) -> Result<SyncKey> {
    match (sealed, key) {
        (
            SealedWith::Passphrase {
                kdf,
                m_kib,
                t,
                p,
                salt,
            },
            Key::Passphrase(pass),
        ) => {
            if kdf != "argon2id" {
                return Err(invalid(format!("unknown key derivation `{kdf}`")));
            }
            if *m_kib > MAX_M_COST_KIB || *t > MAX_T_COST || *p > MAX_P_COST {
                return Err(invalid(
                    "its key derivation asks for more than cdxs ever uses",
                ));
            }
            let salt = STANDARD.decode(salt).map_err(|_| invalid("a bad salt"))?;
            let params = argon2::Params::new(*m_kib, *t, *p, Some(32)).map_err(invalid)?;
            let a =
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let mut out = Zeroizing::new([0u8; 32]);
            a.hash_password_into(pass.expose().as_bytes(), &salt, &mut out[..])
                .map_err(invalid)?;
            Ok(SyncKey::from_bytes(*out))
        }
        (SealedWith::SyncKey { key_id }, Key::SyncKey(k)) => {
            if &k.key_id() != key_id {
                return Err(Error::user(format!(
                    "the archive is sealed with the sync key {key_id}, not this machine's {}",
                    k.key_id()
                ))
                .with_help("join that key first (`cdxs sync key --set`), then import again"));
            }
            Ok((*k).clone())
        }
        _ => Err(Error::user(
            "the archive is sealed another way than the key given",
        )),
    }
}

/// Seal `contents` into the bytes of an archive file (and say how it is sealed).
pub fn seal(contents: &Contents, key: &Key) -> Result<(Vec<u8>, SealedWith)> {
    let sealed = match key {
        Key::Passphrase(_) => {
            let mut salt = [0u8; 16];
            rand::fill(&mut salt);
            SealedWith::Passphrase {
                kdf: "argon2id".into(),
                m_kib: M_COST_KIB,
                t: T_COST,
                p: P_COST,
                salt: STANDARD.encode(salt),
            }
        }
        Key::SyncKey(k) => SealedWith::SyncKey { key_id: k.key_id() },
    };
    let k = key_of(&sealed, key)?;
    let binding = header_binding(&sealed);
    let ad = AssociatedData {
        user: "",
        record_id: &binding,
        version: 1,
        deleted: false,
    };
    let body = Zeroizing::new(
        serde_json::to_vec(contents)
            .map_err(|e| Error::user(format!("cannot encode the vault: {e}")))?,
    );
    let s = k.seal(&ad, &body);
    let archive = Archive {
        format: FORMAT.into(),
        version: 1,
        sealed,
        nonce: STANDARD.encode(s.nonce),
        ciphertext: STANDARD.encode(&s.ciphertext),
    };
    let mut text = serde_json::to_vec_pretty(&archive)
        .map_err(|e| Error::user(format!("cannot encode the archive: {e}")))?;
    text.push(b'\n');
    Ok((text, archive.sealed))
}

/// An export never replaces a file unless asked (`--force`).
pub fn refuse_existing(path: &Path, force: bool) -> Result<()> {
    if path.exists() && !force {
        return Err(Error::user(format!("{} already exists", tick(path)))
            .with_help("pass `--force` to replace it, or name another file"));
    }
    Ok(())
}

/// Write an archive: 0600, atomically (temp file, fsync, rename).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::fsx::write_atomic(path, bytes, crate::fsx::SECRET_FILE_MODE)
}

/// Read an archive's clear part (it says which key opens it).
pub fn read(path: &std::path::Path) -> Result<Archive> {
    let bytes = crate::fsx::read_bounded(path, MAX_FILE_BYTES)?;
    parse(&bytes)
}

pub fn parse(bytes: &[u8]) -> Result<Archive> {
    let a: Archive = serde_json::from_slice(bytes).map_err(invalid)?;
    if a.format != FORMAT || a.version != 1 {
        return Err(invalid(format!(
            "format `{}` version {}",
            crate::text::sanitize(&a.format.chars().take(40).collect::<String>()),
            a.version
        )));
    }
    Ok(a)
}

impl Archive {
    /// Decrypt and check: a wrong key and an altered file are the same error (the cipher
    /// cannot tell them apart, and says so).
    pub fn open(&self, key: &Key) -> Result<Contents> {
        let k = key_of(&self.sealed, key)?;
        let nonce = STANDARD.decode(&self.nonce).map_err(invalid)?;
        let ciphertext = STANDARD.decode(&self.ciphertext).map_err(invalid)?;
        let binding = header_binding(&self.sealed);
        let ad = AssociatedData {
            user: "",
            record_id: &binding,
            version: 1,
            deleted: false,
        };
        let body = k.open(&ad, &nonce, &ciphertext).map_err(|_| {
            Error::user(match key {
                Key::Passphrase(_) => "the archive does not open with this passphrase (a wrong passphrase, or the file was altered)",
                Key::SyncKey(_) => "the archive does not open with the sync key (the file was altered)",
            })
            .with_help("nothing was imported; check the passphrase, or use an unaltered copy of the file")
        })?;
        // serde's message may quote the plaintext (a token): only say where it broke.
        let c: Contents = serde_json::from_slice(&body).map_err(|e| {
            invalid(format!(
                "its contents do not read as a vault (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if c.format != CONTENTS_FORMAT {
            return Err(invalid("its contents are not a vault"));
        }
        Ok(c)
    }
}

/// The sync key of `target` (else the only one) that seals an export.
pub fn export_key(vault: &Vault, target: Option<&str>) -> Result<SyncKey> {
    let t = crate::sync::ops::pick_target(vault, target)?;
    t.key.ok_or_else(|| {
        Error::user("this machine has no sync key").with_help("`cdxs sync init` makes one")
    })
}

/// The sync key that opens an archive sealed with `key_id`, if this machine has it.
pub fn import_key(vault: &Vault, key_id: &str) -> Result<SyncKey> {
    let keys = vault.sync_targets()?.into_iter().filter_map(|t| t.key);
    keys.into_iter()
        .find(|k| k.key_id() == key_id)
        .ok_or_else(|| {
            Error::user(format!(
                "the archive is sealed with the sync key {key_id}, which this machine does not have"
            ))
            .with_help(
                "join it first (`cdxs sync login --key-stdin`, or `cdxs sync key --set`), then import again",
            )
        })
}

/// What importing one account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Taken {
    Created,
    Updated,
    Unchanged,
    /// The vault's copy is newer (or cannot be told apart): it stays.
    KeptNewer,
    /// Its refresh token is spent: a dead copy, never taken.
    Spent,
    /// Older than a copy this vault has already seen (sync's high-water mark).
    BelowHighWater,
    /// Not a usable account (no tokens, no key).
    Invalid,
}

/// Take one account from an archive into the vault, by sync's rules (one vault write).
pub fn import_account(
    vault: &mut Vault,
    incoming: &Account,
    quota: Option<&Quota>,
    now: i64,
) -> Result<Taken> {
    if let (AccountKind::OAuth, Some(t)) = (incoming.kind, &incoming.tokens) {
        if vault.is_spent(&t.refresh_token.fingerprint())? {
            return Ok(Taken::Spent);
        }
        let stamp = incoming.freshness();
        if let Some(hw) = vault.high_water(&incoming.id)?
            && freshness::compare(&stamp, &hw) == Ordering::Less
        {
            return Ok(Taken::BelowHighWater);
        }
        if let Some(stored) = vault.account(&incoming.id)?
            && stored.tokens.is_some()
            && stored.tokens != incoming.tokens
            && freshness::compare(&stamp, &stored.freshness()) != Ordering::Greater
        {
            return Ok(Taken::KeptNewer);
        }
    }
    // An API key changed here after the archive was written stays.
    if incoming.kind == AccountKind::ApiKey
        && let Some(stored) = vault.account(&incoming.id)?
        && (stored.api_key != incoming.api_key || stored.base_url != incoming.base_url)
        && stored.updated_at > incoming.updated_at
    {
        return Ok(Taken::KeptNewer);
    }
    let (outcome, stored) = vault.upsert(incoming)?;
    if let Some(q) = quota
        && vault
            .quota(&stored.id)?
            .is_none_or(|mine| mine.fetched_at < q.fetched_at)
    {
        vault.set_quota(&stored.id, q)?;
    }
    let taken = match outcome {
        Upsert::Created => Taken::Created,
        Upsert::Updated => Taken::Updated,
        Upsert::Unchanged => Taken::Unchanged,
        Upsert::KeptNewer => Taken::KeptNewer,
        Upsert::Spent => Taken::Spent,
    };
    if matches!(taken, Taken::Created | Taken::Updated) && stored.kind == AccountKind::OAuth {
        vault.raise_high_water(&stored.id, stored.freshness(), false, now)?;
    }
    Ok(taken)
}

/// Remember a spent refresh token from an archive (one vault write; it only ever marks a
/// token dead).
pub fn import_spent(vault: &mut Vault, s: &SpentToken) -> Result<()> {
    let why = if s.why == "refused" {
        Spent::Refused
    } else {
        Spent::Refreshed
    };
    vault.mark_spent(&s.account_id, &s.fingerprint, why, s.spent_at)
}

/// Remember a folder the archive's vault placed a login in, when this vault knows none
/// there (one vault write; a placement whose folder no longer holds the login is forgotten
/// at the next write of that login).
pub fn import_placement(
    vault: &mut Vault,
    p: &Placement,
    known: &[PathBuf],
    now: i64,
) -> Result<bool> {
    let key = crate::vault::placement::placement_key(&p.path);
    if known.contains(&key) || vault.account(&p.account_id)?.is_none() {
        return Ok(false);
    }
    vault.set_placement(&p.path, &p.account_id, now)?;
    Ok(true)
}

/// What an import did, per account and in all.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Imported {
    /// The copy of the vault taken before.
    pub backup: Option<String>,
    pub accounts: Vec<ImportedAccount>,
    pub placements_added: usize,
    pub spent_tokens: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportedAccount {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub outcome: Taken,
}

impl Imported {
    pub fn count(&self, t: Taken) -> usize {
        self.accounts.iter().filter(|a| a.outcome == t).count()
    }

    /// Whether the vault changed (an account taken, a placement added).
    pub fn changed(&self) -> bool {
        self.count(Taken::Created) + self.count(Taken::Updated) + self.placements_added > 0
    }
}

/// Import `contents` into the vault, after a backup of it (`<state>/backups/vault-import/`):
/// the spent tokens first (so that no spent copy is taken), then each account, then the
/// placements. The caller holds the vault lock.
pub fn import(vault: &mut Vault, contents: &Contents, now: i64) -> Result<Imported> {
    let mut out = Imported {
        backup: Some(crate::sync::ops::backup_vault(vault, "vault-import")?),
        ..Imported::default()
    };
    for s in &contents.spent {
        import_spent(vault, s)?;
        out.spent_tokens += 1;
    }
    let mut all: Vec<&ArchivedAccount> = contents.accounts.iter().collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    for a in all {
        let (outcome, name) = match a.account.to_account(&a.id) {
            Ok(acc) => {
                let t = import_account(vault, &acc, a.account.quota.as_ref(), now)?;
                (t, acc.name().to_string())
            }
            Err(_) => (Taken::Invalid, a.account.email.clone().unwrap_or_default()),
        };
        out.accounts.push(ImportedAccount {
            id: a.id.clone(),
            name,
            kind: a.account.kind.clone(),
            outcome,
        });
    }
    let known: Vec<PathBuf> = vault.placements()?.into_iter().map(|(p, _)| p).collect();
    for p in &contents.placements {
        if import_placement(vault, p, &known, now)? {
            out.placements_added += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_archive_opens_with_its_key_only_and_an_altered_header_does_not_open() {
        let c = Contents {
            format: CONTENTS_FORMAT.into(),
            exported_at: 1,
            accounts: vec![],
            placements: vec![],
            spent: vec![],
        };
        let pass = Secret::new("correct horse battery");
        let (bytes, _) = seal(&c, &Key::Passphrase(&pass)).unwrap();
        let a = parse(&bytes).unwrap();
        assert_eq!(a.open(&Key::Passphrase(&pass)).unwrap().exported_at, 1);
        let wrong = Secret::new("correct horse battery!");
        assert!(a.open(&Key::Passphrase(&wrong)).is_err());
        // Another salt in the clear header: the binding no longer matches.
        let mut b = a.clone();
        if let SealedWith::Passphrase { salt, .. } = &mut b.sealed {
            *salt = STANDARD.encode([7u8; 16]);
        }
        assert!(b.open(&Key::Passphrase(&pass)).is_err());
        // Parameters beyond any cdxs writes are refused before any work.
        let mut big = a.clone();
        if let SealedWith::Passphrase { m_kib, .. } = &mut big.sealed {
            *m_kib = 4 * 1024 * 1024;
        }
        let Err(err) = big.open(&Key::Passphrase(&pass)) else {
            panic!("an archive asking for 4 GiB opened");
        };
        let err = err.to_string();
        assert!(err.contains("more than cdxs ever uses"), "{err}");
        // The sync key: the same contents, the key named by its id only.
        let k = SyncKey::generate();
        let (bytes, _) = seal(&c, &Key::SyncKey(&k)).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(&k.key_id()));
        let a = parse(&bytes).unwrap();
        assert!(a.open(&Key::SyncKey(&k)).is_ok());
        assert!(a.open(&Key::SyncKey(&SyncKey::generate())).is_err());
        assert!(a.open(&Key::Passphrase(&pass)).is_err());
    }
}
