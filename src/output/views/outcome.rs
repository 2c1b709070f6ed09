//! What a command that changes something did, as `--json` prints it: one versioned object
//! with the same keys for every command (`command`, `changed`, `generation`, `actions`),
//! and the command's own details beside them. Never a secret: accounts appear as id, name,
//! kind and email; keys and tokens not at all.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::reconcile::apply::{Done, Report};
use crate::reconcile::engine::{Applied, Switched};
use crate::vault::Account;

/// One action done (`address`, what it did, the backup of what it replaced).
#[derive(Debug, Clone, Serialize)]
pub struct DoneView {
    pub address: String,
    pub message: String,
    pub backup: Option<PathBuf>,
}

impl From<&Done> for DoneView {
    fn from(d: &Done) -> Self {
        DoneView {
            address: d.address.to_string(),
            message: d.message.clone(),
            backup: d.backup.clone(),
        }
    }
}

/// An account as outcomes name it (no secret).
#[derive(Debug, Clone, Serialize)]
pub struct AccountRef {
    pub id: String,
    pub name: String,
    /// `oauth` or `apikey`.
    pub kind: &'static str,
    pub email: Option<String>,
}

impl From<&Account> for AccountRef {
    fn from(a: &Account) -> Self {
        AccountRef {
            id: a.id.clone(),
            name: a.name().to_string(),
            kind: a.kind.as_str(),
            email: a.email.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The command, as typed after `cdxs` (`apply`, `session trash`, ...).
    pub command: String,
    /// Whether anything changed (a file, a database, the vault, cdxs.yaml).
    pub changed: bool,
    /// The journal generation it recorded (`cdxs history GEN`), if any.
    pub generation: Option<i64>,
    /// The actions done, in order.
    pub actions: Vec<DoneView>,
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl Outcome {
    pub fn new(command: &str) -> Outcome {
        Outcome {
            command: command.to_string(),
            changed: false,
            generation: None,
            actions: Vec::new(),
            details: Map::new(),
        }
    }

    /// Add a detail (anything serializable; `null` when it cannot be encoded).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Outcome {
        self.details.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Add every field of `value` (an object) as a detail.
    pub fn fields(mut self, value: impl Serialize) -> Outcome {
        if let Ok(Value::Object(map)) = serde_json::to_value(value) {
            self.details.extend(map);
        }
        self
    }

    pub fn changed(mut self, changed: bool) -> Outcome {
        self.changed |= changed;
        self
    }

    /// What one executor run did (several runs add up: the latest generation is kept).
    pub fn report(mut self, r: &Report) -> Outcome {
        self.actions.extend(r.done.iter().map(DoneView::from));
        if r.generation.is_some() {
            self.generation = r.generation;
            self.changed = true;
        }
        self
    }

    /// What an apply did: its report, and why the plan was made again if it was.
    pub fn applied(self, a: &Applied) -> Outcome {
        let notes: Vec<String> = a
            .plan
            .notes
            .iter()
            .map(|n| format!("{}: {}", n.address, n.message))
            .collect();
        self.report(&a.report)
            .with("summary", a.plan.summary())
            .with("replanned", &a.replanned)
            .with("notes", notes)
    }

    /// What `switch` (and `home bind`, `--switch`) did.
    pub fn switched(self, s: &Switched) -> Outcome {
        match s {
            Switched::Manifest {
                home,
                alias,
                edit,
                applied,
            } => {
                let o = self
                    .changed(edit.is_some())
                    .with("home", home)
                    .with("alias", alias)
                    .with("manifest_edit", edit);
                match applied {
                    Some(a) => o.applied(a),
                    None => o,
                }
            }
            Switched::Folder {
                path,
                account,
                report,
            } => self
                .report(report)
                .with("folder", path)
                .with("account", AccountRef::from(account.as_ref())),
        }
    }
}
