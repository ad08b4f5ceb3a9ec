//! Storage: the only module that touches sled.
//!
//! Trees (see `keys` for the byte layouts):
//! - `entries`: [`EntryId`] → [`Entry`]
//! - `by_time`: sort time + [`EntryId`] → `()`, iterated in reverse for
//!   newest-first feeds
//! - `feeds`: [`FeedId`] → [`FeedState`]
//! - `meta`: store-wide values such as the schema version
//!
//! One fetch is stored in one multi-tree transaction (entries, their time
//! index and the feed state with its HTTP validators), so a crash can never
//! leave validators that would make the next poll skip entries we did not
//! store, nor an index key without its entry.
//!
//! All calls are synchronous and fast for point operations; callers run
//! scans ([`Store::newest`]) and whole-fetch writes on a blocking thread.

mod backup;
mod codec;
mod keys;

use crate::model::{Entry, EntryId, FeedId, FeedState};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use backup::{BackupError, BackupSummary};
pub use codec::CodecError;

/// Bumped whenever the on-disk layout changes; `open` migrates or refuses.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error(
        "the store at {path} has schema version {found}, newer than this tidings understands ({SCHEMA_VERSION}); upgrade tidings"
    )]
    TooNew { path: PathBuf, found: u32 },
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("store task failed: {0}")]
    Task(String),
    #[error("corrupt record in the store: {0}")]
    Corrupt(#[from] CodecError),
}

/// How one stored fetch changed the store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub new: usize,
    pub updated: usize,
    pub unchanged: usize,
}

/// The tidings store. Cheap to share behind an `Arc`; every method takes
/// `&self`.
pub struct Store {
    db: sled::Db,
    entries: sled::Tree,
    by_time: sled::Tree,
    feeds: sled::Tree,
    /// Increases on every write that changes what a served feed shows, so
    /// servers can cache rendered feeds until it moves.
    generation: AtomicU64,
}

impl Store {
    /// Opens (or creates) the store in directory `path`. `cache_bytes` caps
    /// sled's page cache, the bulk of the daemon's memory.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(1000))
            .open()
            .map_err(open_err)?;
        let meta = db.open_tree("meta").map_err(open_err)?;
        match meta.get(keys::SCHEMA_VERSION)? {
            None => {
                meta.insert(keys::SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())?;
            }
            Some(v) => {
                let found = codec::decode_u32(&v)?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::TooNew {
                        path: path.to_owned(),
                        found,
                    });
                }
            }
        }
        Ok(Store {
            entries: db.open_tree("entries")?,
            by_time: db.open_tree("by_time")?,
            feeds: db.open_tree("feeds")?,
            db,
            generation: AtomicU64::new(0),
        })
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// A cheap read that fails when the store does (for readiness checks).
    pub fn check(&self) -> Result<(), StoreError> {
        self.feeds.first()?;
        Ok(())
    }

    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    pub fn feed_state(&self, feed: FeedId) -> Result<Option<FeedState>, StoreError> {
        self.feeds
            .get(feed.to_bytes())?
            .map(|v| codec::decode(&v))
            .transpose()
            .map_err(Into::into)
    }

    /// Every feed the store knows, including feeds no longer configured
    /// (their entries stay until retention removes them).
    pub fn feed_states(&self) -> Result<Vec<FeedState>, StoreError> {
        self.feeds
            .iter()
            .values()
            .map(|v| Ok(codec::decode(&v?)?))
            .collect()
    }

    /// Saves a feed's state alone (a 304, an error): no entries change.
    pub fn save_feed_state(&self, state: &FeedState) -> Result<(), StoreError> {
        self.feeds
            .insert(state.id().to_bytes(), codec::encode(state))?;
        Ok(())
    }

    pub fn entry(&self, id: EntryId) -> Result<Option<Entry>, StoreError> {
        self.entries
            .get(id.0)?
            .map(|v| codec::decode(&v))
            .transpose()
            .map_err(Into::into)
    }

    /// Stores one fetch atomically: each entry is inserted when new,
    /// replaced when its text changed ([`Entry::merged_with`]) and left
    /// untouched otherwise; `state` is saved with it (its `entry_count` is
    /// maintained here). Storing the same fetch twice changes nothing.
    pub fn store_fetch(
        &self,
        state: &FeedState,
        incoming: Vec<Entry>,
    ) -> Result<StoreCounts, StoreError> {
        let feed_key = state.id().to_bytes();
        let result =
            (&self.entries, &self.by_time, &self.feeds).transaction(|(entries, by_time, feeds)| {
                let mut counts = StoreCounts::default();
                for entry in &incoming {
                    let stored = match entries.get(entry.id.0)? {
                        Some(bytes) => Some(
                            codec::decode::<Entry>(&bytes)
                                .map_err(ConflictableTransactionError::Abort)?,
                        ),
                        None => None,
                    };
                    let to_write = match &stored {
                        None => {
                            counts.new += 1;
                            entry.clone()
                        }
                        Some(old) => match old.merged_with(entry.clone()) {
                            None => {
                                counts.unchanged += 1;
                                continue;
                            }
                            Some(merged) => {
                                counts.updated += 1;
                                let old_key = keys::time_key(old.sort_time(), old.id);
                                if old_key != keys::time_key(merged.sort_time(), merged.id) {
                                    by_time.remove(&old_key[..])?;
                                }
                                merged
                            }
                        },
                    };
                    entries.insert(&to_write.id.0[..], codec::encode(&to_write))?;
                    by_time.insert(
                        &keys::time_key(to_write.sort_time(), to_write.id)[..],
                        &[][..],
                    )?;
                }
                let mut state = state.clone();
                let previous = match feeds.get(feed_key)? {
                    Some(bytes) => {
                        codec::decode::<FeedState>(&bytes)
                            .map_err(ConflictableTransactionError::Abort)?
                            .entry_count
                    }
                    None => 0,
                };
                state.entry_count = previous + counts.new as u64;
                feeds.insert(&feed_key[..], codec::encode(&state))?;
                Ok(counts)
            });
        let counts = result.map_err(|e| match e {
            TransactionError::Abort(codec) => StoreError::Corrupt(codec),
            TransactionError::Storage(sled) => StoreError::Sled(sled),
        })?;
        if counts.new + counts.updated > 0 {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(counts)
    }

    /// Up to `limit` entries accepted by `keep`, newest first. A scan: call
    /// it from a blocking thread.
    pub fn newest(
        &self,
        limit: usize,
        mut keep: impl FnMut(&Entry) -> bool,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::with_capacity(limit.min(1024));
        if limit == 0 {
            return Ok(out);
        }
        for key in self.by_time.iter().keys().rev() {
            let key = key?;
            let Some(id) = keys::id_of_time_key(&key) else {
                continue;
            };
            // The index and entries are written in one transaction, so a
            // missing entry means the index is damaged; skip rather than fail
            // the whole feed.
            let Some(entry) = self.entry(id)? else {
                tracing::warn!(entry = %id, "time index names a missing entry; skipped");
                continue;
            };
            if keep(&entry) {
                out.push(entry);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Writes everything to disk. Called before reporting a fetch as stored
    /// in `poll --once` and at shutdown.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn entry(feed: &FeedState, key: &str, title: &str, minutes_ago: i64) -> Entry {
        let now = crate::model::now();
        Entry {
            id: EntryId::derive(&feed.url, key),
            feed: feed.id(),
            identity: key.into(),
            link: Some(format!("https://a.example/{key}")),
            title: title.into(),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            language: None,
            published: Some(now - Duration::minutes(minutes_ago)),
            first_seen: now,
            updated: now - Duration::minutes(minutes_ago),
        }
    }

    #[test]
    fn storing_is_idempotent_and_updates_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let feed = FeedState::new("https://a.example/rss");
        let fetch = vec![entry(&feed, "1", "One", 10), entry(&feed, "2", "Two", 5)];

        let c = store.store_fetch(&feed, fetch.clone()).unwrap();
        assert_eq!((c.new, c.updated, c.unchanged), (2, 0, 0));
        let generation = store.generation();
        let c = store.store_fetch(&feed, fetch.clone()).unwrap();
        assert_eq!((c.new, c.updated, c.unchanged), (0, 0, 2));
        assert_eq!(store.generation(), generation, "no-op fetch bumps nothing");

        let mut edited = fetch.clone();
        edited[0].title = "One (updated)".into();
        let c = store.store_fetch(&feed, edited).unwrap();
        assert_eq!((c.new, c.updated, c.unchanged), (0, 1, 1));

        assert_eq!(store.entry_count(), 2);
        let newest = store.newest(10, |_| true).unwrap();
        let titles: Vec<_> = newest.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["Two", "One (updated)"]);
        let one = &newest[1];
        assert_eq!(one.id, fetch[0].id);
        assert_eq!(one.first_seen, fetch[0].first_seen);
        assert!(one.updated > fetch[0].updated, "updated moves forward");
        let state = store.feed_state(feed.id()).unwrap().unwrap();
        assert_eq!(state.entry_count, 2);
    }

    #[test]
    fn survives_reopen_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let feed = FeedState::new("https://a.example/rss");
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            let fetch = (0..20)
                .map(|i| entry(&feed, &i.to_string(), &format!("E{i}"), i))
                .collect();
            store.store_fetch(&feed, fetch).unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let even = store
            .newest(3, |e| {
                e.title.trim_start_matches('E').parse::<i32>().unwrap() % 2 == 0
            })
            .unwrap();
        let titles: Vec<_> = even.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["E0", "E2", "E4"]);
        assert_eq!(store.feed_states().unwrap().len(), 1);
    }
}
