//! The corpus sweep: every file of `../shared/corpora` (5,936 feeds and
//! non-feeds from twelve parsers' and validators' test suites) through the
//! normalizer, in-process and in parallel, then a sample of them through
//! the real HTTP path. Each file must yield a feed or a specific error, and
//! nothing may panic or hang. Prints the counts the README's "Reliability"
//! section quotes (run with `--nocapture` to see them).

mod support;

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;
use tidings::normalize::{self, Fix, RejectKind};
use url::Url;

/// One manifest row.
struct CorpusFile {
    corpus: String,
    path: PathBuf,
}

fn manifest() -> Vec<CorpusFile> {
    let root = shared().join("corpora");
    let text = std::fs::read_to_string(root.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut cols = line.split('\t');
            let corpus = cols.next()?.to_owned();
            let rel = cols.next()?;
            Some(CorpusFile {
                path: root.join(&corpus).join(rel),
                corpus,
            })
        })
        .collect()
}

#[derive(Debug)]
enum Outcome {
    /// `feed_rs_alone`: whether feed-rs by itself read the bytes (the
    /// "before" of the recovery pass).
    Parsed {
        items: usize,
        repairs: Vec<Fix>,
        feed_rs_alone: bool,
    },
    Rejected {
        kind: RejectKind,
        message: String,
    },
    Panicked(String),
    Missing,
}

fn sweep_one(file: &CorpusFile) -> Outcome {
    let Ok(body) = std::fs::read(&file.path) else {
        return Outcome::Missing;
    };
    let url = Url::parse("https://corpus.example/feed").expect("url");
    match std::panic::catch_unwind(AssertUnwindSafe(|| normalize::parse_feed(&body, &url))) {
        Ok(Ok(feed)) => Outcome::Parsed {
            items: feed.items.len(),
            repairs: feed.repairs,
            feed_rs_alone: std::panic::catch_unwind(|| feed_rs::parser::parse(&body[..]))
                .is_ok_and(|r| r.is_ok()),
        },
        Ok(Err(e)) => Outcome::Rejected {
            kind: e.kind(),
            message: e.to_string(),
        },
        Err(panic) => Outcome::Panicked(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        ),
    }
}

/// Whether a rejection says specifically what is wrong: each kind has its
/// own shape, with a position where one exists.
fn is_specific(kind: RejectKind, message: &str) -> bool {
    let located = |prefix: &str| {
        message.strip_prefix(prefix).is_some_and(|rest| {
            let mut words = rest.split_whitespace();
            words.next().is_some_and(|l| l.parse::<usize>().is_ok())
                && words.next() == Some("col")
                && words
                    .next()
                    .is_some_and(|c| c.trim_end_matches(':').parse::<usize>().is_ok())
        })
    };
    match kind {
        RejectKind::Empty => message == "empty response body",
        RejectKind::Html => {
            message.starts_with("not a feed: HTML page (did you mean http")
                || message == "not a feed: HTML page (it links to no feed: a login or error page?)"
        }
        RejectKind::Binary => message.starts_with("not a feed: "),
        RejectKind::Encoding => message.starts_with("unsupported encoding \""),
        RejectKind::XmlSyntax => located("XML error at line "),
        RejectKind::JsonSyntax => located("JSON error at line "),
        RejectKind::NotFeedXml => {
            message.starts_with("not a feed: the document's root element is <")
        }
        RejectKind::NotFeedJson => message.starts_with("not a feed: JSON, but not a JSON Feed"),
        RejectKind::NotMarkup => {
            message.starts_with("not a feed: neither XML nor JSON (starts with")
        }
        RejectKind::Invalid => {
            located("invalid feed at line ")
                || message.starts_with("invalid JSON Feed (")
                || message == "invalid feed: no complete item before the document breaks off"
                || message == "invalid feed: <rss> has no <channel>"
        }
    }
}

#[test]
fn every_corpus_file_yields_a_feed_or_a_specific_error() {
    let files = Arc::new(manifest());
    assert!(
        files.len() > 5_000,
        "the manifest lists {} files",
        files.len()
    );
    let next = Arc::new(AtomicUsize::new(0));
    let outcomes: Arc<Mutex<Vec<Option<Outcome>>>> =
        Arc::new(Mutex::new((0..files.len()).map(|_| None).collect()));
    // Which file each worker is on, to name a hang.
    let current: Arc<Mutex<BTreeMap<usize, usize>>> = Arc::default();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    for worker in 0..workers {
        let (files, next, outcomes, current, done) = (
            Arc::clone(&files),
            Arc::clone(&next),
            Arc::clone(&outcomes),
            Arc::clone(&current),
            done_tx.clone(),
        );
        std::thread::spawn(move || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                current.lock().expect("lock").insert(worker, i);
                let outcome = sweep_one(file);
                outcomes.lock().expect("lock")[i] = Some(outcome);
            }
            let _ = done.send(());
        });
    }
    drop(done_tx);
    // A hang is a failure, not a stuck test run: every file gets its share
    // of a generous deadline (the whole sweep takes seconds).
    for _ in 0..workers {
        if done_rx.recv_timeout(Duration::from_secs(300)).is_err() {
            let stuck: Vec<String> = current
                .lock()
                .expect("lock")
                .values()
                .map(|i| files[*i].path.display().to_string())
                .collect();
            panic!("the sweep hangs; workers are on: {stuck:?}");
        }
    }
    let outcomes: Vec<Outcome> = std::mem::take(&mut *outcomes.lock().expect("lock"))
        .into_iter()
        .map(|o| o.expect("every file swept"))
        .collect();

    let mut parsed = 0;
    let mut feed_rs_alone = 0;
    let mut empty_feeds = 0;
    let mut items = 0;
    let mut recovered = 0;
    let mut by_fix: BTreeMap<Fix, usize> = BTreeMap::new();
    let mut rejected: BTreeMap<RejectKind, (usize, String)> = BTreeMap::new();
    let mut vague = Vec::new();
    let mut panics = Vec::new();
    let mut missing = 0;
    let mut by_corpus: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for (file, outcome) in files.iter().zip(&outcomes) {
        let row = by_corpus.entry(file.corpus.as_str()).or_default();
        match outcome {
            Outcome::Parsed {
                items: n,
                repairs,
                feed_rs_alone: alone,
            } => {
                items += n;
                feed_rs_alone += usize::from(*alone);
                if *n == 0 {
                    empty_feeds += 1;
                }
                if repairs.is_empty() {
                    parsed += 1;
                    row[0] += 1;
                } else {
                    recovered += 1;
                    row[1] += 1;
                    for fix in repairs {
                        *by_fix.entry(*fix).or_default() += 1;
                    }
                }
            }
            Outcome::Rejected { kind, message } => {
                row[2] += 1;
                let slot = rejected.entry(*kind).or_insert((0, String::new()));
                slot.0 += 1;
                if slot.1.is_empty() {
                    slot.1 = format!("{}: {message}", file.path.display());
                }
                if !is_specific(*kind, message) {
                    vague.push(format!("{}: {kind}: {message}", file.path.display()));
                }
            }
            Outcome::Panicked(why) => panics.push(format!("{}: {why}", file.path.display())),
            Outcome::Missing => missing += 1,
        }
    }

    // TIDINGS_SWEEP_DUMP=FILE writes every file's outcome, for review.
    if let Some(dump) = std::env::var_os("TIDINGS_SWEEP_DUMP") {
        let lines: Vec<String> = files
            .iter()
            .zip(&outcomes)
            .map(|(f, o)| format!("{}\t{o:?}", f.path.display()))
            .collect();
        std::fs::write(dump, lines.join("\n")).expect("write the dump");
    }
    let total = files.len();
    println!("corpus sweep: {total} files in the manifest ({missing} not on disk)");
    println!("  feed-rs alone reads:   {feed_rs_alone:5}   (the recovery pass's \"before\")");
    println!("  parsed as sent:        {parsed:5}");
    println!("  parsed after repair:   {recovered:5}");
    for (fix, n) in &by_fix {
        println!("      {:<20} {n:5}", fix.to_string());
    }
    println!("  (feeds with no items:  {empty_feeds:5}; items read: {items})");
    let rejected_total: usize = rejected.values().map(|(n, _)| n).sum();
    println!("  rejected:              {rejected_total:5}");
    for (kind, (n, example)) in &rejected {
        println!("      {:<22} {n:5}   e.g. {example}", kind.to_string());
    }
    println!("  panics:                {:5}", panics.len());
    println!("  by corpus (as sent / repaired / rejected):");
    for (corpus, [p, r, x]) in &by_corpus {
        println!("      {corpus:<24} {p:5} {r:5} {x:5}");
    }

    assert!(
        panics.is_empty(),
        "the normalizer panicked on:\n{}",
        panics.join("\n")
    );
    assert!(
        vague.is_empty(),
        "{} rejections without a specific reason:\n{}",
        vague.len(),
        vague.join("\n")
    );
    assert_eq!(
        parsed + recovered + rejected_total + missing,
        total,
        "every file is counted once"
    );
    // Floors measured when the recovery pass was written: a change that
    // loses feeds fails here (raise them when recovery improves).
    assert!(parsed >= 3_900, "only {parsed} files parsed as sent");
    assert!(recovered >= 100, "only {recovered} files recovered");
}

/// A sample of the corpus (every 50th file) through the real path: served
/// over HTTP by a fake upstream, polled by the poller into a store. Each
/// poll must end as the in-process parse did: stored when it parsed, the
/// same error when it did not.
#[tokio::test(flavor = "multi_thread")]
async fn a_sample_polled_over_http_ends_as_parsed_in_process() {
    use std::sync::Arc;
    use tidings::config::Config;
    use tidings::fetch::Fetcher;
    use tidings::poll::{PollOutcome, Poller};
    use tidings::store::Store;

    let sample: Vec<CorpusFile> = manifest()
        .into_iter()
        .step_by(50)
        .filter(|f| f.path.exists())
        .collect();
    let up = Upstream::start().await;
    let mut toml = String::from("[polling]\ninterval = \"30m\"\ntimeout = \"10s\"\n");
    for (i, file) in sample.iter().enumerate() {
        up.set(&format!("f{i}"), read(&file.path));
        toml.push_str(&format!(
            "[[feed]]\nurl = \"{}\"\n",
            up.url(&format!("f{i}"))
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config::parse(&toml, &dir.path().join("t.toml"), None).expect("config");
    let store = Arc::new(Store::open(&dir.path().join("data"), 1 << 20).expect("store"));
    let poller = Poller::new(
        Fetcher::new(&config.polling).expect("fetcher"),
        Arc::clone(&store),
        config.polling.max_interval,
    );
    let (mut stored, mut failed) = (0, 0);
    for (file, feed) in sample.iter().zip(&config.feeds) {
        let expected = normalize::parse_feed(&read(&file.path), &feed.url);
        let report = tokio::time::timeout(
            Duration::from_secs(60),
            poller.poll(feed, chrono::Utc::now()),
        )
        .await
        .unwrap_or_else(|_| panic!("polling {} hangs", file.path.display()))
        .expect("store works");
        match (&report.outcome, expected) {
            (PollOutcome::Stored(_), Ok(_)) => stored += 1,
            (PollOutcome::Failed(got), Err(want)) => {
                assert_eq!(*got, want.to_string(), "{}", file.path.display());
                failed += 1;
            }
            (outcome, expected) => panic!(
                "{}: polled {outcome:?}, parsed in process {:?}",
                file.path.display(),
                expected.map(|f| f.items.len())
            ),
        }
    }
    println!(
        "corpus over HTTP: {} files polled, {stored} stored, {failed} rejected as in process",
        sample.len()
    );
    assert!(stored > sample.len() / 2, "{stored} of {}", sample.len());
}
