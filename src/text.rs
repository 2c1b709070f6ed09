//! Text for people, safe wherever it goes (L0: imports nothing of the crate): data made safe
//! for a terminal (escape sequences, carriage returns and bidi overrides escaped; JSON kept
//! exact), durations and times as people read them, and the versioned `--json` envelope.
//! Every layer may use it; `output` builds its views on it.

use serde::Serialize;

/// Characters a terminal must not get raw from data: C0 and C1 controls (escape sequences,
/// carriage returns, bells) except newline and tab, and bidi overrides and isolates.
pub fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text from data (thread names, emails, server messages) made safe for a terminal:
/// control characters (escape sequences, carriage returns, bidi overrides) become `\u{..}`.
/// `--json` output keeps the exact text (JSON escapes it).
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if unsafe_char(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// [`sanitize`] for whole output lines, letting through the SGR color codes
/// (`ESC [ digits;... m`) the printer adds when `colors` is on. Color codes only change
/// colors; every other escape (cursor moves, screen clears, titles, OSC) is escaped.
pub fn terminal_safe(text: &str, colors: bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if colors && c == '\u{1b}' {
            let sgr = rest[1..].strip_prefix('[').and_then(|tail| {
                let end = tail.find(|ch: char| !(ch.is_ascii_digit() || ch == ';'))?;
                (tail[end..].starts_with('m')).then_some(end + 3)
            });
            if let Some(len) = sgr {
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                continue;
            }
        }
        if unsafe_char(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// JSON text made safe for a terminal without changing what it says: the control and bidi
/// characters serde_json leaves raw inside strings (C1 controls, DEL, bidi overrides)
/// become `\uXXXX` escapes, which parse back to the exact same text.
pub fn json_safe(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Wrap a payload as `{"version": 1, ...}`; non-object payloads go under `"data"`.
pub fn versioned<T: Serialize>(payload: &T) -> serde_json::Value {
    let value = serde_json::to_value(payload).unwrap_or(serde_json::Value::Null);
    let mut map = serde_json::Map::new();
    map.insert("version".into(), serde_json::Value::from(JSON_VERSION));
    match value {
        serde_json::Value::Object(obj) => map.extend(obj),
        other => {
            map.insert("data".into(), other);
        }
    }
    serde_json::Value::Object(map)
}

/// The version of every `--json` document cdxs prints.
pub const JSON_VERSION: u32 = 1;

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
    let one = sanitize(one);
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
