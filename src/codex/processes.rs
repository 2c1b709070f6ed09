//! Running Codex processes and the home each uses: after a switch they keep the old
//! credentials (API keys are never re-read; the app-server daemon caches auth), so plan and
//! apply name them. Since Codex 0.171, `codex exec --remote ADDR` runs inside an existing
//! app-server and uses *its* cached credentials: an app-server listening on ADDR is named
//! with its home, and so are the `exec --remote` clients that run through it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::platform;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexProcess {
    pub pid: u32,
    pub command: String,
    pub role: Role,
}

/// What a Codex process is, as far as cached credentials go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A TUI, `exec` or IDE session: keeps what it read at start.
    Session,
    /// `codex app-server` (and the managed daemon): caches auth for every client, including
    /// `codex exec --remote` ones; `listen` is its `--listen` address when it has one.
    AppServer { listen: Option<String> },
    /// `codex exec --remote ADDR`: uses the credentials of the app-server at ADDR.
    RemoteExec { remote: String },
    /// The ChatGPT or Codex desktop app: it runs Codex's app-server daemon (listed on its
    /// own) and restarts it; idle for hours, like an app-server.
    DesktopApp,
}

impl CodexProcess {
    /// `pid 12 `codex app-server`` with what restarting it means.
    pub fn describe(&self) -> String {
        let base = format!("pid {} `{}`", self.pid, self.command);
        match &self.role {
            Role::Session => base,
            Role::AppServer { listen: Some(addr) } => format!(
                "{base} (an app-server on {addr}: `codex exec --remote` clients use its cached credentials)"
            ),
            Role::AppServer { listen: None } => format!("{base} (an app-server)"),
            Role::RemoteExec { remote } => {
                format!("{base} (runs through the app-server at {remote})")
            }
            Role::DesktopApp => format!("{base} (the desktop app; it runs Codex's app-server)"),
        }
    }
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `argv`.
fn flag_value(argv: &[String], flag: &str) -> Option<String> {
    let eq = format!("{flag}=");
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            argv.get(i + 1).cloned()
        } else {
            a.strip_prefix(&eq).map(str::to_string)
        }
    })
}

fn role_of(argv: &[String], exe: Option<&Path>) -> Role {
    if is_desktop_app(argv, exe) {
        return Role::DesktopApp;
    }
    if argv.iter().any(|a| a == "app-server") {
        let listen = flag_value(argv, "--listen").filter(|l| l != "stdio://" && l != "off");
        return Role::AppServer { listen };
    }
    if argv.iter().any(|a| a == "exec")
        && let Some(remote) = flag_value(argv, "--remote")
    {
        return Role::RemoteExec { remote };
    }
    Role::Session
}

/// A file name without a Windows `.exe`, lower-cased there (`Codex.EXE` -> `codex`).
fn program_name(path: &str) -> String {
    // Split on both separators: a Windows command line read on any OS.
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let lower = base.to_ascii_lowercase();
    match lower.strip_suffix(".exe") {
        Some(stem) => stem.to_string(),
        None => base.to_string(),
    }
}

/// The desktop app's main process: `/Applications/ChatGPT.app/Contents/MacOS/ChatGPT` (or
/// `Codex.app`) on macOS, `ChatGPT.exe` on Windows. Its helpers (`ChatGPT Helper`) are not.
fn is_desktop_app(argv: &[String], exe: Option<&Path>) -> bool {
    let looks = |s: &str| {
        let s = s.replace('\\', "/");
        s.ends_with(".app/Contents/MacOS/ChatGPT")
            || s.ends_with(".app/Contents/MacOS/Codex")
            || s.to_ascii_lowercase().ends_with("/chatgpt.exe")
    };
    argv.first().is_some_and(|a| looks(a)) || exe.is_some_and(|e| looks(&e.to_string_lossy()))
}

/// Codex itself (`codex`, `codex.exe`, a release binary `codex-x86_64-...`), the npm
/// wrapper (`node .../@openai/codex/bin/codex.js`), the app-server daemon the desktop app
/// runs from `<CODEX_HOME>/packages/app-server-daemon/`, or the desktop app itself.
fn is_codex(argv: &[String], exe: Option<&Path>) -> bool {
    if is_desktop_app(argv, exe) {
        return true;
    }
    let first = argv.first().map(|a| program_name(a)).unwrap_or_default();
    let exe_name = exe
        .map(|e| program_name(&e.to_string_lossy()))
        .unwrap_or_default();
    let named_codex = |n: &str| n == "codex" || n.starts_with("codex-");
    if named_codex(&first) || named_codex(&exe_name) {
        return true;
    }
    let in_daemon_folder = |s: &str| s.replace('\\', "/").contains("packages/app-server-daemon/");
    if argv.first().is_some_and(|a| in_daemon_folder(a))
        || exe.is_some_and(|e| in_daemon_folder(&e.to_string_lossy()))
    {
        return true;
    }
    // `node .../@openai/codex/bin/codex.js` (`node.exe ...\@openai\codex\bin\codex.js`)
    first.starts_with("node")
        && argv
            .get(1)
            .is_some_and(|a| a.replace('\\', "/").contains("@openai/codex"))
}

/// Codex processes by the (canonical) home they use. `default_home` is where a process
/// without `CODEX_HOME` looks. Read from the OS's process list ([`platform::process`]):
/// a process whose environment this user may not read counts for the default home.
pub fn by_home(default_home: &Path) -> BTreeMap<PathBuf, Vec<CodexProcess>> {
    let mut out: BTreeMap<PathBuf, Vec<CodexProcess>> = BTreeMap::new();
    for p in platform::process::list(is_codex) {
        let home = p.codex_home.unwrap_or_else(|| default_home.to_path_buf());
        let home = platform::path::canonicalize(&home).unwrap_or(home);
        out.entry(home).or_default().push(CodexProcess {
            pid: p.pid,
            command: p.argv.iter().take(3).cloned().collect::<Vec<_>>().join(" "),
            role: role_of(&p.argv, p.exe.as_deref()),
        });
    }
    attach_remote_clients(&mut out);
    out
}

/// An `exec --remote ADDR` client uses the credentials of the app-server listening on ADDR:
/// list it under that app-server's home too.
fn attach_remote_clients(by_home: &mut BTreeMap<PathBuf, Vec<CodexProcess>>) {
    let clients: Vec<CodexProcess> = by_home
        .values()
        .flatten()
        .filter(|p| matches!(p.role, Role::RemoteExec { .. }))
        .cloned()
        .collect();
    for procs in by_home.values_mut() {
        let listening: Vec<String> = procs
            .iter()
            .filter_map(|p| match &p.role {
                Role::AppServer { listen: Some(a) } => Some(a.clone()),
                _ => None,
            })
            .collect();
        for c in &clients {
            if let Role::RemoteExec { remote } = &c.role
                && listening.contains(remote)
                && !procs.iter().any(|p| p.pid == c.pid)
            {
                procs.push(c.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_codex_command_lines() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let codex = |a: &[&str]| is_codex(&v(a), None);
        assert!(codex(&["/usr/bin/codex", "resume"]));
        assert!(codex(&[
            "node",
            "/x/node_modules/@openai/codex/bin/codex.js"
        ]));
        assert!(codex(&[
            "/h/packages/app-server-daemon/releases/0.169.0/codex-x86_64",
            "app-server"
        ]));
        assert!(!codex(&["cdxs", "run"]));
        assert!(!codex(&["node", "server.js"]));
        // Windows spellings.
        assert!(codex(&[
            r"C:\Users\me\AppData\Roaming\npm\node_modules\@openai\codex\vendor\x86_64-pc-windows-msvc\codex\Codex.EXE",
            "app-server"
        ]));
        assert!(codex(&[
            r"C:\Program Files\nodejs\node.exe",
            r"C:\Users\me\AppData\Roaming\npm\node_modules\@openai\codex\bin\codex.js"
        ]));
        assert!(codex(&[
            r"C:\Users\me\.codex\packages\app-server-daemon\current\daemon.exe"
        ]));
        assert!(!codex(&[r"C:\tools\cdxs.exe", "run"]));
        // The executable decides when the command line is a bare name (a desktop app's
        // helper started as `app-server`).
        assert!(is_codex(
            &v(&["app-server"]),
            Some(Path::new("/opt/x/codex"))
        ));
        let app = v(&["/Applications/ChatGPT.app/Contents/MacOS/ChatGPT"]);
        assert!(codex(&["/Applications/ChatGPT.app/Contents/MacOS/ChatGPT"]));
        assert_eq!(role_of(&app, None), Role::DesktopApp);
        assert!(!codex(&[
            "/Applications/ChatGPT.app/Contents/Frameworks/ChatGPT Helper"
        ]));
        assert!(codex(&[
            r"C:\Program Files\WindowsApps\OpenAI.ChatGPT\app\ChatGPT.exe"
        ]));
    }

    #[test]
    fn app_servers_and_remote_exec_clients_are_told_apart() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            role_of(
                &v(&["codex", "app-server", "--listen", "ws://127.0.0.1:4500"]),
                None
            ),
            Role::AppServer {
                listen: Some("ws://127.0.0.1:4500".into())
            }
        );
        assert_eq!(
            role_of(&v(&["codex", "app-server"]), None),
            Role::AppServer { listen: None }
        );
        assert_eq!(
            role_of(
                &v(&["codex", "exec", "--remote=ws://127.0.0.1:4500", "hi"]),
                None
            ),
            Role::RemoteExec {
                remote: "ws://127.0.0.1:4500".into()
            }
        );
        assert_eq!(role_of(&v(&["codex", "exec", "hi"]), None), Role::Session);
        let p = |pid, role| CodexProcess {
            pid,
            command: "codex".into(),
            role,
        };
        let mut by_home = BTreeMap::new();
        by_home.insert(
            PathBuf::from("/h/a"),
            vec![p(
                1,
                Role::AppServer {
                    listen: Some("ws://x".into()),
                },
            )],
        );
        by_home.insert(
            PathBuf::from("/h/b"),
            vec![p(
                2,
                Role::RemoteExec {
                    remote: "ws://x".into(),
                },
            )],
        );
        attach_remote_clients(&mut by_home);
        let pids: Vec<u32> = by_home[&PathBuf::from("/h/a")]
            .iter()
            .map(|p| p.pid)
            .collect();
        assert_eq!(
            pids,
            vec![1, 2],
            "the client is named with the app-server's home"
        );
        assert!(
            by_home[&PathBuf::from("/h/a")][1]
                .describe()
                .contains("runs through the app-server at ws://x")
        );
    }
}
