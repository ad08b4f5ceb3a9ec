//! How much live data the store holds: what a compacted copy would take,
//! against which the daemon weighs its disk use (see `housekeeping`).
//!
//! Counting it reads every record. At 1,000,000 entries that is about 18 s
//! of CPU, and the process keeps most of what sled read resident afterwards
//! (236 → 385 MB measured), so it must not happen on every housekeeping
//! pass. The last count is remembered in the `meta` tree, with the entry
//! count and the disk use it was taken at ([`LiveMeasure`]), and it
//! survives restarts and compactions (which copy `meta` and keep the live
//! data). Records are nearly all per entry, so later passes scale it by the
//! entry count, and count again only when the store has changed enough for
//! that to mislead ([`LiveMeasure::is_stale`]) or right before a compaction
//! the estimate asks for.

use super::{Store, StoreError, codec, keys};
use serde::{Deserialize, Serialize};

/// A count of the store's live data and when (in entries and disk use) it
/// was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveMeasure {
    /// Key and value bytes of every record.
    pub live_bytes: u64,
    /// Entries stored when it was taken.
    pub entries: u64,
    /// The store's disk use when it was taken.
    pub disk_bytes: u64,
}

impl LiveMeasure {
    /// The live bytes of the store once it holds `entries` entries, by
    /// scaling the count taken at [`LiveMeasure::entries`].
    pub fn scaled_to(&self, entries: u64) -> u64 {
        if self.entries == 0 {
            return self.live_bytes;
        }
        let scaled = u128::from(self.live_bytes) * u128::from(entries) / u128::from(self.entries);
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }

    /// Whether the store has changed too much since the count for scaling
    /// it to be trusted: its entries moved by more than a tenth either way
    /// (what an entry weighs may have drifted), or its disk use grew by
    /// more than a tenth (records rewritten in place leave garbage without
    /// adding entries).
    pub fn is_stale(&self, entries: u64, disk_bytes: u64) -> bool {
        entries.abs_diff(self.entries) > self.entries / 10
            || disk_bytes > self.disk_bytes.saturating_add(self.disk_bytes / 10)
    }
}

impl Store {
    /// Key + value bytes of every record: what a compacted store holds.
    /// A full scan.
    pub fn live_bytes(&self) -> Result<u64, StoreError> {
        Ok(self.live_data()?.iter().map(|(_, _, bytes)| bytes).sum())
    }

    /// Records and key + value bytes per tree: the live data, to compare
    /// with [`Store::size_on_disk`]. A full scan, for diagnostics and
    /// benchmarks.
    pub fn live_data(&self) -> Result<Vec<(&'static str, usize, u64)>, StoreError> {
        let trees = [
            ("entries", &self.entries),
            ("by_time", &self.by_time),
            ("feeds", &self.feeds),
            ("identities", &self.identities),
            ("stories", &self.stories),
        ];
        let mut out = Vec::with_capacity(trees.len());
        for (name, tree) in trees {
            let (mut records, mut bytes) = (0usize, 0u64);
            for kv in tree.iter() {
                let (k, v) = kv?;
                records += 1;
                bytes += (k.len() + v.len()) as u64;
            }
            out.push((name, records, bytes));
        }
        Ok(out)
    }

    /// Counts the live data (a full scan) and remembers the count. On a
    /// disk that takes no writes the count is still returned, just not
    /// remembered.
    pub fn measure_live(&self) -> Result<LiveMeasure, StoreError> {
        let measure = LiveMeasure {
            entries: self.entry_count() as u64,
            disk_bytes: self.size_on_disk()?,
            live_bytes: self.live_bytes()?,
        };
        let _writing = self.write_guard();
        if self.write_allowed().is_ok() {
            self.meta
                .insert(keys::LIVE_MEASURE, codec::encode(&measure))
                .map_err(|e| self.write_failed(e))?;
        }
        Ok(measure)
    }

    /// The count [`Store::measure_live`] last remembered, if any. An
    /// unreadable one counts as none: it is only a shortcut.
    pub fn last_live_measure(&self) -> Result<Option<LiveMeasure>, StoreError> {
        Ok(self
            .meta
            .get(keys::LIVE_MEASURE)?
            .and_then(|bytes| codec::decode(&bytes).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Entry, FeedState};

    fn measure(live_bytes: u64, entries: u64, disk_bytes: u64) -> LiveMeasure {
        LiveMeasure {
            live_bytes,
            entries,
            disk_bytes,
        }
    }

    #[test]
    fn the_count_scales_with_the_entries() {
        let m = measure(1_000, 10, 5_000);
        assert_eq!(m.scaled_to(10), 1_000);
        assert_eq!(m.scaled_to(25), 2_500);
        assert_eq!(m.scaled_to(0), 0);
        assert_eq!(measure(1_000, 0, 5_000).scaled_to(7), 1_000);
        assert_eq!(measure(u64::MAX, 1, 0).scaled_to(2), u64::MAX);
    }

    #[test]
    fn a_tenth_more_or_fewer_entries_or_more_disk_makes_it_stale() {
        let m = measure(1_000, 100, 10_000);
        assert!(!m.is_stale(100, 10_000));
        assert!(!m.is_stale(110, 11_000));
        assert!(
            !m.is_stale(90, 2_000),
            "disk shrinking (a compaction) is fine"
        );
        assert!(m.is_stale(111, 10_000));
        assert!(m.is_stale(89, 10_000));
        assert!(m.is_stale(100, 11_001));
    }

    #[test]
    fn the_count_is_remembered_across_opens() {
        let dir = tempfile::tempdir().unwrap();
        let at = crate::model::now();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(store.last_live_measure().unwrap(), None);
            let state = FeedState::new("https://a.example/feed");
            let entries = (0..3)
                .map(|i| {
                    let e = Entry::bare(&state.url, &format!("guid:{i}"), "A title", at);
                    super::super::Incoming::from_entry(e)
                })
                .collect();
            store.store_incoming(&state, entries).unwrap();
            let m = store.measure_live().unwrap();
            assert_eq!(m.entries, 3);
            assert_eq!(m.live_bytes, store.live_bytes().unwrap());
            assert!(m.live_bytes > 0);
            assert_eq!(store.last_live_measure().unwrap(), Some(m));
            store.flush().unwrap();
        }
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let m = store.last_live_measure().unwrap().expect("remembered");
        assert_eq!(m.entries, 3);
    }
}
