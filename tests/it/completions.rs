//! Shell completions that know your homes, aliases, emails, pools and threads (issue 21:
//! `--home <TAB>` completed file names). clap's dynamic engine: the script a shell sources
//! asks cdxs itself at each <TAB> (`COMPLETE=<shell> cdxs -- <words>`).

use crate::harness::*;

const T1: &str = "019abc12-3456-7a01-8000-00000000000a";
const T2: &str = "019abc99-0000-7000-8000-00000000000b";

/// A manifest with two homes, two aliases and a pool; a vault with a login and a named key;
/// two threads in the default home (one of them trashed).
fn world() -> Env {
    let env = Env::new();
    env.import_login(&Login::new("ann@example.com", "acct-ann"));
    assert!(
        env.run_stdin(
            &["account", "add-api-key", "--api-key-stdin", "--name", "ci"],
            "sk-complete-key-01"
        )
        .status
        .success()
    );
    let home = env.default_codex_home();
    codex_like_home(&home);
    add_thread(&home, T1, "fix the flaky test", None);
    add_thread(&home, T2, "old experiment", None);
    env.manifest(&format!(
        "version: 1\naccounts:\n  personal: {{ email: ann@example.com }}\n  spare: {{ email: spare@example.com }}\npools:\n  spares: [spare]\nhomes:\n  default: {{ path: {} }}\n  work: {{ path: ~/codex-homes/work }}\n",
        home.display()
    ));
    assert!(env.run(&["session", "trash", T2]).status.success());
    env
}

/// What cdxs answers for `words` (the last one being completed), as `shell` asks.
fn ask(env: &Env, shell: &str, words: &[&str]) -> Vec<String> {
    let out = env
        .cdxs()
        .env("COMPLETE", shell)
        .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
        .arg("--")
        .args(words)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

fn values(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| l.split(['\t', ':']).next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn completions_know_homes_accounts_pools_and_threads() {
    let env = world();
    let homes = values(&ask(&env, "fish", &["cdxs", "switch", "--home", ""]));
    assert_eq!(&homes[..2], ["default", "work"], "{homes:?}");
    let accounts = values(&ask(&env, "fish", &["cdxs", "switch", ""]));
    for want in ["personal", "spare", "ann@example.com", "ci"] {
        assert!(accounts.contains(&want.to_string()), "{want}: {accounts:?}");
    }
    // Typed so far: only what starts with it.
    assert_eq!(
        values(&ask(&env, "fish", &["cdxs", "account", "show", "a"])),
        ["ann@example.com"]
    );
    let quota = values(&ask(&env, "fish", &["cdxs", "quota", "sp"]));
    assert_eq!(quota, ["spare", "spares"], "an alias and a pool");
    // Threads with their home and title; trashed ones for restore.
    let threads = ask(&env, "fish", &["cdxs", "session", "stats", "019a"]);
    assert_eq!(values(&threads), [T1], "{threads:?}");
    assert!(threads[0].contains("fix the flaky test"), "{threads:?}");
    assert_eq!(values(&ask(&env, "fish", &["cdxs", "resume", ""]))[0], T1);
    let trashed = ask(&env, "fish", &["cdxs", "session", "restore", ""]);
    assert_eq!(values(&trashed)[0], T2, "{trashed:?}");
    assert!(trashed[0].contains("(trash)"), "{trashed:?}");
    // Every shell clap's engine supports answers.
    for shell in ["bash", "zsh", "elvish", "powershell"] {
        let got = values(&ask(&env, shell, &["cdxs", "home", "path", "w"]));
        assert!(got.contains(&"work".to_string()), "{shell}: {got:?}");
    }
}

#[test]
#[cfg_attr(windows, ignore = "runs the completion script in bash")]
fn the_sourced_bash_script_completes_from_the_manifest() {
    let env = world();
    let script = stdout(&env.run(&["completions", "bash"]));
    std::fs::write(env.path("cdxs.bash"), &script).unwrap();
    let probe = format!(
        "source {}\nCOMP_WORDS=(cdxs run --home '')\nCOMP_CWORD=3\nCOMP_TYPE=9\n_clap_complete_cdxs cdxs '' --home\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        env.path("cdxs.bash").display()
    );
    let out = env
        .cdxs_process("bash")
        .args(["-c", &probe])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let shown = stdout(&out);
    let got: Vec<&str> = shown.lines().collect();
    assert_eq!(got, ["default", "work"], "{}", text(&out));
    // Every shell gets a script that calls back into cdxs.
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = env.run(&["completions", shell]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            stdout(&out).contains(&format!("COMPLETE=\"{shell}\""))
                || stdout(&out).contains(&format!("COMPLETE = \"{shell}\""))
                || stdout(&out).contains(&format!("COMPLETE={shell}")),
            "{shell}: {}",
            stdout(&out)
        );
    }
}

/// Completing reads only: no state folder, vault or home is created or written.
#[test]
fn completing_writes_nothing() {
    let env = Env::new();
    env.manifest("version: 1\nhomes:\n  work: { path: ~/codex-homes/work }\n");
    let got = values(&ask(&env, "fish", &["cdxs", "switch", ""]));
    assert!(got.iter().all(|v| v.starts_with('-')), "{got:?}");
    let _ = ask(&env, "fish", &["cdxs", "session", "stats", ""]);
    assert!(!env.state.exists(), "a completion created the state folder");
    assert!(!env.home.join("codex-homes").exists());
    assert!(!env.default_codex_home().exists());
}
