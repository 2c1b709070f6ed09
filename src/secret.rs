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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value() {
        let s = Secret::new("sk-very-secret");
        assert_eq!(format!("{s:?}"), "(sensitive)");
        assert!(!s.fingerprint().contains("secret"));
        assert_eq!(s.fingerprint().len(), "sha256:".len() + 8);
    }
}
