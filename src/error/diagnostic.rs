//! Problems in one source file (the manifest), each with labelled spans and a help line,
//! rendered by miette with the file's name, line and column. Part of the error leaf: any
//! layer may report them; the manifest is where they come from today.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceSpan};

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
    pub(crate) problem: Problem,
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
    pub(crate) file: String,
    /// The file's text (masked), for line and column numbers.
    pub(crate) text: Arc<str>,
    pub(crate) items: Vec<Located>,
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
        let masked = crate::text::mask(&text.into());
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

/// Text of a diagnostic: no secrets, no terminal control characters.
fn clean(text: &str) -> String {
    crate::text::sanitize(&crate::text::redact(text)).into_owned()
}
