//! Diagnostics on a source file (the manifest): one or many problems, each with labelled
//! spans and a help line, rendered by miette with the file's name, line and column.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};
use serde_saphyr::Location;

/// One problem in a file.
#[derive(Debug, Clone)]
pub struct Problem {
    pub message: String,
    pub labels: Vec<(SourceSpan, String)>,
    pub help: Option<String>,
    /// A warning: the file is valid, but something needs doing before it is used.
    pub warning: bool,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            labels: Vec::new(),
            help: None,
            warning: false,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Problem {
            warning: true,
            ..Problem::new(message)
        }
    }

    pub fn label(mut self, span: impl Into<SourceSpan>, text: impl Into<String>) -> Self {
        self.labels.push((span.into(), text.into()));
        self
    }

    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }
}

/// A problem bound to its file, so miette can show the snippet (`None`: no excerpt).
#[derive(Debug, Clone)]
pub struct Located {
    problem: Problem,
    source: Option<Arc<NamedSource<String>>>,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for Located {}

impl Diagnostic for Located {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.problem.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem
            .help
            .as_ref()
            .map(|h| Box::new(h.as_str()) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.problem.labels.is_empty() || self.source.is_none() {
            return None;
        }
        Some(Box::new(self.problem.labels.iter().map(|(span, text)| {
            LabeledSpan::new_with_span(Some(text.clone()), *span)
        })))
    }
}

/// All problems found in one file. One problem renders as itself; several render as a
/// summary with each problem below it.
#[derive(Debug, Clone)]
pub struct Report {
    file: String,
    /// The file's text (masked), for line and column numbers.
    text: Arc<str>,
    items: Vec<Located>,
    /// What to do once the problems are fixed (default: run `cdxs validate` again).
    next: Option<String>,
}

impl Report {
    /// The problems of one file. A diagnostic never shows a secret: words that look like a
    /// key or a token are masked in the excerpt (byte for byte, so spans stay right) and
    /// replaced in messages, and control characters from the file are escaped.
    pub fn new(
        file_name: impl Into<String>,
        text: impl Into<String>,
        problems: Vec<Problem>,
    ) -> Self {
        let file = file_name.into();
        let masked = crate::secret::mask(&text.into());
        let source = Arc::new(NamedSource::new(clean(&file), masked.clone()));
        Report {
            file,
            text: Arc::from(masked),
            next: None,
            items: problems
                .into_iter()
                .map(|p| Located {
                    problem: Problem {
                        message: clean(&p.message),
                        labels: p.labels.into_iter().map(|(s, t)| (s, clean(&t))).collect(),
                        help: p.help.as_deref().map(clean),
                        warning: p.warning,
                    },
                    source: Some(source.clone()),
                })
                .collect(),
        }
    }

    /// The same problems without any excerpt of the file (for a file that is not a YAML
    /// manifest: an auth.json, a `.env` passed with `-f` by mistake).
    pub fn without_source(mut self) -> Self {
        let file = clean(&self.file);
        for item in &mut self.items {
            item.source = None;
            item.problem.message = format!("`{file}`: {}", item.problem.message);
            item.problem.help = Some(format!(
                "{}{}is this a cdxs manifest? Its name does not end in `.yaml` or `.yml`, so no line of it is shown",
                item.problem.help.as_deref().unwrap_or(""),
                if item.problem.help.is_some() {
                    "; "
                } else {
                    ""
                }
            ));
        }
        self
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The same problems, each an error (a warning of `validate` that stops `plan`).
    pub fn as_errors(&self) -> Report {
        let mut r = self.clone();
        for i in &mut r.items {
            i.problem.warning = false;
        }
        r.next = Some("set the variables where this command runs, then run it again".into());
        r
    }

    /// What to do once the problems are fixed.
    pub fn next(&self) -> &str {
        self.next
            .as_deref()
            .unwrap_or("fix them, then run `cdxs validate` again")
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Each problem as its own diagnostic (rendered one after another).
    pub fn diagnostics(&self) -> impl Iterator<Item = &dyn Diagnostic> {
        self.items.iter().map(|i| i as &dyn Diagnostic)
    }

    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn messages(&self) -> Vec<&str> {
        self.items
            .iter()
            .map(|i| i.problem.message.as_str())
            .collect()
    }

    fn single(&self) -> Option<&Located> {
        (self.items.len() == 1).then(|| &self.items[0])
    }

    pub fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match self.single() {
            Some(one) => one.help(),
            None => Some(Box::new(self.next())),
        }
    }

    pub fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.items.first().and_then(|i| i.source_code())
    }

    pub fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.single().and_then(|one| one.labels())
    }

    pub fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        if self.items.len() < 2 {
            return None;
        }
        Some(Box::new(self.items.iter().map(|i| i as &dyn Diagnostic)))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.single() {
            Some(one) => write!(f, "{one}"),
            None => write!(f, "`{}` has {} problems", self.file, self.items.len()),
        }
    }
}

impl std::error::Error for Report {}

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

/// Text of a diagnostic: no secrets, no terminal control characters.
fn clean(text: &str) -> String {
    crate::output::sanitize(&crate::secret::redact(text)).into_owned()
}
