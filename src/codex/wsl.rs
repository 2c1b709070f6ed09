//! Codex homes on a Windows drive seen from WSL (`/mnt/c/...`) or on a network file
//! system (9p, drvfs, cifs): Codex's own state database breaks there (migration checksum
//! and disk I/O errors: openai/codex#23251, #23913, #24348, #31426), and a Linux `flock`
//! does not interlock with Windows' `LockFileEx`, so Codex on Windows and cdxs in WSL can
//! both write auth.json at once. cdxs still takes Codex's locks there; plan says why the
//! home is at risk.

use std::path::Path;

/// File system types that share a folder with another OS or machine.
const SHARED: [&str; 6] = ["9p", "drvfs", "cifs", "smb3", "smbfs", "v9fs"];

/// Why a home at `path` (on a file system of type `fs_type`, when known) is at risk, or
/// `None` when it is not.
pub fn risk(path: &Path, fs_type: Option<&str>) -> Option<String> {
    let on_drive = {
        let mut parts = path.components();
        parts.next() == Some(std::path::Component::RootDir)
            && parts.next().is_some_and(|c| c.as_os_str() == "mnt")
            && parts.next().is_some_and(|d| {
                let d = d.as_os_str().to_string_lossy();
                d.len() == 1 && d.chars().all(|c| c.is_ascii_alphabetic())
            })
    };
    let shared = fs_type.filter(|t| SHARED.contains(t));
    let place = match (on_drive, shared) {
        (false, None) => return None,
        (true, Some(t)) => format!("on a Windows drive seen from WSL (a `{t}` file system)"),
        (true, None) => "on a Windows drive seen from WSL (`/mnt/<drive>/`)".to_string(),
        (false, Some(t)) => format!("on a `{t}` file system shared with another system"),
    };
    Some(format!(
        "this home is {place}: Codex's state database breaks there (openai/codex#23251, #23913, #24348) and Linux file locks do not interlock with Windows' LockFileEx, so Codex on the other side can write auth.json while cdxs does; keep Codex homes on the Linux file system (for example `~/.codex`)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_drives_and_shared_file_systems_are_at_risk() {
        assert!(risk(Path::new("/mnt/c/Users/me/.codex"), None).is_some());
        assert!(
            risk(Path::new("/mnt/d/x"), Some("9p"))
                .unwrap()
                .contains("`9p`")
        );
        assert!(risk(Path::new("/srv/share/h"), Some("cifs")).is_some());
        assert!(risk(Path::new("/home/me/.codex"), Some("ext4")).is_none());
        assert!(risk(Path::new("/mnt/data/h"), Some("ext4")).is_none());
        assert!(risk(Path::new("/mnt/c"), None).is_some());
    }
}
