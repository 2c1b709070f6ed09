//! Which of two copies of one account's OAuth tokens is newer.
//!
//! Codex rotates refresh tokens: an older copy written back over a newer one ends in
//! `refresh_token_reused` and a logged-out user. Order: `last_refresh`, then the access
//! token's `iat`, then its `exp`. Unknown on both sides means "cannot tell".

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
    by(a.last_refresh, b.last_refresh)
        .or_else(|| by(a.issued_at, b.issued_at))
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
    fn last_refresh_wins_then_iat_then_exp() {
        let old = f(Some("2026-01-01T00:00:00Z"), Some(50), Some(500));
        let new = f(Some("2026-01-02T00:00:00Z"), Some(10), Some(100));
        assert_eq!(compare(&new, &old), Ordering::Greater);
        assert_eq!(compare(&old, &new), Ordering::Less);
        // same last_refresh: iat decides
        let a = f(Some("2026-01-01T00:00:00Z"), Some(20), None);
        let b = f(Some("2026-01-01T00:00:00Z"), Some(10), None);
        assert_eq!(compare(&a, &b), Ordering::Greater);
        // one side lacks last_refresh: fall through to iat
        let c = f(None, Some(30), None);
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
