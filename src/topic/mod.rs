//! Topics: named queries that select entries for a served feed.
//!
//! A topic is a query (see `query` for the language), optionally narrowed
//! to some feeds and languages, an `exclude` query that vetoes, and a
//! `min_score` that weighted clauses must reach. Matching is pure and
//! cheap, so a topic is evaluated when a feed is served, over entries
//! already in the store: a topic added to the config has its history at
//! once, and changing a query needs no re-index.
//!
//! Pipeline of one check: the prefilter (`prefilter`) reads the entry's
//! words once and rules out the topics that cannot match it; if any are
//! left, the entry becomes a [`Document`] (its words folded, stemmed and
//! indexed) and each of them evaluates it. Verdicts are remembered per
//! entry text (`memo`).

mod alias;
mod document;
pub mod eval;
pub mod explain;
mod key;
mod lang;
mod matcher;
mod memo;
mod prefilter;
mod query;
mod stem;
mod term;
pub mod text;

pub use alias::{AliasError, Aliases};
use document::PlainText;
pub use document::{Document, FeedMeta, Field, FieldSet};
pub use lang::{Language, LanguageSource, detect as detect_language, parse_language_code};
pub use matcher::Outcome;
pub use memo::Memo;
use prefilter::Prefilter;
pub use query::{Query, QueryError};
pub use stem::same_word;

use crate::model::{FeedId, FeedState};
use std::collections::HashMap;

/// A configured topic, with its queries already parsed.
#[derive(Clone, Debug)]
pub struct Topic {
    /// URL-safe name: the feed is served at `/feeds/{slug}.atom`.
    pub slug: String,
    pub title: String,
    pub query: Query,
    /// Entries this matches are left out, whatever their score.
    pub exclude: Option<Query>,
    /// Only entries of these feeds, when set.
    pub feeds: Option<Vec<FeedId>>,
    /// Only entries in these languages (codes such as `en`), when set.
    pub languages: Option<Vec<String>>,
    /// The least score a match needs, when set.
    pub min_score: Option<f64>,
}

/// Why a topic took or left an entry, in the order the checks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Matched,
    /// The entry's feed is not in the topic's `feeds`.
    OtherFeed,
    /// The entry's language is unknown or not in `languages`.
    OtherLanguage,
    /// The query does not match.
    QueryMissed,
    /// The `exclude` query matches.
    Excluded,
    /// The query matches but scores below `min_score`.
    BelowMinScore,
}

/// A topic's decision about one entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    pub reason: Reason,
    /// The query's score (0 when it did not match).
    pub score: f64,
}

impl Verdict {
    pub fn matched(&self) -> bool {
        self.reason == Reason::Matched
    }
}

impl Topic {
    /// A topic with only a slug, title and query.
    pub fn new(slug: &str, title: &str, query: Query) -> Topic {
        Topic {
            slug: slug.to_owned(),
            title: title.to_owned(),
            query,
            exclude: None,
            feeds: None,
            languages: None,
            min_score: None,
        }
    }

    /// Whether entries of `feed` may be taken (`feeds` is unset, or lists
    /// it).
    pub fn allows_feed(&self, feed: Option<FeedId>) -> bool {
        self.feeds
            .as_ref()
            .is_none_or(|feeds| feed.is_some_and(|f| feeds.contains(&f)))
    }

    pub fn evaluate(&self, doc: &Document) -> Verdict {
        let verdict = |reason, score| Verdict { reason, score };
        if !self.allows_feed(doc.feed()) {
            return verdict(Reason::OtherFeed, 0.0);
        }
        if let Some(languages) = &self.languages {
            let lang = doc.language();
            if !languages.iter().any(|l| lang.is_some_and(|d| d.is(l))) {
                return verdict(Reason::OtherLanguage, 0.0);
            }
        }
        let outcome = matcher::eval(&self.query, doc);
        if !outcome.matched {
            return verdict(Reason::QueryMissed, 0.0);
        }
        if let Some(exclude) = &self.exclude {
            if matcher::eval(exclude, doc).matched {
                return verdict(Reason::Excluded, outcome.score);
            }
        }
        if self.min_score.is_some_and(|min| outcome.score < min) {
            return verdict(Reason::BelowMinScore, outcome.score);
        }
        verdict(Reason::Matched, outcome.score)
    }

    pub fn matches(&self, doc: &Document) -> bool {
        self.evaluate(doc).matched()
    }

    /// The entry fields this topic reads (and whether it needs to know the
    /// entry's language).
    pub fn fields(&self) -> FieldSet {
        let exclude = self.exclude.as_ref().map_or(FieldSet::EMPTY, Query::fields);
        let language = match self.languages {
            Some(_) => FieldSet::language(),
            None => FieldSet::EMPTY,
        };
        self.query.fields().union(exclude).union(language)
    }
}

/// The fields any of `topics` reads: what a document built for all of
/// them must index.
pub fn fields_of<'a>(topics: impl IntoIterator<Item = &'a Topic>) -> FieldSet {
    topics
        .into_iter()
        .fold(FieldSet::EMPTY, |acc, t| acc.union(t.fields()))
}

/// Matches entries against every configured topic for one request: holds
/// what the topics may know about feeds, and indexes each entry once with
/// the fields any topic reads.
pub struct Tagger<'a> {
    topics: &'a [Topic],
    feeds: HashMap<FeedId, FeedMeta>,
    fields: FieldSet,
    /// Verdicts remembered across requests, valid for `key`: a fingerprint
    /// of the topics and the feed details they may read.
    memo: &'a Memo,
    key: u64,
    /// Rules topics out before an entry is indexed; made on first use
    /// (most requests find every verdict remembered).
    prefilter: std::cell::OnceCell<Prefilter<'a>>,
}

impl<'a> Tagger<'a> {
    /// `states` are the stored feeds, `titles` the titles the config gives.
    pub fn new(
        topics: &'a [Topic],
        states: &[FeedState],
        titles: &HashMap<FeedId, String>,
    ) -> Tagger<'a> {
        Tagger::with_memo(topics, states, titles, &memo::SHARED)
    }

    /// A tagger that remembers its verdicts in `memo`.
    pub fn with_memo(
        topics: &'a [Topic],
        states: &[FeedState],
        titles: &HashMap<FeedId, String>,
        memo: &'a Memo,
    ) -> Tagger<'a> {
        let feeds = feed_directory(states, titles);
        Tagger {
            key: fingerprint(topics, &feeds),
            topics,
            feeds,
            fields: fields_of(topics),
            memo,
            prefilter: std::cell::OnceCell::new(),
        }
    }

    pub fn document(&self, entry: &crate::model::Entry) -> Document {
        Document::of_entry(entry, self.feeds.get(&entry.feed), self.fields)
    }

    /// The topics that take `doc`, in config order.
    pub fn matching<'t>(&'t self, doc: &'t Document) -> impl Iterator<Item = &'a Topic> + 't {
        self.topics.iter().filter(move |t| t.matches(doc))
    }

    /// The topics that take `entry`, in config order: the remembered
    /// verdicts when its text has not changed since they were made (no
    /// indexing at all), else judged now and remembered.
    pub fn topics_of(&self, entry: &crate::model::Entry) -> Vec<&'a Topic> {
        if self.topics.len() > memo::MAX_TOPICS {
            return self.matching(&self.document(entry)).collect();
        }
        let slot = memo::Slot::of(entry);
        let taken = match self.memo.recall(self.key, slot) {
            Some(taken) => taken,
            None => {
                let taken = self.judge(entry);
                self.memo.remember(self.key, slot, taken);
                taken
            }
        };
        self.topics
            .iter()
            .enumerate()
            .filter(|(i, _)| taken & (1 << i) != 0)
            .map(|(_, t)| t)
            .collect()
    }
}

impl Tagger<'_> {
    /// The topics (bit `i` for the `i`th, of at most [`memo::MAX_TOPICS`])
    /// that take `entry`. The entry is indexed only when the prefilter
    /// leaves some topic that may take it, and only those are evaluated.
    fn judge(&self, entry: &crate::model::Entry) -> u64 {
        let feed = self.feeds.get(&entry.feed);
        let plain = PlainText::of(entry, self.fields);
        let prefilter = self.prefilter.get_or_init(|| Prefilter::new(self.topics));
        let texts = document::indexed_texts(entry, &plain, feed, self.fields);
        let candidates = prefilter.candidates(entry.feed, texts);
        if candidates == 0 {
            return 0;
        }
        let doc = Document::of_plain(entry, &plain, feed, self.fields);
        self.topics
            .iter()
            .enumerate()
            .filter(|(i, t)| candidates & 1 << i != 0 && t.matches(&doc))
            .fold(0u64, |bits, (i, _)| bits | 1 << i)
    }
}

/// A fingerprint of everything a verdict depends on besides the entry:
/// the topics (their parsed queries, with aliases expanded, and settings)
/// and the feed details they may read.
fn fingerprint(topics: &[Topic], feeds: &HashMap<FeedId, FeedMeta>) -> u64 {
    use std::fmt::Write;
    use std::hash::Hasher;
    /// Hashes formatted text without building it.
    struct HashWriter(key::Fnv);
    impl Write for HashWriter {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.write(s.as_bytes());
            Ok(())
        }
    }
    let mut h = HashWriter(key::Fnv::default());
    for topic in topics {
        let _ = write!(h, "{topic:?}");
    }
    let mut feeds: Vec<_> = feeds.iter().collect();
    feeds.sort_by_key(|(id, _)| **id);
    let _ = write!(h, "{feeds:?}");
    h.0.finish()
}

/// What topics may know about each stored feed: the configured title
/// (`titles` by feed) and the feed's own, its URL and declared language.
pub fn feed_directory(
    states: &[FeedState],
    titles: &HashMap<FeedId, String>,
) -> HashMap<FeedId, FeedMeta> {
    states
        .iter()
        .map(|s| {
            let id = s.id();
            let own = s.title.iter().cloned();
            let meta = FeedMeta {
                titles: titles.get(&id).cloned().into_iter().chain(own).collect(),
                url: s.url.clone(),
                language: s.language.clone(),
            };
            (id, meta)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, EntryId};

    fn entry(feed: u64, title: &str, summary: &str, language: Option<&str>) -> Entry {
        Entry {
            id: EntryId([0; 16]),
            feed: FeedId(feed),
            identity: String::new(),
            link: None,
            title: title.into(),
            summary: Some(summary.into()),
            content: None,
            authors: vec![],
            categories: vec!["World news".into()],
            language: language.map(str::to_owned),
            published: None,
            first_seen: chrono::Utc::now(),
            updated: chrono::Utc::now(),
        }
    }

    fn topic(query: &str) -> Topic {
        Topic::new("t", "T", Query::parse(query, &Aliases::default()).unwrap())
    }

    fn doc(e: &Entry) -> Document {
        Document::of_entry(e, None, FieldSet::DEFAULT.union(FieldSet::language()))
    }

    #[test]
    fn phrases_do_not_span_fields() {
        let e = entry(
            1,
            "Talks with Xi",
            "<p>Jinping <b>visits</b> Moscow</p>",
            None,
        );
        let d = doc(&e);
        assert!(!topic(r#""xi jinping""#).matches(&d));
        assert!(topic("xi jinping visits moscow").matches(&d));
        assert!(topic(r#""world news""#).matches(&d));
    }

    #[test]
    fn restrictions_and_exclusions_are_checked_in_order() {
        let e = entry(
            1,
            "Russia and China hold talks",
            "A summit in Beijing.",
            Some("en"),
        );
        let d = doc(&e);
        let mut t = topic("(russia NEAR/3 china)^2 OR talks^1");
        assert_eq!(
            t.evaluate(&d),
            Verdict {
                reason: Reason::Matched,
                score: 3.0
            }
        );

        t.min_score = Some(3.5);
        assert_eq!(t.evaluate(&d).reason, Reason::BelowMinScore);
        t.min_score = Some(3.0);
        assert!(t.matches(&d));

        t.exclude = Some(Query::parse("summit", &Aliases::default()).unwrap());
        assert_eq!(t.evaluate(&d).reason, Reason::Excluded);
        t.exclude = None;

        t.languages = Some(vec!["ru".into()]);
        assert_eq!(t.evaluate(&d).reason, Reason::OtherLanguage);
        t.languages = Some(vec!["ru".into(), "en".into()]);
        assert!(t.matches(&d));

        t.feeds = Some(vec![FeedId(2)]);
        assert_eq!(t.evaluate(&d).reason, Reason::OtherFeed);
        t.feeds = Some(vec![FeedId(1), FeedId(2)]);
        assert!(t.matches(&d));

        let other = doc(&entry(1, "Weather", "Rain.", Some("en")));
        assert_eq!(
            t.evaluate(&other),
            Verdict {
                reason: Reason::QueryMissed,
                score: 0.0
            }
        );
    }

    #[test]
    fn tagger_remembers_verdicts_until_the_entry_or_the_topics_change() {
        let topics = [topic("russia"), topic("china"), topic("russia china")];
        let memo = Memo::default();
        let tagger = Tagger::with_memo(&topics, &[], &HashMap::new(), &memo);
        let mut e = entry(1, "Russia and China", "", None);
        let slugs = |t: Vec<&Topic>| {
            t.iter()
                .map(|t| t.query.text().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            slugs(tagger.topics_of(&e)),
            ["russia", "china", "russia china"]
        );
        // Remembered: the same entry is not indexed again; an edited one is.
        assert_eq!(tagger.topics_of(&e).len(), 3);
        e.title = "Russia alone".into();
        assert_eq!(slugs(tagger.topics_of(&e)), ["russia"]);
        // Changed topics start from scratch (retroactive).
        let other = [topic("alone")];
        let retuned = Tagger::with_memo(&other, &[], &HashMap::new(), &memo);
        assert_eq!(slugs(retuned.topics_of(&e)), ["alone"]);
    }

    #[test]
    fn feed_field_reads_configured_and_own_titles_and_url() {
        let state = FeedState {
            title: Some("TASS English".into()),
            language: Some("en".into()),
            ..FeedState::new("https://tass.com/rss/v2.xml")
        };
        let titles = HashMap::from([(state.id(), "ТАСС".to_owned())]);
        let dir = feed_directory(std::slice::from_ref(&state), &titles);
        let meta = &dir[&state.id()];
        assert_eq!(meta.titles, ["ТАСС", "TASS English"]);
        let e = entry(state.id().0, "Putin", "", None);
        let t = topic("feed:тасс feed:english feed:tass.com");
        assert!(t.fields().contains(Field::Feed));
        let lang = topic("lang:en");
        let d = Document::of_entry(&e, Some(meta), fields_of([&t, &lang]));
        assert!(t.matches(&d));
        assert!(
            topic("lang:en").matches(&d),
            "language falls back to the feed's"
        );
        assert!(!topic("feed:reuters").matches(&d));
    }
}
