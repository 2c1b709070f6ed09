//! Where things live: the state folder, the manifest, the default Codex home, and path
//! expansion (`~`, `$VAR`, `${VAR}`, relative to the manifest's folder).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::platform;

/// `--state-dir`, else `$CDXS_STATE_DIR`, else `cdxs` in the data folder: `$XDG_DATA_HOME`
/// or `~/.local/share` on Linux and macOS, `%LOCALAPPDATA%` on Windows
/// ([`platform::dirs`]).
pub fn state_dir(flag: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = flag {
        return Ok(absolute(p));
    }
    if let Some(p) = env_path("CDXS_STATE_DIR") {
        return Ok(absolute(&p));
    }
    platform::dirs::current()
        .data
        .map(|d| d.join("cdxs"))
        .ok_or_else(|| {
            Error::user("cannot find a data folder for the vault")
                .with_help("pass `--state-dir PATH` or set `CDXS_STATE_DIR`")
        })
}

/// `-f`'s help with this OS's default (`~/.config/cdxs/cdxs.yaml`, `%APPDATA%\cdxs\cdxs.yaml`).
pub fn manifest_flag_help() -> String {
    format!(
        "The manifest (default: `$CDXS_MANIFEST`, `./cdxs.yaml`, {})",
        quoted(platform::dirs::SPELLING.manifest)
    )
}

/// `--state-dir`'s help with this OS's default.
pub fn state_dir_flag_help() -> String {
    format!(
        "Folder of the vault and cdxs's own state (default: `$CDXS_STATE_DIR`, {})",
        quoted(platform::dirs::SPELLING.state)
    )
}

/// `a or b` as `` `a` or `b` ``.
fn quoted(default: &str) -> String {
    default
        .split(" or ")
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Candidate manifest paths in order: `-f`, `$CDXS_MANIFEST`, `./cdxs.yaml`,
/// `cdxs/cdxs.yaml` in the config folder (`$XDG_CONFIG_HOME` or `~/.config` on Linux and
/// macOS, `%APPDATA%` on Windows). Returns the first that exists, or (for `init`) where a
/// new one would go.
pub struct ManifestLocation {
    pub path: PathBuf,
    pub exists: bool,
    /// True when the user named this path (flag or env), so a missing file is an error.
    pub explicit: bool,
}

pub fn manifest_location(flag: Option<&Path>) -> ManifestLocation {
    let explicit = flag
        .map(absolute)
        .or_else(|| env_path("CDXS_MANIFEST").map(|p| absolute(&p)));
    if let Some(path) = explicit {
        return ManifestLocation {
            exists: path.exists(),
            path,
            explicit: true,
        };
    }
    let cwd = absolute(Path::new("cdxs.yaml"));
    if cwd.exists() {
        return ManifestLocation {
            path: cwd,
            exists: true,
            explicit: false,
        };
    }
    let config = platform::dirs::current()
        .config
        .map(|d| d.join("cdxs").join("cdxs.yaml"));
    match config {
        Some(path) if path.exists() => ManifestLocation {
            path,
            exists: true,
            explicit: false,
        },
        Some(path) => ManifestLocation {
            path,
            exists: false,
            explicit: false,
        },
        None => ManifestLocation {
            path: cwd,
            exists: false,
            explicit: false,
        },
    }
}

/// Where a new manifest goes (`init`, `import legacy`): `-f`/`$CDXS_MANIFEST`, else the
/// config folder's `cdxs/cdxs.yaml`.
pub fn new_manifest_path(flag: Option<&Path>) -> Result<PathBuf> {
    let loc = manifest_location(flag);
    if loc.explicit {
        return Ok(loc.path);
    }
    platform::dirs::current()
        .config
        .map(|d| d.join("cdxs").join("cdxs.yaml"))
        .ok_or_else(|| Error::user("cannot find a config folder").with_help("pass `-f PATH`"))
}

/// The home Codex uses right now: `$CODEX_HOME`, else `.codex` in the profile folder
/// (`~/.codex`; on Windows the profile known folder, as Codex reads it).
pub fn default_codex_home() -> Result<PathBuf> {
    if let Some(p) = env_path("CODEX_HOME") {
        return Ok(absolute(&expand(&p.to_string_lossy(), None)?));
    }
    home_dir().map(|h| h.join(".codex"))
}

/// `--codex-home PATH` made absolute, else [`default_codex_home`].
pub fn codex_home_or_default(given: Option<&Path>) -> Result<PathBuf> {
    given.map_or_else(default_codex_home, |p| Ok(absolute(p)))
}

/// `~/.codex` regardless of `$CODEX_HOME`: the manifest's `default` home.
pub fn codex_home_unset() -> Result<PathBuf> {
    home_dir().map(|h| h.join(".codex"))
}

/// The profile folder `~` stands for: `$HOME` on Unix, the profile known folder on
/// Windows.
pub fn home_dir() -> Result<PathBuf> {
    platform::dirs::profile()
        .ok_or_else(|| Error::user("cannot find your home folder (`$HOME` is unset)"))
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Make a path absolute against the current folder without touching the disk.
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        normalize(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        normalize(&cwd.join(path))
    }
}

/// Remove `.` and resolve `..` lexically (no symlink resolution, the file may not exist).
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for comp in path.components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Expand `~`, `~/x`, `$VAR` and `${VAR}`; make the result absolute against `base`
/// (the manifest's folder) or the current folder. An unset variable is an error.
pub fn expand(raw: &str, base: Option<&Path>) -> Result<PathBuf> {
    let (path, unset) = expand_keeping_unset(raw, base)?;
    match unset.first() {
        None => Ok(path),
        Some(name) => Err(
            Error::user(format!("path `{raw}` uses `${name}`, which is not set")).with_help(
                format!("set `{name}` in the environment, or write the path out"),
            ),
        ),
    }
}

/// [`expand`], except that a variable that is not set stays as written (`${NAME}`) and is
/// named in the list: `validate` checks the file, not the environment it runs in.
pub fn expand_keeping_unset(raw: &str, base: Option<&Path>) -> Result<(PathBuf, Vec<String>)> {
    let mut unset = Vec::new();
    let mut text = String::with_capacity(raw.len());
    // `~\x` too on Windows, where people write paths with backslashes.
    let rest =
        if raw == "~" || raw.starts_with("~/") || (platform::WINDOWS && raw.starts_with("~\\")) {
            text.push_str(&home_dir()?.to_string_lossy());
            &raw[1..]
        } else {
            raw
        };
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            text.push(c);
            continue;
        }
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&n) = chars.peek() {
            if n.is_ascii_alphanumeric() || n == '_' {
                name.push(n);
                chars.next();
            } else {
                break;
            }
        }
        if braced && chars.next() != Some('}') {
            return Err(Error::user(format!("unclosed `${{` in path `{raw}`")));
        }
        if name.is_empty() {
            text.push('$');
            continue;
        }
        match std::env::var(&name) {
            Ok(value) => text.push_str(&value),
            Err(_) => {
                text.push_str(&format!("${{{name}}}"));
                if !unset.contains(&name) {
                    unset.push(name);
                }
            }
        }
    }
    let path = PathBuf::from(text);
    let path = match (path.is_absolute(), base) {
        (true, _) => normalize(&path),
        (false, Some(base)) => normalize(&base.join(path)),
        (false, None) => absolute(&path),
    };
    Ok((path, unset))
}

/// The key under which cdxs locks or compares a folder: its resolved path (symlinks
/// included) when it exists; else its deepest existing ancestor resolved, with the rest
/// appended (normalized). Two spellings of one folder (`~/.codex`, a symlink to it,
/// `/a/../home/me/.codex`) get one key, so they get one lock.
pub fn resolved_key(path: &Path) -> PathBuf {
    let path = absolute(path);
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    let mut cur: &Path = &path;
    loop {
        if let Ok(real) = platform::path::canonicalize(cur) {
            let mut out = real;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                cur = parent;
            }
            _ => return path,
        }
    }
}

/// A warning for a state folder other users can read or enter (cdxs never changes the
/// mode of a folder that exists: it may be shared on purpose). `None` when it is private
/// or absent, and on Windows (no modes: the folder's ACL decides).
pub fn state_dir_warning(dir: &Path) -> Option<String> {
    let mode = platform::fs::mode_of(dir)?;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the state folder `{}` is mode {mode:04o}: other users can see which files it holds (the vault and backups inside stay 0600); make it private with `chmod 700 {}`, or move it with `--state-dir`",
            display(dir),
            display(dir)
        )
    })
}

/// Show a path with the home folder as `~` (for people, not for scripts).
pub fn display(path: &Path) -> String {
    display_with(path, home_dir().ok().as_deref())
}

/// [`display`] with the home folder given (pure code must not read `$HOME`).
pub fn display_with(path: &Path, home: Option<&Path>) -> String {
    if let Some(home) = home
        && let Ok(rest) = path.strip_prefix(home)
    {
        if rest.as_os_str().is_empty() {
            return "~".into();
        }
        return format!("~{}{}", std::path::MAIN_SEPARATOR, rest.display());
    }
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_relative_to_base() {
        let p = expand("homes/work", Some(Path::new("/etc/cdxs"))).unwrap();
        assert_eq!(p, PathBuf::from("/etc/cdxs/homes/work"));
        let p = expand("../x/./y", Some(Path::new("/a/b"))).unwrap();
        assert_eq!(p, PathBuf::from("/a/x/y"));
    }

    #[test]
    #[cfg_attr(
        windows,
        ignore = "needs symbolic links: wine 8.0 makes none (CreateSymbolicLinkW is a stub), Windows only with Developer Mode"
    )]
    fn resolved_keys_agree_for_two_spellings_of_one_folder() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(&real).unwrap();
        platform::fs::symlink(&real, &dir.path().join("link")).unwrap();
        let a = resolved_key(&real);
        assert_eq!(resolved_key(&dir.path().join("link")), a);
        assert_eq!(resolved_key(&dir.path().join("real/../real/.")), a);
        // A folder that does not exist yet: its existing ancestor is resolved.
        assert_eq!(
            resolved_key(&dir.path().join("link/new/x")),
            a.join("new").join("x")
        );
    }

    #[test]
    fn a_shared_state_folder_is_warned_about_not_changed() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(state_dir_warning(&state), None);
        std::fs::create_dir(&state).unwrap();
        if !platform::fs::HAS_MODES {
            assert_eq!(state_dir_warning(&state), None);
            return;
        }
        platform::fs::set_mode(&state, 0o700).unwrap();
        assert_eq!(state_dir_warning(&state), None);
        platform::fs::set_mode(&state, 0o1777).unwrap();
        let w = state_dir_warning(&state).unwrap();
        assert!(w.contains("1777") && w.contains("chmod 700"), "{w}");
        assert_eq!(platform::fs::mode_of(&state), Some(0o1777));
    }

    #[test]
    fn expands_variables() {
        // PATH is always set in test processes.
        let path = std::env::var("PATH").unwrap();
        let p = expand("/x/${PATH}", None).unwrap();
        assert_eq!(p, normalize(&PathBuf::from(format!("/x/{path}"))));
        let err = expand("$CDXS_SURELY_UNSET_VAR/x", None).unwrap_err();
        assert!(err.to_string().contains("CDXS_SURELY_UNSET_VAR"));
        assert!(expand("${HOME", None).is_err());
    }
}
