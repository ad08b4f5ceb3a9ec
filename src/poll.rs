//! Poll: one feed through the whole ingest pipeline, in order:
//! `fetch` → `normalize` → `dedup` → `store`, then the next due time from
//! `schedule`. Used alike by the daemon's scheduler and by `poll --once`.
//!
//! A failure at any step is recorded in the feed's state (with backoff) and
//! never touches the entries already stored.

use crate::config::FeedConfig;
use crate::dedup::{self, IdentityMode};
use crate::fetch::{FetchError, FetchErrorKind, FetchOutcome, FetchRequest, Fetcher, Validators};
use crate::model::{Entry, FeedId, FeedState};
use crate::normalize::{self, ParsedFeed};
use crate::schedule;
use crate::store::{Incoming, SharedStore, StoreCounts, StoreError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

/// What one poll of one feed did.
#[derive(Debug)]
pub struct PollReport {
    pub url: Url,
    pub outcome: PollOutcome,
    pub next_due: DateTime<Utc>,
    /// Response body bytes received (after decompression).
    pub fetched_bytes: u64,
    /// Time from sending the request to the end of the body, when a
    /// response arrived.
    pub fetch_time: Option<Duration>,
    /// For a failure, its kind as a metrics label (`timeout`, `http_5xx`, …).
    pub error_kind: Option<&'static str>,
}

#[derive(Debug)]
pub enum PollOutcome {
    /// The body was parsed and stored.
    Stored(StoreCounts),
    /// `304 Not Modified`.
    NotModified,
    /// The server ignored our validators but sent the same bytes again.
    SameBody,
    /// Fetching or parsing failed; the feed backs off.
    Failed(String),
}

impl PollOutcome {
    pub fn is_failure(&self) -> bool {
        matches!(self, PollOutcome::Failed(_))
    }
}

impl fmt::Display for PollOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollOutcome::Stored(c) if c.new + c.updated == 0 => {
                write!(f, "unchanged ({} entries)", c.unchanged)
            }
            PollOutcome::Stored(c) => write!(
                f,
                "{} new, {} updated, {} unchanged",
                c.new, c.updated, c.unchanged
            ),
            PollOutcome::NotModified => f.write_str("unchanged (304 Not Modified)"),
            PollOutcome::SameBody => f.write_str("unchanged (same body)"),
            PollOutcome::Failed(why) => write!(f, "error: {why}"),
        }
    }
}

/// A permanent redirect is adopted as the feed's URL once it has been seen
/// on this many consecutive polls.
pub const ADOPT_REDIRECT_AFTER: u32 = 3;

/// Polls feeds into a store. Cheap to clone.
#[derive(Clone)]
pub struct Poller {
    fetcher: Fetcher,
    store: SharedStore,
    /// `[polling] max_interval`: cap on hint-stretched intervals and backoff.
    max_interval: Duration,
    /// Turns to parse and store a fetched body, shared by all polls (see
    /// [`processing_turns`]).
    processing: Arc<Semaphore>,
}

/// How many fetched bodies are parsed and stored at once, whatever the
/// polling concurrency: a core's worth each. Storing is one at a time
/// (one writer), so more turns would only hold more parsed feeds in
/// memory, each waiting on its own blocking thread; a fetch waiting for a
/// turn holds just its body. With 64 polls in flight and 2,000 feeds, two
/// turns took the first cycle's peak from 155–158 MB to 93–95 MB, and its
/// CPU time from 69–70 s to 64–65 s.
pub fn processing_turns() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

impl Poller {
    pub fn new(fetcher: Fetcher, store: impl Into<SharedStore>, max_interval: Duration) -> Poller {
        Poller {
            fetcher,
            store: store.into(),
            max_interval,
            processing: Arc::new(Semaphore::new(processing_turns())),
        }
    }

    /// This poller, parsing and storing at most `turns` fetched bodies at
    /// once (at least one) instead of [`processing_turns`].
    pub fn with_processing_turns(mut self, turns: usize) -> Poller {
        self.processing = Arc::new(Semaphore::new(turns.max(1)));
        self
    }

    /// Polls `feed` once, at time `now` (passed in so that tests control the
    /// clock). Only an unusable store is an `Err`; every problem with the
    /// feed itself is a [`PollOutcome::Failed`].
    pub async fn poll(
        &self,
        feed: &FeedConfig,
        now: DateTime<Utc>,
    ) -> Result<PollReport, StoreError> {
        let url = feed.url.clone();
        let mut state = self
            .store
            .get()
            .feed_state(FeedId::for_url(url.as_str()))?
            .unwrap_or_else(|| FeedState::new(url.as_str()));
        let mut stats = FetchStats::default();
        let fetched = self.fetch_and_parse(feed, &mut state, &mut stats).await;

        state.last_fetch = Some(now);
        state.polls += 1;
        let mut error_kind = None;
        let outcome = match fetched {
            Ok((fetched, fresh_for, permanent_redirect)) => {
                if state.consecutive_failures > 0 || state.gone_since.is_some() {
                    tracing::info!(feed = %url, "feed recovered after {} failed polls", state.consecutive_failures);
                }
                state.last_success = Some(now);
                state.last_error = None;
                state.consecutive_failures = 0;
                state.gone_since = None;
                track_redirect(&mut state, &url, permanent_redirect);
                if let Fetched::Parsed(parsed, _) = &fetched {
                    state.hints = parsed.hints;
                }
                state.next_due = Some(schedule::after_success(
                    now,
                    feed.interval,
                    fresh_for,
                    &state.hints,
                    self.max_interval,
                ));
                match fetched {
                    Fetched::NotModified => {
                        state.not_modified += 1;
                        self.save_state(&state).await?;
                        PollOutcome::NotModified
                    }
                    Fetched::SameBody => {
                        self.save_state(&state).await?;
                        PollOutcome::SameBody
                    }
                    Fetched::Parsed(parsed, turn) => {
                        let counts = self
                            .store_parsed(&mut state, parsed, feed.identity, now)
                            .await?;
                        drop(turn);
                        if counts.new + counts.updated > 0 {
                            tracing::info!(feed = %url, new = counts.new, updated = counts.updated, total = state.entry_count, "stored entries");
                        }
                        PollOutcome::Stored(counts)
                    }
                }
            }
            Err(error) => {
                error_kind = Some(error.kind);
                self.record_failure(&mut state, feed, &error, now);
                self.save_state(&state).await?;
                PollOutcome::Failed(error.message)
            }
        };
        Ok(PollReport {
            url,
            outcome,
            next_due: state.next_due.unwrap_or(now),
            fetched_bytes: stats.bytes,
            fetch_time: stats.elapsed,
            error_kind,
        })
    }

    /// Failure bookkeeping: backoff (or the weekly re-check of a gone
    /// feed), `Retry-After` as a floor, and the reason for the admin.
    fn record_failure(
        &self,
        state: &mut FeedState,
        feed: &FeedConfig,
        error: &PollError,
        now: DateTime<Utc>,
    ) {
        state.last_error = Some(error.message.clone());
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        // A body that failed to parse must be parsed again next time.
        state.body_hash = None;
        let jitter = schedule::jitter(&state.url, u64::from(state.consecutive_failures));
        let mut due = schedule::after_failure(
            now,
            feed.interval,
            state.consecutive_failures,
            self.max_interval,
            jitter,
        );
        if error.gone {
            if state.gone_since.is_none() {
                state.gone_since = Some(now);
            }
            due = schedule::after_gone(now);
        }
        if let Some(wait) = error.retry_after {
            due = schedule::honour_retry_after(due, now, wait);
        }
        state.next_due = Some(due);
        tracing::warn!(
            feed = %feed.url,
            failures = state.consecutive_failures,
            next_poll = %due.format("%Y-%m-%d %H:%M:%SZ"),
            "poll failed: {}",
            error.message
        );
    }

    /// Fetches with the stored validators and parses a changed body. New
    /// validators and the body hash are recorded in `state` (saved by the
    /// caller).
    async fn fetch_and_parse(
        &self,
        feed: &FeedConfig,
        state: &mut FeedState,
        stats: &mut FetchStats,
    ) -> Result<(Fetched, Option<std::time::Duration>, Option<Url>), PollError> {
        let fetch_url = match &state.adopted_url {
            Some(adopted) => Url::parse(adopted).unwrap_or_else(|_| feed.url.clone()),
            None => feed.url.clone(),
        };
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        let started = std::time::Instant::now();
        let fetched = self
            .fetcher
            .fetch(&FetchRequest::new(&fetch_url, &validators, feed))
            .await;
        stats.elapsed = Some(started.elapsed());
        let fetched = fetched.map_err(PollError::from)?;
        let (body, final_url) = match fetched.outcome {
            FetchOutcome::NotModified { validators } => {
                keep_validators(state, validators);
                return Ok((
                    Fetched::NotModified,
                    fetched.fresh_for,
                    fetched.permanent_redirect,
                ));
            }
            FetchOutcome::Body {
                body,
                final_url,
                validators,
            } => {
                keep_validators(state, validators);
                stats.bytes = body.len() as u64;
                (body, final_url)
            }
        };
        let hash = body_hash(&body);
        if state.body_hash == Some(hash) {
            return Ok((
                Fetched::SameBody,
                fetched.fresh_for,
                fetched.permanent_redirect,
            ));
        }
        state.body_hash = Some(hash);
        // The turn is held until the entries are stored. (The semaphore is
        // never closed; were it, polling would go on without turns.)
        let turn = Arc::clone(&self.processing).acquire_owned().await.ok();
        let parsed = tokio::task::spawn_blocking(move || normalize::parse_feed(&body, &final_url))
            .await
            .map_err(|e| PollError::parse(format!("internal error while parsing: {e}")))?
            .map_err(|e| PollError::parse(e.to_string()))?;
        if !parsed.repairs.is_empty() {
            let fixes: Vec<String> = parsed.repairs.iter().map(ToString::to_string).collect();
            tracing::info!(feed = %feed.url, "read after repairs: {}", fixes.join(", "));
        }
        if parsed.items_dropped > 0 {
            tracing::warn!(
                feed = %feed.url,
                "the feed lists {} items; only the first {} are read",
                parsed.items.len() + parsed.items_dropped,
                normalize::MAX_ITEMS
            );
        }
        Ok((
            Fetched::Parsed(parsed, turn),
            fetched.fresh_for,
            fetched.permanent_redirect,
        ))
    }

    /// Saves a feed's state alone, on a blocking thread (a write may wait
    /// for another fetch's flush).
    async fn save_state(&self, state: &FeedState) -> Result<(), StoreError> {
        let store = self.store.clone();
        let state = state.clone();
        tokio::task::spawn_blocking(move || store.write(|s| s.save_feed_state(&state)))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// Identifies the parsed entries and stores them together with `state`
    /// in one transaction, then flushes (everything reported stored is on
    /// disk before we say so); on a blocking thread.
    async fn store_parsed(
        &self,
        state: &mut FeedState,
        parsed: ParsedFeed,
        identity: IdentityMode,
        now: DateTime<Utc>,
    ) -> Result<StoreCounts, StoreError> {
        state.title = parsed.title.clone().or(state.title.take());
        state.site_link = parsed.site_link.clone().or(state.site_link.take());
        state.language = parsed.language.clone().or(state.language.take());
        let store = self.store.clone();
        let snapshot = state.clone();
        let (counts, entry_count) = tokio::task::spawn_blocking(move || {
            let entries = incoming_of(&snapshot, parsed, identity, now);
            store.write(|store| {
                let counts = store.store_incoming(&snapshot, entries)?;
                if counts.new + counts.updated > 0 {
                    store.flush()?;
                }
                let stored = store
                    .feed_state(snapshot.id())?
                    .map_or(0, |s| s.entry_count);
                Ok::<_, StoreError>((counts, stored))
            })
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        state.entry_count = entry_count;
        Ok(counts)
    }
}

/// What the fetch cost, for metrics.
#[derive(Default)]
struct FetchStats {
    bytes: u64,
    elapsed: Option<Duration>,
}

/// Why a poll failed, with what scheduling needs to know about it.
struct PollError {
    message: String,
    /// A metrics label for the kind of failure.
    kind: &'static str,
    gone: bool,
    retry_after: Option<std::time::Duration>,
}

impl PollError {
    fn parse(message: String) -> PollError {
        PollError {
            message,
            kind: "parse",
            gone: false,
            retry_after: None,
        }
    }
}

impl From<FetchError> for PollError {
    fn from(e: FetchError) -> PollError {
        let kind = match e.kind {
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::Connect => "connect",
            FetchErrorKind::Redirect => "redirect",
            FetchErrorKind::Gone => "gone",
            FetchErrorKind::Status(429) => "http_429",
            FetchErrorKind::Status(s) if s >= 500 => "http_5xx",
            FetchErrorKind::Status(_) => "http_4xx",
            FetchErrorKind::TooLarge => "too_large",
            FetchErrorKind::Other => "other",
        };
        PollError {
            kind,
            gone: e.kind == FetchErrorKind::Gone,
            retry_after: e.retry_after,
            message: e.message,
        }
    }
}

/// Counts consecutive sightings of the same permanent redirect and adopts
/// its target after [`ADOPT_REDIRECT_AFTER`] of them. Temporary redirects
/// (302/307) never get here: `fetch` reports only leading 301/308 chains.
fn track_redirect(state: &mut FeedState, feed_url: &Url, permanent: Option<Url>) {
    let Some(target) = permanent else {
        state.pending_redirect = None;
        return;
    };
    let target = target.to_string();
    let seen = match &state.pending_redirect {
        Some((pending, n)) if *pending == target => n + 1,
        _ => 1,
    };
    if seen >= ADOPT_REDIRECT_AFTER {
        tracing::info!(feed = %feed_url, "permanent redirect seen on {seen} polls in a row: now polling {target}");
        state.adopted_url = Some(target);
        state.pending_redirect = None;
    } else {
        tracing::info!(feed = %feed_url, "permanently redirected to {target} ({seen} of {ADOPT_REDIRECT_AFTER} before adopting)");
        state.pending_redirect = Some((target, seen));
    }
}

/// What a successful fetch yielded.
enum Fetched {
    NotModified,
    SameBody,
    /// With the processing turn it holds until stored.
    Parsed(ParsedFeed, Option<OwnedSemaphorePermit>),
}

/// The entries of a parsed feed, identified by the whole identity ladder
/// (as [`incoming_of`] identifies them, without what the fetch knows
/// beyond each entry: for benchmarks and tools that store entries alone).
pub fn entries_of(state: &FeedState, parsed: ParsedFeed, now: DateTime<Utc>) -> Vec<Entry> {
    incoming_of(state, parsed, IdentityMode::Guid, now)
        .into_iter()
        .map(|i| i.entry)
        .collect()
}

/// Turns a parsed feed into identified entries ready to store.
pub fn incoming_of(
    state: &FeedState,
    parsed: ParsedFeed,
    mode: IdentityMode,
    now: DateTime<Utc>,
) -> Vec<Incoming> {
    let ids = dedup::identify(&state.url, &parsed.items, mode);
    let feed = state.id();
    parsed
        .items
        .into_iter()
        .zip(ids)
        .filter_map(|(item, identified)| {
            let identified = identified?;
            let updated = item.updated.or(item.published).map_or(now, |t| t.min(now));
            let entry = Entry {
                id: identified.id,
                feed,
                identity: identified.key.clone(),
                link: item.link.map(String::from),
                title: item.title,
                summary: item.summary,
                content: item.content,
                authors: item.authors,
                categories: item.categories,
                language: item.language,
                published: item.published,
                first_seen: now,
                updated,
            };
            Some(Incoming {
                entry,
                identity: identified,
            })
        })
        .collect()
}

fn keep_validators(state: &mut FeedState, fresh: Validators) {
    // A 304 may omit validators; keep the old ones then.
    if fresh.etag.is_some() {
        state.etag = fresh.etag;
    }
    if fresh.last_modified.is_some() {
        state.last_modified = fresh.last_modified;
    }
}

/// SHA-256 prefix of a response body: equal bodies are not parsed twice.
pub fn body_hash(body: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(body);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}
