//! README's quick start, run as written (issue 21, point 13): its shell blocks, in order,
//! by bash on a pseudo-terminal (`cdxs apply` asks; the test types `yes`), in a sandbox
//! `$HOME` whose `~/.codex` holds a ChatGPT login, against the local OpenAI mock. The
//! browser `login oauth` opens is a script that hands the address to the test, which follows
//! it as a browser would; `codex` is a stand-in that says which home it runs in. Unix only
//! (bash, `script`, a shell-script browser).

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};

/// The ```sh blocks of README's "Quick start" section, in order.
fn quick_start() -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let start = readme
        .find("\n## Quick start")
        .expect("README has a quick start");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut script = String::new();
    let mut inside = false;
    for line in section.lines() {
        match (inside, line.trim_start()) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, _) => script.push_str(&format!("{line}\n")),
            _ => {}
        }
    }
    assert!(script.contains("cdxs apply"), "{script}");
    script
}

fn executable(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for apply's question) is not installed"
)]
fn the_readme_quick_start_runs_as_written() {
    let mock = MockOpenAi::start();
    mock.add(MockAccount::new("you@example.com", "acct-me"));
    mock.add(MockAccount::new("you@work.example.com", "acct-work"));
    mock.with(|s| s.login_as = Some("you@work.example.com".into()));
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    // ~/.codex as Codex left it after `codex login`.
    let dot_codex = env.home.join(".codex");
    std::fs::create_dir_all(&dot_codex).unwrap();
    std::fs::write(
        dot_codex.join("auth.json"),
        mock.auth_json("you@example.com"),
    )
    .unwrap();
    // `cdxs` and a stand-in `codex` on PATH.
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(cdxs_bin(), bin.join("cdxs")).unwrap();
    executable(
        &bin.join("codex"),
        "#!/bin/sh\necho \"codex stand-in in $CODEX_HOME\"\ngrep -o '\"account_id\": *\"[^\"]*\"' \"$CODEX_HOME/auth.json\"\n",
    );
    env.set_env(
        "PATH",
        &format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
    );
    // The browser: hands the address to the test.
    let url_file = env.path("browser-url");
    let browser = env.path("browser.sh");
    executable(
        &browser,
        &format!(
            "#!/bin/sh\nprintf '%s' \"$1\" > '{0}.tmp' && mv '{0}.tmp' '{0}'\n",
            url_file.display()
        ),
    );
    env.set_env("BROWSER", browser.to_str().unwrap());
    env.set_env("CDXS_LOGIN_PORT", "0");
    let script = env.path("quick-start.sh");
    std::fs::write(&script, quick_start()).unwrap();

    let mut child = env
        .process("script")
        .args(["-qec", &format!("bash {}", script.display()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    // The person in front of the browser.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !url_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = std::fs::read_to_string(&url_file).expect("login oauth opened no browser");
    let page = reqwest::blocking::get(&url).unwrap();
    assert!(page.status().is_success(), "{:?}", page.status());
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let work = env.home.join("codex-homes/work");
    for want in [
        "imported you@example.com".to_string(),
        "logged in as you@work.example.com".into(),
        "next: `cdxs switch you@work.example.com`".into(),
        "home.work".into(),
        "Apply complete!".into(),
        format!("codex stand-in in {}", work.display()),
        "\"account_id\": \"acct-work\"".into(),
    ] {
        assert!(shown.contains(&want), "wanted {want:?} in:\n{shown}");
    }
    // Two homes, each with its own login.
    assert_eq!(
        read_json(&work.join("auth.json"))["tokens"]["account_id"],
        "acct-work"
    );
    assert_eq!(
        read_json(&dot_codex.join("auth.json"))["tokens"]["account_id"],
        "acct-me"
    );
}
