//! Sketches: a small fixed-size fingerprint of an entry's text, from which
//! the similarity of two entries can be estimated without their text.
//!
//! The text is the title plus the first [`LEDE_WORDS`] words of the summary
//! (the lede: wire copies keep it, while summaries' tails are where feeds
//! put boilerplate). It is reduced to *content words*: Unicode-folded,
//! lower-cased, without stop words, month names and bare numbers (a
//! republished story carries a new dateline), then cut into character
//! 4-grams, which survive inflection (Russian) and small edits. A
//! [`Sketch`] keeps:
//! - a 64-value MinHash of those 4-grams: the fraction of equal values
//!   estimates their Jaccard similarity, and pairs of values form the 32
//!   LSH bands the store indexes candidates by ([`Sketch::bands`]);
//! - the title's own 4-grams (bottom-64), to check that headlines overlap;
//! - the numbers in the title, whether the title is a template, and how
//!   many content words there were.
//!
//! Every hash here is fixed (FNV-1a and SplitMix64 with constant seeds):
//! sketches are stored, so they must compare equal across releases.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Summary words (after dropping stop words) that join the title.
pub const LEDE_WORDS: usize = 30;
/// The HTML of a summary read for its lede (plenty for 30 words, even
/// with markup).
const LEDE_BYTES: usize = 4096;
/// MinHash values per sketch.
pub const MINHASH_LEN: usize = 64;
/// LSH bands: `MINHASH_LEN / BAND_ROWS` of them.
pub const BAND_ROWS: usize = 2;
/// Title 4-grams kept (the smallest hashes).
const TITLE_GRAMS: usize = 64;
const GRAM: usize = 4;

/// The fingerprint of one entry's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sketch {
    /// MinHash of the title + lede 4-grams.
    pub minhash: Vec<u32>,
    /// The smallest hashes of the title's 4-grams, ascending.
    pub title: Vec<u32>,
    /// Hashes of the numbers in the title ("354 new cases"), ascending.
    pub numbers: Vec<u32>,
    /// The title is a recurring slot ("Live updates", "Опрос дня").
    pub template: bool,
    /// Content words in title + lede.
    pub words: u16,
}

impl Sketch {
    /// Sketches a title and an HTML summary (or content).
    pub fn of(title: &str, body_html: Option<&str>) -> Sketch {
        // The content words joined by spaces, written straight into one
        // string each (no string per word).
        let mut title_text = String::with_capacity(title.len());
        let mut title_words = 0usize;
        for_each_content_word(title, |w| {
            join(&mut title_text, &mut title_words, w);
            true
        });
        let mut all = title_text.clone();
        let mut all_words = title_words;
        // Only the lede counts: convert no more of a long body than it
        // needs.
        if let Some(html) = body_html {
            let body = crate::normalize::text::html_to_text(prefix(html, LEDE_BYTES));
            let mut lede = 0;
            for_each_content_word(&body, |w| {
                join(&mut all, &mut all_words, w);
                lede += 1;
                lede < LEDE_WORDS
            });
        }
        let mut title_grams: Vec<u32> = grams(&title_text)
            .map(|g| mix(g, TITLE_SEED) as u32)
            .collect();
        title_grams.sort_unstable();
        title_grams.dedup();
        title_grams.truncate(TITLE_GRAMS);
        Sketch {
            minhash: minhash(&all),
            title: title_grams,
            numbers: title_numbers(title),
            template: is_template_title(title),
            words: u16::try_from(all_words).unwrap_or(u16::MAX),
        }
    }

    /// Estimated Jaccard similarity of the two texts' 4-grams.
    pub fn similarity(&self, other: &Sketch) -> f32 {
        let n = self.minhash.len().min(other.minhash.len());
        if n == 0 {
            return 0.0;
        }
        let equal = self
            .minhash
            .iter()
            .zip(&other.minhash)
            .filter(|(a, b)| a == b)
            .count();
        equal as f32 / n as f32
    }

    /// Estimated Jaccard similarity of the two titles' 4-grams (exact for
    /// titles of up to 64 of them, the usual case).
    pub fn title_similarity(&self, other: &Sketch) -> f32 {
        // Bottom-k estimator: among the k smallest hashes of the union,
        // the share present in both.
        let k = TITLE_GRAMS.min(self.title.len().max(other.title.len()));
        if k == 0 {
            return 0.0;
        }
        let (mut i, mut j, mut taken, mut both) = (0, 0, 0, 0);
        while taken < k && (i < self.title.len() || j < other.title.len()) {
            let a = self.title.get(i);
            let b = other.title.get(j);
            match (a, b) {
                (Some(x), Some(y)) if x == y => {
                    both += 1;
                    i += 1;
                    j += 1;
                }
                (Some(x), Some(y)) if x < y => i += 1,
                (Some(_), None) => i += 1,
                _ => j += 1,
            }
            taken += 1;
        }
        both as f32 / taken as f32
    }

    /// Whether both titles state numbers and neither's are all in the
    /// other's ("354 new cases, 8 in the community" and "481 new cases, 5
    /// in the community" are two days' reports; a rewritten headline drops
    /// numbers but does not change them).
    pub fn numbers_conflict(&self, other: &Sketch) -> bool {
        let within = |a: &[u32], b: &[u32]| a.iter().all(|n| b.contains(n));
        !self.numbers.is_empty()
            && !other.numbers.is_empty()
            && !within(&self.numbers, &other.numbers)
            && !within(&other.numbers, &self.numbers)
    }

    /// The LSH band keys: two sketches share a band with probability
    /// `s²` per band for similarity `s`, so pairs above ~0.4 almost surely
    /// share at least one of the 32, unrelated pairs rarely do.
    pub fn bands(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        self.minhash
            .chunks_exact(BAND_ROWS)
            .enumerate()
            .map(|(band, rows)| {
                let mut h = FNV_OFFSET ^ band as u64;
                for r in rows {
                    h = fnv_step(h, &r.to_le_bytes());
                }
                (band as u8, mix(h, BAND_SEED))
            })
    }
}

/// Words of `text`: NFKC, lower case, `ё` as `е`, invisible characters
/// (zero-width spaces and joiners, soft hyphens) dropped, split at anything
/// that is not a letter or digit.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    let mut chars = Folded::of(text);
    std::iter::from_fn(move || {
        let mut word = String::new();
        for c in chars.by_ref() {
            if !fold_into(&mut word, c) {
                return Some(word);
            }
        }
        (!word.is_empty()).then_some(word)
    })
}

type Lowered<I> = std::iter::FlatMap<I, std::char::ToLowercase, fn(char) -> std::char::ToLowercase>;

/// The characters of a text in NFKC and lower case, which [`words`] and
/// [`for_each_word`] split. NFKC is skipped where it changes nothing:
/// ASCII, the common case, and text the quick check passes.
enum Folded<'a> {
    Ascii(std::str::Chars<'a>),
    Normal(Lowered<std::str::Chars<'a>>),
    Normalized(Lowered<unicode_normalization::Recompositions<std::str::Chars<'a>>>),
}

impl<'a> Folded<'a> {
    fn of(text: &'a str) -> Folded<'a> {
        let lower: fn(char) -> std::char::ToLowercase = char::to_lowercase;
        if text.is_ascii() {
            Folded::Ascii(text.chars())
        } else if is_nfkc(text) {
            Folded::Normal(text.chars().flat_map(lower))
        } else {
            Folded::Normalized(text.nfkc().flat_map(lower))
        }
    }
}

impl Iterator for Folded<'_> {
    type Item = char;

    #[inline]
    fn next(&mut self) -> Option<char> {
        match self {
            Folded::Ascii(chars) => chars.next().map(|c| c.to_ascii_lowercase()),
            Folded::Normal(chars) => chars.next(),
            Folded::Normalized(chars) => chars.next(),
        }
    }
}

/// Whether `text` is already in NFKC by the standard's quick check (a
/// table lookup per character): Cyrillic and most accented Latin text is,
/// and normalizing it anyway (decompose, reorder, recompose) was a third
/// of sketching such an entry. "Maybe" counts as no.
fn is_nfkc(text: &str) -> bool {
    unicode_normalization::is_nfkc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes
}

/// Adds folded character `c` to `word`; `false` when `c` ends a nonempty
/// word (the rule of [`words`]).
#[inline]
fn fold_into(word: &mut String, c: char) -> bool {
    match c {
        'ё' => word.push('е'),
        '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => {}
        c if c.is_alphanumeric() => word.push(c),
        _ if word.is_empty() => {}
        _ => return false,
    }
    true
}

/// Calls `each` with every word [`words`] yields, in order, from one
/// reused buffer, until it returns `false`.
fn for_each_word(text: &str, mut each: impl FnMut(&str) -> bool) {
    let mut word = String::new();
    let mut feed = |c: char, word: &mut String| -> bool {
        if fold_into(word, c) {
            return true;
        }
        let go_on = each(word);
        word.clear();
        go_on
    };
    let finished = Folded::of(text).all(|c| feed(c, &mut word));
    if finished && !word.is_empty() {
        each(&word);
    }
}

/// Appends `w` to a space-separated list of `n` words.
fn join(list: &mut String, n: &mut usize, w: &str) {
    if *n > 0 {
        list.push(' ');
    }
    list.push_str(w);
    *n += 1;
}

/// The longest prefix of `text` of at most `max` bytes, cut at a character.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The words that carry a story: no stop words, month names, bare numbers
/// or single letters.
pub fn content_words(text: &str) -> Vec<String> {
    content_word_iter(text).collect()
}

fn content_word_iter(text: &str) -> impl Iterator<Item = String> + '_ {
    words(text).filter(|w| is_content_word(w))
}

/// Calls `each` with every content word of `text` until it returns `false`.
fn for_each_content_word(text: &str, mut each: impl FnMut(&str) -> bool) {
    for_each_word(text, |w| !is_content_word(w) || each(w));
}

fn is_content_word(w: &str) -> bool {
    w.chars().nth(1).is_some()
        && !w.chars().all(|c| c.is_ascii_digit())
        && !STOP_WORD_SET.contains(w)
}

static STOP_WORD_SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
    std::sync::LazyLock::new(|| STOP_WORDS.iter().copied().collect());

/// Recurring-slot titles: the same words head a new story every day, so
/// they say nothing about which story this is. Matched as whole words
/// anywhere in the title. (A feed may have others: those are caught by
/// the store noticing the same text under several of the feed's ids.)
pub const TEMPLATE_PHRASES: &[&str] = &[
    "live",
    "live updates",
    "live blog",
    "as it happened",
    "morning briefing",
    "evening briefing",
    "daily briefing",
    "news briefing",
    "morning update",
    "evening update",
    "daily update",
    "top stories",
    "must reads",
    "top reads",
    "today s headlines",
    "newsletter",
    "podcast",
    "опрос дня",
    "главное за день",
    "главное за неделю",
    "главное к утру",
    "новости дня",
    "утренний брифинг",
    "вечерний брифинг",
    "прямой эфир",
    "онлайн",
    "что известно к этому часу",
];

pub fn is_template_title(title: &str) -> bool {
    static PHRASES: std::sync::LazyLock<Vec<Vec<&'static str>>> = std::sync::LazyLock::new(|| {
        TEMPLATE_PHRASES
            .iter()
            .map(|p| p.split(' ').collect())
            .collect()
    });
    let title: Vec<String> = words(title).collect();
    PHRASES.iter().any(|phrase| {
        title
            .windows(phrase.len())
            .any(|w| w.iter().zip(phrase).all(|(a, b)| a == b))
    })
}

/// Numbers written in a title, separators dropped ("7,800" → "7800").
/// Digits glued to a word ("COVID-19", "G7", "$52k", "5G") are names or
/// units, not counts, and years (1900–2099) date a story rather than
/// tell it apart: a print edition drops "in 2020".
fn title_numbers(title: &str) -> Vec<u32> {
    let chars: Vec<char> = title.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let glued = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '-');
        let mut digits = String::new();
        while i < chars.len() {
            let c = chars[i];
            let separator =
                matches!(c, ',' | '.') && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit());
            if c.is_ascii_digit() {
                digits.push(c);
            } else if !separator {
                break;
            }
            i += 1;
        }
        let unit = chars.get(i).is_some_and(|c| c.is_alphabetic());
        let year = digits.len() == 4 && (digits.starts_with("19") || digits.starts_with("20"));
        if !glued && !unit && !year {
            out.push(fnv(digits.as_bytes()) as u32);
        }
    }
    out.sort_unstable();
    out.dedup();
    out.truncate(8);
    out
}

/// The 4-grams of `text` (by characters), hashed; the whole text when it
/// is shorter.
fn grams(text: &str) -> impl Iterator<Item = u64> + '_ {
    let bounds: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()))
        .collect();
    let count = bounds.len().saturating_sub(GRAM);
    let whole = (count == 0 && !text.is_empty()).then(|| fnv(text.as_bytes()));
    (0..count)
        .map(move |i| fnv(&text.as_bytes()[bounds[i]..bounds[i + GRAM]]))
        .chain(whole)
}

fn minhash(text: &str) -> Vec<u32> {
    let mut grams: Vec<u64> = grams(text).collect();
    // A repeated 4-gram cannot lower a minimum twice.
    grams.sort_unstable();
    grams.dedup();
    let mut mins = [u64::MAX; MINHASH_LEN];
    fold_grams(&grams, &mut mins);
    // An empty text gets a sketch equal to no other text's.
    mins.into_iter().map(|m| (m >> 32) as u32).collect()
}

/// Lowers each of `mins` to the smallest of its hash function over
/// `grams`: 64 multiplications-heavy hashes per 4-gram, the bulk of
/// sketching. With AVX-512 they run eight at a time (same arithmetic,
/// same results, about five times faster); without it, one by one.
fn fold_grams(grams: &[u64], mins: &mut [u64; MINHASH_LEN]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        // SAFETY: the CPU supports the features `fold_grams_avx512` is
        // compiled for (checked just above).
        unsafe { fold_grams_avx512(grams, mins) };
        return;
    }
    fold_grams_portable(grams, mins);
}

#[inline(always)]
fn fold_grams_portable(grams: &[u64], mins: &mut [u64; MINHASH_LEN]) {
    for &g in grams {
        for (slot, seed) in mins.iter_mut().zip(SEEDS.iter()) {
            *slot = (*slot).min(mix(g, *seed));
        }
    }
}

/// [`fold_grams_portable`] compiled with AVX-512 (64-bit lane multiplies
/// and unsigned minimums), which the compiler vectorizes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq")]
fn fold_grams_avx512(grams: &[u64], mins: &mut [u64; MINHASH_LEN]) {
    fold_grams_portable(grams, mins);
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv_step(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn fnv(bytes: &[u8]) -> u64 {
    fnv_step(FNV_OFFSET, bytes)
}

/// SplitMix64's finalizer over `x ^ seed`: one independent-looking hash
/// function per seed.
#[inline(always)]
fn mix(x: u64, seed: u64) -> u64 {
    let mut z = x ^ seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const TITLE_SEED: u64 = 0x7469_746c_6573_6565;
const BAND_SEED: u64 = 0x6261_6e64_7365_6564;

/// One seed per MinHash value: the SplitMix64 sequence from 1.
static SEEDS: [u64; MINHASH_LEN] = {
    let mut seeds = [0u64; MINHASH_LEN];
    let mut state: u64 = 1;
    let mut i = 0;
    while i < MINHASH_LEN {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        seeds[i] = z ^ (z >> 31);
        i += 1;
    }
    seeds
};

/// English and Russian function words, and month names (datelines).
static STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "also",
    "am",
    "an",
    "and",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "for",
    "from",
    "had",
    "has",
    "have",
    "he",
    "her",
    "his",
    "i",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "may",
    "might",
    "more",
    "most",
    "must",
    "new",
    "no",
    "not",
    "of",
    "off",
    "on",
    "or",
    "our",
    "out",
    "over",
    "pm",
    "s",
    "said",
    "say",
    "says",
    "she",
    "should",
    "so",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "then",
    "these",
    "they",
    "this",
    "those",
    "to",
    "up",
    "very",
    "was",
    "we",
    "were",
    "will",
    "with",
    "would",
    "you",
    "your",
    "january",
    "february",
    "march",
    "april",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "а",
    "без",
    "бы",
    "был",
    "была",
    "были",
    "было",
    "быть",
    "в",
    "вам",
    "вас",
    "во",
    "вот",
    "все",
    "всех",
    "вы",
    "где",
    "да",
    "даже",
    "для",
    "до",
    "его",
    "ее",
    "если",
    "есть",
    "еще",
    "же",
    "за",
    "и",
    "из",
    "или",
    "им",
    "их",
    "к",
    "как",
    "когда",
    "кто",
    "ли",
    "мы",
    "на",
    "над",
    "не",
    "него",
    "нет",
    "ни",
    "но",
    "о",
    "об",
    "он",
    "она",
    "они",
    "оно",
    "от",
    "по",
    "под",
    "после",
    "при",
    "про",
    "с",
    "со",
    "так",
    "также",
    "там",
    "то",
    "того",
    "тоже",
    "только",
    "у",
    "уже",
    "чем",
    "что",
    "чтобы",
    "это",
    "эти",
    "этот",
    "январь",
    "января",
    "февраль",
    "февраля",
    "март",
    "марта",
    "апрель",
    "апреля",
    "май",
    "мая",
    "июнь",
    "июня",
    "июль",
    "июля",
    "август",
    "августа",
    "сентябрь",
    "сентября",
    "октябрь",
    "октября",
    "ноябрь",
    "ноября",
    "декабрь",
    "декабря",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketching_from_one_buffer_equals_joining_word_strings() {
        let body = "<p>МОСКВА, 12 мая. Президент России Владимир Путин и председатель \
            КНР Си Цзиньпин провели переговоры в Кремле; the talks covered gas, \
            oil &amp; the Power of Siberia 2 pipeline, ёлки-палки, em\u{200b}ergency \
            sur\u{ad}charge, ＡＢＣ, 7,800 tonnes and more words to pass the thirty \
            word lede limit of a sketch, one two three four five six seven.</p>";
        for (title, body) in [
            (
                "China, Russia sign gas pipeline deal as Xi visits Moscow",
                Some(body),
            ),
            ("Путин и Си обсудили поставки газа", Some(body)),
            ("The 10 must-reads for April 29, 2020", None),
            ("", Some(body)),
            ("", None),
            ("a", Some("<b>x</b>")),
        ] {
            let title_words = content_words(title);
            let lede: Vec<String> = body
                .map(|b| {
                    let text = crate::normalize::text::html_to_text(prefix(b, LEDE_BYTES));
                    content_word_iter(&text).take(LEDE_WORDS).collect()
                })
                .unwrap_or_default();
            let all: Vec<&str> = title_words
                .iter()
                .chain(&lede)
                .map(String::as_str)
                .collect();
            let sketch = Sketch::of(title, body);
            assert_eq!(sketch.minhash, minhash(&all.join(" ")), "{title}");
            assert_eq!(usize::from(sketch.words), all.len(), "{title}");
            let mut title_grams: Vec<u32> = grams(&title_words.join(" "))
                .map(|g| mix(g, TITLE_SEED) as u32)
                .collect();
            title_grams.sort_unstable();
            title_grams.dedup();
            title_grams.truncate(TITLE_GRAMS);
            assert_eq!(sketch.title, title_grams, "{title}");
            let mut each = Vec::new();
            for_each_word(body.unwrap_or(title), |w| {
                each.push(w.to_owned());
                true
            });
            assert_eq!(each, words(body.unwrap_or(title)).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_fast_minhash_fold_equals_the_portable_one() {
        // Sketches are stored: whichever path a CPU takes must give the
        // very same values.
        let grams: Vec<u64> = (0..500u64).map(|i| mix(i, 0x1234)).collect();
        let (mut fast, mut portable) = ([u64::MAX; MINHASH_LEN], [u64::MAX; MINHASH_LEN]);
        fold_grams(&grams, &mut fast);
        fold_grams_portable(&grams, &mut portable);
        assert_eq!(fast, portable);
        // A known value, computed before the fast path existed.
        assert_eq!(
            minhash("china russia")[..4],
            [1_686_783_474, 684_054_063, 799_175_413, 596_180_156]
        );
    }

    #[test]
    fn words_fold_case_width_and_yo() {
        let w: Vec<String> = words("Ёлка — «ЁЖ» ＡＢＣ don't").collect();
        assert_eq!(w, ["елка", "еж", "abc", "don", "t"]);
        assert_eq!(
            content_words("The 10 must-reads for April 29, 2020"),
            ["reads"]
        );
        // Reuters' feed hides zero-width characters inside its text.
        assert_eq!(
            content_words("em\u{200b}ergency sur\u{ad}charge"),
            ["emergency", "surcharge"]
        );
    }

    #[test]
    fn text_already_normalized_folds_as_if_normalized_again() {
        let samples = [
            "Путин и Си Цзиньпин подписали соглашение; ЁЖ",
            "Café crème, naïve coöperation",
            // Decomposed accents, full-width letters, a ligature, a
            // superscript: the quick check says no, and NFKC runs.
            "Cafe\u{301} ｆｕｌｌ ﬁnance x²",
            "Ελλάδα 中国 Россия",
        ];
        for text in samples {
            let reference: Vec<String> = {
                let normalized: String = text.nfkc().collect();
                let mut out = Vec::new();
                let mut word = String::new();
                for c in normalized.chars().flat_map(char::to_lowercase) {
                    if !fold_into(&mut word, c) {
                        out.push(std::mem::take(&mut word));
                    }
                }
                if !word.is_empty() {
                    out.push(word);
                }
                out
            };
            assert_eq!(words(text).collect::<Vec<_>>(), reference, "{text}");
            let mut each = Vec::new();
            for_each_word(text, |w| {
                each.push(w.to_owned());
                true
            });
            assert_eq!(each, reference, "{text}");
        }
        assert!(!is_nfkc("ｆｕｌｌ") && !is_nfkc("ﬁ") && is_nfkc("Россия"));
    }

    #[test]
    fn identical_text_is_identical_and_different_text_is_not() {
        let a = Sketch::of(
            "Grab cuts headcount by 5% as Covid-19 bites into business",
            Some("Technology company Grab is cutting 363 jobs, or 5 per cent of its headcount."),
        );
        assert_eq!(a.similarity(&a), 1.0);
        assert_eq!(a.title_similarity(&a), 1.0);
        let b = Sketch::of(
            "Tianwen 1: China launches first independent mission to Mars",
            Some("It will take seven months to reach the Red Planet."),
        );
        assert!(a.similarity(&b) < 0.1, "{}", a.similarity(&b));
        assert!(a.title_similarity(&b) < 0.1);
        assert_eq!(a.bands().count(), MINHASH_LEN / BAND_ROWS);
    }

    #[test]
    fn sketches_are_stable_across_releases() {
        // Pinned: stored sketches must keep comparing equal to new ones.
        let s = Sketch::of("Putin and Xi sign an energy pact", None);
        assert_eq!(s.words, 5);
        assert_eq!(s.minhash[..2], [43_637_229, 93_326_022]);
        assert_eq!(s.bands().next().map(|b| b.0), Some(0));
    }

    #[test]
    fn template_titles_are_recognized() {
        for t in [
            "Russia-Ukraine war: live updates",
            "Morning Briefing: Top stories from The Straits Times on June 1",
            "Coronavirus: Evening update as minister resigns over Cummings row",
            "10 must-reads for today",
            "Опрос дня",
            "Главное за день: 12 апреля",
            "🔴 Al Jazeera English | Live",
        ] {
            assert!(is_template_title(t), "{t}");
        }
        for t in [
            "Putin and Xi sign an energy pact",
            "Deliveries to the Olympic venue",
            "Опрос показал рост цен",
        ] {
            assert!(!is_template_title(t), "{t}");
        }
    }

    #[test]
    fn title_numbers_skip_names() {
        let n = |t: &str| title_numbers(t).len();
        assert_eq!(n("354 new Covid-19 cases, including 8 in the community"), 2);
        assert_eq!(n("More than 7,800 HDB BTO flats in 8 estates"), 2);
        assert_eq!(n("G7 leaders meet"), 0);
        assert_eq!(n("Firm fined $52k, 5G rollout, first half of 2020"), 0);
        let a = Sketch::of("354 new Covid-19 cases in Singapore", None);
        let b = Sketch::of("481 new Covid-19 cases in Singapore", None);
        let c = Sketch::of("Covid-19 cases in Singapore rise to 354", None);
        assert!(a.numbers_conflict(&b));
        let d = Sketch::of("354 new cases, 8 in the community", None);
        let e = Sketch::of("481 new cases, 8 in the community", None);
        assert!(d.numbers_conflict(&e), "sharing one number is not agreeing");
        assert!(!a.numbers_conflict(&c));
        assert!(!a.numbers_conflict(&Sketch::of("Cases rise", None)));
    }

    #[test]
    fn short_texts_still_sketch() {
        let s = Sketch::of("Ok", None);
        assert_eq!(s.words, 1);
        assert_eq!(s.similarity(&s), 1.0);
        let empty = Sketch::of("", None);
        assert_eq!(empty.words, 0);
        assert!(empty.title.is_empty());
        assert_eq!(empty.title_similarity(&empty), 0.0);
    }
}
