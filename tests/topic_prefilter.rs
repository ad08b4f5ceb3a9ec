//! The prefilter that spares most entries their indexing must never change
//! a verdict: over real news (the news-replay snapshots and the labelled
//! Russia–China set) and topics of every query shape, the topics a tagger
//! gives each entry are exactly those a full evaluation of every topic
//! gives.

mod support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use tidings::config::Config;
use tidings::model::{Entry, EntryId, FeedId};
use tidings::topic::eval::read_tsv;
use tidings::topic::{Memo, Tagger};

/// The shipped topics, and more of other shapes over the shipped aliases:
/// phrases, prefixes, negation, languages, other fields.
fn topics() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tidings.toml");
    let mut text = std::fs::read_to_string(&path).expect("shipped config");
    let extra = [
        ("both", "@russia AND @china"),
        ("either", "@russia OR @china"),
        (
            "phrase",
            r#""xi jinping" OR "vladimir putin" OR "си цзиньпин""#,
        ),
        ("prefix", "росси* OR китайск* OR sanction*"),
        ("negated", "@china AND NOT @russia"),
        ("only-not", "NOT @china"),
        ("language", "lang:ru AND (@dealings OR summit)"),
        (
            "fields",
            "category:paid OR content:(oil NEAR/3 gas) OR content:@china",
        ),
        (
            "near",
            "(@russia NEAR/5 @others) OR (trade NEAR/2 @china)^2",
        ),
    ];
    for (slug, query) in extra {
        text.push_str(&format!(
            "\n[[topic]]\nslug = \"{slug}\"\ntitle = \"{slug}\"\nquery = '''{query}'''\n"
        ));
    }
    // A bar only some clauses reach together, and a clause that lowers.
    text.push_str(
        "\n[[topic]]\nslug = \"scored\"\ntitle = \"scored\"\nmin_score = 3\nquery = '''\
         title:@russia^2 OR summary:@china^2 OR (@china NEAR/3 @dealings)^1 \
         OR title:@others^-2'''\n",
    );
    Config::parse(&text, &path, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Entries of every news-replay feed (every third snapshot, each distinct
/// item once), then the labelled set's.
fn entries() -> Vec<Entry> {
    let base = url::Url::parse("https://replay.invalid/feed.xml").expect("url");
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let root = support::shared().join("news-replay");
    let mut feeds: Vec<_> = walk(&root);
    feeds.sort();
    for (i, path) in feeds.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let Ok(parsed) = tidings::normalize::parse_feed(&support::read(path), &base) else {
            continue;
        };
        for item in parsed.items {
            if !seen.insert((item.title.clone(), item.summary.clone())) {
                continue;
            }
            let now = chrono::Utc::now();
            out.push(Entry {
                id: EntryId::derive(&path.to_string_lossy(), &item.title),
                feed: FeedId(i as u64 % 7),
                identity: String::new(),
                link: item.link.map(|l| l.to_string()),
                title: item.title,
                summary: item.summary,
                content: item.content,
                authors: item.authors,
                categories: item.categories,
                language: item.language,
                published: item.published,
                first_seen: now,
                updated: now,
            });
        }
    }
    let dev = support::shared().join("topics/russia-china/dev.tsv");
    let labelled = read_tsv(&String::from_utf8_lossy(&support::read(&dev))).expect("dev set");
    out.extend(labelled.into_iter().map(|l| l.entry));
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable replay dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|x| x == "xml") {
            out.push(path);
        }
    }
    out
}

#[test]
fn prefiltered_verdicts_equal_full_evaluation_on_real_news() {
    let config = topics();
    let topics = &config.topics;
    let memo = Memo::default();
    let tagger = Tagger::with_memo(topics, &[], &HashMap::new(), &memo);
    let entries = entries();
    assert!(entries.len() > 5_000, "too few entries: {}", entries.len());
    let mut matched: HashMap<&str, usize> = HashMap::new();
    for entry in &entries {
        let doc = tagger.document(entry);
        let full: Vec<&str> = topics
            .iter()
            .filter(|t| t.matches(&doc))
            .map(|t| t.slug.as_str())
            .collect();
        let tagged: Vec<&str> = tagger
            .topics_of(entry)
            .iter()
            .map(|t| t.slug.as_str())
            .collect();
        assert_eq!(tagged, full, "{:?}", entry.title);
        for slug in full {
            *matched.entry(slug).or_default() += 1;
        }
    }
    println!("{} entries; matches per topic: {matched:?}", entries.len());
    // Every topic took some entries and left some, so both answers were
    // compared for each.
    for topic in topics {
        let n = matched.get(topic.slug.as_str()).copied().unwrap_or(0);
        assert!(
            n > 0 && n < entries.len(),
            "{}: {n} of {}",
            topic.slug,
            entries.len()
        );
    }
}
