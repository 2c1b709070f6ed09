//! What `watch` applies of a plan, and what waits (pure).
//!
//! `safe` (the default) applies creates, token refreshes and harvests, pool switches,
//! repairs, purges and thread copies, and writes a binding only where the file is absent or
//! was last written by cdxs: drift (a file someone else changed) is held and reported.
//! `all` overwrites drift too, with a backup. Under either, an auth.json write (and the
//! endpoint in config.toml that goes with it, and a refresh that writes back into a home)
//! waits while the home is busy (a thread's writer lock is held, or a Codex session uses
//! it), a pool home stays on its pick for `min_dwell`, and a flapping home is left alone.

use crate::reconcile::Address;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::manifest::{Binding, Manifest, WatchApply};
use crate::reconcile::observe::{AuthObs, CredObs, Observed};
use crate::reconcile::{Action, Op, Plan};

/// Why an action waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Held {
    /// Someone else changed the file (`watch.apply: safe`).
    Drift { home: String, address: Address },
    /// A turn may be running: it happens at the next idle moment.
    Busy {
        home: String,
        address: Address,
        detail: String,
    },
    /// The home switched less than `min_dwell` ago.
    Dwell {
        home: String,
        address: Address,
        until: i64,
    },
    /// The home kept needing changes: watch stopped applying to it.
    Flapping { home: String, address: Address },
}

impl Held {
    pub fn home(&self) -> &str {
        match self {
            Held::Drift { home, .. }
            | Held::Busy { home, .. }
            | Held::Dwell { home, .. }
            | Held::Flapping { home, .. } => home,
        }
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        match self {
            Held::Drift { address, .. } => format!(
                "{address}: changed outside cdxs; left as it is (`watch.apply: safe`; `cdxs apply` repairs it)"
            ),
            Held::Busy {
                address, detail, ..
            } => format!("{address}: waits for the turn to end ({detail})"),
            Held::Dwell { address, until, .. } => format!(
                "{address}: the home switched recently; it stays on its pick until {}",
                crate::text::when_secs(*until)
            ),
            Held::Flapping { address, .. } => {
                format!("{address}: the home is flapping; watch no longer applies to it")
            }
        }
    }
}

/// What the policy knows besides the plan.
pub struct Context<'a> {
    pub now: i64,
    pub apply: WatchApply,
    pub min_dwell: i64,
    /// When each home last switched accounts (from the journal).
    pub last_switch: &'a BTreeMap<String, i64>,
    pub flapping: &'a BTreeSet<String>,
}

/// The home an address belongs to (`home.work.auth`, `sessions.work.repair[...]`,
/// `trash.work.purge[...]`, `threads.work.copy[...]`).
pub fn home_of(address: &Address) -> Option<&str> {
    address.home_name()
}

/// The homes that hold `account_id` now.
fn holders<'a>(o: &'a Observed, account_id: &str) -> Vec<&'a str> {
    o.homes
        .iter()
        .filter(|(_, h)| {
            matches!(&h.auth, AuthObs::Credentials(c) if c.account_id() == Some(account_id)
                || matches!(c, CredObs::ChatGpt { identity_id, .. } if identity_id == account_id))
        })
        .map(|(n, _)| n.as_str())
        .collect()
}

/// Split `plan` into what applies now and what waits.
pub fn select(plan: Plan, m: &Manifest, o: &Observed, ctx: &Context) -> (Plan, Vec<Held>) {
    let judge = Judge {
        m,
        o,
        ctx,
        drifted: plan.drift.iter().map(|d| d.address.clone()).collect(),
    };
    let mut keep: Vec<Action> = Vec::new();
    let mut held = Vec::new();
    for a in plan.actions.iter().cloned() {
        match judge.why_waits(&a) {
            Some(h) => held.push(h),
            None => keep.push(a),
        }
    }
    let keep = hold_along(keep, &mut held);
    let accepted = plan
        .accepted
        .iter()
        .filter(|acc| !ctx.flapping.contains(&acc.home))
        .cloned()
        .collect();
    (
        Plan {
            actions: keep,
            accepted,
            ..plan
        },
        held,
    )
}

/// What decides whether one action waits: the manifest, the observed homes, the policy's
/// context and the addresses that drifted.
struct Judge<'a> {
    m: &'a Manifest,
    o: &'a Observed,
    ctx: &'a Context<'a>,
    drifted: BTreeSet<Address>,
}

impl Judge<'_> {
    /// Why the home is busy, if it is.
    fn busy(&self, home: &str) -> Option<String> {
        self.o.homes.get(home).and_then(|h| h.busy())
    }

    /// Why `a` waits, if it does: its home flaps, or the write it is (or goes with) waits.
    fn why_waits(&self, a: &Action) -> Option<Held> {
        let home = home_of(&a.address);
        if let Some(h) = home
            && self.ctx.flapping.contains(h)
        {
            return Some(Held::Flapping {
                home: h.to_string(),
                address: a.address.clone(),
            });
        }
        match (&a.op, home) {
            (Op::WriteAuth { switch, .. }, Some(h)) => self.why_write_waits(a, *switch, h),
            // The endpoint goes with the account, and a login taken out of a home for a
            // swap goes with the swap: they wait with the auth.json write.
            (Op::SetBaseUrl { .. } | Op::RemoveAuth { .. }, Some(h)) => {
                self.busy(h).map(|detail| Held::Busy {
                    home: h.to_string(),
                    address: a.address.clone(),
                    detail,
                })
            }
            // A refresh writes back into every home holding the login.
            (Op::Refresh { account_id, .. }, _) => holders(self.o, account_id)
                .into_iter()
                .find_map(|h| self.busy(h).map(|d| (h.to_string(), d)))
                .map(|(h, detail)| Held::Busy {
                    home: h,
                    address: a.address.clone(),
                    detail,
                }),
            _ => None,
        }
    }

    /// Why an auth.json write into home `h` waits: drift (under `safe`), a busy home, or a
    /// pool home still within `min_dwell` of its last switch.
    fn why_write_waits(&self, a: &Action, switch: bool, h: &str) -> Option<Held> {
        let ctx = self.ctx;
        if ctx.apply == WatchApply::Safe && self.drifted.contains(&a.address) {
            Some(Held::Drift {
                home: h.to_string(),
                address: a.address.clone(),
            })
        } else if let Some(detail) = self.busy(h) {
            Some(Held::Busy {
                home: h.to_string(),
                address: a.address.clone(),
                detail,
            })
        } else if switch
            && matches!(
                self.m.homes.get(h).and_then(|x| x.binding.as_ref()),
                Some(Binding::Pool { .. })
            )
            && let Some(at) = ctx.last_switch.get(h)
            && at + ctx.min_dwell > ctx.now
        {
            Some(Held::Dwell {
                home: h.to_string(),
                address: a.address.clone(),
                until: at + ctx.min_dwell,
            })
        } else {
            None
        }
    }
}

/// A write that waits takes its endpoint change along (and the other way round); a swap
/// is one move: while any of its homes waits, none of its logins is taken out. Returns
/// what still applies now; what waits along is added to `held`.
fn hold_along(keep: Vec<Action>, held: &mut Vec<Held>) -> Vec<Action> {
    let waiting: BTreeSet<String> = held
        .iter()
        .filter(|h| !matches!(h, Held::Drift { .. }))
        .map(|h| h.home().to_string())
        .collect();
    let swap_waits = !waiting.is_empty();
    let (keep, also): (Vec<Action>, Vec<Action>) = keep.into_iter().partition(|a| {
        if matches!(a.op, Op::RemoveAuth { .. }) && swap_waits {
            return false;
        }
        !matches!(a.op, Op::WriteAuth { .. } | Op::SetBaseUrl { .. })
            || home_of(&a.address).is_none_or(|h| !waiting.contains(h))
    });
    for a in also {
        if let Some(h) = home_of(&a.address) {
            held.push(Held::Busy {
                home: h.to_string(),
                address: a.address.clone(),
                detail: "waits with the home's auth.json".into(),
            });
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::HomePart;
    use crate::reconcile::observe::{HomeObs, LiveThread};
    use crate::reconcile::{ActionKind, CredentialSource, Drift};
    use std::path::{Path, PathBuf};

    fn manifest() -> Manifest {
        crate::manifest::parse(
            "version: 1\naccounts:\n  a: { email: a@x.io }\n  b: { email: b@x.io }\n  c: { email: c@x.io }\npools:\n  p: [a, b]\nhomes:\n  pooled: { path: /h/p, account: { pool: p } }\n  plain: { path: /h/q, account: c }\n",
            Path::new("/c/cdxs.yaml"),
        )
        .unwrap()
    }

    fn write(home: &str, switch: bool) -> Action {
        Action {
            address: Address::home(home, HomePart::Auth),
            kind: ActionKind::Update,
            description: "switch".into(),
            changes: vec![],
            op: Op::WriteAuth {
                home: crate::reconcile::HomeId::Named(home.into()),
                path: PathBuf::from(format!("/h/{home}")),
                source: CredentialSource::Vault {
                    account_id: "oauth_b".into(),
                },
                expect: None,
                any: false,
                switch,
            },
        }
    }

    fn plan(actions: Vec<Action>, drift: Vec<&str>) -> Plan {
        Plan {
            manifest: PathBuf::from("/c/cdxs.yaml"),
            manifest_fingerprint: "f".into(),
            actions,
            drift: drift
                .into_iter()
                .map(|a| Drift {
                    address: a.parse().unwrap(),
                    path: PathBuf::from("/x"),
                    description: "d".into(),
                })
                .collect(),
            errors: vec![],
            notes: vec![],
            observed: Default::default(),
            accepted: vec![],
        }
    }

    fn observed(live: bool) -> Observed {
        let mut o = Observed::default();
        for (name, path) in [("pooled", "/h/p"), ("plain", "/h/q")] {
            o.homes.insert(
                name.into(),
                HomeObs {
                    path: PathBuf::from(path),
                    dir_exists: true,
                    auth: AuthObs::Missing,
                    auth_fingerprint: None,
                    config: Default::default(),
                    processes: vec![],
                    shared_fs: None,
                    live_threads: if live && name == "pooled" {
                        vec![LiveThread {
                            id: "t1".into(),
                            pid: Some(7),
                        }]
                    } else {
                        vec![]
                    },
                },
            );
        }
        o
    }

    fn ctx<'a>(
        apply: WatchApply,
        last: &'a BTreeMap<String, i64>,
        flap: &'a BTreeSet<String>,
    ) -> Context<'a> {
        Context {
            now: 10_000,
            apply,
            min_dwell: 600,
            last_switch: last,
            flapping: flap,
        }
    }

    #[test]
    fn a_switch_waits_while_a_thread_is_live_then_happens() {
        let (last, flap) = (BTreeMap::new(), BTreeSet::new());
        let p = plan(vec![write("pooled", true)], vec![]);
        let (todo, held) = select(
            p.clone(),
            &manifest(),
            &observed(true),
            &ctx(WatchApply::Safe, &last, &flap),
        );
        assert!(todo.actions.is_empty());
        assert!(
            matches!(&held[0], Held::Busy { detail, .. } if detail.contains("thread t1 is live (pid 7)"))
        );
        let (todo, held) = select(
            p,
            &manifest(),
            &observed(false),
            &ctx(WatchApply::Safe, &last, &flap),
        );
        assert_eq!(todo.actions.len(), 1);
        assert!(held.is_empty());
    }

    #[test]
    fn drift_is_held_under_safe_and_repaired_under_all() {
        let (last, flap) = (BTreeMap::new(), BTreeSet::new());
        let p = plan(vec![write("plain", true)], vec!["home.plain.auth"]);
        let (todo, held) = select(
            p.clone(),
            &manifest(),
            &observed(false),
            &ctx(WatchApply::Safe, &last, &flap),
        );
        assert!(todo.actions.is_empty());
        assert!(matches!(held[0], Held::Drift { .. }));
        let (todo, _) = select(
            p,
            &manifest(),
            &observed(false),
            &ctx(WatchApply::All, &last, &flap),
        );
        assert_eq!(todo.actions.len(), 1);
    }

    #[test]
    fn a_pool_home_dwells_on_its_pick_and_flapping_homes_are_left_alone() {
        let last: BTreeMap<String, i64> = [("pooled".to_string(), 9_900)].into();
        let flap = BTreeSet::new();
        let p = plan(vec![write("pooled", true), write("plain", true)], vec![]);
        let (todo, held) = select(
            p.clone(),
            &manifest(),
            &observed(false),
            &ctx(WatchApply::Safe, &last, &flap),
        );
        assert_eq!(
            todo.actions.len(),
            1,
            "the plain home is not a pool: no dwell"
        );
        assert!(matches!(held[0], Held::Dwell { until: 10_500, .. }));
        let flap: BTreeSet<String> = ["plain".to_string()].into();
        let (todo, held) = select(
            p,
            &manifest(),
            &observed(false),
            &ctx(WatchApply::All, &BTreeMap::new(), &flap),
        );
        assert_eq!(todo.actions.len(), 1);
        assert!(
            held.iter()
                .any(|h| matches!(h, Held::Flapping { home, .. } if home == "plain"))
        );
    }

    #[test]
    fn addresses_name_their_home() {
        assert_eq!(home_of(&"home.work.auth".parse().unwrap()), Some("work"));
        assert_eq!(
            home_of(&"sessions.work.repair[x:y]".parse().unwrap()),
            Some("work")
        );
        assert_eq!(home_of(&"trash.w.purge[1]".parse().unwrap()), Some("w"));
        assert_eq!(home_of(&"account.a.refresh".parse().unwrap()), None);
    }
}
