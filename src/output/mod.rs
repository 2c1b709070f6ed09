//! The one Printer: every byte cdxs shows goes through here, so quiet/verbose/JSON/color
//! are decided in one place. Data goes to stdout; status, warnings and errors to stderr.

use std::io::{IsTerminal, Write};

use serde::Serialize;

pub mod errors;
pub mod format;
pub mod progress;
pub mod prompt;
mod table;
pub mod views;

pub use table::{Col, Table};

/// `--color auto|always|never`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone)]
pub struct Printer {
    pub quiet: bool,
    pub verbose: bool,
    /// `--json`: stdout carries only JSON; text for people ([`Printer::out`]) goes to stderr.
    pub json: bool,
    color_out: bool,
    color_err: bool,
    width: Option<usize>,
}

impl Printer {
    pub fn new(color: ColorChoice, quiet: bool, verbose: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |tty: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color && std::env::var("TERM").as_deref() != Ok("dumb"),
        };
        Printer {
            quiet,
            verbose,
            json: false,
            color_out: decide(std::io::stdout().is_terminal()),
            color_err: decide(std::io::stderr().is_terminal()),
            width: columns(std::env::var("COLUMNS").ok().as_deref()).or_else(|| {
                std::io::stdout()
                    .is_terminal()
                    .then(|| console::Term::stdout().size_checked())
                    .flatten()
                    .map(|(_, cols)| usize::from(cols))
            }),
        }
    }

    /// The same printer in `--json` mode: text for people goes to stderr, uncoloured unless
    /// stderr takes colours, so that stdout is one JSON document.
    pub fn with_json(mut self, json: bool) -> Self {
        self.json = json;
        if json {
            self.color_out = self.color_err;
        }
        self
    }

    /// How wide tables may be: `$COLUMNS` when it is set (tests and scripts force a width
    /// with it, as for `ls`), else the terminal's width; no limit when stdout is piped.
    pub fn width(&self) -> Option<usize> {
        self.width
    }

    pub fn color_stderr(&self) -> bool {
        self.color_err
    }

    /// Data on stdout (tables, plans, paths). Never suppressed by `--quiet`. Whatever the
    /// caller built, control characters from data reach the terminal escaped (only the
    /// color codes this printer adds pass, and only when colors are on).
    /// Under `--json` it goes to stderr: stdout carries only the JSON document.
    /// Whether standard output is a terminal (a person reads it, not a pipe).
    pub fn out_is_terminal(&self) -> bool {
        std::io::stdout().is_terminal()
    }

    pub fn out(&self, text: impl AsRef<str>) {
        let text = terminal_safe(text.as_ref(), self.color_out);
        if self.json {
            eprintln!("{text}");
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
    }

    /// Data on stdout without a trailing newline (stderr under `--json`).
    pub fn out_raw(&self, text: impl AsRef<str>) {
        let text = terminal_safe(text.as_ref(), self.color_out);
        if self.json {
            eprint!("{text}");
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{text}");
        let _ = out.flush();
    }

    /// One JSON document (or line) on stdout, whatever the mode.
    fn json_out(&self, text: &str) {
        JSON_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    /// A progress bar on stderr for long work (`len` steps): drawn only on a terminal, not
    /// with `--quiet`, and only when there is enough work to watch.
    pub fn progress(&self, len: usize, what: &str) -> indicatif::ProgressBar {
        if self.quiet || len < 20 || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(len as u64);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        bar
    }

    /// A status line on stderr, hidden by `--quiet`.
    pub fn status(&self, text: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", terminal_safe(text.as_ref(), self.color_err));
        }
    }

    /// Something a person must see to go on (a login address, a question), on stderr even
    /// with `--quiet`.
    pub fn ask(&self, text: impl AsRef<str>) {
        eprintln!("{}", text.as_ref());
    }

    /// Detail shown with `--verbose` only.
    pub fn detail(&self, text: impl AsRef<str>) {
        if self.verbose {
            let text = sanitize(text.as_ref());
            eprintln!("{}", self.dim_err(&text));
        }
    }

    pub fn warn(&self, text: impl AsRef<str>) {
        let label = if self.color_err {
            "\x1b[1;33mwarning\x1b[0m"
        } else {
            "warning"
        };
        eprintln!("{label}: {}", terminal_safe(text.as_ref(), self.color_err));
    }

    /// Versioned JSON on stdout: `{"version":1, ...payload}`.
    pub fn json<T: Serialize>(&self, payload: &T) {
        let value = versioned(payload);
        let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".into());
        self.json_out(&json_safe(&text));
    }

    /// One versioned JSON object on one line (logs: JSON lines), flushed at once.
    pub fn json_line<T: Serialize>(&self, payload: &T) {
        let text = serde_json::to_string(&versioned(payload)).unwrap_or_else(|_| "{}".into());
        self.json_out(&json_safe(&text));
    }

    /// Versioned JSON with one big array, written chunk by chunk (no whole-document tree in
    /// memory): `{"version": 1, "<key>": [ {...}, ... ]}`, one element per line. The chunks
    /// are encoded beforehand ([`JsonElements::encode`]), so that the threads that read the
    /// data can encode it too; the document is the same bytes as one encoded in one go.
    pub fn json_stream(
        &self,
        key: &str,
        chunks: impl Iterator<Item = crate::error::Result<JsonElements>>,
    ) -> crate::error::Result<()> {
        JSON_PRINTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let out = std::io::stdout().lock();
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, out);
        let io = |e: std::io::Error| crate::error::Error::io("cannot write to standard output", e);
        write!(
            w,
            "{{\n  \"version\": {JSON_VERSION},\n  {}: [",
            serde_json::to_string(key).unwrap_or_default()
        )
        .map_err(io)?;
        let mut first = true;
        for chunk in chunks {
            let chunk = chunk?;
            if chunk.bytes.is_empty() {
                continue;
            }
            w.write_all(if first { b"\n    " } else { b",\n    " })
                .map_err(io)?;
            w.write_all(&chunk.bytes).map_err(io)?;
            first = false;
        }
        w.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })
            .map_err(io)?;
        w.flush().map_err(io)
    }

    fn paint(&self, on: bool, code: &str, text: &str) -> String {
        if on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn green(&self, text: &str) -> String {
        self.paint(self.color_out, "32", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        self.paint(self.color_out, "33", text)
    }
    pub fn red(&self, text: &str) -> String {
        self.paint(self.color_out, "31", text)
    }
    pub fn cyan(&self, text: &str) -> String {
        self.paint(self.color_out, "36", text)
    }
    pub fn bold(&self, text: &str) -> String {
        self.paint(self.color_out, "1", text)
    }
    pub fn dim(&self, text: &str) -> String {
        self.paint(self.color_out, "2", text)
    }
    fn dim_err(&self, text: &str) -> String {
        self.paint(self.color_err, "2", text)
    }
}

/// Some elements of a [`Printer::json_stream`] array, encoded: each [`json_safe`], one per
/// line, joined by commas (empty for no element).
#[derive(Debug, Default)]
pub struct JsonElements {
    bytes: Vec<u8>,
}

impl JsonElements {
    pub fn encode<T: Serialize>(
        items: impl Iterator<Item = T>,
    ) -> crate::error::Result<JsonElements> {
        let encode =
            |e: serde_json::Error| crate::error::Error::user(format!("cannot encode JSON: {e}"));
        let mut bytes = Vec::with_capacity(items.size_hint().0 * 512);
        for (n, item) in items.enumerate() {
            if n > 0 {
                bytes.extend_from_slice(b",\n    ");
            }
            let start = bytes.len();
            serde_json::to_writer(&mut bytes, &item).map_err(encode)?;
            // Almost every element has no byte that could start a character `json_safe`
            // escapes: those are kept as they are without decoding them.
            let maybe_unsafe = |b: &u8| {
                (*b < 0x20 && *b != b'\n' && *b != b'\t') || matches!(*b, 0x7f | 0xc2 | 0xe2)
            };
            if bytes[start..]
                .chunks(64)
                .any(|c| c.iter().fold(false, |found, b| found | maybe_unsafe(b)))
            {
                let text = String::from_utf8(bytes.split_off(start))
                    .map_err(|e| crate::error::Error::user(format!("cannot encode JSON: {e}")))?;
                bytes.extend_from_slice(json_safe(&text).as_bytes());
            }
        }
        Ok(JsonElements { bytes })
    }
}

/// A usable `$COLUMNS` (20 to 1000).
fn columns(value: Option<&str>) -> Option<usize> {
    value
        .and_then(|v| v.trim().parse().ok())
        .filter(|w: &usize| (20..=1000).contains(w))
}

pub use crate::text::{JSON_VERSION, json_safe, sanitize, terminal_safe, versioned};

/// Whether this process already printed a JSON document on stdout (an error that comes
/// after it must not print a second one).
static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn json_printed() -> bool {
    JSON_PRINTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Ask for `yes` on a terminal. Without a terminal, refuse: the caller says how to skip
/// the question (`--yes`).
pub fn confirm(question: &str, what: &str) -> crate::error::Result<bool> {
    if !stdin_is_terminal() {
        return Err(crate::error::Error::user(format!(
            "refusing to {what} without a terminal to confirm on"
        ))
        .with_help("review the plan, then pass `--yes` (alias `--auto-approve`)"));
    }
    eprint!("{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| crate::error::Error::io("cannot read the answer", e))?;
    eprintln!();
    Ok(line.trim() == "yes")
}

/// Whether we can ask the person a question.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// A bar of `width` cells for a percentage (quota).
pub fn bar(percent: f64, width: usize) -> String {
    let p = percent.clamp(0.0, 100.0);
    let filled = ((p / 100.0) * width as f64).round() as usize;
    format!(
        "{}{}",
        "█".repeat(filled),
        "░".repeat(width - filled.min(width))
    )
}

#[cfg(test)]
mod sanitize_tests {
    use super::*;

    #[test]
    fn only_the_printers_color_codes_pass() {
        let line = "\u{1b}[32mfixed\u{1b}[0m name\u{1b}[2J\u{1b}]0;t\u{7}\r";
        assert_eq!(
            terminal_safe(line, true),
            "\u{1b}[32mfixed\u{1b}[0m name\\u{1b}[2J\\u{1b}]0;t\\u{7}\\u{d}"
        );
        assert!(!terminal_safe(line, false).contains('\u{1b}'));
        assert_eq!(terminal_safe("plain", false), "plain");
    }

    #[test]
    fn json_stays_exact() {
        let v = serde_json::json!({"name": "a\u{9b}31m\u{202e}b\u{1b}c\u{7f}"});
        let text = serde_json::to_string(&v).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(crate::text::unsafe_char), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, v);
    }
}

#[cfg(test)]
mod json_elements_tests {
    use super::*;

    /// What `json_stream` wrote before elements were encoded by the reading threads: each
    /// element `serde_json::to_string`, then `json_safe`, joined by `,\n    `.
    fn one_by_one(items: &[serde_json::Value]) -> Vec<u8> {
        items
            .iter()
            .map(|v| json_safe(&serde_json::to_string(v).unwrap()).into_owned())
            .collect::<Vec<_>>()
            .join(",\n    ")
            .into_bytes()
    }

    #[test]
    fn encoding_in_chunks_is_the_same_bytes_as_one_by_one() {
        let texts = [
            "plain",
            "a\u{1b}[31mred\u{7}",
            "del\u{7f}",
            "c1 \u{85} \u{9b}",
            "bidi \u{202e}evil\u{2066}",
            "harmless é ü … € \u{2028} \u{2019}",
            "line\nbreak\ttab\r",
            "",
            "日本語 ✓ 😀",
        ];
        let items: Vec<serde_json::Value> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| serde_json::json!({"id": i, "name": t, "path": format!("/x/{t}")}))
            .collect();
        let all = JsonElements::encode(items.iter()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&all.bytes),
            String::from_utf8_lossy(&one_by_one(&items))
        );
        for item in &items {
            let one = JsonElements::encode(std::iter::once(item)).unwrap();
            assert_eq!(one.bytes, one_by_one(std::slice::from_ref(item)));
        }
        assert!(
            JsonElements::encode(std::iter::empty::<u8>())
                .unwrap()
                .bytes
                .is_empty()
        );
    }
}
