//! Questions on a terminal: a list to pick from (dialoguer's `Select`, drawn on stderr,
//! arrows or j/k to move, enter to take, esc or q to cancel). Asked only when stdin and
//! stderr are terminals; otherwise commands do what they do without one.

use std::io::IsTerminal;

use crate::error::{Error, Result};
use crate::output::Printer;

/// Whether a question can be asked: stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The width a picker's rows may take on stderr's terminal.
pub fn width() -> Option<usize> {
    console::Term::stderr()
        .size_checked()
        .map(|(_, cols)| usize::from(cols).saturating_sub(4))
}

/// Let the person pick one of `rows` (`preselected` highlighted first), under `question`
/// and a `header` line. `None`: cancelled.
pub fn pick(
    p: &Printer,
    question: &str,
    header: &str,
    rows: &[String],
    preselected: usize,
) -> Result<Option<usize>> {
    let colourful = dialoguer::theme::ColorfulTheme::default();
    let plain = dialoguer::theme::SimpleTheme;
    let theme: &dyn dialoguer::theme::Theme = if p.color_stderr() { &colourful } else { &plain };
    p.ask(format!("{question}\n  {header}"));
    dialoguer::Select::with_theme(theme)
        .items(rows)
        .default(preselected.min(rows.len().saturating_sub(1)))
        .interact_on_opt(&console::Term::stderr())
        .map_err(|e| Error::user(format!("cannot ask on this terminal: {e}")))
}
