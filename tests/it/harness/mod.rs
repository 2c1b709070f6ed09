//! Test harness: a temporary world per test (fake `$HOME`, state dir, Codex homes), the
//! built `cdxs` binary with a clean environment, token fixtures, and the real Codex CLI.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

pub struct Env {
    pub root: TempDir,
    /// `$HOME` of the cdxs under test.
    pub home: PathBuf,
    /// `CDXS_STATE_DIR`.
    pub state: PathBuf,
    /// Current folder for commands.
    pub work: PathBuf,
    /// Extra environment for every cdxs run (mock endpoints, keys).
    pub extra: std::cell::RefCell<Vec<(String, String)>>,
    /// The test clock every cdxs run sees (`CDXS_NOW`): the moment the world was made, so
    /// that every command of one test agrees on "now". A test may set another.
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Env {
    pub fn new() -> Env {
        // Keep temp worlds under target/ rather than /tmp: Codex refuses to set up helper
        // binaries under temporary folders and says so on stderr.
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/it-tmp");
        std::fs::create_dir_all(&base).unwrap();
        // Windows (the suite under wine): `/work/...` has no drive; spell it `Z:\work\...`.
        let base = std::path::absolute(&base).unwrap();
        let root = tempfile::Builder::new()
            .prefix("t")
            .tempdir_in(&base)
            .unwrap();
        let home = root.path().join("home");
        let state = root.path().join("state");
        let work = root.path().join("work");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        if cfg!(windows) {
            // `true` and `false` for `cdxs run -- true` (cdxs finds `true.cmd` as Windows
            // does), on the world's PATH (`Env::windows_env`).
            let bin = root.path().join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("true.cmd"), "@exit /b 0\r\n").unwrap();
            std::fs::write(bin.join("false.cmd"), "@exit /b 1\r\n").unwrap();
        }
        let now = chrono::Utc::now();
        FIXTURE_NOW.with(|n| n.set(Some(now)));
        Env {
            home,
            state,
            work,
            root,
            extra: Default::default(),
            now,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    /// What cdxs reads as `/etc/codex` (or `%ProgramData%\OpenAI\Codex`) in this world.
    pub fn codex_system_dir(&self) -> PathBuf {
        self.path("codex-system")
    }

    /// Where cdxs keeps its manifest by default: `~/.config/cdxs/cdxs.yaml`, on Windows
    /// `%APPDATA%\\cdxs\\cdxs.yaml` (the world's own, see [`Env::windows_env`]).
    pub fn default_manifest(&self) -> PathBuf {
        if cfg!(windows) {
            self.home.join(r"AppData\Roaming\cdxs\cdxs.yaml")
        } else {
            self.home.join(".config/cdxs/cdxs.yaml")
        }
    }

    /// `~/.codex` of the fake user.
    pub fn default_codex_home(&self) -> PathBuf {
        self.home.join(".codex")
    }

    /// `cdxs` with a clean, deterministic environment. `$CDXS_TEST_BIN` runs another build
    /// under the same tests (an older commit, to see a regression test fail before its fix;
    /// a release build).
    pub fn cdxs(&self) -> assert_cmd::Command {
        self.isolated(assert_cmd::Command::new(cdxs_bin()))
    }

    /// Another program (`script`, which runs cdxs on a pty) with the same clean environment
    /// as [`Env::cdxs`].
    pub fn cdxs_process(&self, program: &str) -> assert_cmd::Command {
        let mut cmd = self.isolated(assert_cmd::Command::new(program));
        cmd.env("TERM", "dumb");
        cmd
    }

    /// `program` as a `std::process::Command` (to spawn it and talk to it while it runs)
    /// with the environment every cdxs run gets, in the working folder.
    pub fn process(&self, program: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(program);
        cmd.current_dir(&self.work).env_clear().env("TERM", "dumb");
        for (k, v) in self.env_pairs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// The environment every cdxs under test gets (nothing else from the test's own).
    fn env_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("HOME", self.home.display().to_string()),
            ("CDXS_STATE_DIR", self.state.display().to_string()),
            ("NO_COLOR", "1".into()),
            ("TZ", "UTC".into()),
            ("CDXS_LOCK_TIMEOUT", "10".into()),
            (
                "CDXS_NOW",
                self.now
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
            // Codex's system layers (`/etc/codex/...`) come from a folder of the test's
            // own (empty unless the test writes one), never from the machine's.
            (
                "CDXS_CODEX_SYSTEM_DIR",
                self.codex_system_dir().display().to_string(),
            ),
            // No test may reach OpenAI: endpoints point at a closed local port unless a
            // test points them at its mock.
            ("CDXS_AUTH_BASE_URL", "http://127.0.0.1:9".into()),
            (
                "CDXS_CHATGPT_BASE_URL",
                "http://127.0.0.1:9/backend-api".into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if cfg!(windows) {
            pairs.extend(self.windows_env());
        }
        pairs.extend(self.extra.borrow().iter().cloned());
        pairs
    }

    /// Windows (the suite under wine): the profile and app-data folders of this world
    /// (`$HOME` moves nothing there), and what every Windows program expects to inherit.
    pub fn windows_env(&self) -> Vec<(String, String)> {
        let bin = self.root.path().join("bin");
        let path = std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )))
        .unwrap();
        let mut pairs = vec![
            ("PATH".to_string(), path.to_string_lossy().into_owned()),
            (
                "CDXS_PROFILE_DIR".to_string(),
                self.home.display().to_string(),
            ),
            (
                "APPDATA".to_string(),
                self.home
                    .join("AppData")
                    .join("Roaming")
                    .display()
                    .to_string(),
            ),
            (
                "LOCALAPPDATA".to_string(),
                self.home
                    .join("AppData")
                    .join("Local")
                    .display()
                    .to_string(),
            ),
        ];
        pairs.extend(windows_system_env());
        pairs
    }

    /// A `BROWSER` that opens nothing and succeeds in starting (so that cdxs does not fall
    /// back to the OS's opener): `/bin/false`, or the world's `false.cmd` on Windows.
    pub fn no_browser(&self) -> String {
        if cfg!(windows) {
            self.root
                .path()
                .join("bin")
                .join("false.cmd")
                .display()
                .to_string()
        } else {
            "/bin/false".into()
        }
    }

    fn isolated(&self, mut cmd: assert_cmd::Command) -> assert_cmd::Command {
        cmd.current_dir(&self.work).env_clear();
        for (k, v) in self.env_pairs() {
            cmd.env(k, v);
        }
        cmd
    }

    /// `cdxs` as a `std::process::Command` (to spawn it and do something while it runs),
    /// with the same environment as [`Env::cdxs`]; stdin closed, output piped.
    pub fn spawn(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Child {
        let mut cmd = std::process::Command::new(cdxs_bin());
        cmd.current_dir(&self.work).env_clear();
        for (k, v) in self.env_pairs() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Set an environment variable for every later cdxs run (it wins over the defaults).
    pub fn set_env(&self, key: &str, value: &str) {
        self.extra
            .borrow_mut()
            .push((key.to_string(), value.to_string()));
    }

    /// Run `cdxs args` on a pseudo-terminal (util-linux `script`), answering `answer`. A
    /// test that uses it carries `#[cfg_attr(cdxs_no_script, ignore = "...")]`.
    pub fn on_a_terminal(&self, args: &str, answer: &str) -> Output {
        self.cdxs_process("script")
            .args([
                "-qec",
                &format!("{} {args}", cdxs_bin().display()),
                "/dev/null",
            ])
            .write_stdin(format!("{answer}\n"))
            .output()
            .unwrap()
    }

    /// Run cdxs with args and stdin, returning the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cdxs().args(args).output().unwrap()
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.cdxs().args(args).write_stdin(stdin).output().unwrap()
    }

    /// `cdxs list --json` parsed.
    pub fn accounts_json(&self) -> Value {
        let out = self.run(&["account", "list", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The journal's generations run by `command` (newest first): the vault's own changes
    /// (`import auth`, `account ...`) are generations too, so tests pick theirs by command.
    pub fn generations_of(&self, command: &str) -> Vec<Value> {
        let out = self.run(&["history", "--all", "--json"]);
        assert!(out.status.success(), "{}", text(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["generations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["command"] == command)
            .cloned()
            .collect()
    }

    pub fn add_api_key(&self, key: &str) -> Output {
        self.run_stdin(&["account", "add-api-key", "--api-key-stdin"], key)
    }
}

impl Env {
    /// Write `./cdxs.yaml` (the working folder's manifest) and return its path.
    pub fn manifest(&self, text: &str) -> PathBuf {
        let p = self.work.join("cdxs.yaml");
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn manifest_text(&self) -> String {
        std::fs::read_to_string(self.work.join("cdxs.yaml")).unwrap()
    }

    /// Replace this test's temporary root with `[ROOT]` for snapshots.
    /// On Windows, paths read as on Linux, so that one snapshot holds on both: `/` for `\`
    /// below the root and below `~`, and `Z:\x` (wine's drive for `/`) as `/x`.
    pub fn redact(&self, text: &str) -> String {
        let root = self.root.path().to_string_lossy().into_owned();
        let text = text.replace(&root, "[ROOT]");
        if cfg!(windows) {
            slashes_after_root(&text)
        } else {
            text
        }
    }

    /// Import a ChatGPT login into the vault (through a temp file).
    pub fn import_login(&self, login: &Login) {
        self.import_auth_json(&login.auth_json());
    }

    /// Import an auth.json's text into the vault (through a temp file); asserts success.
    pub fn import_auth_json(&self, json: &str) {
        let f = self.root.path().join("import-auth.json");
        std::fs::write(&f, json).unwrap();
        let out = self.run(&["import", "auth", "--file", f.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out));
    }

    /// A Codex home under the test root.
    pub fn codex_home(&self, name: &str) -> PathBuf {
        self.root.path().join("homes").join(name)
    }
}

/// `[ROOT]\\work\\x` (a path in JSON) and `[ROOT]\work\x` as `[ROOT]/work/x`; `~\x` as
/// `~/x`; `Z:\srv\x` (wine's drive for `/`) as `/srv/x`.
fn slashes_after_root(text: &str) -> String {
    let text = text.replace(r"Z:\\", "/").replace(r"Z:\", "/");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let starts = ["[ROOT]", r"~\", "/"];
    while let Some((i, start)) = starts
        .iter()
        .filter_map(|s| rest.find(s).map(|i| (i, *s)))
        .min()
    {
        let (head, tail) = rest.split_at(i + start.len());
        out.push_str(&head.replace(r"~\", "~/"));
        let end = tail
            .find(|c: char| c.is_whitespace() || ":`'\"],)".contains(c))
            .unwrap_or(tail.len());
        out.push_str(&tail[..end].replace(r"\\", "/").replace('\\', "/"));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// The process aborted (a fault point's `abort()`): killed by a signal on Unix (no exit
/// code); on Windows the code `abort()` ends a process with, `STATUS_STACK_BUFFER_OVERRUN`
/// (Rust's abort is the fail-fast `__fastfail`).
pub fn aborted(status: &std::process::ExitStatus) -> bool {
    if cfg!(windows) {
        status.code() == Some(0xC000_0409_u32 as i32)
    } else {
        status.code().is_none()
    }
}

/// A path written with `/` as cdxs shows it on this OS (`\\` on Windows), for `contains`.
pub fn sep(path: &str) -> String {
    if cfg!(windows) {
        path.replace('/', "\\")
    } else {
        path.to_string()
    }
}

/// A lock-wait error names this test process as the holder: by pid on Linux (from
/// `/proc/locks`); elsewhere the OS does not say, and the error says "another process".
pub fn names_this_process_as_holder(err: &str) -> bool {
    if cfg!(target_os = "linux") {
        err.contains(&format!("pid {}", std::process::id()))
    } else {
        err.contains("held by another process")
    }
}

/// Ask `child` (a `cdxs watch`, a server) to stop as a service manager would (SIGTERM) and
/// wait for it. Under wine no console control event reaches a process: there it is ended
/// (TerminateProcess).
pub fn stop_child(child: &mut std::process::Child) {
    if cfg!(windows) {
        let _ = child.kill();
    } else {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    let _ = child.wait();
}

/// A command line that runs `unix` with `sh -c`, or on Windows `windows` with `cmd /c`.
pub fn shell<'a>(unix: &'a str, windows: &'a str) -> [&'a str; 3] {
    if cfg!(windows) {
        ["cmd", "/c", windows]
    } else {
        ["sh", "-c", unix]
    }
}

/// What every Windows program expects to inherit (empty elsewhere): a process started
/// with a cleared environment needs `SystemRoot` for its network stack, among others.
pub fn windows_system_env() -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if cfg!(windows) {
        for var in [
            "SystemRoot",
            "SystemDrive",
            "windir",
            "TEMP",
            "TMP",
            "ComSpec",
            "PATHEXT",
        ] {
            if let Ok(v) = std::env::var(var) {
                pairs.push((var.to_string(), v));
            }
        }
    }
    pairs
}

/// The cdxs binary under test.
pub fn cdxs_bin() -> PathBuf {
    std::env::var_os("CDXS_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("cdxs"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Both streams, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub use crate::mock_openai::jwt;

thread_local! {
    /// The clock of the test on this thread: the moment its (last) [`Env`] was made.
    static FIXTURE_NOW: std::cell::Cell<Option<chrono::DateTime<chrono::Utc>>> =
        const { std::cell::Cell::new(None) };
}

/// The time fixtures are stamped with: the test's clock ([`Env::now`] of the test's world),
/// else one moment per test process. Never the wall clock at the call: two logins made a
/// few milliseconds apart on either side of a second would differ in `iat`, which orders
/// token copies before `last_refresh` does.
pub fn fixture_now() -> chrono::DateTime<chrono::Utc> {
    static PROCESS: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    FIXTURE_NOW
        .with(|n| n.get())
        .unwrap_or_else(|| *PROCESS.get_or_init(chrono::Utc::now))
}

/// A ChatGPT login as Codex writes it.
#[derive(Debug, Clone)]
pub struct Login {
    pub email: String,
    pub account_id: String,
    pub plan: String,
    pub iat: i64,
    pub exp: i64,
    pub refresh_token: String,
    pub last_refresh: Option<String>,
}

impl Login {
    /// Issued at the test's clock ([`fixture_now`]), valid an hour: every login a test
    /// makes has the same `iat` and `last_refresh` unless the test sets them, so which copy
    /// is newer is what the test says, never the wall clock.
    pub fn new(email: &str, account_id: &str) -> Login {
        let now = fixture_now();
        Login {
            email: email.into(),
            account_id: account_id.into(),
            plan: "plus".into(),
            iat: now.timestamp(),
            exp: now.timestamp() + 3600,
            refresh_token: format!("rt_{}_1", account_id),
            last_refresh: Some(now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        }
    }

    pub fn claims(&self) -> Value {
        json!({
            "email": self.email,
            "https://api.openai.com/profile": {"email": self.email},
            "https://api.openai.com/auth": {
                "chatgpt_plan_type": self.plan,
                "chatgpt_user_id": "user-test",
                "user_id": "user-test",
                "chatgpt_account_id": self.account_id,
            },
            "iat": self.iat,
            "exp": self.exp,
        })
    }

    pub fn auth_json(&self) -> String {
        let mut v = json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": crate::mock_openai::tokens_object(
                &jwt(&self.claims()),
                &jwt(&self.claims()),
                &self.refresh_token,
                &self.account_id,
                "https://auth.openai.com",
            ),
        });
        if let Some(lr) = &self.last_refresh {
            v["last_refresh"] = json!(lr);
        }
        serde_json::to_string_pretty(&v).unwrap()
    }

    pub fn write_to(&self, home: &Path) {
        std::fs::create_dir_all(home).unwrap();
        std::fs::write(home.join("auth.json"), self.auth_json()).unwrap();
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `path` has the permission bits `want` (0600 files, 0700 folders). Windows has none: a
/// private file there keeps the ACL its folder passes down (docs/platforms.md), so there is
/// nothing to compare.
#[track_caller]
pub fn assert_mode(path: &Path, want: u32) {
    if cfg!(unix) {
        assert_eq!(mode(path), want, "{}", path.display());
    }
}

/// The permission bits of `path` (0 where files have none: Windows).
pub fn mode(path: &Path) -> u32 {
    cdxs::platform::fs::mode_of(path).map_or(0, |m| m & 0o777)
}

/// Every Codex release cdxs supports (as `scripts/install-codex.sh` installs them and
/// `cdxs::codex::schema::RELEASES` knows them). Each real-Codex test runs against each.
pub const CODEX_RELEASES: &[&str] = &["0.169.0", "0.171.0"];

/// Where scripts/install-codex-cross.sh puts the Windows Codex of a release, after
/// `<version>-` (keep equal to `WINDOWS_CODEX` in build.rs).
const WINDOWS_CODEX: &str = "win32-x64/package/vendor/x86_64-pc-windows-msvc/bin/codex.exe";

/// The real Codex CLI of one release: `$CDXS_TEST_CODEX_DIR/<version>/`, else
/// `target/codex-cli/<version>/` (installed by `scripts/install-codex.sh`).
///
/// A test that needs it is compiled as ignored, with the reason, when the build found it
/// missing (`build.rs`: the `cdxs_no_codex_<version>` flags; [`codex_matrix!`] and the
/// `#[cfg_attr(cdxs_no_codex_..., ignore = ...)]` on single tests), except under CI. So
/// reaching this without the binary (under CI, or removed after the build) fails the test:
/// it never returns early and counts as passed.
pub fn codex_release(version: &str) -> PathBuf {
    let dir = std::env::var_os("CDXS_TEST_CODEX_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/codex-cli"));
    let bin = if cfg!(windows) {
        let cross = std::env::var_os("CDXS_TEST_CODEX_CROSS_DIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or(dir);
        std::path::absolute(cross.join(format!("{version}-{WINDOWS_CODEX}"))).unwrap()
    } else {
        dir.join(version).join("node_modules/.bin/codex")
    };
    if bin.exists() {
        return bin;
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "the real Codex CLI {version} is missing at {}: run `scripts/install-codex.sh` (CI must not skip these tests)",
            bin.display()
        );
    }
    panic!(
        "the real Codex CLI {version} is missing at {}, but it was there when this test was built (or CI was set then): install it with `scripts/install-codex.sh`, or rebuild (`touch build.rs`) so that its tests are ignored",
        bin.display()
    );
}

/// The newest supported Codex (for tests that need one Codex but are not about it). Such
/// a test carries `#[cfg_attr(cdxs_no_codex_0_171_0, ignore = "...")]`.
pub fn codex() -> PathBuf {
    codex_release(CODEX_RELEASES[CODEX_RELEASES.len() - 1])
}

/// Run the test function `$name(codex: PathBuf)` once per supported Codex release, as
/// the tests `$name::codex_<version>`; each is ignored (with the reason) where its release
/// is not installed, outside CI.
///
/// `codex_matrix!(name, windows_ignore = "why")` marks both ignored in the suite built for
/// Windows (`make test-windows`), with the reason.
#[macro_export]
macro_rules! codex_matrix {
    ($name:ident $(, windows_ignore = $why:literal)?) => {
        mod $name {
            #[test]
            $(#[cfg_attr(windows, ignore = $why)])?
            #[cfg_attr(
                cdxs_no_codex_0_169_0,
                ignore = "the real Codex CLI 0.169.0 is not installed (scripts/install-codex.sh)"
            )]
            fn codex_0_169_0() {
                super::$name($crate::harness::codex_release("0.169.0"))
            }
            #[test]
            $(#[cfg_attr(windows, ignore = $why)])?
            #[cfg_attr(
                cdxs_no_codex_0_171_0,
                ignore = "the real Codex CLI 0.171.0 is not installed (scripts/install-codex.sh)"
            )]
            fn codex_0_171_0() {
                super::$name($crate::harness::codex_release("0.171.0"))
            }
        }
    };
}

/// `codex --version` of a Codex binary (`0.171.0`).
pub fn codex_version(codex: &Path) -> String {
    let out = std::process::Command::new(codex)
        .arg("--version")
        .output()
        .unwrap();
    stdout(&out)
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Run `cmd` with `input` on its stdin; its output.
pub fn write_stdin(cmd: &mut std::process::Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Run the real Codex with `CODEX_HOME` set, stdin closed.
pub fn run_codex(codex: &Path, home: &Path, args: &[&str]) -> Output {
    std::process::Command::new(codex)
        .args(args)
        .env("CODEX_HOME", home)
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// `codex login status` in `home`: (exit code, stderr) — Codex prints it on stderr.
pub fn login_status(codex: &Path, home: &Path) -> (i32, String) {
    let out = run_codex(codex, home, &["login", "status"]);
    (code(&out), stderr(&out))
}

/// `codex app-server` (stdio JSON-RPC): initialize, then one request; returns its answer.
pub fn app_server_call(
    codex: &Path,
    home: &Path,
    envs: &[(&str, String)],
    method: &str,
    params: Value,
) -> Value {
    let mut cmd = std::process::Command::new(codex);
    cmd.arg("app-server")
        .env("CODEX_HOME", home)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    let send = |stdin: &mut std::process::ChildStdin, v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let wait_for = |id: i64| -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(v) = rx.recv_timeout(Duration::from_millis(200))
                && v.get("id").and_then(Value::as_i64) == Some(id)
            {
                return v;
            }
        }
        panic!("codex app-server did not answer request {id}");
    };
    send(
        &mut stdin,
        json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "cdxs_test", "title": null, "version": "0"}, "capabilities": {"experimentalApi": true, "requestAttestation": false}}}),
    );
    wait_for(1);
    send(&mut stdin, json!({"method": "initialized"}));
    send(
        &mut stdin,
        json!({"id": 2, "method": method, "params": params}),
    );
    let answer = wait_for(2);
    drop(stdin);
    stop_codex(&mut child);
    answer
}

/// End a process started through the npm `codex` wrapper: the wrapper forwards SIGTERM to
/// the native Codex it runs, while a SIGKILL to the wrapper would leave that one running.
pub fn stop_codex(child: &mut std::process::Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A Codex process that is stopped ([`stop_codex`]) however the test ends, a failed
/// assertion included.
pub struct CodexProcess(pub std::process::Child);

impl Drop for CodexProcess {
    fn drop(&mut self) {
        stop_codex(&mut self.0);
    }
}

// ---- snapshots of whole runs (exit code + stdout + stderr), as uv's `uv_snapshot!` ----

/// A run as a snapshot shows it: exit code and both streams, with what changes from run to
/// run filtered: the test's temporary root, times, fingerprints, durations, backup stamps.
pub fn snapshot_text(env: &Env, out: &Output) -> String {
    let text = format!(
        "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        code(out),
        stdout(out),
        stderr(out)
    );
    let text = env.redact(&text);
    let filters: &[(&str, &str)] = &[
        (r"\d{8}T\d{6}\.\d{3}Z-[a-z0-9_-]+-[0-9a-f]{6}", "[STAMP]"),
        (
            r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?",
            "[TIME]",
        ),
        (r"sha256:[0-9a-f]{8}", "sha256:[FP]"),
        (r"oauth_[0-9a-f]{16}", "oauth_[ID]"),
        (r"apikey_[0-9a-f]{16}", "apikey_[ID]"),
        (r"api-key-[0-9a-f]{8}", "api-key-[ID]"),
        (r"(expires in|expired) \d+[dhms][0-9dhms]*", "$1 [DURATION]"),
        (r"\d+[dhm]\d*[hm]? ago", "[DURATION] ago"),
        // A table's PATH header is padded to the real (unredacted) path, whose length
        // depends on the machine's temporary folder.
        (r"(?m)^(HOME +PATH) {2,}", "$1  [PAD]  "),
    ];
    filters.iter().fold(text, |t, (pattern, with)| {
        regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&t, *with)
            .into_owned()
    })
}

/// Run cdxs and snapshot the whole run; returns the output for more assertions.
#[macro_export]
macro_rules! cdxs_snapshot {
    ($env:expr, $args:expr) => {{
        let out = $env.run($args);
        insta::assert_snapshot!($crate::harness::snapshot_text(&$env, &out));
        out
    }};
}

mod codex_like;
mod rollouts;
pub use codex_like::*;
pub use rollouts::*;
