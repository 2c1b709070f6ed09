//! Which declared home a command means: by name (with a did-you-mean), by folder, the
//! default; and the homes a session command looks at.

use std::path::{Path, PathBuf};

use super::Manifest;
use crate::error::{Error, Result};
use crate::sessions::HomeRef;

/// The declared home `name`, or a typed error with the closest name.
pub fn require_home(m: &Manifest, name: &str) -> Result<String> {
    if m.homes.contains_key(name) {
        return Ok(name.to_string());
    }
    let declared: Vec<String> = m.homes.keys().cloned().collect();
    Err(Error::UnknownHome {
        name: name.to_string(),
        suggestion: super::diagnostics::did_you_mean(name, declared.iter().map(String::as_str))
            .map(str::to_string),
        declared,
    })
}

/// The declared home whose folder is `path`.
pub fn home_for_path(m: &Manifest, path: &Path) -> Option<String> {
    m.homes
        .values()
        .find(|h| h.path == path)
        .map(|h| h.name.clone())
}

/// The home `switch` and friends mean: `--home NAME`, else the one at `--codex-home PATH`,
/// else `default`, else the one at the default Codex home. `None`: no declared home.
pub fn target_home(
    m: &Manifest,
    home: Option<&str>,
    codex_home: Option<&Path>,
    default_path: &Path,
) -> Result<Option<String>> {
    if let Some(name) = home {
        return require_home(m, name).map(Some);
    }
    match codex_home {
        Some(p) => Ok(home_for_path(m, p)),
        None if m.homes.contains_key("default") => Ok(Some("default".into())),
        None => Ok(home_for_path(m, default_path)),
    }
}

/// Which homes a session command looks at.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub all_homes: bool,
    pub home: Option<String>,
    pub codex_home: Option<PathBuf>,
}

/// The homes of a selection: `--codex-home` itself, `--home NAME`, every declared home and
/// the default one (`--all-homes`), else the default (the manifest's `default`, the home at
/// the default path, else the default path). Names are unique: an undeclared default home
/// next to a declared `default` is named by its folder.
pub fn session_homes(
    m: Option<&Manifest>,
    sel: &Selection,
    default_path: &Path,
) -> Result<Vec<HomeRef>> {
    if let Some(p) = &sel.codex_home {
        return Ok(vec![HomeRef {
            name: crate::paths::display(p),
            path: p.clone(),
        }]);
    }
    if let Some(name) = &sel.home {
        let Some(m) = m else {
            return Err(Error::NoManifest {
                path: PathBuf::from("cdxs.yaml"),
                explicit: false,
            });
        };
        let name = require_home(m, name)?;
        return Ok(vec![HomeRef {
            path: m.homes[&name].path.clone(),
            name,
        }]);
    }
    let declared: Vec<HomeRef> = m
        .map(|m| {
            m.homes
                .values()
                .map(|h| HomeRef {
                    name: h.name.clone(),
                    path: h.path.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let default_ref = || HomeRef {
        name: if declared.iter().any(|h| h.name == "default") {
            crate::paths::display(default_path)
        } else {
            "default".into()
        },
        path: default_path.to_path_buf(),
    };
    // Compared by resolved path: `~/.codex` declared through a symlink is the same home.
    let default_key = crate::paths::resolved_key(default_path);
    let is_default = |h: &HomeRef| crate::paths::resolved_key(&h.path) == default_key;
    if sel.all_homes {
        let mut homes = declared.clone();
        if !homes.iter().any(is_default) {
            homes.push(default_ref());
        }
        return Ok(homes);
    }
    if let Some(h) = declared.iter().find(|h| h.name == "default") {
        return Ok(vec![h.clone()]);
    }
    if let Some(h) = declared.iter().find(|h| is_default(h)) {
        return Ok(vec![h.clone()]);
    }
    Ok(vec![default_ref()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(yaml: &str) -> Manifest {
        super::super::parse(yaml, Path::new("/c/cdxs.yaml")).unwrap()
    }

    #[test]
    fn unknown_homes_suggest_the_closest() {
        let m = m("version: 1\nhomes:\n  work: { path: /h/work }\n  default: { path: /h/d }\n");
        match require_home(&m, "wrok") {
            Err(Error::UnknownHome {
                suggestion,
                declared,
                ..
            }) => {
                assert_eq!(suggestion.as_deref(), Some("work"));
                assert_eq!(declared, vec!["work", "default"]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            target_home(&m, None, None, Path::new("/x")).unwrap(),
            Some("default".into())
        );
        assert_eq!(
            target_home(&m, None, Some(Path::new("/h/work")), Path::new("/x")).unwrap(),
            Some("work".into())
        );
    }

    #[test]
    fn all_homes_never_has_two_named_default() {
        let m = m("version: 1\nhomes:\n  default: { path: /h/d }\n");
        let sel = Selection {
            all_homes: true,
            ..Selection::default()
        };
        let homes = session_homes(Some(&m), &sel, Path::new("/u/.codex")).unwrap();
        let names: Vec<&str> = homes.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, vec!["default", "/u/.codex"]);
        let one = session_homes(Some(&m), &Selection::default(), Path::new("/u/.codex")).unwrap();
        assert_eq!(one[0].path, Path::new("/h/d"));
        let none = session_homes(None, &Selection::default(), Path::new("/u/.codex")).unwrap();
        assert_eq!(none[0].name, "default");
    }
}
