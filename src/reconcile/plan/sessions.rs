//! Session policies as plan actions: `auto_repair` (`~ sessions.<home>.repair[...]`),
//! `trash_max_age` (`- trash.<home>.purge[<id>]`), `share_threads`
//! (`+ threads.<home>.copy[<id>]`).

use super::super::{Action, ActionKind, Note, Op};
use crate::manifest::Manifest;
use crate::reconcile::Address;
use crate::reconcile::observe::Observed;
use crate::sessions::{HomeRef, share};

pub fn actions(m: &Manifest, o: &Observed, now: i64, notes: &mut Vec<Note>) -> Vec<Action> {
    let mut out = Vec::new();
    for (name, home) in &m.homes {
        let Some(s) = o.sessions.get(name) else {
            continue;
        };
        for message in &s.gate {
            notes.push(Note {
                address: Address::Sessions {
                    home: name.clone(),
                    repair: None,
                },
                message: message.clone(),
            });
        }
        if s.read_only {
            notes.push(Note {
                address: Address::Sessions {
                    home: name.clone(),
                    repair: None,
                },
                message:
                    "session policies skip this home until cdxs knows its Codex (upgrade cdxs)"
                        .into(),
            });
            continue;
        }
        for issue in s.issues.iter().flatten().filter(|i| i.repairable()) {
            out.push(Action {
                address: Address::Sessions {
                    home: name.clone(),
                    repair: Some((issue.kind().to_string(), issue.id().to_string())),
                },
                kind: ActionKind::Update,
                description: issue.describe(),
                changes: vec![],
                op: Op::RepairThread {
                    home: crate::reconcile::HomeId::Named(name.clone()),
                    path: home.path.clone(),
                    issue: issue.clone(),
                },
            });
        }
        if let (Some(age), Some(trash)) = (m.sessions.trash_max_age, &s.trash) {
            for (id, at) in trash {
                if now - at >= age.seconds as i64 {
                    out.push(Action {
                        address: Address::Trash {
                            home: name.clone(),
                            id: id.clone(),
                            purge: true,
                        },
                        kind: ActionKind::Delete,
                        description: format!("delete thread {id}, trashed more than {age} ago"),
                        changes: vec![],
                        op: Op::PurgeTrash {
                            home: crate::reconcile::HomeId::Named(name.clone()),
                            path: home.path.clone(),
                            id: id.clone(),
                        },
                    });
                }
            }
        }
    }
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
