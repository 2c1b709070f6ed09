//! What a user installs besides the binary: man pages and shell completions.

use crate::harness::*;

#[test]
fn man_pages_are_written_for_every_command() {
    let env = Env::new();
    let dir = env.path("man1");
    let out = env.run(&["man", "--dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    for page in [
        "cdxs.1",
        "cdxs-plan.1",
        "cdxs-session-trash.1",
        "cdxs-sync-push.1",
    ] {
        let roff =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(roff.contains(".TH"), "{page} is not a man page");
    }
    let main = std::fs::read_to_string(dir.join("cdxs.1")).unwrap();
    assert!(main.contains("watch"), "the main page lists the commands");
    let out = env.run(&["man"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with(".ie"), "{}", text(&out));
}

#[test]
fn completions_for_each_shell() {
    let env = Env::new();
    for (shell, marker) in [
        ("bash", "_cdxs()"),
        ("zsh", "#compdef cdxs"),
        ("fish", "complete -c cdxs"),
    ] {
        let out = env.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        assert!(stdout(&out).contains(marker), "{shell}");
        assert!(
            stdout(&out).contains("session"),
            "{shell}: subcommands complete"
        );
    }
}
