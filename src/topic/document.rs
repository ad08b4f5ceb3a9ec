//! The searchable form of one entry: its words, folded once, indexed by
//! form so that every term of every topic is a binary search away.
//!
//! A document is built once per entry per request and then matched against
//! any number of topics; only the fields some topic reads are indexed
//! (entry bodies are long, and most topics never look at them).

use super::key::{KeyTable, hash_str, head_hash};
use super::lang::{Language, resolve_language};
use super::stem::{for_each_base, is_russian_ending, with_stem};
use super::term::{AliasKeys, FilterKeys, WordPattern};
use super::text::{Script, for_each_word_at};
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

/// A set of fields, as a bit mask; one more bit says whether the entry's
/// language is needed (it may take a detector run to know).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FieldSet(u8);

impl FieldSet {
    const LANGUAGE: u8 = 1 << 7;

    /// Just the language.
    pub fn language() -> FieldSet {
        FieldSet(FieldSet::LANGUAGE)
    }

    pub fn has_language(self) -> bool {
        self.0 & FieldSet::LANGUAGE != 0
    }

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

/// An entry's HTML fields as plain text, converted once for everything
/// that reads the entry's words.
pub(super) struct PlainText {
    summary: Option<String>,
    content: Option<String>,
}

impl PlainText {
    pub(super) fn of(entry: &Entry, fields: FieldSet) -> PlainText {
        // The summary is also the language detector's sample.
        let summary = fields.contains(Field::Summary) || fields.has_language();
        let content = fields.contains(Field::Content);
        PlainText {
            summary: summary
                .then(|| entry.summary.as_deref().map(html_to_text))
                .flatten(),
            content: content
                .then(|| entry.content.as_deref().map(html_to_text))
                .flatten(),
        }
    }
}

/// The text of each of `fields` of `entry`, one segment after another, in
/// the order a document indexes them (the order positions count in).
pub(super) fn indexed_texts<'a>(
    entry: &'a Entry,
    plain: &'a PlainText,
    feed: Option<&'a FeedMeta>,
    fields: FieldSet,
) -> impl Iterator<Item = (Field, &'a str)> + 'a {
    let one = move |field, text: Option<&'a str>| {
        text.filter(|_| fields.contains(field)).map(|t| (field, t))
    };
    let each = move |field, texts: &'a [String]| {
        let texts = if fields.contains(field) { texts } else { &[] };
        texts.iter().map(move |t| (field, t.as_str()))
    };
    let feed = feed.filter(|_| fields.contains(Field::Feed));
    let feed_texts = feed.into_iter().flat_map(|f| {
        let url = std::iter::once(f.url.as_str());
        f.titles.iter().map(String::as_str).chain(url)
    });
    one(Field::Title, Some(&entry.title))
        .into_iter()
        .chain(one(Field::Summary, plain.summary.as_deref()))
        .chain(one(Field::Content, plain.content.as_deref()))
        .chain(each(Field::Category, &entry.categories))
        .chain(each(Field::Author, &entry.authors))
        .chain(feed_texts.map(|t| (Field::Feed, t)))
}

/// Where one word is: the field instance (segment) and word index in it.
/// Categories and authors are one segment each, so a phrase never runs
/// from one category into the next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub segment: u32,
    pub index: u32,
}

/// One distinct word form of the document: where its text is in the
/// document's arena, and where its positions are in the flat list.
struct DocWord {
    text: std::ops::Range<u32>,
    stem: std::ops::Range<u32>,
    positions: std::ops::Range<u32>,
}

/// An entry's words, indexed for matching.
pub struct Document {
    /// The field of each segment.
    segments: Vec<Field>,
    /// Every distinct folded word and its stem, end to end.
    arena: String,
    /// Distinct words, sorted by text (a prefix is a range).
    words: Vec<DocWord>,
    /// Positions of all words, grouped by word, each group sorted.
    positions: Vec<Pos>,
    /// Word ids by the hash of their stem, and of each of their bases.
    stems: KeyTable,
    bases: KeyTable,
    /// Every hash a lookup can be keyed by (words, stems, bases): most
    /// terms of a topic do not occur in an entry, and one bit test says so
    /// without a binary search.
    filter: KeyFilter,
    /// Which scripts occur, so a term of another script is skipped at once.
    latin: bool,
    cyrillic: bool,
    feed: Option<FeedId>,
    language: Option<Language>,
}

/// A blocked Bloom filter over a document's word, stem, base and head
/// hashes: 128 words of 64 bits, two bits per key in one word. A title and
/// summary give a few hundred keys, so a few absent keys in a hundred get
/// past it (and are then looked up as before); a present key always does,
/// so matching results cannot change.
struct KeyFilter([u64; KeyFilter::WORDS]);

impl Default for KeyFilter {
    fn default() -> KeyFilter {
        KeyFilter([0; KeyFilter::WORDS])
    }
}

impl KeyFilter {
    const WORDS: usize = 128;

    /// The word and bits of `hash`: FNV's low bits are weak, so a
    /// multiplicative remix's high bits pick them.
    fn bits(hash: u64) -> (usize, u64) {
        let h = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let word = (h >> 57) as usize;
        let mask = (1 << ((h >> 20) & 63)) | (1 << ((h >> 26) & 63));
        (word, mask)
    }

    fn insert(&mut self, hash: u64) {
        let (word, mask) = KeyFilter::bits(hash);
        self.0[word] |= mask;
    }

    fn may_contain(&self, hash: u64) -> bool {
        let (word, mask) = KeyFilter::bits(hash);
        self.0[word] & mask == mask
    }
}

/// One word occurrence while a document is built: its folded text in the
/// builder's arena, the text's hash, and its position.
struct Occurrence {
    hash: u64,
    text: std::ops::Range<u32>,
    pos: Pos,
}

/// Collects word occurrences while a document is built. Everything goes
/// into a few flat vectors: indexing an entry allocates a handful of
/// times, not once per word.
#[derive(Default)]
struct Builder {
    segments: Vec<Field>,
    arena: String,
    occurrences: Vec<Occurrence>,
}

impl Builder {
    fn add(&mut self, field: Field, text: &str) {
        let segment = self.segments.len() as u32;
        self.segments.push(field);
        // Folding rarely lengthens text; words average over five bytes.
        self.arena.reserve(text.len());
        self.occurrences.reserve(text.len() / 6);
        for_each_word_at(text, |w, index| {
            let start = self.arena.len() as u32;
            self.arena.push_str(w);
            self.occurrences.push(Occurrence {
                hash: hash_str(w),
                text: start..self.arena.len() as u32,
                pos: Pos { segment, index },
            });
        });
    }

    fn finish(mut self, feed: Option<FeedId>, language: Option<Language>) -> Document {
        let arena = &self.arena;
        let text = |r: &std::ops::Range<u32>| &arena[r.start as usize..r.end as usize];
        // Equal words meet when sorted by hash, in position order: integer
        // comparisons only. A run of one hash is one word unless two words
        // share a hash, which is then sorted out by text.
        let occurrences = &mut self.occurrences;
        occurrences.sort_unstable_by_key(|o| (o.hash, o.pos));
        let mut distinct: Vec<(std::ops::Range<u32>, std::ops::Range<u32>)> = Vec::new();
        let mut positions = Vec::with_capacity(occurrences.len());
        let mut run_start = 0;
        while run_start < occurrences.len() {
            let hash = occurrences[run_start].hash;
            let run_end = occurrences[run_start..]
                .iter()
                .position(|o| o.hash != hash)
                .map_or(occurrences.len(), |n| run_start + n);
            let run = &mut occurrences[run_start..run_end];
            let first = text(&run[0].text);
            if run.iter().any(|o| text(&o.text) != first) {
                run.sort_unstable_by(|a, b| {
                    text(&a.text).cmp(text(&b.text)).then(a.pos.cmp(&b.pos))
                });
            }
            let mut current: Option<usize> = None;
            for occ in run.iter() {
                let i = positions.len() as u32;
                positions.push(occ.pos);
                match current.and_then(|c| distinct.get_mut(c)) {
                    Some((t, p)) if text(t) == text(&occ.text) => p.end = i + 1,
                    _ => {
                        current = Some(distinct.len());
                        distinct.push((occ.text.clone(), i..i + 1));
                    }
                }
            }
            run_start = run_end;
        }
        distinct.sort_unstable_by(|a, b| text(&a.0).cmp(text(&b.0)));
        // The document keeps only the distinct words' text.
        let mut kept = String::with_capacity(arena.len() / 2);
        let mut words = Vec::with_capacity(distinct.len());
        let (mut stems, mut bases) = (Vec::with_capacity(distinct.len()), Vec::new());
        let (mut latin, mut cyrillic) = (false, false);
        let mut filter = KeyFilter::default();
        for (id, (t, p)) in distinct.into_iter().enumerate() {
            let id = id as u32;
            let word = text(&t);
            filter.insert(hash_str(word));
            if let Some(head) = head_hash(word) {
                filter.insert(head);
            }
            for_each_base(word, |b| {
                let hash = hash_str(b);
                filter.insert(hash);
                bases.push((hash, id));
            });
            match Script::of(word) {
                Script::Latin => latin = true,
                Script::Cyrillic => cyrillic = true,
                Script::Other => {}
            }
            let start = kept.len() as u32;
            kept.push_str(word);
            let end = kept.len() as u32;
            let stem = with_stem(word, |stem, hash| {
                filter.insert(hash);
                stems.push((hash, id));
                kept.push_str(stem);
                end..kept.len() as u32
            });
            words.push(DocWord {
                text: start..end,
                stem,
                positions: p,
            });
        }
        Document {
            segments: self.segments,
            arena: kept,
            words,
            positions,
            stems: KeyTable::new(stems),
            bases: KeyTable::new(bases),
            filter,
            latin,
            cyrillic,
            feed,
            language,
        }
    }
}

impl Document {
    /// Indexes the `fields` of `entry` (summary and content as plain
    /// text). `feed` supplies the `feed:` field and the fallback language;
    /// the language is worked out only when `fields` asks for it.
    pub fn of_entry(entry: &Entry, feed: Option<&FeedMeta>, fields: FieldSet) -> Document {
        Document::of_plain(entry, &PlainText::of(entry, fields), feed, fields)
    }

    /// [`Document::of_entry`], with the entry's HTML already made `plain`.
    pub(super) fn of_plain(
        entry: &Entry,
        plain: &PlainText,
        feed: Option<&FeedMeta>,
        fields: FieldSet,
    ) -> Document {
        let mut b = Builder::default();
        for (field, text) in indexed_texts(entry, plain, feed, fields) {
            b.add(field, text);
        }
        let language = fields.has_language().then(|| {
            let sample = format!("{} {}", entry.title, plain.summary.as_deref().unwrap_or(""));
            resolve_language(
                entry.language.as_deref(),
                feed.and_then(|f| f.language.as_deref()),
                &sample,
            )
        });
        b.finish(Some(entry.feed), language.flatten())
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

    pub fn in_fields(&self, pos: Pos, fields: FieldSet) -> bool {
        self.field_of(pos).is_some_and(|f| fields.contains(f))
    }

    fn has_script(&self, script: Script) -> bool {
        match script {
            Script::Latin => self.latin,
            Script::Cyrillic => self.cyrillic,
            Script::Other => true,
        }
    }

    fn text_of(&self, word: &DocWord) -> &str {
        self.slice(&word.text)
    }

    fn positions_of(&self, word: &DocWord) -> &[Pos] {
        &self.positions[word.positions.start as usize..word.positions.end as usize]
    }

    /// Whether a term (or any of a group of terms) with these filter keys
    /// may occur: false only when it certainly does not. [`Document::find`]
    /// tests the same keys before it finds a word, so a word found always
    /// passes.
    pub fn may_have(&self, keys: &FilterKeys) -> bool {
        keys.may_occur(|s| self.has_script(s), |k| self.filter.may_contain(k))
    }

    /// Whether some term of an alias may occur (see [`Document::may_have`]).
    pub fn may_have_some(&self, keys: &AliasKeys) -> bool {
        keys.may_occur(|s| self.has_script(s), |k| self.filter.may_contain(k))
    }

    /// Calls `each` with the index of every term of an alias that may
    /// occur: the others certainly do not.
    pub fn may_have_which(&self, keys: &AliasKeys, mut each: impl FnMut(u32)) {
        let each = |member| {
            each(member);
            std::ops::ControlFlow::Continue(())
        };
        let _ = keys.candidates(|s| self.has_script(s), |k| self.filter.may_contain(k), each);
    }

    /// Calls `each` with the id of every distinct document word `pattern`
    /// matches. A word may be reported twice (by stem and by base).
    fn find(&self, pattern: &WordPattern, mut each: impl FnMut(u32)) {
        let word = |id: u32| self.words.get(id as usize);
        let text = |id: u32| word(id).map_or("", |w| self.text_of(w));
        match pattern {
            WordPattern::Exact { word, script } => {
                if self.has_script(*script) && self.filter.may_contain(word.hash()) {
                    let found = self
                        .words
                        .binary_search_by(|w| self.text_of(w).cmp(word.text()));
                    if let Ok(id) = found {
                        each(id as u32);
                    }
                }
            }
            WordPattern::Prefix {
                prefix,
                script,
                head,
            } => {
                let may_occur = head.is_none_or(|h| self.filter.may_contain(h));
                if self.has_script(*script) && may_occur {
                    let from = self.words.partition_point(|w| self.text_of(w) < &**prefix);
                    (from..self.words.len())
                        .map(|i| i as u32)
                        .take_while(|i| text(*i).starts_with(&**prefix))
                        .for_each(each);
                }
            }
            WordPattern::Forms {
                script,
                stem,
                bases,
                ..
            } => {
                if !self.has_script(*script) {
                    return;
                }
                if self.filter.may_contain(stem.hash()) {
                    self.stems
                        .get(stem.hash())
                        .filter(|id| word(*id).is_some_and(|w| self.slice(&w.stem) == stem.text()))
                        .for_each(&mut each);
                }
                for base in bases.iter().filter(|b| self.filter.may_contain(b.hash())) {
                    self.bases
                        .get(base.hash())
                        .filter(|id| {
                            text(*id)
                                .strip_prefix(base.text())
                                .is_some_and(is_russian_ending)
                        })
                        .for_each(&mut each);
                }
            }
        }
    }

    fn slice(&self, range: &std::ops::Range<u32>) -> &str {
        &self.arena[range.start as usize..range.end as usize]
    }

    /// Every position of `pattern`, in all fields, sorted, no duplicates.
    pub fn positions(&self, pattern: &WordPattern) -> Vec<Pos> {
        let mut out = Vec::new();
        self.append_positions(pattern, &mut out);
        out
    }

    /// [`Document::positions`], appended to `out` (no allocation when
    /// `out` has room, or when there is nothing to add).
    pub fn append_positions(&self, pattern: &WordPattern, out: &mut Vec<Pos>) {
        let from = out.len();
        let mut words = 0;
        self.find(pattern, |id| {
            if let Some(w) = self.words.get(id as usize) {
                out.extend_from_slice(self.positions_of(w));
                words += 1;
            }
        });
        if words > 1 {
            let mut added = out.split_off(from);
            added.sort_unstable();
            added.dedup();
            out.extend(added);
        }
    }

    /// Whether `pattern` occurs in one of `fields`.
    pub fn has(&self, pattern: &WordPattern, fields: FieldSet) -> bool {
        self.positions(pattern)
            .iter()
            .any(|p| self.in_fields(*p, fields))
    }

    /// The word at `pos` (a scan: for explanations, not matching).
    pub fn word_at(&self, pos: Pos) -> Option<&str> {
        self.words
            .iter()
            .find(|w| self.positions_of(w).binary_search(&pos).is_ok())
            .map(|w| self.text_of(w))
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
        assert!(d.has(&WordPattern::exact("china"), all));
        assert!(!d.has(&WordPattern::exact("talk"), all));
        assert!(d.has(&WordPattern::prefix("chinat"), all));
        assert!(!d.has(&forms("chinese"), all));
    }

    #[test]
    fn words_sharing_a_hash_stay_apart() {
        let mut b = Builder::default();
        b.segments.push(Field::Title);
        for (index, w) in ["alpha", "beta", "alpha"].into_iter().enumerate() {
            let start = b.arena.len() as u32;
            b.arena.push_str(w);
            b.occurrences.push(Occurrence {
                hash: 42, // as if the two words collided
                text: start..b.arena.len() as u32,
                pos: Pos {
                    segment: 0,
                    index: index as u32,
                },
            });
        }
        let d = b.finish(None, None);
        let at = |w| d.positions(&WordPattern::exact(w));
        let idx = |ps: Vec<Pos>| ps.iter().map(|p| p.index).collect::<Vec<_>>();
        assert_eq!(idx(at("alpha")), [0, 2]);
        assert_eq!(idx(at("beta")), [1]);
    }

    #[test]
    fn positions_are_in_segments() {
        let d = Document::of_text("Китай и Китаю", Some("КИТАЕМ"));
        let found = d.positions(&forms("китай"));
        let got: Vec<_> = found
            .iter()
            .map(|p| (p.segment, p.index, d.word_at(*p)))
            .collect();
        assert_eq!(
            got,
            [
                (0, 0, Some("китай")),
                (0, 2, Some("китаю")),
                (1, 0, Some("китаем"))
            ]
        );
        assert_eq!(d.field_of(found[2]), Some(Field::Summary));
        // A word found by stem and by base is reported once.
        assert_eq!(d.positions(&forms("китаю")).len(), 3);
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
        assert!(lean.language().is_none(), "not asked for");
        let every = Field::ALL
            .into_iter()
            .fold(FieldSet::language(), |s, f| s.union(FieldSet::only(f)));
        let full = Document::of_entry(&entry, Some(&feed), every);
        assert!(full.has(&forms("body"), FieldSet::only(Field::Content)));
        assert!(full.has(&forms("ivanova"), FieldSet::only(Field::Author)));
        assert!(full.has(&forms("tass"), FieldSet::only(Field::Feed)));
        assert!(full.has(&forms("com"), FieldSet::only(Field::Feed)));
        assert_eq!(full.feed(), Some(FeedId(7)));
        assert_eq!(full.language().map(|l| l.code()), Some("en"));
    }
}
