//! Sync views: `sync status` (per target) and `server user list`.

use serde::Serialize;

use super::View;
use crate::output::{Printer, Table};
use crate::server::store::UserSummary;
use crate::sync::ops::TargetStatus;

/// A time for people, in UTC (the server and its machines may be in different zones).
pub fn date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// `sync login`: where it logged in, and what to do about the key next.
pub fn logged_in(r: &crate::sync::ops::LoginReport) -> Vec<String> {
    use crate::sync::ops::KeyState;
    let t = &r.target;
    let first = format!(
        "logged in to `{}` as `{}` from `{}`; the login expires {}",
        t.server_url,
        t.username,
        t.device_name,
        date(r.expires_at)
    );
    let next = match &r.key {
        KeyState::Ready(kid) => format!("sync key {kid}; `cdxs sync push` syncs the accounts"),
        KeyState::JoinNeeded(kid) => format!(
            "`{}` already syncs with key {kid}: join it with `cdxs sync key --set` and the phrase `cdxs sync key` shows on a machine that syncs",
            t.username
        ),
        KeyState::InitNeeded => {
            "no sync key yet: run `cdxs sync init` to make one (first machine only)".into()
        }
    };
    vec![first, next]
}

/// `sync init`, before the phrase.
pub fn made_key(t: &crate::sync::state::Target) -> String {
    format!(
        "made the sync key {} for `{}` on `{}`. Its recovery phrase follows (`cdxs sync key` shows it again on this machine):",
        t.key_id.as_deref().unwrap_or(""),
        t.username,
        t.server_url
    )
}

#[derive(Serialize)]
pub struct SyncStatus {
    pub targets: Vec<TargetStatus>,
}

impl View for SyncStatus {
    fn human(&self, _p: &Printer) -> String {
        let mut out = Vec::new();
        for s in &self.targets {
            let mut t = Table::new(["", ""]);
            let when = |x: Option<i64>| x.map(date).unwrap_or_else(|| "never".into());
            let login = match (s.logged_in, s.token_expires_at) {
                (true, Some(e)) => format!("logged in, expires {}", date(e)),
                (true, None) => "logged in".into(),
                (false, _) => "logged out".into(),
            };
            let leases = if s.leases.is_empty() {
                "none".to_string()
            } else {
                s.leases
                    .iter()
                    .map(|l| format!("{} until {}", l.account_id, date(l.until)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let key = s
                .key_id
                .as_deref()
                .unwrap_or("none (`cdxs sync init` or `cdxs sync key --set`)");
            let pending = s
                .pending
                .map(|n| format!("{n} change(s) to push"))
                .unwrap_or_else(|| "-".into());
            for (k, v) in [
                ("target", s.target.clone()),
                ("server", s.server.clone()),
                ("user", s.user.clone()),
                ("device", format!("{} ({})", s.device, s.device_id)),
                ("login", login),
                ("key", key.to_string()),
                ("revision", s.revision.to_string()),
                ("records", s.records.to_string()),
                ("last pull", when(s.last_pull_at)),
                ("last push", when(s.last_push_at)),
                ("pending", pending),
                ("leases held", leases),
            ] {
                t.row([k.to_string(), v]);
            }
            // Without the empty header line.
            out.push(t.render().lines().skip(1).collect::<Vec<_>>().join("\n"));
        }
        out.join("\n\n")
    }
}

#[derive(Serialize)]
pub struct ServerUsers {
    pub users: Vec<UserSummary>,
}

impl View for ServerUsers {
    fn human(&self, _p: &Printer) -> String {
        let mut t = Table::new(["USER", "RECORDS", "REVISION", "DEVICES", "KEY", "CREATED"]);
        for u in &self.users {
            let devices = if u.devices.is_empty() {
                "-".to_string()
            } else {
                u.devices
                    .iter()
                    .map(|d| d.device.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let created = chrono::DateTime::from_timestamp(u.created_at, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            t.row([
                u.name.clone(),
                u.records.to_string(),
                u.revision.to_string(),
                devices,
                u.key_id.clone().unwrap_or_else(|| "-".into()),
                created + if u.legacy_hash { " (legacy hash)" } else { "" },
            ]);
        }
        t.render()
    }
}

/// A line a sync command says on standard error.
pub enum Said {
    Status(String),
    Warn(String),
}

impl Printer {
    pub fn say_all(&self, lines: Vec<Said>) {
        for l in lines {
            match l {
                Said::Status(s) => self.status(s),
                Said::Warn(s) => self.warn(s),
            }
        }
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Records that do not open, said once per record version (later pulls skip them quietly,
/// and pushes leave them alone).
fn unreadable(n: usize, out: &mut Vec<Said>) {
    if n > 0 {
        out.push(Said::Warn(format!(
            "{n} record(s) on the server do not open with this machine's sync key and were left out (altered, or sealed with another key); pushes leave them alone, `cdxs sync push --force` overwrites them"
        )));
    }
}

/// What `sync pull` says.
pub fn pulled(r: &crate::sync::ops::PullReport, forced: bool) -> Vec<Said> {
    let mut out = Vec::new();
    if let Some(b) = &r.backup {
        let why = if forced {
            ""
        } else {
            " (another machine removed accounts, or pushed with `--force` without them)"
        };
        out.push(Said::Status(format!("saved the vault to `{b}` first{why}")));
    }
    let mut extra = String::new();
    if r.kept_local > 0 {
        extra.push_str(&format!(", {} newer here (push them)", r.kept_local));
    }
    if r.refused_older > 0 {
        extra.push_str(&format!(", {} older token(s) refused", r.refused_older));
    }
    if r.refused_spent > 0 {
        extra.push_str(&format!(
            ", {} spent token(s) refused (this vault has newer ones: push them)",
            r.refused_spent
        ));
    }
    out.push(Said::Status(format!(
        "pulled to revision {}: {} new, {} updated, {} removed{extra}",
        r.revision, r.created, r.updated, r.deleted
    )));
    unreadable(r.newly_unreadable, &mut out);
    out
}

/// What `sync push` says.
pub fn pushed(r: &crate::sync::ops::PushReport) -> Vec<Said> {
    let mut out = Vec::new();
    match (&r.backup, r.lease_lost) {
        (Some(b), false) => out.push(Said::Status(format!(
            "saved the server's records to `{b}` first"
        ))),
        (b, true) => out.push(Said::Warn(format!(
            "the refresh lease moved on to another machine; the vault was saved to `{}` and the copies merged",
            b.as_deref().unwrap_or("")
        ))),
        (None, false) => {}
    }
    let p = &r.pull;
    if p.created + p.updated + p.deleted > 0 {
        out.push(Said::Status(format!(
            "pulled: {} new, {} updated, {} removed",
            p.created, p.updated, p.deleted
        )));
    }
    unreadable(p.newly_unreadable, &mut out);
    if !r.skipped.is_empty() {
        let it = plural(r.skipped.len(), "it", "them");
        out.push(Said::Warn(format!(
            "not pushed: {} (the server holds a version of {it} this machine cannot read); `cdxs sync push --force` overwrites {it} after a backup",
            r.skipped.join(", ")
        )));
    }
    out.push(Said::Status(if r.pushed + r.deleted == 0 {
        format!("nothing to push; in step at revision {}", r.revision)
    } else {
        format!(
            "pushed {} account(s) and {} deletion(s): revision {}",
            r.pushed, r.deleted, r.revision
        )
    }));
    out
}

/// What `sync key rotate` says before and after the new phrase.
pub fn rotated(r: &crate::sync::ops::RotateReport) -> (Vec<Said>, Said) {
    let backups: Vec<String> = r.backups.iter().map(|b| format!("`{b}`")).collect();
    let left_out = if r.left_out > 0 {
        format!(
            "; {} record(s) that did not open with the old key either were left out (they are in the backup)",
            r.left_out
        )
    } else {
        String::new()
    };
    (
        vec![
            Said::Status(format!(
                "saved the server's records and the vault to {} first",
                backups.join(" and ")
            )),
            Said::Status(format!(
                "re-encrypted {} record(s) under the new sync key {} (was {}): revision {}, generation {} in `cdxs history`{left_out}",
                r.records, r.new_key_id, r.old_key_id, r.revision, r.generation
            )),
            Said::Status(
                "the new recovery phrase follows (`cdxs sync key` shows it again on this machine):"
                    .into(),
            ),
        ],
        Said::Status(
            "on every other machine run `cdxs sync key --set` with this phrase: until then they are refused (the old key no longer opens anything new)".into(),
        ),
    )
}
