//! The running daemon's handle to its store, which can be swapped for a
//! compacted copy (see `compact`) without stopping anything.
//!
//! Readers take the current store ([`SharedStore::get`]) for one operation
//! and let it go; nothing long-lived keeps a `Store`. Writers go through
//! [`SharedStore::write`], a gate that a compaction closes: it waits for
//! the writes in flight, copies, swaps, and opens the gate again, so no
//! write lands in the old database after the copy. Reads go on throughout,
//! from the old database until the swap and from the new one after; both
//! hold the same data. The old database's files are deleted once its last
//! reader lets go.

use super::{CompactSummary, Store, StoreError};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// How long a retired store may stay in use before its files are left for
/// the next start to remove.
const RETIRED_GRACE: Duration = Duration::from_secs(600);

/// Cheap to clone; every clone is the same store.
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
}

struct Inner {
    current: RwLock<Arc<Store>>,
    /// Held shared by each write, exclusively by a compaction.
    writes: RwLock<()>,
}

impl From<Arc<Store>> for SharedStore {
    fn from(store: Arc<Store>) -> Self {
        SharedStore {
            inner: Arc::new(Inner {
                current: RwLock::new(store),
                writes: RwLock::new(()),
            }),
        }
    }
}

impl From<Store> for SharedStore {
    fn from(store: Store) -> Self {
        Arc::new(store).into()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // See `compact`: a database that failed a write cannot be closed.
        let store = self.current.get_mut().unwrap_or_else(|p| p.into_inner());
        if store.is_poisoned() {
            std::mem::forget(Arc::clone(store));
        }
    }
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

impl SharedStore {
    /// The store, for one operation (don't keep it).
    pub fn get(&self) -> Arc<Store> {
        Arc::clone(&read(&self.inner.current))
    }

    /// The current store's [`Store::generation`], without taking a
    /// reference to the store (for a per-request cache check).
    pub fn generation(&self) -> u64 {
        read(&self.inner.current).generation()
    }

    /// Runs `write` on the current store. Blocks while a compaction runs:
    /// call it from a blocking thread.
    pub fn write<R>(&self, write: impl FnOnce(&Store) -> R) -> R {
        let _gate = read(&self.inner.writes);
        write(&self.get())
    }

    /// Copies the store into a fresh database and switches to it (see
    /// `compact`): disk use shrinks to the live data. A database that
    /// refuses writes since a failed one is replaced by a fresh open of a
    /// copy of its files instead (`Store::recover_into_next`). Writes wait
    /// for it; reads do not. Blocking: call it from a blocking thread.
    pub fn compact(&self) -> Result<CompactSummary, StoreError> {
        let _gate = self.inner.writes.write().unwrap_or_else(|p| p.into_inner());
        let old = self.get();
        let before = old.size_on_disk()?;
        let new = Arc::new(if old.is_poisoned() {
            old.recover_into_next()?
        } else {
            old.compact_into_next()?
        });
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::clone(&new);
        let after = new.size_on_disk()?;
        if old.is_poisoned() {
            // sled cannot close a database that failed a write: dropping it
            // waits forever for a flush, holding a lock every other sled
            // database in the process needs. Keep it open instead (its
            // cache and threads) until the process ends; the next start
            // removes its files.
            std::mem::forget(old);
            tracing::warn!(
                "the failed database stays open, unused, until tidings restarts (sled cannot close it); the next start removes its files"
            );
        } else {
            std::thread::Builder::new()
                .name("tidings-retired-store".into())
                .spawn(move || remove_when_unused(old))
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        Ok(CompactSummary {
            before,
            after,
            entries: new.entry_count() as u64,
        })
    }
}

/// Waits for the last reader of a retired store, then deletes its files.
fn remove_when_unused(mut old: Arc<Store>) {
    let deadline = Instant::now() + RETIRED_GRACE;
    let store = loop {
        match Arc::try_unwrap(old) {
            Ok(store) => break store,
            Err(still_shared) if Instant::now() < deadline => {
                old = still_shared;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => {
                tracing::warn!(
                    "the store's previous database is still in use after {}s; the next start removes it",
                    RETIRED_GRACE.as_secs()
                );
                return;
            }
        }
    };
    let dir = store.dir.clone();
    if let Err(e) = store.remove_retired() {
        tracing::warn!(
            "cannot remove the store's previous database at {}: {e}; the next start retries",
            dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ingest::tests::{fetch, item, t};

    #[test]
    fn writes_during_a_compaction_land_in_the_new_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let store = Store::open(&root, 1 << 20).unwrap();
        store.set_min_free(0);
        let shared = SharedStore::from(store);
        let story = |n: usize| {
            item(
                Some(&format!("g{n}")),
                None,
                &format!("Distinct headline number {n} on its own subject {n}"),
                "",
            )
        };
        shared.write(|s| fetch(s, "http://a.example/rss", &[story(0)], t(0)));
        let reader = shared.get();
        let writer = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for n in 1..200 {
                    shared.write(|s| fetch(s, "http://a.example/rss", &[story(n)], t(0)));
                }
            })
        };
        for _ in 0..3 {
            shared.compact().unwrap();
        }
        writer.join().unwrap();
        // A reader from before the swaps still reads the old database.
        assert!(reader.entry_count() >= 1);
        drop(reader);
        assert_eq!(shared.get().entry_count(), 200, "no write was lost");
        let reopened = {
            let path = root.clone();
            drop(shared);
            // The retired databases' files go once unused.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let gens = std::fs::read_dir(&path)
                    .unwrap()
                    .filter(|e| {
                        e.as_ref()
                            .unwrap()
                            .file_name()
                            .to_string_lossy()
                            .starts_with("gen-")
                    })
                    .count();
                if gens == 1 {
                    break Store::open(&path, 1 << 20).unwrap();
                }
                assert!(Instant::now() < deadline, "{gens} generations left");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        assert_eq!(reopened.entry_count(), 200);
    }
}
