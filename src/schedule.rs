//! When each feed is due: the polling policy as pure functions of time, and
//! the in-memory due list the daemon's scheduler loop works from.
//!
//! Due times are persisted in each feed's [`FeedState`] by `poll`, so a
//! restart resumes the schedule instead of refetching everything at once.

use crate::model::FeedState;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Failing feeds back off up to this long between attempts, and are never
/// given up on.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// Next poll after a success (including `304 Not Modified`).
pub fn after_success(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    now + to_chrono(interval)
}

/// Next poll after the `failures`-th failure in a row: the interval doubled
/// per failure after the first (1×, 2×, 4×, …), capped at [`MAX_BACKOFF`].
pub fn after_failure(now: DateTime<Utc>, interval: Duration, failures: u32) -> DateTime<Utc> {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    let wait = interval
        .saturating_mul(factor)
        .min(MAX_BACKOFF.max(interval));
    now + to_chrono(wait)
}

/// When a feed is first due in this process: its persisted due time, or now
/// for a feed never polled.
pub fn first_due(state: Option<&FeedState>, now: DateTime<Utc>) -> DateTime<Utc> {
    state.and_then(|s| s.next_due).unwrap_or(now)
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let now = Utc::now();
        let interval = Duration::from_secs(30 * 60);
        let waits: Vec<i64> = (1..=8)
            .map(|n| (after_failure(now, interval, n) - now).num_minutes())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1440, 1440]);
        // A huge failure count neither overflows nor gives up.
        assert_eq!(
            (after_failure(now, interval, u32::MAX) - now).num_hours(),
            24
        );
        assert_eq!((after_success(now, interval) - now).num_minutes(), 30);
    }

    #[test]
    fn persisted_due_times_are_resumed() {
        let now = Utc::now();
        let mut state = FeedState::new("https://a.example/rss");
        assert_eq!(first_due(Some(&state), now), now);
        state.next_due = Some(now + chrono::Duration::minutes(7));
        assert_eq!(
            first_due(Some(&state), now),
            now + chrono::Duration::minutes(7)
        );
        assert_eq!(first_due(None, now), now);
    }
}
