//! Storage: the only module that touches sled.
//!
//! Trees (see `keys` for the byte layouts):
//! - `entries`: [`EntryId`] → [`Entry`]
//! - `by_time`: sort time + [`EntryId`] → `()`, iterated in reverse for
//!   newest-first feeds
//! - `feeds`: [`FeedId`] → [`FeedState`]
//! - `meta`: store-wide values: the schema version, the last count of
//!   live data (`measure`)
//! - `identities`, `stories`: dedup state — identity aliases, tombstones of
//!   pruned entries, and which entries are copies of one story (see
//!   `stories`); recent entries' sketch bands are indexed in memory
//!   (`band_index`)
//!
//! One fetch is stored in one multi-tree transaction (entries, their time
//! index and the feed state with its HTTP validators), so a crash can never
//! leave validators that would make the next poll skip entries we did not
//! store, nor an index key without its entry.
//!
//! All calls are synchronous and fast for point operations; callers run
//! scans ([`Store::newest`]) and whole-fetch writes on a blocking thread.

mod backup;
mod band_index;
mod codec;
mod compact;
mod ingest;
mod keys;
mod measure;
mod migrate;
pub mod retention;
mod shared;
mod space;
pub mod stories;

use crate::model::{Entry, EntryId, FeedId, FeedState};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use backup::{BackupError, BackupSummary};
pub use codec::CodecError;
pub use compact::CompactSummary;
pub use ingest::{Incoming, SketchIndexSize};
pub use measure::LiveMeasure;
pub use retention::{PruneReport, RetentionPolicy};
pub use shared::SharedStore;
pub use space::{DEFAULT_MIN_FREE, NotWritable, check_dir};
pub use stories::{StoryPage, StoryView};

/// Bumped whenever the on-disk layout changes; `open` migrates or refuses.
/// 2: dedup state (`identities`, `stories`). 3: story members and link
/// entries one key each.
const SCHEMA_VERSION: u32 = 3;

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
    #[error("{0}")]
    NotWritable(NotWritable),
    #[error("store task failed: {0}")]
    Task(String),
    #[error("store file error: {0}")]
    Io(String),
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

/// A position in the newest-first order of entries (just after one
/// entry), as used in archive page URLs. Opaque to clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor([u8; keys::TIME_KEY_LEN]);

impl Cursor {
    fn from_key(key: &[u8]) -> Option<Cursor> {
        Some(Cursor(key.try_into().ok()?))
    }

    /// Parses the form `Display` writes (lower-case hex).
    pub fn parse(text: &str) -> Option<Cursor> {
        if text.len() != keys::TIME_KEY_LEN * 2 {
            return None;
        }
        let mut key = [0u8; keys::TIME_KEY_LEN];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
        }
        Some(Cursor(key))
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::model::hex(&self.0))
    }
}

/// One page of entries and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub next: Option<Cursor>,
}

/// The tidings store. Cheap to share behind an `Arc`; every method takes
/// `&self`.
pub struct Store {
    db: sled::Db,
    entries: sled::Tree,
    by_time: sled::Tree,
    feeds: sled::Tree,
    identities: sled::Tree,
    stories: sled::Tree,
    /// Store-wide values: the schema version, the last [`LiveMeasure`].
    meta: sled::Tree,
    /// Recent entries by sketch band (see `band_index`), filled at the
    /// first write (`load_band_index`).
    bands: std::sync::Mutex<band_index::BandIndex>,
    bands_loaded: std::sync::atomic::AtomicBool,
    /// Increases on every write that changes what a served feed shows, so
    /// servers can cache rendered feeds until it moves.
    generation: AtomicU64,
    /// Held by every write and flush. sled 0.34 can deadlock when a
    /// multi-tree transaction, plain inserts and `flush_async` run at once
    /// from many threads (seen with 64 polls in parallel): its I/O threads
    /// wait for buffers that writers blocked on its internal lock never
    /// release. One writer at a time costs nothing measurable here (fetches
    /// are few and their writes are milliseconds) and rules that out.
    writes: std::sync::Mutex<()>,
    /// Whether writes may go to sled: disk space, read-only file system,
    /// an earlier failed write (see `space`).
    space: space::Space,
    /// The configured store directory, and the sled directory in use under
    /// it (itself, or a generation: see `compact`).
    root: PathBuf,
    dir: PathBuf,
    cache_bytes: u64,
}

/// How long `open` waits for the lock of a store this process has just
/// closed: sled's I/O threads finish their last writes, and only then
/// release the directory's lock, a few milliseconds after the last handle
/// is dropped (more so after many small writes).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

fn open_sled(config: &sled::Config) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match config.open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            opened => return opened,
        }
    }
}

impl Store {
    /// Opens (or creates) the store in directory `path`. `cache_bytes` caps
    /// sled's page cache, the bulk of the daemon's memory.
    pub fn open(path: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let dir = compact::current_dir(path)?;
        let store = Store::open_dir(path, &dir, cache_bytes)?;
        // Only now, with the generation in use locked by us, is it safe to
        // clear what an interrupted compaction left.
        if let Err(e) = compact::remove_stale(path, &dir) {
            tracing::warn!(
                "cannot remove an earlier compaction's leftovers in {}: {e}",
                path.display()
            );
        }
        Ok(store)
    }

    /// Opens the sled database in `dir`, a generation of the store in
    /// `root` (see `compact`) or `root` itself.
    fn open_dir(root: &Path, dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        let path = root;
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let db = open_sled(
            &sled::Config::new()
                .path(dir)
                .cache_capacity(cache_bytes)
                .flush_every_ms(Some(1000)),
        )
        .map_err(open_err)?;
        let meta = db.open_tree("meta").map_err(open_err)?;
        let recorded = meta
            .get(keys::SCHEMA_VERSION)?
            .map(|v| codec::decode_u32(&v))
            .transpose()?;
        let found = recorded.unwrap_or(SCHEMA_VERSION);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found,
            });
        }
        let store = Store {
            entries: db.open_tree("entries")?,
            by_time: db.open_tree("by_time")?,
            feeds: db.open_tree("feeds")?,
            identities: db.open_tree("identities")?,
            stories: db.open_tree("stories")?,
            meta,
            bands: std::sync::Mutex::new(band_index::BandIndex::new(
                band_index::keep().num_seconds(),
            )),
            bands_loaded: std::sync::atomic::AtomicBool::new(false),
            db,
            generation: AtomicU64::new(0),
            writes: std::sync::Mutex::new(()),
            space: space::Space::new(path),
            root: root.to_owned(),
            dir: dir.to_owned(),
            cache_bytes,
        };
        migrate::run(&store, found)?;
        // Written only when it changes: opening a store on a full disk
        // must not need a write.
        if recorded != Some(SCHEMA_VERSION) {
            store
                .meta
                .insert(keys::SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes())?;
        }
        Ok(store)
    }

    fn bump_generation(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Every tree a fetch or a retention batch writes, in one tuple for a
    /// multi-tree transaction.
    fn trees(
        &self,
    ) -> (
        &sled::Tree,
        &sled::Tree,
        &sled::Tree,
        &sled::Tree,
        &sled::Tree,
    ) {
        (
            &self.entries,
            &self.by_time,
            &self.feeds,
            &self.identities,
            &self.stories,
        )
    }

    /// The single-writer guard (see [`Store::writes`]).
    fn write_guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Refuses a write batch the file system cannot take (see `space`):
    /// called before every write, under the write guard.
    fn write_allowed(&self) -> Result<(), StoreError> {
        self.space.check().map_err(|e| {
            self.space
                .write_errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            StoreError::NotWritable(e)
        })
    }

    /// Records a failed write (an I/O error poisons sled, see `space`).
    fn write_failed(&self, error: sled::Error) -> StoreError {
        match self.space.failed(&error) {
            Some(poisoned) => StoreError::NotWritable(poisoned),
            None => StoreError::Sled(error),
        }
    }

    /// Whether a write would be accepted now, and why not: for readiness,
    /// metrics and the status page.
    pub fn writable(&self) -> Result<(), NotWritable> {
        self.space.check()
    }

    /// Whether sled refuses writes since a failed one (see `space`) while
    /// the disk would take them again: a compaction into a fresh database
    /// recovers ([`SharedStore::compact`]).
    pub fn recoverable(&self) -> bool {
        self.space.is_poisoned() && space::check_dir(&self.root, self.space.reserve()).is_ok()
    }

    /// Whether sled refuses writes since a failed one (see `space`).
    pub fn is_poisoned(&self) -> bool {
        self.space.is_poisoned()
    }

    /// Writes refused (disk full, read-only) or failed since start.
    pub fn write_errors(&self) -> u64 {
        self.space
            .write_errors
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Free space below which writes are refused (`[storage] min_free_mb`;
    /// [`DEFAULT_MIN_FREE`] until set).
    pub fn set_min_free(&self, bytes: u64) {
        self.space.set_reserve(bytes);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Entries stored: the sum of the feeds' `entry_count`s, which every
    /// stored fetch and every prune keep up to date. (`Tree::len` counts
    /// by iterating the whole tree: on `/healthz` and at start-up that
    /// read every entry of the store through the page cache — seconds and
    /// ~65 MB of RSS with 100,000 entries.)
    pub fn entry_count(&self) -> usize {
        self.feeds
            .iter()
            .values()
            .filter_map(|v| codec::decode::<FeedState>(&v.ok()?).ok())
            .map(|state| state.entry_count as usize)
            .sum()
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
        let _writing = self.write_guard();
        self.write_allowed()?;
        self.feeds
            .insert(state.id().to_bytes(), codec::encode(state))
            .map_err(|e| self.write_failed(e))?;
        Ok(())
    }

    /// Every entry once, in no particular order, in `parts` ranges of ids
    /// (at most 256) read side by side on scoped threads: each part folds
    /// its entries into a state of its own (from `init`), and the states
    /// come back in part order. Reading in key order walks the tree's
    /// leaves instead of searching it per entry. A scan: call it from a
    /// blocking thread.
    pub fn fold_entries<T: Send>(
        &self,
        parts: usize,
        init: impl Fn() -> T + Sync,
        each: impl Fn(&mut T, &Entry) + Sync,
    ) -> Result<Vec<T>, StoreError> {
        let parts = parts.clamp(1, 256);
        // Ids are hashes, so their first byte splits them evenly.
        let first_byte = |i: usize| [(i * 256 / parts) as u8];
        let scan = |i: usize| -> Result<T, StoreError> {
            let mut state = init();
            let range = if i + 1 < parts {
                self.entries.range(first_byte(i)..first_byte(i + 1))
            } else {
                self.entries.range(first_byte(i)..)
            };
            for value in range.values() {
                each(&mut state, &codec::decode(&value?)?);
            }
            Ok(state)
        };
        std::thread::scope(|s| {
            let others: Vec<_> = (1..parts).map(|i| s.spawn(move || scan(i))).collect();
            let first = scan(0);
            std::iter::once(first)
                .chain(others.into_iter().map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                }))
                .collect()
        })
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
    /// Entries are known by their id and primary key only; the poller
    /// stores what a fetch knows about its items with
    /// [`Store::store_incoming`].
    pub fn store_fetch(
        &self,
        state: &FeedState,
        incoming: Vec<Entry>,
    ) -> Result<StoreCounts, StoreError> {
        self.store_incoming(
            state,
            incoming.into_iter().map(Incoming::from_entry).collect(),
        )
    }

    /// Up to `limit` entries accepted by `keep`, newest first. A scan: call
    /// it from a blocking thread.
    pub fn newest(
        &self,
        limit: usize,
        keep: impl FnMut(&Entry) -> bool,
    ) -> Result<Vec<Entry>, StoreError> {
        Ok(self.page(limit, None, keep)?.entries)
    }

    /// Every entry, newest first (by first-stored time), after `before` or
    /// from the newest, each with its time-index key (where a page cursor
    /// points). A scan: call it from a blocking thread.
    pub(crate) fn newest_first(
        &self,
        before: Option<&Cursor>,
    ) -> impl Iterator<Item = Result<(sled::IVec, Entry), StoreError>> + '_ {
        let keys = match before {
            Some(cursor) => self.by_time.range(..&cursor.0[..]),
            None => self.by_time.range::<&[u8], _>(..),
        };
        keys.keys().rev().filter_map(move |key| {
            let key = match key {
                Ok(key) => key,
                Err(e) => return Some(Err(e.into())),
            };
            let id = keys::id_of_time_key(&key)?;
            match self.entry(id) {
                Ok(Some(entry)) => Some(Ok((key, entry))),
                // The index and entries are written in one transaction, so
                // a missing entry means the index is damaged; skip it rather
                // than fail the whole scan.
                Ok(None) => {
                    tracing::warn!(entry = %id, "time index names a missing entry; skipped");
                    None
                }
                Err(e) => Some(Err(e)),
            }
        })
    }

    /// One page of the newest-first order: up to `limit` entries accepted by
    /// `keep` that come after `before` (or from the newest, without it),
    /// and the cursor where the next page starts when this one is full.
    /// Entries are ordered by when they were first stored, so the pages
    /// behind a cursor never change as new entries arrive. A scan: call it
    /// from a blocking thread.
    pub fn page(
        &self,
        limit: usize,
        before: Option<&Cursor>,
        mut keep: impl FnMut(&Entry) -> bool,
    ) -> Result<Page, StoreError> {
        let mut page = Page {
            entries: Vec::with_capacity(limit.min(1024)),
            next: None,
        };
        if limit == 0 {
            return Ok(page);
        }
        for found in self.newest_first(before) {
            let (key, entry) = found?;
            if keep(&entry) {
                page.entries.push(entry);
                if page.entries.len() == limit {
                    page.next = Cursor::from_key(&key);
                    break;
                }
            }
        }
        Ok(page)
    }

    /// Writes everything to disk. Called before reporting a fetch as stored
    /// in `poll --once` and at shutdown.
    ///
    /// Blocks until the data is on disk: call it from a blocking thread.
    pub fn flush(&self) -> Result<(), StoreError> {
        let _writing = self.write_guard();
        // A flush writes only what batches already accepted, within the
        // reserve; but a read-only or poisoned store must not be asked to.
        match self.space.check() {
            Ok(()) | Err(NotWritable::DiskFull { .. }) => {}
            Err(e) => return Err(StoreError::NotWritable(e)),
        }
        self.db.flush().map_err(|e| self.write_failed(e))?;
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
            link: Some(format!("https://a.example/{key}")),
            published: Some(now - Duration::minutes(minutes_ago)),
            updated: now - Duration::minutes(minutes_ago),
            ..Entry::bare(&feed.url, key, title, now)
        }
    }

    #[test]
    fn folding_entries_in_parts_reads_each_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let feed = FeedState::new("https://a.example/rss");
        let fetch: Vec<Entry> = (0..300)
            .map(|i| entry(&feed, &i.to_string(), &format!("Entry {i}"), i))
            .collect();
        store.store_fetch(&feed, fetch.clone()).unwrap();
        let mut expected: Vec<EntryId> = fetch.iter().map(|e| e.id).collect();
        expected.sort();
        for parts in [1, 2, 3, 7, 256, 1000] {
            let per_part = store
                .fold_entries(parts, Vec::new, |ids, e| ids.push(e.id))
                .unwrap();
            assert_eq!(
                per_part.len(),
                parts.min(256),
                "one part per first byte at most"
            );
            // Parts are ranges of ids, in order.
            let seen: Vec<EntryId> = per_part.into_iter().flatten().collect();
            assert_eq!(seen, expected, "{parts} parts");
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
    fn pages_have_no_gaps_or_repeats_across_inserts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let feed = FeedState::new("https://a.example/rss");
        let first: Vec<Entry> = (0..10)
            .map(|i| entry(&feed, &format!("a{i}"), "A", i))
            .collect();
        store.store_fetch(&feed, first.clone()).unwrap();

        let head = store.page(3, None, |_| true).unwrap();
        let cursor = head.next.expect("a full page has a next cursor");
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        // New entries arrive (some claiming old publish dates) ...
        let later: Vec<Entry> = (0..5)
            .map(|i| {
                let mut e = entry(&feed, &format!("b{i}"), "B", 500 + i);
                e.first_seen = crate::model::now();
                e
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(2));
        store.store_fetch(&feed, later).unwrap();
        // ... and the archive behind the cursor is unchanged.
        let mut seen: Vec<EntryId> = head.entries.iter().map(|e| e.id).collect();
        let mut next = Some(cursor);
        while let Some(c) = next {
            let page = store.page(3, Some(&c), |_| true).unwrap();
            seen.extend(page.entries.iter().map(|e| e.id));
            next = page.next;
        }
        let mut expected: Vec<EntryId> = first.iter().map(|e| e.id).collect();
        expected.sort();
        let mut got = seen.clone();
        got.sort();
        assert_eq!(got, expected, "every original entry exactly once");
        assert_eq!(
            store.newest(20, |_| true).unwrap()[0].title,
            "B",
            "new entries lead the head page"
        );
        assert!(Cursor::parse("zz").is_none());
    }

    #[test]
    fn survives_reopen_and_filters() {
        let dir = tempfile::tempdir().unwrap();
        let feed = FeedState::new("https://a.example/rss");
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            // One fetch: one first-seen time, so publish time orders them.
            let fetched_at = crate::model::now();
            let fetch = (0..20)
                .map(|i| Entry {
                    first_seen: fetched_at,
                    ..entry(&feed, &i.to_string(), &format!("E{i}"), i)
                })
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
