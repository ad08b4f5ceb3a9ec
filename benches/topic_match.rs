//! Topic matching throughput: entry×topic matches per second on one core,
//! over real entries from `../shared/news-replay/` (parsed by the same
//! normalizer the daemon uses) and the topics of `config/tidings.toml`
//! plus a few typical others.
//!
//! `cargo bench --bench topic_match` prints three numbers:
//! - indexing: entries turned into documents per second (once per entry
//!   per request, shared by all topics), with a cold and a warm stem cache;
//! - matching: entry×topic evaluations per second on built documents: the
//!   shipped topics as the daemon matches them (each document right after
//!   it is built, in cache), the same over documents built beforehand (out
//!   of cache: a bound from below), and all topics here, each alone;
//! - end to end: entry×topic per second including the indexing, for the
//!   shipped topics; and as the daemon does it, through a tagger whose
//!   prefilter spares most entries their indexing.
//!
//! No timing is asserted anywhere: machines differ.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tidings::config::Config;
use tidings::model::{Entry, EntryId, FeedId};
use tidings::normalize::parse_feed;
use tidings::topic::{Aliases, Document, Memo, Query, Tagger, Topic, fields_of};

/// Extra topics, so matching is measured over more than one query shape.
const EXTRA_TOPICS: &[(&str, &str)] = &[
    (
        "ukraine-peace",
        "(ukraine OR украина OR kyiv OR киев) NEAR/10 (talks OR ceasefire OR переговоры OR перемирие)",
    ),
    (
        "energy",
        "title:(oil OR gas OR lng OR нефть OR газ)^2 OR (opec OR pipeline* OR трубопровод)^1",
    ),
    (
        "tech",
        "(ai OR \"artificial intelligence\" OR chip* OR semiconductor*) NOT sport*",
    ),
];

fn main() {
    // The daemon's allocator settings: memory figures are the daemon's.
    tidings::memory::tune_allocator();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config_path = root.join("config/tidings.toml");
    let source = std::fs::read_to_string(&config_path).expect("config/tidings.toml is readable");
    let config = Config::parse(&source, &config_path, None).unwrap_or_else(|e| panic!("{e}"));
    let mut topics = config.topics.clone();
    for (slug, query) in EXTRA_TOPICS {
        let query = Query::parse(query, &Aliases::default()).expect("bench query parses");
        topics.push(Topic::new(slug, slug, query));
    }
    let entries = corpus(&root.join("../shared/news-replay"));
    let words: usize = entries
        .iter()
        .map(|e| e.title.len() + e.summary.as_ref().map_or(0, String::len))
        .sum();
    println!(
        "corpus: {} entries ({} KiB of title+summary), {} topics ({} shipped)",
        entries.len(),
        words / 1024,
        topics.len(),
        config.topics.len()
    );

    let fields = fields_of(&topics);
    let index = || {
        entries
            .iter()
            .map(|e| Document::of_entry(e, None, fields))
            .collect::<Vec<_>>()
    };
    // The first pass also fills the stem cache; later ones find it warm,
    // as a running daemon does.
    let (_, took) = timed(index);
    report("indexing (cold stem cache)", entries.len(), took, "entries");
    let (docs, took) = timed(index);
    report("indexing", entries.len(), took, "entries");

    // As the daemon matches: each document right after it is built. Built
    // a chunk at a time, so that only matching is timed.
    let shipped = &config.topics;
    let fields = fields_of(shipped);
    // Ten passes, so that the timed part adds up to tens of milliseconds
    // spread over seconds: three swung by half with whatever else the
    // machine ran. (Matching a chunk again while it is in cache would
    // time more, but the branch predictor learns the chunk: it measured
    // 2.5M/s where single passes measured 1.2–1.4M.)
    let passes = 10;
    let mut took = Duration::ZERO;
    let mut matched = 0usize;
    for _ in 0..passes {
        for chunk in entries.chunks(16) {
            let built: Vec<Document> = chunk
                .iter()
                .map(|e| Document::of_entry(e, None, fields))
                .collect();
            let start = Instant::now();
            for doc in &built {
                for topic in shipped {
                    matched += usize::from(black_box(topic.matches(doc)));
                }
            }
            took += start.elapsed();
        }
    }
    report(
        "matching (shipped topics, just built)",
        passes * entries.len() * shipped.len(),
        took,
        "entry×topic",
    );

    // Enough rounds that one matching pass takes half a second or so:
    // shorter ones swing with whatever else the machine runs.
    let rounds = 200;
    let every_document = |topics: &[Topic]| {
        let (_, took) = timed(|| {
            let mut matched = 0usize;
            for _ in 0..rounds {
                for doc in &docs {
                    for topic in topics {
                        matched += usize::from(black_box(topic.matches(doc)));
                    }
                }
            }
            matched
        });
        (rounds * docs.len() * topics.len(), took)
    };
    let (n, took) = every_document(shipped);
    report(
        "matching (shipped topics, built beforehand)",
        n,
        took,
        "entry×topic",
    );
    let (n, took) = every_document(&topics);
    report(
        "matching (all topics, built beforehand)",
        n,
        took,
        "entry×topic",
    );
    for topic in &topics {
        let (n, took) = timed(|| {
            let mut n = 0usize;
            for _ in 0..rounds {
                for doc in &docs {
                    n += usize::from(black_box(topic.matches(doc)));
                }
            }
            n
        });
        report(
            &format!("  {} ({} matches)", topic.slug, n / rounds),
            rounds * docs.len(),
            took,
            "entry×topic",
        );
    }

    let (_, took) = timed(|| {
        let mut n = 0usize;
        for e in &entries {
            let doc = Document::of_entry(e, None, fields);
            for topic in shipped {
                n += usize::from(black_box(topic.matches(&doc)));
            }
        }
        n
    });
    report(
        "end to end (index + shipped topics)",
        entries.len() * shipped.len(),
        took,
        "entry×topic",
    );
    // As the daemon judges entries: the prefilter first, then indexing
    // only what it leaves (a fresh tagger and verdict memory: nothing is
    // remembered from the passes above).
    let (_, took) = timed(|| {
        let memo = Memo::default();
        let tagger = Tagger::with_memo(shipped, &[], &HashMap::new(), &memo);
        entries
            .iter()
            .map(|e| black_box(tagger.topics_of(e)).len())
            .sum::<usize>()
    });
    report(
        "end to end through the tagger (prefilter)",
        entries.len() * shipped.len(),
        took,
        "entry×topic",
    );
    black_box(matched);
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn report(what: &str, count: usize, took: Duration, unit: &str) {
    let per_second = count as f64 / took.as_secs_f64();
    println!(
        "{what:<42} {count:>9} {unit} in {:>8.1} ms = {:>10.0} {unit}/s ({:.2} µs each)",
        took.as_secs_f64() * 1e3,
        per_second,
        1e6 / per_second
    );
}

/// Every distinct entry of the last snapshot of each news-replay feed.
fn corpus(root: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let Ok(sources) = std::fs::read_dir(root) else {
        panic!(
            "{} is missing: the bench reads the shared news replay",
            root.display()
        );
    };
    let mut feeds: Vec<PathBuf> = sources
        .flatten()
        .flat_map(|s| std::fs::read_dir(s.path()).into_iter().flatten().flatten())
        .map(|f| f.path())
        .filter(|p| p.is_dir())
        .collect();
    feeds.sort();
    for feed in feeds {
        let mut snapshots: Vec<PathBuf> = std::fs::read_dir(&feed)
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| f.path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        snapshots.sort();
        // A handful of snapshots per feed spread over its history.
        let step = (snapshots.len() / 8).max(1);
        let url = url::Url::parse(&format!("https://replay.example/{}", feed.display()))
            .expect("replay URL parses");
        for path in snapshots.iter().step_by(step) {
            let Ok(body) = std::fs::read(path) else {
                continue;
            };
            let Ok(parsed) = parse_feed(&body, &url) else {
                continue;
            };
            for item in parsed.items {
                if !seen.insert(item.title.clone()) {
                    continue;
                }
                let now = chrono::Utc::now();
                entries.push(Entry {
                    id: EntryId::derive(url.as_str(), &item.title),
                    feed: FeedId::for_url(url.as_str()),
                    identity: item.title.clone(),
                    link: item.link.map(String::from),
                    title: item.title,
                    summary: item.summary,
                    content: item.content,
                    authors: item.authors,
                    categories: item.categories,
                    language: item.language.or_else(|| parsed.language.clone()),
                    published: item.published,
                    first_seen: now,
                    updated: now,
                });
            }
        }
    }
    entries
}
