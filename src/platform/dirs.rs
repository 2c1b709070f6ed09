//! Default folders, per OS.
//!
//! | what | Linux and macOS | Windows |
//! |---|---|---|
//! | profile (`~`, Codex's default home is `<profile>/.codex`) | `$HOME` | the profile known folder (as Codex: not `%USERPROFILE%`) |
//! | cdxs's config (the manifest) | `$XDG_CONFIG_HOME`, else `~/.config` | `%APPDATA%`, else the RoamingAppData known folder |
//! | cdxs's data (the vault) | `$XDG_DATA_HOME`, else `~/.local/share` | `%LOCALAPPDATA%`, else the LocalAppData known folder |
//!
//! macOS follows the XDG variables and `~/.config`, `~/.local/share` (as gh, atuin and
//! chezmoi do for people who keep dotfiles in git), not `~/Library/Application Support`.
//! An XDG variable that is empty or relative is ignored, as the XDG spec says.
//!
//! No variable moves the Windows profile (Codex does not read one either), so that a test
//! can give each world its own, `CDXS_PROFILE_DIR` (absolute) does, for cdxs only and in
//! debug and test builds only (as `CDXS_NOW`): a release build always agrees with Codex.

use std::ffi::OsString;
use std::path::PathBuf;

/// The kind of OS whose rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Linux, macOS and other Unixes.
    Unix,
    Windows,
}

/// The family cdxs was built for.
pub const FAMILY: Family = if cfg!(windows) {
    Family::Windows
} else {
    Family::Unix
};

/// What the OS says about its folders, besides the environment (Windows known folders).
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub profile: Option<PathBuf>,
    pub roaming_app_data: Option<PathBuf>,
    pub local_app_data: Option<PathBuf>,
}

impl Known {
    /// Ask the OS (`SHGetKnownFolderPath` on Windows; the password database for a Unix
    /// home without `$HOME`).
    pub fn of_this_system() -> Known {
        Known {
            profile: ::dirs::home_dir(),
            roaming_app_data: if cfg!(windows) {
                ::dirs::config_dir()
            } else {
                None
            },
            local_app_data: if cfg!(windows) {
                ::dirs::data_local_dir()
            } else {
                None
            },
        }
    }
}

/// The base folders (cdxs adds `cdxs` to config and data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    pub profile: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub data: Option<PathBuf>,
}

/// The variable that moves the Windows profile folder for cdxs (tests: one per world).
pub const PROFILE_OVERRIDE: &str = "CDXS_PROFILE_DIR";

/// The folders for `family`, from the environment `env` and the OS's answers `known`:
/// pure, so every rule is tested for every OS on any OS.
pub fn folders(family: Family, env: &dyn Fn(&str) -> Option<OsString>, known: &Known) -> Folders {
    let absolute = |var: &str| {
        env(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| match family {
                Family::Unix => p.to_string_lossy().starts_with('/'),
                Family::Windows => is_windows_absolute(p),
            })
    };
    match family {
        Family::Unix => {
            let profile = env("HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| known.profile.clone());
            Folders {
                config: absolute("XDG_CONFIG_HOME")
                    .or_else(|| profile.as_ref().map(|h| h.join(".config"))),
                data: absolute("XDG_DATA_HOME")
                    .or_else(|| profile.as_ref().map(|h| h.join(".local").join("share"))),
                profile,
            }
        }
        Family::Windows => Folders {
            profile: absolute(PROFILE_OVERRIDE)
                .filter(|_| cfg!(debug_assertions))
                .or_else(|| known.profile.clone()),
            config: absolute("APPDATA").or_else(|| known.roaming_app_data.clone()),
            data: absolute("LOCALAPPDATA").or_else(|| known.local_app_data.clone()),
        },
    }
}

/// `C:\x` or `\\server\share` spelled for Windows, judged on any OS.
fn is_windows_absolute(p: &std::path::Path) -> bool {
    let s = p.to_string_lossy();
    let b = s.as_bytes();
    (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        || s.starts_with("\\\\")
}

/// The folders of this system now.
pub fn current() -> Folders {
    folders(FAMILY, &|v| std::env::var_os(v), &Known::of_this_system())
}

/// The profile folder (`~`).
pub fn profile() -> Option<PathBuf> {
    current().profile
}

/// How this OS's defaults are written for people (`--help`, errors).
pub struct Spelling {
    /// Where the manifest goes by default.
    pub manifest: &'static str,
    /// Where the vault goes by default.
    pub state: &'static str,
    /// Codex's default home.
    pub codex_home: &'static str,
}

pub const SPELLING: Spelling = if cfg!(windows) {
    Spelling {
        manifest: r"%APPDATA%\cdxs\cdxs.yaml",
        state: r"%LOCALAPPDATA%\cdxs",
        codex_home: r"%USERPROFILE%\.codex",
    }
} else {
    Spelling {
        manifest: "$XDG_CONFIG_HOME/cdxs/cdxs.yaml or ~/.config/cdxs/cdxs.yaml",
        state: "$XDG_DATA_HOME/cdxs or ~/.local/share/cdxs",
        codex_home: "~/.codex",
    }
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(*v))
        }
    }

    #[test]
    fn unix_follows_xdg_then_dotfiles_folders_on_linux_and_macos() {
        let known = Known {
            profile: Some("/from/passwd".into()),
            ..Known::default()
        };
        let f = folders(Family::Unix, &env_of(&[("HOME", "/home/me")]), &known);
        assert_eq!(f.profile.as_deref(), Some(Path::new("/home/me")));
        let me = Path::new("/home/me");
        assert_eq!(f.config, Some(me.join(".config")));
        assert_eq!(f.data, Some(me.join(".local").join("share")));
        let f = folders(
            Family::Unix,
            &env_of(&[
                ("HOME", "/home/me"),
                ("XDG_CONFIG_HOME", "/cfg"),
                ("XDG_DATA_HOME", "/data"),
            ]),
            &known,
        );
        assert_eq!(f.config.as_deref(), Some(Path::new("/cfg")));
        assert_eq!(f.data.as_deref(), Some(Path::new("/data")));
        // Relative or empty XDG values are ignored; no $HOME: the password database.
        let f = folders(
            Family::Unix,
            &env_of(&[("XDG_CONFIG_HOME", "rel/cfg"), ("XDG_DATA_HOME", "")]),
            &known,
        );
        assert_eq!(f.profile.as_deref(), Some(Path::new("/from/passwd")));
        let pw = Path::new("/from/passwd");
        assert_eq!(f.config, Some(pw.join(".config")));
        assert_eq!(f.data, Some(pw.join(".local").join("share")));
    }

    #[test]
    fn windows_uses_the_profile_known_folder_and_the_app_data_variables() {
        let known = Known {
            profile: Some(r"C:\Users\me".into()),
            roaming_app_data: Some(r"C:\Users\me\AppData\Roaming".into()),
            local_app_data: Some(r"C:\Users\me\AppData\Local".into()),
        };
        // USERPROFILE and HOME (Git Bash sets it) do not move the profile: Codex reads the
        // known folder, and cdxs must find the same default home.
        let f = folders(
            Family::Windows,
            &env_of(&[("USERPROFILE", r"D:\elsewhere"), ("HOME", "/c/Users/me")]),
            &known,
        );
        assert_eq!(f.profile, known.profile);
        assert_eq!(f.config, known.roaming_app_data);
        assert_eq!(f.data, known.local_app_data);
        let f = folders(
            Family::Windows,
            &env_of(&[
                ("APPDATA", r"D:\t\roaming"),
                ("LOCALAPPDATA", r"D:\t\local"),
            ]),
            &known,
        );
        assert_eq!(f.config, Some(PathBuf::from(r"D:\t\roaming")));
        assert_eq!(f.data, Some(PathBuf::from(r"D:\t\local")));
        let f = folders(Family::Windows, &env_of(&[("APPDATA", "relative")]), &known);
        assert_eq!(f.config, known.roaming_app_data);
        // Only cdxs's own variable moves the profile, and only to an absolute folder.
        let f = folders(
            Family::Windows,
            &env_of(&[("CDXS_PROFILE_DIR", r"D:\t\profile")]),
            &known,
        );
        assert_eq!(f.profile, Some(PathBuf::from(r"D:\t\profile")));
        let f = folders(
            Family::Windows,
            &env_of(&[("CDXS_PROFILE_DIR", "rel")]),
            &known,
        );
        assert_eq!(f.profile, known.profile);
    }
}
