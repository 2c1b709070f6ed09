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

/// `sync key rotate --json`: what the rotation did (never the key or its phrase).
#[derive(Serialize)]
pub struct KeyRotated {
    pub rotated: crate::sync::ops::RotateReport,
}

impl View for KeyRotated {
    fn human(&self, _p: &Printer) -> String {
        String::new()
    }
}
