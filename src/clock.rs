//! The clock the engine reads at every use (never the start time: a refresh that waited for
//! a lock, or a `watch` that ran for days, must stamp the time it actually wrote).
//!
//! Tests and debug builds may set `CDXS_NOW`: an RFC 3339 time or epoch seconds (a fixed
//! clock), or `+SECS` / `-SECS` (the real clock, running fast or slow by that much, as on a
//! machine whose clock is off). Release builds ignore it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;

    /// Unix seconds.
    fn ts(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Always the same instant (tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// The machine's clock shifted by a fixed amount (a clock that runs fast or slow).
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub Duration);

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
            .checked_add_signed(self.0)
            .unwrap_or_else(Utc::now)
    }
}

/// Parse a `CDXS_NOW` value.
pub fn parse_override(value: &str) -> Option<Arc<dyn Clock>> {
    let v = value.trim();
    if let Some(rest) = v.strip_prefix('+').or_else(|| v.strip_prefix('-')) {
        let secs: i64 = rest.parse().ok()?;
        let secs = if v.starts_with('-') { -secs } else { secs };
        // Bounded: a clock more than ten years off is a typo, not a test.
        if secs.abs() > 10 * 365 * 86_400 {
            return None;
        }
        return Some(Arc::new(OffsetClock(Duration::seconds(secs))));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(v) {
        return Some(Arc::new(FixedClock(d.with_timezone(&Utc))));
    }
    let secs: i64 = v.parse().ok()?;
    DateTime::from_timestamp(secs, 0).map(|d| Arc::new(FixedClock(d)) as Arc<dyn Clock>)
}

/// Whether `CDXS_NOW` is honoured: in test and debug builds only. A release build always
/// reads the machine's clock (a stray variable must never reorder token copies).
pub const OVERRIDE_ALLOWED: bool = cfg!(debug_assertions);

/// The clock for this process: the system clock, or `CDXS_NOW` in test and debug builds.
pub fn from_env() -> Arc<dyn Clock> {
    from_vars(OVERRIDE_ALLOWED, std::env::var("CDXS_NOW").ok().as_deref())
}

/// [`from_env`] with its inputs given.
pub fn from_vars(allow_override: bool, cdxs_now: Option<&str>) -> Arc<dyn Clock> {
    if allow_override && let Some(c) = cdxs_now.and_then(parse_override) {
        return c;
    }
    Arc::new(SystemClock)
}

/// A stamp for a token copy cdxs writes: now, but never at or before `previous` (the
/// copy it replaces), so that copies cdxs writes are ordered even on a clock that runs slow
/// or stands still.
pub fn stamp_after(now: DateTime<Utc>, previous: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match previous {
        Some(p) if p >= now => p + Duration::milliseconds(1),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_and_are_bounded() {
        let fixed = parse_override("2026-11-26T08:00:00Z").unwrap();
        assert_eq!(fixed.ts(), 1_795_680_000);
        assert_eq!(parse_override("1795680000").unwrap().ts(), 1_795_680_000);
        let fast = parse_override("+3600").unwrap();
        let d = fast.ts() - Utc::now().timestamp();
        assert!((3599..=3601).contains(&d), "{d}");
        let slow = parse_override("-3600").unwrap();
        assert!(slow.ts() < Utc::now().timestamp() - 3500);
        assert!(parse_override("+99999999999").is_none());
        assert!(parse_override("soon").is_none());
    }

    #[test]
    fn stamps_never_go_back() {
        let t = |s: i64| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(stamp_after(t(100), Some(t(50))), t(100));
        assert_eq!(
            stamp_after(t(100), Some(t(100))),
            t(100) + Duration::milliseconds(1)
        );
        assert_eq!(
            stamp_after(t(100), Some(t(3700))),
            t(3700) + Duration::milliseconds(1),
            "a copy from a clock an hour fast is still older than what cdxs writes next"
        );
        assert_eq!(stamp_after(t(100), None), t(100));
    }
}
