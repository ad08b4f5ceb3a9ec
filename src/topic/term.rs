//! Terms: the leaves of a query. A term is one word or a phrase of words,
//! each matched as any of its forms (the default), as one exact form (in
//! quotes) or as a prefix (`word*`).

use super::key::{Key, head_hash};
use super::stem::{bases, stem};
use super::text::{Script, for_each_word};
use std::fmt;
use std::ops::ControlFlow;

/// How one word of a term matches the words of a document. Keys are
/// hashed once here, so matching compares integers first.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WordPattern {
    /// Any form of the word (see `stem`): same Snowball stem, or for
    /// Cyrillic a shared base followed by an ending.
    Forms {
        word: Box<str>,
        script: Script,
        stem: Key,
        bases: Vec<Key>,
    },
    /// Exactly this folded word (case and accents still fold).
    Exact { word: Key, script: Script },
    /// Any word that starts with this folded text (`head`: the key of
    /// its first letters, see `key::head_hash`).
    Prefix {
        prefix: Box<str>,
        script: Script,
        head: Option<u64>,
    },
}

impl WordPattern {
    pub fn forms(word: &str) -> WordPattern {
        WordPattern::Forms {
            word: word.into(),
            script: Script::of(word),
            stem: Key::new(&stem(word)),
            bases: bases(word).into_iter().map(Key::new).collect(),
        }
    }

    pub fn prefix(prefix: &str) -> WordPattern {
        WordPattern::Prefix {
            prefix: prefix.into(),
            script: Script::of(prefix),
            head: head_hash(prefix),
        }
    }

    pub fn exact(word: &str) -> WordPattern {
        WordPattern::Exact {
            word: Key::new(word),
            script: Script::of(word),
        }
    }
}

impl fmt::Display for WordPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WordPattern::Forms { word, .. } => f.write_str(word),
            WordPattern::Exact { word, .. } => write!(f, "\"{}\"", word.text()),
            WordPattern::Prefix { prefix, .. } => write!(f, "{prefix}*"),
        }
    }
}

/// One word, or several that must appear consecutively in one field.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    pub words: Vec<WordPattern>,
    /// What a document's key filter must hold for the term to occur.
    pub filter: FilterKeys,
}

/// The keys by which a document's key filter can rule a term, or a
/// group of terms (an alias), out without looking words up: a term may
/// occur only if its first word's script occurs and the filter has one of
/// that word's keys (stem and bases, exact form, or prefix head). Most
/// entries hold none of a topic's hundreds of alias terms, and a check of
/// all of an alias's keys in one loop says so at once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FilterKeys {
    /// Per script (see [`FilterKeys::slot`]): keys one of which the
    /// filter must have.
    keys: [Vec<u64>; 3],
    /// Per script: some term has no key to rule it out (a prefix too
    /// short for a head), so that script occurring is enough.
    open: [bool; 3],
}

impl FilterKeys {
    fn slot(script: Script) -> usize {
        match script {
            Script::Latin => 0,
            Script::Cyrillic => 1,
            Script::Other => 2,
        }
    }

    fn of(word: &WordPattern) -> FilterKeys {
        let mut out = FilterKeys::default();
        let (script, keys): (Script, Vec<u64>) = match word {
            WordPattern::Exact { word, script } => (*script, vec![word.hash()]),
            WordPattern::Prefix { script, head, .. } => (*script, head.iter().copied().collect()),
            WordPattern::Forms {
                script,
                stem,
                bases,
                ..
            } => (
                *script,
                std::iter::once(stem)
                    .chain(bases)
                    .map(|k| k.hash())
                    .collect(),
            ),
        };
        let slot = FilterKeys::slot(script);
        out.open[slot] = keys.is_empty();
        out.keys[slot] = keys;
        out
    }

    /// Whether a document with these scripts and this key filter may hold
    /// a term of these keys.
    pub fn may_occur(
        &self,
        has_script: impl Fn(Script) -> bool,
        may_contain: impl Fn(u64) -> bool,
    ) -> bool {
        (0..3).any(|slot| {
            has_script(SCRIPTS[slot])
                && (self.open[slot] || self.keys[slot].iter().any(|k| may_contain(*k)))
        })
    }
}

/// The filter keys of all the terms of an alias, each with the term it
/// belongs to (its index in the alias). One loop over them says whether
/// any of the alias's terms may occur in a document ([`AliasKeys::may_occur`])
/// and which ([`AliasKeys::candidates`]): an entry that mentions Russia
/// holds one or two of the hundred terms of `@russia`, and only those
/// need looking up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AliasKeys {
    /// Per script (see [`FilterKeys::slot`]): each key and its term, a
    /// term's keys next to each other.
    keys: [Vec<(u64, u32)>; 3],
    /// Per script: the terms with no key to rule them out.
    open: [Vec<u32>; 3],
}

impl AliasKeys {
    /// The keys of an alias's terms, in the alias's order.
    pub fn of<'a>(terms: impl IntoIterator<Item = &'a FilterKeys>) -> AliasKeys {
        let mut out = AliasKeys::default();
        for (member, term) in (0u32..).zip(terms) {
            for slot in 0..3 {
                out.keys[slot].extend(term.keys[slot].iter().map(|k| (*k, member)));
                if term.open[slot] {
                    out.open[slot].push(member);
                }
            }
        }
        out
    }

    /// Whether a document with these scripts and this key filter may hold
    /// one of the alias's terms: the first candidate ends the search.
    pub fn may_occur(
        &self,
        has_script: impl Fn(Script) -> bool,
        may_contain: impl Fn(u64) -> bool,
    ) -> bool {
        self.candidates(has_script, may_contain, |_| ControlFlow::Break(()))
            .is_break()
    }

    /// Calls `each` once with the index of every term of the alias that
    /// may occur (the others certainly do not), until it breaks.
    pub fn candidates(
        &self,
        has_script: impl Fn(Script) -> bool,
        may_contain: impl Fn(u64) -> bool,
        mut each: impl FnMut(u32) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        for slot in (0..3).filter(|slot| has_script(SCRIPTS[*slot])) {
            for member in &self.open[slot] {
                each(*member)?;
            }
            let mut last = None;
            for (key, member) in &self.keys[slot] {
                if last != Some(*member) && may_contain(*key) {
                    // A term's keys are adjacent: report it once.
                    last = Some(*member);
                    each(*member)?;
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// The scripts in the order of [`FilterKeys::slot`].
const SCRIPTS: [Script; 3] = [Script::Latin, Script::Cyrillic, Script::Other];

impl Term {
    /// A term as written outside quotes: each word matches any of its
    /// forms, and a word ending in `*` is a prefix. Several words
    /// (`xi-jinping`, or `xi jinping` in an alias list) are a phrase.
    pub fn unquoted(text: &str) -> Result<Term, String> {
        let mut words = Vec::new();
        for chunk in text.split_whitespace() {
            match chunk.strip_suffix('*') {
                // `*` makes the last word a prefix: `российско-китайск*`.
                Some(prefix) => {
                    let mut folded = super::text::words(prefix);
                    let last = folded.pop();
                    match last {
                        Some(last)
                            if !prefix.contains('*')
                                && prefix.ends_with(|c: char| c.is_alphanumeric()) =>
                        {
                            words.extend(folded.iter().map(|w| WordPattern::forms(w)));
                            words.push(WordPattern::prefix(&last));
                        }
                        _ => {
                            return Err(format!(
                                "`{chunk}`: `*` goes right after the letters of a word, e.g. `china*`"
                            ));
                        }
                    }
                }
                None if chunk.contains('*') => {
                    return Err(format!(
                        "`{chunk}`: `*` makes a prefix and goes at the end of a word, e.g. `china*`"
                    ));
                }
                None => for_each_word(chunk, |w| words.push(WordPattern::forms(w))),
            }
        }
        Term::nonempty(words, text)
    }

    /// A term as written in quotes: exact word forms.
    pub fn quoted(text: &str) -> Result<Term, String> {
        let mut words = Vec::new();
        for_each_word(text, |w| words.push(WordPattern::exact(w)));
        Term::nonempty(words, text)
    }

    /// An alias list item: quoted text is exact, anything else unquoted.
    pub fn alias_item(text: &str) -> Result<Term, String> {
        let trimmed = text.trim();
        let inner = trimmed
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .filter(|_| trimmed.len() >= 2);
        match inner {
            Some(exact) => Term::quoted(exact),
            None if trimmed.contains('"') => Err(format!(
                "`{trimmed}`: quote the whole item for an exact form, e.g. '\"си\"'"
            )),
            None => Term::unquoted(trimmed),
        }
    }

    fn nonempty(words: Vec<WordPattern>, text: &str) -> Result<Term, String> {
        match words.first() {
            Some(first) => {
                let filter = FilterKeys::of(first);
                Ok(Term { words, filter })
            }
            None => Err(format!(
                "`{text}` contains no letters or digits to search for"
            )),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.words.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquoted_terms_are_forms_prefixes_or_phrases() {
        let t = Term::unquoted("Xi-Jinping").unwrap();
        assert_eq!(t.to_string(), "xi jinping");
        assert!(matches!(&t.words[0], WordPattern::Forms { stem, .. } if stem.text() == "xi"));
        let p = Term::unquoted("Китай*").unwrap();
        assert_eq!(p.words, [WordPattern::prefix("китай")]);
        let phrase = Term::unquoted("power of sib*").unwrap();
        assert_eq!(phrase.to_string(), "power of sib*");
        let compound = Term::unquoted("Российско-китайск*").unwrap();
        assert_eq!(compound.to_string(), "российско китайск*");
        assert!(matches!(compound.words[1], WordPattern::Prefix { .. }));
    }

    #[test]
    fn quoted_terms_are_exact() {
        let t = Term::quoted("Си Цзиньпин").unwrap();
        assert_eq!(
            t.words,
            [WordPattern::exact("си"), WordPattern::exact("цзиньпин")]
        );
        assert_eq!(Term::alias_item("\"Си\"").unwrap().to_string(), "\"си\"");
        assert_eq!(Term::alias_item("xi jinping").unwrap().words.len(), 2);
    }

    #[test]
    fn bad_terms_say_why() {
        assert!(
            Term::unquoted("ch*na")
                .unwrap_err()
                .contains("end of a word")
        );
        assert!(Term::unquoted("xi-*").unwrap_err().contains("right after"));
        assert!(Term::unquoted("*").unwrap_err().contains("right after"));
        assert!(Term::unquoted("a**").unwrap_err().contains("right after"));
        assert!(Term::unquoted("---").unwrap_err().contains("no letters"));
        assert!(Term::alias_item("\"open").unwrap_err().contains("quote"));
        assert!(Term::alias_item("\"\"").unwrap_err().contains("no letters"));
    }
}
