//! Codex's own settings decide whether it reads the auth.json cdxs writes. The real Codex
//! shows each refusal is right (with `keyring` it does not read auth.json; with
//! `forced_login_method = "api"` it deletes a ChatGPT login), and cdxs refuses to bind such
//! a home, writes the file store when the home declares it, and tells Codex to use the file
//! store when `run` starts it (a trusted project could move it).

use std::path::{Path, PathBuf};

use crate::codex_matrix;
use crate::harness::*;
use crate::mock_responses::MockResponses;

/// A manifest with one home `h` at `home`, bound to `ada` (a ChatGPT login).
fn bind_ada(env: &Env, home: &Path, extra: &str) -> PathBuf {
    env.import_login(&Login::new("ada@example.com", "acct-ada"));
    env.manifest(&format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  h: {{ path: {}, account: ada{extra} }}\n",
        home.display()
    ))
}

fn logged_in(codex: &Path, home: &Path) -> bool {
    let (status, said) = login_status(codex, home);
    status == 0 && said.contains("Logged in using ChatGPT")
}

fn a_keyring_store_makes_codex_ignore_auth_json_so_cdxs_refuses_to_bind_it(codex: PathBuf) {
    let env = Env::new();
    // The oracle: with `keyring`, Codex does not read a valid auth.json.
    let probe = env.codex_home("probe");
    std::fs::create_dir_all(&probe).unwrap();
    Login::new("zed@example.com", "acct-zed").write_to(&probe);
    assert!(logged_in(&codex, &probe), "a valid login to begin with");
    std::fs::write(
        probe.join("config.toml"),
        "cli_auth_credentials_store = \"keyring\"\n",
    )
    .unwrap();
    assert!(
        !logged_in(&codex, &probe),
        "Codex ignores auth.json under the keyring store: {:?}",
        login_status(&codex, &probe)
    );

    // cdxs refuses to bind such a home: an error on its address, exit 1, nothing written.
    let home = env.codex_home("h");
    std::fs::create_dir_all(&home).unwrap();
    let config = "# mine\ncli_auth_credentials_store = \"keyring\" # set by hand\nmodel = \"m\"\n";
    std::fs::write(home.join("config.toml"), config).unwrap();
    let _ = bind_ada(&env, &home, "");
    let out = env.run(&["plan"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let said = text(&out);
    assert!(said.contains("home.h.auth"), "{said}");
    assert!(
        said.contains("cli_auth_credentials_store = \"keyring\""),
        "{said}"
    );
    assert!(said.contains("config.toml"), "{said}");
    assert!(said.contains("codex_config"), "the fix is named: {said}");
    let out = env.run(&["apply", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(!home.join("auth.json").exists(), "nothing written there");
    for cmd in [&["status"][..], &["doctor"][..]] {
        let out = env.run(cmd);
        assert!(
            text(&out).contains("keyring"),
            "{cmd:?} shows the store: {}",
            text(&out)
        );
    }
    assert_eq!(code(&env.run(&["doctor"])), 1);

    // Declared, cdxs writes the file store (comments kept, a backup, a diff) and the login.
    bind_ada(
        &env,
        &home,
        ", codex_config: { cli_auth_credentials_store: file }",
    );
    let out = env.run(&["plan"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        stdout(&out).contains("-cli_auth_credentials_store = \"keyring\" # set by hand"),
        "{}",
        text(&out)
    );
    let out = env.run(&["apply", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert_eq!(
        written,
        "# mine\ncli_auth_credentials_store = \"file\" # set by hand\nmodel = \"m\"\n"
    );
    assert!(logged_in(&codex, &home), "Codex reads the login cdxs wrote");
    let out = env.run(&["plan", "--detailed-exitcode"]);
    assert_eq!(code(&out), 0, "converged: {}", text(&out));
    // The old config.toml is in a backup, and rollback puts it back.
    let out = env.run(&["rollback", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml")).unwrap(),
        config
    );
    assert!(!home.join("auth.json").exists(), "{}", text(&out));
}
codex_matrix!(a_keyring_store_makes_codex_ignore_auth_json_so_cdxs_refuses_to_bind_it);

fn forced_api_login_makes_codex_delete_a_chatgpt_login_so_cdxs_refuses_it(codex: PathBuf) {
    let env = Env::new();
    let mock = MockResponses::start("hi");
    // The oracle: `codex exec` logs out and deletes a ChatGPT login the setting refuses.
    let probe = env.codex_home("probe");
    std::fs::create_dir_all(&probe).unwrap();
    Login::new("zed@example.com", "acct-zed").write_to(&probe);
    std::fs::write(
        probe.join("config.toml"),
        format!(
            "forced_login_method = \"api\"\n{}",
            mock.custom_provider_toml()
        ),
    )
    .unwrap();
    let out = run_codex(
        &codex,
        &probe,
        &["exec", "--skip-git-repo-check", "--json", "hi"],
    );
    assert!(
        !probe.join("auth.json").exists(),
        "Codex deleted the ChatGPT login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, said) = login_status(&codex, &probe);
    assert!(said.contains("Not logged in"), "{said}");

    // cdxs: a ChatGPT login is refused there, by plan and by an imperative switch.
    let home = env.codex_home("h");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.toml"), "forced_login_method = \"api\"\n").unwrap();
    let _ = bind_ada(&env, &home, "");
    let out = env.run(&["apply", "--yes"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("forced_login_method = \"api\""),
        "{}",
        text(&out)
    );
    assert!(!home.join("auth.json").exists());
    // Without a manifest, `switch` and `run --account` write into a folder: the same rule.
    let env = Env::new();
    env.import_login(&Login::new("ada@example.com", "acct-ada"));
    let loose = env.codex_home("loose");
    std::fs::create_dir_all(&loose).unwrap();
    std::fs::write(loose.join("config.toml"), "forced_login_method = \"api\"\n").unwrap();
    let out = env.run(&[
        "switch",
        "ada@example.com",
        "--codex-home",
        loose.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("deletes a ChatGPT login"),
        "{}",
        text(&out)
    );
    assert!(!loose.join("auth.json").exists());
    let out = env.run(&[
        "run",
        "--account",
        "ada@example.com",
        "--codex-home",
        loose.to_str().unwrap(),
        "--",
        "true",
    ]);
    assert_eq!(code(&out), 1, "{}", text(&out));

    // An API key is what that home takes: cdxs writes it and Codex reads it.
    let key = env.add_api_key_id("sk-proj-abcdefghijklmnop1234");
    let out = env.run(&["switch", &key, "--codex-home", loose.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let (status, said) = login_status(&codex, &loose);
    assert_eq!(status, 0, "{said}");
    assert!(said.contains("API key configured"), "{said}");
}
codex_matrix!(forced_api_login_makes_codex_delete_a_chatgpt_login_so_cdxs_refuses_it);

/// A trusted project's `.codex/config.toml` can move the store to the keyring: the real
/// Codex then ignores the home's auth.json. `cdxs run` tells it to read the file.
fn run_keeps_codex_on_the_file_store_in_a_trusted_project(codex: PathBuf) {
    let env = Env::new();
    let home = env.codex_home("h");
    let project = env.path("project");
    std::fs::create_dir_all(project.join(".codex")).unwrap();
    std::fs::write(
        project.join(".codex/config.toml"),
        "cli_auth_credentials_store = \"keyring\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            // A literal key: a Windows path's `\` is no escape there.
            "[projects.'{}']\ntrust_level = \"trusted\"\n",
            project.display()
        ),
    )
    .unwrap();
    let manifest = bind_ada(&env, &home, "");
    assert!(env.run(&["apply", "--yes"]).status.success());
    // Codex started in the project by hand: the project's store wins, the login is unread.
    let by_hand = std::process::Command::new(&codex)
        .args(["login", "status"])
        .current_dir(&project)
        .env("CODEX_HOME", &home)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&by_hand.stderr);
    assert!(!said.contains("Logged in using ChatGPT"), "{said}");
    // Through `cdxs run`, from the same folder: Codex reads the login cdxs keeps.
    let out = env
        .cdxs()
        .current_dir(&project)
        .args(["-f", manifest.to_str().unwrap(), "run", "--home", "h", "--"])
        .args([codex.to_str().unwrap(), "login", "status"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("Logged in using ChatGPT"),
        "{}",
        text(&out)
    );
}
codex_matrix!(run_keeps_codex_on_the_file_store_in_a_trusted_project);

#[test]
fn system_managed_and_required_layers_are_read_and_named() {
    let env = Env::new();
    let home = env.codex_home("h");
    std::fs::create_dir_all(&home).unwrap();
    bind_ada(
        &env,
        &home,
        ", codex_config: { cli_auth_credentials_store: file }",
    );
    let system = env.codex_system_dir();
    std::fs::create_dir_all(&system).unwrap();
    // The system config sets keyring: the home's declared file store overrides it.
    std::fs::write(
        system.join("config.toml"),
        "cli_auth_credentials_store = \"keyring\"\n",
    )
    .unwrap();
    let out = env.run(&["plan"]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        stdout(&out).contains("home.h.codex_config"),
        "{}",
        text(&out)
    );
    // Managed config and requirements are over every config.toml: only an administrator.
    // (Codex on Windows reads no managed_config.toml.)
    for (file, layer) in [
        ("managed_config.toml", "managed config"),
        ("requirements.toml", "requirements"),
    ]
    .into_iter()
    .filter(|(file, _)| cfg!(unix) || *file != "managed_config.toml")
    {
        std::fs::write(system.join(file), "cli_auth_credentials_store = \"auto\"\n").unwrap();
        let out = env.run(&["plan"]);
        assert_eq!(code(&out), 1, "{file}: {}", text(&out));
        let said = text(&out);
        assert!(said.contains(file) && said.contains(layer), "{said}");
        assert!(said.contains("only an administrator"), "{said}");
        std::fs::remove_file(system.join(file)).unwrap();
    }
    // A requirement that leaves ChatGPT logins unused, and an unreadable layer.
    std::fs::write(
        system.join("requirements.toml"),
        "allowed_login_methods = [\"api\"]\n",
    )
    .unwrap();
    let out = env.run(&["plan"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("allowed_login_methods"),
        "{}",
        text(&out)
    );
    std::fs::write(
        system.join("requirements.toml"),
        "allowed_login_methods = [\n",
    )
    .unwrap();
    let out = env.run(&["plan"]);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains("is not TOML Codex can read"),
        "{}",
        text(&out)
    );
    assert!(!home.join("auth.json").exists());
}

#[test]
fn run_apply_and_watch_name_codex_api_key_once_and_never_its_value() {
    let env = Env::new();
    let home = env.codex_home("h");
    let _ = bind_ada(&env, &home, "");
    env.set_env("CODEX_API_KEY", "sk-env-secret-9876");
    for args in [
        &["apply", "--yes"][..],
        &["watch", "--once"][..],
        &["run", "--home", "h", "--", "true"][..],
    ] {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let said = text(&out);
        assert_eq!(
            said.matches("`CODEX_API_KEY` is set").count(),
            1,
            "{args:?}: {said}"
        );
        assert!(!said.contains("sk-env-secret"), "{said}");
    }
}

#[test]
fn home_bind_and_switch_refuse_a_login_the_home_would_delete_and_leave_cdxs_yaml_alone() {
    let env = Env::new();
    env.import_login(&Login::new("ada@example.com", "acct-ada"));
    let home = env.codex_home("h");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.toml"), "forced_login_method = \"api\"\n").unwrap();
    let manifest = format!(
        "version: 1\naccounts:\n  ada: {{ email: ada@example.com }}\nhomes:\n  h: {{ path: {} }}\n",
        home.display()
    );
    env.manifest(&manifest);
    for args in [
        &["home", "bind", "h", "ada"][..],
        &["switch", "ada", "--home", "h"][..],
    ] {
        let out = env.run(args);
        assert_eq!(code(&out), 1, "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("forced_login_method = \"api\""),
            "{args:?}: {}",
            text(&out)
        );
        assert_eq!(
            env.manifest_text(),
            manifest,
            "{args:?} left cdxs.yaml alone"
        );
        assert!(!home.join("auth.json").exists());
    }
}
