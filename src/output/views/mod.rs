//! What commands show: each view is data (serialized as is for `--json`) with a rendering
//! for people. Handlers build a view and hand it to [`Printer::emit`]; nothing prints
//! around the Printer.

use serde::Serialize;

use super::Printer;

pub mod accounts;
pub mod doctor;
pub mod error;
pub mod history;
pub mod homes;
pub mod outcome;
pub mod plan;
pub mod report;
pub mod sessions;
pub mod status;
pub mod sync;
pub mod vault;

/// A listing: JSON as serialized, or text for a person.
pub trait View: Serialize {
    fn human(&self, p: &Printer) -> String;
}

impl Printer {
    /// Print `view` as versioned JSON (`--json`) or as text.
    pub fn emit<V: View>(&self, view: &V) {
        if self.json {
            self.json(view);
        } else {
            let text = view.human(self);
            let text = text.trim_end();
            if !text.is_empty() {
                self.out(text);
            }
        }
    }
}
