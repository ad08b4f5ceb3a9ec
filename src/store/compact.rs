//! Compaction: rewriting the store into a fresh sled database, so its disk
//! use shrinks back to the live data — offline (`tidings compact`) or while
//! the daemon runs ([`super::SharedStore::compact`]).
//!
//! Why it is needed: sled 0.34 reclaims a log segment only once every page
//! in it is dead, and relocates live pages out of old segments only while
//! more than half of the file is already free. Under steady polling with
//! retention, long-lived records stay scattered over segments that are
//! otherwise garbage, so the file levels off at many times the live data
//! (`benches/retention` measures it): bounded, but wasteful. A rewrite
//! packs it tight. A store whose sled instance refuses writes since a
//! failed one (see `space`) moves to a new generation too, but as a copy of
//! its files opened afresh: sled recovers them the way it does after a
//! crash, while its memory may hold half of the transaction that failed.
//!
//! Layout: the configured store directory holds either the sled database
//! itself (a store never compacted), or generations `gen-1`, `gen-2`, …
//! and a `CURRENT` file naming the one in use. A compaction copies every
//! tree into the next generation, flushes it, and only then switches
//! `CURRENT` (written to a temporary file and renamed, so it is always
//! whole). A crash before the switch leaves the old generation current
//! and a partial new one, which the next open removes; after it, the old
//! one is removed. The old generation's files are deleted once no one
//! uses them any more.

use super::{Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Names the generation in use, relative to the store directory.
const CURRENT: &str = "CURRENT";
const GENERATION_PREFIX: &str = "gen-";
/// The files sled 0.34 keeps in its directory: what a store that was never
/// compacted leaves behind once it has moved into a generation.
const SLED_FILES: [&str; 3] = ["conf", "db", "blobs"];

/// Disk use before and after a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactSummary {
    pub before: u64,
    pub after: u64,
    /// Entries in the compacted store.
    pub entries: u64,
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

/// The sled directory in use under the store directory `root`.
pub(super) fn current_dir(root: &Path) -> Result<PathBuf, StoreError> {
    let pointer = root.join(CURRENT);
    match std::fs::read_to_string(&pointer) {
        Ok(name) => {
            let name = name.trim();
            if generation_of(name).is_none() {
                return Err(StoreError::Io(format!(
                    "{}: names no store generation ({name:?})",
                    pointer.display()
                )));
            }
            Ok(root.join(name))
        }
        // No pointer (or no directory yet: opening it says what is wrong).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(root.to_owned())
        }
        Err(e) => Err(io_error(&pointer, e)),
    }
}

fn generation_of(name: &str) -> Option<u64> {
    name.strip_prefix(GENERATION_PREFIX)?.parse().ok()
}

/// The directory the next compaction of `dir` (under `root`) writes to.
fn next_dir(root: &Path, dir: &Path) -> PathBuf {
    let n = dir
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|_| dir != root)
        .and_then(generation_of)
        .unwrap_or(0);
    root.join(format!("{GENERATION_PREFIX}{}", n + 1))
}

/// Makes `dir` the generation in use, atomically and durably.
fn switch_to(root: &Path, dir: &Path) -> Result<(), StoreError> {
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::Io(format!("{}: not a generation", dir.display())))?;
    let tmp = root.join("CURRENT.tmp");
    let pointer = root.join(CURRENT);
    (|| {
        std::fs::write(&tmp, format!("{name}\n"))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, &pointer)?;
        std::fs::File::open(root)?.sync_all()
    })()
    .map_err(|e| io_error(&pointer, e))
}

/// Copies the sled files of `dir` (a generation, or `root` itself) into
/// the new directory `to`, durably.
fn copy_files(root: &Path, dir: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_sled = dir != root || {
            let name = name.to_string_lossy();
            SLED_FILES.contains(&name.as_ref()) || name.starts_with("snap.")
        };
        if !is_sled {
            continue;
        }
        let (from, dest) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_files(&from, &from, &dest)?;
        } else {
            std::fs::copy(&from, &dest)?;
            std::fs::File::open(&dest)?.sync_all()?;
        }
    }
    std::fs::File::open(to)?.sync_all()
}

/// Deletes a sled directory no longer in use: a generation, or the files
/// of a never-compacted store in `root` itself.
pub(super) fn remove_dir(root: &Path, dir: &Path) -> std::io::Result<()> {
    if dir != root {
        return match std::fs::remove_dir_all(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if SLED_FILES.contains(&name.as_ref()) || name.starts_with("snap.") {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    Ok(())
}

/// Removes what is not the generation in use: leftovers of a compaction
/// cut short, or of one whose old generation was still open at a crash.
/// Called once the current generation is open (and so locked by us).
pub(super) fn remove_stale(root: &Path, current: &Path) -> std::io::Result<()> {
    if current != root {
        remove_dir(root, root)?;
    }
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        let is_generation = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(generation_of)
            .is_some();
        if is_generation && path != current {
            std::fs::remove_dir_all(&path)?;
        }
    }
    let _ = std::fs::remove_file(root.join("CURRENT.tmp"));
    Ok(())
}

impl Store {
    /// Copies every tree into the next generation, switches to it and
    /// returns it open. Writes wait meanwhile (the write guard is held), and
    /// this store refuses writes afterwards: it is retired, and its files
    /// go once it is dropped (see [`Store::remove_retired`]).
    pub(super) fn compact_into_next(&self) -> Result<Store, StoreError> {
        self.move_to_next_generation(|next| {
            self.db.flush()?;
            let records = self.copy_into(next)?;
            tracing::debug!(records, from = %self.dir.display(), to = %next.display(), "store copied");
            Ok(())
        })
    }

    /// Moves a store sled refuses to write to (see `space`) into the next
    /// generation: its files are copied as they are on disk and opened
    /// afresh, which recovers them the way a start after a crash does.
    /// (Its records are not copied from memory as [`compact_into_next`]
    /// does: a write that failed half-way may have left only part of a
    /// transaction there.) Needs room for a copy of the files.
    ///
    /// [`compact_into_next`]: Store::compact_into_next
    pub(super) fn recover_into_next(&self) -> Result<Store, StoreError> {
        self.move_to_next_generation(|next| {
            copy_files(&self.root, &self.dir, next).map_err(|e| io_error(next, e))
        })
    }

    /// Has `fill` write the next generation's directory, opens it, switches
    /// to it and retires this store, all under the write guard. A failure
    /// before the switch leaves this store as it was, in use.
    fn move_to_next_generation(
        &self,
        fill: impl FnOnce(&Path) -> Result<(), StoreError>,
    ) -> Result<Store, StoreError> {
        let _writing = self.write_guard();
        let next = next_dir(&self.root, &self.dir);
        if next.exists() {
            std::fs::remove_dir_all(&next).map_err(|e| io_error(&next, e))?;
        }
        let opened =
            fill(&next).and_then(|()| Store::open_dir(&self.root, &next, self.cache_bytes));
        let store = match opened {
            Ok(store) => store,
            Err(e) => {
                // Drop the partial copy (e.g. the disk had no room for it).
                let _ = std::fs::remove_dir_all(&next);
                return Err(e);
            }
        };
        switch_to(&self.root, &next)?;
        store.set_min_free(self.space.reserve());
        // Caches keyed by the generation must not mistake the new store's
        // pages for older ones.
        store
            .generation
            .store(self.generation() + 1, Ordering::Release);
        self.space.retire();
        Ok(store)
    }

    /// Copies every tree into a new database at `path`; returns the
    /// records copied.
    fn copy_into(&self, path: &Path) -> Result<u64, StoreError> {
        let target = super::open_sled(&sled::Config::new().path(path)).map_err(|source| {
            StoreError::Open {
                path: path.to_owned(),
                source,
            }
        })?;
        let mut records = 0u64;
        for name in self.db.tree_names() {
            let from = self.db.open_tree(&name)?;
            let to = target.open_tree(&name)?;
            let mut batch = sled::Batch::default();
            let mut in_batch = 0;
            for record in from.iter() {
                let (key, value) = record?;
                batch.insert(key, value);
                in_batch += 1;
                records += 1;
                if in_batch == 10_000 {
                    to.apply_batch(std::mem::take(&mut batch))?;
                    in_batch = 0;
                }
            }
            to.apply_batch(batch)?;
        }
        target.flush()?;
        Ok(records)
    }

    /// Deletes a retired store's files, once this last handle to it goes.
    pub(super) fn remove_retired(self) -> std::io::Result<()> {
        let (root, dir) = (self.root.clone(), self.dir.clone());
        drop(self);
        remove_dir(&root, &dir)
    }

    /// `tidings compact`: rewrites the store in directory `root` (not in
    /// use by anyone else: sled's lock makes sure).
    pub fn compact(
        root: &Path,
        cache_bytes: u64,
        min_free: u64,
    ) -> Result<CompactSummary, StoreError> {
        let old = Store::open(root, cache_bytes)?;
        old.set_min_free(min_free);
        old.write_allowed()?;
        let before = old.size_on_disk()?;
        let new = old.compact_into_next()?;
        old.remove_retired().map_err(|e| io_error(root, e))?;
        Ok(CompactSummary {
            before,
            after: new.size_on_disk()?,
            entries: new.entry_count() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RetentionPolicy;
    use crate::store::ingest::tests::{fetch, item, t};

    /// A store that has seen many fetches and prunes: lots of dead pages.
    fn churned(path: &Path) -> (usize, Vec<(&'static str, usize, u64)>) {
        let store = Store::open(path, 1 << 20).unwrap();
        store.set_min_free(0);
        let policy = RetentionPolicy {
            max_age: None,
            max_entries_per_feed: Some(20),
        };
        for round in 0..60 {
            let items: Vec<_> = (0..20)
                .map(|i| {
                    let n = round * 20 + i;
                    item(
                        Some(&format!("g{n}")),
                        Some(&format!("http://a.example/{n}")),
                        &format!("Story number {n} about something else entirely {n}"),
                        &"a long summary of the story ".repeat(20),
                    )
                })
                .collect();
            fetch(&store, "http://a.example/rss", &items, t(round as i64));
            store.prune(&policy, t(round as i64)).unwrap();
            store.flush().unwrap();
        }
        (store.entry_count(), store.live_data().unwrap())
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn compaction_keeps_every_record_and_shrinks_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let (entries, live) = churned(&root);
        let first = Store::compact(&root, 1 << 20, 0).unwrap();
        assert!(first.after < first.before, "{first:?}");
        assert_eq!(names(&root), ["CURRENT", "gen-1"], "the old files are gone");
        // Again, from a generation to the next.
        let second = Store::compact(&root, 1 << 20, 0).unwrap();
        assert_eq!(second.entries, first.entries);
        assert_eq!(names(&root), ["CURRENT", "gen-2"]);
        let store = Store::open(&root, 1 << 20).unwrap();
        assert_eq!(store.entry_count(), entries);
        assert_eq!(store.live_data().unwrap(), live, "same records, same bytes");
    }

    #[test]
    fn a_compaction_cut_short_leaves_the_old_store_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let (entries, live) = churned(&root);
        // A crash mid-copy: a partial next generation, CURRENT unchanged.
        std::fs::create_dir_all(root.join("gen-1")).unwrap();
        std::fs::write(root.join("gen-1/db"), b"partial").unwrap();
        let store = Store::open(&root, 1 << 20).unwrap();
        assert_eq!(store.entry_count(), entries);
        assert_eq!(store.live_data().unwrap(), live);
        assert!(!root.join("gen-1").exists(), "the partial copy is removed");
    }

    #[test]
    fn a_crash_after_the_switch_finishes_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let (entries, _) = churned(&root);
        {
            let old = Store::open(&root, 1 << 20).unwrap();
            let _new = old.compact_into_next().unwrap();
            // Both dropped without removing the old files: a crash.
        }
        assert!(root.join("db").exists() && root.join("CURRENT").exists());
        let store = Store::open(&root, 1 << 20).unwrap();
        assert_eq!(store.entry_count(), entries);
        assert_eq!(names(&root), ["CURRENT", "gen-1"]);
    }

    #[test]
    fn a_retired_store_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        churned(&root);
        let old = Store::open(&root, 1 << 20).unwrap();
        old.set_min_free(0);
        let new = old.compact_into_next().unwrap();
        let state = crate::model::FeedState::new("http://refused.example/rss");
        let err = old.save_feed_state(&state).unwrap_err();
        assert!(err.to_string().contains("compacted"), "{err}");
        // Refused, not written to either: the old files are about to go.
        for store in [&old, &new] {
            let states = store.feed_states().unwrap();
            assert!(!states.iter().any(|s| s.url == state.url), "{states:?}");
        }
    }
}
