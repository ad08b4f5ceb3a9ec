//! Word normalization shared by queries and the text they match, so that
//! both sides always agree on what a "word" is.

/// Splits `text` into lower-cased words. A word is a maximal run of Unicode
/// letters, digits and marks; everything else (spaces, punctuation,
/// apostrophes, hyphens) separates words, so `China's` yields `china`, `s`.
/// `ё` is folded to `е`, as Russian text uses the two interchangeably.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || is_mark(c) {
            for lower in c.to_lowercase() {
                current.push(if lower == 'ё' { 'е' } else { lower });
            }
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Combining marks (accents written as separate code points) stay inside
/// their word rather than splitting it.
fn is_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}' | '\u{1ab0}'..='\u{1aff}' | '\u{20d0}'..='\u{20ff}')
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn splits_on_word_boundaries_and_folds_case() {
        assert_eq!(
            words("China's Xi-Jinping, 2024!"),
            ["china", "s", "xi", "jinping", "2024"]
        );
        assert_eq!(
            words("  Путин и Си Цзиньпин: ЁЛКА "),
            ["путин", "и", "си", "цзиньпин", "елка"]
        );
        assert!(words(" -- ").is_empty());
    }
}
