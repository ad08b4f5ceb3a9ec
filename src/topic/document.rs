//! The searchable form of one entry: its words, folded once, indexed by
//! form so that every term of every topic is a binary search away.
//!
//! A document is built once per entry per request and then matched against
//! any number of topics; only the fields some topic reads are indexed
//! (entry bodies are long, and most topics never look at them).

use super::lang::{Language, resolve_language};
use super::stem::stem;
use super::term::WordPattern;
use super::text::for_each_word_at;
use crate::model::{Entry, FeedId};
use crate::normalize::text::html_to_text;
use std::fmt;

/// A part of an entry a term can be looked for in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Title,
    Summary,
    Content,
    Category,
    Author,
    /// The feed's title(s) and URL.
    Feed,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Title,
        Field::Summary,
        Field::Content,
        Field::Category,
        Field::Author,
        Field::Feed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Summary => "summary",
            Field::Content => "content",
            Field::Category => "category",
            Field::Author => "author",
            Field::Feed => "feed",
        }
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of fields, as a bit mask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FieldSet(u8);

impl FieldSet {
    /// Where a term without a field prefix is looked for.
    pub const DEFAULT: FieldSet =
        FieldSet(1 << Field::Title as u8 | 1 << Field::Summary as u8 | 1 << Field::Category as u8);
    pub const EMPTY: FieldSet = FieldSet(0);

    pub fn only(field: Field) -> FieldSet {
        FieldSet(field.bit())
    }

    pub fn contains(self, field: Field) -> bool {
        self.0 & field.bit() != 0
    }

    pub fn union(self, other: FieldSet) -> FieldSet {
        FieldSet(self.0 | other.0)
    }
}

/// What a topic may know about an entry's feed: its titles (configured and
/// the feed's own), URL and declared language.
#[derive(Clone, Debug, Default)]
pub struct FeedMeta {
    pub titles: Vec<String>,
    pub url: String,
    pub language: Option<String>,
}

/// Where one word is: the field instance (segment) and word index in it.
/// Categories and authors are one segment each, so a phrase never runs
/// from one category into the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub segment: u32,
    pub index: u32,
}

/// One distinct word form of the document and where it occurs.
struct DocWord {
    word: Box<str>,
    positions: Vec<Pos>,
}

/// An entry's words, indexed for matching.
pub struct Document {
    /// The field of each segment.
    segments: Vec<Field>,
    /// Distinct folded words, sorted: exact and prefix lookups.
    words: Vec<DocWord>,
    /// (stem, index into `words`), sorted by stem: lookups by form.
    stems: Vec<(Box<str>, u32)>,
    feed: Option<FeedId>,
    language: Option<Language>,
}

/// Collects words and their positions while a document is built.
#[derive(Default)]
struct Builder {
    segments: Vec<Field>,
    occurrences: Vec<(Box<str>, Pos)>,
}

impl Builder {
    fn add(&mut self, field: Field, text: &str) {
        let segment = self.segments.len() as u32;
        self.segments.push(field);
        for_each_word_at(text, |w, index| {
            self.occurrences.push((w.into(), Pos { segment, index }));
        });
    }

    fn finish(mut self, feed: Option<FeedId>, language: Option<Language>) -> Document {
        // Stable: positions of one word stay in document order.
        self.occurrences.sort_by(|a, b| a.0.cmp(&b.0));
        let mut words: Vec<DocWord> = Vec::new();
        for (word, pos) in self.occurrences {
            match words.last_mut() {
                Some(last) if last.word == word => last.positions.push(pos),
                _ => words.push(DocWord {
                    word,
                    positions: vec![pos],
                }),
            }
        }
        let mut stems: Vec<(Box<str>, u32)> = words
            .iter()
            .enumerate()
            .map(|(i, w)| (stem(&w.word).into(), i as u32))
            .collect();
        stems.sort_unstable();
        Document {
            segments: self.segments,
            words,
            stems,
            feed,
            language,
        }
    }
}

impl Document {
    /// Indexes the `fields` of `entry` (summary and content as plain
    /// text). `feed` supplies the `feed:` field and the fallback language.
    pub fn of_entry(entry: &Entry, feed: Option<&FeedMeta>, fields: FieldSet) -> Document {
        let mut b = Builder::default();
        if fields.contains(Field::Title) {
            b.add(Field::Title, &entry.title);
        }
        let summary = entry.summary.as_deref().map(html_to_text);
        if fields.contains(Field::Summary) {
            if let Some(summary) = &summary {
                b.add(Field::Summary, summary);
            }
        }
        if fields.contains(Field::Content) {
            if let Some(content) = &entry.content {
                b.add(Field::Content, &html_to_text(content));
            }
        }
        if fields.contains(Field::Category) {
            for c in &entry.categories {
                b.add(Field::Category, c);
            }
        }
        if fields.contains(Field::Author) {
            for a in &entry.authors {
                b.add(Field::Author, a);
            }
        }
        if let (true, Some(feed)) = (fields.contains(Field::Feed), feed) {
            for t in &feed.titles {
                b.add(Field::Feed, t);
            }
            b.add(Field::Feed, &feed.url);
        }
        let sample = format!("{} {}", entry.title, summary.as_deref().unwrap_or(""));
        let language = resolve_language(
            entry.language.as_deref(),
            feed.and_then(|f| f.language.as_deref()),
            &sample,
        );
        b.finish(Some(entry.feed), language)
    }

    /// A document of ad-hoc text: `title`, and optionally a summary.
    pub fn of_text(title: &str, summary: Option<&str>) -> Document {
        let mut b = Builder::default();
        b.add(Field::Title, title);
        if let Some(s) = summary {
            b.add(Field::Summary, s);
        }
        let sample = format!("{title} {}", summary.unwrap_or(""));
        b.finish(None, resolve_language(None, None, &sample))
    }

    pub fn feed(&self) -> Option<FeedId> {
        self.feed
    }

    pub fn language(&self) -> Option<&Language> {
        self.language.as_ref()
    }

    pub fn field_of(&self, pos: Pos) -> Option<Field> {
        self.segments.get(pos.segment as usize).copied()
    }

    /// Calls `each` with every distinct document word `pattern` matches,
    /// and its positions; stops early when `each` returns true. A word may
    /// be reported twice (by stem and by base); callers tolerate that.
    fn find<'d>(
        &'d self,
        pattern: &WordPattern,
        mut each: impl FnMut(&'d str, &'d [Pos]) -> bool,
    ) -> bool {
        match pattern {
            WordPattern::Exact(w) => self
                .words
                .binary_search_by(|d| (*d.word).cmp(w))
                .is_ok_and(|i| each(&self.words[i].word, &self.words[i].positions)),
            WordPattern::Prefix(p) => self
                .with_prefix(p)
                .iter()
                .any(|d| each(&d.word, &d.positions)),
            WordPattern::Forms { stem, bases, .. } => {
                let from = self.stems.partition_point(|(s, _)| **s < **stem);
                let by_stem = self.stems[from..]
                    .iter()
                    .take_while(|(s, _)| **s == **stem)
                    .any(|(_, i)| {
                        let d = &self.words[*i as usize];
                        each(&d.word, &d.positions)
                    });
                by_stem
                    || bases.iter().any(|base| {
                        self.with_prefix(base).iter().any(|d| {
                            super::stem::is_russian_ending(&d.word[base.len()..])
                                && each(&d.word, &d.positions)
                        })
                    })
            }
        }
    }

    fn with_prefix<'d>(&'d self, prefix: &str) -> &'d [DocWord] {
        let from = self.words.partition_point(|d| *d.word < *prefix);
        let len = self.words[from..]
            .iter()
            .take_while(|d| d.word.starts_with(prefix))
            .count();
        &self.words[from..from + len]
    }

    /// Whether `pattern` occurs in one of `fields`.
    pub fn has(&self, pattern: &WordPattern, fields: FieldSet) -> bool {
        self.find(pattern, |_, positions| {
            positions.iter().any(|p| self.in_fields(*p, fields))
        })
    }

    /// Every occurrence of `pattern` in `fields`, with the word found,
    /// sorted by position and without duplicates.
    pub fn occurrences<'d>(
        &'d self,
        pattern: &WordPattern,
        fields: FieldSet,
    ) -> Vec<(Pos, &'d str)> {
        let mut found = Vec::new();
        self.find(pattern, |word, positions| {
            found.extend(
                positions
                    .iter()
                    .filter(|p| self.in_fields(**p, fields))
                    .map(|p| (*p, word)),
            );
            false
        });
        found.sort_unstable_by_key(|(p, _)| *p);
        found.dedup_by_key(|(p, _)| *p);
        found
    }

    /// The word at `pos` (a scan: for explanations, not matching).
    pub fn word_at(&self, pos: Pos) -> Option<&str> {
        self.words
            .iter()
            .find(|d| d.positions.binary_search(&pos).is_ok())
            .map(|d| &*d.word)
    }

    fn in_fields(&self, pos: Pos, fields: FieldSet) -> bool {
        self.field_of(pos).is_some_and(|f| fields.contains(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(w: &str) -> WordPattern {
        WordPattern::forms(w)
    }

    #[test]
    fn finds_words_by_form_exact_and_prefix_per_field() {
        let d = Document::of_text(
            "China's talks with Россия",
            Some("Китая, Китаю и Chinatown"),
        );
        let all = FieldSet::DEFAULT;
        assert!(d.has(&forms("china"), all));
        assert!(d.has(&forms("talk"), all));
        assert!(d.has(&forms("россии"), all));
        assert!(d.has(&forms("китай"), FieldSet::only(Field::Summary)));
        assert!(!d.has(&forms("китай"), FieldSet::only(Field::Title)));
        assert!(d.has(&WordPattern::Exact("china".into()), all));
        assert!(!d.has(&WordPattern::Exact("talk".into()), all));
        assert!(d.has(&WordPattern::Prefix("chinat".into()), all));
        assert!(!d.has(&forms("chinese"), all));
    }

    #[test]
    fn occurrences_are_positions_in_segments() {
        let d = Document::of_text("Китай и Китаю", Some("КИТАЕМ"));
        let found = d.occurrences(&forms("китай"), FieldSet::DEFAULT);
        let got: Vec<_> = found
            .iter()
            .map(|(p, w)| (p.segment, p.index, *w))
            .collect();
        assert_eq!(got, [(0, 0, "китай"), (0, 2, "китаю"), (1, 0, "китаем")]);
        assert_eq!(d.field_of(found[2].0), Some(Field::Summary));
    }

    #[test]
    fn only_requested_fields_are_indexed() {
        let entry = Entry {
            id: crate::model::EntryId([0; 16]),
            feed: FeedId(7),
            identity: String::new(),
            link: None,
            title: "Title words".into(),
            summary: Some("<p>Summary <b>words</b></p>".into()),
            content: Some("<p>Body</p>".into()),
            authors: vec!["Anna Ivanova".into()],
            categories: vec!["World".into()],
            language: None,
            published: None,
            first_seen: chrono::Utc::now(),
            updated: chrono::Utc::now(),
        };
        let feed = FeedMeta {
            titles: vec!["TASS".into()],
            url: "https://tass.com/rss/v2.xml".into(),
            language: Some("en".into()),
        };
        let lean = Document::of_entry(&entry, Some(&feed), FieldSet::DEFAULT);
        assert!(lean.has(&forms("summary"), FieldSet::DEFAULT));
        assert!(!lean.has(&forms("body"), FieldSet::only(Field::Content)));
        assert!(!lean.has(&forms("tass"), FieldSet::only(Field::Feed)));
        let every = Field::ALL
            .into_iter()
            .fold(FieldSet::EMPTY, |s, f| s.union(FieldSet::only(f)));
        let full = Document::of_entry(&entry, Some(&feed), every);
        assert!(full.has(&forms("body"), FieldSet::only(Field::Content)));
        assert!(full.has(&forms("ivanova"), FieldSet::only(Field::Author)));
        assert!(full.has(&forms("tass"), FieldSet::only(Field::Feed)));
        assert!(full.has(&forms("com"), FieldSet::only(Field::Feed)));
        assert_eq!(full.feed(), Some(FeedId(7)));
        assert_eq!(full.language().map(|l| l.code()), Some("en"));
    }
}
