//! How errors reach a person: the core returns typed errors; the hints that name commands
//! are added here, and the exit code comes from the error (the table is in `error.rs`).

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
        Error::LiveOnAnotherMachine { let_go, .. } => format!(
            "{let_go}, then run `cdxs sync push` there; here, run `cdxs sync pull` and try again (`--move` does not move a login between machines)"
        ),
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

/// Render an error for a person: message, causes, labelled spans, and the shell's hint as
/// its help line.
/// Under `--json` the error is one JSON object on stdout (unless the command already printed
/// its document there: then stdout stays one document and the error goes to stderr as text).
pub fn report(printer: &Printer, err: &Error) {
    if printer.json && !crate::output::json_printed() {
        printer.json(&crate::output::views::error::ErrorDoc::of(err, help(err)));
        return;
    }
    crate::output::errors::report(printer, err, hint(err));
}
