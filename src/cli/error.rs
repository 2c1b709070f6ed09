//! How errors reach a person: the core returns typed errors; the hints that name commands
//! are added here, and the exit code comes from the error (the table is in `error.rs`).

use std::fmt;

use crate::error::Error;
use crate::output::Printer;
use crate::resolve::ResolveError;

/// The next step for a typed core error.
pub fn hint(err: &Error) -> Option<String> {
    Some(match err {
        Error::Resolve(r) => match r {
            ResolveError::Empty => return None,
            ResolveError::NoMatch { .. } => "see `cdxs account list`; accounts are named by alias, id, email or a unique email prefix".into(),
            ResolveError::Ambiguous { .. } => "give more of the email, or the id".into(),
            ResolveError::AliasUnknown { .. } => {
                "import or log in to it first (`cdxs import auth`, `cdxs login oauth`)".into()
            }
            ResolveError::AliasAmbiguous { .. } => {
                "add `workspace:` to the alias in cdxs.yaml".into()
            }
        },
        Error::Stale { saved: true, .. } => {
            "make a new plan with `cdxs plan --out FILE` and review it".into()
        }
        Error::Stale { saved: false, .. } => "run the command again to see the new plan".into(),
        Error::NoManifest { explicit: true, .. } => {
            "create it with `cdxs init`, or point `-f` at an existing cdxs.yaml".into()
        }
        Error::NoManifest { explicit: false, .. } => {
            "run `cdxs init` to create one from your current Codex setup".into()
        }
        Error::UnknownHome {
            suggestion: Some(s),
            ..
        } => format!("did you mean `{s}`?"),
        Error::UnknownHome { declared, .. } if declared.is_empty() => {
            "declare one with `cdxs home create NAME --path PATH`".into()
        }
        Error::UnknownHome { declared, .. } => format!("declared homes: {}", declared.join(", ")),
        Error::NeedsLogin { account, .. } => format!(
            "log in again with `cdxs login oauth` (as {}); until then cdxs writes this login nowhere",
            crate::output::sanitize(account)
        ),
        Error::Plan { .. } => {
            "fix them (cdxs.yaml, the vault, or the environment), then run `cdxs plan` again".into()
        }
        Error::LiveElsewhere {
            home: Some(h), ..
        } => format!(
            "run Codex in that home with `cdxs run --home {h} -- codex`, or bind the login to another home in cdxs.yaml"
        ),
        Error::LiveElsewhere { home: None, .. } => {
            "pass `--move` to move it here (the other folder's auth.json is removed, with a backup)".into()
        }
        Error::Action {
            source: Some(inner),
            help,
            ..
        } => match (hint(inner), help) {
            (Some(h), Some(journal)) => format!("{h}; {journal}"),
            (Some(h), None) => h,
            (None, Some(journal)) => journal.clone(),
            (None, None) => return None,
        },
        _ => return None,
    })
}

/// The help line a person sees under `err` (the shell's hint, else the error's own).
pub fn help(err: &Error) -> Option<String> {
    hint(err).or_else(|| miette::Diagnostic::help(err).map(|h| h.to_string()))
}

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

/// Render an error for a person: message, causes, labelled spans, help line.
pub fn report(printer: &Printer, err: &Error) {
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
        let shown = Shown {
            err,
            help: hint(err),
        };
        if handler.render_report(&mut out, &shown).is_err() {
            out = format!("error: {err}\n");
        }
    }
    eprint!("{out}");
}
