//! The LSH band index: which recently stored entries share sketch bands,
//! the candidates a new entry is compared with (see `dedup::sketch`).
//!
//! It lives in memory: copies of a story arrive within days, so only the
//! entries first stored in the last [`keep`] are indexed, and `open`
//! rebuilds it from their story records. Kept in sled, its 32 keys
//! per entry cost more disk (about 10 kB an entry) and time (range scans)
//! than the rest of the store.
//!
//! Memory: about 0.9 kB per indexed entry (its 32 band hashes, and a
//! 16-byte slot in each of its 32 buckets).

use crate::dedup::cluster;
use crate::model::EntryId;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Band hashes are already uniform 64-bit values (SplitMix64 outputs):
/// hashing them again with SipHash, as `HashMap` does by default, was a
/// tenth of storing a fetch. This folds the key with one multiplication.
#[derive(Default)]
struct BandHasher(u64);

impl Hasher for BandHasher {
    fn finish(&self) -> u64 {
        let wide = u128::from(self.0) * 0x9e37_79b9_7f4a_7c15;
        (wide as u64) ^ ((wide >> 64) as u64)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; anything else still works.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type BandMap<V> = HashMap<u64, V, BuildHasherDefault<BandHasher>>;

/// At most this many candidates per lookup: the oldest and the newest
/// halves (see [`BandIndex::candidates`]).
pub const MAX_CANDIDATES: usize = 64;

/// How long an entry stays indexed: as long as a copy or an edit of it may
/// arrive, and a day's slack.
pub fn keep() -> chrono::Duration {
    cluster::window().max(cluster::edit_window()) + chrono::Duration::days(1)
}

/// One indexed entry.
struct Indexed {
    id: EntryId,
    /// When it was first stored (seconds since the epoch).
    secs: i64,
    bands: Vec<u64>,
}

/// Entries by band hash, for the entries first stored within `keep` seconds
/// of the newest one.
pub struct BandIndex {
    keep: i64,
    /// In insertion order; `entries[i]` has sequence number `first + i`.
    entries: VecDeque<Option<Indexed>>,
    first: u64,
    newest: i64,
    by_id: HashMap<EntryId, u64>,
    /// The first entry of each bucket (most buckets hold one)…
    buckets: BandMap<u64>,
    /// …and the others, for the few that hold several.
    overflow: BandMap<Vec<u64>>,
}

impl BandIndex {
    pub fn new(keep_secs: i64) -> BandIndex {
        BandIndex {
            keep: keep_secs,
            entries: VecDeque::new(),
            first: 0,
            newest: i64::MIN,
            by_id: HashMap::new(),
            buckets: BandMap::default(),
            overflow: BandMap::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Indexes an entry under its band hashes (again: it is moved).
    pub fn insert(&mut self, id: EntryId, secs: i64, bands: impl IntoIterator<Item = u64>) {
        self.remove(id);
        let seq = self.first + self.entries.len() as u64;
        let bands: Vec<u64> = bands.into_iter().collect();
        for band in &bands {
            match self.buckets.entry(*band) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(seq);
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    self.overflow.entry(*band).or_default().push(seq);
                }
            }
        }
        self.entries.push_back(Some(Indexed { id, secs, bands }));
        self.by_id.insert(id, seq);
        self.newest = self.newest.max(secs);
        self.expire();
    }

    /// Forgets an entry (retention removed it).
    pub fn remove(&mut self, id: EntryId) {
        let Some(seq) = self.by_id.remove(&id) else {
            return;
        };
        let Some(slot) = self
            .entries
            .get_mut((seq - self.first) as usize)
            .and_then(Option::take)
        else {
            return;
        };
        for band in &slot.bands {
            self.unlink(*band, seq);
        }
    }

    /// The entries first stored within `window` seconds of `secs` that
    /// share at least `min_shared` of `bands`, with their times, oldest
    /// first.
    pub fn candidates(
        &self,
        bands: impl IntoIterator<Item = u64>,
        secs: i64,
        window: i64,
        except: EntryId,
        min_shared: usize,
    ) -> Vec<(EntryId, i64)> {
        // Every entry once per band it shares; sorted, an entry's count is
        // the length of its run.
        let mut hits: Vec<u64> = Vec::new();
        for band in bands {
            hits.extend(self.buckets.get(&band));
            hits.extend(self.overflow.get(&band).into_iter().flatten());
        }
        hits.sort_unstable();
        let shared = hits
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() >= min_shared)
            .map(|run| run[0]);
        let mut out: Vec<(EntryId, i64)> = shared
            .filter_map(|seq| self.entries.get((seq - self.first) as usize)?.as_ref())
            .filter(|e| e.id != except && (e.secs - secs).abs() <= window)
            .map(|e| (e.id, e.secs))
            .collect();
        out.sort_unstable_by_key(|(id, t)| (*t, *id));
        if out.len() > MAX_CANDIDATES {
            // A story carried by hundreds of feeds (or a template repeated
            // in every item) would make each new copy read every earlier
            // one: quadratic. The oldest copies lead to the story, the
            // newest to a feed's own recent versions; those are enough.
            out.drain(MAX_CANDIDATES / 2..out.len() - MAX_CANDIDATES / 2);
        }
        out
    }

    /// Drops the oldest entries, those first stored more than `keep` before
    /// the newest. (Entries are inserted in about the order they were
    /// stored; one stored out of order leaves with its neighbours.)
    fn expire(&mut self) {
        let oldest = self.newest.saturating_sub(self.keep);
        while let Some(front) = self.entries.front() {
            match front {
                Some(e) if e.secs >= oldest => break,
                Some(e) => {
                    let id = e.id;
                    self.remove(id);
                }
                None => {}
            }
            self.entries.pop_front();
            self.first += 1;
        }
    }

    fn unlink(&mut self, band: u64, seq: u64) {
        if self.buckets.get(&band) == Some(&seq) {
            match self.overflow.get_mut(&band).and_then(Vec::pop) {
                Some(next) => {
                    self.buckets.insert(band, next);
                }
                None => {
                    self.buckets.remove(&band);
                }
            }
        } else if let Some(more) = self.overflow.get_mut(&band) {
            more.retain(|s| *s != seq);
        }
        if self.overflow.get(&band).is_some_and(Vec::is_empty) {
            self.overflow.remove(&band);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EntryId {
        EntryId([n; 16])
    }

    #[test]
    fn entries_sharing_bands_are_candidates_within_the_window() {
        let mut index = BandIndex::new(1000);
        index.insert(id(1), 100, [1, 2, 3]);
        index.insert(id(2), 200, [1, 2, 9]);
        index.insert(id(3), 300, [7, 8, 9]);
        assert_eq!(
            index.candidates([1, 2, 4], 250, 500, id(9), 2),
            [(id(1), 100), (id(2), 200)]
        );
        assert_eq!(
            index.candidates([1, 2, 4], 250, 100, id(9), 2),
            [(id(2), 200)]
        );
        assert_eq!(
            index.candidates([1, 2, 4], 250, 500, id(2), 2),
            [(id(1), 100)]
        );
        assert_eq!(index.candidates([1, 4], 250, 500, id(9), 2), []);
        assert_eq!(
            index.candidates([9], 250, 500, id(9), 1),
            [(id(2), 200), (id(3), 300)]
        );
    }

    #[test]
    fn a_story_with_many_copies_gives_its_oldest_and_newest() {
        let mut index = BandIndex::new(1_000_000);
        for n in 0..200u8 {
            index.insert(id(n), i64::from(n), [1, 2]);
        }
        let found = index.candidates([1, 2], 100, 1_000, id(255), 2);
        assert_eq!(found.len(), MAX_CANDIDATES);
        let half = MAX_CANDIDATES / 2;
        assert_eq!(found[0], (id(0), 0), "the oldest copy leads to the story");
        assert_eq!(found[half - 1].1, half as i64 - 1);
        assert_eq!(found[half].1, 200 - half as i64);
        assert_eq!(found[MAX_CANDIDATES - 1], (id(199), 199));
    }

    #[test]
    fn old_and_removed_entries_leave() {
        let mut index = BandIndex::new(100);
        index.insert(id(1), 0, [1, 2]);
        index.insert(id(2), 50, [1, 2]);
        index.remove(id(2));
        assert_eq!(index.candidates([1, 2], 0, 1000, id(9), 2), [(id(1), 0)]);
        index.insert(id(3), 150, [1, 2]);
        // Entry 1 is now more than 100 s older than the newest.
        assert_eq!(index.candidates([1, 2], 0, 1000, id(9), 2), [(id(3), 150)]);
        assert_eq!(index.len(), 1);
        // Re-indexing an entry moves it.
        index.insert(id(3), 160, [5, 6]);
        assert_eq!(index.candidates([1, 2], 0, 1000, id(9), 1), []);
        assert_eq!(index.len(), 1);
        assert!(index.buckets.len() == 2 && index.overflow.is_empty());
    }
}
