//! One live copy of each ChatGPT login. Codex rotates refresh tokens: two folders holding
//! one login end in `refresh_token_reused`, and the issuer then revokes it everywhere.
//!
//! The writes of a plan are checked against where each login is live now (the declared
//! homes as observed, and the folders outside this manifest that hold one: another
//! manifest's homes, `switch --codex-home`, `run --account`, a removed home, the default
//! home). A login that moves between declared homes leaves the one it is in before it goes
//! into the other (the homes' writes are ordered so); a swap is broken by taking one login
//! out first. A write that would leave a login live in two folders is an error naming both.
//! The folders of other machines count too (as their synced records said, pulled): a login
//! live on another machine goes into no home here until that machine lets it go.
//! The executor checks again at the door, right before each write.

use crate::reconcile::{Address, HomePart};
use std::collections::BTreeSet;

use super::Planner;
use crate::reconcile::{Action, ActionKind, CredentialSource, Op};
use crate::vault::AccountKind;

/// Where a login is live, other than the home it is about to be written to.
enum Holder {
    /// A declared home, by name.
    Home(String),
    /// A folder this manifest does not declare.
    Folder(std::path::PathBuf),
    /// Another machine, as its synced record said.
    Machine(crate::vault::placement::RemotePlacement),
}

/// The home an action belongs to (`home.NAME.…`), if any.
fn home_of(a: &Action) -> Option<&str> {
    match &a.address {
        Address::Home {
            home: crate::reconcile::HomeId::Named(n),
            ..
        } => Some(n),
        _ => None,
    }
}

/// The ChatGPT login a `WriteAuth` puts into its home, with the home's folder.
pub(super) fn login_written<'a>(
    a: &'a Action,
    p: &Planner,
) -> Option<(&'a str, &'a std::path::Path)> {
    match &a.op {
        Op::WriteAuth {
            path,
            source: CredentialSource::Vault { account_id },
            ..
        } if p
            .o
            .account(account_id)
            .is_some_and(|x| x.kind == AccountKind::OAuth) =>
        {
            Some((account_id.as_str(), path.as_path()))
        }
        _ => None,
    }
}

impl Planner<'_> {
    /// Where `account_id` is live now, other than in home `home`.
    fn holders(&self, account_id: &str, home: &str) -> Vec<Holder> {
        let mut out: Vec<Holder> = self
            .o
            .homes
            .iter()
            .filter(|(name, obs)| {
                name.as_str() != home
                    && matches!(&obs.auth, crate::reconcile::observe::AuthObs::Credentials(c)
                        if c.account_id() == Some(account_id))
            })
            .map(|(name, _)| Holder::Home(name.clone()))
            .collect();
        out.extend(
            self.o
                .elsewhere
                .iter()
                .filter(|c| c.account_id == account_id)
                .map(|c| Holder::Folder(c.folder.clone())),
        );
        out.extend(
            crate::vault::placement::on_another_machine(&self.o.other_machines, account_id)
                .map(|r| Holder::Machine(r.clone())),
        );
        out
    }

    /// Is `account_id` live in a folder this manifest does not declare (a pool skips it)?
    pub(super) fn live_outside(&self, account_id: &str) -> Option<std::path::PathBuf> {
        self.o
            .elsewhere
            .iter()
            .find(|c| c.account_id == account_id)
            .map(|c| c.folder.clone())
    }

    /// A login already live in two folders (someone copied auth.json by hand, a home
    /// removed from the manifest kept it): said on the first home's address, with both.
    pub(super) fn copies_already_live(&mut self) {
        let mut seen: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (name, obs) in &self.o.homes {
            if let crate::reconcile::observe::AuthObs::Credentials(
                c @ crate::reconcile::observe::CredObs::ChatGpt { .. },
            ) = &obs.auth
                && let Some(id) = c.account_id()
            {
                seen.entry(id.to_string())
                    .or_default()
                    .push(format!("home `{name}` ({})", self.shown(&obs.path)));
            }
        }
        for c in &self.o.elsewhere {
            if let Some(places) = seen.get_mut(&c.account_id) {
                places.push(format!("`{}`", self.shown(&c.folder)));
            }
        }
        for r in &self.o.other_machines {
            if let Some(places) = seen.get_mut(&r.account_id) {
                places.push(r.describe());
            }
        }
        for (id, places) in seen.into_iter().filter(|(_, p)| p.len() > 1) {
            let name = self.o.account(&id).map(|a| a.name.clone()).unwrap_or(id);
            self.notes.push(crate::reconcile::Note {
                address: Address::Account { name: name.clone(), part: None },
                message: format!(
                    "{name} is live in {} folders: {}; Codex rotates its refresh token, so one copy will be refused (`refresh_token_reused`) and the issuer may revoke the login: keep one (`cdxs switch ACCOUNT --codex-home FOLDER` replaces the others)",
                    places.len(),
                    places.join(", ")
                ),
            });
        }
    }

    /// Check and order the planned writes (see the module): per home, its actions stay
    /// together; a home that gives up a login is written before the home that gets it.
    pub(super) fn one_live_copy(&mut self) {
        let writes = std::mem::take(&mut self.writes);
        // Group the writes by home, in plan order.
        let mut groups: Vec<(Option<String>, Vec<Action>)> = Vec::new();
        for a in writes {
            let home = home_of(&a).map(str::to_string);
            match groups.iter_mut().find(|(h, _)| h.is_some() && *h == home) {
                Some((_, actions)) => actions.push(a),
                None => groups.push((home, vec![a])),
            }
        }
        let index_of = |groups: &[(Option<String>, Vec<Action>)], home: &str| {
            groups.iter().position(|(h, _)| h.as_deref() == Some(home))
        };
        // For each group: the groups that must run first (they give up the login it takes).
        let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); groups.len()];
        let mut refused: Vec<usize> = Vec::new();
        for g in 0..groups.len() {
            let Some(home) = groups[g].0.clone() else {
                continue;
            };
            let Some((account_id, _)) = groups[g].1.iter().find_map(|a| login_written(a, self))
            else {
                continue;
            };
            let account_id = account_id.to_string();
            for holder in self.holders(&account_id, &home) {
                let gives_it_up = match &holder {
                    Holder::Home(other) => index_of(&groups, other).filter(|&i| {
                        groups[i].1.iter().any(|a| {
                            matches!(a.op, Op::WriteAuth { .. })
                                && login_written(a, self).map(|(id, _)| id) != Some(&account_id)
                        })
                    }),
                    Holder::Folder(_) | Holder::Machine(_) => None,
                };
                match gives_it_up {
                    Some(i) => {
                        deps[g].insert(i);
                    }
                    None => {
                        self.live_elsewhere_error(&groups[g].1, &account_id, &holder);
                        refused.push(g);
                    }
                }
            }
        }
        for g in refused {
            // The home keeps what it has: no login, and no endpoint for a login it won't get.
            groups[g]
                .1
                .retain(|a| !matches!(a.op, Op::WriteAuth { .. } | Op::SetBaseUrl { .. }));
            deps[g].clear();
        }
        self.writes = self.ordered(groups, deps);
    }

    /// The groups in an order that respects `deps` (plan order otherwise); a cycle (homes
    /// swapping logins) is broken by taking one login out of its home first.
    fn ordered(
        &mut self,
        groups: Vec<(Option<String>, Vec<Action>)>,
        mut deps: Vec<BTreeSet<usize>>,
    ) -> Vec<Action> {
        let n = groups.len();
        let mut done = vec![false; n];
        let mut order: Vec<usize> = Vec::new();
        let mut vacate: Vec<(usize, Action)> = Vec::new();
        while order.len() < n {
            let ready = (0..n).find(|&g| !done[g] && deps[g].iter().all(|&d| done[d]));
            let g = match ready {
                Some(g) => g,
                None => {
                    // A cycle: the first waiting home takes its login after it was taken out
                    // of the home that holds it.
                    let g = (0..n).find(|&g| !done[g]).unwrap_or_default();
                    let blockers: Vec<usize> =
                        deps[g].iter().copied().filter(|&d| !done[d]).collect();
                    for d in blockers {
                        if let Some(remove) = self.take_out(&groups, g, d) {
                            vacate.push((g, remove));
                        }
                        deps[g].remove(&d);
                    }
                    continue;
                }
            };
            done[g] = true;
            order.push(g);
        }
        let mut groups: Vec<Option<Vec<Action>>> =
            groups.into_iter().map(|(_, a)| Some(a)).collect();
        let mut out = Vec::new();
        for g in order {
            for (_, remove) in vacate.iter().filter(|(before, _)| *before == g) {
                out.push(remove.clone());
            }
            out.extend(groups[g].take().unwrap_or_default());
        }
        out
    }

    /// `RemoveAuth` of the login group `g` takes from the home of group `from`.
    fn take_out(
        &self,
        groups: &[(Option<String>, Vec<Action>)],
        g: usize,
        from: usize,
    ) -> Option<Action> {
        let (account_id, _) = groups[g].1.iter().find_map(|a| login_written(a, self))?;
        let from_home = groups[from].0.as_deref()?;
        let to_home = groups[g].0.as_deref()?;
        let path = self.m.homes.get(from_home)?.path.clone();
        let name = self
            .o
            .account(account_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| account_id.to_string());
        Some(Action {
            address: Address::home(from_home, HomePart::Auth),
            kind: ActionKind::Delete,
            description: format!(
                "take {name} out of home `{from_home}` first: it moves to home `{to_home}`, and `{from_home}` gets its own login next"
            ),
            changes: vec![],
            op: Op::RemoveAuth {
                path,
                account_id: account_id.to_string(),
            },
        })
    }

    fn live_elsewhere_error(&mut self, group: &[Action], account_id: &str, holder: &Holder) {
        let Some(write) = group.iter().find(|a| matches!(a.op, Op::WriteAuth { .. })) else {
            return;
        };
        let name = self
            .o
            .account(account_id)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| account_id.to_string());
        if let Holder::Machine(there) = holder {
            let home = home_of(write).unwrap_or_default().to_string();
            let here = match self.m.homes.get(&home) {
                Some(h) => format!("home `{home}` ({})", self.shown(&h.path)),
                None => format!("home `{home}`"),
            };
            self.error(
                write.address.clone(),
                crate::vault::placement::refusal(&name, here, there).to_string(),
                &format!(
                    "{}, then run `cdxs sync push` there; here, run `cdxs sync pull` and plan again; or bind another account here",
                    there.let_go()
                ),
            );
            return;
        }
        let (where_, help) = match holder {
            Holder::Home(h) if self.m.homes[h].binding.is_none() => (
                format!("home `{h}` ({})", self.shown(&self.m.homes[h].path)),
                format!(
                    "home `{h}` is bound to no account, so cdxs leaves its auth.json alone: bind `{h}` to another account (`cdxs switch ACCOUNT --home {h}`), or bind another account here"
                ),
            ),
            Holder::Home(h) => (
                format!("home `{h}` ({})", self.shown(&self.m.homes[h].path)),
                format!(
                    "bind another account to one of the two homes (cdxs.yaml), or `cdxs switch ACCOUNT --home {h}` first"
                ),
            ),
            Holder::Machine(_) => return,
            Holder::Folder(f) => (
                format!(
                    "`{}` (a folder cdxs wrote it into, outside this cdxs.yaml)",
                    self.shown(f)
                ),
                format!(
                    "take it out of that folder first (`cdxs switch ACCOUNT --codex-home {}` puts another login there, `--move` moves it), or bind another account here",
                    self.shown(f)
                ),
            ),
        };
        self.error(
            write.address.clone(),
            format!(
                "{name} is live in {where_}: a second copy would end in `refresh_token_reused` (Codex rotates its refresh token)"
            ),
            &help,
        );
    }
}
