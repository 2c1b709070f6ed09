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

use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
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

thread_local! {
    /// Argon2's working memory, kept per hashing thread: a fresh 19 MiB allocation per
    /// login fragments the allocator's heaps until the server's memory grows by a hash's
    /// size per login.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Argon2id of `password` with `salt` into `out`, with the thread's reusable memory.
fn argon2id(
    m: u32,
    t: u32,
    p: u32,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), String> {
    let params = Params::new(m, t, p, Some(out.len())).map_err(|e| e.to_string())?;
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        let need = params.block_count();
        if b.len() < need {
            b.resize(need, Block::new());
        }
        a.hash_password_into_with_memory(password, salt, out, &mut b[..need])
            .map_err(|e| e.to_string())
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    let mut out = Zeroizing::new([0u8; 32]);
    argon2id(
        M_COST_KIB,
        T_COST,
        P_COST,
        password.as_bytes(),
        &salt,
        &mut out[..],
    )?;
    Ok(format!(
        "$argon2id$v=19$m={M_COST_KIB},t={T_COST},p={P_COST}${}${}",
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(&out[..])
    ))
}

/// What checking a password found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Right, but stored with the older tool's hash: store this Argon2id hash instead.
    YesRehash(String),
}

struct Phc {
    m: u32,
    t: u32,
    p: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

/// The parameters, salt and hash of an Argon2id PHC string, when they are within bounds
/// (a stored hash is data from outside: it never gets to ask for 4 GiB).
fn parse_phc(stored: &str) -> Option<Phc> {
    let mut parts = stored.split('$');
    if parts.next() != Some("") || parts.next() != Some("argon2id") || parts.next() != Some("v=19")
    {
        return None;
    }
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in parts.next()?.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    let (m, t, p) = (m?, t?, p?);
    if m > MAX_M_COST_KIB || t > MAX_T_COST || p == 0 || p > 4 {
        return None;
    }
    let salt = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
    let hash = STANDARD_NO_PAD.decode(parts.next()?).ok()?;
    if parts.next().is_some() || hash.len() < 16 || hash.len() > 64 || salt.len() < 8 {
        return None;
    }
    Some(Phc {
        m,
        t,
        p,
        salt,
        hash,
    })
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
    let Some(phc) = parse_phc(stored) else {
        return Verified::No;
    };
    let mut out = Zeroizing::new(vec![0u8; phc.hash.len()]);
    if argon2id(
        phc.m,
        phc.t,
        phc.p,
        password.as_bytes(),
        &phc.salt,
        &mut out,
    )
    .is_err()
    {
        return Verified::No;
    }
    if out.as_slice().ct_eq(&phc.hash).into() {
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

type Job = Box<dyn FnOnce() + Send>;

/// Runs password hashing off the async threads, a few at a time, on its own threads: each
/// hash needs 19 MiB, and a fixed pair of threads keeps that memory to a fixed pair of
/// buffers (the blocking pool would spread it over dozens of threads' heaps).
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Requests waiting for a permit; past `max_queued`, new ones are answered busy at once
    /// (a flood of logins must not queue up the real user's behind minutes of work).
    queued: Arc<std::sync::atomic::AtomicUsize>,
    max_queued: usize,
    wait: Duration,
    jobs: std::sync::mpsc::Sender<Job>,
    /// A real hash of a random password: unknown users cost the same as known ones.
    dummy: Arc<String>,
}

/// The hasher stayed saturated: answer 503.
#[derive(Debug)]
pub struct Busy;

impl Hasher {
    pub fn new(concurrency: usize, wait: Duration) -> Result<Hasher, String> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let threads = concurrency.max(1);
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("cdxs-argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })
                .map_err(|e| format!("cannot start a hashing thread: {e}"))?;
        }
        // The dummy hash is made on a hashing thread too (its memory is that thread's).
        let (done, got) = std::sync::mpsc::channel();
        tx.send(Box::new(move || {
            let mut random = [0u8; 24];
            rand::fill(&mut random);
            let _ = done.send(hash_password(&hex(&random)));
        }))
        .map_err(|_| "the hashing threads stopped".to_string())?;
        let dummy = got
            .recv()
            .map_err(|_| "the hashing threads stopped".to_string())??;
        Ok(Hasher {
            permits: Arc::new(Semaphore::new(threads)),
            queued: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            max_queued: threads * 8,
            wait,
            jobs: tx,
            dummy: Arc::new(dummy),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        use std::sync::atomic::Ordering;
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.queued.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
                    self.queued.fetch_sub(1, Ordering::AcqRel);
                    return Err(Busy);
                }
                let waited =
                    tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await;
                self.queued.fetch_sub(1, Ordering::AcqRel);
                waited.map_err(|_| Busy)?.map_err(|_| Busy)?
            }
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
                drop(permit);
            }))
            .map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }

    /// Verify against `stored`. Every attempt costs one Argon2id computation, whoever it
    /// names: an unknown user is checked against the dummy hash, and so is a user imported
    /// from the older tool (whose own check is one SHA-256), so that timing tells nobody
    /// which users exist or where they came from.
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        stored: Option<String>,
    ) -> Result<Verified, Busy> {
        let dummy = self.dummy.clone();
        self.run(move || match stored {
            Some(s) if parse_phc(&s).is_some() => verify_password(&password, &s),
            Some(s) => {
                let _ = verify_password(&password, &dummy);
                verify_password(&password, &s)
            }
            None => {
                let _ = verify_password(&password, &dummy);
                Verified::No
            }
        })
        .await
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
