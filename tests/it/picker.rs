//! `cdxs switch` with no account on a terminal opens a picker (issue 21): every account
//! with its plan, quota bars and where cdxs.yaml binds it, the best one preselected. Run on
//! a pseudo-terminal (util-linux `script`), keys typed into it. Without a terminal, switch
//! keeps picking the most quota left by itself.

use serde_json::json;

use crate::harness::*;
use crate::mock_openai::{MockAccount, MockOpenAi};

fn world() -> (Env, MockOpenAi) {
    let mock = MockOpenAi::start();
    let env = Env::new();
    env.set_env("CDXS_AUTH_BASE_URL", &mock.auth_base());
    env.set_env("CDXS_CHATGPT_BASE_URL", &mock.chatgpt_base());
    let now = env.now.timestamp();
    for (email, acct, week_used) in [
        ("ann@example.com", "acct-ann", 80.0),
        ("dan@example.com", "acct-dan", 20.0),
    ] {
        let mut m = MockAccount::new(email, acct);
        m.usage = Some(json!({"plan_type": "plus", "rate_limit": {
            "primary_window": {"used_percent": 10.0, "reset_after_seconds": 600},
            "secondary_window": {"used_percent": week_used, "reset_after_seconds": 86_400}}}));
        mock.add(m);
        let mut login = Login::new(email, acct);
        login.iat = now;
        login.exp = now + 86_400;
        env.import_login(&login);
    }
    env.manifest(
        "version: 1\naccounts:\n  ann: { email: ann@example.com }\n  dan: { email: dan@example.com }\nhomes:\n  default: { path: ~/.codex, account: ann }\n",
    );
    assert!(env.run(&["apply", "--yes"]).status.success());
    (env, mock)
}

/// `cdxs switch` on a pseudo-terminal, `keys` typed.
fn switch_on_a_terminal(env: &Env, keys: &str) -> std::process::Output {
    env.cdxs_process("script")
        .args([
            "-qec",
            &format!("{} switch", cdxs_bin().display()),
            "/dev/null",
        ])
        .env("COLUMNS", "100")
        .write_stdin(keys.to_string())
        .output()
        .unwrap()
}

fn bound(env: &Env) -> String {
    let text = env.manifest_text();
    let line = text.lines().find(|l| l.contains("default:")).unwrap();
    line.split("account: ")
        .nth(1)
        .unwrap()
        .trim_end_matches(" }")
        .to_string()
}

#[test]
#[cfg_attr(
    cdxs_no_script,
    ignore = "util-linux `script` (a terminal for the picker) is not installed"
)]
fn switch_on_a_terminal_picks_from_a_list_with_the_best_preselected() {
    let (env, _mock) = world();
    // Enter takes the preselected one: dan, with 80% of the week left (ann has 20%).
    let out = switch_on_a_terminal(&env, "\r");
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(code(&out), 0, "{shown}");
    for want in [
        "Switch `~/.codex` to",
        "ACCOUNT",
        "5H LEFT",
        "ann (ann@example.com)",
        "dan (dan@example.com)",
        "█",
        " 20%",
        " 80%",
        "default",
    ] {
        assert!(shown.contains(want), "missing {want:?} in {shown}");
    }
    assert_eq!(bound(&env), "dan", "{shown}");
    assert!(shown.contains("home `default` now uses dan"), "{shown}");
    // `j` moves down (wrapping round to ann), and enter takes it.
    let out = switch_on_a_terminal(&env, "j\r");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(bound(&env), "ann");
    // Esc or q cancels: nothing changes.
    let before = env.manifest_text();
    let out = switch_on_a_terminal(&env, "q");
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("switch cancelled"));
    assert_eq!(env.manifest_text(), before);
}

#[test]
fn switch_without_a_terminal_takes_the_best_by_itself() {
    let (env, _mock) = world();
    let out = env.run(&["switch"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(bound(&env), "dan");
    assert!(!stderr(&out).contains("ACCOUNT"), "{}", text(&out));
}
