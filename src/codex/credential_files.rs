//! Files of a Codex home that hold or guard credentials other than the login cdxs manages
//! (Codex 0.169 and 0.171): the provider-gateway login `gateway_oauth.json` and its lock
//! `gateway_oauth.lock`, the encrypted secret store `secrets/` (`gateway_oauth.age`,
//! `local.age`, and on Windows the login itself in `codex_auth.age`), and `.login.lock`.
//!
//! cdxs never copies, moves, backs up or replaces them: every write names its file
//! (`auth.json`, `config.toml`, `session_index.jsonl`, Codex's databases, rollouts under
//! `sessions/` and `archived_sessions/`), and nothing walks a home outside its session
//! folders. The one way such a file could still travel is under another name: a rollout in
//! `sessions/` that is a hard link to one of them. [`is_credential_file`] tells.

use std::path::{Path, PathBuf};

/// Top-level entries of a home that belong to other providers' logins (`secrets` is a folder).
pub const OTHER_PROVIDERS: &[&str] = &[
    "gateway_oauth.json",
    "gateway_oauth.lock",
    "secrets",
    ".login.lock",
];

/// The most files of `secrets/` looked at (Codex keeps a handful there).
const MAX_SECRET_FILES: usize = 256;

/// The credential files of a home that exist: `auth.json`, the entries of
/// [`OTHER_PROVIDERS`], and the regular files directly in `secrets/`.
fn files(home: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::iter::once("auth.json")
        .chain(OTHER_PROVIDERS.iter().copied().filter(|n| *n != "secrets"))
        .map(|n| home.join(n))
        .collect();
    if let Ok(entries) = std::fs::read_dir(home.join("secrets")) {
        out.extend(entries.flatten().take(MAX_SECRET_FILES).map(|e| e.path()));
    }
    out
}

/// Is `path` (an existing file) the same file as one of `home`'s credential files (a hard
/// link to it, or the file itself)? Compared by file identity (device and inode; volume and
/// file index on Windows), never by content.
pub fn is_credential_file(home: &Path, path: &Path) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    files(home).iter().any(|f| {
        std::fs::symlink_metadata(f).is_ok_and(|m| m.is_file())
            && crate::platform::fs::same_file(f, path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hard_link_to_a_credential_file_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        std::fs::create_dir_all(home.join("secrets")).unwrap();
        std::fs::create_dir_all(home.join("sessions")).unwrap();
        std::fs::write(home.join("gateway_oauth.json"), "{}").unwrap();
        std::fs::write(home.join("secrets/local.age"), "age").unwrap();
        std::fs::write(home.join("sessions/plain.jsonl"), "{}").unwrap();
        for (target, link) in [
            ("gateway_oauth.json", "sessions/a.jsonl"),
            ("secrets/local.age", "sessions/b.jsonl"),
        ] {
            std::fs::hard_link(home.join(target), home.join(link)).unwrap();
            assert!(is_credential_file(home, &home.join(link)), "{link}");
        }
        assert!(!is_credential_file(
            home,
            &home.join("sessions/plain.jsonl")
        ));
        assert!(!is_credential_file(
            home,
            &home.join("sessions/missing.jsonl")
        ));
    }
}
