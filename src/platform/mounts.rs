//! What file system a path lives on (Linux: `/proc/self/mountinfo`; elsewhere unknown).
//! cdxs warns about Codex homes on a Windows drive seen from WSL or on a network file system
//! (`codex::wsl`).

use std::path::Path;

/// The type of the file system holding `path`: the mount whose mount point is the longest
/// prefix of the path's nearest existing ancestor (`None` when unknown).
pub fn file_system_type(path: &Path) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let real = path
        .ancestors()
        .find_map(|p| std::fs::canonicalize(p).ok())
        .unwrap_or_else(|| path.to_path_buf());
    type_in(&table, &real)
}

/// The file system type of `path` in a mountinfo table (`id parent dev root mountpoint
/// options [optional...] - type source super`); mount points escape spaces as `\040`.
fn type_in(table: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    for line in table.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(mount), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-"))
        else {
            continue;
        };
        let Some(kind) = fields.get(dash + 1) else {
            continue;
        };
        let mount = mount
            .replace("\\040", " ")
            .replace("\\011", "\t")
            .replace("\\012", "\n")
            .replace("\\134", "\\");
        if path.starts_with(&mount) && best.as_ref().is_none_or(|(len, _)| mount.len() >= *len) {
            best = Some((mount.len(), kind.to_string()));
        }
    }
    best.map(|(_, kind)| kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_mount_point_decides_the_file_system() {
        let table = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                     40 22 0:50 / /mnt/c rw,noatime - 9p drvfs rw\n\
                     41 22 0:51 / /mnt/my\\040share rw - cifs //srv/x rw\n";
        assert_eq!(
            type_in(table, Path::new("/home/me/.codex")).as_deref(),
            Some("ext4")
        );
        assert_eq!(
            type_in(table, Path::new("/mnt/c/Users/me/.codex")).as_deref(),
            Some("9p")
        );
        assert_eq!(
            type_in(table, Path::new("/mnt/my share/h")).as_deref(),
            Some("cifs")
        );
        assert_eq!(type_in("garbage", Path::new("/x")), None);
    }
}
