//! Word forms: when two folded words count as the same word.
//!
//! Each word is reduced by the Snowball stemmer of its script (English for
//! Latin, Russian for Cyrillic), so `talks` matches `talk` and `переговоров`
//! matches `переговоры`. Snowball's Russian stemmer mistakes the last
//! letters of many nominatives for endings (`визит` → `виз` but `визита` →
//! `визит`; `Китай` → `кита` but `Китая` → `кит`; `Лавров` → `лавр` but
//! `Лаврова` → `лавров`), so Cyrillic words also match when both are one
//! shared base of at least [`MIN_BASE`] letters followed by a noun or
//! adjective ending (see [`bases`]).

use super::key::{TextBuild, hash_str};
use super::text::Script;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));
static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));

/// Distinct words whose stems are remembered. News vocabulary repeats a
/// lot, and Snowball is the costliest step of indexing an entry; past this
/// many the memory is simply dropped and refilled.
const STEM_CACHE_WORDS: usize = 100_000;

/// word → (stem, hash of the stem), shared by all threads: feeds are
/// rendered on short-lived blocking threads, whose own caches would start
/// cold every time.
static STEMS: LazyLock<RwLock<StemCache>> = LazyLock::new(|| RwLock::new(HashMap::default()));

type StemCache = HashMap<Box<str>, (Box<str>, u64), TextBuild>;

fn snowball(word: &str) -> Box<str> {
    match Script::of(word) {
        Script::Latin => ENGLISH.stem(word).into(),
        Script::Cyrillic => RUSSIAN.stem(word).into(),
        Script::Other => word.into(),
    }
}

/// Runs `f` on the cached stem of `word` and its hash.
pub fn with_stem<T>(word: &str, f: impl FnOnce(&str, u64) -> T) -> T {
    {
        let cache = STEMS.read().unwrap_or_else(|p| p.into_inner());
        if let Some((stem, hash)) = cache.get(word) {
            return f(stem, *hash);
        }
    }
    let stem = snowball(word);
    let hash = hash_str(&stem);
    let out = f(&stem, hash);
    let mut cache = STEMS.write().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= STEM_CACHE_WORDS {
        cache.clear();
    }
    cache.insert(word.into(), (stem, hash));
    out
}

/// The Snowball stem of a folded word; words of other scripts (and
/// numbers) are their own stem.
pub fn stem(word: &str) -> Box<str> {
    with_stem(word, |stem, _| stem.into())
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

/// The endings as integers, sorted: an ending is at most four Cyrillic
/// letters (eight bytes), so it packs into a `u64` and is found by integer
/// comparisons — this check runs for every base of every Russian word.
static PACKED_ENDINGS: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut packed: Vec<u64> = RUSSIAN_ENDINGS.iter().filter_map(|e| pack(e)).collect();
    packed.sort_unstable();
    packed
});

fn pack(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    if bytes.len() > 8 {
        return None;
    }
    let mut buf = [0u8; 8];
    buf[..bytes.len()].copy_from_slice(bytes);
    Some(u64::from_be_bytes(buf))
}

/// Whether `rest` is empty or one Russian noun/adjective ending.
pub fn is_russian_ending(rest: &str) -> bool {
    rest.is_empty() || pack(rest).is_some_and(|p| PACKED_ENDINGS.binary_search(&p).is_ok())
}

/// The bases a Cyrillic word can be split into: itself, and itself without
/// each ending it ends in, keeping at least [`MIN_BASE`] letters. Two
/// Cyrillic words are forms of one word when they share a base:
/// `китай` → `китай`, `кита`; `китая` → `китая`, `кита`, `кит`.
/// Other scripts have none.
pub fn for_each_base<'w>(word: &'w str, mut each: impl FnMut(&'w str)) {
    if Script::of(word) != Script::Cyrillic {
        return;
    }
    let letters = word.chars().count();
    if letters >= MIN_BASE {
        each(word);
    }
    // Endings are at most four letters long.
    for (cut, (at, _)) in word.char_indices().rev().take(4).enumerate() {
        if letters - (cut + 1) < MIN_BASE {
            break;
        }
        if is_russian_ending(&word[at..]) {
            each(&word[..at]);
        }
    }
}

/// [`for_each_base`], collected.
pub fn bases(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for_each_base(word, |b| out.push(b));
    out
}

/// Whether two folded words are forms of one word by the rules above.
pub fn same_word(a: &str, b: &str) -> bool {
    a == b || stem(a) == stem(b) || {
        let theirs = bases(b);
        bases(a).iter().any(|base| theirs.contains(base))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_are_distinct_and_short_enough_to_pack() {
        assert!(RUSSIAN_ENDINGS.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(PACKED_ENDINGS.len(), RUSSIAN_ENDINGS.len());
        assert!(RUSSIAN_ENDINGS.iter().all(|e| is_russian_ending(e)));
        assert!(!is_russian_ending("ость") && !is_russian_ending("x"));
        assert!(!is_russian_ending("ыйыйый"));
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
    fn bases_of_words() {
        assert_eq!(bases("китай"), ["китай", "кита"]);
        assert_eq!(bases("китая"), ["китая", "кита", "кит"]);
        assert_eq!(bases("россия"), ["россия", "росси", "росс"]);
        assert!(bases("china").is_empty());
        assert!(bases("си").is_empty());
    }

    #[test]
    fn stems_are_cached_and_stay_right() {
        assert_eq!(&*stem("переговоров"), "переговор");
        assert_eq!(&*stem("переговоров"), "переговор");
        assert_eq!(&*stem("relations"), "relat");
        assert_eq!(&*stem("2024"), "2024");
    }
}
