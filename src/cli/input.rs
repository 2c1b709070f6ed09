//! Reading passwords, keys and passphrases: from a flag (with a warning), standard input or a
//! prompt.

use std::io::Read;

use crate::error::{Error, Result};
use crate::output::{Printer, stdin_is_terminal};
use crate::secret::Secret;

/// Standard input, read once, handed out line by line (`--password-stdin --key-stdin`
/// reads the password from the first line and the phrase from the rest).
#[derive(Default)]
pub struct Stdin {
    lines: Option<std::collections::VecDeque<String>>,
}

impl Stdin {
    pub fn new() -> Stdin {
        Stdin::default()
    }

    fn load(&mut self) -> Result<&mut std::collections::VecDeque<String>> {
        if self.lines.is_none() {
            // Bounded: what is piped in is a password, a phrase or a key, never megabytes.
            let mut s = String::new();
            std::io::stdin()
                .take(1 << 20)
                .read_to_string(&mut s)
                .map_err(|e| Error::io("cannot read standard input", e))?;
            self.lines = Some(s.lines().map(str::to_string).collect());
        }
        Ok(self.lines.get_or_insert_with(Default::default))
    }

    /// The next line (without its line break).
    pub fn line(&mut self) -> Result<String> {
        Ok(self.load()?.pop_front().unwrap_or_default())
    }

    /// Everything left, joined by spaces.
    pub fn rest(&mut self) -> Result<String> {
        let lines = self.load()?;
        Ok(lines.drain(..).collect::<Vec<_>>().join(" "))
    }
}

/// A secret (`what`: "password", "API key"; `stdin_flag` reads it from standard input) from
/// its flag on the command line (with a warning: `ps` and the shell history show it), the
/// next line of `stdin` (when given), or a prompt without echo; `hint` says how to pipe it.
pub fn read_secret(
    (what, stdin_flag): (&str, &str),
    flag: Option<String>,
    stdin: Option<&mut Stdin>,
    printer: &Printer,
    hint: &str,
) -> Result<Secret> {
    let raw = match (flag, stdin) {
        (Some(p), _) => {
            printer.warn(format!("a {what} on the command line is visible to other users in `ps` and stays in your shell history; prefer `{stdin_flag}`"));
            p
        }
        (None, Some(stdin)) => stdin.line()?,
        (None, None) if stdin_is_terminal() => rpassword::prompt_password(format!("{what}: "))
            .map_err(|e| Error::io(format!("cannot read the {what}"), e))?,
        (None, None) => return Err(Error::user(format!("no {what} given")).with_help(hint)),
    };
    if raw.trim().is_empty() {
        return Err(Error::user(format!("the {what} is empty")));
    }
    Ok(Secret::new(raw))
}

/// A vault archive's passphrase: the first line of `file` (`--passphrase-file`) or of
/// standard input (`--passphrase-stdin`), else a prompt without echo (twice when `confirm`,
/// for a new archive). Never from argv.
pub fn read_passphrase(
    file: Option<&std::path::Path>,
    stdin: bool,
    confirm: bool,
    min_chars: usize,
) -> Result<Secret> {
    let ask = |q: &str| {
        rpassword::prompt_password(q).map_err(|e| Error::io("cannot read the passphrase", e))
    };
    let raw = match file {
        Some(path) => crate::archive::passphrase_file(path)?,
        None if stdin => Stdin::new().line()?,
        None if stdin_is_terminal() => {
            let first = ask("Passphrase: ")?;
            if confirm && ask("The same passphrase again: ")? != first {
                return Err(Error::user("the two passphrases differ").with_help("run it again"));
            }
            first
        }
        None => {
            return Err(Error::user("no passphrase given").with_help(
                "pipe it in with `--passphrase-stdin` (its first line), name a file with `--passphrase-file`, or run it on a terminal",
            ));
        }
    };
    crate::archive::check_passphrase(Secret::new(raw), min_chars)
}
