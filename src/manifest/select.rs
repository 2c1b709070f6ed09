//! Which declared home a command means: by name (with a did-you-mean), by folder, the
//! default; and the homes a session command looks at.

use std::path::{Path, PathBuf};

use super::Manifest;
use crate::error::{Error, Result};

/// A home sessions are read from: its name (from cdxs.yaml, or `default`) and folder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HomeRef {
    pub name: String,
    pub path: PathBuf,
}

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

/// Which homes share threads (`session sync-threads`), copies going from `sources` into
/// `targets`. Thread copies need intent: `from`/`to` (names or folders), `sel.all_homes`,
/// or the manifest's `sessions.share_threads`. `None`: nothing said which homes, and every
/// thread into every home is never the default (one home per client would mix clients).
pub fn thread_sharing(
    m: Option<&Manifest>,
    sel: &Selection,
    from: &[String],
    to: &[String],
    default_path: &Path,
) -> Result<Option<(Vec<HomeRef>, Vec<HomeRef>)>> {
    let every = Selection {
        all_homes: true,
        ..Selection::default()
    };
    if !from.is_empty() || !to.is_empty() {
        let known = session_homes(m, &every, default_path)?;
        let pick = |names: &[String]| -> Result<Vec<HomeRef>> {
            names.iter().map(|n| named_home(&known, n)).collect()
        };
        return Ok(Some((pick(from)?, pick(to)?)));
    }
    if sel.all_homes {
        let all = session_homes(m, &every, default_path)?;
        return Ok(Some((all.clone(), all)));
    }
    let shared: Vec<HomeRef> = m
        .filter(|_| sel.home.is_none() && sel.codex_home.is_none())
        .map(|m| {
            m.sessions
                .share_threads
                .iter()
                .filter_map(|n| m.homes.get(n))
                .map(|h| HomeRef {
                    name: h.name.clone(),
                    path: h.path.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((!shared.is_empty()).then(|| (shared.clone(), shared)))
}

/// A home named on the command line among `known`: its name, or a folder (a path).
fn named_home(known: &[HomeRef], name: &str) -> Result<HomeRef> {
    if let Some(h) = known.iter().find(|h| h.name == name) {
        return Ok(h.clone());
    }
    // `/` too on Windows, where people write `C:/Users/me/.codex` as often as `\`.
    if name.chars().any(std::path::is_separator) || name.starts_with('~') {
        let path = crate::paths::expand(name, None)?;
        let key = crate::paths::resolved_key(&path);
        return Ok(known
            .iter()
            .find(|h| crate::paths::resolved_key(&h.path) == key)
            .cloned()
            .unwrap_or(HomeRef {
                name: crate::paths::display(&path),
                path,
            }));
    }
    let names: Vec<&str> = known.iter().map(|h| h.name.as_str()).collect();
    Err(
        Error::user(format!("there is no home `{name}`")).with_help(format!(
            "homes: {}; or give a Codex home's folder",
            names.join(", ")
        )),
    )
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

    #[test]
    fn thread_copies_need_intent() {
        let d = Path::new("/u/.codex");
        let names = |v: &[HomeRef]| v.iter().map(|h| h.name.clone()).collect::<Vec<_>>();
        let two = m("version: 1\nhomes:\n  a: { path: /h/a }\n  b: { path: /h/b }\n");
        let none = Selection::default();
        assert!(
            thread_sharing(Some(&two), &none, &[], &[], d)
                .unwrap()
                .is_none()
        );
        assert!(thread_sharing(None, &none, &[], &[], d).unwrap().is_none());
        let one = Selection {
            home: Some("a".into()),
            ..Selection::default()
        };
        assert!(
            thread_sharing(Some(&two), &one, &[], &[], d)
                .unwrap()
                .is_none()
        );
        let all = Selection {
            all_homes: true,
            ..Selection::default()
        };
        let (from, to) = thread_sharing(Some(&two), &all, &[], &[], d)
            .unwrap()
            .unwrap();
        assert_eq!(names(&from), ["a", "b", "default"]);
        assert_eq!(from, to);
        let (from, to) = thread_sharing(Some(&two), &none, &["a".into()], &["/h/b".into()], d)
            .unwrap()
            .unwrap();
        assert_eq!(
            (names(&from), names(&to)),
            (vec!["a".into()], vec!["b".into()])
        );
        assert!(thread_sharing(Some(&two), &none, &["c".into()], &["a".into()], d).is_err());
        let shared = m(
            "version: 1\nhomes:\n  a: { path: /h/a }\n  b: { path: /h/b }\n  c: { path: /h/c }\nsessions:\n  share_threads: [a, c]\n",
        );
        let (from, _) = thread_sharing(Some(&shared), &none, &[], &[], d)
            .unwrap()
            .unwrap();
        assert_eq!(names(&from), ["a", "c"]);
    }
}
