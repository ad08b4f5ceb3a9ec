//! Housekeeping: the daemon's periodic store maintenance.
//!
//! - **Retention**, every `[storage] prune_interval` (default 1 h; the first
//!   pass shortly after start-up, so a policy tightened while the daemon
//!   was stopped applies at once): entries past `max_age` or beyond a
//!   feed's `max_entries_per_feed` go, each leaving a tombstone, and
//!   tombstones no fetch has listed for 30 days expire. That bounds the
//!   live data.
//! - **Compaction**, after a retention pass, when the store takes more than
//!   `[storage] compact_above_mb` on disk and over [`COMPACT_RATIO`] times
//!   its live data: sled leaves that much garbage behind under steady
//!   churn (see `store::compact`), and a rewrite shrinks it back. The
//!   live data is counted by a scan of the whole store only when the last
//!   count, scaled to the entries stored now, may mislead ([`live_check`],
//!   `store::measure`): at a million entries a count is 18 s of CPU.
//! - **Recovery**: when sled has refused writes since a failed one (a full
//!   disk, see `store::space`) and the disk would take writes again, the
//!   store moves to a fresh database at once (checked every
//!   [`RECOVERY_CHECK`]), so storing resumes without a restart.
//!
//! Each runs on a blocking thread, is logged and counted in `/metrics`, and
//! a failure is only logged and retried later: none of it ever stops
//! polling or serving. A reload changes the policy from the next pass and
//! the interval at once.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{
    CompactSummary, LiveMeasure, PruneReport, RetentionPolicy, SharedStore, Store, StoreError,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The first retention pass waits at most this long after start-up: long
/// enough for the first polls to get going, short enough that a tightened
/// policy applies soon.
const FIRST_PASS_AFTER: Duration = Duration::from_secs(60);

/// Compact when the file is this many times the live data (and above the
/// configured floor). sled's own steady state under churn measured 20×
/// and more; a fresh copy is about 2–3×.
pub const COMPACT_RATIO: u64 = 4;

/// How often to look for a store to recover.
const RECOVERY_CHECK: Duration = Duration::from_secs(5);

pub struct Housekeeper {
    pub store: SharedStore,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
}

impl Housekeeper {
    /// Runs until shutdown. Work in progress at shutdown finishes (it is a
    /// series of short transactions, or a copy), so the store is flushed
    /// after it.
    pub async fn run(self, mut config: watch::Receiver<Arc<Config>>) {
        let started = Instant::now();
        let mut last_pass: Option<Instant> = None;
        // Disk use right after the last compaction (see `compaction_floor`).
        let mut compacted_to = 0u64;
        let mut recovery = tokio::time::interval(RECOVERY_CHECK);
        recovery.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let every = config.borrow().storage.prune_interval;
            let due = match last_pass {
                Some(at) => at + every,
                None => started + every.min(FIRST_PASS_AFTER),
            };
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                // A reload may change the interval: work out the wait again.
                changed = config.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    continue;
                }
                _ = recovery.tick() => {
                    if self.store.get().recoverable() {
                        tracing::warn!("the disk takes writes again: moving the store to a fresh database");
                        self.compact("recovery").await;
                    }
                    continue;
                }
                _ = tokio::time::sleep_until(due) => {}
            }
            let storage = config.borrow().storage.clone();
            self.prune(storage.retention, every).await;
            last_pass = Some(Instant::now());
            let floor = compaction_floor(storage.compact_above_bytes, compacted_to);
            if self.wants_compaction(floor).await {
                if let Some(summary) = self.compact("size").await {
                    compacted_to = summary.after;
                }
            }
        }
    }

    /// One retention pass, logged and counted.
    async fn prune(&self, policy: RetentionPolicy, every: Duration) {
        let began = Instant::now();
        let now = crate::model::now();
        match crate::store::retention::prune(self.store.clone(), policy, now).await {
            Ok(report) => {
                self.metrics.record_retention(Ok(&report));
                log_pass(&report, began.elapsed(), self.store.get().entry_count());
            }
            Err(e) => {
                self.metrics.record_retention(Err(()));
                // Each batch is its own transaction: what was pruned stays
                // pruned, the rest waits for the next pass.
                tracing::error!(
                    "retention pass failed: {e}; it runs again in {}",
                    humantime::format_duration(every)
                );
            }
        }
    }

    /// Whether the store is over `floor` bytes and [`COMPACT_RATIO`] times
    /// its live data (a scan, but only once it is big enough to matter).
    async fn wants_compaction(&self, floor: u64) -> bool {
        let store = self.store.get();
        let answer = blocking(move || compaction_wanted(&store, floor)).await;
        match answer {
            Ok(Some((disk, live))) => {
                tracing::info!(
                    disk_bytes = disk,
                    live_bytes = live,
                    "the store takes {:.1} MB on disk for {:.1} MB of data: compacting",
                    disk as f64 / 1e6,
                    live as f64 / 1e6
                );
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!("cannot measure the store for compaction: {e}");
                false
            }
        }
    }

    /// Compacts (writes wait meanwhile; reads go on), logged and counted.
    async fn compact(&self, reason: &'static str) -> Option<CompactSummary> {
        let began = Instant::now();
        let store = self.store.clone();
        match blocking(move || store.compact()).await {
            Ok(summary) => {
                self.metrics.record_compaction(reason, true);
                tracing::info!(
                    entries = summary.entries,
                    took_ms = began.elapsed().as_millis(),
                    "store compacted: {:.1} MB → {:.1} MB",
                    summary.before as f64 / 1e6,
                    summary.after as f64 / 1e6
                );
                Some(summary)
            }
            Err(e) => {
                self.metrics.record_compaction(reason, false);
                tracing::error!(
                    "store compaction failed: {e}; the store is unchanged, and it is tried again later"
                );
                None
            }
        }
    }
}

/// Below this size a store is not considered for compaction (and not
/// scanned): the configured floor, or twice its size right after the last
/// compaction (`compacted_to`; 0 before the first), whichever is larger,
/// so a store that stays above the ratio is not rewritten again and again.
pub fn compaction_floor(configured: u64, compacted_to: u64) -> u64 {
    configured.max(compacted_to.saturating_mul(2))
}

/// The compaction rule: a store of `disk` bytes holding `live` bytes of
/// records is worth rewriting when it is over `floor` and
/// [`COMPACT_RATIO`] times its data.
pub fn compaction_due(disk: u64, live: u64, floor: u64) -> bool {
    disk >= floor && disk > live.saturating_mul(COMPACT_RATIO)
}

/// The disk use and live data of `store` when it is due for compaction
/// above `floor`. Counts the live data only when [`live_check`] asks for
/// it (a scan: call from a blocking thread).
pub fn compaction_wanted(store: &Store, floor: u64) -> Result<Option<(u64, u64)>, StoreError> {
    let disk = store.size_on_disk()?;
    if disk < floor {
        return Ok(None);
    }
    let entries = store.entry_count() as u64;
    if live_check(disk, entries, floor, store.last_live_measure()?) == LiveCheck::NotDue {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let live = store.measure_live()?.live_bytes;
    tracing::debug!(
        "counted {:.1} MB of live data in {:.1} s",
        live as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(compaction_due(disk, live, floor).then_some((disk, live)))
}

/// What deciding on compaction takes, for a store of `disk` bytes holding
/// `entries` entries, above the floor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveCheck {
    /// Not due by the remembered count of live data, scaled to the entries
    /// stored now: no scan.
    NotDue,
    /// Count the live data (a full scan): none is remembered, the store
    /// changed too much since (see [`LiveMeasure::is_stale`]), or by the
    /// remembered count compaction is due, which a count confirms before
    /// the whole store is rewritten.
    Count,
}

/// Whether deciding on compaction needs a count of the live data, given the
/// one `remembered` (see [`LiveCheck`]).
pub fn live_check(
    disk: u64,
    entries: u64,
    floor: u64,
    remembered: Option<LiveMeasure>,
) -> LiveCheck {
    match remembered {
        Some(m)
            if !m.is_stale(entries, disk) && !compaction_due(disk, m.scaled_to(entries), floor) =>
        {
            LiveCheck::NotDue
        }
        _ => LiveCheck::Count,
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

fn log_pass(report: &PruneReport, took: Duration, entries: usize) {
    let took_ms = took.as_millis();
    if report.pruned + report.tombstones_expired == 0 {
        tracing::debug!(took_ms, "retention: nothing to prune");
        return;
    }
    tracing::info!(
        pruned = report.pruned,
        tombstones_expired = report.tombstones_expired,
        entries,
        took_ms,
        "retention: pruned {} entries, expired {} tombstones",
        report.pruned,
        report.tombstones_expired,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, FeedState};
    use crate::store::Incoming;

    const MB: u64 = 1 << 20;

    fn counted(live_bytes: u64, entries: u64, disk_bytes: u64) -> Option<LiveMeasure> {
        Some(LiveMeasure {
            live_bytes,
            entries,
            disk_bytes,
        })
    }

    #[test]
    fn the_store_is_counted_only_when_the_last_count_may_mislead() {
        let floor = 64 * MB;
        // Never counted: count.
        assert_eq!(live_check(100 * MB, 1_000, floor, None), LiveCheck::Count);
        // Counted at 100 MB on disk, 50 MB live: a pass an hour later with a
        // few more entries and a little more disk needs no scan.
        let last = counted(50 * MB, 1_000, 100 * MB);
        assert_eq!(live_check(105 * MB, 1_050, floor, last), LiveCheck::NotDue);
        // The disk grew by more than a tenth, or the entries moved by more
        // than a tenth either way (retention): count again.
        assert_eq!(live_check(111 * MB, 1_000, floor, last), LiveCheck::Count);
        assert_eq!(live_check(100 * MB, 1_101, floor, last), LiveCheck::Count);
        assert_eq!(live_check(100 * MB, 899, floor, last), LiveCheck::Count);
        // After a compaction the disk shrank and the count still holds.
        assert_eq!(live_check(60 * MB, 1_000, 0, last), LiveCheck::NotDue);
        // Retention took a few entries: by the count scaled to them the
        // disk is now over four times the data, which a count confirms
        // before compacting.
        let even = counted(25 * MB, 1_000, 100 * MB);
        assert_eq!(live_check(100 * MB, 1_000, floor, even), LiveCheck::NotDue);
        assert_eq!(live_check(100 * MB, 950, floor, even), LiveCheck::Count);
    }

    #[test]
    fn compaction_is_due_over_the_floor_and_the_ratio() {
        assert!(compaction_due(100 * MB, 20 * MB, 64 * MB));
        assert!(!compaction_due(100 * MB, 25 * MB, 64 * MB));
        assert!(!compaction_due(60 * MB, MB, 64 * MB));
        assert_eq!(compaction_floor(64 * MB, 0), 64 * MB);
        assert_eq!(compaction_floor(64 * MB, 40 * MB), 80 * MB);
    }

    /// Stores entries `from..to` of one feed, 20 kB of text each.
    fn store_entries(store: &Store, from: usize, to: usize) {
        let state = FeedState::new("https://a.example/feed");
        let at = crate::model::now();
        let body = "a long article body of many words ".repeat(600);
        let entries = (from..to)
            .map(|i| {
                let title = format!("Story {i}");
                let mut e = Entry::bare(&state.url, &format!("guid:{i}"), &title, at);
                e.content = Some(format!("{i} {body}"));
                Incoming::from_entry(e)
            })
            .collect();
        store.store_incoming(&state, entries).unwrap();
        store.flush().unwrap();
    }

    #[test]
    fn a_store_is_counted_again_only_once_it_has_changed_by_a_tenth() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        store_entries(&store, 0, 200);
        let remembered = || store.last_live_measure().unwrap().map(|m| m.entries);
        assert_eq!(remembered(), None);
        let disk = store.size_on_disk().unwrap();
        let live = store.live_bytes().unwrap();
        assert!(
            disk <= live * COMPACT_RATIO,
            "not due: {disk} on disk, {live} live"
        );

        assert_eq!(compaction_wanted(&store, 0).unwrap(), None);
        assert_eq!(remembered(), Some(200), "counted at the first pass");
        // A few more entries: the remembered count, scaled, decides.
        store_entries(&store, 200, 205);
        assert_eq!(compaction_wanted(&store, 0).unwrap(), None);
        assert_eq!(remembered(), Some(200), "not counted again");
        // A tenth more: counted again.
        store_entries(&store, 205, 230);
        assert_eq!(compaction_wanted(&store, 0).unwrap(), None);
        assert_eq!(remembered(), Some(230));
    }
}
