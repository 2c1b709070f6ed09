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

/// Prefixes of keys and tokens people paste: OpenAI keys and sessions, JWTs, refresh
/// tokens, cdxs sync tokens, and the common secret formats of other services.
const SECRET_PREFIXES: &[&str] = &[
    "sk-",
    "sk_",
    "sess-",
    "rt_",
    "eyJ",
    "cdxs_",
    "ghp_",
    "gho_",
    "ghs_",
    "github_pat_",
    "glpat-",
    "xoxb-",
    "xoxp-",
    "AKIA",
    "AIza",
    "pat_",
    "key-",
];

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '=' | '~')
}

/// Whether one word (a run of key-like characters) looks like a key or a token: a known
/// secret prefix with something after it, or a long mix of letters and digits that is not
/// a UUID (thread ids are not secrets).
pub fn looks_like_secret(word: &str) -> bool {
    let w = word.trim_matches(|c: char| !token_char(c));
    if w.len() < 12 {
        return false;
    }
    if SECRET_PREFIXES
        .iter()
        .any(|p| w.starts_with(p) && w.len() >= p.len() + 8)
    {
        return true;
    }
    let uuid = w.len() == 36 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    let letters = w.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let digits = w.chars().filter(|c| c.is_ascii_digit()).count();
    let upper = w.chars().any(|c| c.is_ascii_uppercase());
    let lower = w.chars().any(|c| c.is_ascii_lowercase());
    !uuid && w.len() >= 24 && digits >= 4 && letters >= 4 && (upper && lower || w.len() >= 32)
}

/// The spans (byte ranges) of `text`'s words that look like secrets.
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (token_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if looks_like_secret(&text[s..i]) {
                    out.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// `text` with every word that looks like a key or token replaced by `(sensitive)`: for
/// messages that quote data.
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    let spans = secret_spans(text);
    if spans.is_empty() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in spans {
        out.push_str(&text[at..s]);
        out.push_str("(sensitive)");
        at = e;
    }
    out.push_str(&text[at..]);
    std::borrow::Cow::Owned(out)
}

/// `text` with every word that looks like a key or token overwritten by `*`, byte for
/// byte (spans into the text stay valid): for source excerpts in diagnostics.
pub fn mask(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (s, e) in secret_spans(text) {
        // The words are ASCII (token characters only), so this stays UTF-8.
        bytes[s..e].fill(b'*');
    }
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_string())
}

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
