//! An error as `--json` prints it: one object on stdout instead of miette's text on
//! stderr, with a stable `kind`, the message, the next step and the exit code.

use serde::Serialize;

use crate::error::Error;

#[derive(Debug, Serialize)]
pub struct ErrorDoc {
    pub error: ErrorView,
}

#[derive(Debug, Serialize)]
pub struct ErrorView {
    /// Stable: `user`, `usage`, `lock_timeout`, `manifest`, `plan`, `account`, ...
    pub kind: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub exit_code: u8,
    /// What caused it, outermost first (each a message of its own).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// `plan`: every problem plan found, each at its address.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<crate::error::PlanProblem>,
    /// `manifest`: every problem in the file, in `validate --json`'s shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<crate::manifest::diagnostics::Validation>,
}

impl ErrorDoc {
    /// `help`: the shell's hint (it names commands), else the error's own.
    pub fn of(err: &Error, help: Option<String>) -> ErrorDoc {
        let mut causes = Vec::new();
        let mut cause = std::error::Error::source(err);
        while let Some(c) = cause {
            causes.push(c.to_string());
            cause = c.source();
        }
        ErrorDoc {
            error: ErrorView {
                kind: err.kind(),
                message: err.to_string(),
                help,
                exit_code: err.exit().code(),
                causes,
                problems: match err {
                    Error::Plan { errors } => errors.clone(),
                    _ => Vec::new(),
                },
                diagnostics: match err {
                    Error::Diagnostics(report) => Some(report.to_json()),
                    _ => None,
                },
            },
        }
    }

    /// A usage error (clap's), before any command ran.
    pub fn usage(message: &str) -> ErrorDoc {
        let mut lines = message.lines().map(str::trim).filter(|l| !l.is_empty());
        let mut first = lines.next().unwrap_or("bad arguments").to_string();
        // "the following required arguments were not provided:" names them on the next
        // lines, before `Usage:`.
        if first.ends_with(':') {
            let named: Vec<&str> = message
                .lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .map(str::trim)
                .collect();
            first = format!("{first} {}", named.join(", "));
        }
        let help = lines
            .find(|l| l.starts_with("tip:") || l.starts_with("For more information"))
            .map(|l| l.trim_start_matches("tip:").trim().to_string());
        ErrorDoc {
            error: ErrorView {
                kind: "usage",
                message: first.trim_start_matches("error:").trim().to_string(),
                help,
                exit_code: crate::error::Exit::Error.code(),
                causes: Vec::new(),
                problems: Vec::new(),
                diagnostics: None,
            },
        }
    }

    /// A bug in cdxs (a panic): said as briefly as on stderr.
    pub fn internal(message: String) -> ErrorDoc {
        ErrorDoc {
            error: ErrorView {
                kind: "internal",
                message,
                help: Some("this is a bug in cdxs; please report it".into()),
                exit_code: crate::error::Exit::Error.code(),
                causes: Vec::new(),
                problems: Vec::new(),
                diagnostics: None,
            },
        }
    }
}
