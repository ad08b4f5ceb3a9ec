//! An entry's language, for `lang:` terms and a topic's `languages`: the
//! language the entry or its feed declares, else a small detector.
//!
//! The detector is deliberately simple and explainable: the script decides
//! (Cyrillic, Greek, Arabic, Hebrew, CJK, Hangul), and within Latin and
//! Cyrillic a few frequent words or letters pick the language. It only
//! needs to tell the languages of news feeds apart, not every language.

use std::fmt;

/// Where an entry's language came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LanguageSource {
    Entry,
    Feed,
    Detected,
}

/// A language tag, lower-cased (`en-us`, `ru`), with its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Language {
    tag: String,
    pub source: LanguageSource,
}

impl Language {
    /// The primary subtag: `en` for `en-us`.
    pub fn code(&self) -> &str {
        primary_subtag(&self.tag)
    }

    /// Whether this language is `wanted`: a primary subtag (`en` covers
    /// `en-us`), or a full tag (`en-gb`), which must then match in full.
    pub fn is(&self, wanted: &str) -> bool {
        if wanted.contains('-') {
            self.tag == wanted
        } else {
            self.code() == wanted
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            LanguageSource::Entry => "declared by the entry",
            LanguageSource::Feed => "declared by the feed",
            LanguageSource::Detected => "detected from the text",
        };
        write!(f, "{} ({source})", self.tag)
    }
}

/// Checks a language code written in the config or a query: a primary
/// subtag of 2–3 letters, optionally followed by `-` subtags. Returns it
/// lower-cased.
pub fn parse_language_code(code: &str) -> Result<String, String> {
    let lower = code.trim().to_ascii_lowercase();
    let primary = primary_subtag(&lower);
    let valid = (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && lower
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if valid {
        Ok(lower)
    } else {
        Err(format!(
            "invalid language code {code:?}: write a code such as \"en\", \"ru\" or \"pt-br\""
        ))
    }
}

fn primary_subtag(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// The entry's declared language, else its feed's, else a detected one.
pub fn resolve_language(entry: Option<&str>, feed: Option<&str>, sample: &str) -> Option<Language> {
    let declared = |tag: Option<&str>, source| {
        let tag = tag?.trim().to_ascii_lowercase().replace('_', "-");
        (!primary_subtag(&tag).is_empty()).then_some(Language { tag, source })
    };
    declared(entry, LanguageSource::Entry)
        .or_else(|| declared(feed, LanguageSource::Feed))
        .or_else(|| {
            detect(sample).map(|code| Language {
                tag: code.to_owned(),
                source: LanguageSource::Detected,
            })
        })
}

/// Frequent short words that are strong evidence of a Latin-script language.
const LATIN_MARKERS: &[(&str, &[&str])] = &[
    (
        "en",
        &[
            "the", "and", "of", "to", "in", "is", "for", "with", "on", "that", "as", "by", "from",
            "at", "says",
        ],
    ),
    (
        "de",
        &[
            "der", "die", "das", "und", "nicht", "mit", "ist", "von", "den", "auf", "für", "ein",
            "eine",
        ],
    ),
    (
        "fr",
        &[
            "le", "la", "les", "et", "des", "est", "une", "du", "pour", "dans", "sur", "au", "aux",
        ],
    ),
    (
        "es",
        &[
            "el", "los", "las", "y", "del", "por", "una", "con", "para", "es", "en", "al",
        ],
    ),
    (
        "it",
        &[
            "il", "gli", "della", "di", "che", "per", "una", "sono", "nel", "alla", "è",
        ],
    ),
    (
        "pt",
        &[
            "o", "os", "as", "e", "do", "da", "dos", "das", "não", "em", "uma", "para", "com",
        ],
    ),
];

/// Guesses the language of `text`, or `None` when there is too little to go
/// on.
pub fn detect(text: &str) -> Option<&'static str> {
    let mut counts = ScriptCounts::default();
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        counts.add(c);
    }
    let (script, n) = counts.dominant()?;
    if n < 3 {
        return None;
    }
    match script {
        "cyrillic" => Some(if counts.ukrainian > 0 {
            "uk"
        } else if counts.belarusian > 0 {
            "be"
        } else {
            "ru"
        }),
        "latin" => detect_latin(text),
        other => Some(other),
    }
}

fn detect_latin(text: &str) -> Option<&'static str> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .collect();
    LATIN_MARKERS
        .iter()
        .map(|(lang, markers)| (*lang, words.iter().filter(|w| markers.contains(w)).count()))
        .filter(|(_, hits)| *hits > 0)
        // Ties go to the language listed first (English).
        .fold(
            None,
            |best: Option<(&str, usize)>, (lang, hits)| match best {
                Some((_, most)) if most >= hits => best,
                _ => Some((lang, hits)),
            },
        )
        .map(|(lang, _)| lang)
}

/// Letters per script, and the letters that tell Cyrillic languages apart.
#[derive(Default)]
struct ScriptCounts {
    latin: usize,
    cyrillic: usize,
    greek: usize,
    arabic: usize,
    hebrew: usize,
    han: usize,
    kana: usize,
    hangul: usize,
    ukrainian: usize,
    belarusian: usize,
}

impl ScriptCounts {
    fn add(&mut self, c: char) {
        match c {
            'a'..='z' | 'A'..='Z' | '\u{00c0}'..='\u{024f}' => self.latin += 1,
            '\u{0400}'..='\u{052f}' => {
                self.cyrillic += 1;
                if matches!(c, 'і' | 'ї' | 'є' | 'ґ' | 'І' | 'Ї' | 'Є' | 'Ґ') {
                    self.ukrainian += 1;
                }
                if matches!(c, 'ў' | 'Ў') {
                    self.belarusian += 1;
                }
            }
            '\u{0370}'..='\u{03ff}' => self.greek += 1,
            '\u{0600}'..='\u{06ff}' => self.arabic += 1,
            '\u{0590}'..='\u{05ff}' => self.hebrew += 1,
            '\u{3040}'..='\u{30ff}' => self.kana += 1,
            '\u{4e00}'..='\u{9fff}' => self.han += 1,
            '\u{ac00}'..='\u{d7af}' => self.hangul += 1,
            _ => {}
        }
    }

    /// The script with the most letters (Japanese mixes kana into Han).
    fn dominant(&self) -> Option<(&'static str, usize)> {
        let japanese = if self.kana > 0 {
            self.kana + self.han
        } else {
            0
        };
        let chinese = if self.kana == 0 { self.han } else { 0 };
        [
            ("latin", self.latin),
            ("cyrillic", self.cyrillic),
            ("el", self.greek),
            ("ar", self.arabic),
            ("he", self.hebrew),
            ("ja", japanese),
            ("zh", chinese),
            ("ko", self.hangul),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_languages_win_over_detection() {
        let l = resolve_language(Some("en-US"), Some("ru"), "Путин").unwrap();
        assert_eq!((l.code(), l.source), ("en", LanguageSource::Entry));
        let l = resolve_language(None, Some("RU"), "The talks").unwrap();
        assert_eq!((l.code(), l.source), ("ru", LanguageSource::Feed));
        let l = resolve_language(Some(" "), None, "Путин и Си обсудили торговлю").unwrap();
        assert_eq!((l.code(), l.source), ("ru", LanguageSource::Detected));
    }

    #[test]
    fn detects_the_languages_of_news_feeds() {
        assert_eq!(
            detect("Putin and Xi meet in Beijing for talks on the war"),
            Some("en")
        );
        assert_eq!(
            detect("Путин и Си Цзиньпин провели переговоры в Пекине"),
            Some("ru")
        );
        assert_eq!(
            detect("Зеленський зустрівся з лідерами ЄС у Києві"),
            Some("uk")
        );
        assert_eq!(
            detect("Die Gespräche zwischen Moskau und Peking sind nicht neu"),
            Some("de")
        );
        assert_eq!(
            detect("Les relations entre la Russie et la Chine"),
            Some("fr")
        );
        assert_eq!(detect("中国和俄罗斯举行会谈"), Some("zh"));
        assert_eq!(detect("ロシアと中国の首脳会談"), Some("ja"));
        assert_eq!(detect("Xi"), None);
        assert_eq!(detect("Gazprom Rosneft Sinopec"), None);
    }

    #[test]
    fn language_codes() {
        assert_eq!(parse_language_code("EN").unwrap(), "en");
        assert_eq!(parse_language_code("pt-BR").unwrap(), "pt-br");
        assert!(parse_language_code("english").is_err());
        assert!(parse_language_code("e").is_err());
        assert!(parse_language_code("en-").is_err());
        let en = resolve_language(Some("en_GB"), None, "").unwrap();
        assert!(en.is("en") && en.is("en-gb") && !en.is("ru") && !en.is("en-us"));
    }
}
