//! Session policies as plan actions: `auto_repair` (`~ sessions.<home>.repair[...]`),
//! `trash_max_age` (`- trash.<home>.purge[<id>]`), `share_threads`
//! (`+ threads.<home>.copy[<id>]`).

use super::super::{Action, ActionKind, Note, Op};
use crate::manifest::{Duration, Home, Manifest};
use crate::reconcile::Address;
use crate::reconcile::observe::{Observed, SessionsObs};
use crate::sessions::{HomeRef, share};

pub fn actions(m: &Manifest, o: &Observed, now: i64, notes: &mut Vec<Note>) -> Vec<Action> {
    let mut out = Vec::new();
    for (name, home) in &m.homes {
        let Some(s) = o.sessions.get(name) else {
            continue;
        };
        let note = |message: String| Note {
            address: Address::Sessions {
                home: name.clone(),
                repair: None,
            },
            message,
        };
        notes.extend(s.gate.iter().cloned().map(note));
        if s.read_only {
            notes.push(note(
                "session policies skip this home until cdxs knows its Codex (upgrade cdxs)".into(),
            ));
            continue;
        }
        out.extend(repairs(name, home, s));
        if let Some(age) = m.sessions.trash_max_age {
            out.extend(purges(name, home, s, age, now));
        }
    }
    out.extend(copies(m, o));
    out
}

/// `auto_repair`: one action per repairable visibility problem.
fn repairs(name: &str, home: &Home, s: &SessionsObs) -> Vec<Action> {
    s.issues
        .iter()
        .flatten()
        .filter(|i| i.repairable())
        .map(|issue| Action {
            address: Address::Sessions {
                home: name.to_string(),
                repair: Some((issue.kind().to_string(), issue.id().to_string())),
            },
            kind: ActionKind::Update,
            description: issue.describe(),
            changes: vec![],
            op: Op::RepairThread {
                home: crate::reconcile::HomeId::Named(name.to_string()),
                path: home.path.clone(),
                issue: issue.clone(),
            },
        })
        .collect()
}

/// `trash_max_age`: the trash entries older than `age` go for good.
fn purges(name: &str, home: &Home, s: &SessionsObs, age: Duration, now: i64) -> Vec<Action> {
    s.trash
        .iter()
        .flatten()
        .filter(|(_, at)| now - at >= age.seconds as i64)
        .map(|(id, _)| Action {
            address: Address::Trash {
                home: name.to_string(),
                id: id.clone(),
                purge: true,
            },
            kind: ActionKind::Delete,
            description: format!("delete thread {id}, trashed more than {age} ago"),
            changes: vec![],
            op: Op::PurgeTrash {
                home: crate::reconcile::HomeId::Named(name.to_string()),
                path: home.path.clone(),
                id: id.clone(),
            },
        })
        .collect()
}

/// `share_threads`: each thread a sharing home lacks, copied from one that has it (homes
/// whose Codex cdxs does not know take no part).
fn copies(m: &Manifest, o: &Observed) -> Vec<Action> {
    let shared: Vec<(HomeRef, share::HomeThreads)> = m
        .sessions
        .share_threads
        .iter()
        .filter(|n| !o.sessions.get(*n).is_some_and(|s| s.read_only))
        .filter_map(|n| {
            let threads = o.sessions.get(n)?.threads.clone()?;
            let home = m.homes.get(n)?;
            Some((
                HomeRef {
                    name: n.clone(),
                    path: home.path.clone(),
                },
                threads,
            ))
        })
        .collect();
    let mut out = Vec::new();
    for c in share::plan_copies(&shared) {
        let (Some(from), Some(to)) = (m.homes.get(&c.from), m.homes.get(&c.to)) else {
            continue;
        };
        out.push(Action {
            address: Address::Copy {
                home: crate::reconcile::HomeId::Named(c.to.clone()),
                id: c.id.clone(),
            },
            kind: ActionKind::Create,
            description: format!(
                "copy thread {} from `{}`: {}",
                c.id,
                c.from,
                one_line(&c.title)
            ),
            changes: vec![],
            op: Op::CopyThread {
                from_path: from.path.clone(),
                to_path: to.path.clone(),
                copy: c,
            },
        });
    }
    out
}

fn one_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").trim();
    if l.chars().count() > 60 {
        format!("{}…", l.chars().take(59).collect::<String>())
    } else {
        l.to_string()
    }
}
