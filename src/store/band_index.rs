//! The LSH band index: which recently stored entries share sketch bands,
//! the candidates a new entry is compared with (see `dedup::sketch`).
//!
//! It lives in memory: copies of a story arrive within days, so only the
//! entries first stored in the last [`keep`] are indexed, and `open`
//! rebuilds it from their story records. Kept in sled, its 32 keys
//! per entry cost more disk (about 10 kB an entry) and time (range scans)
//! than the rest of the store.
//!
//! Memory is what bounds polling thousands of feeds, so the postings (a
//! band and an entry's sequence number) live in two parts:
//! - most in [`SortedPostings`]: one sorted array, 4 bytes a posting (the
//!   band's low byte and a 24-bit number; the band's other 16 bits are
//!   implied by its place);
//! - the newest in [`FreshPostings`], a hash map by band (a band's one
//!   posting in its slot, several chained through a vector), until there
//!   are a 32nd as many as sorted ones; then they are merged in, in place.
//!
//! Removal is lazy: a removed or expired entry's slot is emptied, its
//! postings are skipped by lookups and dropped by a merge once a 32nd
//! of the entries has gone. So an entry keeps no copy of its bands. About
//! 0.2 kB per indexed entry in all (see [`BandIndex::heap_bytes`]; 192
//! bytes for 410,000 distinct entries): 32 postings, its [`Placed`] (48
//! bytes, in blocks), and its 4-byte number in `by_id`.
//!
//! Band hashes are kept as their low 24 bits: a truncated hash only adds
//! candidates, which the sketch comparison then turns down. With 410,000
//! entries indexed (13 million postings over 16.7 million values), a band
//! meets about one unrelated posting, and an unrelated entry needs two:
//! by that count (not measured), about one spurious candidate per
//! thousand lookups.
//!
//! A story carried by thousands of feeds puts thousands of copies in the
//! same buckets, and every new copy would find (and the store would read)
//! all of them: quadratic in its copies. So a lookup takes a bucket's
//! newest [`BUCKET_CAP`] entries still indexed only, and returns a few
//! copies per story ([`PER_STORY`]): any copy leads to its story. (The
//! older postings stay until their entries leave: 4 bytes each.)

use crate::dedup::cluster;
use crate::model::{EntryId, FeedId};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

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

/// A band hash as indexed: its low 24 bits.
type Band = u32;

fn band(hash: u64) -> Band {
    hash as Band & 0xff_ffff
}

/// An entry's place in insertion order, 24 bits that wrap: order is always
/// taken relative to the oldest entry kept ([`age`]), and at most
/// [`MAX_INDEXED`] are kept, so that a number comes round again only long
/// after merges dropped the postings of the entry that had it.
type Seq = u32;

const SEQ_BITS: u32 = 24;
const SEQ_MASK: Seq = (1 << SEQ_BITS) - 1;

/// How many entries were inserted before `seq` since `first` (the oldest
/// kept): `entries.len()` or more for a number no longer kept.
fn age(seq: Seq, first: Seq) -> usize {
    (seq.wrapping_sub(first) & SEQ_MASK) as usize
}

/// At most this many entries are indexed (about a gigabyte of index); the
/// oldest leave early beyond it.
const MAX_INDEXED: usize = 1 << 22;

/// At most this many candidates per lookup: the oldest and the newest
/// halves (see [`BandIndex::candidates`]).
pub const MAX_CANDIDATES: usize = 64;

/// At most this many copies of one story from other feeds per lookup: those
/// sharing the most bands with the new entry. (Copies from the new entry's
/// own feed all count: they tell whether its text recurs.)
pub const PER_STORY: usize = 4;

/// Entries a lookup takes per bucket, the newest. A bucket this full holds
/// copies of one big story or a boilerplate text; older entries stay
/// findable by their other bands.
pub const BUCKET_CAP: usize = 128;

/// Fresh postings are merged into the sorted ones when there are this
/// many of them or a 32nd as many as sorted ones, whichever is more: a
/// merge rewrites the sorted arrays, so merges are spaced out as the index
/// grows, while the hash map, at about 12 bytes a posting (and the list a
/// merge drains it into, 8), stays small next to them. A sixteenth held
/// 3.9 MB more for 410,000 entries (82.8 against 78.9 MB) and indexed them
/// no faster (3.4–4.3 s against 3.4–3.7 s, interleaved); polling 10,000
/// feeds peaked at 216 MB with it, 210 MB without.
const MIN_FRESH: usize = 1 << 15;
const FRESH_SHARE: usize = 32;

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

/// Entries by band hash, for the entries first stored within `keep` seconds
/// of the newest one.
pub struct BandIndex {
    keep: i64,
    /// In insertion order; `entries[i]` has sequence number `first + i`.
    entries: Slots,
    first: Seq,
    newest: i64,
    /// The number of each indexed entry, found by its id (read from
    /// `entries`): 4 bytes a slot, where a map keeping the 16-byte ids
    /// again took about 27 bytes an entry. Ids are hashed with a random
    /// key, as `HashMap` does: feeds choose the keys ids derive from.
    by_id: hashbrown::HashTable<Seq>,
    id_hasher: std::collections::hash_map::RandomState,
    sorted: SortedPostings,
    fresh: FreshPostings,
    /// Entries removed or expired since the sorted postings were last
    /// pruned: a merge prunes them only when there are enough.
    gone: usize,
    /// [`MIN_FRESH`], but for tests.
    min_fresh: usize,
}

impl BandIndex {
    pub fn new(keep_secs: i64) -> BandIndex {
        BandIndex {
            keep: keep_secs,
            entries: Slots::default(),
            first: 0,
            newest: i64::MIN,
            by_id: hashbrown::HashTable::new(),
            id_hasher: std::collections::hash_map::RandomState::new(),
            sorted: SortedPostings::default(),
            fresh: FreshPostings::default(),
            gone: 0,
            min_fresh: MIN_FRESH,
        }
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The heap this index holds, in bytes, as allocated (capacities, not
    /// lengths; allocator overhead aside).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.entries.heap_bytes()
            + self.by_id.capacity() * (size_of::<Seq>() + 1)
            + self.sorted.heap_bytes()
            + self.fresh.heap_bytes()
    }

    /// Indexes an entry under its band hashes (again: it is moved).
    pub fn insert(&mut self, at: Placed, bands: impl IntoIterator<Item = u64>) {
        self.remove(at.id);
        let seq = self.first.wrapping_add(self.entries.len() as Seq) & SEQ_MASK;
        for hash in bands {
            self.fresh.push(band(hash), seq);
        }
        self.entries.push_back(at);
        let (entries, first, hasher) = (&self.entries, self.first, &self.id_hasher);
        self.by_id
            .insert_unique(hasher.hash_one(at.id), seq, |seq| {
                // Every number in the table has its entry (see `forget_id`).
                let entry = entries.live(age(*seq, first));
                entry.map_or(0, |e| hasher.hash_one(e.id))
            });
        self.newest = self.newest.max(at.secs);
        self.expire();
        if self.fresh.len() >= self.min_fresh.max(self.sorted.len() / FRESH_SHARE) {
            self.merge();
        }
    }

    /// Forgets an entry (retention removed it). Lookups skip its postings
    /// until a merge drops them.
    pub fn remove(&mut self, id: EntryId) {
        if let Some(seq) = self.forget_id(id) {
            if self.entries.empty(age(seq, self.first)) {
                self.gone += 1;
            }
        }
    }

    /// Takes `id` out of `by_id` (its entry must still be in `entries`),
    /// and returns its number.
    fn forget_id(&mut self, id: EntryId) -> Option<Seq> {
        let (entries, first) = (&self.entries, self.first);
        let is_id = |seq: &Seq| entries.live(age(*seq, first)).is_some_and(|e| e.id == id);
        let found = self.by_id.find_entry(self.id_hasher.hash_one(id), is_id);
        found.ok().map(|entry| entry.remove().0)
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
            let sorted = self.sorted.of(band);
            let sorted = sorted.iter().map(|posting| posting & SEQ_MASK);
            let from = hits.len();
            hits.extend(self.fresh.newest_first(band));
            if hits.len() - from + sorted.len() <= BUCKET_CAP {
                // Entries gone are dropped below, with their runs.
                hits.extend(sorted);
            } else {
                // Newest first (fresh postings are newer than sorted
                // ones): the bucket is its newest entries still indexed.
                hits.truncate(from);
                let newest_first = self.fresh.newest_first(band).chain(sorted.rev());
                let live = newest_first.filter(|seq| self.placed(*seq).is_some());
                hits.extend(live.take(BUCKET_CAP));
            }
        }
        hits.sort_unstable();
        let mut shared: Vec<(&Placed, usize)> = hits
            .chunk_by(|a, b| a == b)
            .filter(|run| run.len() >= min_shared)
            .filter_map(|run| Some((self.placed(run[0])?, run.len())))
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

    /// The entry numbered `seq`, if it is still indexed.
    fn placed(&self, seq: Seq) -> Option<&Placed> {
        self.entries.live(age(seq, self.first))
    }

    /// Drops the oldest entries, those first stored more than `keep` before
    /// the newest, and any beyond [`MAX_INDEXED`]. (Entries are inserted
    /// in about the order they were stored; one stored out of order leaves
    /// with its neighbours.)
    fn expire(&mut self) {
        let oldest = self.newest.saturating_sub(self.keep);
        while let Some(front) = self.entries.front() {
            let front = front.copied();
            let over = self.entries.len() > MAX_INDEXED;
            match front {
                Some(e) if e.secs >= oldest && !over => break,
                Some(e) => {
                    self.forget_id(e.id);
                    self.gone += 1;
                }
                None => {}
            }
            self.entries.pop_front();
            self.first = self.first.wrapping_add(1) & SEQ_MASK;
        }
    }

    /// Moves the fresh postings of entries still indexed into the sorted
    /// ones, and drops the sorted postings of entries gone.
    fn merge(&mut self) {
        let first = self.first;
        let kept = self.entries.len();
        let age = |seq: Seq| age(seq, first);
        // One bit per entry: every posting is checked, and the entries
        // themselves are 50 times bigger (a cache miss each).
        let mut bits = vec![0u64; kept.div_ceil(64)];
        for (i, _) in self.entries.iter().enumerate().filter(|(_, e)| e.is_some()) {
            bits[i / 64] |= 1 << (i % 64);
        }
        let live = |seq: Seq| {
            let i = age(seq);
            bits.get(i / 64)
                .is_some_and(|word| word & (1 << (i % 64)) != 0)
        };
        let mut fresh = self.fresh.take();
        fresh.retain(|(_, seq)| live(*seq));
        fresh.sort_unstable_by_key(|(band, seq)| (*band, age(*seq)));
        // Postings of entries gone cost only memory until then, as
        // lookups skip them.
        if self.gone * FRESH_SHARE >= kept {
            self.sorted.retain(live);
            self.gone = 0;
        }
        self.sorted.merge(&fresh, age);
    }
}

/// The indexed entries in insertion order, in blocks of [`Slots::BLOCK`]:
/// a deque doubles its capacity as it grows, which left up to half of it
/// unused (a quarter at 410,000 entries, 7 MB). A removed entry's slot is
/// emptied in place (its `secs` set to [`Slots::EMPTY`]): an `Option`
/// would add 8 bytes to each 48.
struct Slots {
    /// [`Slots::BLOCK`], but for tests.
    block: usize,
    blocks: VecDeque<Vec<Placed>>,
    /// Slots of the front block already popped.
    head: usize,
    len: usize,
}

impl Default for Slots {
    fn default() -> Slots {
        Slots {
            block: Slots::BLOCK,
            blocks: VecDeque::new(),
            head: 0,
            len: 0,
        }
    }
}

impl Slots {
    const BLOCK: usize = 4096;
    /// No entry was first stored 292 billion years ago.
    const EMPTY: i64 = i64::MIN;

    fn len(&self) -> usize {
        self.len
    }

    fn heap_bytes(&self) -> usize {
        let blocks: usize = self.blocks.iter().map(Vec::capacity).sum();
        blocks * std::mem::size_of::<Placed>()
            + self.blocks.capacity() * std::mem::size_of::<Vec<Placed>>()
    }

    fn push_back(&mut self, placed: Placed) {
        match self.blocks.back_mut() {
            Some(block) if block.len() < self.block => block.push(placed),
            _ => {
                let mut block = Vec::with_capacity(self.block);
                block.push(placed);
                self.blocks.push_back(block);
            }
        }
        self.len += 1;
    }

    fn slot(&self, i: usize) -> Option<&Placed> {
        if i >= self.len {
            return None;
        }
        let at = self.head + i;
        self.blocks.get(at / self.block)?.get(at % self.block)
    }

    /// The entry in slot `i`, unless the slot is empty (or beyond the end).
    fn live(&self, i: usize) -> Option<&Placed> {
        self.slot(i).filter(|e| e.secs != Slots::EMPTY)
    }

    /// Empties slot `i`; whether it held an entry.
    fn empty(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let at = self.head + i;
        let slot = self
            .blocks
            .get_mut(at / self.block)
            .and_then(|b| b.get_mut(at % self.block));
        match slot {
            Some(e) if e.secs != Slots::EMPTY => {
                e.secs = Slots::EMPTY;
                true
            }
            _ => false,
        }
    }

    /// The first slot: `Some(None)` when it is empty.
    fn front(&self) -> Option<Option<&Placed>> {
        self.slot(0)
            .map(|e| Some(e).filter(|e| e.secs != Slots::EMPTY))
    }

    fn pop_front(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.head += 1;
        if self.head == self.block || self.len == 0 {
            // Consumed, or the last: no block follows an empty one.
            self.blocks.pop_front();
            self.head = 0;
        }
    }

    /// Every slot, oldest first: `None` for an empty one.
    fn iter(&self) -> impl Iterator<Item = Option<&Placed>> {
        (self.blocks.iter().flatten().skip(self.head))
            .map(|e| Some(e).filter(|e| e.secs != Slots::EMPTY))
    }
}

/// A band's high 16 bits: the sorted postings are split by them.
const PARTS: usize = 1 << 16;

fn part(band: Band) -> usize {
    (band >> 8) as usize
}

/// A sorted posting: the band's low 8 bits (its high 16 are implied by
/// its place), then the entry's number.
fn posting(band: Band, seq: Seq) -> u32 {
    (band << SEQ_BITS) | seq
}

fn low_of(posting: u32) -> u8 {
    (posting >> SEQ_BITS) as u8
}

/// Postings sorted by band, then by age (oldest first), 4 bytes each.
#[derive(Default)]
struct SortedPostings {
    /// Postings of bands with high part `p` are at
    /// `starts[p]..starts[p + 1]`. Empty until the first merge (an index
    /// that never grows that big spares its 256 kB).
    starts: Vec<u32>,
    postings: Vec<u32>,
}

impl SortedPostings {
    fn len(&self) -> usize {
        self.postings.len()
    }

    fn heap_bytes(&self) -> usize {
        (self.starts.capacity() + self.postings.capacity()) * 4
    }

    /// The postings of `band`, oldest first.
    fn of(&self, band: Band) -> &[u32] {
        let p = part(band);
        let (Some(from), Some(to)) = (self.starts.get(p), self.starts.get(p + 1)) else {
            return &[];
        };
        let part = &self.postings[*from as usize..*to as usize];
        let low = band as u8;
        // Low bytes are uniform: start where this one would be, and walk
        // (a cache line or two, where a binary search missed on several).
        let mut at = part.len() * usize::from(low) / 256;
        while at > 0 && low_of(part[at - 1]) >= low {
            at -= 1;
        }
        while at < part.len() && low_of(part[at]) < low {
            at += 1;
        }
        let n = part[at..]
            .iter()
            .take_while(|posting| low_of(**posting) == low)
            .count();
        &part[at..at + n]
    }

    /// Keeps the postings of live entries only, in one pass.
    fn retain(&mut self, live: impl Fn(Seq) -> bool) {
        let mut write = 0;
        for p in 0..self.starts.len().saturating_sub(1) {
            let (from, to) = (self.starts[p] as usize, self.starts[p + 1] as usize);
            self.starts[p] = write as u32;
            for read in from..to {
                let posting = self.postings[read];
                if live(posting & SEQ_MASK) {
                    self.postings[write] = posting;
                    write += 1;
                }
            }
        }
        if let Some(last) = self.starts.last_mut() {
            *last = write as u32;
        }
        self.postings.truncate(write);
    }

    /// Merges `fresh` postings, sorted by band and then by `age` as the
    /// sorted ones are, in place, back to front so that nothing is written
    /// over before it is read: part by part for the parts with fresh
    /// postings, and as one block for the parts between them.
    fn merge(&mut self, fresh: &[(Band, Seq)], age: impl Fn(Seq) -> usize) {
        if fresh.is_empty() {
            return;
        }
        if self.starts.is_empty() {
            self.starts = vec![0; PARTS + 1];
        }
        // Exactly: this array is most of the index, and doubling it would
        // cost as much again (big reallocations move pages, not bytes).
        self.postings.reserve_exact(fresh.len());
        let total = self.len() + fresh.len();
        // Old postings `..i` and fresh ones `..j` are still to be placed;
        // everything from `i + j` on is, and so are `starts[done..]`.
        let mut i = self.len();
        let mut j = fresh.len();
        let mut done = PARTS + 1;
        self.postings.resize(total, 0);
        while j > 0 {
            let p = part(fresh[j - 1].0);
            let fresh_from = j - fresh[..j]
                .iter()
                .rev()
                .take_while(|(band, _)| part(*band) == p)
                .count();
            let (from, to) = (self.starts[p] as usize, self.starts[p + 1] as usize);
            // The parts after `p` without fresh postings move up by `j`.
            self.postings.copy_within(to..i, to + j);
            for start in &mut self.starts[p + 1..done] {
                *start += j as u32;
            }
            // Part `p`, merged from its end.
            i = to;
            while j > fresh_from {
                let (band, seq) = fresh[j - 1];
                let last = self.postings[i.saturating_sub(1)];
                let fresh_last =
                    i == from || (band as u8, age(seq)) >= (low_of(last), age(last & SEQ_MASK));
                let write = i + j - 1;
                if fresh_last {
                    self.postings[write] = posting(band, seq);
                    j -= 1;
                } else {
                    self.postings[write] = last;
                    i -= 1;
                }
            }
            done = p + 1;
        }
        debug_assert_eq!(self.starts[PARTS] as usize, total);
    }
}

/// The postings added since the last merge, by band. Most bands hold one
/// posting, kept in the band's map slot; a band with more keeps a chain
/// of them, newest first, threaded through one vector: 8 bytes a posting.
/// (A second map of vectors for those took about 34 bytes a posting when
/// many feeds carry each story: 14 MB of a 10,000-feed poll's peak, just
/// before a merge.)
#[derive(Default)]
struct FreshPostings {
    /// Per band: its one entry's number, or ([`FreshPostings::CHAINED`]
    /// set) where its newest posting is in `chain`.
    newest: BandMap<u32>,
    /// Postings of bands with more than one: the entry's number, and
    /// where the band's posting before it is ([`FreshPostings::NONE`]:
    /// it is the band's first).
    chain: Vec<(Seq, u32)>,
    len: usize,
}

impl FreshPostings {
    /// Marks a map value as a place in `chain`: entry numbers have 24 bits.
    const CHAINED: u32 = 1 << 31;
    const NONE: u32 = u32::MAX;

    fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.newest.capacity() * (size_of::<(Band, u32)>() + 1)
            + self.chain.capacity() * size_of::<(Seq, u32)>()
    }

    fn push(&mut self, band: Band, seq: Seq) {
        use std::collections::hash_map::Entry;
        self.len += 1;
        match self.newest.entry(band) {
            Entry::Vacant(slot) => {
                slot.insert(seq);
            }
            Entry::Occupied(mut slot) => {
                // Fresh postings are merged long before a place in
                // `chain` could reach `CHAINED` (at a 32nd of at most
                // 2^24 entries' postings).
                let before = match *slot.get() {
                    at if at & FreshPostings::CHAINED != 0 => at & !FreshPostings::CHAINED,
                    only => {
                        self.chain.push((only, FreshPostings::NONE));
                        self.chain.len() as u32 - 1
                    }
                };
                self.chain.push((seq, before));
                slot.insert((self.chain.len() as u32 - 1) | FreshPostings::CHAINED);
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The numbers of `band`'s entries, newest first.
    fn newest_first(&self, band: Band) -> impl Iterator<Item = Seq> + '_ {
        self.postings(self.newest.get(&band).copied())
    }

    /// The entry numbers a band's map value stands for, newest first.
    fn postings(&self, value: Option<u32>) -> impl Iterator<Item = Seq> + '_ {
        let (only, mut at) = match value {
            None => (None, FreshPostings::NONE),
            Some(at) if at & FreshPostings::CHAINED != 0 => (None, at & !FreshPostings::CHAINED),
            Some(only) => (Some(only), FreshPostings::NONE),
        };
        let chained = std::iter::from_fn(move || {
            let (seq, before) = *self.chain.get(at as usize)?;
            at = before;
            Some(seq)
        });
        only.into_iter().chain(chained)
    }

    /// Empties it (keeping its room for the next round), returning its
    /// postings.
    fn take(&mut self) -> Vec<(Band, Seq)> {
        let mut out = Vec::with_capacity(self.len);
        for (band, value) in &self.newest {
            out.extend(self.postings(Some(*value)).map(|seq| (*band, seq)));
        }
        self.newest.clear();
        self.chain.clear();
        self.len = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EntryId {
        EntryId([n; 16])
    }

    /// An index that merges every few postings, and one that never does.
    fn both_ways(keep_secs: i64) -> [BandIndex; 2] {
        let mut merging = BandIndex::new(keep_secs);
        merging.min_fresh = 4;
        let mut fresh_only = BandIndex::new(keep_secs);
        fresh_only.min_fresh = usize::MAX;
        [merging, fresh_only]
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
        for mut index in both_ways(1_000_000) {
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
    }

    #[test]
    fn sequence_numbers_wrap_without_losing_order() {
        for mut index in both_ways(100) {
            index.first = SEQ_MASK - 1;
            for n in 0..=BUCKET_CAP as u8 {
                index.insert(e(n, 0), [1]);
            }
            // The full bucket dropped its oldest, across the wrap.
            let found = at(index.candidates([1], &e(255, 0), 1_000, 1));
            assert_eq!(found.len(), MAX_CANDIDATES);
            assert_eq!(found[0], (id(1), 0));
            // Expiry walks from the oldest, across the wrap.
            index.insert(e(254, 150), [2]);
            assert_eq!(index.len(), 1);
            assert_eq!(
                at(index.candidates([2], &e(255, 150), 10, 1)),
                [(id(254), 150)]
            );
        }
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
        assert_eq!(index.entries.iter().flatten().count(), 1);
    }

    #[test]
    fn merges_drop_the_postings_of_entries_gone() {
        let mut index = BandIndex::new(100);
        index.min_fresh = 4;
        for n in 0..10u8 {
            index.insert(e(n, i64::from(n)), [1, 2]);
        }
        assert!(index.sorted.len() >= 16 && index.fresh.len() <= 4);
        for n in 0..10u8 {
            index.remove(id(n));
        }
        // Lookups skip them at once…
        assert_eq!(at(index.candidates([1, 2], &e(99, 0), 1000, 1)), []);
        // …and the next merge drops them.
        for n in 10..14u8 {
            index.insert(e(n, i64::from(n)), [(3 << 16) | 7]);
        }
        assert_eq!(index.sorted.len() + index.fresh.len(), 4);
        assert_eq!(
            at(index.candidates([(3 << 16) | 7], &e(99, 0), 1000, 1)).len(),
            4
        );
    }

    /// An operation on two indexes that must answer alike.
    #[derive(Clone, Debug)]
    enum Op {
        Insert {
            n: u8,
            secs: i64,
            feed: u8,
            story: u8,
            bands: Vec<u64>,
        },
        Remove(u8),
        Lookup {
            n: u8,
            secs: i64,
            feed: u8,
            bands: Vec<u64>,
            min_shared: usize,
        },
    }

    /// Band hashes from a small set: a few parts (high 16 bits of the 24
    /// indexed), first and last among them, and a few low bytes.
    fn bands() -> impl proptest::strategy::Strategy<Value = Vec<u64>> {
        use proptest::prelude::*;
        let parts = prop::sample::select(&[0u64, 1, 0xffff][..]);
        let lows = prop::sample::select(&[0u64, 1, 2, 0x80, 0xff][..]);
        // Bits above the 24 indexed ones change nothing.
        let above = prop::sample::select(&[0u64, 1 << 24, 1 << 40][..]);
        prop::collection::vec((parts, lows, above), 1..8).prop_map(|bands| {
            bands
                .into_iter()
                .map(|(part, low, above)| above | (part << 8) | low)
                .collect()
        })
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (0u8..40, 0i64..300, 0u8..4, 0u8..6, bands()).prop_map(
                |(n, secs, feed, story, bands)| Op::Insert { n, secs, feed, story, bands }
            ),
            1 => (0u8..40).prop_map(Op::Remove),
            2 => (0u8..40, 0i64..300, 0u8..4, bands(), 1usize..3).prop_map(
                |(n, secs, feed, bands, min_shared)| Op::Lookup { n, secs, feed, bands, min_shared }
            ),
        ]
    }

    #[derive(Clone, Debug)]
    enum SlotOp {
        Push(i64),
        Pop,
        Empty(usize),
    }

    fn slot_op() -> impl proptest::strategy::Strategy<Value = SlotOp> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0i64..1000).prop_map(SlotOp::Push),
            2 => Just(SlotOp::Pop),
            1 => (0usize..12).prop_map(SlotOp::Empty),
        ]
    }

    proptest::proptest! {
        /// Blocks of slots behave as one deque of optional entries.
        #[test]
        fn slots_are_a_deque(ops in proptest::collection::vec(slot_op(), 1..120), block in 1usize..5) {
            use proptest::prelude::*;
            let mut slots = Slots { block, ..Slots::default() };
            let mut model: VecDeque<Option<Placed>> = VecDeque::new();
            for op in ops {
                match op {
                    SlotOp::Push(secs) => {
                        let placed = Placed { id: id(secs as u8), secs, feed: FeedId(1), story: id(0) };
                        slots.push_back(placed);
                        model.push_back(Some(placed));
                    }
                    SlotOp::Pop => {
                        slots.pop_front();
                        model.pop_front();
                    }
                    SlotOp::Empty(i) => {
                        let had = model.get(i).is_some_and(Option::is_some);
                        prop_assert_eq!(slots.empty(i), had);
                        if let Some(slot) = model.get_mut(i) {
                            *slot = None;
                        }
                    }
                }
                prop_assert_eq!(slots.len(), model.len());
                prop_assert_eq!(slots.front().map(|f| f.copied()), model.front().copied());
                let all: Vec<Option<Placed>> = slots.iter().map(|e| e.copied()).collect();
                prop_assert_eq!(&all, &model.iter().copied().collect::<Vec<_>>());
                for i in 0..model.len() + 2 {
                    prop_assert_eq!(slots.live(i).copied(), model.get(i).copied().flatten());
                }
                // Never more than two blocks beyond what the slots fill.
                prop_assert!(slots.blocks.len() <= slots.len().div_ceil(block) + 1);
            }
        }
    }

    /// `by_id` holds exactly the entries still indexed, each under its
    /// own number.
    fn ids_find_their_entries(index: &BandIndex) -> bool {
        let live: Vec<(Seq, EntryId)> = (index.entries.iter().enumerate())
            .filter_map(|(i, e)| Some(((index.first + i as Seq) & SEQ_MASK, e?.id)))
            .collect();
        index.by_id.len() == live.len()
            && live.iter().all(|(seq, id)| {
                let hash = index.id_hasher.hash_one(id);
                index.by_id.find(hash, |s| s == seq).is_some()
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Merging fresh postings into sorted ones (here every few
        /// inserts) changes no lookup: the index that never merges is the
        /// model, its buckets plain lists of entries in insertion order.
        #[test]
        fn merging_changes_no_lookup(ops in proptest::collection::vec(op(), 1..200), cap in 1usize..4) {
            let mut merging = BandIndex::new(150);
            merging.min_fresh = cap;
            merging.entries.block = 3;
            let mut model = BandIndex::new(150);
            model.min_fresh = usize::MAX;
            let placed = |n: u8, secs: i64, feed: u8, story: u8| Placed {
                id: id(n),
                secs,
                feed: FeedId(u64::from(feed)),
                story: id(story),
            };
            for op in ops {
                match op {
                    Op::Insert { n, secs, feed, story, bands } => {
                        merging.insert(placed(n, secs, feed, story), bands.iter().copied());
                        model.insert(placed(n, secs, feed, story), bands.iter().copied());
                    }
                    Op::Remove(n) => {
                        merging.remove(id(n));
                        model.remove(id(n));
                    }
                    Op::Lookup { n, secs, feed, bands, min_shared } => {
                        let new = placed(n, secs, feed, n);
                        proptest::prop_assert_eq!(
                            merging.candidates(bands.iter().copied(), &new, 100, min_shared),
                            model.candidates(bands.iter().copied(), &new, 100, min_shared)
                        );
                    }
                }
                proptest::prop_assert_eq!(merging.len(), model.len());
                proptest::prop_assert!(ids_find_their_entries(&merging));
            }
            proptest::prop_assert_eq!(model.sorted.len(), 0);
        }
    }
}
