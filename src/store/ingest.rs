//! Storing one fetch, atomically: each item is resolved to the entry it is
//! (by every key the feed ever used for it), inserted, updated in place or
//! left alone, ignored if it was pruned (tombstone), and a new entry is
//! placed in a story (same link or near-duplicate text, see
//! `dedup::cluster`). Everything happens in one sled transaction with the
//! feed's state, so a crash never leaves an entry without its index, its
//! aliases or its story, nor validators covering entries not stored.
//!
//! Candidates for near-duplicates come from the in-memory LSH band index
//! of recent entries (`band_index`), never from a scan of the store. They
//! are looked up just before the transaction, for the items whose keys the
//! store does not know yet ([`Scan`]), and new entries join the index once
//! the transaction committed; copies within one fetch are compared with
//! each other directly (`cluster::recurring_within`).

use super::band_index::{self, BandIndex, Placed};
use super::stories::{Alias, KeyHash, StoryRecord, Tombstone, key, key_hash};
use super::{CodecError, Store, StoreCounts, StoreError, codec, keys};
use crate::dedup::cluster::{self, Candidate, Newcomer, Placement};
use crate::dedup::sketch::Sketch;
use crate::dedup::{self, Identified, KnownKey};
use crate::model::{Entry, EntryId, FeedId, FeedState};
use chrono::{DateTime, Duration, Utc};
use serde::de::DeserializeOwned;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

/// An item of a fetch, identified, on its way into the store.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub entry: Entry,
    pub identity: Identified,
}

impl Incoming {
    /// An entry whose identity is only what the entry itself records (its
    /// primary key and link).
    pub fn from_entry(entry: Entry) -> Incoming {
        Incoming {
            identity: dedup::identity_of_entry(&entry),
            entry,
        }
    }
}

/// Bands a stored entry must share with a new one to be compared at all.
/// A pair the decision accepts (at least 26 of 64 MinHash values equal)
/// shares fewer than two full bands with probability under 0.2%, while
/// unrelated pairs sharing two are ten times rarer than sharing one.
const MIN_SHARED_BANDS: usize = 2;

/// A tombstone's `last_seen` is rewritten at most this often.
fn last_seen_resolution() -> Duration {
    Duration::hours(12)
}

type Abort = ConflictableTransactionError<CodecError>;

/// Whether every key of an item already names the entry it resolved to
/// (then nothing about the entry's identity needs writing).
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeysKnown {
    All,
    No,
}

impl Store {
    /// Stores one fetch of identified items with the feed's `state`; see the
    /// module docs. Storing the same fetch twice changes nothing.
    pub fn store_incoming(
        &self,
        state: &FeedState,
        incoming: Vec<Incoming>,
    ) -> Result<StoreCounts, StoreError> {
        let feed_key = state.id().to_bytes();
        let _writing = self.write_guard();
        self.write_allowed()?;
        self.load_band_index()?;
        let prepared = self.prepare(state.id(), &incoming)?;
        let result = self
            .trees()
            .transaction(|(entries, by_time, feeds, identities, stories)| {
                let tx = Tx::new(
                    [entries, by_time, identities, stories],
                    &prepared,
                    state.id(),
                );
                let counts = tx.store(&incoming)?;
                let mut state = state.clone();
                let previous = match feeds.get(feed_key)? {
                    Some(bytes) => decode::<FeedState>(&bytes)?.entry_count,
                    None => 0,
                };
                state.entry_count = previous + counts.new as u64;
                feeds.insert(&feed_key[..], codec::encode(&state))?;
                Ok((counts, tx.indexed.into_inner()))
            });
        let (counts, indexed) = result.map_err(|e| match e {
            TransactionError::Abort(codec) => StoreError::Corrupt(codec),
            TransactionError::Storage(sled) => self.write_failed(sled),
        })?;
        let mut index = self.band_index();
        for (placed, bands) in indexed {
            index.insert(placed, bands);
        }
        drop(index);
        if counts.new + counts.updated > 0 {
            self.bump_generation();
        }
        Ok(counts)
    }

    /// Reads what the transaction will need from the committed store: the
    /// items that change nothing, and for the items that look new (no key
    /// of theirs names an entry yet) their sketches and LSH candidates.
    /// Runs under the write lock, so the store does not change before the
    /// transaction.
    fn prepare(&self, feed: FeedId, incoming: &[Incoming]) -> Result<Prepared, StoreError> {
        let mut scans = HashMap::new();
        let mut resolved = Vec::with_capacity(incoming.len());
        let mut unchanged = Vec::new();
        for (i, item) in incoming.iter().enumerate() {
            let found = resolve_with(
                &item.identity,
                |h| {
                    self.identities
                        .get(key::alias(feed, h))?
                        .map(|v| codec::decode(&v))
                        .transpose()
                        .map_err(StoreError::from)
                },
                |own| {
                    Ok(self.entries.contains_key(own.0)?
                        || self.identities.contains_key(key::tombstone(own))?)
                },
            )?;
            match found {
                None => {
                    let scan = self.scan(&item.entry, &item.identity)?;
                    scans.insert(item.identity.id, scan);
                }
                Some((id, KeysKnown::All)) => {
                    let same = self.entry(id)?.is_some_and(|old| {
                        old.content_fingerprint() == item.entry.content_fingerprint()
                    });
                    if same {
                        unchanged.push((i, id));
                    }
                }
                Some((_, KeysKnown::No)) => {}
            }
            resolved.push(found.map(|(id, _)| id));
        }
        // An entry two items of the fetch name is left to the transaction,
        // which sees the first item's change before the second.
        let mut named: HashMap<EntryId, usize> = HashMap::new();
        for (item, found) in incoming.iter().zip(&resolved) {
            *named.entry(item.identity.id).or_default() += 1;
            if let Some(id) = found.filter(|id| *id != item.identity.id) {
                *named.entry(id).or_default() += 1;
            }
        }
        let settled = unchanged
            .into_iter()
            .filter(|(i, id)| named[id] == 1 && named[&incoming[*i].identity.id] == 1)
            .collect();
        // The candidate scans read committed entries only: a text the
        // fetch itself repeats is found here.
        let sketches: Vec<(EntryId, &Sketch)> =
            scans.iter().map(|(id, s)| (*id, &s.sketch)).collect();
        let recurring = cluster::recurring_within(&sketches);
        for (id, scan) in scans.iter_mut() {
            scan.recurring = recurring.contains(id);
        }
        Ok(Prepared { scans, settled })
    }

    /// What the store knows of an entry about to be stored: the entries
    /// first stored within the longest window of it that share at least
    /// [`MIN_SHARED_BANDS`] LSH bands with its sketch, and the earliest one
    /// with its link.
    pub(super) fn scan(&self, entry: &Entry, identity: &Identified) -> Result<Scan, StoreError> {
        let sketch = sketch_of(entry);
        let window = cluster::window().max(cluster::edit_window()).num_seconds();
        let new = Placed {
            id: identity.id,
            secs: entry.first_seen.timestamp(),
            feed: entry.feed,
            // Not placed yet: no story's copies are its own.
            story: identity.id,
        };
        let candidates = self.band_index().candidates(
            sketch.bands().map(|(_, hash)| hash),
            &new,
            window,
            MIN_SHARED_BANDS,
        );
        let first_linked = match identity.link_key.as_deref() {
            Some(link) => self.first_linked(&key_hash(link), identity.id)?,
            None => None,
        };
        Ok(Scan {
            sketch,
            candidates,
            first_linked,
            recurring: false,
        })
    }

    /// The size of the in-memory sketch index (see `band_index`): empty
    /// until the first write fills it.
    pub fn sketch_index_size(&self) -> SketchIndexSize {
        let index = self.band_index();
        SketchIndexSize {
            entries: index.len(),
            heap_bytes: index.heap_bytes(),
        }
    }

    /// The band index. One that a panic interrupted (in the middle of a
    /// merge, say) is not trusted: it is emptied, and the next write
    /// refills it from the store.
    pub(super) fn band_index(&self) -> std::sync::MutexGuard<'_, BandIndex> {
        self.bands.lock().unwrap_or_else(|poisoned| {
            tracing::error!("the sketch index was left half-changed by a panic; rebuilding it");
            let mut index = poisoned.into_inner();
            *index = BandIndex::new(band_index::keep().num_seconds());
            self.bands.clear_poison();
            self.bands_loaded.store(false, Ordering::Release);
            index
        })
    }

    /// Fills the band index at the first write rather than at `open`: a
    /// store with many recent entries takes seconds to index (about 25 µs
    /// an entry, most of it reading their records), and serving needs none
    /// of it. Called under the write lock.
    fn load_band_index(&self) -> Result<(), StoreError> {
        if self.bands.is_poisoned() {
            // Emptied and marked unloaded (see `band_index`): refilled below.
            drop(self.band_index());
        }
        if self.bands_loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        let start = std::time::Instant::now();
        let indexed = self.rebuild_band_index(crate::model::now())?;
        tracing::debug!(
            "sketch index: {indexed} recent entries in {:.2} s",
            start.elapsed().as_secs_f64()
        );
        self.bands_loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Refills the band index from the entries first stored within its
    /// time span before `now`.
    fn rebuild_band_index(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let from = keys::time_prefix(now - band_index::keep());
        let mut index = BandIndex::new(band_index::keep().num_seconds());
        for key in self.by_time.range(&from[..]..).keys() {
            let Some(id) = keys::id_of_time_key(&key?) else {
                continue;
            };
            if let Some(record) = self.story_record(id)? {
                let bands = record.sketch.bands().map(|(_, hash)| hash);
                index.insert(placed(id, &record), bands);
            }
        }
        let indexed = index.len();
        *self.band_index() = index;
        Ok(indexed)
    }
}

/// Entries in the sketch index and the heap it holds (capacities, in
/// bytes): most of what polling many feeds costs in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SketchIndexSize {
    pub entries: usize,
    pub heap_bytes: usize,
}

/// What a fetch's transaction needs from the committed store, read just
/// before it (`Store::prepare`).
#[derive(Default)]
pub(super) struct Prepared {
    /// By item id, for the items that look new.
    pub scans: HashMap<EntryId, Scan>,
    /// Items (by position in the fetch) that name a stored entry by keys
    /// it already has, with the same text: nothing to write for them.
    pub settled: HashMap<usize, EntryId>,
}

/// A new item's sketch and the stored entries that may be copies or
/// earlier versions of it.
pub(super) struct Scan {
    pub sketch: Sketch,
    pub candidates: Vec<Placed>,
    /// The earliest stored entry with the same link.
    pub first_linked: Option<EntryId>,
    /// Another new item of the same fetch has near-duplicate text.
    pub recurring: bool,
}

/// Which of an item's scanned candidates to read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Feeds {
    Any,
    /// Only those of the fetch's own feed.
    Own,
}

/// An entry with a link: when it was first stored, its story, its id (in
/// the order `cluster::place` picks the earliest).
type Linked = (DateTime<Utc>, EntryId, EntryId);

/// The trees of one fetch's transaction.
pub(super) struct Tx<'a> {
    pub entries: &'a TransactionalTree,
    pub by_time: &'a TransactionalTree,
    pub identities: &'a TransactionalTree,
    pub stories: &'a TransactionalTree,
    /// What was read before the transaction.
    prepared: &'a Prepared,
    pub feed: FeedId,
    /// New entries' band hashes, for the band index once committed.
    pub indexed: RefCell<Vec<(Placed, Vec<u64>)>>,
    /// The earliest entry stored by this transaction per link, by
    /// (first stored, story) as `cluster::place` orders them (the scans
    /// know only committed ones).
    linked: RefCell<HashMap<KeyHash, Linked>>,
}

impl<'a> Tx<'a> {
    pub fn new(
        [entries, by_time, identities, stories]: [&'a TransactionalTree; 4],
        prepared: &'a Prepared,
        feed: FeedId,
    ) -> Tx<'a> {
        Tx {
            entries,
            by_time,
            identities,
            stories,
            prepared,
            feed,
            indexed: RefCell::new(Vec::new()),
            linked: RefCell::new(HashMap::new()),
        }
    }

    fn store(&self, incoming: &[Incoming]) -> Result<StoreCounts, Abort> {
        let mut counts = StoreCounts::default();
        // Entries this fetch lists: an edit (below) replaces an entry the
        // fetch no longer lists.
        let mut listed: HashSet<EntryId> = HashSet::new();
        let mut by_text = Vec::new();
        for (i, item) in incoming.iter().enumerate() {
            if let Some(id) = self.prepared.settled.get(&i) {
                listed.insert(*id);
                counts.unchanged += 1;
                continue;
            }
            match self.resolve(&item.identity)? {
                Some((id, known)) => {
                    listed.insert(id);
                    self.store_known(id, item, known, &mut counts)?;
                }
                None if item.identity.key.starts_with(dedup::CONTENT) => by_text.push(item),
                None => {
                    listed.insert(item.identity.id);
                    let sketch = self.sketch(item);
                    self.insert_new(item, sketch, &mut counts)?;
                }
            }
        }
        // Items known only by their text: an unknown text may be an edited
        // headline of an entry the feed no longer lists.
        for item in by_text {
            let sketch = self.sketch(item);
            let newcomer = Newcomer {
                entry: item.identity.id,
                feed: self.feed,
                at: item.entry.first_seen,
                sketch: &sketch,
                recurring: false,
            };
            let candidates: Vec<Candidate> = self
                .similar(
                    item.identity.id,
                    item.entry.first_seen,
                    cluster::edit_window(),
                    Feeds::Any,
                )?
                .into_iter()
                .filter(|(c, content_keyed)| *content_keyed && !listed.contains(&c.entry))
                .map(|(c, _)| c)
                .collect();
            match cluster::edit_of(&newcomer, &candidates) {
                Some(id) => {
                    listed.insert(id);
                    self.store_known(id, item, KeysKnown::No, &mut counts)?;
                }
                None => {
                    listed.insert(item.identity.id);
                    self.insert_new(item, sketch, &mut counts)?;
                }
            }
        }
        Ok(counts)
    }

    /// The stored entry (or tombstone) an item is, if any, and whether
    /// every key of the item already names it.
    fn resolve(&self, identity: &Identified) -> Result<Option<(EntryId, KeysKnown)>, Abort> {
        resolve_with(
            identity,
            |h| self.alias(h),
            |own| Ok(self.entries.get(own.0)?.is_some() || self.tombstone(own)?.is_some()),
        )
    }

    /// An item resolved to stored entry `id`: a tombstone is refreshed, an
    /// entry updated in place if its text changed; new keys are remembered.
    fn store_known(
        &self,
        id: EntryId,
        item: &Incoming,
        keys: KeysKnown,
        counts: &mut StoreCounts,
    ) -> Result<(), Abort> {
        let Some(old) = self.entry(id)? else {
            // Keys outlive their entry only under a tombstone.
            if let Some(mut tomb) = self.tombstone(id)? {
                counts.unchanged += 1;
                let seen = item.entry.first_seen;
                if seen - tomb.last_seen >= last_seen_resolution() {
                    tomb.last_seen = seen;
                    self.identities
                        .insert(&key::tombstone(id)[..], codec::encode(&tomb))?;
                }
                return Ok(());
            }
            // An alias naming nothing (cannot happen). Store the item afresh.
            let sketch = self.sketch(item);
            return self.insert_new(item, sketch, counts);
        };
        let incoming = Entry {
            id,
            identity: old.identity.clone(),
            feed: old.feed,
            ..item.entry.clone()
        };
        match old.merged_with(incoming) {
            None => counts.unchanged += 1,
            Some(merged) => {
                counts.updated += 1;
                let old_key = keys::time_key(&old);
                let new_key = keys::time_key(&merged);
                if old_key != new_key {
                    self.by_time.remove(&old_key[..])?;
                    self.by_time.insert(&new_key[..], &[][..])?;
                }
                self.entries.insert(&id.0[..], codec::encode(&merged))?;
            }
        }
        match keys {
            KeysKnown::All => Ok(()),
            KeysKnown::No => self.learn_keys(id, &item.identity),
        }
    }

    /// Remembers keys of `identity` that do not name `id` yet (the feed
    /// started sending guids, or an edit changed the text key).
    fn learn_keys(&self, id: EntryId, identity: &Identified) -> Result<(), Abort> {
        let Some(mut record) = self.record(id)? else {
            return Ok(());
        };
        let mut changed = false;
        let gains_guid = identity.has_guid && !record.has_guid;
        if gains_guid {
            record.has_guid = true;
            changed = true;
        }
        for k in identity.keys() {
            let h = key_hash(k);
            if !record.keys.contains(&h) {
                record.keys.push(h);
                changed = true;
            }
        }
        if !changed {
            return Ok(());
        }
        let alias = Alias {
            entry: id,
            has_guid: record.has_guid,
        };
        for h in &record.keys {
            self.identities
                .insert(&key::alias(self.feed, h)[..], codec::encode(&alias))?;
        }
        self.stories
            .insert(&key::record(id)[..], codec::encode(&record))?;
        Ok(())
    }

    fn insert_new(
        &self,
        item: &Incoming,
        sketch: Sketch,
        counts: &mut StoreCounts,
    ) -> Result<(), Abort> {
        let entry = Entry {
            id: item.identity.id,
            identity: item.identity.key.clone(),
            ..item.entry.clone()
        };
        counts.new += 1;
        self.entries
            .insert(&entry.id.0[..], codec::encode(&entry))?;
        self.by_time.insert(&keys::time_key(&entry)[..], &[][..])?;
        self.index(&entry, &item.identity, sketch)?;
        Ok(())
    }

    /// Remembers a new entry's keys and places it in a story.
    pub(super) fn index(
        &self,
        entry: &Entry,
        identity: &Identified,
        sketch: Sketch,
    ) -> Result<Placement, Abort> {
        let keys: Vec<KeyHash> = identity.keys().map(key_hash).collect();
        let alias = Alias {
            entry: entry.id,
            has_guid: identity.has_guid,
        };
        for h in &keys {
            self.identities
                .insert(&key::alias(self.feed, h)[..], codec::encode(&alias))?;
        }
        let link = identity.link_key.as_deref().map(key_hash);
        let same_link = match &link {
            Some(h) => self.by_link(h, entry.id)?,
            None => Vec::new(),
        };
        // A story with the same link decides, and then `place` looks only at
        // the feed's own entries (whether this text recurs in it): other
        // feeds' copies, usually most candidates, need not be read.
        let feeds = if same_link.is_empty() {
            Feeds::Any
        } else {
            Feeds::Own
        };
        let similar: Vec<Candidate> = self
            .similar(entry.id, entry.first_seen, cluster::window(), feeds)?
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        let at = entry.first_seen;
        let placement = cluster::place(
            &Newcomer {
                entry: entry.id,
                feed: self.feed,
                at,
                sketch: &sketch,
                recurring: self
                    .prepared
                    .scans
                    .get(&entry.id)
                    .is_some_and(|s| s.recurring),
            },
            &same_link,
            &similar,
        );
        let record = StoryRecord {
            feed: self.feed,
            story: placement.story,
            at,
            link,
            keys,
            has_guid: identity.has_guid,
            content_keyed: identity.key.starts_with(dedup::CONTENT),
            recurring: placement.recurring,
            sketch,
        };
        self.stories
            .insert(&key::record(entry.id)[..], codec::encode(&record))?;
        if placement.story != entry.id {
            // A story alone has no members: it is its own entry. Its
            // founder's key is rewritten by every copy, which costs one
            // small insert, not a read.
            for member in [placement.story, entry.id] {
                self.stories
                    .insert(&key::member(placement.story, member)[..], &[][..])?;
            }
        }
        if let Some(h) = &link {
            self.stories
                .insert(&key::link(h, at, entry.id)[..], &[][..])?;
            let earliest = (at, placement.story, entry.id);
            self.linked
                .borrow_mut()
                .entry(*h)
                .and_modify(|e| *e = (*e).min(earliest))
                .or_insert(earliest);
        }
        self.indexed.borrow_mut().push((
            placed(entry.id, &record),
            record.sketch.bands().map(|(_, hash)| hash).collect(),
        ));
        Ok(placement)
    }

    /// The earliest entries with the link `hash`, as candidates: the one
    /// stored before this fetch (from the scan) and the one this fetch
    /// stored, if any. `cluster::place` only ever joins the earliest.
    fn by_link(&self, hash: &KeyHash, except: EntryId) -> Result<Vec<Candidate>, Abort> {
        let stored = self
            .prepared
            .scans
            .get(&except)
            .and_then(|s| s.first_linked);
        let this_fetch = self.linked.borrow().get(hash).map(|(.., id)| *id);
        let mut out = Vec::with_capacity(2);
        for id in stored.into_iter().chain(this_fetch) {
            if id == except {
                continue;
            }
            if let Some(record) = self.record(id)? {
                out.push(candidate(id, record));
            }
        }
        Ok(out)
    }

    /// The item's sketch, from its scan if it had one.
    fn sketch(&self, item: &Incoming) -> Sketch {
        self.prepared
            .scans
            .get(&item.identity.id)
            .map_or_else(|| sketch_of(&item.entry), |s| s.sketch.clone())
    }

    /// The scanned candidates of item `id` (of `feeds`) first stored within
    /// `window` of `at`, with whether each is known by its text alone. (An
    /// item that looked known before the transaction but turned out new —
    /// another fetch removed its entry meanwhile — has none.)
    fn similar(
        &self,
        id: EntryId,
        at: DateTime<Utc>,
        window: Duration,
        feeds: Feeds,
    ) -> Result<Vec<(Candidate, bool)>, Abort> {
        let Some(scan) = self.prepared.scans.get(&id) else {
            return Ok(Vec::new());
        };
        let (window, secs) = (window.num_seconds(), at.timestamp());
        let mut out = Vec::new();
        for c in &scan.candidates {
            if (c.secs - secs).abs() > window || (feeds == Feeds::Own && c.feed != self.feed) {
                continue;
            }
            if let Some(record) = self.record(c.id)? {
                let content_keyed = record.content_keyed;
                out.push((self::candidate(c.id, record), content_keyed));
            }
        }
        Ok(out)
    }

    fn alias(&self, h: &KeyHash) -> Result<Option<Alias>, Abort> {
        self.get(self.identities, &key::alias(self.feed, h))
    }

    fn tombstone(&self, id: EntryId) -> Result<Option<Tombstone>, Abort> {
        self.get(self.identities, &key::tombstone(id))
    }

    fn record(&self, id: EntryId) -> Result<Option<StoryRecord>, Abort> {
        self.get(self.stories, &key::record(id))
    }

    fn entry(&self, id: EntryId) -> Result<Option<Entry>, Abort> {
        self.get(self.entries, &id.0)
    }

    fn get<T: DeserializeOwned>(
        &self,
        tree: &TransactionalTree,
        k: &[u8],
    ) -> Result<Option<T>, Abort> {
        match tree.get(k)? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }
}

/// The stored entry (or tombstone) an item is, if any, and whether every
/// key of the item already names it, given how to read an alias and
/// whether an entry or tombstone exists (from the committed store before a
/// transaction, or inside one).
fn resolve_with<E>(
    identity: &Identified,
    mut alias: impl FnMut(&KeyHash) -> Result<Option<Alias>, E>,
    exists: impl FnOnce(EntryId) -> Result<bool, E>,
) -> Result<Option<(EntryId, KeysKnown)>, E> {
    let mut known = Vec::new();
    for k in identity.keys() {
        if let Some(a) = alias(&key_hash(k))? {
            known.push((k, a));
        }
    }
    let found = dedup::resolve(identity, |k| {
        known
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, a)| KnownKey {
                entry: a.entry,
                has_guid: a.has_guid,
            })
    });
    if let Some(id) = found {
        let all = known.len() == identity.keys().count()
            && known
                .iter()
                .all(|(_, a)| a.entry == id && (a.has_guid || !identity.has_guid));
        let keys = if all { KeysKnown::All } else { KeysKnown::No };
        return Ok(Some((id, keys)));
    }
    // Entries stored without aliases (a test's bare `store_fetch`).
    let own = identity.id;
    Ok(exists(own)?.then_some((own, KeysKnown::No)))
}

fn placed(id: EntryId, record: &StoryRecord) -> Placed {
    Placed {
        id,
        secs: record.at.timestamp(),
        feed: record.feed,
        story: record.story,
    }
}

fn candidate(entry: EntryId, record: StoryRecord) -> Candidate {
    Candidate {
        entry,
        feed: record.feed,
        story: record.story,
        at: record.at,
        recurring: record.recurring,
        sketch: record.sketch,
    }
}

/// The sketch of an entry's title and summary (or content).
pub fn sketch_of(entry: &Entry) -> Sketch {
    Sketch::of(
        &entry.title,
        entry.summary.as_deref().or(entry.content.as_deref()),
    )
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Abort> {
    codec::decode(bytes).map_err(ConflictableTransactionError::Abort)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::dedup::IdentityMode;
    use crate::normalize::Item;
    use crate::store::RetentionPolicy;
    use chrono::{DateTime, Utc};

    pub fn t(days: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::days(days)
    }

    pub fn item(guid: Option<&str>, link: Option<&str>, title: &str, summary: &str) -> Item {
        Item {
            summary: (!summary.is_empty()).then(|| summary.to_owned()),
            ..Item::bare(guid, link, title)
        }
    }

    /// One fetch of `items` from `feed` at `now`, as the poller stores it.
    pub fn fetch(store: &Store, feed: &str, items: &[Item], now: DateTime<Utc>) -> StoreCounts {
        let state = FeedState::new(feed);
        let incoming = dedup::identify(feed, items, IdentityMode::Guid)
            .into_iter()
            .zip(items)
            .filter_map(|(identity, item)| {
                let identity = identity?;
                Some(Incoming {
                    entry: Entry {
                        id: identity.id,
                        feed: state.id(),
                        identity: identity.key.clone(),
                        link: item.link.as_ref().map(|l| l.to_string()),
                        title: item.title.clone(),
                        summary: item.summary.clone(),
                        content: None,
                        authors: vec![],
                        categories: vec![],
                        language: None,
                        published: None,
                        first_seen: now,
                        updated: now,
                    },
                    identity,
                })
            })
            .collect();
        store.store_incoming(&state, incoming).unwrap()
    }

    pub fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        (dir, store)
    }

    /// The id `item` gets when `feed` lists it alone.
    fn id_of(feed: &str, item: &Item) -> EntryId {
        dedup::identify(feed, std::slice::from_ref(item), IdentityMode::Guid)[0]
            .as_ref()
            .expect("an identifiable item")
            .id
    }

    fn counts(c: StoreCounts) -> (usize, usize, usize) {
        (c.new, c.updated, c.unchanged)
    }

    const FEED: &str = "https://a.example/rss";

    #[test]
    fn a_feed_that_starts_sending_guids_keeps_its_entries() {
        let (_dir, store) = open();
        let link = "https://www.bbc.com/russian/articles/c4g93nxy27zo";
        let before = item(None, Some(link), "Метеорологические шары", "");
        assert_eq!(counts(fetch(&store, FEED, &[before], t(0))), (1, 0, 0));
        let after = item(Some(link), Some(link), "Метеорологические шары", "");
        assert_eq!(counts(fetch(&store, FEED, &[after], t(1))), (0, 0, 1));
        // Later the slug is rewritten; the guid still names the story.
        let moved = item(
            Some(link),
            Some("https://www.bbc.com/russian/articles/new-slug"),
            "Шары",
            "",
        );
        assert_eq!(counts(fetch(&store, FEED, &[moved], t(2))), (0, 1, 0));
        assert_eq!(store.entry_count(), 1);
    }

    #[test]
    fn another_guid_on_a_known_link_is_another_story() {
        let (_dir, store) = open();
        let live = "https://a.example/live";
        fetch(
            &store,
            FEED,
            &[item(Some("u1"), Some(live), "Update one", "")],
            t(0),
        );
        let c = fetch(
            &store,
            FEED,
            &[item(Some("u2"), Some(live), "Update two", "")],
            t(0),
        );
        assert_eq!(counts(c), (1, 0, 0));
    }

    #[test]
    fn an_edit_is_an_update_in_place_and_a_repeat_changes_nothing() {
        let (_dir, store) = open();
        let a = item(
            Some("g"),
            Some("https://a.example/1"),
            "Old headline",
            "Text",
        );
        fetch(&store, FEED, std::slice::from_ref(&a), t(0));
        let id = id_of(FEED, &a);
        let generation = store.generation();
        assert_eq!(
            counts(fetch(&store, FEED, std::slice::from_ref(&a), t(1))),
            (0, 0, 1)
        );
        assert_eq!(store.generation(), generation);
        let edited = item(
            Some("g"),
            Some("https://a.example/1"),
            "New headline",
            "Text",
        );
        assert_eq!(counts(fetch(&store, FEED, &[edited], t(2))), (0, 1, 0));
        let stored = store.entry(id).unwrap().unwrap();
        assert_eq!(stored.title, "New headline");
        assert_eq!(stored.first_seen, t(0));
        assert_eq!(stored.updated, t(2));
    }

    #[test]
    fn an_edited_text_without_guid_or_link_is_an_update() {
        // Meduza: every item links to the front page; a headline edited
        // between two fetches is the same story.
        let (_dir, store) = open();
        let old = "Альпинистка Наталья Наговицына потеряла в горах Тянь-Шаня мужа, а через четыре года решила вернуться";
        let new = "Альпинистка Наталья Наговицина потеряла в горах Тянь-Шаня мужа, а через четыре года решила вернуться";
        let other = item(
            None,
            Some("https://meduza.io/"),
            "Владимиру Сорокину — 70 лет",
            "",
        );
        fetch(
            &store,
            FEED,
            &[
                item(None, Some("https://meduza.io/"), old, old),
                other.clone(),
            ],
            t(0),
        );
        let c = fetch(
            &store,
            FEED,
            &[item(None, Some("https://meduza.io/"), new, new), other],
            t(1),
        );
        assert_eq!(counts(c), (0, 1, 1));
        assert_eq!(store.entry_count(), 2);
    }

    /// A wire story and another outlet's rewrite of it at `link`.
    fn wire_and_copy(link: &str) -> (Item, Item) {
        let wire = item(
            None,
            Some("https://tass.com/economy/1"),
            "China and Russia sign gas pipeline deal during Xi visit to Moscow",
            "MOSCOW - China and Russia signed an agreement on the Power of Siberia 2 gas pipeline on Tuesday during a state visit by Chinese President Xi Jinping to Moscow, the Kremlin said.",
        );
        let copy = item(
            None,
            Some(link),
            "China, Russia sign gas pipeline deal as Xi visits Moscow",
            "MOSCOW - China and Russia signed an agreement on the Power of Siberia 2 gas pipeline on Tuesday during a state visit by President Xi Jinping to Moscow, the Kremlin said on Tuesday.",
        );
        (wire, copy)
    }

    #[test]
    fn a_copy_arriving_after_a_restart_finds_its_story() {
        let dir = tempfile::tempdir().unwrap();
        let now = crate::model::now();
        let (wire, copy) = wire_and_copy("https://news.example/world/pipeline");
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            fetch(
                &store,
                "https://tass.example/rss",
                &[wire],
                now - Duration::hours(3),
            );
        }
        // The sketch index is rebuilt from the store at the first write.
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        fetch(&store, "https://news.example/rss", &[copy], now);
        let page = store.story_page(10, None, |_| true).unwrap();
        assert_eq!(page.stories.len(), 1, "{page:?}");
        assert_eq!(page.stories[0].copies.len(), 1);
    }

    #[test]
    fn an_index_a_panic_interrupted_is_rebuilt_from_the_store() {
        let (_dir, store) = open();
        let now = crate::model::now();
        let (wire, copy) = wire_and_copy("https://news.example/world/pipeline");
        fetch(
            &store,
            "https://tass.example/rss",
            &[wire],
            now - Duration::hours(3),
        );
        // A panic halfway through changing the index: here, after it lost
        // every entry.
        let panicked = std::thread::scope(|s| {
            s.spawn(|| {
                let mut index = store.band_index();
                *index = BandIndex::new(band_index::keep().num_seconds());
                panic!("halfway");
            })
            .join()
        });
        assert!(panicked.is_err());
        fetch(&store, "https://news.example/rss", &[copy], now);
        let page = store.story_page(10, None, |_| true).unwrap();
        assert_eq!(page.stories.len(), 1, "{page:?}");
        assert_eq!(store.sketch_index_size().entries, 2);
    }

    #[test]
    fn a_copy_placed_by_its_link_still_learns_that_its_text_recurs() {
        // The same link decides the story, and only the feed's own entries
        // are read then: they still tell that this text recurs in the feed.
        let (_dir, store) = open();
        let (a, b) = ("https://a.example/rss", "https://b.example/rss");
        let boilerplate = "Read the latest reports from our correspondents covering politics, \
                           markets, technology and culture across every region of the world";
        let first = item(
            Some("g1"),
            Some("https://a.example/1"),
            "Regional weather outlook for the coming weekend",
            boilerplate,
        );
        let second = item(
            Some("g2"),
            Some("https://a.example/2"),
            "Regional weather outlook for the coming weekend",
            boilerplate,
        );
        let linked = item(
            Some("h1"),
            Some("https://a.example/2"),
            "Central bank leaves interest rates unchanged",
            "The decision was expected by most economists surveyed last week",
        );
        fetch(&store, a, std::slice::from_ref(&first), t(0));
        fetch(&store, b, std::slice::from_ref(&linked), t(0));
        fetch(
            &store,
            a,
            &[first, second.clone()],
            t(0) + Duration::hours(1),
        );
        let copy = store.story_record(id_of(a, &second)).unwrap().unwrap();
        let founder = id_of(b, &linked);
        assert_eq!(copy.story, founder, "joined by its link");
        assert!(copy.recurring, "its text recurs in its own feed");
    }

    #[test]
    fn the_same_story_in_two_feeds_is_one_story() {
        let (_dir, store) = open();
        let (wire, copy) = wire_and_copy("https://news.example/world/pipeline?utm_source=rss");
        let same_link = item(
            None,
            Some("https://tass.com/economy/1"),
            "Pipeline deal signed",
            "",
        );
        fetch(&store, "https://tass.example/rss", &[wire], t(0));
        fetch(
            &store,
            "https://news.example/rss",
            &[copy],
            t(0) + Duration::hours(2),
        );
        fetch(&store, "https://digest.example/rss", &[same_link], t(1));
        let page = store.story_page(10, None, |_| true).unwrap();
        assert_eq!(page.stories.len(), 1, "{page:?}");
        let story = &page.stories[0];
        assert_eq!(
            story.entry.link.as_deref(),
            Some("https://tass.com/economy/1")
        );
        assert_eq!(story.id, story.entry.id, "the first entry names the story");
        assert_eq!(story.copies.len(), 2);
        assert_eq!(store.page(10, None, |_| true).unwrap().entries.len(), 3);
    }

    #[test]
    fn template_titles_from_two_feeds_stay_two_stories() {
        let (_dir, store) = open();
        let lede = "Russia and China hold talks in Beijing as the war in Ukraine enters its fourth year; follow our coverage";
        fetch(
            &store,
            "https://a.example/rss",
            &[item(
                None,
                Some("https://a.example/live/1"),
                "Russia-Ukraine war: live updates",
                lede,
            )],
            t(0),
        );
        fetch(
            &store,
            "https://b.example/rss",
            &[item(
                None,
                Some("https://b.example/live/2"),
                "Russia-Ukraine war: live updates",
                lede,
            )],
            t(0),
        );
        assert_eq!(
            store.story_page(10, None, |_| true).unwrap().stories.len(),
            2
        );
    }

    #[test]
    fn a_pruned_entry_stays_pruned_while_its_feed_lists_it() {
        let (_dir, store) = open();
        let items: Vec<Item> = (0..3)
            .map(|i| {
                item(
                    Some(&format!("g{i}")),
                    Some(&format!("https://a.example/{i}")),
                    &format!("Story number {i}"),
                    "",
                )
            })
            .collect();
        fetch(&store, FEED, &items[..1], t(0));
        fetch(&store, FEED, &items[..2], t(1));
        fetch(&store, FEED, &items, t(2));
        let keep_one = RetentionPolicy {
            max_age: None,
            max_entries_per_feed: Some(1),
        };
        let report = store.prune(&keep_one, t(2)).unwrap();
        assert_eq!(report.pruned, 2);
        assert_eq!(store.entry_count(), 1);
        let state = store
            .feed_state(FeedState::new(FEED).id())
            .unwrap()
            .unwrap();
        assert_eq!(state.entry_count, 1);
        // The feed still lists all three: nothing comes back.
        assert_eq!(counts(fetch(&store, FEED, &items, t(20))), (0, 0, 3));
        // Seen 20 days ago: the tombstones outlive a prune 20 days later…
        assert_eq!(store.prune(&keep_one, t(40)).unwrap().tombstones_expired, 0);
        assert_eq!(counts(fetch(&store, FEED, &items, t(41))), (0, 0, 3));
        // …and expire once the feed has not listed them for 30 days.
        fetch(&store, FEED, &items[2..], t(42));
        assert_eq!(store.prune(&keep_one, t(75)).unwrap().tombstones_expired, 2);
        assert_eq!(counts(fetch(&store, FEED, &items, t(76))), (2, 0, 1));
    }

    #[test]
    fn max_age_prunes_by_time_first_stored() {
        let (_dir, store) = open();
        fetch(
            &store,
            FEED,
            &[item(Some("old"), None, "An old story", "")],
            t(0),
        );
        fetch(
            &store,
            FEED,
            &[item(Some("new"), None, "A new story", "")],
            t(80),
        );
        let policy = RetentionPolicy {
            max_age: Some(std::time::Duration::from_secs(30 * 86_400)),
            max_entries_per_feed: None,
        };
        let generation = store.generation();
        assert_eq!(store.prune(&policy, t(81)).unwrap().pruned, 1);
        assert!(store.generation() > generation, "served feeds change");
        let left = store.page(10, None, |_| true).unwrap().entries;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].title, "A new story");
    }
}
