//! Tokens before writes: take newer tokens Codex rotated into a home (harvest), refresh a
//! login about to expire before it is written.

use crate::reconcile::{AccountPart, Address};
use std::cmp::Ordering;

use super::Planner;
use crate::reconcile::observe::{AccountObs, AuthObs, CredObs, HomeObs};
use crate::reconcile::{Action, ActionKind, Note, Op};
use crate::vault::AccountKind;
use crate::vault::freshness;

impl Planner<'_> {
    /// A home holds a vault login whose tokens are newer than the vault's copy.
    pub(super) fn harvest_from(&mut self, name: &str, obs: &HomeObs) {
        let AuthObs::Credentials(CredObs::ChatGpt {
            freshness: file,
            account_id: Some(id),
            refresh_fingerprint,
            ..
        }) = &obs.auth
        else {
            return;
        };
        let Some(vault) = self.o.account(id) else {
            return;
        };
        if vault.secret_fingerprint.as_deref() == Some(refresh_fingerprint.as_str())
            || self.o.spent.contains(refresh_fingerprint)
            || freshness::compare(file, &vault.freshness) != Ordering::Greater
            || self.harvested.contains_key(id)
        {
            return;
        }
        self.harvested.insert(id.clone(), *file);
        self.reads.push(Action {
            address: Address::account(&self.alias_of(id), AccountPart::Harvest),
            kind: ActionKind::Read,
            description: format!(
                "take the newer tokens Codex wrote into home `{name}` into the vault (Codex rotated them)"
            ),
            changes: vec![],
            op: Op::Harvest {
                home: crate::reconcile::HomeId::Named(name.to_string()),
                path: obs.path.clone(),
                account_id: id.clone(),
            },
        });
    }

    /// A login written into a home is refreshed first when it is due within the refresh
    /// window (Codex's own 5 minutes; `watch.refresh_before_expiry` under watch), as Codex
    /// itself does (or noted, offline). The executor decides by the same rule and window.
    pub(super) fn refresh_if_expiring(&mut self, alias: &str, a: &AccountObs, address: &Address) {
        if a.kind != AccountKind::OAuth || a.requires_reauth {
            return;
        }
        // A newer copy taken from a home first is what the executor will look at.
        let expires = match self.harvested.get(&a.id) {
            Some(taken) => taken.expires_at,
            None => a.freshness.expires_at,
        };
        if !freshness::refresh_due(expires, self.now, self.inputs.refresh_window) {
            return;
        }
        let left = expires.map(|e| e.saturating_sub(self.now));
        let when = match left {
            Some(l) if l > 0 => format!("its access token expires in {}s", l),
            Some(_) => "its access token has expired".to_string(),
            None => "its access token's expiry is unknown".to_string(),
        };
        if !self.o.online {
            self.notes.push(Note {
                address: address.clone(),
                message: format!("{alias}: {when}; offline, so Codex will refresh it itself"),
            });
            return;
        }
        if self.refreshed.insert(a.id.clone()) {
            self.refreshes.push(Action {
                address: Address::account(alias, AccountPart::Refresh),
                kind: ActionKind::Update,
                description: format!("refresh {alias}'s tokens first: {when}"),
                changes: vec![],
                op: Op::Refresh {
                    account_id: a.id.clone(),
                    force: false,
                },
            });
        }
    }
}
