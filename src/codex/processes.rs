//! Running Codex processes and the home each uses: after a switch they keep the old
//! credentials (API keys are never re-read; the app-server daemon caches auth), so plan and
//! apply name them. Since Codex 0.171, `codex exec --remote ADDR` runs inside an existing
//! app-server and uses *its* cached credentials: an app-server listening on ADDR is named
//! with its home, and so are the `exec --remote` clients that run through it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

fn role_of(argv: &[String]) -> Role {
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

fn is_codex(argv: &[String]) -> bool {
    let base = |s: &str| {
        Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    let first = argv.first().and_then(|a| base(a)).unwrap_or_default();
    if first == "codex" || first.starts_with("codex-") {
        return true;
    }
    // `node .../@openai/codex/bin/codex.js`
    (first == "node" || first.starts_with("node"))
        && argv.get(1).is_some_and(|a| a.contains("@openai/codex"))
}

/// Codex processes by the (canonical) home they use. `default_home` is where a process
/// without `CODEX_HOME` looks.
pub fn by_home(default_home: &Path) -> BTreeMap<PathBuf, Vec<CodexProcess>> {
    let mut out: BTreeMap<PathBuf, Vec<CodexProcess>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    let me = std::process::id();
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
        if !is_codex(&argv) {
            continue;
        }
        let home = std::fs::read(entry.path().join("environ"))
            .ok()
            .and_then(|env| {
                env.split(|b| *b == 0).find_map(|kv| {
                    kv.strip_prefix(b"CODEX_HOME=")
                        .map(|v| PathBuf::from(String::from_utf8_lossy(v).into_owned()))
                })
            })
            .unwrap_or_else(|| default_home.to_path_buf());
        let home = std::fs::canonicalize(&home).unwrap_or(home);
        out.entry(home).or_default().push(CodexProcess {
            pid,
            command: argv.iter().take(3).cloned().collect::<Vec<_>>().join(" "),
            role: role_of(&argv),
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
        assert!(is_codex(&v(&["/usr/bin/codex", "resume"])));
        assert!(is_codex(&v(&[
            "node",
            "/x/node_modules/@openai/codex/bin/codex.js"
        ])));
        assert!(is_codex(&v(&[
            "/h/packages/app-server-daemon/releases/0.169.0/codex-x86_64",
            "app-server"
        ])));
        assert!(!is_codex(&v(&["cdxs", "run"])));
        assert!(!is_codex(&v(&["node", "server.js"])));
    }

    #[test]
    fn app_servers_and_remote_exec_clients_are_told_apart() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            role_of(&v(&[
                "codex",
                "app-server",
                "--listen",
                "ws://127.0.0.1:4500"
            ])),
            Role::AppServer {
                listen: Some("ws://127.0.0.1:4500".into())
            }
        );
        assert_eq!(
            role_of(&v(&["codex", "app-server"])),
            Role::AppServer { listen: None }
        );
        assert_eq!(
            role_of(&v(&["codex", "exec", "--remote=ws://127.0.0.1:4500", "hi"])),
            Role::RemoteExec {
                remote: "ws://127.0.0.1:4500".into()
            }
        );
        assert_eq!(role_of(&v(&["codex", "exec", "hi"])), Role::Session);
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
