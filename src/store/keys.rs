//! Byte layouts of the store's keys. Big-endian throughout, so sled's
//! lexicographic order is numeric order.

use crate::model::{Entry, EntryId};
use chrono::{DateTime, Utc};

pub const SCHEMA_VERSION: &[u8] = b"schema_version";

/// `meta` key of the last count of live data (`measure`).
pub const LIVE_MEASURE: &[u8] = b"live_measure";

/// Length of a `by_time` key.
pub const TIME_KEY_LEN: usize = 32;

/// `by_time` key: when tidings first stored the entry, then its publish
/// time (for a stable order among entries of one fetch), then its id (so
/// equal times never collide). Times are microseconds since the epoch with
/// the sign bit flipped, so negative times order before positive ones.
///
/// Ordering by first-stored time means a new entry always lands at the
/// head of every feed: pages behind it never change, which is what lets a
/// reader page back through archives without gaps or repeats (RFC 5005).
pub fn time_key(entry: &Entry) -> [u8; TIME_KEY_LEN] {
    let micros = |t: DateTime<Utc>| (t.timestamp_micros() as u64 ^ (1 << 63)).to_be_bytes();
    let mut key = [0u8; TIME_KEY_LEN];
    key[..8].copy_from_slice(&micros(entry.first_seen));
    key[8..16].copy_from_slice(&micros(entry.sort_time()));
    key[16..].copy_from_slice(&entry.id.0);
    key
}

/// Where the `by_time` keys of entries first stored at `at` or later begin.
pub fn time_prefix(at: DateTime<Utc>) -> [u8; 8] {
    (at.timestamp_micros() as u64 ^ (1 << 63)).to_be_bytes()
}

pub fn id_of_time_key(key: &[u8]) -> Option<EntryId> {
    let id: [u8; 16] = key.get(16..TIME_KEY_LEN)?.try_into().ok()?;
    Some(EntryId(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeedId;

    fn entry(first_seen: i64, published: i64, id: u8) -> Entry {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        Entry {
            id: EntryId([id; 16]),
            feed: FeedId(0),
            identity: String::new(),
            link: None,
            title: String::new(),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            language: None,
            published: Some(t(published)),
            first_seen: t(first_seen),
            updated: t(first_seen),
        }
    }

    #[test]
    fn time_keys_sort_by_first_seen_then_published() {
        let old = entry(1_000, 900, 9);
        let newer_fetch = entry(2_000, -5_000, 1);
        let same_fetch_later = entry(2_000, 1_500, 1);
        assert!(time_key(&old) < time_key(&newer_fetch));
        assert!(time_key(&newer_fetch) < time_key(&same_fetch_later));
        assert_eq!(id_of_time_key(&time_key(&old)), Some(EntryId([9; 16])));
    }
}
