//! Merging a pulled record into the vault, per account (SPEC 8). Pure: no I/O, no clock.
//!
//! - ChatGPT tokens: the newer copy wins by the access token's issuer time (JWT `iat`),
//!   then `last_refresh`, then `exp` ([`token_cmp`]), then the writing device's id.
//!   (`auth::freshness::compare` orders `last_refresh` first; sync orders by the issuer's
//!   own clock first, because two machines' `last_refresh` stamps come from two clocks.)
//! - A per-account high-water mark (the freshest token ever seen here) keeps an older token
//!   from ever coming back, even from a server that replays an old record.
//! - API keys: the later `updated_at` wins, then the device id.
//! - Tombstones remove; an account re-created after its deletion survives it.
//! - Quota caches: the later fetch wins, whoever wins the tokens.
//! - Placements (where machines have a ChatGPT login live): each machine states its own;
//!   a pulled record is the newest word of every other machine (its writer had pulled the
//!   version before it), so it replaces what was known of them, whoever wins the tokens
//!   ([`others_placements`], [`outgoing_placements`]).

use std::cmp::Ordering;

use super::record::{MAX_PLACEMENTS, PlacementPayload, Plaintext};
use crate::quota::Quota;
use crate::vault::{Account, AccountKind};

/// The freshness of one copy of a login's tokens: the order every copy is compared by
/// (`auth::freshness`: the issuer's `iat` first), for sync as for harvests and refreshes.
pub use crate::vault::freshness::Freshness as TokenStamp;
pub use crate::vault::freshness::compare as token_cmp;

impl TokenStamp {
    pub fn of(a: &Account) -> TokenStamp {
        a.freshness()
    }

    pub fn is_known(&self) -> bool {
        self.issued_at.is_some() || self.last_refresh.is_some() || self.expires_at.is_some()
    }
}

/// The later of two stamps (for the high-water mark).
pub fn newest(a: Option<TokenStamp>, b: TokenStamp) -> TokenStamp {
    match a {
        Some(a) if token_cmp(&a, &b) == Ordering::Greater => a,
        _ => b,
    }
}

/// What the vault holds for one account before the merge.
#[derive(Debug, Clone, Default)]
pub struct Local<'a> {
    pub account: Option<&'a Account>,
    pub quota: Option<&'a Quota>,
    /// When this vault deleted the account (its tombstone), if it did.
    pub deleted_at: Option<i64>,
    pub high_water: Option<TokenStamp>,
    pub device_id: &'a str,
    /// The local copy changed since it was last synced (it has something to push).
    pub dirty: bool,
}

/// What to do with the vault.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing changes locally.
    Keep(Why),
    /// Write this account (and quota) into the vault.
    Take {
        account: Box<Account>,
        quota: Option<Quota>,
        created: bool,
    },
    /// Remove the account from the vault (a tombstone arrived).
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Local and remote agree.
    Same,
    /// The local copy is newer; the next push sends it.
    LocalNewer,
    /// The remote token is older than one this machine has already seen.
    BelowHighWater,
    /// This machine deleted the account after the remote copy was written.
    DeletedHere,
    /// The account was re-created here after the remote deletion.
    RecreatedHere,
    /// A tombstone for an account this vault never had.
    AlreadyGone,
}

/// Merge one decrypted record into what the vault holds.
pub fn merge(local: &Local, remote: &Plaintext, remote_account: Option<Account>) -> Outcome {
    let Some(mut incoming) = remote_account else {
        // A tombstone.
        return match local.account {
            None => Outcome::Keep(Why::AlreadyGone),
            Some(a) if a.updated_at > remote.written_at => Outcome::Keep(Why::RecreatedHere),
            Some(_) => Outcome::Delete,
        };
    };
    let remote_quota = remote.account.as_ref().and_then(|p| p.quota.clone());
    let stamp = TokenStamp::of(&incoming);
    let below_hw = incoming.kind == AccountKind::OAuth
        && local
            .high_water
            .is_some_and(|hw| token_cmp(&stamp, &hw) == Ordering::Less);
    let Some(current) = local.account else {
        if local.deleted_at.is_some_and(|d| d >= remote.written_at) {
            return Outcome::Keep(Why::DeletedHere);
        }
        if below_hw {
            return Outcome::Keep(Why::BelowHighWater);
        }
        return Outcome::Take {
            account: Box::new(incoming),
            quota: remote_quota,
            created: true,
        };
    };
    let quota = newer_quota(local.quota, remote_quota.as_ref());
    let quota_changed = quota.as_ref() != local.quota;
    // Which copy's credentials are newer: `Greater` for the remote one.
    let order = match incoming.kind {
        AccountKind::OAuth if below_hw => Ordering::Less,
        AccountKind::OAuth if current.tokens == incoming.tokens => Ordering::Equal,
        AccountKind::OAuth => token_cmp(&stamp, &TokenStamp::of(current))
            .then_with(|| remote.device_id.as_str().cmp(local.device_id)),
        AccountKind::ApiKey
            if current.api_key == incoming.api_key && current.base_url == incoming.base_url =>
        {
            Ordering::Equal
        }
        AccountKind::ApiKey if !local.dirty => Ordering::Greater,
        AccountKind::ApiKey => incoming
            .updated_at
            .cmp(&current.updated_at)
            .then_with(|| remote.device_id.as_str().cmp(local.device_id)),
    };
    // Same credentials: an unchanged local copy takes the remote one whole (labels, plan),
    // so that both sides end byte-identical; a changed one is pushed next.
    let remote_wins = match order {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => !local.dirty,
    };
    if !remote_wins {
        let why = if below_hw {
            Why::BelowHighWater
        } else if order == Ordering::Equal {
            Why::Same
        } else {
            Why::LocalNewer
        };
        return keep_or_quota(current, quota, quota_changed, why);
    }
    // Local-only bookkeeping survives the remote copy, and so do members Codex wrote here
    // that the remote copy lacks (a machine on an older cdxs, or one whose Codex is older).
    incoming.last_used_at = current.last_used_at;
    incoming.auth_extra = incoming.auth_extra.over(&current.auth_extra);
    Outcome::Take {
        account: Box::new(incoming),
        quota,
        created: false,
    }
}

/// What this machine keeps of the placements a pulled record states: every other
/// machine's (the record is the newest word of each), never its own (only its vault knows
/// where it has the login now).
pub fn others_placements(this_device: &str, pulled: &[PlacementPayload]) -> Vec<PlacementPayload> {
    let mut out: Vec<PlacementPayload> = pulled
        .iter()
        .filter(|p| p.device_id != this_device)
        .take(MAX_PLACEMENTS)
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The placements a record written by this machine carries: its own live ones, and the
/// other machines' as it last pulled them (relayed, so that one record holds every
/// machine's word). Sorted: the same placements make the same payload.
pub fn outgoing_placements(
    this_device: &str,
    own: Vec<PlacementPayload>,
    others: Vec<PlacementPayload>,
) -> Vec<PlacementPayload> {
    let mut out: Vec<PlacementPayload> = own.iter().map(PlacementPayload::normalized).collect();
    out.extend(
        others
            .iter()
            .filter(|p| p.device_id != this_device)
            .map(PlacementPayload::normalized),
    );
    out.sort();
    out.dedup();
    out
}

fn keep_or_quota(current: &Account, quota: Option<Quota>, changed: bool, why: Why) -> Outcome {
    if changed {
        Outcome::Take {
            account: Box::new(current.clone()),
            quota,
            created: false,
        }
    } else {
        Outcome::Keep(why)
    }
}

fn newer_quota(local: Option<&Quota>, remote: Option<&Quota>) -> Option<Quota> {
    match (local, remote) {
        (Some(l), Some(r)) if r.fetched_at > l.fetched_at => Some(r.clone()),
        (Some(l), _) => Some(l.clone()),
        (None, r) => r.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::sync::record::{AccountPayload, PLAINTEXT_FORMAT};
    use crate::vault::accounts::OAuthTokens;

    fn oauth(iat: i64, rt: &str) -> Account {
        let mut a = Account::api_key(Secret::new("x"), None, "t", 10);
        a.id = "oauth_1".into();
        a.kind = AccountKind::OAuth;
        a.api_key = None;
        a.email = Some("a@x.io".into());
        a.tokens = Some(OAuthTokens {
            id_token: Secret::new("id"),
            access_token: Secret::new(format!("at-{rt}")),
            refresh_token: Secret::new(rt),
        });
        a.token_issued_at = Some(iat);
        a.access_expires_at = Some(iat + 3600);
        a
    }

    fn remote(a: &Account, device: &str, written_at: i64) -> Plaintext {
        Plaintext {
            format: PLAINTEXT_FORMAT.into(),
            record_id: "r_1".into(),
            account_id: a.id.clone(),
            device_id: device.into(),
            written_at,
            account: Some(AccountPayload::from_account(a, None)),
        }
    }

    fn tombstone(device: &str, written_at: i64) -> Plaintext {
        Plaintext {
            format: PLAINTEXT_FORMAT.into(),
            record_id: "r_1".into(),
            account_id: "oauth_1".into(),
            device_id: device.into(),
            written_at,
            account: None,
        }
    }

    fn took(o: &Outcome) -> Option<String> {
        match o {
            Outcome::Take { account, .. } => account
                .tokens
                .as_ref()
                .map(|t| t.refresh_token.expose().to_string()),
            _ => None,
        }
    }

    #[test]
    fn issuer_time_decides_before_last_refresh() {
        let mut local = oauth(2000, "rt-local");
        local.last_refresh = Some(chrono::DateTime::from_timestamp(9000, 0).unwrap());
        let mut newer = oauth(3000, "rt-remote");
        newer.last_refresh = Some(chrono::DateTime::from_timestamp(100, 0).unwrap());
        let l = Local {
            account: Some(&local),
            device_id: "dev-a",
            ..Local::default()
        };
        let o = merge(&l, &remote(&newer, "dev-b", 1), Some(newer.clone()));
        assert_eq!(took(&o).as_deref(), Some("rt-remote"));
        let older = oauth(1000, "rt-old");
        assert_eq!(
            merge(&l, &remote(&older, "dev-b", 1), Some(older.clone())),
            Outcome::Keep(Why::LocalNewer)
        );
    }

    #[test]
    fn equal_stamps_fall_back_to_the_device_id() {
        let local = oauth(2000, "rt-a");
        let other = oauth(2000, "rt-b");
        let l = Local {
            account: Some(&local),
            device_id: "dev-m",
            ..Local::default()
        };
        assert!(took(&merge(&l, &remote(&other, "dev-z", 1), Some(other.clone()))).is_some());
        assert_eq!(
            merge(&l, &remote(&other, "dev-a", 1), Some(other.clone())),
            Outcome::Keep(Why::LocalNewer)
        );
    }

    #[test]
    fn the_high_water_mark_keeps_an_older_token_out() {
        let old = oauth(1000, "rt-old");
        let hw = TokenStamp::of(&oauth(2000, "rt-seen"));
        // Even with no local copy (the account was removed and re-pulled from a replay).
        let l = Local {
            high_water: Some(hw),
            device_id: "dev-a",
            ..Local::default()
        };
        assert_eq!(
            merge(&l, &remote(&old, "dev-b", 1), Some(old.clone())),
            Outcome::Keep(Why::BelowHighWater)
        );
        let fresh = oauth(2500, "rt-new");
        assert_eq!(
            took(&merge(&l, &remote(&fresh, "dev-b", 1), Some(fresh.clone()))).as_deref(),
            Some("rt-new")
        );
    }

    #[test]
    fn tombstones_remove_unless_recreated_later() {
        let mut local = oauth(1000, "rt");
        local.updated_at = 50;
        let l = Local {
            account: Some(&local),
            device_id: "dev-a",
            ..Local::default()
        };
        assert_eq!(merge(&l, &tombstone("dev-b", 60), None), Outcome::Delete);
        assert_eq!(
            merge(&l, &tombstone("dev-b", 40), None),
            Outcome::Keep(Why::RecreatedHere)
        );
        let none = Local {
            device_id: "dev-a",
            ..Local::default()
        };
        assert_eq!(
            merge(&none, &tombstone("dev-b", 60), None),
            Outcome::Keep(Why::AlreadyGone)
        );
        // A local deletion after the remote write keeps the account deleted here.
        let deleted = Local {
            deleted_at: Some(70),
            device_id: "dev-a",
            ..Local::default()
        };
        assert_eq!(
            merge(&deleted, &remote(&local, "dev-b", 60), Some(local.clone())),
            Outcome::Keep(Why::DeletedHere)
        );
    }

    #[test]
    fn same_tokens_take_the_remote_metadata_unless_changed_here() {
        let local = oauth(2000, "rt");
        let mut relabelled = local.clone();
        relabelled.plan_type = Some("pro".into());
        let clean = Local {
            account: Some(&local),
            device_id: "dev-a",
            ..Local::default()
        };
        match merge(
            &clean,
            &remote(&relabelled, "dev-b", 1),
            Some(relabelled.clone()),
        ) {
            Outcome::Take { account, .. } => assert_eq!(account.plan_type.as_deref(), Some("pro")),
            other => panic!("{other:?}"),
        }
        let dirty = Local {
            dirty: true,
            ..clean.clone()
        };
        assert_eq!(
            merge(
                &dirty,
                &remote(&relabelled, "dev-b", 1),
                Some(relabelled.clone())
            ),
            Outcome::Keep(Why::Same)
        );
    }

    #[test]
    fn api_keys_merge_by_update_time_and_quota_by_fetch_time() {
        let mut local = Account::api_key(Secret::new("sk-1"), None, "t", 10);
        local.updated_at = 10;
        let mut changed = local.clone();
        changed.base_url = Some("https://proxy/v1".into());
        changed.updated_at = 20;
        let l = Local {
            account: Some(&local),
            device_id: "dev-a",
            ..Local::default()
        };
        match merge(&l, &remote(&changed, "dev-b", 20), Some(changed.clone())) {
            Outcome::Take { account, .. } => {
                assert_eq!(account.base_url.as_deref(), Some("https://proxy/v1"))
            }
            other => panic!("{other:?}"),
        }
        let q_old = Quota {
            plan_type: None,
            limit_reached: false,
            five_hour: None,
            weekly: None,
            fetched_at: 5,
        };
        let q_new = Quota {
            fetched_at: 9,
            ..q_old.clone()
        };
        let mut p = remote(&local, "dev-b", 10);
        if let Some(a) = p.account.as_mut() {
            a.quota = Some(q_new.clone());
        }
        let l = Local {
            account: Some(&local),
            quota: Some(&q_old),
            device_id: "dev-a",
            ..Local::default()
        };
        match merge(&l, &p, Some(local.clone())) {
            Outcome::Take { quota, .. } => assert_eq!(quota, Some(q_new)),
            other => panic!("{other:?}"),
        }
    }

    fn place(device: &str, folder: &str, home: Option<&str>) -> PlacementPayload {
        PlacementPayload {
            device_id: device.into(),
            device_name: format!("{device}-name"),
            folder: folder.into(),
            home: home.map(str::to_string),
        }
    }

    #[test]
    fn placements_are_replaced_per_machine_and_this_machine_states_its_own() {
        // Machine A wrote the record: its own home `work`, and what it knew of B and C.
        let pulled = vec![
            place("dev-c", "~/.codex-c", None),
            place("dev-a", "~/.codex-work", Some("work")),
            place("dev-b", "~/.codex-stale", None),
        ];
        // B keeps A's and C's word, never what A relayed about B itself.
        let kept = others_placements("dev-b", &pulled);
        assert_eq!(
            kept,
            vec![
                place("dev-a", "~/.codex-work", Some("work")),
                place("dev-c", "~/.codex-c", None),
            ]
        );
        // B's next record: its own live placements, with A's and C's relayed (and any
        // entry for B among the others is dropped: only B states B).
        let mine = vec![place("dev-b", "~/.codex", Some("main"))];
        let mut others = kept.clone();
        others.push(place("dev-b", "~/.codex-stale", None));
        let out = outgoing_placements("dev-b", mine.clone(), others);
        assert_eq!(
            out,
            vec![
                place("dev-a", "~/.codex-work", Some("work")),
                place("dev-b", "~/.codex", Some("main")),
                place("dev-c", "~/.codex-c", None),
            ]
        );
        // A switched home `work` away and pushed: its newer record no longer has A, so
        // B forgets A's placement (and keeps C's, which A relayed).
        let newer = vec![place("dev-c", "~/.codex-c", None), mine[0].clone()];
        assert_eq!(
            others_placements("dev-b", &newer),
            vec![place("dev-c", "~/.codex-c", None)]
        );
        // Order does not matter: the same placements make the same payload.
        let shuffled = outgoing_placements("dev-b", vec![], out.iter().rev().cloned().collect());
        let sorted = outgoing_placements("dev-b", vec![], out.clone());
        assert_eq!(shuffled, sorted);
    }

    #[test]
    fn a_record_without_placements_encodes_as_before() {
        let a = oauth(1000, "rt");
        let p = AccountPayload::from_account(&a, None);
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("placements"), "{json}");
        // And an older record (no member) decodes with none.
        let back: AccountPayload = serde_json::from_str(&json).unwrap();
        assert!(back.placements.is_empty());
        let mut placed = p.clone();
        placed.placements = vec![place("dev-a", "~/.codex", None)];
        let json = serde_json::to_string(&placed).unwrap();
        let back: AccountPayload = serde_json::from_str(&json).unwrap();
        assert_eq!(back.placements, placed.placements);
        assert_ne!(placed.fingerprint(), p.fingerprint(), "a change to push");
    }

    #[test]
    fn members_only_this_machine_has_survive_a_newer_remote_copy() {
        let mut local = oauth(1000, "rt-1");
        local.auth_extra = crate::codex::auth::AuthExtra::from_value(Some(
            &serde_json::json!({"tokens": {"login_owner_id": "lo_1", "x": 1}}),
        ));
        let mut newer = oauth(2000, "rt-2");
        newer.auth_extra = crate::codex::auth::AuthExtra::from_value(Some(
            &serde_json::json!({"tokens": {"x": 2}}),
        ));
        let l = Local {
            account: Some(&local),
            device_id: "dev-a",
            ..Local::default()
        };
        let Outcome::Take { account, .. } =
            merge(&l, &remote(&newer, "dev-b", 5), Some(newer.clone()))
        else {
            panic!("the newer remote copy is taken");
        };
        assert_eq!(account.auth_extra.tokens()["login_owner_id"], "lo_1");
        assert_eq!(account.auth_extra.tokens()["x"], 2);
        // And the members travel inside the record.
        let back = AccountPayload::from_account(&newer, None)
            .to_account(&newer.id)
            .unwrap();
        assert_eq!(back.auth_extra, newer.auth_extra);
    }

    #[test]
    fn own_placements_go_up_in_the_form_they_come_back_in() {
        use crate::sync::record::PlacementPayload;
        let own = vec![PlacementPayload {
            device_id: "dev_a".into(),
            device_name: "  ".into(),
            folder: "~/w\u{7}".into(),
            home: Some("work".into()),
        }];
        let out = outgoing_placements("dev_a", own, vec![]);
        let back = out[0].to_remote("acct");
        assert_eq!(out[0].device_name, back.device_name);
        assert_eq!(out[0].device_name, "dev_a");
        assert_eq!(out[0].folder, back.folder);
        assert_eq!(
            out[0],
            out[0].normalized(),
            "normalizing twice changes nothing"
        );
    }
}
