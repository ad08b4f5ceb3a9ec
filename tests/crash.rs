//! Crashes: the real daemon is killed with SIGKILL at random moments while
//! it polls and stores, and restarted, again and again. After every restart
//! the store opens, every entry the daemon had reported stored is still
//! there, none is duplicated, every id is the one it had before, and the
//! served feed is valid Atom.
//!
//! `cargo test` kills it 5 times; `scripts/crash-test` runs the same test
//! with `TIDINGS_CRASH_KILLS=60` (and prints the numbers).
//!
//! The upstream serves four feeds that grow by 20 items a poll (up to 120)
//! and rewrite some items' text on every poll, so that each poll inserts
//! and updates entries: a kill lands in a store transaction often.

mod support;

use axum::extract::{Path as AxPath, State};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::*;

const FEEDS: usize = 4;
const ITEMS_PER_POLL: usize = 20;
const MAX_ITEMS: usize = 120;

/// The document for the `poll`-th request of feed `feed`.
fn snapshot(feed: usize, poll: usize) -> String {
    let count = (ITEMS_PER_POLL * (poll + 1)).min(MAX_ITEMS);
    let mut xml = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Feed {feed}</title><link>http://crash.example/{feed}</link><description>d</description>"
    );
    for i in (0..count).rev() {
        // Every poll rewrites a seventh of the items: updates in place.
        let version = if (i + poll) % 7 == 0 { poll } else { 0 };
        xml.push_str(&format!(
            "<item><guid>f{feed}-{i}</guid><title>Feed {feed} item {i}</title><link>http://crash.example/{feed}/{i}</link><description>version {version}: {}</description></item>",
            "lorem ipsum ".repeat(40)
        ));
    }
    xml.push_str("</channel></rss>");
    xml
}

/// Serves [`snapshot`]s, counting requests per feed.
async fn growing_upstream() -> std::net::SocketAddr {
    let counters: Arc<Vec<AtomicUsize>> =
        Arc::new((0..FEEDS).map(|_| AtomicUsize::new(0)).collect());
    let app = axum::Router::new()
        .route(
            "/feed/{n}",
            axum::routing::get(
                |State(counters): State<Arc<Vec<AtomicUsize>>>, AxPath(n): AxPath<usize>| async move {
                    match counters.get(n) {
                        Some(c) => Ok(snapshot(n, c.fetch_add(1, Ordering::SeqCst))),
                        None => Err(axum::http::StatusCode::NOT_FOUND),
                    }
                },
            ),
        )
        .with_state(counters);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("upstream");
    });
    addr
}

/// A small deterministic generator, seeded per run (printed, so a failing
/// run can be repeated with `TIDINGS_CRASH_SEED`).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// The highest `total=` each feed reported in a "stored entries" line: the
/// daemon logs it only after the fetch is flushed to disk.
fn reported_totals(log: &str, into: &mut HashMap<String, u64>) {
    for line in log.lines().filter(|l| l.contains("stored entries")) {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_owned)
        };
        let (Some(feed), Some(total)) = (field("feed="), field("total=")) else {
            continue;
        };
        let total: u64 = total.parse().unwrap_or(0);
        let best = into.entry(feed).or_default();
        *best = (*best).max(total);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_polling_loses_and_duplicates_nothing() {
    let kills: usize = std::env::var("TIDINGS_CRASH_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let seed = std::env::var("TIDINGS_CRASH_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("crash test: {kills} kills, seed {seed}");
    let mut rng = Lcg(seed);
    let upstream = growing_upstream().await;
    let feeds: Vec<String> = (0..FEEDS)
        .map(|n| format!("http://{upstream}/feed/{n}"))
        .collect();
    let setup = Setup::new(&feeds, "");
    setup.write_config(
        &setup
            .config_text()
            .replace("interval = \"1h\"", "interval = \"1s\""),
    );

    // What must survive: the highest total each feed reported, and the id
    // each title was first served with.
    let mut reported: HashMap<String, u64> = HashMap::new();
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut stores_reported = 0;
    let started = Instant::now();
    for round in 0..=kills {
        let daemon = setup.start_daemon();
        // The store opened (the daemon only listens after that) and answers,
        // and the scheduler runs.
        let deadline = Instant::now() + Duration::from_secs(30);
        while daemon.get("/readyz").await.status() != 200 {
            assert!(
                Instant::now() < deadline,
                "round {round}: not ready after 30 s\n{}",
                daemon.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let json: serde_json::Value =
            serde_json::from_str(&daemon.get_text("/feeds/all.json?limit=500").await)
                .expect("JSON Feed");
        let items = json["items"].as_array().cloned().unwrap_or_default();
        let mut per_feed: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen_titles = HashMap::new();
        for item in &items {
            let title = item["title"].as_str().unwrap_or("").to_owned();
            let id = item["id"].as_str().unwrap_or("").to_owned();
            if let Some(other) = seen_titles.insert(title.clone(), id.clone()) {
                panic!("round {round}: {title:?} is stored twice ({other} and {id})");
            }
            if let Some(before) = ids.insert(title.clone(), id.clone()) {
                assert_eq!(before, id, "round {round}: the id of {title:?} changed");
            }
            let feed = title
                .split(" item ")
                .next()
                .and_then(|f| f.strip_prefix("Feed "))
                .and_then(|n| n.parse::<usize>().ok())
                .map(|n| feeds[n].clone())
                .unwrap_or_default();
            *per_feed.entry(feed).or_default() += 1;
        }
        for (feed, total) in &reported {
            let have = per_feed.get(feed).copied().unwrap_or(0);
            assert!(
                have >= *total,
                "round {round}: {feed} reported {total} entries stored before the kill, but the store has {have}"
            );
        }
        assert_valid_atom(&daemon.get_text("/feeds/all.atom?limit=500").await);

        if round == kills {
            let log = daemon.stop();
            stores_reported += log.matches("stored entries").count();
            reported_totals(&log, &mut reported);
            println!(
                "crash test: {kills} kills in {:.0?} between {stores_reported} reported stores; {} entries at the end, none lost or duplicated, ids unchanged, every restart valid Atom",
                started.elapsed(),
                items.len()
            );
            break;
        }
        // Kill at a random moment, 0.2 to 2.5 s in: mostly while polls of the
        // 1 s feeds are being fetched, parsed and stored.
        tokio::time::sleep(Duration::from_millis(200 + rng.next() % 2300)).await;
        let log = daemon.kill9();
        stores_reported += log.matches("stored entries").count();
        reported_totals(&log, &mut reported);
    }
    assert_eq!(
        reported.len(),
        FEEDS,
        "every feed reported stores: {reported:?}"
    );
}
