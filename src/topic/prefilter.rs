//! Which topics cannot match an entry, known before the entry is indexed.
//!
//! Indexing an entry (folding, stemming, sorting its words, keeping their
//! positions) costs far more than reading its words once, and most entries
//! match no topic. So each word of an entry is first looked up in a table
//! of the words seen so far, which says which of the topics' term groups
//! (a term, or an alias's terms) the word may be a form of. Each query is
//! then evaluated loosely on what that gives: which groups occur in each
//! field instance (segment), and where. A term may occur wherever a word
//! of its group is (a phrase, from there to its length), `NEAR` needs both
//! sides that close in one segment, `NOT` and `lang:` may always match,
//! and a score is bounded by the weights of the clauses that may match.
//! An entry is indexed only for the topics this leaves: the Russia–China
//! topic needs Russia and China close together in one headline or
//! summary, in clauses that may add up to its `min_score`.
//!
//! The check is exact in one direction: a topic it rules out would not
//! have matched. Each loose step holds whenever the exact one does, and a
//! word is counted as a form of a term whenever the document index could
//! find it so. It lets through entries the topic then does not take; the
//! full evaluation decides those.

use super::Topic;
use super::document::{Field, FieldSet};
use super::key::TextBuild;
use super::query::{Node, NodeKind, Query, TermId};
use super::stem::{is_russian_ending, with_stem};
use super::term::WordPattern;
use super::text::for_each_word_at;
use crate::model::FeedId;
use std::cell::RefCell;
use std::collections::HashMap;

/// Distinct words whose groups are remembered; past this many the table
/// is dropped and refilled.
const MAX_WORDS: usize = 200_000;

/// Term groups (one bit each) the check can keep track of; the topics
/// past them are always indexed.
const MAX_GROUPS: usize = 64;

/// A query reduced to what the check evaluates: its clauses, with each
/// term or alias as the bit of its group.
enum Shape {
    Group {
        bit: u64,
        fields: FieldSet,
        /// Words of the group's longest term, less one: how far past its
        /// first word a match may reach.
        extra: u32,
        weight: f64,
    },
    /// `NOT …` and `lang:…`: may match whatever the words.
    Always {
        weight: f64,
    },
    And(Vec<Shape>, f64),
    Or(Vec<Shape>, f64),
    Near {
        left: Box<Shape>,
        right: Box<Shape>,
        within: u32,
        weight: f64,
    },
}

/// What the check knows of an entry's words.
struct Words<'a> {
    /// Each segment's field and the bits of the groups that occur in it.
    segments: &'a [(Field, u64)],
    /// Where the words of some group are.
    found: &'a [Found],
}

/// A word that may be a form of some group's term: its segment, position
/// in the segment and group bits.
struct Found {
    segment: u32,
    index: u32,
    bits: u64,
}

/// Where a clause may match: a run of words in one segment (`end`
/// inclusive) that holds the run where it does match, if it does.
#[derive(Clone, Copy)]
struct Span {
    segment: u32,
    start: u32,
    end: u32,
}

impl Span {
    /// Words between two spans of one segment: never more than between
    /// the runs they hold (the matcher's `Span::gap`, except that equal
    /// spans may hold different runs, so they count as adjacent).
    fn gap(&self, other: &Span) -> Option<u32> {
        if self.segment != other.segment {
            None
        } else if self.end < other.start {
            Some(other.start - self.end - 1)
        } else if other.end < self.start {
            Some(self.start - other.end - 1)
        } else {
            Some(0)
        }
    }
}

/// What a clause may do on an entry: whether it may match, in which
/// segments (bit `i` for the `i`th; the 64th stands for it and all later
/// ones), and the most it may add to the score.
struct Loose {
    may: bool,
    segments: u64,
    score: f64,
}

impl Loose {
    const NEVER: Loose = Loose {
        may: false,
        segments: 0,
        score: 0.0,
    };
}

impl Shape {
    /// The shape of `node`, a clause of `query`, giving each distinct term
    /// group a bit (from `groups`, shared by the query's clauses); `None`
    /// past [`MAX_GROUPS`].
    fn of(
        query: &Query,
        node: &Node,
        groups: &mut Vec<Vec<TermId>>,
        first: usize,
    ) -> Option<Shape> {
        let weight = node.weight.unwrap_or(0.0);
        let mut all = |parts: &[Node]| {
            parts
                .iter()
                .map(|p| Shape::of(query, p, groups, first))
                .collect::<Option<Vec<_>>>()
        };
        Some(match &node.kind {
            NodeKind::Term { term, fields } => {
                Shape::group(query, vec![*term], *fields, weight, groups, first)?
            }
            NodeKind::Alias { terms, fields, .. } => {
                Shape::group(query, terms.clone(), *fields, weight, groups, first)?
            }
            NodeKind::Lang(_) | NodeKind::Not(_) => Shape::Always { weight },
            NodeKind::And(parts) => Shape::And(all(parts)?, weight),
            NodeKind::Or(parts) => Shape::Or(all(parts)?, weight),
            NodeKind::Near {
                left,
                right,
                within,
            } => Shape::Near {
                left: Box::new(Shape::of(query, left, groups, first)?),
                right: Box::new(Shape::of(query, right, groups, first)?),
                within: *within,
                weight,
            },
        })
    }

    fn group(
        query: &Query,
        mut terms: Vec<TermId>,
        fields: FieldSet,
        weight: f64,
        groups: &mut Vec<Vec<TermId>>,
        first: usize,
    ) -> Option<Shape> {
        terms.sort_unstable();
        terms.dedup();
        let longest = terms.iter().map(|t| query.term(*t).words.len());
        let extra = longest.max().unwrap_or(1).saturating_sub(1) as u32;
        let index = match groups.iter().position(|g| *g == terms) {
            Some(i) => i,
            None => {
                groups.push(terms);
                groups.len() - 1
            }
        };
        let bit = first + index;
        (bit < MAX_GROUPS).then(|| Shape::Group {
            bit: 1 << bit,
            fields,
            extra,
            weight,
        })
    }

    /// Evaluates the shape loosely on `words`.
    fn loose(&self, words: &Words) -> Loose {
        match self {
            Shape::Group {
                bit,
                fields,
                weight,
                ..
            } => {
                let found = words
                    .segments
                    .iter()
                    .enumerate()
                    .filter(|(_, (field, bits))| bits & bit != 0 && fields.contains(*field))
                    .fold(0u64, |acc, (i, _)| acc | 1 << i.min(63));
                Loose {
                    may: found != 0,
                    segments: found,
                    score: *weight,
                }
            }
            Shape::Always { weight } => Loose {
                may: true,
                segments: 0,
                score: *weight,
            },
            Shape::And(parts, weight) => {
                let mut score = 0.0;
                for part in parts {
                    let p = part.loose(words);
                    if !p.may {
                        return Loose::NEVER;
                    }
                    score += p.score;
                }
                Loose {
                    may: true,
                    segments: 0,
                    score: score + weight,
                }
            }
            Shape::Or(parts, weight) => {
                let (mut may, mut found, mut score) = (false, 0u64, 0.0);
                for p in parts.iter().map(|p| p.loose(words)).filter(|p| p.may) {
                    may = true;
                    found |= p.segments;
                    // A part that matches with a negative score can only
                    // lower the sum; one that does not match adds nothing.
                    score += p.score.max(0.0);
                }
                Loose {
                    may,
                    segments: found,
                    score: score + weight,
                }
            }
            Shape::Near {
                left,
                right,
                weight,
                ..
            } => {
                let (l, r) = (left.loose(words), right.loose(words));
                // By segment first (cheap); then by distance.
                let mut found = l.segments & r.segments;
                if found != 0 && self.spans(words.segments, words.found).is_empty() {
                    found = 0;
                }
                Loose {
                    may: l.may && r.may && found != 0,
                    segments: found,
                    score: *weight,
                }
            }
        }
    }

    /// Where a positional clause (group, `OR` of them, `NEAR`) may match,
    /// from where the groups' words are.
    fn spans(&self, segments: &[(Field, u64)], at: &[Found]) -> Vec<Span> {
        match self {
            Shape::Group {
                bit, fields, extra, ..
            } => at
                .iter()
                .filter(|f| f.bits & bit != 0)
                .filter(|f| {
                    let field = segments.get(f.segment as usize).map(|s| s.0);
                    field.is_some_and(|field| fields.contains(field))
                })
                .map(|f| Span {
                    segment: f.segment,
                    start: f.index,
                    end: f.index.saturating_add(*extra),
                })
                .collect(),
            Shape::Or(parts, _) => parts.iter().flat_map(|p| p.spans(segments, at)).collect(),
            Shape::Near {
                left,
                right,
                within,
                ..
            } => {
                let rights = right.spans(segments, at);
                let mut out = Vec::new();
                for l in left.spans(segments, at) {
                    for r in &rights {
                        if l.gap(r).is_some_and(|g| g <= *within) {
                            out.push(Span {
                                segment: l.segment,
                                start: l.start.min(r.start),
                                end: l.end.max(r.end),
                            });
                        }
                    }
                }
                out
            }
            // The parser lets only positional clauses into NEAR.
            Shape::Always { .. } | Shape::And(..) => Vec::new(),
        }
    }
}

/// The groups' words (each term's first), filed by what a document word
/// is compared on, so that judging a new word takes a few lookups however
/// many terms the topics have.
#[derive(Default)]
struct Patterns {
    exact: HashMap<Box<str>, u64, TextBuild>,
    stems: HashMap<Box<str>, u64, TextBuild>,
    bases: HashMap<Box<str>, u64, TextBuild>,
    prefixes: Vec<(Box<str>, u64)>,
}

impl Patterns {
    fn add(&mut self, pattern: &WordPattern, bit: u64) {
        match pattern {
            WordPattern::Exact { word, .. } => {
                *self.exact.entry(word.text().into()).or_default() |= bit;
            }
            WordPattern::Prefix { prefix, .. } => {
                match self.prefixes.iter_mut().find(|(p, _)| p == prefix) {
                    Some((_, bits)) => *bits |= bit,
                    None => self.prefixes.push((prefix.clone(), bit)),
                }
            }
            WordPattern::Forms { stem, bases, .. } => {
                *self.stems.entry(stem.text().into()).or_default() |= bit;
                for base in bases {
                    *self.bases.entry(base.text().into()).or_default() |= bit;
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.stems.is_empty() && self.prefixes.is_empty()
    }

    /// The groups `word` (folded) may count for: those of every pattern
    /// that may find it in a document, a superset of what
    /// [`super::document::Document`]'s lookup finds. By pattern kind: the
    /// same word; a prefix of it; the same stem; or (Cyrillic) one of the
    /// term's bases followed by an ending, which is at most eight bytes
    /// (see `is_russian_ending`), so only the word's last few cuts are
    /// looked up.
    fn bits_of(&self, word: &str) -> u64 {
        let mut bits = self.exact.get(word).copied().unwrap_or(0);
        for (prefix, b) in &self.prefixes {
            if word.starts_with(&**prefix) {
                bits |= b;
            }
        }
        bits |= with_stem(word, |stem, _| self.stems.get(stem).copied().unwrap_or(0));
        if !self.bases.is_empty() {
            let cuts = word.char_indices().map(|(at, _)| at).chain([word.len()]);
            for at in cuts.filter(|at| word.len() - at <= 8) {
                if is_russian_ending(&word[at..]) {
                    bits |= self.bases.get(&word[..at]).copied().unwrap_or(0);
                }
            }
        }
        bits
    }
}

/// The group bits of each word seen so far. Words are looked up for every
/// word of every entry, so most are kept inline as integers (compared
/// without a call and without following a pointer); the few longer ones
/// are kept as text.
#[derive(Default)]
struct WordBits {
    short: HashMap<Packed, u64, TextBuild>,
    long: HashMap<Box<str>, u64, TextBuild>,
}

/// A word of at most 24 bytes, zero-padded: words hold no zero bytes (they
/// are runs of letters and digits), so two words never pack alike.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Packed([u64; 3]);

impl Packed {
    fn of(word: &str) -> Option<Packed> {
        let bytes = word.as_bytes();
        let mut buf = [0u8; 24];
        buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
        let int = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        Some(Packed([int(0), int(1), int(2)]))
    }
}

impl std::hash::Hash for Packed {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.iter().for_each(|w| state.write_u64(*w));
    }
}

impl WordBits {
    fn get_or_insert_with(&mut self, word: &str, bits: impl FnOnce() -> u64) -> u64 {
        if self.short.len() + self.long.len() >= MAX_WORDS {
            self.short.clear();
            self.long.clear();
        }
        match Packed::of(word) {
            Some(packed) => *self.short.entry(packed).or_insert_with(bits),
            None => match self.long.get(word) {
                Some(bits) => *bits,
                None => *self.long.entry(word.into()).or_insert_with(bits),
            },
        }
    }
}

/// The check for one set of topics (at most 64 of them).
pub struct Prefilter<'a> {
    topics: &'a [Topic],
    /// Per topic, its query's shape; `None` when its groups did not fit
    /// (the topic is always a candidate).
    shapes: Vec<Option<Shape>>,
    /// The first word of every term of every group, with the bits of the
    /// groups it belongs to.
    patterns: Patterns,
    /// The group bits of each word seen so far.
    words: RefCell<WordBits>,
}

impl<'a> Prefilter<'a> {
    pub fn new(topics: &'a [Topic]) -> Prefilter<'a> {
        let mut patterns = Patterns::default();
        let mut shapes = Vec::with_capacity(topics.len());
        let mut next_bit = 0;
        for topic in topics {
            let mut groups = Vec::new();
            let shape = Shape::of(&topic.query, topic.query.root(), &mut groups, next_bit);
            if shape.is_some() {
                for (i, group) in groups.iter().enumerate() {
                    let bit = 1u64 << (next_bit + i);
                    for term in group {
                        // A phrase occurs only where its first word does.
                        let Some(first) = topic.query.term(*term).words.first() else {
                            continue;
                        };
                        patterns.add(first, bit);
                    }
                }
                next_bit += groups.len();
            }
            shapes.push(shape);
        }
        Prefilter {
            topics,
            shapes,
            patterns,
            words: RefCell::default(),
        }
    }

    /// The topics (bit `i` for the `i`th) that may match an entry of `feed`
    /// whose document would be made of `texts`: each segment's field and
    /// text, in the order a document indexes them.
    pub fn candidates<'t>(
        &self,
        feed: FeedId,
        texts: impl IntoIterator<Item = (Field, &'t str)>,
    ) -> u64 {
        let mut segments: Vec<(Field, u64)> = Vec::new();
        let mut found: Vec<Found> = Vec::new();
        if !self.patterns.is_empty() {
            let mut words = self.words.borrow_mut();
            for (segment, (field, text)) in texts.into_iter().enumerate() {
                let mut in_segment = 0u64;
                for_each_word_at(text, |word, index| {
                    let bits = words.get_or_insert_with(word, || self.patterns.bits_of(word));
                    if bits != 0 {
                        in_segment |= bits;
                        let segment = segment as u32;
                        found.push(Found {
                            segment,
                            index,
                            bits,
                        });
                    }
                });
                segments.push((field, in_segment));
            }
        }
        let words = Words {
            segments: &segments,
            found: &found,
        };
        let candidate = |topic: &Topic, shape: &Option<Shape>| {
            if !topic.allows_feed(Some(feed)) {
                return false;
            }
            let Some(shape) = shape else {
                return true;
            };
            let loose = shape.loose(&words);
            // Sums are bounded in the order the matcher adds them, so
            // rounding cannot put the bound below the real score.
            loose.may && topic.min_score.is_none_or(|min| loose.score >= min)
        };
        self.topics
            .iter()
            .zip(&self.shapes)
            .enumerate()
            .filter(|(_, (topic, shape))| candidate(topic, shape))
            .fold(0u64, |acc, (i, _)| acc | 1 << i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::{Aliases, Document, Query};

    fn query(text: &str) -> Query {
        let mut aliases = Aliases::default();
        let russia = ["russia", "russian", "moscow", "росси*", "москва", "путин"];
        aliases.define("russia", &russia).unwrap();
        let china = ["china", "beijing", "xi jinping", "китай", "пекин"];
        aliases.define("china", &china).unwrap();
        Query::parse(text, &aliases).unwrap()
    }

    fn topic(text: &str) -> Topic {
        Topic::new("t", "T", query(text))
    }

    /// Which of `topics` may match a title and a summary.
    fn candidates(topics: &[Topic], title: &str, summary: &str) -> u64 {
        let texts = [(Field::Title, title), (Field::Summary, summary)];
        Prefilter::new(topics).candidates(FeedId(1), texts)
    }

    #[test]
    fn rules_out_topics_whose_terms_do_not_occur() {
        let topics = ["@russia @china", "@china", "NOT @china", "moscow"].map(topic);
        assert_eq!(candidates(&topics, "Weather in Paris", ""), 0b0100);
        assert_eq!(candidates(&topics, "Rain in Beijing", ""), 0b0110);
        assert_eq!(
            candidates(&topics, "Путин прибыл в Пекин", "Переговоры в Москве"),
            0b0111,
            "forms by stem and by base count"
        );
        assert_eq!(
            candidates(&topics, "Xi visits the Kremlin", "Russian officials"),
            0b0111,
            "a phrase counts by its first word"
        );
        assert_eq!(candidates(&topics, "Россиянам и Китаю", ""), 0b0111);
    }

    #[test]
    fn fields_segments_and_scores_narrow_the_check() {
        let topics = [
            "title:(@russia AND @china)",
            "@russia NEAR/3 @china",
            "(title:@russia)^2 OR (summary:@china)^2 OR (title:@china)^-5",
        ]
        .map(topic);
        // Both, but in different fields: no headline pair, no NEAR.
        assert_eq!(candidates(&topics, "Moscow talks", "Beijing too"), 0b100);
        assert_eq!(candidates(&topics, "Moscow and Beijing", ""), 0b111);
        // Both in the headline, too far apart for NEAR/3.
        let far = "Moscow is far, very far away from Beijing";
        assert_eq!(candidates(&topics, far, ""), 0b101);
        // A phrase reaches past its first word: "xi jinping" ends next to
        // "Moscow".
        let phrase = [
            topic("@china NEAR/0 moscow"),
            topic("jinping NEAR/0 moscow"),
        ];
        assert_eq!(candidates(&phrase, "Xi Jinping Moscow", ""), 0b11);
        assert_eq!(candidates(&phrase, "Xi Jinping in Moscow", ""), 0b00);
        let mut scored = topic("(title:@russia)^2 OR (summary:@china)^2 OR (title:@china)^-5");
        scored.min_score = Some(4.0);
        let scored = [scored];
        assert_eq!(candidates(&scored, "Moscow talks", "Beijing too"), 1);
        assert_eq!(
            candidates(&scored, "Moscow talks", "Paris too"),
            0,
            "2 is the most it can score"
        );
        assert_eq!(
            candidates(&scored, "Moscow and Beijing", "Beijing too"),
            1,
            "a negative clause that may match does not lower the bound"
        );
        let mut elsewhere = topic("@china");
        elsewhere.feeds = Some(vec![FeedId(2)]);
        assert_eq!(candidates(&[elsewhere], "Beijing", ""), 0);
    }

    #[test]
    fn topics_past_the_group_limit_are_always_candidates() {
        let wide = (0..40).map(|i| format!("w{i}")).collect::<Vec<_>>();
        let topics = [
            topic(&wide.join(" OR ")),
            topic(&wide.join(" OR ")),
            topic("w1"),
        ];
        // 40 + 40 groups do not fit in 64: the second is not checked.
        assert_eq!(candidates(&topics, "nothing here", ""), 0b010);
        assert_eq!(candidates(&topics, "w1", ""), 0b111);
    }

    /// Whether `word` (folded, with its `stem`) may be a match of
    /// `pattern`, written plainly: what `Patterns::bits_of` must agree with.
    fn may_match(pattern: &WordPattern, word: &str, stem: &str) -> bool {
        match pattern {
            WordPattern::Exact { word: key, .. } => key.text() == word,
            WordPattern::Prefix { prefix, .. } => word.starts_with(&**prefix),
            WordPattern::Forms {
                stem: key, bases, ..
            } => {
                key.text() == stem
                    || bases
                        .iter()
                        .any(|b| word.strip_prefix(b.text()).is_some_and(is_russian_ending))
            }
        }
    }

    #[test]
    fn filed_patterns_judge_words_as_each_pattern_would() {
        let terms = [
            "russia",
            "росси*",
            "китай",
            "пекин",
            "переговоры",
            "talks",
            "trade*",
            "\"си\"",
            "xi jinping",
            "двусторонн*",
            "визит",
        ];
        let patterns: Vec<WordPattern> = terms
            .iter()
            .map(|t| crate::topic::term::Term::alias_item(t).unwrap().words[0].clone())
            .collect();
        let mut filed = Patterns::default();
        for (i, p) in patterns.iter().enumerate() {
            filed.add(p, 1 << i);
        }
        let text = "Russia Russian Russians России Россией российско китайские Китая \
                    Китаю Китаем Китайский Пекине Пекином переговорах переговоров \
                    переговорный talk talks talking trade traders си сие xi jinpings \
                    двусторонние визита визитов визитёр виз кит пек";
        let mut checked = 0;
        crate::topic::text::for_each_word(text, |word| {
            let expected = with_stem(word, |stem, _| {
                patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| may_match(p, word, stem))
                    .fold(0u64, |acc, (i, _)| acc | 1 << i)
            });
            assert_eq!(filed.bits_of(word), expected, "{word}");
            checked += usize::from(expected != 0);
        });
        assert!(checked > 20, "only {checked} words matched some pattern");
    }

    #[test]
    fn words_are_remembered_inline_or_as_text_by_length() {
        let mut table = WordBits::default();
        let short = "китайско"; // 16 bytes
        let edge = "abcdefghijklmnopqrstuvwx"; // 24 bytes: the longest inline
        let long = "российско-китайскими".replace('-', ""); // 38 bytes
        for (i, word) in [short, edge, &long, "a", "ab"].into_iter().enumerate() {
            assert_eq!(table.get_or_insert_with(word, || i as u64), i as u64);
        }
        assert_eq!((table.short.len(), table.long.len()), (4, 1));
        // Known words are not judged again.
        for (i, word) in [short, edge, &long, "a", "ab"].into_iter().enumerate() {
            let again = table.get_or_insert_with(word, || unreachable!("{word} judged twice"));
            assert_eq!(again, i as u64);
        }
        assert!(Packed::of("ab") != Packed::of("abc"));
        assert!(Packed::of(&"x".repeat(25)).is_none());
    }

    #[test]
    fn never_rules_out_a_topic_that_matches() {
        // Every query against every text: wherever the document matches,
        // the check must have let the topic through.
        let queries = [
            "@russia @china",
            "(@russia NEAR/2 @china) OR title:\"xi jinping\"",
            "росси* AND китай",
            "talks OR (trade NEAR/3 oil)",
            "\"russia\" china",
            "summary:(@china) AND NOT title:moscow",
            "(title:@russia)^2 OR (@china NEAR/1 talks)^3 OR (summary:oil)^-1",
            "(@china NEAR/0 moscow) OR ((@russia NEAR/2 @china) NEAR/1 talks)",
        ];
        let texts = [
            ("Russia and China hold talks", "Trade in oil grows."),
            ("Российско-китайские переговоры", "Китаю и России"),
            ("Xi Jinping in Moscow", ""),
            ("Chinese oil trade", "Russians talk"),
            ("Weather", "Rain in Paris"),
            ("Talks", "Beijing, Moscow"),
            ("Россия", "Китаем"),
            ("Russia", "China talks, oil"),
            ("Xi Jinping Moscow talks", "Moscow, then Beijing"),
        ];
        let topics: Vec<Topic> = queries
            .iter()
            .map(|q| {
                let mut t = topic(q);
                t.min_score = q.contains('^').then_some(5.0);
                t
            })
            .collect();
        let check = Prefilter::new(&topics);
        let mut matched = 0;
        for (title, summary) in texts {
            let doc = Document::of_text(title, Some(summary));
            let texts = [(Field::Title, title), (Field::Summary, summary)];
            let bits = check.candidates(FeedId(1), texts);
            for (i, t) in topics.iter().enumerate() {
                if t.evaluate(&doc).matched() {
                    matched += 1;
                    assert!(
                        bits & 1 << i != 0,
                        "{:?} ruled out for {title:?}",
                        t.query.text()
                    );
                }
            }
        }
        assert!(
            matched > 10,
            "only {matched} matches: the check was hardly tested"
        );
    }
}
