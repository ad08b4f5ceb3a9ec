//! A long replay under retention: does the store's disk use stay bounded
//! under steady polling, with and without the daemon's compaction?
//!
//! ```text
//! cargo bench --bench retention               12 replay cycles (100 simulated days), twice
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
//! fetch-free path (body hash, normalize, identify, store, flush), and a
//! retention pass runs every simulated hour with `max_age = "3d"` and
//! `max_entries_per_feed = 500`.
//!
//! The replay runs twice: with sled alone ("sled alone"), and with the
//! daemon's compaction rule applied after each pass (`housekeeping::
//! compaction_wanted` with the default 64 MB floor). Printed per simulated day
//! (stderr) and in summary (stdout, the JSON lines `bench/run` reads):
//! entries stored, live data, disk use. Nothing is asserted.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::report;
use std::time::Instant;
use tidings::model::FeedState;
use tidings::normalize::parse_feed;
use tidings::store::{RetentionPolicy, SharedStore, Store};

/// Polls per feed per cycle.
const CYCLE: usize = 400;
const POLL_EVERY: i64 = 30; // minutes
const ROUNDS_PER_DAY: usize = 48;
/// `[storage] compact_above_mb`'s default.
const COMPACT_FLOOR: u64 = 64 << 20;

type Feeds = Vec<(String, Vec<Vec<u8>>)>;

fn main() {
    // The daemon's allocator settings: memory figures are the daemon's.
    tidings::memory::tune_allocator();
    let cycles: usize = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .map(|a| a.parse().expect("CYCLES is a number"))
        .unwrap_or(12);
    let feeds = common::replay();
    for (label, compact) in [("sled alone", false), ("with compaction", true)] {
        eprintln!("— {label}");
        replay(&feeds, cycles, compact, label);
    }
}

fn replay(feeds: &Feeds, cycles: usize, compact: bool, label: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SharedStore::from(Store::open(dir.path(), 16 << 20).expect("store"));
    let policy = RetentionPolicy {
        max_age: Some(std::time::Duration::from_secs(3 * 86_400)),
        max_entries_per_feed: Some(500),
    };
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("date");

    let began = Instant::now();
    let (mut fetches, mut stored, mut pruned, mut compactions) = (0usize, 0usize, 0usize, 0usize);
    let mut compacted_to = 0u64;
    let mut compact_secs = 0.0;
    // (entries, live bytes, disk bytes) at the end of each simulated day.
    let mut daily: Vec<(usize, u64, u64)> = Vec::new();
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
            store.write(|s| {
                let counts = s.store_fetch(state, entries).expect("store");
                stored += counts.new;
                if counts.new + counts.updated > 0 {
                    s.flush().expect("flush");
                }
            });
        }
        if round % 2 == 1 {
            store.write(|s| {
                let r = s.prune(&policy, now).expect("prune");
                if r.pruned + r.tombstones_expired > 0 {
                    s.flush().expect("flush");
                }
                pruned += r.pruned;
            });
            if compact {
                // As the daemon decides (counting the live data only when
                // its last count may mislead).
                let floor = tidings::housekeeping::compaction_floor(COMPACT_FLOOR, compacted_to);
                let wanted =
                    tidings::housekeeping::compaction_wanted(&store.get(), floor).expect("measure");
                if wanted.is_some() {
                    let t = Instant::now();
                    compacted_to = store.compact().expect("compact").after;
                    compact_secs += t.elapsed().as_secs_f64();
                    compactions += 1;
                }
            }
        }
        if (round + 1) % ROUNDS_PER_DAY == 0 {
            let day = (round + 1) / ROUNDS_PER_DAY;
            let current = store.get();
            let disk = current.size_on_disk().expect("size");
            let (entries, live) = (current.entry_count(), current.live_bytes().expect("scan"));
            eprintln!(
                "day {day:3}: {entries:6} entries, {:5.1} MB live, {:6.1} MB on disk; {stored} stored, {pruned} pruned, {compactions} compactions so far",
                live as f64 / 1e6,
                disk as f64 / 1e6
            );
            daily.push((entries, live, disk));
        }
    }
    let secs = began.elapsed().as_secs_f64();
    let metric = |name: &str| format!("{name} ({label})");
    report(
        "retention",
        &metric("simulated days"),
        daily.len() as f64,
        "days",
    );
    report("retention", &metric("fetches"), fetches as f64, "fetches");
    report(
        "retention",
        &metric("entries stored"),
        stored as f64,
        "entries",
    );
    report(
        "retention",
        &metric("entries pruned"),
        pruned as f64,
        "entries",
    );
    report("retention", &metric("wall time"), secs, "s");
    if let Some(&(entries, live, disk)) = daily.last() {
        report(
            "retention",
            &metric("entries at the end"),
            entries as f64,
            "entries",
        );
        report(
            "retention",
            &metric("live data at the end"),
            live as f64 / 1e6,
            "MB",
        );
        report(
            "retention",
            &metric("disk at the end"),
            disk as f64 / 1e6,
            "MB",
        );
    }
    // Tombstones reach their steady state after 3 + 30 days: from then on
    // the store should stop growing. Compare the peaks of the middle and
    // the last third of those days.
    let steady: Vec<u64> = daily.iter().skip(34).map(|d| d.2).collect();
    if steady.len() >= 6 {
        let third = steady.len() / 3;
        let peak = |days: &[u64]| days.iter().max().copied().unwrap_or(0) as f64 / 1e6;
        report(
            "retention",
            &metric("peak disk, middle of steady state"),
            peak(&steady[third..2 * third]),
            "MB",
        );
        report(
            "retention",
            &metric("peak disk, end of steady state"),
            peak(&steady[2 * third..]),
            "MB",
        );
    }
    let peak = daily.iter().map(|d| d.2).max().unwrap_or(0);
    report("retention", &metric("peak disk"), peak as f64 / 1e6, "MB");
    if compact {
        report(
            "retention",
            &metric("compactions"),
            compactions as f64,
            "compactions",
        );
        report("retention", &metric("time compacting"), compact_secs, "s");
    } else {
        drop(store);
        let t = Instant::now();
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
            t.elapsed().as_secs_f64(),
            "s",
        );
    }
}
