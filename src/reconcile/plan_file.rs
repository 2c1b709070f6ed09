//! Saved plans (`plan --out FILE`, `apply FILE`): versioned JSON, written 0600, and data from
//! outside when read back. `apply FILE` runs a saved action only when the plan made again
//! from the current manifest has the very same operation (same address, same paths, same
//! account): a hand-edited path or account is refused, never executed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Action, Op, Plan, Summary};
use crate::error::{Error, Result, tick};

/// The JSON shape of `plan --json` and of a saved plan file.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanDoc {
    pub format: String,
    pub plan: Plan,
    pub summary: Summary,
    pub has_changes: bool,
}

pub const PLAN_FORMAT: &str = "cdxs-plan";

impl PlanDoc {
    pub fn new(plan: Plan) -> PlanDoc {
        PlanDoc {
            format: PLAN_FORMAT.into(),
            summary: plan.summary(),
            has_changes: plan.has_changes(),
            plan,
        }
    }
}

/// Save a plan (no secrets in it, but paths and names: 0600 like everything cdxs keeps).
pub fn write(path: &Path, doc: &PlanDoc) -> Result<()> {
    let text = serde_json::to_string_pretty(&crate::text::versioned(doc))
        .map_err(|e| Error::user(format!("cannot encode the plan: {e}")))?;
    crate::fsx::write_atomic(path, text.as_bytes(), crate::fsx::SECRET_FILE_MODE)
}

/// Read a saved plan; anything but a cdxs plan of version 1 is refused.
pub fn read(path: &Path) -> Result<Plan> {
    parse(&crate::fsx::read_bounded(path, 16 * 1024 * 1024)?, path)
}

/// A saved plan's bytes (`path` only names it in messages): what the fuzz target feeds.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Plan> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::user(format!("{} is not a cdxs plan: {e}", tick(path)))
            .with_help("save one with `cdxs plan --out FILE`")
    })?;
    if value.get("version").and_then(|v| v.as_u64()) != Some(1)
        || value.get("format").and_then(|v| v.as_str()) != Some(PLAN_FORMAT)
    {
        return Err(
            Error::user(format!("{} is not a cdxs plan (version 1)", tick(path)))
                .with_help("save one with `cdxs plan --out FILE`"),
        );
    }
    let doc: PlanDoc = serde_json::from_value(value).map_err(|e| {
        Error::user(format!("{} is a damaged cdxs plan: {e}", tick(path)))
            .with_help("make a new one with `cdxs plan --out FILE`")
    })?;
    Ok(doc.plan)
}

/// Two operations are the same work (a refresh may differ only in being forced).
fn same_op(a: &Op, b: &Op) -> bool {
    match (a, b) {
        (Op::Refresh { account_id: x, .. }, Op::Refresh { account_id: y, .. }) => x == y,
        _ => a == b,
    }
}

/// The saved plan's actions, each checked against the plan made again now: `Err` names the
/// first one that the current manifest does not give (a tampered or outdated file).
/// What the saved plan observed and accepted is replaced by what was made now.
pub fn verify(saved: Plan, derived: &Plan) -> Result<Plan> {
    let stale = |why: String| Error::Stale { why, saved: true };
    if saved.manifest_fingerprint != derived.manifest_fingerprint {
        return Err(stale(format!(
            "{} changed since the plan was made",
            tick(&derived.manifest)
        )));
    }
    for (name, now) in &derived.observed {
        if saved.observed.get(name) != Some(now) {
            return Err(stale(format!(
                "home `{name}` ({}) changed since the plan was made",
                crate::paths::display(&now.path)
            )));
        }
    }
    if let Some(name) = saved
        .observed
        .keys()
        .find(|n| !derived.observed.contains_key(*n))
    {
        return Err(stale(format!("home `{name}` is no longer declared")));
    }
    let mut checked: Vec<Action> = Vec::with_capacity(saved.actions.len());
    for a in saved.actions {
        let matches = derived
            .actions
            .iter()
            .any(|d| d.address == a.address && same_op(&d.op, &a.op));
        if !matches {
            return Err(stale(format!(
                "its action `{}` is not what cdxs.yaml gives now (the file was edited, or the setup changed)",
                a.address
            )));
        }
        // Run what was derived (its descriptions and diffs too), never the file's text.
        let d = derived
            .actions
            .iter()
            .find(|d| d.address == a.address && same_op(&d.op, &a.op))
            .cloned()
            .unwrap_or(a);
        checked.push(d);
    }
    Ok(Plan {
        actions: checked,
        observed: derived.observed.clone(),
        accepted: derived.accepted.clone(),
        manifest: derived.manifest.clone(),
        manifest_fingerprint: derived.manifest_fingerprint.clone(),
        drift: derived.drift.clone(),
        notes: derived.notes.clone(),
        errors: derived.errors.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::{ActionKind, CredentialSource};
    use std::path::PathBuf;

    fn write_auth(path: &str) -> Action {
        Action {
            address: "home.default.auth".parse().unwrap(),
            kind: ActionKind::Update,
            description: "switch auth.json to me".into(),
            changes: vec![],
            op: Op::WriteAuth {
                home: crate::reconcile::HomeId::Named("default".into()),
                path: PathBuf::from(path),
                source: CredentialSource::Vault {
                    account_id: "oauth_me".into(),
                },
                expect: None,
                any: false,
                switch: false,
            },
        }
    }

    fn plan(actions: Vec<Action>) -> Plan {
        Plan {
            manifest: PathBuf::from("/c/cdxs.yaml"),
            manifest_fingerprint: "f".into(),
            actions,
            drift: vec![],
            errors: vec![],
            notes: vec![],
            observed: Default::default(),
            accepted: vec![],
        }
    }

    #[test]
    fn a_saved_action_must_be_what_the_manifest_gives() {
        let derived = plan(vec![write_auth("/h/.codex")]);
        assert!(verify(plan(vec![write_auth("/h/.codex")]), &derived).is_ok());
        // The address still says home.default.auth; the path was edited.
        let tampered = plan(vec![write_auth("/home/me/.config/autostart")]);
        match verify(tampered, &derived) {
            Err(Error::Stale { why, saved: true }) => {
                assert!(why.contains("home.default.auth"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn plan_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plan.json");
        write(&p, &PlanDoc::new(plan(vec![write_auth("/h")]))).unwrap();
        assert_eq!(
            crate::fsx::mode_of(&p),
            crate::platform::fs::HAS_MODES.then_some(0o600)
        );
        assert_eq!(read(&p).unwrap().actions.len(), 1);
    }
}
