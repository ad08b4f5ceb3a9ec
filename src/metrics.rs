//! Prometheus metrics, in the text exposition format (version 0.0.4),
//! every name prefixed `tidings_`.
//!
//! Counters are recorded as things happen (polls by the scheduler, HTTP
//! requests by a middleware); gauges that describe state (per feed, per
//! topic, store size) are read from a [`Snapshot`] taken at scrape time, so
//! they can never drift from the store. Hand-written because the format is
//! small and a client library would cost more to build than this file.

use crate::model::FeedState;
use crate::poll::{PollOutcome, PollReport};
use crate::store::PruneReport;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Fetch latency histogram bounds, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
pub struct Metrics {
    /// (result, error kind) → polls.
    polls: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    fetch_latency: Histogram,
    fetched_bytes: AtomicU64,
    entries_new: AtomicU64,
    entries_updated: AtomicU64,
    /// (route, status) → requests.
    http: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    /// "ok" / "rejected" → config reloads.
    reloads: Mutex<BTreeMap<&'static str, u64>>,
    retention: RetentionCounters,
    /// (reason, "ok" / "error") → store compactions.
    compactions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

/// What the scheduled retention passes did.
#[derive(Default)]
struct RetentionCounters {
    runs_ok: AtomicU64,
    runs_failed: AtomicU64,
    pruned: AtomicU64,
    tombstones_expired: AtomicU64,
    /// Unix seconds of the last successful pass; 0 before the first.
    last_success: AtomicU64,
}

/// State-describing values read at scrape time.
pub struct Snapshot {
    pub feeds: Vec<FeedState>,
    /// (topic slug, entries it matches).
    pub topic_entries: Vec<(String, u64)>,
    pub entries: u64,
    pub store_bytes: u64,
    /// Whether the store would accept a write now (disk space, read-only
    /// file system, an earlier failed write).
    pub store_writable: bool,
    /// Store writes refused or failed since start.
    pub store_write_errors: u64,
    pub sketch_index: crate::store::SketchIndexSize,
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (bucket, bound) in self.buckets.iter().zip(LATENCY_BUCKETS) {
            if secs <= bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            d.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn record_poll(&self, report: &PollReport) {
        let (result, kind) = match &report.outcome {
            PollOutcome::Stored(_) => ("ok", ""),
            PollOutcome::NotModified => ("not_modified", ""),
            PollOutcome::SameBody => ("same_body", ""),
            PollOutcome::Failed(_) => ("error", report.error_kind.unwrap_or("other")),
        };
        *lock(&self.polls).entry((result, kind)).or_default() += 1;
        if let Some(elapsed) = report.fetch_time {
            self.fetch_latency.observe(elapsed);
        }
        self.fetched_bytes
            .fetch_add(report.fetched_bytes, Ordering::Relaxed);
        if let PollOutcome::Stored(c) = &report.outcome {
            self.entries_new.fetch_add(c.new as u64, Ordering::Relaxed);
            self.entries_updated
                .fetch_add(c.updated as u64, Ordering::Relaxed);
        }
    }

    /// Called on every request: allocates only the first time a route is
    /// seen.
    pub fn record_http(&self, route: &str, status: u16) {
        let mut http = lock(&self.http);
        let by_status = match http.get_mut(route) {
            Some(by_status) => by_status,
            None => http.entry(route.to_owned()).or_default(),
        };
        *by_status.entry(status).or_default() += 1;
    }

    pub fn record_reload(&self, accepted: bool) {
        *lock(&self.reloads)
            .entry(if accepted { "ok" } else { "rejected" })
            .or_default() += 1;
    }

    /// One scheduled retention pass: what it removed, or that it failed.
    pub fn record_retention(&self, outcome: Result<&PruneReport, ()>) {
        let r = &self.retention;
        match outcome {
            Ok(report) => {
                r.runs_ok.fetch_add(1, Ordering::Relaxed);
                r.pruned.fetch_add(report.pruned as u64, Ordering::Relaxed);
                r.tombstones_expired
                    .fetch_add(report.tombstones_expired as u64, Ordering::Relaxed);
                let now = u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
                r.last_success.store(now, Ordering::Relaxed);
            }
            Err(()) => {
                r.runs_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// One store compaction: why ("size", "recovery") and whether it worked.
    pub fn record_compaction(&self, reason: &'static str, ok: bool) {
        *lock(&self.compactions)
            .entry((reason, if ok { "ok" } else { "error" }))
            .or_default() += 1;
    }

    /// The whole exposition.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::with_capacity(4096 + snapshot.feeds.len() * 512);
        let polls = lock(&self.polls).clone();
        family(
            &mut out,
            "tidings_polls_total",
            "counter",
            "Feed polls by result and error kind.",
        );
        for ((result, kind), n) in &polls {
            let _ = writeln!(
                out,
                "tidings_polls_total{{result=\"{result}\",error=\"{kind}\"}} {n}"
            );
        }

        family(
            &mut out,
            "tidings_fetch_duration_seconds",
            "histogram",
            "Time to fetch a feed (request to end of body).",
        );
        for (bucket, bound) in self.fetch_latency.buckets.iter().zip(LATENCY_BUCKETS) {
            let _ = writeln!(
                out,
                "tidings_fetch_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.fetch_latency.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "tidings_fetch_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.fetch_latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "tidings_fetch_duration_seconds_sum {sum}");
        let _ = writeln!(out, "tidings_fetch_duration_seconds_count {count}");

        single(
            &mut out,
            "tidings_fetched_bytes_total",
            "counter",
            "Response body bytes fetched (after decompression).",
            self.fetched_bytes.load(Ordering::Relaxed),
        );
        family(
            &mut out,
            "tidings_entries_stored_total",
            "counter",
            "Entries stored, by change.",
        );
        let _ = writeln!(
            out,
            "tidings_entries_stored_total{{change=\"new\"}} {}",
            self.entries_new.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "tidings_entries_stored_total{{change=\"updated\"}} {}",
            self.entries_updated.load(Ordering::Relaxed)
        );

        family(
            &mut out,
            "tidings_http_requests_total",
            "counter",
            "HTTP requests served, by route and status.",
        );
        let http = lock(&self.http);
        for (route, status, n) in http
            .iter()
            .flat_map(|(route, by_status)| by_status.iter().map(move |(s, n)| (route, s, n)))
        {
            let _ = writeln!(
                out,
                "tidings_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        family(
            &mut out,
            "tidings_config_reloads_total",
            "counter",
            "Configuration reloads, by outcome.",
        );
        for (outcome, n) in lock(&self.reloads).iter() {
            let _ = writeln!(
                out,
                "tidings_config_reloads_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        let r = &self.retention;
        family(
            &mut out,
            "tidings_retention_runs_total",
            "counter",
            "Scheduled retention passes, by outcome.",
        );
        for (outcome, n) in [("ok", &r.runs_ok), ("error", &r.runs_failed)] {
            let _ = writeln!(
                out,
                "tidings_retention_runs_total{{outcome=\"{outcome}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        single(
            &mut out,
            "tidings_retention_pruned_entries_total",
            "counter",
            "Entries removed by retention (each leaves a tombstone).",
            r.pruned.load(Ordering::Relaxed),
        );
        single(
            &mut out,
            "tidings_retention_expired_tombstones_total",
            "counter",
            "Tombstones dropped after no fetch listed their entry for 30 days.",
            r.tombstones_expired.load(Ordering::Relaxed),
        );
        family(
            &mut out,
            "tidings_store_compactions_total",
            "counter",
            "Store compactions, by reason (size: garbage on disk; recovery: after a failed write) and outcome.",
        );
        for ((reason, outcome), n) in lock(&self.compactions).iter() {
            let _ = writeln!(
                out,
                "tidings_store_compactions_total{{reason=\"{reason}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        single(
            &mut out,
            "tidings_retention_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful retention pass (0: none yet).",
            r.last_success.load(Ordering::Relaxed),
        );

        family(
            &mut out,
            "tidings_feed_consecutive_failures",
            "gauge",
            "Failed polls in a row, per feed.",
        );
        for f in &snapshot.feeds {
            let _ = writeln!(
                out,
                "tidings_feed_consecutive_failures{{feed=\"{}\"}} {}",
                label(&f.url),
                f.consecutive_failures
            );
        }
        family(
            &mut out,
            "tidings_feed_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the feed's last successful poll.",
        );
        for f in &snapshot.feeds {
            if let Some(t) = f.last_success {
                let _ = writeln!(
                    out,
                    "tidings_feed_last_success_timestamp_seconds{{feed=\"{}\"}} {}",
                    label(&f.url),
                    t.timestamp()
                );
            }
        }
        family(
            &mut out,
            "tidings_feed_next_poll_timestamp_seconds",
            "gauge",
            "Unix time the feed is next due.",
        );
        for f in &snapshot.feeds {
            if let Some(t) = f.next_due {
                let _ = writeln!(
                    out,
                    "tidings_feed_next_poll_timestamp_seconds{{feed=\"{}\"}} {}",
                    label(&f.url),
                    t.timestamp()
                );
            }
        }
        family(
            &mut out,
            "tidings_feed_entries",
            "gauge",
            "Entries stored per feed.",
        );
        for f in &snapshot.feeds {
            let _ = writeln!(
                out,
                "tidings_feed_entries{{feed=\"{}\"}} {}",
                label(&f.url),
                f.entry_count
            );
        }
        family(
            &mut out,
            "tidings_topic_entries",
            "gauge",
            "Stored entries each topic matches (recounted every few minutes).",
        );
        for (slug, n) in &snapshot.topic_entries {
            let _ = writeln!(
                out,
                "tidings_topic_entries{{topic=\"{}\"}} {n}",
                label(slug)
            );
        }
        single(
            &mut out,
            "tidings_store_entries",
            "gauge",
            "Entries in the store.",
            snapshot.entries,
        );
        single(
            &mut out,
            "tidings_store_size_bytes",
            "gauge",
            "Disk space used by the store.",
            snapshot.store_bytes,
        );
        single(
            &mut out,
            "tidings_store_writable",
            "gauge",
            "1 when the store accepts writes; 0 when the disk is (nearly) full, read-only, or a write failed (see the log and the status page).",
            u64::from(snapshot.store_writable),
        );
        single(
            &mut out,
            "tidings_store_write_errors_total",
            "counter",
            "Store writes refused (disk full, read-only) or failed; the fetch is retried at the feed's next poll.",
            snapshot.store_write_errors,
        );
        single(
            &mut out,
            "tidings_dedup_index_entries",
            "gauge",
            "Recent entries in the in-memory index that finds copies of a story (filled at the first write after start).",
            snapshot.sketch_index.entries as u64,
        );
        single(
            &mut out,
            "tidings_dedup_index_bytes",
            "gauge",
            "Heap held by that index: most of the memory polling many feeds costs.",
            snapshot.sketch_index.heap_bytes as u64,
        );
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// Escapes a label value (backslash, double quote, newline).
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreCounts;

    fn report(outcome: PollOutcome, kind: Option<&'static str>) -> PollReport {
        PollReport {
            url: url::Url::parse("http://a.example/rss").unwrap(),
            outcome,
            next_due: chrono::Utc::now(),
            fetched_bytes: 100,
            fetch_time: Some(Duration::from_millis(300)),
            error_kind: kind,
        }
    }

    #[test]
    fn records_and_renders() {
        let m = Metrics::default();
        m.record_poll(&report(
            PollOutcome::Stored(StoreCounts {
                new: 3,
                updated: 1,
                unchanged: 0,
            }),
            None,
        ));
        m.record_poll(&report(PollOutcome::NotModified, None));
        m.record_poll(&report(PollOutcome::Failed("x".into()), Some("timeout")));
        m.record_http("/feeds/{file}", 200);
        m.record_http("/feeds/{file}", 200);
        m.record_retention(Ok(&PruneReport {
            pruned: 4,
            tombstones_expired: 1,
        }));
        m.record_retention(Err(()));
        m.record_compaction("size", true);
        let mut feed = FeedState::new("http://a.example/\"rss\"");
        feed.consecutive_failures = 2;
        let text = m.render(&Snapshot {
            feeds: vec![feed],
            topic_entries: vec![("rc".into(), 7)],
            entries: 3,
            store_bytes: 4096,
            store_writable: false,
            store_write_errors: 2,
            sketch_index: crate::store::SketchIndexSize {
                entries: 5,
                heap_bytes: 1234,
            },
        });
        for line in [
            "tidings_polls_total{result=\"ok\",error=\"\"} 1",
            "tidings_polls_total{result=\"error\",error=\"timeout\"} 1",
            "tidings_fetch_duration_seconds_bucket{le=\"0.25\"} 0",
            "tidings_fetch_duration_seconds_bucket{le=\"0.5\"} 3",
            "tidings_fetch_duration_seconds_count 3",
            "tidings_fetched_bytes_total 300",
            "tidings_entries_stored_total{change=\"new\"} 3",
            "tidings_http_requests_total{route=\"/feeds/{file}\",status=\"200\"} 2",
            "tidings_feed_consecutive_failures{feed=\"http://a.example/\\\"rss\\\"\"} 2",
            "tidings_topic_entries{topic=\"rc\"} 7",
            "tidings_store_size_bytes 4096",
            "tidings_retention_runs_total{outcome=\"ok\"} 1",
            "tidings_retention_runs_total{outcome=\"error\"} 1",
            "tidings_retention_pruned_entries_total 4",
            "tidings_retention_expired_tombstones_total 1",
            "tidings_store_compactions_total{reason=\"size\",outcome=\"ok\"} 1",
            "tidings_store_writable 0",
            "tidings_store_write_errors_total 2",
            "tidings_dedup_index_entries 5",
            "tidings_dedup_index_bytes 1234",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
