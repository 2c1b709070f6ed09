//! Picking a pool member for a home: stay on the current pick while it has at least
//! `switch_below` percent left (hysteresis, no flapping), else pick by strategy among the
//! members no other home uses.

use std::collections::BTreeSet;

use crate::manifest::Strategy;

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub alias: String,
    pub account_id: Option<String>,
    /// In the vault with credentials and not waiting for a new login.
    pub usable: bool,
    /// The smaller of the 5h and weekly remaining percentages, when known.
    pub remaining: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    pub alias: String,
    pub account_id: Option<String>,
    pub reason: String,
}

fn pct(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.0}% left"))
        .unwrap_or_else(|| "quota unknown".into())
}

pub fn pick(
    candidates: &[Candidate],
    strategy: Strategy,
    switch_below: f64,
    current: Option<&str>,
    taken: &BTreeSet<String>,
) -> Result<Pick, String> {
    let free: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.usable)
        .filter(|c| c.account_id.as_ref().is_some_and(|id| !taken.contains(id)))
        .collect();
    let current_member =
        current.and_then(|id| free.iter().find(|c| c.account_id.as_deref() == Some(id)));
    if let Some(cur) = current_member
        && cur.remaining.is_none_or(|r| r >= switch_below)
    {
        return Ok(Pick {
            alias: cur.alias.clone(),
            account_id: cur.account_id.clone(),
            reason: format!("pool: stays on {}, {}", cur.alias, pct(cur.remaining)),
        });
    }
    let others: Vec<&Candidate> = free
        .iter()
        .copied()
        .filter(|c| Some(c.account_id.as_deref()) != Some(current))
        .collect();
    if others.is_empty() && current_member.is_none() {
        let why = if candidates.iter().all(|c| !c.usable) {
            "no member is logged in".to_string()
        } else {
            "every usable member is already used by another home".to_string()
        };
        return Err(why);
    }
    let chosen = match strategy {
        Strategy::MostRemaining => most_remaining(candidates, &others),
        Strategy::First => others
            .iter()
            .find(|c| c.remaining.is_none_or(|r| r >= switch_below))
            .map(|c| (*c).clone()),
        Strategy::RoundRobin => round_robin(candidates, &others, current, switch_below),
    }
    // Everyone is below the threshold: take the one with the most left.
    .or_else(|| most_remaining(candidates, &others))
    .or_else(|| current_member.map(|c| (*c).clone()));
    let Some(c) = chosen else {
        return Err("no member is usable".into());
    };
    let reason = match current_member {
        Some(cur) if cur.alias != c.alias => format!(
            "pool: {} has {} < {switch_below}%, moving to {} ({})",
            cur.alias,
            pct(cur.remaining),
            c.alias,
            pct(c.remaining)
        ),
        Some(_) => format!(
            "pool: every member is below {switch_below}%, staying on {}",
            c.alias
        ),
        None => format!("pool: picked {} ({})", c.alias, pct(c.remaining)),
    };
    Ok(Pick {
        alias: c.alias.clone(),
        account_id: c.account_id.clone(),
        reason,
    })
}

/// The one of `list` with the most left (unknown counts as least); earlier members of
/// the pool win ties.
fn most_remaining(candidates: &[Candidate], list: &[&Candidate]) -> Option<Candidate> {
    list.iter()
        .max_by(|a, b| {
            a.remaining
                .unwrap_or(-1.0)
                .total_cmp(&b.remaining.unwrap_or(-1.0))
                // earlier members win ties
                .then_with(|| {
                    let ia = candidates.iter().position(|c| c.alias == a.alias);
                    let ib = candidates.iter().position(|c| c.alias == b.alias);
                    ib.cmp(&ia)
                })
        })
        .map(|c| (*c).clone())
}

/// The next member after the current one, in the pool's order, that is among `others`
/// and not below the threshold.
fn round_robin(
    candidates: &[Candidate],
    others: &[&Candidate],
    current: Option<&str>,
    switch_below: f64,
) -> Option<Candidate> {
    let start = current
        .and_then(|id| {
            candidates
                .iter()
                .position(|c| c.account_id.as_deref() == Some(id))
        })
        .map(|i| i + 1)
        .unwrap_or(0);
    (0..candidates.len())
        .map(|k| &candidates[(start + k) % candidates.len()])
        .find(|c| {
            others.iter().any(|o| o.alias == c.alias)
                && c.remaining.is_none_or(|r| r >= switch_below)
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(alias: &str, remaining: Option<f64>) -> Candidate {
        Candidate {
            alias: alias.into(),
            account_id: Some(format!("id-{alias}")),
            usable: true,
            remaining,
        }
    }

    /// Pick with the default 10% threshold and nothing taken.
    fn pick_free(cs: &[Candidate], s: Strategy, current: Option<&str>) -> Result<Pick, String> {
        pick(cs, s, 10.0, current, &BTreeSet::new())
    }

    #[test]
    fn most_remaining_picks_the_largest() {
        let cs = [c("a", Some(20.0)), c("b", Some(80.0)), c("c", None)];
        let p = pick_free(&cs, Strategy::MostRemaining, None).unwrap();
        assert_eq!(p.alias, "b");
        assert!(p.reason.contains("80% left"), "{}", p.reason);
    }

    #[test]
    fn hysteresis_keeps_the_current_pick_above_the_threshold() {
        let cs = [c("a", Some(15.0)), c("b", Some(90.0))];
        let p = pick_free(&cs, Strategy::MostRemaining, Some("id-a")).unwrap();
        assert_eq!(p.alias, "a", "15% >= 10%: no flapping");
        let cs = [c("a", Some(5.0)), c("b", Some(90.0))];
        let p = pick_free(&cs, Strategy::MostRemaining, Some("id-a")).unwrap();
        assert_eq!(p.alias, "b");
        assert!(p.reason.contains("a has 5% left < 10%"), "{}", p.reason);
    }

    #[test]
    fn taken_members_are_skipped_and_running_short_is_an_error() {
        let cs = [c("a", Some(50.0)), c("b", Some(40.0))];
        let taken: BTreeSet<String> = ["id-a".to_string()].into();
        assert_eq!(
            pick(&cs, Strategy::MostRemaining, 10.0, None, &taken)
                .unwrap()
                .alias,
            "b"
        );
        let taken: BTreeSet<String> = ["id-a".to_string(), "id-b".to_string()].into();
        let err = pick(&cs, Strategy::MostRemaining, 10.0, None, &taken).unwrap_err();
        assert!(err.contains("already used by another home"), "{err}");
    }

    #[test]
    fn round_robin_and_first() {
        let cs = [c("a", Some(5.0)), c("b", Some(50.0)), c("c", Some(60.0))];
        let p = pick_free(&cs, Strategy::RoundRobin, Some("id-a")).unwrap();
        assert_eq!(p.alias, "b");
        let p = pick_free(&cs, Strategy::First, None).unwrap();
        assert_eq!(p.alias, "b", "a is below the threshold");
    }

    #[test]
    fn all_below_threshold_takes_the_best_and_unusable_are_skipped() {
        let cs = [c("a", Some(3.0)), c("b", Some(7.0))];
        let p = pick_free(&cs, Strategy::First, None).unwrap();
        assert_eq!(p.alias, "b");
        let mut bad = c("x", Some(90.0));
        bad.usable = false;
        let p = pick_free(
            &[bad.clone(), c("y", Some(10.0))],
            Strategy::MostRemaining,
            None,
        )
        .unwrap();
        assert_eq!(p.alias, "y");
        assert!(
            pick_free(&[bad], Strategy::MostRemaining, None)
                .unwrap_err()
                .contains("logged in")
        );
    }
}
