//! Measuring a topic against labelled items: precision and recall on the
//! items a careful reader judged relevant.
//!
//! The input is a TSV with a header naming at least `id`, `label`, `title`
//! and `summary` (optionally `lang` and `feed`), the layout of
//! `shared/topics/*/dev.tsv`. Label 2 means relevant and 0 not; label 1
//! ("partly") counts neither way.

use super::Topic;
use super::document::Document;
use crate::model::{Entry, EntryId, FeedId};

/// One labelled item.
#[derive(Clone, Debug)]
pub struct LabelledItem {
    pub id: String,
    pub label: u8,
    pub entry: Entry,
}

/// Reads a labelled TSV. Errors name the line.
pub fn read_tsv(text: &str) -> Result<Vec<LabelledItem>, String> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err("empty file: expected a header line".into());
    };
    let columns: Vec<&str> = header.split('\t').collect();
    let column = |name: &str| columns.iter().position(|c| *c == name);
    let required = |name: &str| column(name).ok_or(format!("no `{name}` column in the header"));
    let (id, label, title, summary) = (
        required("id")?,
        required("label")?,
        required("title")?,
        required("summary")?,
    );
    let (lang, feed) = (column("lang"), column("feed"));
    let mut items = Vec::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        let cell = |i: usize| cells.get(i).copied().unwrap_or("");
        let line_no = n + 1;
        let label = cell(label)
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= 2)
            .ok_or(format!("line {line_no}: label must be 0, 1 or 2"))?;
        let feed_name = feed.map_or("", cell);
        let now = chrono::Utc::now();
        let entry = Entry {
            id: EntryId::derive(feed_name, cell(id)),
            feed: FeedId::for_url(feed_name),
            identity: cell(id).to_owned(),
            link: None,
            title: cell(title).to_owned(),
            summary: Some(cell(summary).to_owned()).filter(|s| !s.is_empty()),
            content: None,
            authors: Vec::new(),
            categories: Vec::new(),
            language: lang.map(cell).filter(|l| !l.is_empty()).map(str::to_owned),
            published: None,
            first_seen: now,
            updated: now,
        };
        items.push(LabelledItem {
            id: cell(id).to_owned(),
            label,
            entry,
        });
    }
    Ok(items)
}

/// Counts over the decided items (labels 0 and 2), and the mistakes.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
    /// Items labelled 1 that the topic took (not counted in P/R).
    pub partial_taken: usize,
    pub partial_total: usize,
    /// (id, score, title) of each item taken but labelled 0.
    pub false_positive_items: Vec<(String, f64, String)>,
    /// (id, score, title) of each item labelled 2 but left out.
    pub false_negative_items: Vec<(String, f64, String)>,
}

impl Report {
    /// Of the items taken, the share that are relevant (1 when none taken).
    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Of the relevant items, the share taken (1 when there are none).
    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "precision {:.3} recall {:.3} (tp {}, fp {}, fn {}, tn {}; label-1 items taken {}/{})",
            self.precision(),
            self.recall(),
            self.true_positives,
            self.false_positives,
            self.false_negatives,
            self.true_negatives,
            self.partial_taken,
            self.partial_total
        )
    }
}

/// Runs `topic` over `items`.
pub fn evaluate(topic: &Topic, items: &[LabelledItem]) -> Report {
    let fields = topic.fields();
    let mut report = Report::default();
    for item in items {
        let doc = Document::of_entry(&item.entry, None, fields);
        let verdict = topic.evaluate(&doc);
        let row = || (item.id.clone(), verdict.score, item.entry.title.clone());
        match (item.label, verdict.matched()) {
            (2, true) => report.true_positives += 1,
            (2, false) => {
                report.false_negatives += 1;
                report.false_negative_items.push(row());
            }
            (0, true) => {
                report.false_positives += 1;
                report.false_positive_items.push(row());
            }
            (0, false) => report.true_negatives += 1,
            (_, taken) => {
                report.partial_total += 1;
                report.partial_taken += usize::from(taken);
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topic::{Aliases, Query};

    #[test]
    fn counts_label_two_as_relevant_and_ignores_label_one() {
        let tsv = "id\tlabel\tlang\tfeed\ttitle\tsummary\n\
                   a\t2\ten\tf\tRussia and China sign a deal\t\n\
                   b\t2\ten\tf\tMoscow hosts Beijing\t\n\
                   c\t0\ten\tf\tRussia, China and Iran named as threats\t\n\
                   d\t0\ten\tf\tWeather\tRain\n\
                   e\t1\ten\tf\tRussia and China, in passing\t\n";
        let items = read_tsv(tsv).unwrap();
        assert_eq!(items.len(), 5);
        assert_eq!(items[0].entry.language.as_deref(), Some("en"));
        let topic = Topic::new(
            "t",
            "T",
            Query::parse("russia china", &Aliases::default()).unwrap(),
        );
        let r = evaluate(&topic, &items);
        assert_eq!(
            (
                r.true_positives,
                r.false_positives,
                r.false_negatives,
                r.true_negatives
            ),
            (1, 1, 1, 1)
        );
        assert_eq!((r.partial_taken, r.partial_total), (1, 1));
        assert_eq!(r.precision(), 0.5);
        assert_eq!(r.recall(), 0.5);
        assert_eq!(r.false_positive_items[0].0, "c");
        assert_eq!(r.false_negative_items[0].0, "b");
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        assert!(read_tsv("").is_err());
        assert!(read_tsv("id\ttitle\n").unwrap_err().contains("label"));
        let err = read_tsv("id\tlabel\ttitle\tsummary\nx\t7\tt\ts\n").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
    }
}
