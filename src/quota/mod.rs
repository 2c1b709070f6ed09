//! Quota from `GET <chatgpt>/wham/usage`: remaining percentages of the 5-hour (primary)
//! and weekly (secondary) windows with their reset times, cached in the vault with the
//! time they were fetched.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::endpoints;
use crate::secret::Secret;

/// Cached quota older than this is refreshed by `list` and `plan` (not `show`).
pub const STALE_AFTER_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub used_percent: f64,
    pub remaining_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<i64>,
    /// Unix time of the reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quota {
    #[serde(default)]
    pub plan_type: Option<String>,
    #[serde(default)]
    pub limit_reached: bool,
    pub five_hour: Option<Window>,
    pub weekly: Option<Window>,
    pub fetched_at: i64,
}

impl Quota {
    /// The smaller of the two windows' remaining percentages (0 when the limit is reached).
    pub fn remaining(&self) -> Option<f64> {
        if self.limit_reached {
            return Some(0.0);
        }
        match (self.five_hour, self.weekly) {
            (Some(a), Some(b)) => Some(a.remaining_percent.min(b.remaining_percent)),
            (a, b) => a.or(b).map(|w| w.remaining_percent),
        }
    }
}

/// The longest reset or window length cdxs believes: ten years.
const MAX_SECONDS: f64 = 10.0 * 366.0 * 86_400.0;

/// A finite number (a JSON number, or a string holding one); `NaN` and infinities are not.
fn num(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|n: &f64| n.is_finite())
}

/// A duration in seconds from the server: finite, 0 to ten years, else unknown.
fn seconds(v: Option<&Value>) -> Option<i64> {
    num(v?)
        .filter(|s| (0.0..=MAX_SECONDS).contains(s))
        .map(|s| s as i64)
}

/// A window from the usage answer. Its used percentage must be a finite number; a value
/// outside 0 to 100 is clamped (130% used is the limit reached). Reset times are bounded
/// (at most ten years ahead) and computed with saturating arithmetic.
fn window(v: Option<&Value>, now: i64) -> Option<Window> {
    let v = v?.as_object()?;
    // A percentage must be a finite number (`"NaN"` parses as a float): else no window.
    let used = v
        .get("used_percent")
        .and_then(num)
        .filter(|u| u.is_finite())?;
    let used = used.clamp(0.0, 100.0);
    // An absolute reset time: after 1970 and before the year 10000.
    let resets_at = v
        .get("reset_at")
        .and_then(num)
        .filter(|t| *t > 0.0 && *t <= 253_402_300_799.0)
        .map(|t| t as i64)
        .or_else(|| seconds(v.get("reset_after_seconds")).map(|s| now.saturating_add(s)));
    Some(Window {
        used_percent: used,
        remaining_percent: 100.0 - used,
        window_seconds: seconds(v.get("limit_window_seconds")),
        resets_at,
    })
}

/// Parse a usage answer. Primary is the 5-hour window and secondary the weekly one, unless
/// the windows' own lengths say otherwise.
pub fn parse(body: &Value, now: i64) -> Quota {
    let rate = body.get("rate_limit").or_else(|| body.get("rateLimit"));
    let primary = window(
        rate.and_then(|r| r.get("primary_window").or_else(|| r.get("primaryWindow"))),
        now,
    );
    let secondary = window(
        rate.and_then(|r| {
            r.get("secondary_window")
                .or_else(|| r.get("secondaryWindow"))
        }),
        now,
    );
    let is_weekly = |w: &Option<Window>| {
        w.and_then(|w| w.window_seconds)
            .is_some_and(|s| s >= 86_400)
    };
    let (five_hour, weekly) = if is_weekly(&primary) && !is_weekly(&secondary) {
        (secondary, primary)
    } else {
        (primary, secondary)
    };
    Quota {
        plan_type: body
            .get("plan_type")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        limit_reached: rate
            .and_then(|r| r.get("limit_reached"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        five_hour,
        weekly,
        fetched_at: now,
    }
}

/// Why a usage request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// 401: the access token was refused (it may have been revoked early).
    Unauthorized,
    /// Another HTTP status (403: this account may not read its usage); shown as such,
    /// never taken for a revoked token.
    Status(u16),
    /// The endpoint could not be reached (offline, DNS, timeout).
    Network(String),
    Other(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Unauthorized => {
                f.write_str("the usage endpoint refused the access token (HTTP 401)")
            }
            FetchError::Status(403) => f.write_str(
                "the usage endpoint answered HTTP 403 (this account may not read its usage)",
            ),
            FetchError::Status(s) => write!(f, "the usage endpoint answered HTTP {s}"),
            FetchError::Network(s) | FetchError::Other(s) => f.write_str(s),
        }
    }
}

/// One usage request.
pub fn fetch(
    access_token: &Secret,
    account_id: Option<&str>,
    now: i64,
) -> std::result::Result<Quota, FetchError> {
    let client = endpoints::client().map_err(|e| FetchError::Other(e.to_string()))?;
    let mut req = client
        .get(endpoints::usage_url())
        .bearer_auth(access_token.expose())
        .header("Accept", "application/json");
    if let Some(id) = account_id.filter(|s| !s.is_empty()) {
        req = req.header("ChatGPT-Account-Id", id);
    }
    let resp = req
        .send()
        .map_err(|e| FetchError::Network(endpoints::describe(&e)))?;
    let status = resp.status().as_u16();
    if status == 401 {
        return Err(FetchError::Unauthorized);
    }
    if !(200..300).contains(&status) {
        // Never echo the body: it may carry account details.
        return Err(FetchError::Status(status));
    }
    let text = resp.text().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).map_err(|_| {
        FetchError::Other("the usage endpoint answered something that is not JSON".into())
    })?;
    Ok(parse(&body, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_real_shape() {
        let body = json!({
            "plan_type": "plus",
            "rate_limit": {
                "allowed": true, "limit_reached": false,
                "primary_window": {"used_percent": 12, "limit_window_seconds": 18000, "reset_after_seconds": 600, "reset_at": 1_800_000_000},
                "secondary_window": {"used_percent": 30.5, "limit_window_seconds": 604800, "reset_after_seconds": 3600}
            },
            "credits": {"has_credits": false}
        });
        let q = parse(&body, 1000);
        assert_eq!(q.plan_type.as_deref(), Some("plus"));
        let five = q.five_hour.unwrap();
        assert_eq!(five.remaining_percent, 88.0);
        assert_eq!(five.resets_at, Some(1_800_000_000));
        let week = q.weekly.unwrap();
        assert_eq!(week.remaining_percent, 69.5);
        assert_eq!(
            week.resets_at,
            Some(1000 + 3600),
            "reset_after_seconds only"
        );
        assert_eq!(q.remaining(), Some(69.5));
    }

    #[test]
    fn missing_windows_and_odd_values() {
        let q = parse(
            &json!({"rate_limit": {"primary_window": {"used_percent": 130}}}),
            0,
        );
        assert_eq!(q.five_hour.unwrap().remaining_percent, 0.0, "clamped");
        assert!(q.weekly.is_none());
        assert_eq!(q.remaining(), Some(0.0));
        let q = parse(
            &json!({"rate_limit": {"primary_window": {"used_percent": -5}, "secondary_window": null}}),
            0,
        );
        assert_eq!(q.five_hour.unwrap().remaining_percent, 100.0);
        let q = parse(&json!({}), 0);
        assert!(q.five_hour.is_none() && q.weekly.is_none() && q.remaining().is_none());
        let q = parse(
            &json!({"rate_limit": {"limit_reached": true, "primary_window": {"used_percent": 50}}}),
            0,
        );
        assert_eq!(q.remaining(), Some(0.0));
        // windows given the other way round
        let q = parse(
            &json!({"rate_limit": {
            "primary_window": {"used_percent": 10, "limit_window_seconds": 604800},
            "secondary_window": {"used_percent": 40, "limit_window_seconds": 18000}}}),
            0,
        );
        assert_eq!(q.weekly.unwrap().remaining_percent, 90.0);
        assert_eq!(q.five_hour.unwrap().remaining_percent, 60.0);
    }
}
