//! Stable account ids, the older tool's scheme, so its ids survive migration:
//! `oauth_` + 16 hex of SHA-256 over `oauth|<email>|<chatgpt account id>|<organization id>`,
//! `apikey_` + 16 hex of SHA-256 over `apikey|<key>|<base url>`.

use sha2::{Digest, Sha256};

use crate::secret::hex;

fn short_hash(input: &str) -> String {
    hex(&Sha256::digest(input.as_bytes()))[..16].to_string()
}

pub fn oauth_id(email: &str, chatgpt_account_id: &str, organization_id: &str) -> String {
    format!(
        "oauth_{}",
        short_hash(&format!(
            "oauth|{email}|{chatgpt_account_id}|{organization_id}"
        ))
    )
}

pub fn apikey_id(key: &str, base_url: &str) -> String {
    format!("apikey_{}", short_hash(&format!("apikey|{key}|{base_url}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable() {
        // Pinned values: changing the scheme would orphan every migrated account.
        assert_eq!(
            oauth_id("me@example.com", "acct-1", ""),
            oauth_id("me@example.com", "acct-1", "")
        );
        let expected = format!(
            "oauth_{}",
            &hex(&Sha256::digest(b"oauth|me@example.com|acct-1|"))[..16]
        );
        assert_eq!(oauth_id("me@example.com", "acct-1", ""), expected);
        assert!(apikey_id("sk-1", "").starts_with("apikey_"));
        assert_ne!(apikey_id("sk-1", ""), apikey_id("sk-1", "https://x"));
        assert_eq!(apikey_id("sk-1", "").len(), "apikey_".len() + 16);
    }
}
