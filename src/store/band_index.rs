//! The LSH band index: which recently stored entries share sketch bands,
//! the candidates a new entry is compared with (see `dedup::sketch`).
//!
//! It lives in memory: copies of a story arrive within days, so only the
//! entries first stored in the last [`keep`] are indexed, and `open`
//! rebuilds it from their story records. Kept in sled, its 32 keys
//! per entry cost more disk (about 10 kB an entry) and time (range scans)
//! than the rest of the store.
//!
//! Memory: about 0.6 kB per indexed entry, most of it hash-map slots for
//! its 32 buckets, then its 32 band hashes (heaptrack, polling 1,000
//! feeds: 26.1 MB for 41,876 entries). Band hashes are kept as their low
//! 32 bits: a truncated hash only adds candidates, which the sketch
//! comparison then turns down, and with a million buckets a spurious shared
//! band is a 1-in-4,000 event per band (two are needed).
//!
//! A story carried by thousands of feeds puts thousands of copies in the
//! same buckets, and every new copy would find (and the store would read)
//! all of them: quadratic in its copies. So a bucket keeps only its newest
//! [`BUCKET_CAP`] entries, and a lookup returns a few copies per story
//! ([`PER_STORY`]): any copy leads to its story.

use crate::dedup::cluster;
use crate::model::{EntryId, FeedId};
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

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
}

type BandMap<V> = HashMap<Band, V, BuildHasherDefault<BandHasher>>;

/// A band hash as indexed (its low half).
type Band = u32;

fn band(hash: u64) -> Band {
    hash as Band
}

/// An entry's place in insertion order. Wraps after 4 billion inserts:
/// order is always taken relative to the oldest entry (`BandIndex::age`).
type Seq = u32;

/// At most this many candidates per lookup: the oldest and the newest
/// halves (see [`BandIndex::candidates`]).
pub const MAX_CANDIDATES: usize = 64;

/// At most this many copies of one story from other feeds per lookup: those
/// sharing the most bands with the new entry. (Copies from the new entry's
/// own feed all count: they tell whether its text recurs.)
pub const PER_STORY: usize = 4;

/// Entries kept per bucket, the newest. A bucket this full holds copies of
/// one big story or a boilerplate text; older entries stay findable by
/// their other bands.
pub const BUCKET_CAP: usize = 128;

/// How long an entry stays indexed: as long as a copy or an edit of it may
/// arrive, and a day's slack.
pub fn keep() -> chrono::Duration {
    cluster::window().max(cluster::edit_window()) + chrono::Duration::days(1)
}

/// Where an indexed entry belongs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub id: EntryId,
    /// When it was first stored (seconds since the epoch).
    pub secs: i64,
    pub feed: FeedId,
    pub story: EntryId,
}

/// One indexed entry.
struct Indexed {
    at: Placed,
    bands: Box<[Band]>,
}

/// Entries by band hash, for the entries first stored within `keep` seconds
/// of the newest one.
pub struct BandIndex {
    keep: i64,
    /// In insertion order; `entries[i]` has sequence number `first + i`.
    entries: VecDeque<Option<Indexed>>,
    first: Seq,
    newest: i64,
    by_id: HashMap<EntryId, Seq>,
    /// The first entry of each bucket (most buckets hold one)…
    buckets: BandMap<Seq>,
    /// …and the others, for the few that hold several.
    overflow: BandMap<Vec<Seq>>,
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
    pub fn insert(&mut self, at: Placed, bands: impl IntoIterator<Item = u64>) {
        self.remove(at.id);
        let seq = self.first.wrapping_add(self.entries.len() as Seq);
        let bands: Box<[Band]> = bands.into_iter().map(band).collect();
        for band in &bands {
            match self.buckets.entry(*band) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(seq);
                }
                std::collections::hash_map::Entry::Occupied(mut head) => {
                    // Entries are pushed in insertion order and removals
                    // keep it, so the oldest entry of the bucket is its
                    // head or `more[0]`.
                    let more = self.overflow.entry(*band).or_default();
                    if more.len() + 1 >= BUCKET_CAP {
                        let first = self.first;
                        let age = |seq: Seq| seq.wrapping_sub(first);
                        if age(*head.get()) < age(more[0]) {
                            *head.get_mut() = more.remove(0);
                        } else {
                            more.remove(0);
                        }
                    }
                    more.push(seq);
                }
            }
        }
        self.entries.push_back(Some(Indexed { at, bands }));
        self.by_id.insert(at.id, seq);
        self.newest = self.newest.max(at.secs);
        self.expire();
    }

    /// Forgets an entry (retention removed it).
    pub fn remove(&mut self, id: EntryId) {
        let Some(seq) = self.by_id.remove(&id) else {
            return;
        };
        let Some(slot) = self
            .entries
            .get_mut(seq.wrapping_sub(self.first) as usize)
            .and_then(Option::take)
        else {
            return;
        };
        for band in &slot.bands {
            self.unlink(*band, seq);
        }
    }

    /// The entries first stored within `window` seconds of `new`'s time
    /// that share at least `min_shared` of `bands`, oldest first: every
    /// one from `new`'s feed, and of other feeds' entries [`PER_STORY`] per
    /// story.
    pub fn candidates(
        &self,
        bands: impl IntoIterator<Item = u64>,
        new: &Placed,
        window: i64,
        min_shared: usize,
    ) -> Vec<Placed> {
        // Every entry once per band it shares; sorted, an entry's count is
        // the length of its run.
        let mut hits: Vec<Seq> = Vec::new();
        for hash in bands {
            let band = band(hash);
            hits.extend(self.buckets.get(&band));
            hits.extend(self.overflow.get(&band).into_iter().flatten());
        }
        hits.sort_unstable();
        let mut shared: Vec<(&Placed, usize)> = hits
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() >= min_shared)
            .filter_map(|run| {
                let slot = run[0].wrapping_sub(self.first) as usize;
                let e = self.entries.get(slot)?.as_ref()?;
                Some((&e.at, run.len()))
            })
            .filter(|(e, _)| e.id != new.id && (e.secs - new.secs).abs() <= window)
            .collect();
        // By story, those sharing the most bands first, then the newest.
        shared.sort_unstable_by(|(a, a_shared), (b, b_shared)| {
            (a.story, b_shared, b.secs, a.id).cmp(&(b.story, a_shared, a.secs, b.id))
        });
        let mut out: Vec<Placed> = Vec::new();
        let mut story = None;
        let mut taken = 0;
        for (e, _) in shared {
            if story != Some(e.story) {
                story = Some(e.story);
                taken = 0;
            }
            if e.feed == new.feed {
                out.push(*e);
            } else if taken < PER_STORY {
                taken += 1;
                out.push(*e);
            }
        }
        out.sort_unstable_by_key(|e| (e.secs, e.id));
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
                Some(e) if e.at.secs >= oldest => break,
                Some(e) => {
                    let id = e.at.id;
                    self.remove(id);
                }
                None => {}
            }
            self.entries.pop_front();
            self.first = self.first.wrapping_add(1);
        }
    }

    fn unlink(&mut self, band: Band, seq: Seq) {
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

    /// Candidates as (id, time).
    fn at(found: Vec<Placed>) -> Vec<(EntryId, i64)> {
        found.into_iter().map(|e| (e.id, e.secs)).collect()
    }

    /// Entry `n` at `secs`, a story of its own from a feed of its own.
    fn e(n: u8, secs: i64) -> Placed {
        Placed {
            id: id(n),
            secs,
            feed: FeedId(u64::from(n)),
            story: id(n),
        }
    }

    #[test]
    fn entries_sharing_bands_are_candidates_within_the_window() {
        let mut index = BandIndex::new(1000);
        index.insert(e(1, 100), [1, 2, 3]);
        index.insert(e(2, 200), [1, 2, 9]);
        index.insert(e(3, 300), [7, 8, 9]);
        assert_eq!(
            at(index.candidates([1, 2, 4], &e(9, 250), 500, 2)),
            [(id(1), 100), (id(2), 200)]
        );
        assert_eq!(
            at(index.candidates([1, 2, 4], &e(9, 250), 100, 2)),
            [(id(2), 200)]
        );
        assert_eq!(
            at(index.candidates([1, 2, 4], &e(2, 250), 500, 2)),
            [(id(1), 100)]
        );
        assert_eq!(at(index.candidates([1, 4], &e(9, 250), 500, 2)), []);
        assert_eq!(
            at(index.candidates([9], &e(9, 250), 500, 1)),
            [(id(2), 200), (id(3), 300)]
        );
    }

    #[test]
    fn many_candidates_give_the_oldest_and_newest() {
        let mut index = BandIndex::new(1_000_000);
        for n in 0..120u8 {
            index.insert(e(n, i64::from(n)), [1, 2]);
        }
        let found = at(index.candidates([1, 2], &e(255, 100), 1_000, 2));
        assert_eq!(found.len(), MAX_CANDIDATES);
        let half = MAX_CANDIDATES / 2;
        assert_eq!(found[0], (id(0), 0), "the oldest copy leads to the story");
        assert_eq!(found[half - 1].1, half as i64 - 1);
        assert_eq!(found[half].1, 120 - half as i64);
        assert_eq!(found[MAX_CANDIDATES - 1], (id(119), 119));
    }

    #[test]
    fn copies_of_one_story_are_a_few_candidates_and_own_feed_ones_all() {
        let mut index = BandIndex::new(1_000_000);
        let story = id(0);
        for n in 0..100u8 {
            let feed = FeedId(if n % 10 == 0 { 7 } else { 1000 + u64::from(n) });
            let copy = Placed {
                feed,
                story,
                ..e(n, i64::from(n))
            };
            // The first ten share all three bands, the others two.
            let bands: &[u64] = if n < 10 { &[1, 2, 3] } else { &[1, 2] };
            index.insert(copy, bands.iter().copied());
        }
        index.insert(e(200, 50), [1, 2]);
        let new = Placed {
            feed: FeedId(7),
            ..e(255, 100)
        };
        let found = at(index.candidates([1, 2, 3], &new, 1_000, 2));
        let mut ids: Vec<EntryId> = found.iter().map(|(id, _)| *id).collect();
        ids.sort();
        // Feed 7's own ten copies, four more of the story (those sharing
        // all three bands, newest first), and the other story.
        let mut expected: Vec<EntryId> = (0..10).map(|n| id(n * 10)).collect();
        expected.extend([id(9), id(8), id(7), id(6), id(200)]);
        expected.sort();
        assert_eq!(ids, expected);
    }

    #[test]
    fn a_full_bucket_keeps_its_newest() {
        let mut index = BandIndex::new(1_000_000);
        for n in 0..=BUCKET_CAP as u8 {
            index.insert(e(n, i64::from(n)), [1]);
        }
        let found = at(index.candidates([1], &e(255, 0), 1_000, 1));
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert_eq!(found[0], (id(1), 1), "the oldest left the full bucket");
        assert_eq!(
            found[MAX_CANDIDATES - 1],
            (id(BUCKET_CAP as u8), BUCKET_CAP as i64)
        );
        // Still indexed: it leaves for good when removed.
        index.remove(id(0));
        index.remove(id(1));
        let found = at(index.candidates([1], &e(255, 0), 1_000, 1));
        assert_eq!(found[0], (id(2), 2));
    }

    #[test]
    fn sequence_numbers_wrap_without_losing_order() {
        let mut index = BandIndex::new(100);
        index.first = Seq::MAX - 1;
        for n in 0..=BUCKET_CAP as u8 {
            index.insert(e(n, 0), [1]);
        }
        // The full bucket dropped its oldest, across the wrap.
        let found = at(index.candidates([1], &e(255, 0), 1_000, 1));
        assert_eq!(found.len(), MAX_CANDIDATES);
        assert!(!found.iter().any(|(found, _)| *found == id(0)));
        // Expiry walks from the oldest, across the wrap.
        index.insert(e(254, 150), [2]);
        assert_eq!(index.len(), 1);
        assert_eq!(
            at(index.candidates([2], &e(255, 150), 10, 1)),
            [(id(254), 150)]
        );
    }

    #[test]
    fn old_and_removed_entries_leave() {
        let mut index = BandIndex::new(100);
        index.insert(e(1, 0), [1, 2]);
        index.insert(e(2, 50), [1, 2]);
        index.remove(id(2));
        assert_eq!(
            at(index.candidates([1, 2], &e(9, 0), 1000, 2)),
            [(id(1), 0)]
        );
        index.insert(e(3, 150), [1, 2]);
        // Entry 1 is now more than 100 s older than the newest.
        assert_eq!(
            at(index.candidates([1, 2], &e(9, 0), 1000, 2)),
            [(id(3), 150)]
        );
        assert_eq!(index.len(), 1);
        // Re-indexing an entry moves it.
        index.insert(e(3, 160), [5, 6]);
        assert_eq!(at(index.candidates([1, 2], &e(9, 0), 1000, 1)), []);
        assert_eq!(index.len(), 1);
        assert!(index.buckets.len() == 2 && index.overflow.is_empty());
    }
}
