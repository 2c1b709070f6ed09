//! How values read for people: durations, times, sizes, one-line titles, quota cells.

use crate::output::bar;
use crate::quota::Window;

pub use crate::text::{bytes, duration, expiry, rfc3339, short, when, when_secs};

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
