//! How values read for people: durations, times, sizes, one-line titles, quota cells.

use crate::output::bar;
use crate::quota::Window;

/// `45s`, `12m`, `3h05m`, `2d4h`.
pub fn duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// `expires in 3h05m`, `expired 2m ago`, `unknown`.
pub fn expiry(expires_at: Option<i64>, now: i64) -> String {
    match expires_at {
        None => "unknown".into(),
        Some(exp) if exp > now => format!("expires in {}", duration(exp - now)),
        Some(exp) => format!("expired {} ago", duration(now - exp)),
    }
}

/// `2026-11-26 08:23` (UTC).
pub fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// `2026-11-26 08:23:05Z`.
pub fn when_secs(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// RFC 3339 (for `--json`).
pub fn rfc3339(ts: Option<i64>) -> Option<String> {
    ts.and_then(|t| chrono::DateTime::<chrono::Utc>::from_timestamp(t, 0))
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// The first line of `s`, at most `n` characters, control characters escaped.
pub fn short(s: &str, n: usize) -> String {
    let one = s.lines().next().unwrap_or("").trim();
    let one = crate::output::sanitize(one);
    if one.chars().count() > n {
        format!(
            "{}…",
            one.chars().take(n.saturating_sub(1)).collect::<String>()
        )
    } else {
        one.into_owned()
    }
}

pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} kB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MB", n as f64 / 1_048_576.0),
        _ => format!("{:.2} GB", n as f64 / 1_073_741_824.0),
    }
}

/// Below this much quota left a figure is yellow, below [`VERY_LOW`] red.
pub const LOW: f64 = 30.0;
pub const VERY_LOW: f64 = 10.0;

/// `text` coloured by how much quota is left: green, yellow below 30%, red below 10%.
pub fn by_level(p: &crate::output::Printer, remaining: f64, text: &str) -> String {
    if remaining < VERY_LOW {
        p.red(text)
    } else if remaining < LOW {
        p.yellow(text)
    } else {
        p.green(text)
    }
}

/// A quota window for a table: a bar of `cells` (none for 0) and the percentage left,
/// coloured by level, then `↻` and the time until the window resets; `n/a` without one.
pub fn window(p: &crate::output::Printer, w: Option<&Window>, now: i64, cells: usize) -> String {
    let Some(w) = w else {
        return "n/a".into();
    };
    let left = w.remaining_percent;
    let figure = if cells == 0 {
        format!("{left:>3.0}%")
    } else {
        format!("{} {left:>3.0}%", bar(left, cells))
    };
    let reset = w
        .resets_at
        .map(|t| format!(" ↻{}", duration(t - now)))
        .unwrap_or_default();
    format!("{}{reset}", by_level(p, left, &figure))
}

/// `cached 2h05m ago` for quota older than the freshness `list` keeps.
pub fn cached(fetched_at: i64, now: i64) -> Option<String> {
    (now - fetched_at > crate::quota::STALE_AFTER_SECS)
        .then(|| format!("cached {} ago", duration(now - fetched_at)))
}

/// The line under a table that says what its marks mean, for the marks it shows.
pub fn legend(p: &crate::output::Printer, marks: &[(&str, &str)]) -> String {
    if marks.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = marks
        .iter()
        .map(|(mark, meaning)| format!("{mark}: {meaning}"))
        .collect();
    let one_line = parts.join("   ");
    let fits = p
        .width()
        .is_none_or(|w| console::measure_text_width(&one_line) <= w);
    let text = if fits { one_line } else { parts.join("\n") };
    format!("\n{}", p.dim(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_titles() {
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(duration(2 * 86_400 + 4 * 3600), "2d4h");
        assert_eq!(duration(-5), "0s");
        assert_eq!(expiry(Some(100), 40), "expires in 1m");
        assert_eq!(expiry(Some(40), 100), "expired 1m ago");
        assert_eq!(short("first line\nsecond", 5), "firs…");
        assert_eq!(short("\x1b[31mred", 40), "\\u{1b}[31mred");
        assert_eq!(bytes(2048), "2.0 kB");
    }
}
