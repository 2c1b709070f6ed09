//! Passwords and tokens.
//!
//! - Passwords: Argon2id with bounded parameters, computed on the blocking pool behind a
//!   small semaphore (503 when it stays saturated), so a burst of logins never starves the
//!   async threads. The older tool's salted single SHA-256 hashes (`server import-legacy`)
//!   are verified once at the next login and replaced by Argon2id.
//! - Tokens: 32 random bytes, base64url, prefixed `cdxs_` (secret scanners find them);
//!   the server stores only their SHA-256.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::secret::hex;
use crate::sync::wire::TOKEN_PREFIX;

/// Argon2id parameters (OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane).
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Stored hashes with parameters above these are refused (a database is data from outside).
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 10;

/// The prefix of an imported hash of the older tool: `legacy-sha256$<salt>$<hex>`.
pub const LEGACY_PREFIX: &str = "legacy-sha256$";

fn argon2() -> Argon2<'static> {
    // Constant, valid parameters: cannot fail.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// What checking a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right, but stored with the older tool's hash: store this Argon2id hash instead.
    YesRehash(String),
}

/// Check `password` against a stored hash (Argon2id PHC, or the older tool's).
pub fn verify_password(password: &str, stored: &str) -> Verified {
    if let Some(rest) = stored.strip_prefix(LEGACY_PREFIX) {
        let Some((salt, want)) = rest.split_once('$') else {
            return Verified::No;
        };
        let got = Sha256::digest(format!("{salt}:{password}").as_bytes());
        if hex(&got).as_bytes().ct_eq(want.as_bytes()).into() {
            return match hash_password(password) {
                Ok(h) => Verified::YesRehash(h),
                Err(_) => Verified::Yes,
            };
        }
        return Verified::No;
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    let within_bounds = parsed
        .params
        .iter()
        .all(|(k, v)| match (k.as_str(), v.decimal()) {
            ("m", Ok(m)) => m <= MAX_M_COST_KIB,
            ("t", Ok(t)) => t <= MAX_T_COST,
            ("p", Ok(p)) => p <= 4,
            _ => true,
        });
    if !within_bounds {
        return Verified::No;
    }
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
    {
        Verified::Yes
    } else {
        Verified::No
    }
}

/// Normalize the older tool's stored hash (hex, or base64 of the 32 digest bytes) into
/// [`LEGACY_PREFIX`] form; `None` when it is not a SHA-256 digest.
pub fn legacy_hash(salt: &str, stored: &str) -> Option<String> {
    let s = stored.trim();
    let bytes = if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        STANDARD
            .decode(s)
            .or_else(|_| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')))
            .ok()?
    };
    if bytes.len() != 32 || salt.contains('$') {
        return None;
    }
    Some(format!("{LEGACY_PREFIX}{salt}${}", hex(&bytes)))
}

/// A fresh bearer token: `cdxs_` + 43 characters.
pub fn new_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand::fill(&mut bytes[..]);
    Zeroizing::new(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(&bytes[..])
    ))
}

/// What the server stores for a token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Runs password hashing off the async threads, a few at a time.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    wait: Duration,
    /// A real hash of a random password: unknown users cost the same as known ones.
    dummy: Arc<String>,
}

/// The hasher stayed saturated: answer 503.
#[derive(Debug)]
pub struct Busy;

impl Hasher {
    pub fn new(concurrency: usize, wait: Duration) -> Result<Hasher, String> {
        let mut random = [0u8; 24];
        rand::fill(&mut random);
        let dummy = hash_password(&hex(&random))?;
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            wait,
            dummy: Arc::new(dummy),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|_| Busy)?;
        Ok(out)
    }

    /// Verify against `stored`, or against the dummy hash when the user is unknown (so
    /// both cost one Argon2id computation and answer the same).
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verified, Busy> {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy.as_str().to_string());
        let v = self
            .run(move || verify_password(&password, &stored))
            .await?;
        Ok(if known { v } else { Verified::No })
    }

    pub async fn hash(&self, password: Zeroizing<String>) -> Result<Result<String, String>, Busy> {
        self.run(move || hash_password(&password)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_round_trip_with_bounded_parameters() {
        let h = hash_password("hunter2").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(verify_password("hunter2", &h), Verified::Yes);
        assert_eq!(verify_password("hunter3", &h), Verified::No);
        assert_eq!(verify_password("x", "garbage"), Verified::No);
        // A stored hash that asks for 4 GiB is refused, not computed.
        let huge = h.replace("m=19456", "m=4194304");
        assert_eq!(verify_password("hunter2", &huge), Verified::No);
    }

    #[test]
    fn legacy_sha256_verifies_once_and_asks_for_a_rehash() {
        let salt = "c2FsdHNhbHQ";
        let digest = Sha256::digest(format!("{salt}:pw").as_bytes());
        for stored in [
            hex(&digest),
            STANDARD.encode(digest),
            URL_SAFE_NO_PAD.encode(digest),
        ] {
            let h = legacy_hash(salt, &stored).unwrap();
            match verify_password("pw", &h) {
                Verified::YesRehash(new) => {
                    assert_eq!(verify_password("pw", &new), Verified::Yes)
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(verify_password("nope", &h), Verified::No);
        }
        assert!(legacy_hash(salt, "not-a-digest").is_none());
    }

    #[test]
    fn tokens_are_prefixed_random_and_stored_as_sha256() {
        let a = new_token();
        let b = new_token();
        assert!(a.starts_with("cdxs_") && a.len() == 5 + 43, "{}", a.len());
        assert_ne!(*a, *b);
        let h = token_hash(&a);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a[5..]));
    }
}
