//! How paths are spelled and compared.
//!
//! Windows writes one folder many ways: `C:\Users\me`, `c:/users/ME`, the verbatim
//! `\\?\C:\Users\me` (what `std::fs::canonicalize` returns, and what the Codex desktop app
//! stores in `threads.cwd`), `\\?\UNC\server\share` for `\\server\share`. Codex stores
//! `threads.rollout_path` in the plain form. So cdxs compares Windows paths after
//! normalising (verbatim prefix removed, `/` as `\`, case folded, no trailing separator),
//! writes paths it derives in the plain form ([`canonicalize`]), and keeps a value it read
//! (a thread's `cwd`) byte for byte. Unix paths are compared as bytes.

use std::io;
use std::path::{Path, PathBuf};

/// The resolved path (links followed), in the plain form on Windows (`C:\x`, not
/// `\\?\C:\x`) wherever the plain form names the same file.
pub fn canonicalize(path: &Path) -> io::Result<PathBuf> {
    dunce::canonicalize(path)
}

/// `path` without a verbatim prefix where the plain form means the same (Windows); the
/// path itself elsewhere.
pub fn plain(path: &Path) -> PathBuf {
    dunce::simplified(path).to_path_buf()
}

/// The comparison key of a Windows path spelled `s` (pure, for any OS): verbatim prefixes
/// removed (`\\?\C:\` -> `c:\`, `\\?\UNC\s\x` -> `\\s\x`), `/` as `\`, lower case, no
/// trailing separator but a root's.
pub fn windows_key(s: &str) -> String {
    let s = s.replace('/', "\\");
    let s = if let Some(rest) = s.strip_prefix(r"\\?\UNC\") {
        format!(r"\\{rest}")
    } else if let Some(rest) = s.strip_prefix(r"\\?\").or_else(|| s.strip_prefix(r"\\.\")) {
        rest.to_string()
    } else {
        s
    };
    let mut s = s.to_lowercase();
    while s.ends_with('\\') && !is_root(&s) {
        s.pop();
    }
    s
}

fn is_root(s: &str) -> bool {
    let b = s.as_bytes();
    (b.len() == 3 && b[1] == b':') || s == "\\"
}

/// Whether two spellings name the same path (no disk access): Windows rules on Windows,
/// bytes elsewhere.
pub fn same(a: &Path, b: &Path) -> bool {
    if cfg!(windows) {
        windows_key(&a.to_string_lossy()) == windows_key(&b.to_string_lossy())
    } else {
        a == b
    }
}

/// `path` is `dir` or lies below it (no disk access; `dir` may end with a separator).
pub fn under(path: &Path, dir: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let (p, d) = (path.as_os_str().as_bytes(), dir.as_os_str().as_bytes());
        let d = d.strip_suffix(b"/").unwrap_or(d);
        p.starts_with(d) && (p.len() == d.len() || p[d.len()] == b'/')
    }
    #[cfg(not(unix))]
    {
        windows_under(&path.to_string_lossy(), &dir.to_string_lossy())
    }
}

/// [`under`] with Windows rules on spelled paths (pure, for any OS).
pub fn windows_under(path: &str, dir: &str) -> bool {
    let (p, d) = (windows_key(path), windows_key(dir));
    let d = d.strip_suffix('\\').unwrap_or(&d);
    p.starts_with(d) && (p.len() == d.len() || p.as_bytes()[d.len()] == b'\\')
}

/// The file names under which `name` is found as a command in a `PATH` folder: `name` on
/// Unix; on Windows `name` with each extension of `%PATHEXT%` (`codex.exe`, `codex.cmd`:
/// npm installs a `.cmd` shim).
pub fn executable_names(name: &str) -> Vec<String> {
    if !cfg!(windows) {
        return vec![name.to_string()];
    }
    let pathext = std::env::var("PATHEXT").unwrap_or_default();
    windows_executable_names(name, &pathext)
}

/// [`executable_names`] for a given `%PATHEXT%` (pure).
pub fn windows_executable_names(name: &str, pathext: &str) -> Vec<String> {
    let exts: Vec<String> = if pathext.trim().is_empty() {
        [".COM", ".EXE", ".BAT", ".CMD"].map(String::from).to_vec()
    } else {
        pathext
            .split(';')
            .map(str::trim)
            .filter(|e| e.starts_with('.') && e.len() > 1)
            .map(String::from)
            .collect()
    };
    exts.iter()
        .map(|e| format!("{name}{}", e.to_lowercase()))
        .collect()
}

/// The program a command names, found as the Windows shell finds it: a bare name (no
/// folder, no `%PATHEXT%` extension) is looked up in the absolute folders of `path_var`
/// with every `%PATHEXT%` extension, so that `codex` is npm's `codex.cmd`, which std's own
/// search (`.exe` only) misses. A name with a folder or such an extension, a name not
/// found, and every name on Unix stay as given.
pub fn program(name: &std::ffi::OsStr, path_var: Option<&std::ffi::OsStr>) -> PathBuf {
    let given = PathBuf::from(name);
    if !cfg!(windows) {
        return given;
    }
    let text = name.to_string_lossy();
    let lower = text.to_lowercase();
    let has_extension = executable_names(&text)
        .iter()
        .any(|n| lower.ends_with(&n[text.len()..]));
    if text.contains(['/', '\\', ':']) || has_extension {
        return given;
    }
    // Never the current folder (a relative entry, as a trailing `;` makes).
    let absolute = std::env::split_paths(path_var.unwrap_or_default()).filter(|d| d.is_absolute());
    let Ok(absolute) = std::env::join_paths(absolute) else {
        return given;
    };
    on_path(Some(&absolute), &text)
        .into_iter()
        .next()
        .unwrap_or(given)
}

/// Every executable named `name` in the folders of `$PATH`, in order, without duplicates
/// (on Windows `name.exe`, `name.cmd`, ...: every `%PATHEXT%` spelling).
pub fn on_path(path_var: Option<&std::ffi::OsStr>, name: &str) -> Vec<PathBuf> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let names = executable_names(name);
    for dir in std::env::split_paths(path_var.unwrap_or_default()) {
        for file in &names {
            let candidate = dir.join(file);
            let Ok(meta) = std::fs::metadata(&candidate) else {
                continue;
            };
            if !super::fs::is_executable(&meta) {
                continue;
            }
            let real = canonicalize(&candidate).unwrap_or(candidate.clone());
            if seen.insert(real) {
                out.push(candidate);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_command_is_found_with_its_windows_extension() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("codex.cmd"), "@exit /b 0").unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        let found = program("codex".as_ref(), Some(&path));
        if cfg!(windows) {
            assert_eq!(found, dir.path().join("codex.cmd"));
        } else {
            assert_eq!(found, PathBuf::from("codex"));
        }
        // A path or a name with an extension is the user's choice, as written.
        assert_eq!(
            program("x.exe".as_ref(), Some(&path)),
            PathBuf::from("x.exe")
        );
        let given = dir.path().join("codex");
        assert_eq!(program(given.as_os_str(), Some(&path)), given);
        assert_eq!(
            program("nothere".as_ref(), Some(&path)),
            PathBuf::from("nothere")
        );
        // A dot that is no command extension is part of the name; a relative PATH entry
        // (the current folder) is never searched.
        std::fs::write(dir.path().join("python3.12.exe"), "").unwrap();
        let dotted = program("python3.12".as_ref(), Some(&path));
        let relative = std::env::join_paths([Path::new("rel")]).unwrap();
        assert_eq!(
            program("codex".as_ref(), Some(&relative)),
            PathBuf::from("codex")
        );
        if cfg!(windows) {
            assert_eq!(dotted, dir.path().join("python3.12.exe"));
        } else {
            assert_eq!(dotted, PathBuf::from("python3.12"));
        }
    }

    #[test]
    fn windows_spellings_of_one_folder_compare_equal() {
        let k = windows_key(r"C:\Users\Me\.codex");
        for s in [
            r"\\?\C:\Users\Me\.codex",
            r"c:/users/me/.codex/",
            r"C:\USERS\ME\.CODEX\",
        ] {
            assert_eq!(windows_key(s), k, "{s}");
        }
        assert_eq!(
            windows_key(r"\\?\UNC\server\share\x"),
            windows_key(r"\\Server\Share\x")
        );
        assert_eq!(windows_key(r"C:\"), r"c:\");
        assert_ne!(windows_key(r"C:\a"), windows_key(r"D:\a"));
    }

    #[test]
    fn under_with_windows_rules() {
        assert!(windows_under(
            r"\\?\C:\Users\me\.codex\sessions\2026\x.jsonl",
            r"c:\users\ME\.codex"
        ));
        assert!(windows_under(r"C:\a\b", r"C:\a\"));
        assert!(windows_under(r"C:\a", r"C:\a"));
        assert!(!windows_under(r"C:\ab", r"C:\a"));
        assert!(windows_under(r"C:\x", r"C:\"));
    }

    #[test]
    fn under_here() {
        let base = std::env::temp_dir();
        assert!(under(&base.join("a").join("b"), &base.join("a")));
        assert!(under(&base.join("a"), &base.join("a")));
        assert!(!under(&base.join("ab"), &base.join("a")));
        assert!(same(&base.join("a"), &base.join("a")));
    }

    #[test]
    fn windows_command_names_come_from_pathext() {
        assert_eq!(
            windows_executable_names("codex", ".EXE;.CMD"),
            vec!["codex.exe", "codex.cmd"]
        );
        assert_eq!(windows_executable_names("codex", "").len(), 4);
    }

    #[test]
    fn canonical_paths_are_plain() {
        let dir = tempfile::tempdir().unwrap();
        let c = canonicalize(dir.path()).unwrap();
        assert!(!c.to_string_lossy().starts_with(r"\\?\"), "{}", c.display());
        assert_eq!(plain(&c), c);
    }
}
