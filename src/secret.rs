//! A string that must never be shown: tokens, API keys, passwords.
//!
//! `Secret` has no `Display` and no `Serialize`; its `Debug` prints `(sensitive)`. The only
//! way to the value is [`Secret::expose`], which makes every use greppable.

use sha2::{Digest, Sha256};

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A short, stable, non-reversible tag: `sha256:1a2b3c4d`.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.as_bytes())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(sensitive)")
    }
}

/// First 8 hex digits of SHA-256, prefixed `sha256:`.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("sha256:{}", &hex(&digest)[..8])
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub use crate::text::{looks_like_secret, mask, redact};

/// What an API key must be to be stored or written into auth.json: visible ASCII without
/// spaces, of a sane length (a pasted key with a NUL, an escape sequence or a newline would
/// travel into files and terminals).
pub fn check_api_key(key: &str) -> std::result::Result<(), &'static str> {
    if key.is_empty() {
        return Err("is empty");
    }
    if key.len() > 4096 {
        return Err("is longer than 4096 characters");
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("holds spaces, control characters or non-ASCII characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_and_ordinary_words_are_not() {
        for s in [
            "sk-proj-AbCdEf0123456789",
            "sk-live-1234567890abcdefghij",
            "eyJhbGciOiJub25lIn0.eyJlbWFpbCI6ImEifQ.c2ln",
            "rt_0123456789abcdef",
            "ghp_abcdefghijklmnop1234",
            "Zx9Kq2Lm8Np4Rt6Vw1Yb3Cd5",
        ] {
            assert!(looks_like_secret(s), "{s}");
        }
        for s in [
            "OPENAI_API_KEY",
            "0199aaaa-0000-7000-8000-00000000000a",
            "oauth_4f2a9c0d1e2b3a4f",
            "trash_max_age",
            "me@example.com",
            "share_threads",
            "https",
            "sk-",
        ] {
            assert!(!looks_like_secret(s), "{s}");
        }
    }

    #[test]
    fn redact_and_mask_keep_the_rest() {
        let text = "key `sk-proj-AbCdEf0123456789` in /home/me/.codex";
        assert_eq!(redact(text), "key `(sensitive)` in /home/me/.codex");
        let masked = mask(text);
        assert_eq!(masked.len(), text.len());
        assert!(masked.starts_with("key `*****") && masked.ends_with("` in /home/me/.codex"));
    }

    #[test]
    fn api_keys_are_visible_ascii() {
        assert!(check_api_key("sk-proj-abc_123").is_ok());
        for bad in ["", "sk-a b", "sk-\u{1b}[2J", "sk-\0x", "sk-\nx", "sk-é"] {
            assert!(check_api_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_value() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "(sensitive)");
        assert!(!s.fingerprint().contains("secret"));
        assert_eq!(s.fingerprint().len(), "sha256:".len() + 8);
    }
}
