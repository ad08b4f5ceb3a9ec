//! Retention: pruning old entries (`[storage] max_age`) and a feed's
//! surplus (`max_entries_per_feed`), leaving a tombstone for each, so that a
//! feed still listing a pruned story does not bring it back as new.
//!
//! A tombstone keeps the entry's identity keys. It is refreshed whenever a
//! fetch lists the entry again and dropped once no fetch has listed it for
//! [`tombstone_ttl`]: by then the feed has moved on.
//!
//! [`Store::prune`] scans the whole time index: callers run it on a blocking
//! thread ([`prune`] does), on a schedule or after `poll --once`.

use super::stories::{KeyHash, StoryRecord, Tombstone, key};
use super::{CodecError, SharedStore, Store, StoreError, codec, keys};
use crate::model::{Entry, EntryId, FeedId, FeedState};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::collections::HashMap;

/// What to keep (`[storage] max_age`, `max_entries_per_feed`); `None` keeps
/// everything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Entries first stored longer ago go. (Counted from when tidings
    /// stored them: publishers' dates can be missing or wrong.)
    pub max_age: Option<std::time::Duration>,
    /// Beyond this many, a feed's oldest entries go.
    pub max_entries_per_feed: Option<usize>,
}

impl RetentionPolicy {
    pub fn keeps_everything(&self) -> bool {
        self.max_age.is_none() && self.max_entries_per_feed.is_none()
    }
}

/// What one retention pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub pruned: usize,
    pub tombstones_expired: usize,
}

/// How long a tombstone outlives the last fetch that listed its entry.
pub fn tombstone_ttl() -> Duration {
    Duration::days(30)
}

/// Entries removed per transaction.
const BATCH: usize = 256;

type Abort = ConflictableTransactionError<CodecError>;

/// Runs [`Store::prune`] on a blocking thread, through the write gate of
/// [`SharedStore`], and flushes what it removed to disk.
pub async fn prune(
    store: impl Into<SharedStore>,
    policy: RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<PruneReport, StoreError> {
    let store = store.into();
    tokio::task::spawn_blocking(move || {
        store.write(|store| {
            let report = store.prune(&policy, now)?;
            if report.pruned + report.tombstones_expired > 0 {
                store.flush()?;
            }
            Ok(report)
        })
    })
    .await
    .map_err(|e| StoreError::Task(e.to_string()))?
}

impl Store {
    /// Removes the entries `policy` no longer keeps (each leaves a
    /// tombstone) and expires tombstones unseen for [`tombstone_ttl`].
    pub fn prune(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Result<PruneReport, StoreError> {
        // Pruning writes too: on a full disk it waits, like storing does,
        // rather than poison sled (see `space`).
        self.write_allowed()?;
        let doomed = self.doomed(policy, now)?;
        let mut report = PruneReport::default();
        for batch in doomed.chunks(BATCH) {
            report.pruned += self.remove_batch(batch, now)?;
        }
        report.tombstones_expired = self.expire_tombstones(now)?;
        if report.pruned > 0 {
            self.bump_generation();
        }
        Ok(report)
    }

    /// The entries `policy` drops, newest first.
    fn doomed(
        &self,
        policy: &RetentionPolicy,
        now: DateTime<Utc>,
    ) -> Result<Vec<EntryId>, StoreError> {
        if policy.keeps_everything() {
            return Ok(Vec::new());
        }
        let cutoff = policy
            .max_age
            .and_then(|age| Duration::from_std(age).ok())
            .map(|age| now - age);
        let mut per_feed: HashMap<FeedId, usize> = HashMap::new();
        let mut doomed = Vec::new();
        for found in self.newest_first(None) {
            let (_, entry) = found?;
            let rank = per_feed.entry(entry.feed).or_default();
            *rank += 1;
            let too_old = cutoff.is_some_and(|c| entry.first_seen < c);
            let too_many = policy.max_entries_per_feed.is_some_and(|max| *rank > max);
            if too_old || too_many {
                doomed.push(entry.id);
            }
        }
        Ok(doomed)
    }

    fn remove_batch(&self, ids: &[EntryId], now: DateTime<Utc>) -> Result<usize, StoreError> {
        let _writing = self.write_guard();
        let result = self
            .trees()
            .transaction(|(entries, by_time, feeds, identities, stories)| {
                let mut removed_per_feed: HashMap<FeedId, u64> = HashMap::new();
                for id in ids {
                    let Some(entry) = get::<Entry>(entries, &id.0)? else {
                        continue;
                    };
                    let record = get::<StoryRecord>(stories, &key::record(*id))?;
                    remove_entry(entries, by_time, stories, &entry, record.as_ref())?;
                    let keys: Vec<KeyHash> = match &record {
                        Some(r) => r.keys.clone(),
                        None => vec![super::stories::key_hash(&entry.identity)],
                    };
                    let tomb = Tombstone {
                        feed: entry.feed,
                        pruned_at: now,
                        last_seen: now,
                        keys,
                    };
                    identities.insert(&key::tombstone(*id)[..], codec::encode(&tomb))?;
                    *removed_per_feed.entry(entry.feed).or_default() += 1;
                }
                for (feed, removed) in &removed_per_feed {
                    if let Some(mut state) = get::<FeedState>(feeds, &feed.to_bytes())? {
                        state.entry_count = state.entry_count.saturating_sub(*removed);
                        feeds.insert(&feed.to_bytes()[..], codec::encode(&state))?;
                    }
                }
                Ok(removed_per_feed.values().sum::<u64>() as usize)
            });
        let removed = result.map_err(|e| match e {
            TransactionError::Abort(codec) => StoreError::Corrupt(codec),
            TransactionError::Storage(sled) => StoreError::Sled(sled),
        })?;
        let mut index = self.band_index();
        for id in ids {
            index.remove(*id);
        }
        Ok(removed)
    }

    /// Drops tombstones no fetch has listed for [`tombstone_ttl`], with
    /// the keys they kept.
    fn expire_tombstones(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut batch = sled::Batch::default();
        let mut expired = 0;
        for kv in self.identities.scan_prefix(key::TOMBSTONES) {
            let (k, v) = kv?;
            let tomb: Tombstone = codec::decode(&v)?;
            if now - tomb.last_seen < tombstone_ttl() {
                continue;
            }
            batch.remove(k);
            for h in &tomb.keys {
                batch.remove(&key::alias(tomb.feed, h)[..]);
            }
            expired += 1;
        }
        // Nothing to expire is the common case: write nothing then.
        if expired > 0 {
            let _writing = self.write_guard();
            self.identities.apply_batch(batch)?;
        }
        Ok(expired)
    }

    /// Whether an entry was pruned and is remembered by a tombstone.
    pub fn is_tombstoned(&self, id: EntryId) -> Result<bool, StoreError> {
        Ok(self.identities.contains_key(key::tombstone(id))?)
    }
}

/// Removes an entry, its time key and its place among stories.
fn remove_entry(
    entries: &TransactionalTree,
    by_time: &TransactionalTree,
    stories: &TransactionalTree,
    entry: &Entry,
    record: Option<&StoryRecord>,
) -> Result<(), Abort> {
    entries.remove(&entry.id.0[..])?;
    by_time.remove(&keys::time_key(entry)[..])?;
    let Some(record) = record else {
        return Ok(());
    };
    stories.remove(&key::record(entry.id)[..])?;
    // A story left with one member keeps its key: `story_of` reads a lone
    // member as a story of one.
    stories.remove(&key::member(record.story, entry.id)[..])?;
    if let Some(link) = &record.link {
        stories.remove(&key::link(link, record.at, entry.id)[..])?;
    }
    Ok(())
}

fn get<T: DeserializeOwned>(tree: &TransactionalTree, k: &[u8]) -> Result<Option<T>, Abort> {
    match tree.get(k)? {
        Some(bytes) => codec::decode(&bytes)
            .map(Some)
            .map_err(ConflictableTransactionError::Abort),
        None => Ok(None),
    }
}
