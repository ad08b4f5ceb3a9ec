//! Poll: one feed through the whole ingest pipeline, in order:
//! `fetch` → `normalize` → `dedup` → `store`, then the next due time from
//! `schedule`. Used alike by the daemon's scheduler and by `poll --once`.
//!
//! A failure at any step is recorded in the feed's state (with backoff) and
//! never touches the entries already stored.

use crate::config::FeedConfig;
use crate::dedup;
use crate::fetch::{FetchOutcome, Fetcher, Validators};
use crate::model::{Entry, FeedId, FeedState};
use crate::normalize::{self, ParsedFeed};
use crate::schedule;
use crate::store::{Store, StoreCounts, StoreError};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use url::Url;

/// What one poll of one feed did.
#[derive(Debug)]
pub struct PollReport {
    pub url: Url,
    pub outcome: PollOutcome,
    pub next_due: DateTime<Utc>,
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

/// Polls feeds into a store. Cheap to clone.
#[derive(Clone)]
pub struct Poller {
    fetcher: Fetcher,
    store: Arc<Store>,
}

impl Poller {
    pub fn new(fetcher: Fetcher, store: Arc<Store>) -> Poller {
        Poller { fetcher, store }
    }

    /// Polls `feed` once, now. Only an unusable store is an `Err`; every
    /// problem with the feed itself is a [`PollOutcome::Failed`].
    pub async fn poll(&self, feed: &FeedConfig) -> Result<PollReport, StoreError> {
        let url = feed.url.clone();
        let mut state = self
            .store
            .feed_state(FeedId::for_url(url.as_str()))?
            .unwrap_or_else(|| FeedState::new(url.as_str()));
        let now = crate::model::now();
        let fetched = self.fetch_and_parse(&url, &mut state).await;

        state.last_fetch = Some(now);
        let outcome = match fetched {
            Ok(fetched) => {
                state.last_success = Some(now);
                state.last_error = None;
                state.consecutive_failures = 0;
                state.next_due = Some(schedule::after_success(now, feed.interval));
                match fetched {
                    Fetched::NotModified => {
                        self.store.save_feed_state(&state)?;
                        PollOutcome::NotModified
                    }
                    Fetched::SameBody => {
                        self.store.save_feed_state(&state)?;
                        PollOutcome::SameBody
                    }
                    Fetched::Parsed(parsed) => {
                        let counts = self.store_parsed(&mut state, parsed, now).await?;
                        // Everything reported stored is on disk before we say so.
                        self.store.flush().await?;
                        if counts.new + counts.updated > 0 {
                            tracing::info!(feed = %url, new = counts.new, updated = counts.updated, "stored entries");
                        }
                        PollOutcome::Stored(counts)
                    }
                }
            }
            Err(why) => {
                state.last_error = Some(why.clone());
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                state.next_due = Some(schedule::after_failure(
                    now,
                    feed.interval,
                    state.consecutive_failures,
                ));
                // A body that failed to parse must be parsed again next time.
                state.body_hash = None;
                self.store.save_feed_state(&state)?;
                tracing::warn!(feed = %url, failures = state.consecutive_failures, "poll failed: {why}");
                PollOutcome::Failed(why)
            }
        };
        Ok(PollReport {
            url,
            outcome,
            next_due: state.next_due.unwrap_or(now),
        })
    }

    /// Fetches with the stored validators and parses a changed body. New
    /// validators and the body hash are recorded in `state` (saved by the
    /// caller). `Err` is a message for the admin.
    async fn fetch_and_parse(&self, url: &Url, state: &mut FeedState) -> Result<Fetched, String> {
        let validators = Validators {
            etag: state.etag.clone(),
            last_modified: state.last_modified.clone(),
        };
        let (body, final_url) = match self.fetcher.fetch(url, &validators).await {
            Err(e) => return Err(e.message),
            Ok(FetchOutcome::NotModified { validators }) => {
                keep_validators(state, validators);
                return Ok(Fetched::NotModified);
            }
            Ok(FetchOutcome::Body {
                body,
                final_url,
                validators,
            }) => {
                keep_validators(state, validators);
                (body, final_url)
            }
        };
        let hash = body_hash(&body);
        if state.body_hash == Some(hash) {
            return Ok(Fetched::SameBody);
        }
        state.body_hash = Some(hash);
        tokio::task::spawn_blocking(move || normalize::parse_feed(&body, &final_url))
            .await
            .map_err(|e| format!("internal error while parsing: {e}"))?
            .map(Fetched::Parsed)
            .map_err(|e| e.to_string())
    }

    /// Identifies the parsed entries and stores them together with `state`
    /// in one transaction, on a blocking thread.
    async fn store_parsed(
        &self,
        state: &mut FeedState,
        parsed: ParsedFeed,
        now: DateTime<Utc>,
    ) -> Result<StoreCounts, StoreError> {
        state.title = parsed.title.clone().or(state.title.take());
        state.site_link = parsed.site_link.clone().or(state.site_link.take());
        state.language = parsed.language.clone().or(state.language.take());
        let store = Arc::clone(&self.store);
        let snapshot = state.clone();
        let (counts, entry_count) = tokio::task::spawn_blocking(move || {
            let entries = entries_of(&snapshot, parsed, now);
            let counts = store.store_fetch(&snapshot, entries)?;
            let stored = store
                .feed_state(snapshot.id())?
                .map_or(0, |s| s.entry_count);
            Ok::<_, StoreError>((counts, stored))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))??;
        state.entry_count = entry_count;
        Ok(counts)
    }
}

/// What a successful fetch yielded.
enum Fetched {
    NotModified,
    SameBody,
    Parsed(ParsedFeed),
}

/// Turns a parsed feed into identified entries ready to store.
fn entries_of(state: &FeedState, parsed: ParsedFeed, now: DateTime<Utc>) -> Vec<Entry> {
    let ids = dedup::identify(&state.url, &parsed.items);
    let feed = state.id();
    parsed
        .items
        .into_iter()
        .zip(ids)
        .filter_map(|(item, id)| {
            let (id, identity) = id?;
            let updated = item.updated.or(item.published).map_or(now, |t| t.min(now));
            Some(Entry {
                id,
                feed,
                identity,
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

fn body_hash(body: &[u8]) -> [u8; 16] {
    let digest = Sha256::digest(body);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}
