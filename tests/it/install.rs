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

/// Each shell's script registers cdxs's dynamic completer: it calls this binary back at
/// each <TAB> (what it completes is tested in completions.rs).
#[test]
fn completions_for_each_shell() {
    let env = Env::new();
    for (shell, marker) in [
        ("bash", "complete -o nospace -o bashdefault"),
        ("zsh", "#compdef cdxs"),
        ("fish", "complete --keep-order --exclusive --command cdxs"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName cdxs",
        ),
        ("elvish", "edit:completion:arg-completer[cdxs]"),
    ] {
        let out = env.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out));
        assert!(stdout(&out).contains(marker), "{shell}: {}", stdout(&out));
        // As the shell's quoting spells it: a Windows path's `\` may be doubled, twice for
        // fish (a string inside a quoted string).
        let me = std::path::absolute(cdxs_bin())
            .unwrap()
            .display()
            .to_string();
        let script = stdout(&out);
        assert!(
            [1, 2, 4]
                .iter()
                .any(|n| script.contains(&me.replace('\\', &"\\".repeat(*n)))),
            "{shell}: the script calls this binary back"
        );
    }
}
