//! A long replay under retention: does the store's disk use stay bounded
//! under steady polling?
//!
//! ```text
//! cargo bench --bench retention               8 replay cycles, about 67 simulated days
//! cargo bench --bench retention -- CYCLES     another number of cycles
//! ```
//!
//! Simulated time, real work: every 30 simulated minutes each of the 11
//! replay feeds is polled and serves its next snapshot, so that every feed
//! goes through its whole history in one cycle of 400 polls (8⅓ days); a
//! feed with few snapshots serves each of them for several polls, as a
//! quiet feed would. When a cycle ends, the replay starts again under new
//! feed URLs, so its stories arrive as new ones (another outlet reprinting
//! them, as far as dedup can tell). Each poll goes through the poller's
//! fetch-free path (body hash, normalize, identify, store, flush), and the
//! daemon's retention pass runs every simulated hour with `max_age = "3d"`
//! and `max_entries_per_feed = 500`.
//!
//! Printed per simulated day (stderr) and in summary (stdout, the JSON lines
//! `bench/run` reads): entries stored, disk use. Entries rise for 3 days and
//! then hold; tombstones rise for 33 days (3 d + their 30-day TTL) and then
//! hold; disk use should follow, which is what the last two summary lines
//! compare. Nothing is asserted.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::report;
use std::sync::Arc;
use std::time::Instant;
use tidings::model::FeedState;
use tidings::normalize::parse_feed;
use tidings::store::{RetentionPolicy, Store};

/// Polls per feed per cycle.
const CYCLE: usize = 400;
const POLL_EVERY: i64 = 30; // minutes
const ROUNDS_PER_DAY: usize = 48;

fn main() {
    let cycles: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .map(|a| a.parse().expect("CYCLES is a number"))
        .unwrap_or(8);
    let feeds = common::replay();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path(), 16 << 20).expect("store"));
    let policy = RetentionPolicy {
        max_age: Some(std::time::Duration::from_secs(3 * 86_400)),
        max_entries_per_feed: Some(500),
    };
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date");

    let began = Instant::now();
    let (mut fetches, mut stored, mut pruned) = (0usize, 0usize, 0usize);
    let mut daily: Vec<(usize, u64)> = Vec::new();
    let mut states: Vec<FeedState> = Vec::new();
    for round in 0..cycles * CYCLE {
        let (cycle, step) = (round / CYCLE, round % CYCLE);
        let now = start + Duration::minutes(POLL_EVERY * round as i64);
        if step == 0 {
            states = feeds
                .iter()
                .map(|(name, _)| FeedState::new(&format!("https://replay.example/{name}/{cycle}")))
                .collect();
        }
        for ((_, bodies), state) in feeds.iter().zip(&mut states) {
            let body = &bodies[step * bodies.len() / CYCLE];
            let hash = tidings::poll::body_hash(body);
            if state.body_hash == Some(hash) {
                continue;
            }
            state.body_hash = Some(hash);
            fetches += 1;
            let url = url::Url::parse(&state.url).expect("url");
            let Ok(parsed) = parse_feed(body, &url) else {
                continue;
            };
            let entries = tidings::poll::entries_of(state, parsed, now);
            let counts = store.store_fetch(state, entries).expect("store");
            stored += counts.new;
            if counts.new + counts.updated > 0 {
                store.flush().expect("flush");
            }
        }
        if round % 2 == 1 {
            let r = store.prune(&policy, now).expect("prune");
            if r.pruned + r.tombstones_expired > 0 {
                store.flush().expect("flush");
            }
            pruned += r.pruned;
        }
        if (round + 1) % ROUNDS_PER_DAY == 0 {
            let day = (round + 1) / ROUNDS_PER_DAY;
            let disk = store.size_on_disk().expect("size");
            let entries = store.entry_count();
            eprintln!(
                "day {day:3}: {entries:6} entries, {:7.1} MB on disk, {stored} stored and {pruned} pruned so far",
                disk as f64 / 1e6
            );
            if day % 7 == 0 {
                let live = store.live_data().expect("scan");
                let total: u64 = live.iter().map(|t| t.2).sum();
                let trees: Vec<String> = live
                    .iter()
                    .map(|(name, n, bytes)| format!("{name} {n} ({:.1} MB)", *bytes as f64 / 1e6))
                    .collect();
                eprintln!(
                    "         live data {:.1} MB: {}",
                    total as f64 / 1e6,
                    trees.join(", ")
                );
            }
            daily.push((entries, disk));
        }
    }
    let secs = began.elapsed().as_secs_f64();
    let days = daily.len();
    report("retention", "simulated days", days as f64, "days");
    report(
        "retention",
        "fetches parsed and stored",
        fetches as f64,
        "fetches",
    );
    report("retention", "entries stored", stored as f64, "entries");
    report("retention", "entries pruned", pruned as f64, "entries");
    report("retention", "wall time", secs, "s");
    if let Some(&(entries, disk)) = daily.last() {
        report("retention", "entries at the end", entries as f64, "entries");
        report("retention", "disk at the end", disk as f64 / 1e6, "MB");
    }
    // Once tombstones have reached their steady state (day 34 on), the
    // store should stop growing: compare the peak of the middle third of
    // the steady days with the peak of the last third.
    let steady: Vec<u64> = daily.iter().skip(34).map(|d| d.1).collect();
    if steady.len() >= 6 {
        let third = steady.len() / 3;
        let middle = steady[third..2 * third].iter().max().copied().unwrap_or(0);
        let last = steady[2 * third..].iter().max().copied().unwrap_or(0);
        report(
            "retention",
            "peak disk, middle of steady state",
            middle as f64 / 1e6,
            "MB",
        );
        report(
            "retention",
            "peak disk, end of steady state",
            last as f64 / 1e6,
            "MB",
        );
    }
    let peak = daily.iter().map(|d| d.1).max().unwrap_or(0);
    report("retention", "peak disk", peak as f64 / 1e6, "MB");
    let live: u64 = store.live_data().expect("scan").iter().map(|t| t.2).sum();
    report("retention", "live data at the end", live as f64 / 1e6, "MB");
    drop(store);
    let began = Instant::now();
    let compacted = Store::compact(dir.path(), 16 << 20, 0).expect("compact");
    report(
        "retention",
        "disk after tidings compact",
        compacted.after as f64 / 1e6,
        "MB",
    );
    report(
        "retention",
        "tidings compact took",
        began.elapsed().as_secs_f64(),
        "s",
    );
}
