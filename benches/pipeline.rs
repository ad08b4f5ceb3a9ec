//! tidings' own benchmarks, one scenario per subcommand; `bench/run` runs
//! them several times beside the references (feedparser, nginx) and prints
//! the table. Each prints one JSON object per measurement on stdout:
//! `{"scenario": …, "metric": …, "value": …, "unit": …}`.
//!
//! ```text
//! cargo bench --bench pipeline -- ingest [FEED]        fetch-free ingest of the news replay
//!                                                      (or of the feeds whose name contains FEED,
//!                                                      a short run for a profiler)
//! cargo bench --bench pipeline -- build-store DIR N    a store of N realistic entries
//! cargo bench --bench pipeline -- upstream PORT N      N fake feeds (blocks; for poll-scale)
//! cargo bench --bench pipeline -- poll-scale URL N DIR two polling cycles of N feeds
//! cargo bench --bench pipeline -- match-store DIR      re-matching a topic over a whole store
//! ```
//! Nothing here asserts a timing: it measures and reports.

mod common;

use common::{replay, report};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tidings::model::{Entry, EntryId, FeedState};
use tidings::normalize::parse_feed;
use tidings::store::Store;

fn main() {
    // The daemon's allocator settings: memory figures are the daemon's.
    tidings::memory::tune_allocator();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_else(|| usage());
    match args.first().map(String::as_str) {
        Some("ingest") => ingest(args.get(1).map(String::as_str)),
        Some("build-store") => build_store(
            Path::new(&arg(1)),
            arg(2).parse().unwrap_or_else(|_| usage()),
        ),
        Some("upstream") => upstream(
            arg(1).parse().unwrap_or_else(|_| usage()),
            arg(2).parse().unwrap_or_else(|_| usage()),
        ),
        Some("poll-scale") => poll_scale(
            &arg(1),
            arg(2).parse().unwrap_or_else(|_| usage()),
            Path::new(&arg(3)),
        ),
        Some("match-store") => match_store(Path::new(&arg(1))),
        // `cargo bench` with no arguments: the quick, self-contained one.
        None => ingest(None),
        Some(_) => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: pipeline ingest [FEED] | build-store DIR N | upstream PORT N | poll-scale URL N DIR | match-store DIR"
    );
    std::process::exit(2)
}

/// Scenario 1: the same bytes through a bare XML scan, feed-rs alone, and
/// tidings' whole fetch-free ingest (hash check, normalize, identify,
/// store in sled, flush per stored fetch, as the poller does).
fn ingest(only: Option<&str>) {
    let mut feeds = replay();
    feeds.retain(|(name, _)| only.is_none_or(|o| name.contains(o)));
    let files: usize = feeds.iter().map(|f| f.1.len()).sum();
    let bytes: usize = feeds.iter().flat_map(|f| &f.1).map(Vec::len).sum();
    let mb = bytes as f64 / 1e6;
    report("ingest", "files", files as f64, "files");
    report("ingest", "input", mb, "MB");

    let start = Instant::now();
    let mut events = 0u64;
    for body in feeds.iter().flat_map(|f| &f.1) {
        let mut reader = quick_xml::Reader::from_reader(&body[..]);
        let mut buf = Vec::new();
        while let Ok(e) = reader.read_event_into(&mut buf) {
            if matches!(e, quick_xml::events::Event::Eof) {
                break;
            }
            events += 1;
            buf.clear();
        }
    }
    std::hint::black_box(events);
    report(
        "ingest",
        "quick-xml events",
        mb / start.elapsed().as_secs_f64(),
        "MB/s",
    );

    let start = Instant::now();
    let mut items = 0usize;
    for body in feeds.iter().flat_map(|f| &f.1) {
        let parser = feed_rs::parser::Builder::new()
            .id_generator(|_, _, _| String::new())
            .build();
        if let Ok(feed) = parser.parse(&body[..]) {
            items += feed.entries.len();
        }
    }
    let secs = start.elapsed().as_secs_f64();
    report("ingest", "feed-rs parse", mb / secs, "MB/s");
    report("ingest", "feed-rs items", items as f64 / secs, "items/s");

    // As the daemon does (a flush before each fetch is reported stored),
    // then with one flush at the end, to show what durability costs.
    for (label, flush_each) in [
        ("tidings pipeline", true),
        ("tidings pipeline, one flush", false),
    ] {
        let (secs, parsed_items, stored, size) = ingest_into_store(&feeds, flush_each);
        report("ingest", label, mb / secs, "MB/s");
        if flush_each {
            report(
                "ingest",
                "tidings items",
                parsed_items as f64 / secs,
                "items/s",
            );
            report("ingest", "stories stored", stored as f64, "entries");
            report(
                "ingest",
                "store size per entry",
                size as f64 / stored.max(1) as f64,
                "bytes",
            );
        }
    }
}

/// Feeds every snapshot through hash check, normalize, identify and store;
/// returns (seconds, items parsed, entries stored, bytes on disk).
fn ingest_into_store(
    feeds: &[(String, Vec<Vec<u8>>)],
    flush_each: bool,
) -> (f64, usize, usize, u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), 16 << 20).expect("store");
    let start = Instant::now();
    let (mut parsed_items, mut stored) = (0usize, 0usize);
    for (name, bodies) in feeds {
        let mut state = FeedState::new(&format!("https://replay.example/{name}"));
        let url = url::Url::parse(&state.url).expect("url");
        for body in bodies {
            let hash = tidings::poll::body_hash(body);
            if state.body_hash == Some(hash) {
                continue;
            }
            state.body_hash = Some(hash);
            let Ok(parsed) = parse_feed(body, &url) else {
                continue;
            };
            parsed_items += parsed.items.len();
            // As the poller stores a fetch: with what the fetch knows about
            // each item's identity (`store_fetch` would re-derive it from
            // each entry alone, parsing its link again).
            let entries = tidings::poll::incoming_of(
                &state,
                parsed,
                tidings::dedup::IdentityMode::Guid,
                tidings::model::now(),
            );
            let counts = store.store_incoming(&state, entries).expect("store");
            stored += counts.new;
            if flush_each && counts.new + counts.updated > 0 {
                store.flush().expect("flush");
            }
        }
    }
    store.flush().expect("flush");
    let secs = start.elapsed().as_secs_f64();
    (
        secs,
        parsed_items,
        stored,
        store.size_on_disk().expect("size"),
    )
}

/// Distinct real entries from the replay, as templates for synthesis.
fn templates() -> Vec<Entry> {
    let mut out = Vec::new();
    for (name, bodies) in replay() {
        let state = FeedState::new(&format!("https://replay.example/{name}"));
        let url = url::Url::parse(&state.url).expect("url");
        let mut seen = std::collections::HashSet::new();
        for body in &bodies {
            if let Ok(parsed) = parse_feed(body, &url) {
                for e in tidings::poll::entries_of(&state, parsed, tidings::model::now()) {
                    if seen.insert(e.id) {
                        out.push(e);
                    }
                }
            }
        }
    }
    out
}

/// Scenario 2 and 4 setup: a store of `n` entries made from real ones with
/// rewritten ids, spread over 1,000 feeds and a year of first-seen times.
/// `BENCH_CACHE_MB` sets sled's cache while building (default 16): with a
/// cache far smaller than the store, random-key inserts read their pages
/// back from the log (16 → 256 MB: 3,300 → 5,700 entries/s at 100k).
fn build_store(dir: &Path, n: usize) {
    let templates = templates();
    let cache_mb: u64 = std::env::var("BENCH_CACHE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let store = Store::open(dir, cache_mb << 20).expect("store");
    let feeds: Vec<FeedState> = (0..1000)
        .map(|i| FeedState::new(&format!("http://127.0.0.1:18200/feed/{i}")))
        .collect();
    let start = Instant::now();
    let year_ago = tidings::model::now() - chrono::Duration::days(365);
    let step = chrono::Duration::milliseconds((365 * 86_400_000 / n.max(1)) as i64);
    const BATCH: usize = 1000;
    let mut written = 0;
    while written < n {
        let feed = &feeds[(written / BATCH) % feeds.len()];
        let batch: Vec<Entry> = (written..(written + BATCH).min(n))
            .map(|i| {
                let t = &templates[i % templates.len()];
                let first_seen = year_ago + step * i as i32;
                Entry {
                    id: EntryId::derive(&feed.url, &format!("synthetic:{i}")),
                    feed: feed.id(),
                    identity: format!("synthetic:{i}"),
                    first_seen,
                    updated: first_seen,
                    published: Some(first_seen),
                    ..t.clone()
                }
            })
            .collect();
        written += batch.len();
        store.store_fetch(feed, batch).expect("store");
    }
    store.flush().expect("flush");
    let secs = start.elapsed().as_secs_f64();
    report("build-store", "entries", n as f64, "entries");
    report("build-store", "insert rate", n as f64 / secs, "entries/s");
    report(
        "build-store",
        "size per entry",
        store.size_on_disk().expect("size") as f64 / n as f64,
        "bytes",
    );
}

/// A fake upstream of `n` feeds, each a real 20–200 KB snapshot, with an
/// ETag per body and 304s for matching `If-None-Match`. Runs until killed.
fn upstream(port: u16, n: usize) {
    let bodies: Vec<Arc<Vec<u8>>> = replay()
        .into_iter()
        .flat_map(|f| f.1)
        .filter(|b| (20_000..=200_000).contains(&b.len()))
        .map(Arc::new)
        .collect();
    assert!(!bodies.is_empty(), "snapshots of 20–200 KB exist");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let bodies = Arc::new(bodies);
        let app = axum::Router::new().route(
            "/feed/{i}",
            axum::routing::get(
                move |axum::extract::Path(i): axum::extract::Path<usize>,
                      headers: axum::http::HeaderMap| {
                    let bodies = Arc::clone(&bodies);
                    async move {
                        use axum::response::IntoResponse;
                        if i >= n {
                            return axum::http::StatusCode::NOT_FOUND.into_response();
                        }
                        let etag = format!("\"{i}\"");
                        if headers.get("if-none-match").and_then(|v| v.to_str().ok())
                            == Some(etag.as_str())
                        {
                            return (axum::http::StatusCode::NOT_MODIFIED, [("etag", etag)])
                                .into_response();
                        }
                        let body = bodies[i % bodies.len()].as_ref().clone();
                        (
                            [
                                ("etag", etag),
                                ("content-type", "application/xml".to_owned()),
                            ],
                            body,
                        )
                            .into_response()
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind upstream");
        axum::serve(listener, app).await.expect("serve");
    });
}

/// Scenario 3: two full polling cycles of `n` feeds at `base/feed/{i}`.
fn poll_scale(base: &str, n: usize, dir: &Path) {
    let mut toml = format!(
        "[storage]\npath = \"{}\"\n[polling]\nconcurrency = 64\nmax_per_host = 64\ninterval = \"1h\"\n",
        dir.display()
    );
    for i in 0..n {
        toml.push_str(&format!("[[feed]]\nurl = \"{base}/feed/{i}\"\n"));
    }
    let config =
        tidings::config::Config::parse(&toml, &dir.join("bench.toml"), None).expect("config");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let store = tidings::daemon::open_store(&config).await.expect("store");
        // The daemon hands freed heap back now and then; so does this.
        let stop_trimming = tokio_util::sync::CancellationToken::new();
        tokio::spawn(tidings::daemon::release_memory_now_and_then(
            stop_trimming.clone(),
        ));
        for cycle in ["first cycle", "second cycle (304s)"] {
            let cpu = cpu_seconds();
            let start = Instant::now();
            let reports = tidings::daemon::poll_once(&config, Arc::clone(&store), |_| {})
                .await
                .expect("poll");
            let wall = start.elapsed();
            let failed = reports.iter().filter(|r| r.outcome.is_failure()).count();
            let bytes: u64 = reports.iter().map(|r| r.fetched_bytes).sum();
            report(
                "poll-scale",
                &format!("{cycle} feeds/s"),
                n as f64 / wall.as_secs_f64(),
                "feeds/s",
            );
            report(
                "poll-scale",
                &format!("{cycle} wall"),
                wall.as_secs_f64(),
                "s",
            );
            report(
                "poll-scale",
                &format!("{cycle} CPU"),
                cpu_seconds() - cpu,
                "s",
            );
            report(
                "poll-scale",
                &format!("{cycle} MB/s"),
                bytes as f64 / 1e6 / wall.as_secs_f64(),
                "MB/s",
            );
            report(
                "poll-scale",
                &format!("{cycle} failures"),
                failed as f64,
                "feeds",
            );
        }
        stop_trimming.cancel();
        report("poll-scale", "peak RSS", peak_rss_mb(), "MB");
        let index = store.sketch_index_size();
        report(
            "poll-scale",
            "dedup index entries",
            index.entries as f64,
            "entries",
        );
        report(
            "poll-scale",
            "dedup index heap",
            index.heap_bytes as f64 / 1e6,
            "MB",
        );
    });
}

/// Scenario 5: re-matching the shipped topics over every entry of a store
/// (what changing a topic costs: matching runs at serve time over the
/// store, and the first `/metrics` scrape after a change counts every
/// topic's entries).
fn match_store(dir: &Path) {
    let store = Store::open(dir, 16 << 20).expect("store");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config_path = root.join("config/tidings.toml");
    let source = std::fs::read_to_string(&config_path).expect("config");
    let config = tidings::config::Config::parse(&source, &config_path, None).expect("config");
    let states = store.feed_states().expect("feeds");
    let entries = store.entry_count();
    let start = Instant::now();
    // What the daemon runs for `/metrics` after the topics change.
    let matched =
        tidings::serve::count_topics(&store, &config.topics, &states, &Default::default())
            .expect("scan");
    let secs = start.elapsed().as_secs_f64();
    report("match-store", "entries", entries as f64, "entries");
    report("match-store", "full re-match", secs, "s");
    report(
        "match-store",
        "entry x topic, all cores",
        entries as f64 * config.topics.len() as f64 / secs,
        "matches/s",
    );
    report(
        "match-store",
        "entries matched",
        matched.iter().sum::<u64>() as f64,
        "entries",
    );
}

/// User + system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}
