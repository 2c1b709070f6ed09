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

/// What a push (`sync init`'s) sent.
pub fn pushed(r: &crate::sync::ops::PushReport, server: &str) -> String {
    match r.pushed + r.deleted {
        0 => format!(
            "pushed nothing (no account in this vault yet): `{server}` is at revision {}",
            r.revision
        ),
        _ => format!(
            "pushed {} account(s) and {} deletion(s) to `{server}`: revision {}",
            r.pushed, r.deleted, r.revision
        ),
    }
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
