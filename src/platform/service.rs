//! Where this OS keeps the definition of the `cdxs watch` service, and which program it
//! starts: a systemd user unit on Linux, a LaunchAgent on macOS, a scheduled task on
//! Windows (the three files in `examples/`). Read only: nothing is installed or changed.

use std::path::{Path, PathBuf};

/// The kinds of service definitions cdxs ships an example for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SystemdUser,
    LaunchAgent,
    ScheduledTask,
}

impl Kind {
    /// The kind for the OS cdxs was built for.
    pub const HERE: Kind = if cfg!(windows) {
        Kind::ScheduledTask
    } else if cfg!(target_os = "macos") {
        Kind::LaunchAgent
    } else {
        Kind::SystemdUser
    };

    /// How people call it.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::SystemdUser => "systemd user unit",
            Kind::LaunchAgent => "LaunchAgent",
            Kind::ScheduledTask => "scheduled task",
        }
    }

    /// The example in the repository.
    pub fn example(self) -> &'static str {
        match self {
            Kind::SystemdUser => "examples/cdxs-watch.service",
            Kind::LaunchAgent => "examples/net.cdxs.watch.plist",
            Kind::ScheduledTask => "examples/cdxs-watch.xml",
        }
    }
}

/// The name of the scheduled task the Windows example registers.
pub const TASK_NAME: &str = "cdxs-watch";

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: Kind,
    /// The file, or the task's name.
    pub location: String,
    /// The program it starts (`cdxs` itself), when it could be read.
    pub program: Option<PathBuf>,
}

/// The outcome of looking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Found),
    /// None is installed where this OS keeps it (`location`).
    Absent {
        kind: Kind,
        location: String,
    },
    /// The OS could not be asked (Task Scheduler did not answer).
    Unknown {
        kind: Kind,
        why: String,
    },
}

/// Look for the watch service of this OS. `profile` is `~`; `config` is the XDG config
/// folder (systemd reads user units from `$XDG_CONFIG_HOME/systemd/user`).
pub fn lookup(profile: &Path, config: Option<&Path>) -> Lookup {
    match Kind::HERE {
        Kind::SystemdUser => {
            let file = config
                .map(Path::to_path_buf)
                .unwrap_or_else(|| profile.join(".config"))
                .join("systemd/user/cdxs-watch.service");
            from_file(Kind::SystemdUser, &file, |t| systemd_program(t, profile))
        }
        Kind::LaunchAgent => {
            let file = profile.join("Library/LaunchAgents/net.cdxs.watch.plist");
            from_file(Kind::LaunchAgent, &file, launch_agent_program)
        }
        Kind::ScheduledTask => scheduled_task(),
    }
}

fn from_file(kind: Kind, file: &Path, program: impl Fn(&str) -> Option<PathBuf>) -> Lookup {
    let location = file.display().to_string();
    match std::fs::read(file) {
        Ok(bytes) => Lookup::Found(Found {
            kind,
            location,
            program: program(&String::from_utf8_lossy(&bytes)),
        }),
        Err(_) => Lookup::Absent { kind, location },
    }
}

/// `schtasks /query /tn cdxs-watch /xml ONE`, read only.
fn scheduled_task() -> Lookup {
    let kind = Kind::ScheduledTask;
    let out = std::process::Command::new("schtasks")
        .args(["/query", "/tn", TASK_NAME, "/xml", "ONE"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let xml = decode_schtasks(&o.stdout);
            // wine's schtasks answers 0 and nothing for any task: that is no answer.
            if !xml.contains("<Task") {
                return Lookup::Unknown {
                    kind,
                    why: "`schtasks /query` answered without a task definition".into(),
                };
            }
            Lookup::Found(Found {
                kind,
                location: format!(r"\{TASK_NAME}"),
                program: task_program(&xml, &|v| std::env::var(v).ok()),
            })
        }
        // schtasks says "cannot find the file specified" (exit 1) for an unknown task.
        Ok(_) => Lookup::Absent {
            kind,
            location: format!(r"\{TASK_NAME}"),
        },
        Err(e) => Lookup::Unknown {
            kind,
            why: format!("cannot run `schtasks`: {e}"),
        },
    }
}

/// schtasks writes the XML as UTF-16 (with a byte-order mark) or in the console's code page.
fn decode_schtasks(bytes: &[u8]) -> String {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// The program of a unit's `ExecStart=` (`%h` is the home folder; a leading `-`, `@`, `+`,
/// `!` or `:` is systemd's prefix, not part of the path).
pub fn systemd_program(unit: &str, home: &Path) -> Option<PathBuf> {
    let line = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .next_back()?;
    let first = line
        .trim_start_matches(['-', '@', '+', '!', ':'])
        .split_whitespace()
        .next()?;
    let first = first.trim_matches('"');
    Some(PathBuf::from(
        first.replace("%h", &home.display().to_string()),
    ))
}

/// The first string of a LaunchAgent's `ProgramArguments` array (or its `Program`).
pub fn launch_agent_program(plist: &str) -> Option<PathBuf> {
    let plist = strip_xml_comments(plist);
    let after = |key: &str| -> Option<&str> {
        let at = plist.find(&format!("<key>{key}</key>"))?;
        Some(&plist[at..])
    };
    let first_string = |s: &str| -> Option<String> {
        let start = s.find("<string>")? + "<string>".len();
        let end = s[start..].find("</string>")? + start;
        Some(unescape_xml(s[start..end].trim()))
    };
    let found = after("Program")
        .and_then(first_string)
        .or_else(|| after("ProgramArguments").and_then(first_string))?;
    Some(PathBuf::from(found))
}

/// The cdxs program a scheduled task's `<Exec>` runs: the `<Command>` itself, or, when
/// that is a host (`conhost.exe --headless "...cdxs.exe" watch`, the example's way to run
/// without a window; `cmd.exe /c`, to keep a log), the path in `<Arguments>` that names
/// `cdxs.exe`. `%VAR%` are expanded with `var`.
pub fn task_program(xml: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let xml = strip_xml_comments(xml);
    let element = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find(&format!("</{name}>"))? + start;
        Some(unescape_xml(xml[start..end].trim()))
    };
    let command = element("Command")?;
    let command = command.trim_matches('"').to_string();
    let is_shell = {
        let lower = command.to_lowercase();
        [
            "cmd.exe",
            "cmd",
            "conhost.exe",
            "powershell.exe",
            "pwsh.exe",
        ]
        .iter()
        .any(|shell| lower == *shell || lower.ends_with(&format!("\\{shell}")))
    };
    let chosen = if is_shell {
        let args = element("Arguments")?;
        let lower = args.to_lowercase();
        let end = lower.find("cdxs.exe")? + "cdxs.exe".len();
        // A quoted path ends with a quote and may hold spaces; a bare one starts after
        // the last space or quote.
        let quoted = args[end..].starts_with('"');
        let start = if quoted {
            args[..end].rfind('"')
        } else {
            args[..end].rfind(['"', ' ', '\''])
        }
        .map(|i| i + 1)
        .unwrap_or(0);
        args[start..end].to_string()
    } else {
        command
    };
    Some(PathBuf::from(expand_percent(&chosen, var)))
}

/// `%NAME%` replaced by `var(NAME)` (left as written when unset).
fn expand_percent(s: &str, var: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..start]);
        match var(name) {
            Some(v) if !name.is_empty() => out.push_str(&v),
            _ => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

fn strip_xml_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn unescape_xml(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_program_of_each_shipped_example() {
        let home = Path::new("/home/me");
        let unit = include_str!("../../examples/cdxs-watch.service");
        assert_eq!(
            systemd_program(unit, home),
            Some(home.join(".cargo/bin/cdxs"))
        );
        let plist = include_str!("../../examples/net.cdxs.watch.plist");
        assert_eq!(
            launch_agent_program(plist),
            Some(PathBuf::from("/Users/YOU/.cargo/bin/cdxs"))
        );
        let task = include_str!("../../examples/cdxs-watch.xml");
        let var = |v: &str| (v == "USERPROFILE").then(|| r"C:\Users\me".to_string());
        assert_eq!(
            task_program(task, &var),
            Some(PathBuf::from(r"C:\Users\me\.cargo\bin\cdxs.exe"))
        );
    }

    #[test]
    fn task_commands_direct_or_through_a_shell() {
        let none = |_: &str| None;
        let direct =
            "<Exec><Command>\"D:\\tools\\cdxs.exe\"</Command><Arguments>watch</Arguments></Exec>";
        assert_eq!(
            task_program(direct, &none),
            Some(PathBuf::from(r"D:\tools\cdxs.exe"))
        );
        let shell = "<Exec><Command>cmd.exe</Command><Arguments>/d /c \"\"D:\\my tools\\cdxs.exe\" watch &gt;&gt; log\"</Arguments></Exec>";
        assert_eq!(
            task_program(shell, &none),
            Some(PathBuf::from(r"D:\my tools\cdxs.exe"))
        );
        assert_eq!(task_program("<Exec></Exec>", &none), None);
        assert_eq!(
            expand_percent("%A%\\x%B%%", &|v| (v == "A").then(|| "a".into())),
            "a\\x%B%%"
        );
    }

    #[test]
    fn systemd_prefixes_and_comments() {
        let home = Path::new("/h");
        assert_eq!(
            systemd_program("#ExecStart=/no\nExecStart=-/usr/bin/cdxs watch\n", home),
            Some(PathBuf::from("/usr/bin/cdxs"))
        );
        assert_eq!(systemd_program("[Service]\n", home), None);
    }

    #[test]
    fn schtasks_output_in_utf16() {
        let text = "<Command>x</Command>";
        let mut bytes = vec![0xFF, 0xFE];
        for u in text.encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_schtasks(&bytes), text);
    }
}
