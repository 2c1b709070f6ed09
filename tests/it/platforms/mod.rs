//! cdxs on the other platforms it supports, run from this Linux x86_64 machine with the
//! real Codex of each as the oracle: the Windows x64 build under wine with the real
//! `codex.exe` 0.171.0 (`windows.rs`), the Linux arm64 build under qemu-user with the real
//! arm64 Codex (`arm64.rs`). The binaries come from `scripts/cross.sh build`, the tools and
//! the foreign Codex builds from `scripts/install-cross.sh` (`make test` runs both first).
//! Outside CI a missing piece makes build.rs mark the tests ignored, with the reason; under
//! CI they run, and a missing piece fails them.

mod arm64;
mod windows;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::harness::{Env, text};

pub const CODEX_VERSION: &str = "0.171.0";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `$CDXS_CROSS_TARGET_DIR/<triple>/debug/<name>` (default `target/cross`).
fn cross_binary(triple: &str, name: &str) -> PathBuf {
    std::env::var_os("CDXS_CROSS_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/cross"))
        .join(triple)
        .join("debug")
        .join(name)
}

/// A foreign Codex from `scripts/install-codex-cross.sh`.
fn cross_codex(platform: &str, inner: &str) -> PathBuf {
    std::env::var_os("CDXS_TEST_CODEX_CROSS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/codex-cli"))
        .join(format!("{CODEX_VERSION}-{platform}"))
        .join(inner)
}

/// Every file and tool in `needs` exists, or a panic with the reason. The tests are
/// ignored (with the reason) where build.rs found a piece missing, outside CI; a piece that
/// went away after the build fails the test.
fn require(what: &str, needs: &[(&str, PathBuf)]) {
    let missing: Vec<String> = needs
        .iter()
        .filter(|(_, p)| !p.exists())
        .map(|(why, p)| format!("{why} ({})", p.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "{what} cannot run: missing {}; run `make cross` (under CI these tests must run; elsewhere rebuild with `touch build.rs` so that they are ignored)",
        missing.join(", ")
    );
}

/// A program found on `PATH`.
fn on_path(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(format!("/usr/bin/{name}")))
}

/// How one foreign platform runs programs.
pub trait Platform {
    /// The command that runs the foreign `program` here (wine or qemu in front).
    fn command(&self, program: &Path) -> Command;
    /// A path of this machine as the foreign program spells it.
    fn spell(&self, path: &Path) -> String;
    /// The environment every foreign program gets (the emulator's own variables).
    fn base_env(&self) -> Vec<(String, String)>;
    fn cdxs(&self) -> &Path;
    fn codex(&self) -> &Path;
}

/// A test world (a temporary root from the harness) seen by a foreign cdxs.
pub struct World<'a, P: Platform> {
    pub env: Env,
    pub platform: &'a P,
}

impl<'a, P: Platform> World<'a, P> {
    pub fn new(platform: &'a P) -> Self {
        World {
            env: Env::new(),
            platform,
        }
    }

    /// A path of the world as the foreign cdxs spells it.
    pub fn spell(&self, path: &Path) -> String {
        self.platform.spell(path)
    }

    /// The environment of a cdxs run: the harness's fixed clock and closed endpoints, the
    /// state folder spelled for the platform.
    fn env_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = self.platform.base_env();
        pairs.extend(
            [
                ("HOME", self.env.home.display().to_string()),
                ("CDXS_STATE_DIR", self.spell(&self.env.state)),
                ("NO_COLOR", "1".into()),
                ("TZ", "UTC".into()),
                ("CDXS_LOCK_TIMEOUT", "10".into()),
                (
                    "CDXS_NOW",
                    self.env
                        .now
                        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                ),
                ("CDXS_AUTH_BASE_URL", "http://127.0.0.1:9".into()),
                (
                    "CDXS_CHATGPT_BASE_URL",
                    "http://127.0.0.1:9/backend-api".into(),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
        );
        pairs.extend(self.env.extra.borrow().iter().cloned());
        pairs
    }

    /// The foreign cdxs with `args`, in the world's working folder, with `extra` variables.
    pub fn cdxs_with(&self, args: &[&str], stdin: &str, extra: &[(&str, String)]) -> Output {
        let mut cmd = self.platform.command(self.platform.cdxs());
        cmd.current_dir(&self.env.work).env_clear();
        for (k, v) in self.env_pairs() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.args(args);
        run_with_stdin(cmd, stdin)
    }

    pub fn cdxs(&self, args: &[&str]) -> Output {
        self.cdxs_with(args, "", &[])
    }

    /// The foreign cdxs, which must succeed.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.cdxs(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        out
    }

    /// The real foreign Codex in `home`: (exit code, what it said on both streams).
    pub fn codex(&self, home: &Path, args: &[&str]) -> (i32, String) {
        let mut cmd = self.platform.command(self.platform.codex());
        cmd.current_dir(&self.env.work).env_clear();
        for (k, v) in self.platform.base_env() {
            cmd.env(k, v);
        }
        cmd.env("CODEX_HOME", self.spell(home)).args(args);
        let out = run_with_stdin(cmd, "");
        (
            out.status.code().unwrap_or(-1),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// `codex login status` in `home`, which must be logged in: what it says.
    pub fn logged_in(&self, home: &Path) -> String {
        let (code, said) = self.codex(home, &["login", "status"]);
        assert_eq!(code, 0, "codex login status in {}: {said}", home.display());
        said
    }
}

fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// A manifest with a ChatGPT account `chat`, an API-key account `key` and one home `work`
/// bound to `chat`, written for the platform's spelling of paths.
pub fn two_account_manifest<P: Platform>(w: &World<P>, home: &Path) -> PathBuf {
    let yaml = format!(
        "version: 1\naccounts:\n  chat: {{ email: win@example.com }}\n  key: {{ api_key_env: CDXS_TEST_KEY }}\nhomes:\n  work:\n    path: '{}'\n    account: chat\n",
        w.spell(home)
    );
    w.env.manifest(&yaml)
}
