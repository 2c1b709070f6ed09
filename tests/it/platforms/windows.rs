//! The Windows x64 cdxs under wine 8.0, with the real Windows `codex.exe` 0.171.0 as the
//! oracle: every auth.json the Windows cdxs writes is one `codex.exe login status` reads as
//! meant; plan, apply, switch, rollback and run give their exit codes; defaults follow
//! Windows' folders; sync works against a Linux server.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{Platform, World, cross_binary, cross_codex, on_path, require, two_account_manifest};
use crate::harness::{Login, code, read_json, text};
use crate::sync_harness;

pub struct Wine {
    wine: PathBuf,
    prefix: PathBuf,
    cdxs: PathBuf,
    codex: PathBuf,
}

impl Wine {
    /// The wine setup of `scripts/wine-prefix.sh` and the binaries of `scripts/cross.sh`.
    pub fn find() -> Wine {
        let prefix = std::env::var_os("CDXS_TEST_WINEPREFIX")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::repo().join("target/wine"));
        let wine = Wine {
            wine: on_path("wine"),
            cdxs: cross_binary("x86_64-pc-windows-gnu", "cdxs.exe"),
            codex: cross_codex(
                "win32-x64",
                "package/vendor/x86_64-pc-windows-msvc/bin/codex.exe",
            ),
            prefix,
        };
        let stand_in = wine
            .prefix
            .join("drive_c/windows/system32/bcryptprimitives.dll");
        require(
            "the Windows smoke test",
            &[
                ("wine", wine.wine.clone()),
                ("the wine prefix (scripts/wine-prefix.sh)", stand_in),
                ("the Windows cdxs.exe", wine.cdxs.clone()),
                ("the real codex.exe", wine.codex.clone()),
            ],
        );
        wine
    }
}

impl Platform for Wine {
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(&self.wine);
        cmd.arg(program);
        cmd
    }

    /// `/x/y` is `Z:\x\y` (wine maps `Z:` to `/`).
    fn spell(&self, path: &Path) -> String {
        format!("Z:{}", path.display()).replace('/', "\\")
    }

    fn base_env(&self) -> Vec<(String, String)> {
        vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("WINEPREFIX".into(), self.prefix.display().to_string()),
            ("WINEDEBUG".into(), "-all".into()),
            ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
        ]
    }

    fn cdxs(&self) -> &Path {
        &self.cdxs
    }

    fn codex(&self) -> &Path {
        &self.codex
    }
}

const KEY: &str = "sk-proj-wine-smoke-00001234";

#[test]
#[cfg_attr(
    cdxs_no_wine,
    ignore = "the Windows smoke pieces (wine, its prefix, the Windows cdxs, the real codex.exe) are missing: `make cross`"
)]
fn windows_cdxs_writes_what_the_real_codex_exe_reads_through_plan_apply_switch_rollback_run() {
    let wine = Wine::find();
    let w = World::new(&wine);
    w.env.set_env("CDXS_TEST_KEY", KEY);
    let login = w.env.path("login.json");
    std::fs::write(
        &login,
        Login::new("win@example.com", "acct-win").auth_json(),
    )
    .unwrap();
    w.ok(&["import", "auth", "--file", &w.spell(&login)]);
    let home = w.env.codex_home("work");
    let manifest = w.spell(&two_account_manifest(&w, &home));
    let m = |args: &[&str]| -> Vec<String> {
        ["-f", manifest.as_str()]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: &[&str]| {
        let all = m(args);
        w.cdxs(&all.iter().map(String::as_str).collect::<Vec<_>>())
    };

    // plan: 2 (changes), apply: 0, plan again: 0 (nothing left).
    let out = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let out = run(&["apply", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let written = read_json(&home.join("auth.json"));
    assert_eq!(written["tokens"]["account_id"], "acct-win");
    assert!(
        w.logged_in(&home).contains("Logged in using ChatGPT"),
        "codex.exe reads the ChatGPT login cdxs.exe wrote"
    );
    let temps: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".cdxs-"))
        .collect();
    assert!(temps.is_empty(), "no temp file left: {temps:?}");

    // switch to the API key: the manifest is edited and the home written.
    let out = run(&["switch", "key", "--home", "work"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(read_json(&home.join("auth.json"))["OPENAI_API_KEY"], KEY);
    let said = w.logged_in(&home);
    assert!(
        said.contains("API key configured - sk-proj-***01234"),
        "{said}"
    );

    // rollback: the ChatGPT login is back, and codex.exe says so.
    let out = run(&["rollback", "--yes"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert_eq!(
        read_json(&home.join("auth.json"))["tokens"]["account_id"],
        "acct-win"
    );
    assert!(w.logged_in(&home).contains("Logged in using ChatGPT"));

    // run: the command's exit code passes through; CODEX_HOME is the home.
    let out = run(&["run", "--home", "work", "--", "cmd", "/c", "exit 7"]);
    assert_eq!(code(&out), 7, "{}", text(&out));
    let codex_exe = w.spell(wine.codex());
    let out = run(&["run", "--home", "work", "--", &codex_exe, "login", "status"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("Logged in using ChatGPT"),
        "{}",
        text(&out)
    );
    let out = run(&["run", "--home", "work", "--", "no-such-program-here"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("cannot run `no-such-program-here`"),
        "{}",
        text(&out)
    );

    // A bad manifest is exit 1 with the file named.
    std::fs::write(w.env.path("bad.yaml"), "version: 1\nhomez: {}\n").unwrap();
    let out = w.cdxs(&["-f", &w.spell(&w.env.path("bad.yaml")), "plan"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
}

/// Without `CDXS_STATE_DIR` or `-f`, the vault is in `%LOCALAPPDATA%\cdxs`, the manifest
/// in `%APPDATA%\cdxs\cdxs.yaml`, and the default Codex home is `.codex` in the profile
/// folder, whatever `HOME` says (here the fake Unix home of the test). Asked of `doctor`,
/// which writes nothing: wine sets `%APPDATA%`, `%LOCALAPPDATA%` and `%USERPROFILE%` from
/// its prefix for every program, so the prefix's profile is the one to expect (the order
/// of the variables and the known folders is unit-tested in `platform::dirs`).
#[test]
#[cfg_attr(
    cdxs_no_wine,
    ignore = "the Windows smoke pieces (wine, its prefix, the Windows cdxs, the real codex.exe) are missing: `make cross`"
)]
fn windows_defaults_are_app_data_and_the_profile_folder() {
    let wine = Wine::find();
    let w = World::new(&wine);
    let mut cmd = wine.command(Path::new("cmd"));
    cmd.args(["/c", "echo %USERPROFILE%"]).env_clear();
    for (k, v) in wine.base_env() {
        cmd.env(k, v);
    }
    let profile = String::from_utf8_lossy(&cmd.output().unwrap().stdout)
        .trim()
        .to_string();
    assert!(
        profile.to_lowercase().starts_with(r"c:\users\"),
        "{profile}"
    );
    let out = w.cdxs_with(
        &["doctor", "--json"],
        "",
        &[("CDXS_STATE_DIR", String::new())],
    );
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let homes = report["homes"].as_array().unwrap();
    let default = homes
        .iter()
        .find(|h| h["name"] == "default")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        default["path"].as_str().unwrap().to_lowercase(),
        format!(r"{profile}\.codex").to_lowercase(),
        "{report}"
    );
    let messages: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["message"].as_str().unwrap())
        .collect();
    let said = |want: &str| messages.iter().any(|m| m.contains(want));
    assert!(
        said(r"state folder `~\AppData\Local\cdxs`"),
        "{messages:#?}"
    );
    assert!(said(r"`~\AppData\Roaming\cdxs\cdxs.yaml`"), "{messages:#?}");
}

/// doctor on Windows: finds `codex.exe` on `PATH` and asks its version, says the lock
/// holders cannot be listed, and asks Task Scheduler for the watch task.
#[test]
#[cfg_attr(
    cdxs_no_wine,
    ignore = "the Windows smoke pieces (wine, its prefix, the Windows cdxs, the real codex.exe) are missing: `make cross`"
)]
fn windows_doctor_finds_codex_exe_and_the_scheduled_task() {
    let wine = Wine::find();
    let w = World::new(&wine);
    let bin = wine.codex().parent().unwrap().to_path_buf();
    let out = w.cdxs_with(&["doctor", "--json"], "", &[("WINEPATH", w.spell(&bin))]);
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", text(&out)));
    let codex = &report["codex"][0];
    assert_eq!(codex["version"], super::CODEX_VERSION, "{report}");
    assert_eq!(codex["supported"], true);
    assert!(
        codex["path"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .ends_with("codex.exe"),
        "{report}"
    );
    let checks = report["checks"].as_array().unwrap();
    let said = |area: &str| -> Vec<String> {
        checks
            .iter()
            .filter(|c| c["area"] == area)
            .map(|c| c["message"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        said("locks")
            .iter()
            .any(|m| m.contains("does not say who holds a lock")),
        "{report}"
    );
    // wine's schtasks answers every query with nothing: doctor says it cannot tell.
    assert!(
        said("service")
            .iter()
            .any(|m| m.contains("cannot tell whether a scheduled task runs `cdxs watch`")),
        "{report}"
    );
}

/// The Windows cdxs pushes a login to a sync server running on Linux; a Linux cdxs pulls
/// it, and the Linux real Codex reads it from the home the Linux cdxs wrote.
#[test]
#[cfg_attr(
    any(cdxs_no_wine, cdxs_no_codex_0_171_0),
    ignore = "the Windows smoke pieces (`make cross`) or the Linux Codex 0.171.0 (scripts/install-codex.sh) are missing"
)]
fn windows_and_linux_machines_sync_through_a_linux_server() {
    let wine = Wine::find();
    let linux_codex = crate::harness::codex();
    let server_env = crate::harness::Env::new();
    let server = sync_harness::server(&server_env, &sync_harness::Db::sqlite(), &["alice"], &[]);

    let win = World::new(&wine);
    let login = win.env.path("login.json");
    std::fs::write(
        &login,
        Login::new("sync@example.com", "acct-sync").auth_json(),
    )
    .unwrap();
    win.ok(&["import", "auth", "--file", &win.spell(&login)]);
    let out = win.cdxs_with(
        &[
            "sync",
            "login",
            "--server",
            &server.url,
            "--user",
            "alice",
            "--password-stdin",
        ],
        &format!("{}\n", sync_harness::PASSWORD),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = win.ok(&["sync", "init"]);
    let phrase = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(phrase.split(' ').count(), 24, "{}", text(&out));
    win.ok(&["sync", "push"]);

    let linux = crate::harness::Env::new();
    sync_harness::ok(sync_harness::join(&linux, &server.url, "alice", &phrase));
    sync_harness::ok(linux.run(&["sync", "pull"]));
    let ids = sync_harness::account_ids(&linux);
    assert_eq!(ids.len(), 1, "{ids:?}");
    let home = linux.codex_home("pulled");
    sync_harness::ok(linux.run(&["switch", &ids[0], "--codex-home", home.to_str().unwrap()]));
    let (status, said) = crate::harness::login_status(&linux_codex, &home);
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("Logged in using ChatGPT"), "{said}");
    assert_eq!(
        read_json(&home.join("auth.json"))["tokens"]["account_id"],
        "acct-sync"
    );
}
