//! `sync.targets` of the manifest as plan actions: `sync.<target>.pull` when the server
//! has revisions this machine has not seen, `sync.<target>.push` when the vault has
//! changes the server has not. The engine observes with [`observe`], plans with the pure
//! [`actions`], and applies with [`apply`]; `watch` runs them like any other action.

use super::client::SyncClient;
use super::ops;
use crate::error::Result;
use crate::manifest::SyncTarget;
use crate::vault::Vault;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Pull,
    Push,
}

/// What observe found for one declared target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub name: String,
    /// Logged in, with a sync key.
    pub ready: bool,
    pub local_revision: i64,
    /// `None` when offline (or not asked).
    pub remote_revision: Option<i64>,
    pub pending: usize,
}

/// One planned sync action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Action {
    /// `sync.<target>.pull` or `sync.<target>.push`.
    pub address: String,
    pub target: String,
    pub direction: Direction,
    pub description: String,
}

/// Read the state of each declared target that shares accounts: the vault's cursor and
/// pending changes, and (when `online`) the server's revision.
pub fn observe(vault: &Vault, targets: &[SyncTarget], online: bool) -> Result<Vec<Observed>> {
    let mut out = Vec::new();
    for d in targets.iter().filter(|t| t.share_accounts) {
        let Some(t) = vault.sync_target(&d.name)? else {
            out.push(Observed {
                name: d.name.clone(),
                ready: false,
                local_revision: 0,
                remote_revision: None,
                pending: 0,
            });
            continue;
        };
        let ready = t.token.is_some() && t.key.is_some();
        let remote_revision = match (&t.token, online && ready) {
            (Some(token), true) => SyncClient::new(&t.server_url, Some(token.clone()))
                .ok()
                .and_then(|c| c.remote_revision(t.revision).ok()),
            _ => None,
        };
        out.push(Observed {
            name: d.name.clone(),
            ready,
            local_revision: t.revision,
            remote_revision,
            pending: ops::pending(vault, &t)?.unwrap_or(0),
        });
    }
    Ok(out)
}

/// Pure: the actions for what was observed (a pull before a push of the same target).
pub fn actions(observed: &[Observed]) -> Vec<Action> {
    actions_with(observed, false)
}

/// [`actions`] for a plan that also writes or takes out ChatGPT logins in this machine's
/// folders (`logins_move`): a push follows even with nothing pending yet, so that the other
/// machines learn where the logins are live now from the same run.
pub fn actions_with(observed: &[Observed], logins_move: bool) -> Vec<Action> {
    let mut out = Vec::new();
    for o in observed.iter().filter(|o| o.ready) {
        if let Some(remote) = o.remote_revision
            && remote > o.local_revision
        {
            out.push(Action {
                address: format!("sync.{}.pull", o.name),
                target: o.name.clone(),
                direction: Direction::Pull,
                description: format!(
                    "pull revisions {}..{} of the synced accounts",
                    o.local_revision + 1,
                    remote
                ),
            });
        }
        if o.pending > 0 {
            out.push(Action {
                address: format!("sync.{}.push", o.name),
                target: o.name.clone(),
                direction: Direction::Push,
                description: format!(
                    "push {} changed account{} (end-to-end encrypted)",
                    o.pending,
                    if o.pending == 1 { "" } else { "s" }
                ),
            });
        } else if logins_move {
            out.push(Action {
                address: format!("sync.{}.push", o.name),
                target: o.name.clone(),
                direction: Direction::Push,
                description: "push where this machine has its ChatGPT logins live after these writes (end-to-end encrypted)".into(),
            });
        }
    }
    out
}

/// Run one action; a one-line summary for the journal.
pub fn apply(vault: &mut Vault, action: &Action, now: i64) -> Result<String> {
    Ok(match action.direction {
        Direction::Pull => {
            let r = ops::pull(vault, Some(&action.target), false, now)?;
            format!(
                "pulled to revision {}: {} new, {} updated, {} removed",
                r.revision, r.created, r.updated, r.deleted
            )
        }
        Direction::Push => {
            let r = ops::push(vault, Some(&action.target), false, now)?;
            format!(
                "pushed {} account(s), {} deletion(s): revision {}",
                r.pushed, r.deleted, r.revision
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(name: &str, ready: bool, local: i64, remote: Option<i64>, pending: usize) -> Observed {
        Observed {
            name: name.into(),
            ready,
            local_revision: local,
            remote_revision: remote,
            pending,
        }
    }

    #[test]
    fn plans_pull_before_push_and_nothing_when_in_step() {
        let a = actions(&[o("home", true, 3, Some(5), 2)]);
        let addrs: Vec<&str> = a.iter().map(|a| a.address.as_str()).collect();
        assert_eq!(addrs, ["sync.home.pull", "sync.home.push"]);
        assert!(a[0].description.contains("4..5"), "{}", a[0].description);
        assert!(actions(&[o("home", true, 5, Some(5), 0)]).is_empty());
        // Offline: no pull planned, a push still is (apply reports the failure).
        assert_eq!(actions(&[o("home", true, 5, None, 1)]).len(), 1);
        // Not logged in or no key: nothing.
        assert!(actions(&[o("home", false, 0, Some(9), 3)]).is_empty());
        // Logins written here: the other machines hear where they are live in the same run.
        let a = actions_with(&[o("home", true, 5, Some(5), 0)], true);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].direction, Direction::Push);
        assert_eq!(
            actions_with(&[o("home", true, 5, Some(5), 2)], true).len(),
            1
        );
    }
}
