//! How errors and file diagnostics reach a person: miette's graphical report, coloured on a
//! terminal, wrapped to it, never wrapped when piped (logs and scripts grep it).

use std::fmt;

use crate::error::Error;
use crate::output::Printer;

/// An error with the shell's hint, for miette.
struct Shown<'a> {
    err: &'a Error,
    help: Option<String>,
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.err, f)
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.err, f)
    }
}

impl std::error::Error for Shown<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.err)
    }
}

impl miette::Diagnostic for Shown<'_> {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        match &self.help {
            Some(h) => Some(Box::new(h.as_str())),
            None => miette::Diagnostic::help(self.err),
        }
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        miette::Diagnostic::source_code(self.err)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        miette::Diagnostic::labels(self.err)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        miette::Diagnostic::related(self.err)
    }
}

/// Render the warnings of a file (`validate`), each with its span and help line.
pub fn warnings(printer: &Printer, report: &crate::manifest::diagnostics::Report) {
    let handler = handler(printer);
    let mut out = String::new();
    for d in report.diagnostics() {
        if handler.render_report(&mut out, d).is_err() {
            out.push_str(&format!("warning: {d}\n"));
        }
    }
    eprint!("{out}");
}

fn handler(printer: &Printer) -> miette::GraphicalReportHandler {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if printer.color_stderr() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    // Wrap for people on a terminal; never wrap when piped (logs, scripts, tests grep it).
    let width = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .filter(|w: &usize| (20..=1000).contains(w))
            .unwrap_or(100)
    } else {
        usize::MAX / 2
    };
    GraphicalReportHandler::new_themed(theme).with_width(width)
}

/// Render an error for a person: message, causes, labelled spans, and `help` (else the
/// error's own help line).
pub fn report(printer: &Printer, err: &Error, help: Option<String>) {
    let handler = handler(printer);
    let mut out = String::new();
    if let Error::Plan { errors } = err {
        out.push_str(&crate::output::views::plan::render_plan_errors(
            errors, printer,
        ));
    }
    // Several problems in one file: each as its own report, then one summary line.
    if let Error::Diagnostics(report) = err
        && report.len() > 1
    {
        for d in report.diagnostics() {
            if handler.render_report(&mut out, d).is_err() {
                out.push_str(&format!("error: {d}\n"));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "error: `{}` has {} problems; {}\n",
            report.file(),
            report.len(),
            report.next()
        ));
    } else {
        let shown = Shown { err, help };
        if handler.render_report(&mut out, &shown).is_err() {
            out = format!("error: {err}\n");
        }
    }
    eprint!("{out}");
}
