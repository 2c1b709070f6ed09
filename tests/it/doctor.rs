//! `cdxs doctor`: read only, one screen, exit 1 with the fix on the line when something
//! needs doing.

use std::path::Path;

use serde_json::Value;

use crate::harness::*;

fn cdxs_binary() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("cdxs")
}

/// A PATH with only the folders given (and the system's, for `sh`-free tools).
fn path_of(dirs: &[&Path]) -> String {
    let mut parts: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    parts.push("/usr/bin:/bin".into());
    parts.join(":")
}

#[test]
fn doctor_changes_nothing_and_says_nothing_needs_doing() {
    let env = Env::new();
    env.manifest("version: 1\nhomes:\n  default: { path: ~/.codex }\n");
    let bin = env.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::hard_link(cdxs_binary(), bin.join("cdxs")).unwrap();
    let out = env
        .cdxs()
        .env("PATH", path_of(&[&bin]))
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let shown = stdout(&out);
    assert!(shown.contains("Nothing needs doing."), "{shown}");
    assert!(
        shown.contains("is valid: 0 accounts, 0 pools, 1 homes"),
        "{shown}"
    );
    assert!(shown.contains("no lock is held"), "{shown}");
    assert!(!env.state.exists(), "doctor created the state folder");
}

#[test]
fn doctor_exits_1_with_the_fix_on_each_line() {
    let env = Env::new();
    // A state folder others can read, a broken manifest, two different cdxs on PATH.
    assert!(env.run(&["account", "list"]).status.success());
    cdxs::platform::fs::set_mode(&env.state, 0o755).unwrap();
    env.manifest("version: 1\nhomez: {}\n");
    let (a, b) = (env.path("bin-a"), env.path("bin-b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    std::fs::hard_link(cdxs_binary(), a.join("cdxs")).unwrap();
    std::fs::write(b.join("cdxs"), "#!/bin/sh\necho 'cdxs 0.0.1'\n").unwrap();
    cdxs::platform::fs::set_mode(&b.join("cdxs"), 0o755).unwrap();
    let out = env
        .cdxs()
        .env("PATH", path_of(&[&a, &b]))
        .arg("doctor")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", text(&out));
    let shown = env.redact(&stdout(&out));
    for want in [
        "fix  state folder `[ROOT]/state` is 755: other users can reach the vault's folder",
        "-> `chmod 700 [ROOT]/state`",
        "-> `cdxs -f [ROOT]/work/cdxs.yaml validate` shows every problem",
        "2 cdxs binaries on PATH:",
        "(0.0.1)",
        "3 thing(s) need doing",
    ] {
        assert!(shown.contains(want), "missing {want:?} in\n{shown}");
    }
    // The JSON says the same, versioned.
    let out = env
        .cdxs()
        .env("PATH", path_of(&[&a, &b]))
        .args(["doctor", "--json"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], 1);
    assert_eq!(v["needs_action"], true);
    let actions = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "action")
        .count();
    assert_eq!(actions, 3, "{v}");
    assert_eq!(mode(&env.state), 0o755, "doctor never chmods");
}

#[test]
fn doctor_names_who_holds_a_lock() {
    let env = Env::new();
    assert!(env.run(&["account", "list"]).status.success());
    let locks = env.state.join("locks");
    std::fs::create_dir_all(&locks).unwrap();
    let f = std::fs::File::create(locks.join("vault.lock")).unwrap();
    f.lock().unwrap();
    let out = env.run(&["doctor"]);
    let shown = stdout(&out);
    assert!(
        shown.contains(&format!(
            "cdxs: `vault.lock` is held by pid {}",
            std::process::id()
        )),
        "{shown}"
    );
    drop(f);
}

/// The watch service of this OS (here the systemd user unit of `examples/`): none is fine;
/// one that starts a cdxs that is not there needs action; one that starts this cdxs is ok.
#[test]
fn doctor_checks_the_watch_service_definition() {
    let env = Env::new();
    let service = |out: &std::process::Output| -> Value {
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["area"] == "service")
            .cloned()
            .unwrap_or_else(|| panic!("no service check in {v}"))
    };
    let c = service(&env.run(&["doctor", "--json"]));
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("no systemd user unit runs `cdxs watch`"),
        "{c}"
    );
    let units = env.home.join(".config/systemd/user");
    std::fs::create_dir_all(&units).unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cdxs-watch.service"),
    )
    .unwrap();
    std::fs::write(units.join("cdxs-watch.service"), &example).unwrap();
    let out = env.run(&["doctor", "--json"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let c = service(&out);
    assert_eq!(c["status"], "action", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("starts `~/.cargo/bin/cdxs`, which does not exist"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .unwrap()
            .contains("write the path of cdxs there"),
        "{c}"
    );
    let mine = example.replace("%h/.cargo/bin/cdxs", &cdxs_binary().display().to_string());
    std::fs::write(units.join("cdxs-watch.service"), mine).unwrap();
    let c = service(&env.run(&["doctor", "--json"]));
    assert_eq!(c["status"], "ok", "{c}");
    assert!(
        c["message"].as_str().unwrap().contains("runs this cdxs"),
        "{c}"
    );
}
