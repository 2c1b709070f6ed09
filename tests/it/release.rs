//! The release artifacts (issue 20, point 5): the archives scripts/dist-local.sh packs in
//! the shapes dist's release workflow uploads, the shell installer dist generated
//! (packaging/cdxs-installer.sh) installing one into a prefix, the Homebrew formula and the
//! winget manifest written from the archives' checksums, and `cargo binstall`'s templates
//! in Cargo.toml. The archives hold the debug build (CI never builds a release binary);
//! Linux only, as the packaging scripts are.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::{cdxs_bin, text};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The triple the shell installer picks on this machine (it reads `uname -m`).
fn host_triple() -> String {
    format!("{}-unknown-linux-gnu", std::env::consts::ARCH)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}\n{}", text(&out));
    out
}

/// `scripts/dist-local.sh package TRIPLE BINARY OUT`, fast: xz's lightest level (the
/// archive's shape is what is tested, not its size).
fn package(triple: &str, binary: &Path, out: &Path) -> PathBuf {
    let done = run(Command::new(repo().join("scripts/dist-local.sh"))
        .args(["package", triple])
        .arg(binary)
        .arg(out)
        .env("XZ_OPT", "-0"));
    PathBuf::from(String::from_utf8(done.stdout).unwrap().trim())
}

/// The debug cdxs without its 200 MB of debug info (what a release build strips too), so
/// that packing and unpacking it takes a second or two.
fn stripped_cdxs(dir: &Path) -> PathBuf {
    let bin = dir.join("cdxs");
    run(Command::new("strip").arg("-o").arg(&bin).arg(cdxs_bin()));
    bin
}

/// A small file standing in for a binary, where only the archive's shape matters.
fn stand_in(dir: &Path) -> PathBuf {
    let bin = dir.join("stand-in");
    std::fs::write(&bin, "not a real binary\n").unwrap();
    bin
}

fn sha256_line(archive: &Path) -> String {
    let file = PathBuf::from(format!("{}.sha256", archive.display()));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

fn sha256_of(archive: &Path) -> String {
    let line = sha256_line(archive);
    let sha = line.split_whitespace().next().unwrap().to_string();
    assert_eq!(sha.len(), 64, "{line}");
    sha
}

#[test]
fn the_shell_installer_installs_a_packaged_cdxs_into_a_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let triple = host_triple();
    let archive = package(&triple, &stripped_cdxs(tmp.path()), &dist);
    assert_eq!(
        archive.file_name().unwrap().to_str().unwrap(),
        format!("cdxs-{triple}.tar.xz")
    );
    // The checksum file is what `sha256sum -c` (and a user) checks the download with.
    run(Command::new("sha256sum")
        .args(["-c", &format!("cdxs-{triple}.tar.xz.sha256")])
        .current_dir(&dist));

    // The installer as a user runs it, with the download URL pointed at the folder (curl
    // reads file:// URLs) and an unmanaged prefix: no PATH edits, no receipt.
    let home = tmp.path().join("home");
    let prefix = tmp.path().join("prefix");
    std::fs::create_dir_all(&home).unwrap();
    let out = run(Command::new("sh")
        .arg(repo().join("packaging/cdxs-installer.sh"))
        .env("CDXS_DOWNLOAD_URL", format!("file://{}", dist.display()))
        .env("CDXS_UNMANAGED_INSTALL", &prefix)
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("CARGO_HOME")
        .env_remove("INSTALLER_DOWNLOAD_URL"));
    let said = text(&out);
    assert!(said.contains(&format!("cdxs {VERSION}")), "{said}");

    let installed = prefix.join("cdxs");
    let version = run(Command::new(&installed).arg("--version"));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("cdxs {VERSION}"),
        "{}",
        text(&version)
    );
    // Nothing outside the prefix: no shell profile edited, no receipt under ~/.config.
    let left: Vec<_> = walk(&home);
    assert!(left.is_empty(), "the installer wrote into HOME: {left:?}");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The shell installer refuses a download that is not there, and says which URL it tried,
/// instead of installing something else.
#[test]
fn the_shell_installer_fails_when_the_archive_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let out = Command::new("sh")
        .arg(repo().join("packaging/cdxs-installer.sh"))
        .env(
            "CDXS_DOWNLOAD_URL",
            format!("file://{}", tmp.path().display()),
        )
        .env("CDXS_UNMANAGED_INSTALL", &prefix)
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(&format!("cdxs-{}.tar.xz", host_triple())),
        "{said}"
    );
    assert!(!prefix.join("cdxs").exists());
}

#[test]
fn the_formula_and_the_winget_manifest_carry_the_archives_checksums_and_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let bin = stand_in(tmp.path());
    let x64 = package("x86_64-unknown-linux-gnu", &bin, &dist);
    let arm64 = package("aarch64-unknown-linux-gnu", &bin, &dist);
    let windows = package("x86_64-pc-windows-gnu", &bin, &dist);
    run(Command::new(repo().join("scripts/package-manifests.sh")).arg(&dist));

    let base = format!("{}/releases/download/v{VERSION}", repository());
    let formula = std::fs::read_to_string(dist.join("cdxs.rb")).unwrap();
    assert!(
        formula.contains(&format!("version \"{VERSION}\"")),
        "{formula}"
    );
    for (archive, block) in [(&x64, "on_intel"), (&arm64, "on_arm")] {
        let name = archive.file_name().unwrap().to_str().unwrap();
        let expected = format!(
            "    {block} do\n      url \"{base}/{name}\"\n      sha256 \"{}\"\n    end",
            sha256_of(archive)
        );
        assert!(formula.contains(&expected), "{expected}\nnot in\n{formula}");
    }
    // No macOS archive here: no macOS block pointing at nothing.
    assert!(!formula.contains("on_macos"), "{formula}");

    let id = format!("{}.cdxs", owner());
    let manifests = dist.join("winget").join(&id).join(VERSION);
    let installer = std::fs::read_to_string(manifests.join(format!("{id}.installer.yaml")))
        .unwrap_or_else(|e| panic!("{}: {e}", manifests.display()));
    let name = windows.file_name().unwrap().to_str().unwrap();
    assert!(
        installer.contains(&format!("InstallerUrl: {base}/{name}\n")),
        "{installer}"
    );
    assert!(
        installer.contains(&format!(
            "InstallerSha256: {}\n",
            sha256_of(&windows).to_uppercase()
        )),
        "{installer}"
    );
    for file in [
        format!("{id}.yaml"),
        format!("{id}.installer.yaml"),
        format!("{id}.locale.en-US.yaml"),
    ] {
        let yaml = std::fs::read_to_string(manifests.join(&file)).unwrap();
        assert!(
            yaml.contains(&format!("PackageVersion: {VERSION}\n")),
            "{file}: {yaml}"
        );
    }
    // The Windows zip holds cdxs.exe at its top, where NestedInstallerFiles points.
    let listing = run(Command::new("unzip").arg("-Z1").arg(&windows));
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.lines().any(|l| l == "cdxs.exe"), "{listing}");
    // The licences travel with the binary (MIT OR Apache-2.0, as Cargo.toml says).
    for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
        assert!(listing.lines().any(|l| l == licence), "{listing}");
    }
}

/// A checksum file that is not one fails the generator instead of landing in a manifest.
#[test]
fn a_malformed_checksum_file_fails_the_manifests() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let bin = stand_in(tmp.path());
    let x64 = package("x86_64-unknown-linux-gnu", &bin, &dist);
    package("x86_64-pc-windows-gnu", &bin, &dist);
    std::fs::write(
        format!("{}.sha256", x64.display()),
        "<html>not found</html>\n",
    )
    .unwrap();
    let out = Command::new(repo().join("scripts/package-manifests.sh"))
        .arg(&dist)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("is not a SHA-256 line"),
        "{}",
        text(&out)
    );
}

/// `cargo binstall cdxs` resolves Cargo.toml's templates to the archives dist uploads: the
/// file name and the binary's path inside, for a tar.xz target and for Windows.
#[test]
fn binstall_metadata_points_at_the_archives_and_the_binary_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let bin = stand_in(tmp.path());
    let meta = cargo_toml();
    let binstall = &meta["package"]["metadata"]["binstall"];
    for (triple, packaged_as, suffix, ext) in [
        (
            "x86_64-unknown-linux-gnu",
            "x86_64-unknown-linux-gnu",
            ".tar.xz",
            "",
        ),
        (
            "x86_64-pc-windows-msvc",
            "x86_64-pc-windows-gnu",
            ".zip",
            ".exe",
        ),
    ] {
        let table = binstall["overrides"]
            .get(triple)
            .and_then(|o| o.as_table())
            .cloned()
            .unwrap_or_default();
        let key = |k: &str| {
            table
                .get(k)
                .or_else(|| binstall.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| panic!("binstall {k} for {triple}"))
                .to_string()
        };
        let fill = |template: String| {
            template
                .replace("{ repo }", &repository())
                .replace("{ version }", VERSION)
                .replace("{ name }", "cdxs")
                .replace("{ bin }", "cdxs")
                .replace("{ target }", triple)
                .replace("{ archive-suffix }", suffix)
                .replace("{ binary-ext }", ext)
        };
        assert_eq!(
            key("pkg-fmt"),
            if suffix == ".zip" { "zip" } else { "txz" },
            "{triple}"
        );
        let url = fill(key("pkg-url"));
        assert_eq!(
            url,
            format!(
                "{}/releases/download/v{VERSION}/cdxs-{triple}{suffix}",
                repository()
            )
        );
        // The binary's path inside the archive the packaging script makes (the local
        // Windows build is the mingw one; the archive shape is the same).
        let archive = package(packaged_as, &bin, &dist);
        let listing = if suffix == ".zip" {
            run(Command::new("unzip").arg("-Z1").arg(&archive))
        } else {
            run(Command::new("tar").arg("tJf").arg(&archive))
        };
        let inner = fill(key("bin-dir")).replace(triple, packaged_as);
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing.lines().any(|l| l == inner),
            "{inner} not in {listing}"
        );
        for licence in ["LICENSE-MIT", "LICENSE-APACHE"] {
            assert!(
                listing.lines().any(|l| l.ends_with(licence)),
                "{licence} not in {listing}"
            );
        }
    }
}

/// The committed installers and the release workflow were generated for this version and
/// this dist configuration: `make installers` after a version bump or a config change.
#[test]
fn the_committed_installers_are_for_this_version() {
    let sh = std::fs::read_to_string(repo().join("packaging/cdxs-installer.sh")).unwrap();
    assert!(
        sh.contains(&format!("APP_VERSION=\"{VERSION}\"")),
        "packaging/cdxs-installer.sh is not for {VERSION}: run `make installers`"
    );
    let ps1 = std::fs::read_to_string(repo().join("packaging/cdxs-installer.ps1")).unwrap();
    assert!(
        ps1.contains(&format!("$app_version = '{VERSION}'")),
        "packaging/cdxs-installer.ps1 is not for {VERSION}: run `make installers`"
    );
    let base = format!("{}/releases/download/v{VERSION}", repository());
    for (file, script) in [("cdxs-installer.sh", &sh), ("cdxs-installer.ps1", &ps1)] {
        assert!(
            script.contains(&base),
            "packaging/{file} does not download from {base} (Cargo.toml's repository): run `make installers`"
        );
    }
    let workflow = std::fs::read_to_string(repo().join(".github/workflows/release.yml")).unwrap();
    let config = std::fs::read_to_string(repo().join("dist-workspace.toml")).unwrap();
    let dist_version = config
        .lines()
        .find_map(|l| l.strip_prefix("cargo-dist-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        workflow.contains(&format!("cargo-dist/releases/download/v{dist_version}/")),
        "release.yml is not dist {dist_version}'s: run `make installers`"
    );
    assert!(
        workflow.contains("uses: actions/attest@"),
        "release.yml attests the builds"
    );
}

fn cargo_toml() -> toml::Table {
    std::fs::read_to_string(repo().join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap()
}

fn repository() -> String {
    cargo_toml()["package"]["repository"]
        .as_str()
        .unwrap()
        .to_string()
}

fn owner() -> String {
    repository()
        .trim_end_matches('/')
        .rsplit('/')
        .nth(1)
        .unwrap()
        .to_string()
}
