//! The sync key's recovery phrase for people: the numbered grid it is shown as, the words of
//! whatever a person pastes or types (grid numbers and all), and each typed word checked
//! against the BIP39 English list with the closest words suggested. Pure: the terminal
//! entry that uses it is `output::phrase_entry`.

use bip39::Language;

/// Words in a phrase.
pub const WORDS: usize = 24;
/// Columns of the grid (4 across, 6 down: 56 characters wide).
const COLUMNS: usize = 4;

/// The phrase as a numbered grid, numbered across each row (`1 word  2 word  3 ...`), so
/// that it is written down and typed back in order.
pub fn grid(phrase: &str) -> String {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    let mut out = String::new();
    for (row, chunk) in words.chunks(COLUMNS).enumerate() {
        let cells: Vec<String> = chunk
            .iter()
            .enumerate()
            .map(|(col, w)| format!("{:>2} {w:<8}", row * COLUMNS + col + 1))
            .collect();
        out.push_str(cells.join("   ").trim_end());
        out.push('\n');
    }
    out
}

/// The words of pasted or typed text: the grid's numbers (`7`, `7.`, `7)`) and any case
/// are accepted, so a phrase copied from [`grid`] reads back.
pub fn words_of(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|t| {
            !t.trim_end_matches(['.', ')', ':'])
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .map(str::to_lowercase)
        .collect()
}

/// What one typed word is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Word {
    /// A BIP39 word: the word itself, or the one word its first four or more letters start
    /// (BIP39 words are told apart by their first four letters).
    Known(&'static str),
    /// Not a BIP39 word: the closest ones (fewest edits; at most three).
    Unknown(Vec<&'static str>),
}

pub fn check(typed: &str) -> Word {
    let typed = typed.trim().to_lowercase();
    let lang = Language::English;
    if let Some(i) = lang.find_word(&typed) {
        return Word::Known(lang.word_list()[usize::from(i)]);
    }
    if typed.chars().count() >= 4 {
        let mut starting = lang.words_by_prefix_iter(&typed);
        if let (Some(only), None) = (starting.next(), starting.next()) {
            return Word::Known(only);
        }
    }
    let distance = |w: &str| strsim::damerau_levenshtein(&typed, w);
    let best = lang.word_list().iter().map(|w| distance(w)).min();
    let closest = lang
        .word_list()
        .iter()
        .filter(|w| Some(distance(w)) == best)
        .take(3)
        .copied()
        .collect();
    Word::Unknown(closest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::crypto::SyncKey;

    #[test]
    fn the_grid_numbers_24_words_in_6_rows_of_4_and_reads_back() {
        let k = SyncKey::generate();
        let phrase = k.phrase();
        let g = grid(phrase.expose());
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines.len(), 6, "{g}");
        assert!(lines[0].starts_with(" 1 "), "{g}");
        assert!(lines[5].contains("24 "), "{g}");
        assert!(lines.iter().all(|l| l.chars().count() <= 56), "{g}");
        let back = words_of(&g).join(" ");
        assert_eq!(back, phrase.expose());
        let k2 = SyncKey::from_phrase(&back).unwrap();
        assert_eq!(k2.key_id(), k.key_id());
    }

    #[test]
    fn a_typo_gets_the_closest_bip39_words_and_a_prefix_completes() {
        assert_eq!(check("Ability"), Word::Known("ability"));
        assert_eq!(check("abil"), Word::Known("ability"));
        assert_eq!(check("abilty"), Word::Unknown(vec!["ability"]));
        assert_eq!(check("zooo"), Word::Unknown(vec!["zoo"]));
        assert_eq!(check("zon"), Word::Unknown(vec!["zone", "zoo"]));
        // Too short to be a prefix of one word only.
        assert!(matches!(check("ab"), Word::Unknown(_)));
        assert_eq!(
            words_of("1. abandon 2) ability\n 3 able"),
            ["abandon", "ability", "able"]
        );
    }
}
