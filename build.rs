//! Which tools the integration tests need are on this machine: the real Codex CLI of every
//! supported release, PostgreSQL, util-linux `script`. Each one missing becomes a cfg flag
//! (`cdxs_no_codex_0_169_0`, `cdxs_no_postgres`, ...), and the tests that need it are compiled
//! as ignored, with the reason (`tests/it/harness`): `cargo test` prints `ignored, <reason>`
//! per test, and the build says once per tool what is missing and how to get it (cargo-nextest
//! shows these warnings and counts the tests as skipped). Never a test that returns early and
//! counts as passed.
//!
//! Under CI (`CI` set) nothing is ignored: a missing tool fails its tests.
//!
//! Only the test harness reads these flags; the library and the binary are the same either
//! way. The build looks again when `CI`, `CDXS_TEST_CODEX_DIR` or `CDXS_TEST_PG_BIN`
//! change, or when the Codex folder or PostgreSQL's changes (installing them rebuilds).

use std::path::{Path, PathBuf};

/// Keep equal to `CODEX_RELEASES` in tests/it/harness/mod.rs and scripts/install-codex.sh.
const CODEX_RELEASES: &[&str] = &["0.169.0", "0.171.0"];

/// Where scripts/install-codex-cross.sh puts the Windows Codex of a release, after
/// `<version>-` (keep equal to `WINDOWS_CODEX` in tests/it/harness/mod.rs).
const WINDOWS_CODEX: &str = "win32-x64/package/vendor/x86_64-pc-windows-msvc/bin/codex.exe";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["CI", "CDXS_TEST_CODEX_DIR", "CDXS_TEST_PG_BIN"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    for r in CODEX_RELEASES {
        println!("cargo::rustc-check-cfg=cfg({})", codex_flag(r));
    }
    println!("cargo::rustc-check-cfg=cfg(cdxs_no_postgres)");
    println!("cargo::rustc-check-cfg=cfg(cdxs_no_wine)");
    println!("cargo::rustc-check-cfg=cfg(cdxs_no_arm64)");
    for var in [
        "CDXS_CROSS_TARGET_DIR",
        "CDXS_TEST_WINEPREFIX",
        "CDXS_TEST_CODEX_CROSS_DIR",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rustc-check-cfg=cfg(cdxs_no_script)");
    let ci = std::env::var_os("CI").is_some();
    // (flag, what is missing, which tests, how to get it)
    let mut missing: Vec<(String, String, &str, &str)> = Vec::new();

    let codex_dir = std::env::var_os("CDXS_TEST_CODEX_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target/codex-cli"));
    watch(&codex_dir, true);
    // The suite built for Windows (`make test-windows`, run under wine) runs the Windows
    // Codex, and none of the Linux programs the other tests drive.
    let windows = std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows");
    // Where scripts/install-codex-cross.sh puts the Windows Codex.
    let cross_codex_dir = std::env::var_os("CDXS_TEST_CODEX_CROSS_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| codex_dir.clone());
    for r in CODEX_RELEASES {
        let (bin, fix) = if windows {
            (
                cross_codex_dir.join(format!("{r}-{WINDOWS_CODEX}")),
                "run scripts/install-codex-cross.sh, or point CDXS_TEST_CODEX_CROSS_DIR at the folder holding <version>-win32-x64/",
            )
        } else {
            (
                codex_dir.join(r).join("node_modules/.bin/codex"),
                "run scripts/install-codex.sh, or point CDXS_TEST_CODEX_DIR at the folder holding <version>/",
            )
        };
        if !bin.exists() {
            missing.push((
                codex_flag(r),
                format!(
                    "the real Codex CLI {r} is not installed at {}",
                    bin.display()
                ),
                "its tests",
                fix,
            ));
        }
    }

    if windows {
        // Not missing tools but another OS: ignored under CI too (they run in `make test`).
        for flag in [
            "cdxs_no_postgres",
            "cdxs_no_script",
            "cdxs_no_wine",
            "cdxs_no_arm64",
        ] {
            println!("cargo::rustc-cfg={flag}");
        }
        println!(
            "cargo::warning=the suite built for Windows: the tests that drive Linux programs (PostgreSQL, `script`, wine, qemu-user) are ignored; they run in `make test`"
        );
    }

    match if windows { Ok(()) } else { postgres() } {
        Ok(()) => {}
        Err(why) => missing.push((
            "cdxs_no_postgres".to_string(),
            why,
            "the PostgreSQL tests",
            "run scripts/install-postgres.sh, or set CDXS_TEST_PG_BIN to its bin folder",
        )),
    }

    if !windows
        && !["/usr/bin/script", "/bin/script"]
            .iter()
            .any(|p| Path::new(p).exists())
    {
        missing.push((
            "cdxs_no_script".to_string(),
            "util-linux `script` is not installed".to_string(),
            "the tests that answer a prompt on a terminal",
            "install util-linux",
        ));
    }

    // The smoke suites of the other platforms (tests/it/platforms): what `make cross`
    // installs and builds before the tests.
    for (flag, what, pieces) in cross_pieces(&codex_dir).into_iter().filter(|_| !windows) {
        let absent: Vec<String> = pieces
            .iter()
            .filter(|(_, p)| {
                watch(p, false);
                !p.exists()
            })
            .map(|(name, p)| format!("{name} ({})", p.display()))
            .collect();
        if !absent.is_empty() {
            missing.push((
                flag.to_string(),
                format!("{what} cannot run: missing {}", absent.join(", ")),
                "its smoke tests",
                "run `make cross` (scripts/install-cross.sh, then scripts/cross.sh build)",
            ));
        }
    }

    let debug = std::env::var("PROFILE").as_deref() == Ok("debug");
    for (flag, what, tests, fix) in missing {
        if ci {
            // CI runs them, and a missing tool fails them (each says why).
            if debug {
                println!("cargo::warning={what}: CI is set, so {tests} run and fail ({fix})");
            }
            continue;
        }
        println!("cargo::rustc-cfg={flag}");
        if debug {
            println!("cargo::warning={what}: {tests} are ignored ({fix})");
        }
    }
}

/// (flag, what, [(piece, path)]) of a cross-platform smoke suite.
type CrossSuite = (&'static str, &'static str, Vec<(&'static str, PathBuf)>);

/// The cross-platform smoke suites and what each needs; keep equal to
/// tests/it/platforms (`Wine::find`, `Qemu::find`).
fn cross_pieces(codex_dir: &Path) -> Vec<CrossSuite> {
    let env_dir = |var: &str, default: PathBuf| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or(default)
    };
    let cross = env_dir("CDXS_CROSS_TARGET_DIR", manifest_dir().join("target/cross"));
    let foreign = env_dir("CDXS_TEST_CODEX_CROSS_DIR", codex_dir.to_path_buf());
    let prefix = env_dir("CDXS_TEST_WINEPREFIX", manifest_dir().join("target/wine"));
    let on_path = |name: &str| {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(name))
            .find(|p| p.is_file())
            .unwrap_or_else(|| PathBuf::from(format!("/usr/bin/{name}")))
    };
    vec![
        (
            "cdxs_no_wine",
            "the Windows smoke test",
            vec![
                ("wine", on_path("wine")),
                (
                    "the wine prefix (scripts/wine-prefix.sh)",
                    prefix.join("drive_c/windows/system32/bcryptprimitives.dll"),
                ),
                (
                    "the Windows cdxs",
                    cross.join("x86_64-pc-windows-gnu/debug/cdxs.exe"),
                ),
                (
                    "the real codex.exe",
                    foreign.join(
                        "0.171.0-win32-x64/package/vendor/x86_64-pc-windows-msvc/bin/codex.exe",
                    ),
                ),
            ],
        ),
        (
            "cdxs_no_arm64",
            "the arm64 smoke test",
            vec![
                ("qemu-aarch64-static", on_path("qemu-aarch64-static")),
                (
                    "the arm64 C library",
                    PathBuf::from("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"),
                ),
                (
                    "the arm64 cdxs",
                    cross.join("aarch64-unknown-linux-gnu/debug/cdxs"),
                ),
                (
                    "the real arm64 codex",
                    foreign.join(
                        "0.171.0-linux-arm64/package/vendor/aarch64-unknown-linux-musl/bin/codex",
                    ),
                ),
            ],
        ),
    ]
}

fn codex_flag(release: &str) -> String {
    format!("cdxs_no_codex_{}", release.replace('.', "_"))
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
}

/// Look again when `path` changes. Cargo reruns a build script on every build while a
/// watched path does not exist, so only existing paths are watched; the default Codex
/// folder is made (empty) so that installing into it is seen.
fn watch(path: &Path, make: bool) {
    if make && !path.exists() && path.starts_with(manifest_dir().join("target")) {
        let _ = std::fs::create_dir_all(path);
    }
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

/// PostgreSQL as the tests start it (tests/it/sync_harness.rs): `initdb` and `postgres` in
/// `$CDXS_TEST_PG_BIN`, else the newest `/usr/lib/postgresql/<v>/bin`, else `pg_config
/// --bindir`; as root, a `postgres` user to run it as.
fn postgres() -> Result<(), String> {
    let bin = match std::env::var_os("CDXS_TEST_PG_BIN").filter(|v| !v.is_empty()) {
        Some(b) => Some(PathBuf::from(b)),
        None => {
            watch(Path::new("/usr/lib/postgresql"), false);
            debian_pg().or_else(pg_config)
        }
    };
    let Some(bin) = bin.filter(|b| b.join("initdb").exists()) else {
        return Err("PostgreSQL is not installed".into());
    };
    watch(&bin, false);
    if is_root() {
        watch(Path::new("/etc/passwd"), false);
        let has_user = std::process::Command::new("id")
            .args(["-u", "postgres"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_user {
            return Err(format!(
                "PostgreSQL ({}) refuses to run as root and there is no `postgres` user to run it as",
                bin.display()
            ));
        }
    }
    Ok(())
}

fn debian_pg() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

fn pg_config() -> Option<PathBuf> {
    let out = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    p.join("initdb").exists().then_some(p)
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
