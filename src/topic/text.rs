//! Word splitting and folding shared by queries and the text they match, so
//! that both sides always agree on what a "word" is and how it is spelled.
//!
//! Folding is Unicode case folding plus diacritic folding: `Pérez` and
//! `PEREZ` are both `perez`, `Straße` is `strasse`, `ﬁnal` is `final`.
//! Cyrillic is the exception: `й` and `ї` are letters of their own (not `и`
//! and `і` with an accent), so they stay; only `ё` folds to `е`, because
//! Russian text uses the two interchangeably.

use unicode_normalization::char::decompose_compatible;

/// Calls `each` with every folded word of `text`, in order. A word is a
/// maximal run of letters, digits and combining marks; everything else
/// separates words (`Xi-Jinping` is two words). An English possessive is
/// dropped rather than left as a stray `s` word, so `China's` is `china`.
pub fn for_each_word(text: &str, mut each: impl FnMut(&str)) {
    for_each_word_at(text, |word, _| each(word));
}

/// Like [`for_each_word`], with each word's position. Positions count
/// words, and a break between words — a comma, colon, semicolon, dash,
/// bracket or sentence end — counts as one more: in "Russia, China and
/// Iran" the countries are as far apart as in "Russia and China", while
/// "Russia-China" stays adjacent. So `NEAR/0` means truly adjacent, and a
/// list reads as a list.
pub fn for_each_word_at(text: &str, mut each: impl FnMut(&str, u32)) {
    let mut word = String::new();
    let mut position = 0u32;
    let mut pending_break = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if is_word_char(c) {
            if word.is_empty() && pending_break && position > 0 {
                position = position.saturating_add(1);
            }
            pending_break = false;
            push_folded(c, &mut word);
            continue;
        }
        let mut letters = word.chars();
        let single_letter = letters.next().is_some() && letters.next().is_none();
        if is_apostrophe(c) && !word.is_empty() {
            let mut ahead = chars.clone();
            if matches!(ahead.next(), Some('s' | 'S')) && !ahead.next().is_some_and(is_word_char) {
                chars.next(); // the `s` of `'s`
            }
        }
        if !word.is_empty() {
            each(&word, position);
            position = position.saturating_add(1);
            word.clear();
        }
        pending_break |= is_break(c, single_letter, chars.peek().copied());
    }
    if !word.is_empty() {
        each(&word, position);
    }
}

/// Whether `c` (after a word, followed by `next`) separates clauses rather
/// than words. A full stop after a one-letter word is an abbreviation
/// (`U.S.`), and one between letters is part of a name (`tass.com`).
fn is_break(c: char, after_single_letter: bool, next: Option<char>) -> bool {
    match c {
        ',' | ';' | ':' | '!' | '?' | '…' | '—' | '–' | '(' | ')' | '[' | ']' | '|' => true,
        '.' => !after_single_letter && next.is_none_or(char::is_whitespace),
        _ => false,
    }
}

/// The folded words of `text`, for callers that want them collected.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_owned()));
    out
}

/// Folds one word as [`for_each_word`] would, ignoring separators in it.
pub fn fold(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars().filter(|c| is_word_char(*c)) {
        push_folded(c, &mut out);
    }
    out
}

fn is_word_char(c: char) -> bool {
    // Fast paths for the common scripts and punctuation: the general
    // Unicode tables are a slow lookup per character.
    match c {
        _ if c.is_ascii() => c.is_ascii_alphanumeric(),
        '\u{0400}'..='\u{045f}' => true, // Russian and its neighbours' letters
        '\u{2000}'..='\u{206f}' | '\u{00a0}'..='\u{00bf}' => false, // spaces, dashes, quotes
        _ => c.is_alphanumeric() || is_mark(c),
    }
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ')
}

/// Combining marks (accents written as separate code points) stay inside
/// their word rather than splitting it; folding then drops them.
fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}' | '\u{1ab0}'..='\u{1aff}' | '\u{20d0}'..='\u{20ff}' | '\u{fe20}'..='\u{fe2f}')
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{052f}')
}

fn push_folded(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        'ё' | 'Ё' => out.push('е'),
        // The Russian alphabet by arithmetic: the general lower-casing
        // tables cost a search per letter.
        'а'..='я' => out.push(c),
        'А'..='Я' => out.push(char::from_u32(c as u32 + 0x20).unwrap_or(c)),
        // Full case folding differs from lower-casing for these.
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        c if is_cyrillic(c) => out.extend(c.to_lowercase()),
        c if is_mark(c) => {}
        // Compatibility decomposition splits accents off (é → e + ◌́) and
        // spells out ligatures and variants (ﬁ → fi, ſ → s); the marks are
        // then dropped and the rest lower-cased.
        c => decompose_compatible(c, |d| {
            if d.is_alphanumeric() && !is_mark(d) {
                for lower in d.to_lowercase() {
                    match lower {
                        'ß' => out.push_str("ss"),
                        'ς' => out.push('σ'),
                        l => out.push(l),
                    }
                }
            }
        }),
    }
}

/// The writing system of a folded word, which picks its stemmer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Script {
    Latin,
    Cyrillic,
    /// Digits only, or a script without a stemmer.
    Other,
}

impl Script {
    /// The script of the word's first letter.
    pub fn of(word: &str) -> Script {
        match word.chars().next() {
            Some(c) if c.is_ascii_alphabetic() => return Script::Latin,
            Some(c) if is_cyrillic(c) && c.is_alphabetic() => return Script::Cyrillic,
            _ => {}
        }
        match word.chars().find(|c| c.is_alphabetic()) {
            Some(c) if c.is_ascii_alphabetic() || matches!(c, '\u{00c0}'..='\u{024f}') => {
                Script::Latin
            }
            Some(c) if is_cyrillic(c) => Script::Cyrillic,
            _ => Script::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_word_boundaries_and_folds_case() {
        assert_eq!(
            words("China's Xi-Jinping, 2024!"),
            ["china", "xi", "jinping", "2024"]
        );
        assert_eq!(
            words("  Путин и Си Цзиньпин: ЁЛКА "),
            ["путин", "и", "си", "цзиньпин", "елка"]
        );
        assert!(words(" -- ").is_empty());
    }

    fn positions(text: &str) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        for_each_word_at(text, |w, p| out.push((w.to_owned(), p)));
        out
    }

    #[test]
    fn breaks_between_words_count_as_a_word_of_distance() {
        let at = |text| {
            positions(text)
                .into_iter()
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
        };
        assert_eq!(at("Russia-China ties"), [0, 1, 2]);
        assert_eq!(at("Russia, China and Iran"), [0, 2, 3, 4]);
        assert_eq!(at("Russia and China"), [0, 1, 2]);
        assert_eq!(at("Talks ended. Russia — China"), [0, 1, 3, 5]);
        // Abbreviations and dotted names do not break.
        assert_eq!(at("U.S. Offers"), [0, 1, 2]);
        assert_eq!(at("tass.com news"), [0, 1, 2]);
        // Several marks in a row are one break; a leading one is none.
        assert_eq!(at(", Russia?! China"), [0, 2]);
    }

    #[test]
    fn possessives_drop_but_other_apostrophes_split() {
        assert_eq!(
            words("Russia’s and Xi's ties"),
            ["russia", "and", "xi", "ties"]
        );
        assert_eq!(words("O'Brien's side"), ["o", "brien", "side"]);
        // An `s` that starts a longer word is not a possessive.
        assert_eq!(words("rock'sand"), ["rock", "sand"]);
    }

    #[test]
    fn folds_diacritics_ligatures_and_full_case() {
        assert_eq!(
            words("Pérez GRÜẞE ﬁnal Ångström"),
            ["perez", "grusse", "final", "angstrom"]
        );
        // Decomposed input (e + combining acute) folds the same way.
        assert_eq!(words("Pe\u{301}rez"), ["perez"]);
        assert_eq!(words("ΟΔΟΣ οδος"), ["οδοσ", "οδοσ"]);
    }

    #[test]
    fn cyrillic_letters_keep_their_identity() {
        assert_eq!(words("Китай ЙОГА Їжак"), ["китай", "йога", "їжак"]);
        assert_eq!(fold("Ёж"), "еж");
        // The arithmetic fast path agrees with Unicode lower-casing.
        for c in ('А'..='я').filter(|c| !matches!(c, 'Ё' | 'ё')) {
            assert_eq!(fold(&c.to_string()), c.to_lowercase().to_string(), "{c}");
        }
    }

    #[test]
    fn scripts() {
        assert_eq!(Script::of("china"), Script::Latin);
        assert_eq!(Script::of("perez"), Script::Latin);
        assert_eq!(Script::of("китай"), Script::Cyrillic);
        assert_eq!(Script::of("2024"), Script::Other);
        assert_eq!(Script::of("中国"), Script::Other);
    }
}
