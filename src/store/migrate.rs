//! Schema migrations, run by `Store::open` before anything else touches a
//! store written by an older tidings.
//!
//! - 1 → 2: stores from before dedup state existed. Every entry gets its
//!   identity aliases and a place among stories, oldest first so that the
//!   first copy of each story founds it, as if it had been ingested now
//!   (written in the current layout, so 2 → 3 finds nothing to do).
//! - 2 → 3: a story's members and the entries of a link were one list
//!   each, rewritten by every copy; now they are one key per entry (see
//!   `stories`).

use super::ingest::{Prepared, Tx};
use super::stories::{KeyHash, key};
use super::{CodecError, Store, StoreError, codec, keys};
use crate::dedup;
use crate::model::EntryId;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use std::collections::HashMap;

/// Brings the store from schema `found` to the current one.
pub(super) fn run(store: &Store, found: u32) -> Result<(), StoreError> {
    if found < 2 {
        let indexed = to_v2(store)?;
        tracing::info!("store migrated to schema 2: {indexed} entries placed among stories");
    }
    if found < 3 {
        let lists = to_v3(store)?;
        tracing::info!("store migrated to schema 3: {lists} story and link lists split into keys");
    }
    Ok(())
}

/// Splits schema 2's id lists into one key per id. Each list goes in one
/// batch with the removal of the list, so an interrupted migration resumes
/// where it stopped.
fn to_v3(store: &Store) -> Result<usize, StoreError> {
    let mut lists = 0;
    for kv in store.stories.scan_prefix(key::legacy::MEMBERS) {
        let (k, v) = kv?;
        let Some(story) = legacy_id(&k) else {
            continue;
        };
        let ids: Vec<EntryId> = codec::decode(&v)?;
        let mut batch = sled::Batch::default();
        for id in ids {
            batch.insert(&key::member(story, id)[..], &[][..]);
        }
        batch.remove(k);
        store.stories.apply_batch(batch)?;
        lists += 1;
    }
    for kv in store.stories.scan_prefix(key::legacy::LINKS) {
        let (k, v) = kv?;
        let Some(hash) = k.get(1..17).and_then(|h| KeyHash::try_from(h).ok()) else {
            continue;
        };
        let ids: Vec<EntryId> = codec::decode(&v)?;
        let mut batch = sled::Batch::default();
        for id in ids {
            // The link key sorts by when the entry was first stored.
            if let Some(record) = store.story_record(id)? {
                batch.insert(&key::link(&hash, record.at, id)[..], &[][..]);
            }
        }
        batch.remove(k);
        store.stories.apply_batch(batch)?;
        lists += 1;
    }
    Ok(lists)
}

/// The id of a schema 2 list key (kind byte, then 16 bytes).
fn legacy_id(k: &[u8]) -> Option<EntryId> {
    let id: [u8; 16] = k.get(1..)?.try_into().ok()?;
    (k.len() == 17).then_some(EntryId(id))
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
        let identity = dedup::identity_of_entry(&entry);
        let scan = store.scan(&entry, &identity)?;
        let sketch = scan.sketch.clone();
        let prepared = Prepared {
            scans: HashMap::from([(id, scan)]),
            ..Prepared::default()
        };
        let result = (
            &store.entries,
            &store.by_time,
            &store.identities,
            &store.stories,
        )
            .transaction(|(entries, by_time, identities, stories)| {
                let trees = [entries, by_time, identities, stories];
                let tx = Tx::new(trees, &prepared, entry.feed);
                tx.index(&entry, &identity, sketch.clone())?;
                Ok::<_, ConflictableTransactionError<CodecError>>(tx.indexed.into_inner())
            });
        let bands = result.map_err(|e| match e {
            TransactionError::Abort(codec) => StoreError::Corrupt(codec),
            TransactionError::Storage(sled) => StoreError::Sled(sled),
        })?;
        let mut index = store.band_index();
        for (placed, bands) in bands {
            index.insert(placed, bands);
        }
        indexed += 1;
    }
    Ok(indexed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, FeedState};
    use crate::store::stories::key_hash;
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

    #[test]
    fn a_schema_2_store_gets_its_lists_split_into_keys() {
        let dir = tempfile::tempdir().unwrap();
        let feeds: Vec<FeedState> = (0..3)
            .map(|i| FeedState::new(&format!("https://{i}.example/rss")))
            .collect();
        let copies: Vec<Entry> = feeds
            .iter()
            .enumerate()
            .map(|(i, f)| entry(f, &format!("guid:{i}"), "https://tass.com/1", i as i64))
            .collect();
        let story = copies[0].id;
        let link = key_hash("https://tass.com/1");
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            for (feed, copy) in feeds.iter().zip(&copies) {
                store.store_fetch(feed, vec![copy.clone()]).unwrap();
            }
            let members = store.story_members(story).unwrap();
            assert_eq!(members.len(), 3);
            // What schema 2 wrote: one list per story and per link.
            for kv in store.stories.scan_prefix(key::members(story)) {
                store.stories.remove(kv.unwrap().0).unwrap();
            }
            for kv in store.stories.scan_prefix(key::links(&link)) {
                store.stories.remove(kv.unwrap().0).unwrap();
            }
            let ids: Vec<EntryId> = copies.iter().map(|e| e.id).collect();
            let list = |tag: &[u8], bytes: &[u8]| [tag, bytes].concat();
            store
                .stories
                .insert(list(key::legacy::MEMBERS, &story.0), codec::encode(&ids))
                .unwrap();
            store
                .stories
                .insert(list(key::legacy::LINKS, &link), codec::encode(&ids))
                .unwrap();
            store
                .db
                .open_tree("meta")
                .unwrap()
                .insert(keys::SCHEMA_VERSION, &2u32.to_be_bytes())
                .unwrap();
            assert!(store.story_members(story).unwrap().is_empty());
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let mut members = store.story_members(story).unwrap();
        members.sort();
        let mut expected: Vec<EntryId> = copies.iter().map(|e| e.id).collect();
        expected.sort();
        assert_eq!(members, expected);
        assert_eq!(
            store.first_linked(&link, EntryId([0; 16])).unwrap(),
            Some(story),
            "the earliest entry with the link"
        );
        assert!(
            store
                .stories
                .scan_prefix(key::legacy::MEMBERS)
                .next()
                .is_none()
        );
        assert!(
            store
                .stories
                .scan_prefix(key::legacy::LINKS)
                .next()
                .is_none()
        );
        // A fourth outlet with the link joins the story.
        let late = FeedState::new("https://late.example/rss");
        let copy = entry(&late, "guid:late", "https://tass.com/1", 9);
        store.store_fetch(&late, vec![copy.clone()]).unwrap();
        assert_eq!(store.story_record(copy.id).unwrap().unwrap().story, story);
    }
}
