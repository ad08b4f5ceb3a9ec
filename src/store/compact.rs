//! Compaction: rewriting the store into a fresh directory, so its disk use
//! shrinks back to the live data.
//!
//! Why it is needed: sled 0.34 reclaims a log segment only once every page
//! in it is dead, and relocates live pages out of old segments only while
//! more than half of the file is already free. Under steady polling with
//! retention, long-lived records (feed states, identity aliases,
//! tombstones) stay scattered over segments that are otherwise garbage, so
//! the file levels off at many times the live data (`benches/retention`
//! measures it) — bounded, but wasteful. A rewrite packs it tight.
//!
//! How it stays safe: the copy is written to `<store>.compacting` and
//! flushed; then the old store is renamed to `<store>.before-compact`, the
//! copy to `<store>`, and the old one removed. A crash between the two
//! renames leaves no `<store>` but a complete copy, which
//! [`finish_interrupted`] (run by every `Store::open`) moves into place.
//! The store must not be in use: sled's lock on the directory makes sure.

use super::{Store, StoreError, open_sled};
use std::path::{Path, PathBuf};

/// Disk use before and after a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactSummary {
    pub before: u64,
    pub after: u64,
    pub records: u64,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn copy_path(path: &Path) -> PathBuf {
    sibling(path, ".compacting")
}

fn old_path(path: &Path) -> PathBuf {
    sibling(path, ".before-compact")
}

/// Completes a compaction that a crash interrupted between its renames.
pub(super) fn finish_interrupted(path: &Path) -> std::io::Result<()> {
    let (copy, old) = (copy_path(path), old_path(path));
    if !path.exists() && copy.exists() && old.exists() {
        // The copy was complete and flushed before the first rename.
        std::fs::rename(&copy, path)?;
    }
    if path.exists() && old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

impl Store {
    /// Rewrites the store at `path` compactly (see the module docs).
    pub fn compact(
        path: &Path,
        cache_bytes: u64,
        min_free: u64,
    ) -> Result<CompactSummary, StoreError> {
        let copy = copy_path(path);
        let (before, records) = {
            let store = Store::open(path, cache_bytes)?;
            store.set_min_free(min_free);
            store.write_allowed()?;
            let before = store.size_on_disk()?;
            // Leftovers of a compaction that failed before its renames.
            if copy.exists() {
                std::fs::remove_dir_all(&copy).map_err(|e| io_error(&copy, e))?;
            }
            match store.copy_into(&copy) {
                Ok(records) => (before, records),
                Err(e) => {
                    // The store itself is untouched; drop the partial copy
                    // (e.g. the disk had no room for it).
                    let _ = std::fs::remove_dir_all(&copy);
                    return Err(e);
                }
            }
            // The store closes here, releasing its lock.
        };
        let old = old_path(path);
        std::fs::rename(path, &old).map_err(|e| io_error(path, e))?;
        std::fs::rename(&copy, path).map_err(|e| io_error(&copy, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| io_error(&old, e))?;
        sync_parent(path)?;
        let after = Store::open(path, cache_bytes)?.size_on_disk()?;
        Ok(CompactSummary {
            before,
            after,
            records,
        })
    }
}

impl Store {
    /// Copies every tree into a new database at `path`; returns the
    /// records copied.
    fn copy_into(&self, path: &Path) -> Result<u64, StoreError> {
        let target =
            open_sled(&sled::Config::new().path(path)).map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
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
}

/// Makes the renames durable.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| io_error(parent, e))
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RetentionPolicy;
    use crate::store::ingest::tests::{fetch, item, t};

    /// A store that has seen many fetches and prunes: lots of dead pages.
    fn churned(path: &Path) -> (usize, Vec<(&'static str, usize, u64)>) {
        let store = Store::open(path, 1 << 20).unwrap();
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

    #[test]
    fn compaction_keeps_every_record_and_shrinks_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let (entries, live) = churned(&path);
        let summary = Store::compact(&path, 1 << 20, 0).unwrap();
        assert!(
            summary.after < summary.before,
            "{} → {}",
            summary.before,
            summary.after
        );
        let store = Store::open(&path, 1 << 20).unwrap();
        assert_eq!(store.entry_count(), entries);
        assert_eq!(store.live_data().unwrap(), live, "same records, same bytes");
        assert!(!copy_path(&path).exists() && !old_path(&path).exists());
    }

    #[test]
    fn a_compaction_cut_off_between_its_renames_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let (entries, _) = churned(&path);
        // Simulate the crash: a complete copy, the old store set aside.
        {
            let store = Store::open(&path, 1 << 20).unwrap();
            store.backup(&dir.path().join("b")).unwrap();
        }
        Store::restore(&dir.path().join("b"), &copy_path(&path), 1 << 20).unwrap();
        std::fs::rename(&path, old_path(&path)).unwrap();

        let store = Store::open(&path, 1 << 20).unwrap();
        assert_eq!(store.entry_count(), entries);
        assert!(!copy_path(&path).exists() && !old_path(&path).exists());
    }
}
