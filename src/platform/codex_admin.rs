//! Where an administrator sets Codex's settings for a whole machine, per OS (what Codex
//! itself reads; the judging is `codex::settings`):
//!
//! - Linux and macOS: `/etc/codex` (`config.toml`, `managed_config.toml`,
//!   `requirements.toml`); macOS also the managed preferences of `com.openai.codex`
//!   (`config_toml_base64`, `requirements_toml_base64`) a configuration profile forces.
//! - Windows: `%ProgramData%\OpenAI\Codex` (`config.toml`, `requirements.toml`; no managed
//!   config), and the policy value `RequirementsPath` under
//!   `HKLM\SOFTWARE\Policies\OpenAI\Codex` naming another requirements file.

use std::path::PathBuf;

/// The folder of the machine's own Codex settings.
pub fn system_dir() -> PathBuf {
    if cfg!(windows) {
        let data = std::env::var_os("ProgramData")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
        data.join("OpenAI").join("Codex")
    } else {
        PathBuf::from("/etc/codex")
    }
}

/// Codex reads `managed_config.toml` here (not on Windows).
pub const HAS_MANAGED_CONFIG: bool = !cfg!(windows);

/// `[features] secret_auth_storage` is on by default here (Windows only).
pub const SECRETS_BY_DEFAULT: bool = cfg!(windows);

/// Windows: the requirements file the policy value `RequirementsPath` names, if set.
pub fn requirements_policy() -> Option<PathBuf> {
    if !cfg!(windows) {
        return None;
    }
    let out = std::process::Command::new("reg")
        .args([
            "query",
            r"HKLM\SOFTWARE\Policies\OpenAI\Codex",
            "/v",
            "RequirementsPath",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(())?;
    reg_value(&String::from_utf8_lossy(&out.stdout)).map(PathBuf::from)
}

/// The data of `RequirementsPath` in `reg query` output (`    RequirementsPath    REG_SZ    C:\x`).
fn reg_value(output: &str) -> Option<String> {
    output.lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        (parts.next()? == "RequirementsPath").then_some(())?;
        let kind = parts.next()?;
        if !kind.starts_with("REG_") {
            return None;
        }
        let rest = line.split_once(kind)?.1.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    })
}

/// macOS: the value an administrator forced for `key` of `com.openai.codex` (a
/// configuration profile puts it in `/Library/Managed Preferences`), as `defaults` prints
/// it (base64 text). Read only where such a file exists, so a machine without one costs no
/// subprocess; `None` elsewhere.
pub fn managed_preference(key: &str) -> Option<String> {
    if !cfg!(target_os = "macos") {
        return None;
    }
    let user = std::env::var("USER").unwrap_or_default();
    let candidates = [
        PathBuf::from(format!(
            "/Library/Managed Preferences/{user}/com.openai.codex.plist"
        )),
        PathBuf::from("/Library/Managed Preferences/com.openai.codex.plist"),
    ];
    let plist = candidates.iter().find(|p| p.is_file())?;
    let out = std::process::Command::new("/usr/bin/defaults")
        .arg("read")
        .arg(plist.with_extension(""))
        .arg(key)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_policy_value_is_read_from_reg_output() {
        let out = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\OpenAI\\Codex\r\n    RequirementsPath    REG_SZ    C:\\Policies\\codex req.toml\r\n\r\n";
        assert_eq!(
            reg_value(out).as_deref(),
            Some("C:\\Policies\\codex req.toml")
        );
        assert_eq!(reg_value("nothing here"), None);
    }
}
