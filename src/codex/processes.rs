//! Running Codex processes and the home each uses: after a switch they keep the old
//! credentials (API keys are never re-read; the app-server daemon caches auth), so plan and
//! apply name them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodexProcess {
    pub pid: u32,
    pub command: String,
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
        });
    }
    out
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
}
