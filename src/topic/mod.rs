//! Topics: named queries that select entries for a served feed.
//!
//! A topic is matched against an entry's title, summary (as plain text) and
//! categories. Matching is pure and cheap, so a topic is evaluated when a
//! feed is served, over entries already in the store: a topic added to the
//! config has its history at once, and changing a query needs no re-index.

mod query;
pub mod text;

pub use query::{Query, QueryError};

use crate::model::Entry;
use crate::normalize::text::html_to_text;

/// A configured topic, with its query already parsed.
#[derive(Clone, Debug)]
pub struct Topic {
    /// URL-safe name: the feed is served at `/feeds/{slug}.atom`.
    pub slug: String,
    pub title: String,
    pub query: Query,
}

impl Topic {
    pub fn matches(&self, doc: &Document) -> bool {
        doc.matches(&self.query)
    }
}

/// The searchable words of one entry, one list per field so that a phrase
/// never matches across the end of the title into the summary.
pub struct Document {
    fields: Vec<Vec<String>>,
}

impl Document {
    pub fn of_entry(entry: &Entry) -> Document {
        let mut fields = Vec::with_capacity(2 + entry.categories.len());
        fields.push(text::words(&entry.title));
        if let Some(summary) = &entry.summary {
            fields.push(text::words(&html_to_text(summary)));
        }
        fields.extend(entry.categories.iter().map(|c| text::words(c)));
        Document { fields }
    }

    pub fn of_text(text: &str) -> Document {
        Document {
            fields: vec![text::words(text)],
        }
    }

    pub fn matches(&self, query: &Query) -> bool {
        match query {
            Query::Phrase(phrase) => self.contains(phrase),
            Query::And(parts) => parts.iter().all(|q| self.matches(q)),
            Query::Or(parts) => parts.iter().any(|q| self.matches(q)),
            Query::Not(inner) => !self.matches(inner),
        }
    }

    fn contains(&self, phrase: &[String]) -> bool {
        self.fields.iter().any(|words| {
            words.len() >= phrase.len() && words.windows(phrase.len()).any(|w| w == phrase)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: &str, text: &str) -> bool {
        Document::of_text(text).matches(&Query::parse(query).unwrap())
    }

    #[test]
    fn boolean_logic_on_word_boundaries() {
        let q = r#"(russia OR putin) AND (china OR "xi jinping")"#;
        assert!(matches(q, "Putin meets Xi Jinping in Beijing"));
        assert!(matches(q, "RUSSIA and China sign a gas deal"));
        assert!(matches(q, "China's exports to Russia grow"));
        assert!(!matches(q, "Putin meets Xi"));
        assert!(!matches(q, "Prussian china collection")); // word boundaries
        assert!(!matches(q, "Jinping Xi")); // phrase order
        assert!(matches("russia NOT china", "Russia alone"));
        assert!(!matches("russia NOT china", "Russia and China"));
    }

    #[test]
    fn phrases_do_not_span_fields() {
        let entry = Entry {
            id: crate::model::EntryId([0; 16]),
            feed: crate::model::FeedId(0),
            identity: String::new(),
            link: None,
            title: "Talks with Xi".into(),
            summary: Some("<p>Jinping <b>visits</b> Moscow</p>".into()),
            content: None,
            authors: vec![],
            categories: vec!["World news".into()],
            language: None,
            published: None,
            first_seen: chrono::Utc::now(),
            updated: chrono::Utc::now(),
        };
        let doc = Document::of_entry(&entry);
        assert!(!doc.matches(&Query::parse(r#""xi jinping""#).unwrap()));
        assert!(doc.matches(&Query::parse("xi jinping visits moscow").unwrap()));
        assert!(doc.matches(&Query::parse(r#""world news""#).unwrap()));
    }
}
