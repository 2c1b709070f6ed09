//! Which of two copies of one account's OAuth tokens is newer.
//!
//! Codex rotates refresh tokens: an older copy written back over a newer one ends in
//! `refresh_token_reused` and a logged-out user. Order: the access token's `iat` first (the
//! issuer's clock, the same for every machine and every copy), then `last_refresh` (the
//! clock of whoever wrote the copy, which may be off by an hour), then `exp`. Unknown on
//! both sides means "cannot tell". Copies whose refresh token was already spent are never
//! compared at all: the vault remembers them (`vault::spent`).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Freshness {
    pub last_refresh: Option<DateTime<Utc>>,
    pub issued_at: Option<i64>,
    pub expires_at: Option<i64>,
}

/// `Greater` when `a` is newer than `b`; `Equal` when they cannot be told apart.
pub fn compare(a: &Freshness, b: &Freshness) -> Ordering {
    fn by<T: Ord>(a: Option<T>, b: Option<T>) -> Option<Ordering> {
        match (a, b) {
            (Some(x), Some(y)) if x != y => Some(x.cmp(&y)),
            _ => None,
        }
    }
    by(a.issued_at, b.issued_at)
        .or_else(|| by(a.last_refresh, b.last_refresh))
        .or_else(|| by(a.expires_at, b.expires_at))
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(lr: Option<&str>, iat: Option<i64>, exp: Option<i64>) -> Freshness {
        Freshness {
            last_refresh: lr.map(|s| s.parse().unwrap()),
            issued_at: iat,
            expires_at: exp,
        }
    }

    #[test]
    fn iat_wins_then_last_refresh_then_exp() {
        // A copy written on a machine whose clock runs an hour fast has the later
        // `last_refresh`, but the issuer stamped the other one later: that one is newer.
        let skewed = f(Some("2026-01-01T01:00:00Z"), Some(50), Some(500));
        let fresh = f(Some("2026-01-01T00:00:10Z"), Some(60), Some(100));
        assert_eq!(compare(&fresh, &skewed), Ordering::Greater);
        assert_eq!(compare(&skewed, &fresh), Ordering::Less);
        // same iat: last_refresh decides
        let a = f(Some("2026-01-01T00:00:02Z"), Some(20), None);
        let b = f(Some("2026-01-01T00:00:01Z"), Some(20), None);
        assert_eq!(compare(&a, &b), Ordering::Greater);
        // one side lacks iat: fall through to last_refresh
        let c = f(Some("2026-01-01T00:00:03Z"), None, None);
        assert_eq!(compare(&c, &b), Ordering::Greater);
        // nothing known
        assert_eq!(
            compare(&f(None, None, None), &f(None, None, Some(1))),
            Ordering::Equal
        );
        // exp only
        assert_eq!(
            compare(&f(None, None, Some(2)), &f(None, None, Some(1))),
            Ordering::Greater
        );
    }
}
