//! Schema migrations, run by `Store::open` before anything else touches a
//! store written by an older tidings.
//!
//! - 1 → 2: stores from before dedup state existed. Every entry gets its
//!   identity aliases and a place among stories, oldest first so that the
//!   first copy of each story founds it, as if it had been ingested now.

use super::ingest::{Tx, sketch_of};
use super::stories::key;
use super::{CodecError, Store, StoreError, keys};
use crate::dedup;
use crate::model::EntryId;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::cell::RefCell;
use std::collections::HashMap;

/// Brings the store from schema `found` to the current one.
pub(super) fn run(store: &Store, found: u32) -> Result<(), StoreError> {
    if found < 2 {
        let indexed = to_v2(store)?;
        tracing::info!("store migrated to schema 2: {indexed} entries placed among stories");
    }
    Ok(())
}

fn to_v2(store: &Store) -> Result<usize, StoreError> {
    // Oldest first.
    let ids: Vec<EntryId> = store
        .by_time
        .iter()
        .keys()
        .filter_map(|k| k.ok().and_then(|k| keys::id_of_time_key(&k)))
        .collect();
    let mut indexed = 0;
    for id in ids {
        if store.stories.contains_key(key::record(id))? {
            continue;
        }
        let Some(entry) = store.entry(id)? else {
            continue;
        };
        // One transaction per entry: each sees the ones before it (the
        // candidate scan reads committed state).
        let scan = store.scan(sketch_of(&entry), entry.first_seen, id);
        let sketch = scan.sketch.clone();
        let scans = HashMap::from([(id, scan)]);
        let identity = dedup::identity_of_entry(&entry);
        let result = (
            &store.entries,
            &store.by_time,
            &store.identities,
            &store.stories,
        )
            .transaction(|(entries, by_time, identities, stories)| {
                let tx = Tx {
                    entries,
                    by_time,
                    identities,
                    stories,
                    scans: &scans,
                    feed: entry.feed,
                    indexed: RefCell::new(Vec::new()),
                };
                tx.index(&entry, &identity, sketch.clone())?;
                Ok::<_, ConflictableTransactionError<CodecError>>(tx.indexed.into_inner())
            });
        let bands = result.map_err(|e| match e {
            TransactionError::Abort(codec) => StoreError::Corrupt(codec),
            TransactionError::Storage(sled) => StoreError::Sled(sled),
        })?;
        let mut index = store.band_index();
        for (id, secs, bands) in bands {
            index.insert(id, secs, bands);
        }
        indexed += 1;
    }
    Ok(indexed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, FeedState};
    use chrono::{DateTime, Duration};

    fn entry(feed: &FeedState, key: &str, link: &str, minutes: i64) -> Entry {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::minutes(minutes);
        Entry {
            link: Some(link.into()),
            ..Entry::bare(&feed.url, key, "China and Russia sign gas pipeline deal", t)
        }
    }

    #[test]
    fn a_schema_1_store_gets_its_stories() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            FeedState::new("https://a.example/rss"),
            FeedState::new("https://b.example/rss"),
        );
        let (first, second) = (
            entry(&a, "link:tass.com/1", "https://tass.com/1", 0),
            entry(&b, "guid:b1", "https://tass.com/1", 5),
        );
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            store.store_fetch(&a, vec![first.clone()]).unwrap();
            store.store_fetch(&b, vec![second.clone()]).unwrap();
            // What a schema 1 store looks like: entries, no dedup state.
            store.identities.clear().unwrap();
            store.stories.clear().unwrap();
            store
                .db
                .open_tree("meta")
                .unwrap()
                .insert(keys::SCHEMA_VERSION, &1u32.to_be_bytes())
                .unwrap();
            assert!(store.story_record(second.id).unwrap().is_none());
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let record = store.story_record(second.id).unwrap().unwrap();
        assert_eq!(record.story, first.id, "the older entry founds the story");
        let page = store.story_page(10, None, |_| true).unwrap();
        assert_eq!(page.stories.len(), 1);
        // And the aliases work again: the same item is no new entry.
        assert_eq!(store.store_fetch(&a, vec![first]).unwrap().new, 0);
    }
}
