//! Progress of long work, drawn by the Printer: a bar for long applies (on a terminal),
//! warnings and details as lines.

use crate::output::{Printer, sanitize};
use crate::reconcile::engine::Progress;

/// [`Progress`] drawn by the Printer: a bar for long applies (on a terminal), warnings and
/// details as lines.
pub struct Bar {
    printer: Printer,
    what: String,
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    pub fn new(printer: &Printer, what: &str) -> Bar {
        Bar {
            printer: printer.clone(),
            what: what.to_string(),
            bar: None,
        }
    }
}

impl Progress for Bar {
    fn start(&mut self, n: usize) {
        self.bar = Some(self.printer.progress(n, &self.what));
    }

    fn action(&mut self, a: &crate::reconcile::Action) {
        match &self.bar {
            Some(b) if !b.is_hidden() => b.inc(1),
            _ => self
                .printer
                .detail(format!("{}: {}", a.address, sanitize(&a.description))),
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    fn warn(&mut self, message: String) {
        self.printer.warn(sanitize(&message));
    }

    fn detail(&mut self, message: String) {
        self.printer.detail(sanitize(&message));
    }

    fn status(&mut self, message: String) {
        self.printer.status(sanitize(&message));
    }
}
