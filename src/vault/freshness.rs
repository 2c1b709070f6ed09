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

/// Codex's own refresh window: it refreshes an access token that expires within 5
/// minutes before its next request. `plan`, `apply`, `switch` and `run` use it too.
pub const CODEX_WINDOW_SECS: i64 = 300;

/// The one freshness rule, shared by the planner, the executor, the quota path and
/// `watch`'s timer: a login is due for a refresh once less than `window` seconds of its
/// access token are left (or its expiry is unknown). One request makes it fresh again: the
/// new token has its whole life ahead of it, so nothing asks again until its own window.
pub fn refresh_due(expires_at: Option<i64>, now: i64, window: i64) -> bool {
    expires_at.is_none_or(|exp| exp.saturating_sub(now) < window)
}

/// The first second at which [`refresh_due`] holds for a token that expires at `exp`
/// (when `watch` wakes up to refresh it).
pub fn refresh_at(exp: i64, window: i64) -> i64 {
    exp.saturating_sub(window).saturating_add(1)
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
    fn a_token_is_due_from_its_refresh_time_on_and_not_a_second_before() {
        let exp = 10_000;
        for window in [CODEX_WINDOW_SECS, 600, 3540, 86_400] {
            let at = refresh_at(exp, window);
            assert!(!refresh_due(Some(exp), at - 1, window), "{window}");
            assert!(refresh_due(Some(exp), at, window), "{window}");
            assert!(refresh_due(Some(exp), exp + 5, window), "expired: {window}");
        }
        assert!(refresh_due(None, 0, CODEX_WINDOW_SECS), "unknown expiry");
        assert!(!refresh_due(Some(i64::MAX), i64::MIN, 600), "no overflow");
        assert!(refresh_due(Some(i64::MIN), i64::MAX, 600), "no overflow");
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
