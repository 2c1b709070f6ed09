//! Questions on a terminal: a list to pick from (dialoguer's `Select`, drawn on stderr,
//! arrows or j/k to move, enter to take, esc or q to cancel). Asked only when stdin and
//! stderr are terminals; otherwise commands do what they do without one.

use std::io::IsTerminal;

use crate::error::{Error, Result};
use crate::output::Printer;

/// Whether a question can be asked: stdin and stderr are terminals.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The width a picker's rows may take on stderr's terminal.
pub fn width() -> Option<usize> {
    console::Term::stderr()
        .size_checked()
        .map(|(_, cols)| usize::from(cols).saturating_sub(4))
}

/// Let the person pick one of `rows` (`preselected` highlighted first), under `question`
/// and a `header` line. `None`: cancelled.
pub fn pick(
    p: &Printer,
    question: &str,
    header: &str,
    rows: &[String],
    preselected: usize,
) -> Result<Option<usize>> {
    let colourful = dialoguer::theme::ColorfulTheme::default();
    let plain = dialoguer::theme::SimpleTheme;
    let theme: &dyn dialoguer::theme::Theme = if p.color_stderr() { &colourful } else { &plain };
    p.ask(format!("{question}\n  {header}"));
    dialoguer::Select::with_theme(theme)
        .items(rows)
        .default(preselected.min(rows.len().saturating_sub(1)))
        .interact_on_opt(&console::Term::stderr())
        .map_err(|e| Error::user(format!("cannot ask on this terminal: {e}")))
}

/// One answer typed on the terminal (echo on); `None` at the end of input.
fn answer(input: &mut impl std::io::BufRead, prompt: &str) -> Result<Option<String>> {
    eprint!("{prompt}");
    let mut line = zeroize::Zeroizing::new(String::new());
    match input.read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => Ok(Some(line.trim().to_string())),
        Err(e) => Err(Error::io("cannot read from the terminal", e)),
    }
}

/// A recovery phrase typed word by word, echo on (`sync key --set` on a terminal): each word
/// is checked against BIP39 as it comes, a typo gets the closest words and is asked again,
/// `-` goes back one word, pasted words (a grid row, the whole phrase) fill several at once.
/// When the 24 words fail the checksum the person says which one to retype. `None`: the
/// person gave up (end of input, or no number when asked which word).
pub fn read_phrase() -> Result<Option<zeroize::Zeroizing<String>>> {
    use crate::sync::phrase::{self, WORDS, Word};
    eprintln!(
        "Type the {WORDS} words of the recovery phrase (`cdxs sync key` shows them on a machine that syncs), one at a time; each is checked as you type it. `-` goes back a word; pasting several words works too."
    );
    let mut input = std::io::stdin().lock();
    let mut words: zeroize::Zeroizing<Vec<String>> = Default::default();
    let mut retype: Option<usize> = None;
    loop {
        if words.len() == WORDS && retype.is_none() {
            let joined = zeroize::Zeroizing::new(words.join(" "));
            if crate::sync::crypto::SyncKey::from_phrase(&joined).is_ok() {
                return Ok(Some(joined));
            }
            eprintln!(
                "All {WORDS} are BIP39 words, but the phrase's checksum fails: one of them is not the word written down."
            );
            let q = format!("Which word to retype (1-{WORDS}; enter gives up)? ");
            match answer(&mut input, &q)?.map(|a| a.parse::<usize>()) {
                Some(Ok(n)) if (1..=WORDS).contains(&n) => retype = Some(n - 1),
                Some(Ok(_)) => eprintln!("  a number from 1 to {WORDS}"),
                _ => return Ok(None),
            }
            continue;
        }
        let at = retype.unwrap_or(words.len());
        let Some(typed) = answer(&mut input, &format!("word {:>2}/{WORDS}: ", at + 1))? else {
            return Ok(None);
        };
        if typed == "-" {
            retype = None;
            words.pop();
            continue;
        }
        for token in phrase::words_of(&typed) {
            let at = retype.unwrap_or(words.len());
            let w = match phrase::check(&token) {
                Word::Known(w) => {
                    if w != token {
                        eprintln!("  {token} -> {w}");
                    }
                    w
                }
                Word::Unknown(close) => {
                    eprintln!(
                        "  `{}` is not a BIP39 word; did you mean `{}`? Type word {} again.",
                        crate::text::sanitize(&token),
                        close.join("` or `"),
                        at + 1
                    );
                    break;
                }
            };
            match retype.take() {
                Some(i) => words[i] = w.to_string(),
                None if words.len() < WORDS => words.push(w.to_string()),
                None => break,
            }
        }
    }
}
