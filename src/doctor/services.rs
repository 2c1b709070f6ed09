//! What `cdxs watch` depends on: the inotify limits, and the service definition of this OS.

use std::path::Path;

use super::binaries::version_of;
use super::{Check, Status, check};
use crate::paths;
use crate::platform;

pub(super) fn watch_checks(homes: usize) -> Vec<Check> {
    let Some(limits) = platform::inotify::limits() else {
        return vec![check(
            "watch",
            Status::Ok,
            "no inotify limits to read here; `cdxs watch` polls if it cannot watch".into(),
            None,
        )];
    };
    let (watches, instances) = (limits.max_watches, limits.max_instances);
    // One watch per home folder and one for the manifest's folder.
    let needed = homes as u64 + 1;
    let used = limits.instances_in_use;
    let mut out = Vec::new();
    if watches < needed {
        out.push(check(
            "watch",
            Status::Action,
            format!("inotify allows {watches} watches; `cdxs watch` needs {needed}"),
            Some("`sudo sysctl fs.inotify.max_user_watches=524288` (and in /etc/sysctl.d/ to keep it)".into()),
        ));
    }
    match used {
        Some(u) if u >= instances => out.push(check(
            "watch",
            Status::Action,
            format!("inotify instances: {u} of {instances} in use; `cdxs watch` needs one more (it would fall back to polling)"),
            Some("`sudo sysctl fs.inotify.max_user_instances=512` (and in /etc/sysctl.d/ to keep it)".into()),
        )),
        _ => {}
    }
    if out.is_empty() {
        out.push(check(
            "watch",
            Status::Ok,
            format!(
                "inotify: {watches} watches, {instances} instances{} (watch needs 1 instance, {needed} watches)",
                used.map(|u| format!(", {u} in use")).unwrap_or_default()
            ),
            None,
        ));
    }
    out
}

/// The `cdxs watch` service this OS runs (systemd user unit, LaunchAgent, scheduled task):
/// optional, but when there is one, the cdxs it starts must exist, and should be this one.
pub(super) fn service_checks() -> Vec<Check> {
    use platform::service::{Lookup, lookup};
    let folders = platform::dirs::current();
    let Some(profile) = folders.profile else {
        return Vec::new();
    };
    vec![match lookup(&profile, folders.config.as_deref()) {
        Lookup::Absent { kind, .. } => check(
            "service",
            Status::Ok,
            format!(
                "no {} runs `cdxs watch` (optional: `{}` sets one up)",
                kind.noun(),
                kind.example()
            ),
            None,
        ),
        Lookup::Unknown { kind, why } => check(
            "service",
            Status::Warn,
            format!(
                "cannot tell whether a {} runs `cdxs watch`: {why}",
                kind.noun()
            ),
            None,
        ),
        Lookup::Found(found) => installed_service(found),
    }]
}

/// The service found: the program it starts exists, and is this cdxs (or its version).
fn installed_service(found: platform::service::Found) -> Check {
    let (noun, place) = (
        found.kind.noun(),
        paths::display(Path::new(&found.location)),
    );
    let Some(program) = found.program else {
        return check(
            "service",
            Status::Action,
            format!("the {noun} `{place}` names no program that doctor can read"),
            Some(format!("compare it with `{}`", found.kind.example())),
        );
    };
    let shown = paths::display(&program);
    if !program.is_file() {
        return check(
            "service",
            Status::Action,
            format!("the {noun} `{place}` starts `{shown}`, which does not exist"),
            Some(format!(
                "write the path of cdxs there (this one is `{}`)",
                std::env::current_exe()
                    .map(|p| paths::display(&p))
                    .unwrap_or_else(|_| "?".into())
            )),
        );
    }
    let me = std::env::current_exe()
        .ok()
        .and_then(|p| platform::path::canonicalize(&p).ok());
    let same = platform::path::canonicalize(&program)
        .ok()
        .is_some_and(|p| Some(p) == me);
    if same {
        return check(
            "service",
            Status::Ok,
            format!("the {noun} `{place}` runs this cdxs (`{shown}`)"),
            None,
        );
    }
    let theirs = version_of(&program).unwrap_or_else(|| "?".into());
    let mine = env!("CARGO_PKG_VERSION");
    check(
        "service",
        if theirs == mine {
            Status::Ok
        } else {
            Status::Warn
        },
        format!("the {noun} `{place}` runs `{shown}` (cdxs {theirs}; this one is {mine})"),
        None,
    )
}
