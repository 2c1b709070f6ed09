//! The Linux arm64 cdxs under qemu-user, with the real arm64 Codex 0.171.0 (a static musl
//! binary) as the oracle.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Platform, World, cross_binary, cross_codex, on_path, require, two_account_manifest};
use crate::harness::{Login, code, read_json, text};

pub struct Qemu {
    qemu: PathBuf,
    /// The arm64 glibc the cdxs binary links against (`libc6-dev-arm64-cross`).
    sysroot: PathBuf,
    cdxs: PathBuf,
    codex: PathBuf,
}

impl Qemu {
    pub fn find() -> Qemu {
        let q = Qemu {
            qemu: on_path("qemu-aarch64-static"),
            sysroot: PathBuf::from("/usr/aarch64-linux-gnu"),
            cdxs: cross_binary("aarch64-unknown-linux-gnu", "cdxs"),
            codex: cross_codex(
                "linux-arm64",
                "package/vendor/aarch64-unknown-linux-musl/bin/codex",
            ),
        };
        require(
            "the arm64 smoke test",
            &[
                ("qemu-aarch64-static", q.qemu.clone()),
                (
                    "the arm64 C library",
                    q.sysroot.join("lib/ld-linux-aarch64.so.1"),
                ),
                ("the arm64 cdxs", q.cdxs.clone()),
                ("the real arm64 codex", q.codex.clone()),
            ],
        );
        q
    }
}

impl Platform for Qemu {
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(&self.qemu);
        cmd.arg("-L").arg(&self.sysroot).arg(program);
        cmd
    }

    fn spell(&self, path: &Path) -> String {
        path.display().to_string()
    }

    fn base_env(&self) -> Vec<(String, String)> {
        vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())]
    }

    fn cdxs(&self) -> &Path {
        &self.cdxs
    }

    fn codex(&self) -> &Path {
        &self.codex
    }
}

#[test]
#[cfg_attr(
    cdxs_no_arm64,
    ignore = "the arm64 smoke pieces (qemu-user, the arm64 C library, the arm64 cdxs, the real arm64 codex) are missing: `make cross`"
)]
fn arm64_cdxs_writes_what_the_real_arm64_codex_reads() {
    let qemu = Qemu::find();
    let w = World::new(&qemu);
    let key = "sk-proj-arm64-smoke-0005678";
    w.env.set_env("CDXS_TEST_KEY", key);
    let login = w.env.path("login.json");
    std::fs::write(
        &login,
        Login::new("win@example.com", "acct-arm").auth_json(),
    )
    .unwrap();
    w.ok(&["import", "auth", "--file", login.to_str().unwrap()]);
    let home = w.env.codex_home("work");
    two_account_manifest(&w, &home);
    let out = w.cdxs(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    w.ok(&["apply", "--yes"]);
    assert_eq!(
        read_json(&home.join("auth.json"))["tokens"]["account_id"],
        "acct-arm"
    );
    assert!(w.logged_in(&home).contains("Logged in using ChatGPT"));
    w.ok(&["switch", "key", "--home", "work"]);
    let said = w.logged_in(&home);
    assert!(
        said.contains("API key configured - sk-proj-***05678"),
        "{said}"
    );
    w.ok(&["rollback", "--yes"]);
    assert!(w.logged_in(&home).contains("Logged in using ChatGPT"));
    let out = w.cdxs(&["run", "--home", "work", "--", "sh", "-c", "exit 7"]);
    assert_eq!(code(&out), 7, "{}", text(&out));
    crate::harness::assert_mode(&home.join("auth.json"), 0o600);
}
