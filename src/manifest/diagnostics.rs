//! Diagnostics on a source file (the manifest): one or many problems, each with labelled
//! spans and a help line, rendered by miette with the file's name, line and column.

use miette::SourceSpan;
use serde_saphyr::Location;

pub use crate::error::diagnostic::{Located, Problem, Report};

/// `validate --json`, in the shape of Terraform's `validate -json` (editors and CI read
/// it): `valid`, counts, and each problem with its severity, summary, detail and range.
#[derive(Debug, serde::Serialize)]
pub struct Validation {
    pub format_version: &'static str,
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    pub diagnostics: Vec<JsonDiagnostic>,
}

#[derive(Debug, serde::Serialize)]
pub struct JsonDiagnostic {
    /// `error` or `warning`.
    pub severity: &'static str,
    pub summary: String,
    /// What to do about it (the help line); empty when there is none.
    pub detail: String,
    /// Where: the first labelled span (absent when the problem has no place).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<JsonRange>,
    /// Every labelled span with its label.
    pub labels: Vec<JsonLabel>,
}

#[derive(Debug, serde::Serialize)]
pub struct JsonLabel {
    pub message: String,
    pub range: JsonRange,
}

#[derive(Debug, serde::Serialize)]
pub struct JsonRange {
    pub filename: String,
    pub start: JsonPos,
    pub end: JsonPos,
}

/// Line and column from 1 (columns count characters), byte offset from 0.
#[derive(Debug, serde::Serialize)]
pub struct JsonPos {
    pub line: usize,
    pub column: usize,
    pub byte: usize,
}

impl Validation {
    /// A file that could not be read or found: one error without a place.
    pub fn failed(summary: String, detail: Option<String>) -> Validation {
        Validation::of(vec![JsonDiagnostic {
            severity: "error",
            summary,
            detail: detail.unwrap_or_default(),
            range: None,
            labels: Vec::new(),
        }])
    }

    fn of(diagnostics: Vec<JsonDiagnostic>) -> Validation {
        let errors = diagnostics.iter().filter(|d| d.severity == "error").count();
        Validation {
            format_version: "1.0",
            valid: errors == 0,
            error_count: errors,
            warning_count: diagnostics.len() - errors,
            diagnostics,
        }
    }
}

impl Report {
    /// The problems as `validate --json` prints them.
    pub fn to_json(&self) -> Validation {
        let pos = |byte: usize| {
            let byte = byte.min(self.text.len());
            let before = self.text.get(..byte).unwrap_or("");
            let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
            JsonPos {
                line: before.matches('\n').count() + 1,
                column: before[line_start..].chars().count() + 1,
                byte,
            }
        };
        let range = |span: &SourceSpan| JsonRange {
            filename: self.file.clone(),
            start: pos(span.offset()),
            end: pos(span.offset() + span.len()),
        };
        Validation::of(
            self.items
                .iter()
                .map(|i| {
                    let p = &i.problem;
                    JsonDiagnostic {
                        severity: if p.warning { "warning" } else { "error" },
                        summary: p.message.clone(),
                        detail: p.help.clone().unwrap_or_default(),
                        range: p.labels.first().map(|(s, _)| range(s)),
                        labels: p
                            .labels
                            .iter()
                            .map(|(s, t)| JsonLabel {
                                message: t.clone(),
                                range: range(s),
                            })
                            .collect(),
                    }
                })
                .collect(),
        )
    }
}

/// A miette span for a serde-saphyr location.
pub fn span(loc: &Location, text: &str) -> SourceSpan {
    let s = loc.span();
    let offset = s.byte_offset().map(|o| o as usize).unwrap_or_else(|| {
        // Character offsets when byte offsets are unknown.
        text.char_indices()
            .nth(s.offset() as usize)
            .map(|(i, _)| i)
            .unwrap_or(text.len())
    });
    let len = s.byte_len().map(|l| l as usize).unwrap_or_else(|| {
        // A length in characters, from the offset.
        text.get(offset.min(text.len())..)
            .unwrap_or("")
            .chars()
            .take(s.len() as usize)
            .map(char::len_utf8)
            .sum()
    });
    char_span(text, offset, len)
}

/// A span inside `text` on character boundaries (never less than one character where there
/// is one): miette renders the excerpt by slicing the text there.
pub fn char_span(text: &str, offset: usize, len: usize) -> SourceSpan {
    let mut start = offset.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = start.saturating_add(len).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end == start && start < text.len() {
        end = start
            + text[start..]
                .chars()
                .next()
                .map(char::len_utf8)
                .unwrap_or(0);
    }
    (start, end - start).into()
}

/// The closest candidate, when close enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (c, strsim::jaro_winkler(word, c)))
        .filter(|(_, score)| *score > 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}
