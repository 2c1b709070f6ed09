//! The processes running now: their command line, executable and `CODEX_HOME`. Linux reads
//! `/proc`; macOS and Windows ask `sysinfo` (`KERN_PROCARGS2`; the process's PEB). A
//! process of another user is listed without its environment where the OS hides it.

use std::path::{Path, PathBuf};

/// One running process, as far as this user may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// Its command line (lossy UTF-8).
    pub argv: Vec<String>,
    /// Its executable, where the OS says.
    pub exe: Option<PathBuf>,
    /// `CODEX_HOME` in its environment, when set and readable.
    pub codex_home: Option<PathBuf>,
}

/// The environment variable whose value [`ProcessInfo::codex_home`] holds.
const CODEX_HOME: &str = "CODEX_HOME";

/// Every process but this one for which `want(argv, exe)` holds (the environment, the
/// costly part, is read only for those).
pub fn list(want: impl Fn(&[String], Option<&Path>) -> bool) -> Vec<ProcessInfo> {
    imp::list(&want)
}

/// The short command name of `pid` (`codex`, `codex.exe`), where the OS says.
pub fn command_name(pid: u32) -> Option<String> {
    imp::command_name(pid)
}

/// Whether `pid` is running now; `None` when this OS cannot tell.
pub fn alive(pid: u32) -> Option<bool> {
    imp::alive(pid)
}

/// The value of `CODEX_HOME` in `NAME=value` entries (case-insensitive name on Windows,
/// where environment names are).
fn codex_home_in<'a>(env: impl IntoIterator<Item = &'a [u8]>) -> Option<PathBuf> {
    env.into_iter().find_map(|kv| {
        let eq = kv.iter().position(|b| *b == b'=')?;
        let (name, value) = (&kv[..eq], &kv[eq + 1..]);
        let matches = if cfg!(windows) {
            name.eq_ignore_ascii_case(CODEX_HOME.as_bytes())
        } else {
            name == CODEX_HOME.as_bytes()
        };
        (matches && !value.is_empty())
            .then(|| PathBuf::from(String::from_utf8_lossy(value).into_owned()))
    })
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;

    pub fn list(want: &dyn Fn(&[String], Option<&Path>) -> bool) -> Vec<ProcessInfo> {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let me = std::process::id();
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let argv: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let exe = std::fs::read_link(entry.path().join("exe")).ok();
            if !want(&argv, exe.as_deref()) {
                continue;
            }
            let codex_home = std::fs::read(entry.path().join("environ"))
                .ok()
                .and_then(|env| codex_home_in(env.split(|b| *b == 0)));
            out.push(ProcessInfo {
                pid,
                argv,
                exe,
                codex_home,
            });
        }
        out
    }

    pub fn command_name(pid: u32) -> Option<String> {
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()
            .map(|c| c.trim().to_string())
    }

    pub fn alive(pid: u32) -> Option<bool> {
        Some(Path::new(&format!("/proc/{pid}")).exists())
    }
}

#[cfg(any(target_os = "macos", windows))]
mod imp {
    use super::*;
    use std::ffi::OsString;
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

    fn lossy(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    pub fn list(want: &dyn Fn(&[String], Option<&Path>) -> bool) -> Vec<ProcessInfo> {
        let mut sys = System::new();
        sys.refresh_processes_specifics(
            ProcessesToUpdate::All,
            true,
            ProcessRefreshKind::nothing()
                .with_cmd(UpdateKind::Always)
                .with_exe(UpdateKind::Always),
        );
        let me = std::process::id();
        let wanted: Vec<(Pid, Vec<String>, Option<PathBuf>)> = sys
            .processes()
            .iter()
            .filter(|(pid, _)| pid.as_u32() != me)
            .filter_map(|(pid, p)| {
                let argv = lossy(p.cmd());
                let exe = p.exe().map(Path::to_path_buf);
                want(&argv, exe.as_deref()).then_some((*pid, argv, exe))
            })
            .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let pids: Vec<Pid> = wanted.iter().map(|(p, ..)| *p).collect();
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&pids),
            false,
            ProcessRefreshKind::nothing().with_environ(UpdateKind::Always),
        );
        wanted
            .into_iter()
            .map(|(pid, argv, exe)| {
                let codex_home = sys.process(pid).and_then(|p| {
                    let env: Vec<Vec<u8>> = p
                        .environ()
                        .iter()
                        .map(|kv| kv.to_string_lossy().into_owned().into_bytes())
                        .collect();
                    codex_home_in(env.iter().map(Vec::as_slice))
                });
                ProcessInfo {
                    pid: pid.as_u32(),
                    argv,
                    exe,
                    codex_home,
                }
            })
            .collect()
    }

    fn one(pid: u32) -> System {
        let mut sys = System::new();
        sys.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[Pid::from_u32(pid)]),
            true,
            ProcessRefreshKind::nothing(),
        );
        sys
    }

    pub fn command_name(pid: u32) -> Option<String> {
        one(pid)
            .process(Pid::from_u32(pid))
            .map(|p| p.name().to_string_lossy().into_owned())
    }

    pub fn alive(pid: u32) -> Option<bool> {
        Some(one(pid).process(Pid::from_u32(pid)).is_some())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
mod imp {
    use super::*;

    pub fn list(_: &dyn Fn(&[String], Option<&Path>) -> bool) -> Vec<ProcessInfo> {
        let _ = codex_home_in::<'static, Vec<&[u8]>>;
        Vec::new()
    }

    pub fn command_name(_: u32) -> Option<String> {
        None
    }

    pub fn alive(_: u32) -> Option<bool> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_child_and_its_codex_home() {
        let mut child = if cfg!(windows) {
            std::process::Command::new("cmd")
                .args(["/C", "ping -n 30 127.0.0.1 >NUL"])
                .env(CODEX_HOME, "/x/home")
                .spawn()
                .unwrap()
        } else {
            std::process::Command::new("sleep")
                .arg("30")
                .env(CODEX_HOME, "/x/home")
                .spawn()
                .unwrap()
        };
        let pid = child.id();
        // A loaded machine may list the child before its environment can be read: retry.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let (found, me) = loop {
            let found = list(|_, _| true);
            let me = found.iter().find(|p| p.pid == pid).cloned();
            let done = me.as_ref().is_some_and(|p| p.codex_home.is_some());
            if done || std::time::Instant::now() > deadline {
                break (found, me);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let _ = child.kill();
        let _ = child.wait();
        let me = me.expect("the child is listed");
        assert_eq!(me.codex_home.as_deref(), Some(Path::new("/x/home")));
        assert!(!me.argv.is_empty());
        assert!(!found.iter().any(|p| p.pid == std::process::id()));
    }

    #[test]
    fn alive_where_the_os_tells() {
        assert_eq!(alive(std::process::id()), Some(true));
        assert_eq!(alive(u32::MAX - 7), Some(false));
    }

    #[test]
    fn codex_home_from_the_environment_block() {
        let env: Vec<&[u8]> = vec![b"PATH=/bin", b"CODEX_HOME=/h/a", b"X=1"];
        assert_eq!(codex_home_in(env), Some(PathBuf::from("/h/a")));
        let empty: Vec<&[u8]> = vec![b"CODEX_HOME="];
        assert_eq!(codex_home_in(empty), None);
    }
}
