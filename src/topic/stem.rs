//! Word forms: when two folded words count as the same word.
//!
//! Each word is reduced by the Snowball stemmer of its script (English for
//! Latin, Russian for Cyrillic), so `talks` matches `talk` and `переговоров`
//! matches `переговоры`. Snowball's Russian stemmer mistakes the last
//! letters of many nominatives for endings (`визит` → `виз` but `визита` →
//! `визит`; `Китай` → `кита` but `Китая` → `кит`; `Лавров` → `лавр` but
//! `Лаврова` → `лавров`), so Cyrillic words also match when both are one
//! shared base of at least [`MIN_BASE`] letters followed by a noun or
//! adjective ending ([`RussianBases`]).

use super::text::Script;
use rust_stemmers::{Algorithm, Stemmer};
use std::borrow::Cow;
use std::sync::LazyLock;

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));
static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));

/// The Snowball stem of a folded word; words of other scripts (and
/// numbers) are their own stem.
pub fn stem(word: &str) -> Cow<'_, str> {
    match Script::of(word) {
        Script::Latin => ENGLISH.stem(word),
        Script::Cyrillic => RUSSIAN.stem(word),
        Script::Other => Cow::Borrowed(word),
    }
}

/// The shortest base the ending rule accepts: shorter bases would make
/// unrelated short words meet (`си` and `сия`).
pub const MIN_BASE: usize = 3;

/// Russian noun and adjective endings (Snowball's lists, without its verb
/// and participle endings): what may follow a shared base. Sorted, for
/// binary search.
const RUSSIAN_ENDINGS: &[&str] = &[
    "а", "ам", "ами", "ах", "ая", "е", "ев", "его", "ее", "еи", "ей", "ем", "ему", "ею", "и", "ие",
    "ией", "ием", "ии", "ий", "ими", "их", "ию", "ия", "иям", "иями", "иях", "й", "о", "ов", "ого",
    "ое", "ой", "ом", "ому", "ою", "у", "ую", "ы", "ые", "ый", "ым", "ыми", "ых", "ь", "ье", "ью",
    "ья", "ю", "юю", "я", "ям", "ями", "ях", "яя",
];

/// Whether `rest` is empty or one Russian noun/adjective ending.
pub fn is_russian_ending(rest: &str) -> bool {
    rest.is_empty() || RUSSIAN_ENDINGS.binary_search(&rest).is_ok()
}

/// The bases a Cyrillic query word can be split into: itself, and itself
/// without each ending it ends in, keeping at least [`MIN_BASE`] letters.
/// `китай` → `китай`, `кита`; `россия` → `россия`, `росси`, `росс`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RussianBases(Vec<Box<str>>);

impl RussianBases {
    pub fn of(word: &str) -> RussianBases {
        let mut bases = Vec::new();
        if Script::of(word) != Script::Cyrillic {
            return RussianBases(bases);
        }
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        // Endings are at most four letters long.
        for cut in (chars.len().saturating_sub(4)..=chars.len()).rev() {
            if cut < MIN_BASE {
                break;
            }
            let at = chars.get(cut).map_or(word.len(), |(i, _)| *i);
            if is_russian_ending(&word[at..]) {
                bases.push(Box::from(&word[..at]));
            }
        }
        RussianBases(bases)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|b| &**b)
    }

    /// Whether `other` is one of the bases followed by an ending.
    pub fn accepts(&self, other: &str) -> bool {
        self.iter()
            .any(|base| other.strip_prefix(base).is_some_and(is_russian_ending))
    }
}

/// Whether two folded words are forms of one word by the rules above.
pub fn same_word(a: &str, b: &str) -> bool {
    a == b || stem(a) == stem(b) || RussianBases::of(a).accepts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_are_sorted_for_binary_search() {
        assert!(RUSSIAN_ENDINGS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn english_forms() {
        for (a, b) in [
            ("china", "china"),
            ("talks", "talk"),
            ("relations", "relation"),
            ("russians", "russian"),
            ("sanctioned", "sanctions"),
            ("countries", "country"),
        ] {
            assert!(same_word(a, b), "{a} ~ {b}");
        }
        assert!(!same_word("china", "chinese"));
        assert!(!same_word("russia", "prussia"));
    }

    #[test]
    fn russian_case_forms_of_names_and_nouns() {
        let paradigms: &[&[&str]] = &[
            &["китай", "китая", "китаю", "китаем", "китае"],
            &["россия", "россии", "россию", "россией"],
            &["москва", "москвы", "москве", "москву", "москвой"],
            &["кремль", "кремля", "кремлю", "кремлем"],
            &["путин", "путина", "путину", "путиным", "путине"],
            &["лавров", "лаврова", "лаврову", "лавровым", "лаврове"],
            &["пекин", "пекина", "пекину", "пекином", "пекине"],
            &["визит", "визита", "визиту", "визитом", "визиты", "визитов"],
            &["газпром", "газпрома", "газпрому", "газпромом"],
            &["переговоры", "переговоров", "переговорах", "переговорами"],
            &[
                "сотрудничество",
                "сотрудничества",
                "сотрудничеству",
                "сотрудничестве",
            ],
            &[
                "китайский",
                "китайская",
                "китайского",
                "китайскими",
                "китайских",
            ],
        ];
        for forms in paradigms {
            for a in *forms {
                for b in *forms {
                    assert!(same_word(a, b), "{a} ~ {b}");
                }
            }
        }
    }

    #[test]
    fn russian_words_that_only_look_alike_stay_apart() {
        for (a, b) in [
            ("китай", "китайский"),
            ("китай", "кит"),
            ("китай", "киты"),
            ("россия", "российский"),
            ("москва", "москвич"),
            ("газ", "газета"),
            ("путин", "путинский"),
        ] {
            assert!(!same_word(a, b), "{a} !~ {b}");
        }
    }

    #[test]
    fn bases() {
        let b = RussianBases::of("китай");
        assert_eq!(b.iter().collect::<Vec<_>>(), ["китай", "кита"]);
        assert_eq!(
            RussianBases::of("россия").iter().collect::<Vec<_>>(),
            ["россия", "росси", "росс"]
        );
        assert!(RussianBases::of("china").iter().next().is_none());
        assert!(RussianBases::of("си").iter().next().is_none());
    }
}
