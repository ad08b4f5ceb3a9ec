//! Housekeeping: the daemon's periodic store maintenance.
//!
//! Every `[storage] prune_interval` (default 1 h) it runs a retention pass
//! ([`crate::store::retention`]): entries past `max_age` or beyond a feed's
//! `max_entries_per_feed` go, each leaving a tombstone, and tombstones no
//! fetch has listed for 30 days expire. That keeps the store, and with it the
//! disk, bounded under steady polling; sled reuses the freed space itself
//! (its segment cleaner rewrites mostly-empty segments), so there is no
//! separate compaction step. The first pass runs shortly after start-up, so a
//! policy tightened while the daemon was stopped applies at once.
//!
//! A pass scans the whole time index, so it runs on a blocking thread. A
//! failed pass is logged and counted (`tidings_retention_runs_total`) and
//! tried again at the next interval; it never stops polling or serving.
//! A reload takes effect at the next pass (policy) or at once (interval).

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{PruneReport, RetentionPolicy, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The first pass waits at most this long after start-up: long enough for
/// the first polls to get going, short enough that a tightened policy
/// applies soon.
const FIRST_PASS_AFTER: Duration = Duration::from_secs(60);

pub struct Housekeeper {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
}

impl Housekeeper {
    /// Runs passes until shutdown. A pass in progress at shutdown finishes
    /// (it is a series of short transactions), so the store is flushed
    /// after it.
    pub async fn run(self, mut config: watch::Receiver<Arc<Config>>) {
        let started = Instant::now();
        let mut last_pass: Option<Instant> = None;
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
                _ = tokio::time::sleep_until(due) => {}
            }
            let policy = config.borrow().storage.retention;
            self.pass(policy, every).await;
            last_pass = Some(Instant::now());
        }
    }

    /// One retention pass, logged and counted.
    async fn pass(&self, policy: RetentionPolicy, every: Duration) {
        let began = Instant::now();
        let now = crate::model::now();
        match crate::store::retention::prune(Arc::clone(&self.store), policy, now).await {
            Ok(report) => {
                self.metrics.record_retention(Ok(&report));
                log_pass(&report, began.elapsed(), &self.store);
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
}

fn log_pass(report: &PruneReport, took: Duration, store: &Store) {
    let took_ms = took.as_millis();
    if report.pruned + report.tombstones_expired == 0 {
        tracing::debug!(took_ms, "retention: nothing to prune");
        return;
    }
    tracing::info!(
        pruned = report.pruned,
        tombstones_expired = report.tombstones_expired,
        entries = store.entry_count(),
        took_ms,
        "retention: pruned {} entries, expired {} tombstones",
        report.pruned,
        report.tombstones_expired,
    );
}
