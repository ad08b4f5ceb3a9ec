//! When each feed is due: the polling policy, as pure functions of the time
//! they are given (so tests need no clock).
//!
//! - after a success: the feed's interval, stretched (never shortened) by
//!   the server's freshness lifetime and the feed's own `<ttl>` /
//!   `sy:updatePeriod` up to `max_interval`, then moved out of its
//!   `<skipHours>`/`<skipDays>`;
//! - after a failure: exponential backoff with jitter from the interval up
//!   to `max_interval`; a feed is never given up on;
//! - `Retry-After` is a floor, `410 Gone` re-checks weekly;
//! - at start-up: persisted due times are kept, and feeds that became
//!   overdue while the daemon was down are spread over their interval
//!   rather than polled in one burst. Feeds never polled start at once (the
//!   per-host and global limits still pace them): a new install shows news
//!   right away.
//!
//! Due times are persisted in each feed's [`FeedState`] by `poll`.

use crate::model::{FeedState, PublisherHints};
use chrono::{DateTime, Datelike, Duration as Span, DurationRound, Timelike, Utc};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How often a feed that answered `410 Gone` is still checked.
pub const GONE_RECHECK: Duration = Duration::from_secs(7 * 24 * 3600);

/// The longest a server's `Retry-After` is honoured for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// Next poll after a success (including `304 Not Modified`).
pub fn after_success(
    now: DateTime<Utc>,
    interval: Duration,
    fresh_for: Option<Duration>,
    hints: &PublisherHints,
    max_interval: Duration,
) -> DateTime<Utc> {
    let hinted = fresh_for
        .into_iter()
        .chain(hints.min_interval_secs.map(Duration::from_secs))
        .max();
    let wait = match hinted {
        Some(h) => interval.max(h.min(max_interval)),
        None => interval,
    };
    skip_forward(now + span(wait), hints)
}

/// Next poll after the `failures`-th failure in a row: the interval
/// doubled per failure after the first (1×, 2×, 4×, …) plus up to 20 %
/// jitter, capped at `max_interval` (never below the interval itself).
pub fn after_failure(
    now: DateTime<Utc>,
    interval: Duration,
    failures: u32,
    max_interval: Duration,
    jitter: f64,
) -> DateTime<Utc> {
    let factor = 1u32 << failures.saturating_sub(1).min(20);
    let base = interval.saturating_mul(factor);
    let jittered = base.saturating_add(base.mul_f64(0.2 * jitter.clamp(0.0, 1.0)));
    now + span(jittered.min(max_interval.max(interval)))
}

/// A server's `Retry-After` is a floor under whatever backoff says.
pub fn honour_retry_after(
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    retry_after: Duration,
) -> DateTime<Utc> {
    due.max(now + span(retry_after.min(MAX_RETRY_AFTER)))
}

/// Next check of a feed that answered `410 Gone`.
pub fn after_gone(now: DateTime<Utc>) -> DateTime<Utc> {
    now + span(GONE_RECHECK)
}

/// When a feed is first due in this process. A persisted due time in the
/// future is kept (a restart causes no burst); an overdue feed is spread
/// over its interval at its own jittered offset; a never-polled feed is due
/// now.
pub fn first_due(
    state: Option<&FeedState>,
    now: DateTime<Utc>,
    interval: Duration,
    jitter: f64,
) -> DateTime<Utc> {
    match state.and_then(|s| s.next_due) {
        Some(due) if due > now => due,
        Some(_) => now + span(interval.mul_f64(jitter.clamp(0.0, 1.0))),
        None => now,
    }
}

/// A stable pseudo-random number in `[0, 1)` for `key` and `salt`:
/// different feeds get different offsets, the same feed the same one.
pub fn jitter(key: &str, salt: u64) -> f64 {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(salt.to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Moves `t` to the start of the next hour that neither `<skipHours>` nor
/// `<skipDays>` excludes (UTC).
fn skip_forward(t: DateTime<Utc>, hints: &PublisherHints) -> DateTime<Utc> {
    let skipped = |t: DateTime<Utc>| {
        hints.skip_hours & (1 << t.hour()) != 0
            || hints.skip_days & (1 << t.weekday().num_days_from_monday()) != 0
    };
    if !skipped(t) {
        return t;
    }
    let mut candidate = t.duration_trunc(Span::hours(1)).unwrap_or(t);
    // A week of hours covers every combination; hints that exclude all of
    // them are dropped when they are read.
    for _ in 0..(24 * 7 + 1) {
        candidate += Span::hours(1);
        if !skipped(candidate) {
            return candidate;
        }
    }
    t
}

fn span(d: Duration) -> Span {
    Span::from_std(d).unwrap_or(Span::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn minutes(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        (to - from).num_minutes()
    }

    #[test]
    fn success_takes_the_longest_hint_up_to_the_cap() {
        let now = at("2026-11-25T10:00:00Z"); // a Wednesday
        let none = PublisherHints::default();
        assert_eq!(
            minutes(now, after_success(now, 30 * MIN, None, &none, DAY)),
            30
        );
        // A short max-age never shortens the interval.
        assert_eq!(
            minutes(now, after_success(now, 30 * MIN, Some(5 * MIN), &none, DAY)),
            30
        );
        assert_eq!(
            minutes(
                now,
                after_success(now, 30 * MIN, Some(90 * MIN), &none, DAY)
            ),
            90
        );
        let ttl = PublisherHints {
            min_interval_secs: Some(2 * 3600),
            ..PublisherHints::default()
        };
        assert_eq!(
            minutes(now, after_success(now, 30 * MIN, Some(90 * MIN), &ttl, DAY)),
            120
        );
        // Capped at max_interval.
        assert_eq!(
            minutes(now, after_success(now, 30 * MIN, Some(3 * DAY), &none, DAY)),
            24 * 60
        );
    }

    #[test]
    fn skip_hours_and_days_are_respected() {
        let now = at("2026-11-25T10:00:00Z"); // Wednesday
        let night = PublisherHints {
            skip_hours: (1 << 10) | (1 << 11),
            ..PublisherHints::default()
        };
        // Due 10:30, inside skipped hours 10 and 11: moved to 12:00.
        assert_eq!(
            after_success(now, 30 * MIN, None, &night, DAY),
            at("2026-11-25T12:00:00Z")
        );
        let weekend = PublisherHints {
            skip_days: 1 << 2 | 1 << 3, // Wednesday, Thursday
            ..PublisherHints::default()
        };
        assert_eq!(
            after_success(now, 30 * MIN, None, &weekend, DAY),
            at("2026-11-27T00:00:00Z")
        );
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let now = at("2026-11-25T10:00:00Z");
        let interval = 30 * MIN;
        let waits: Vec<i64> = (1..=8)
            .map(|n| minutes(now, after_failure(now, interval, n, DAY, 0.0)))
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1440, 1440]);
        // Full jitter adds 20 %, still under the cap.
        assert_eq!(
            minutes(now, after_failure(now, interval, 3, DAY, 0.999_999)),
            143
        );
        // Never gives up, never overflows.
        assert_eq!(
            minutes(now, after_failure(now, interval, u32::MAX, DAY, 0.5)),
            1440
        );
        // A feed polled less often than the cap backs off from its interval.
        assert_eq!(
            minutes(now, after_failure(now, 2 * DAY, 1, DAY, 0.0)),
            2 * 1440
        );
    }

    #[test]
    fn retry_after_and_gone() {
        let now = at("2026-11-25T10:00:00Z");
        let backoff = now + Span::minutes(30);
        assert_eq!(
            honour_retry_after(backoff, now, 2 * 3600 * Duration::from_secs(1)),
            now + Span::hours(2)
        );
        assert_eq!(honour_retry_after(backoff, now, MIN), backoff);
        assert_eq!(
            honour_retry_after(backoff, now, 100 * DAY),
            now + Span::days(7)
        );
        assert_eq!(after_gone(now), now + Span::days(7));
    }

    #[test]
    fn restarts_resume_and_spread() {
        let now = at("2026-11-25T10:00:00Z");
        let mut state = FeedState::new("https://a.example/rss");
        state.next_due = Some(now + Span::minutes(7));
        assert_eq!(
            first_due(Some(&state), now, 30 * MIN, 0.9),
            now + Span::minutes(7)
        );
        state.next_due = Some(now - Span::days(2));
        assert_eq!(
            first_due(Some(&state), now, 30 * MIN, 0.5),
            now + Span::minutes(15)
        );
        assert_eq!(first_due(None, now, 30 * MIN, 0.5), now);
    }

    #[test]
    fn jitter_is_stable_spread_and_in_range() {
        assert_eq!(
            jitter("https://a.example/rss", 1),
            jitter("https://a.example/rss", 1)
        );
        let values: Vec<f64> = (0..1000)
            .map(|i| jitter(&format!("https://f{i}.example/"), 0))
            .collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let low = values.iter().filter(|v| **v < 0.5).count();
        assert!(
            (400..600).contains(&low),
            "roughly uniform: {low} of 1000 below 0.5"
        );
    }
}
