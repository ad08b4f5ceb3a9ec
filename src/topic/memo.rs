//! Which topics took each stored entry, remembered across requests.
//!
//! Serving matches topics over the stored history at request time, and a
//! selective topic scans the whole store. Indexing an entry costs far more
//! than reading it, so verdicts are kept per entry id and a hash of the
//! text topics read (an edited entry is judged again), for one set of
//! topics and feed details: any change to those (a config reload, a feed
//! renaming itself) starts a fresh memory, which keeps topics retroactive.

use super::key::{TextBuild, TextHasher};
use crate::model::{Entry, EntryId};
use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::{LazyLock, Mutex};

/// Past this many entries the memory is dropped and refilled (about 40 MB).
const MEMO_ENTRIES: usize = 1_000_000;

/// Topics per verdict: one bit each.
pub const MAX_TOPICS: usize = 64;

/// Verdicts for one fingerprint of topics and feed details.
pub struct Memo {
    inner: Mutex<Verdicts>,
}

struct Verdicts {
    /// Fingerprint of the topics and feed details the verdicts hold for.
    key: u64,
    taken: HashMap<Slot, u64, TextBuild>,
}

/// The memory serving uses, shared by all requests.
pub static SHARED: LazyLock<Memo> = LazyLock::new(Memo::default);

impl Default for Memo {
    fn default() -> Memo {
        Memo {
            inner: Mutex::new(Verdicts {
                key: 0,
                taken: HashMap::default(),
            }),
        }
    }
}

/// Where one version of an entry's verdicts are kept: its id and a hash of
/// everything of it a topic may read. Worked out before the memory is
/// locked, as hashing an entry's text takes far longer than a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot(EntryId, u64);

impl Slot {
    pub fn of(entry: &Entry) -> Slot {
        let mut h = TextHasher::default();
        let mut field = |s: &str| {
            h.write(s.as_bytes());
            h.write_u8(0xff); // not in UTF-8: fields cannot run together
        };
        field(&entry.title);
        field(entry.summary.as_deref().unwrap_or(""));
        field(entry.content.as_deref().unwrap_or(""));
        entry.categories.iter().for_each(|c| field(c));
        field("");
        entry.authors.iter().for_each(|a| field(a));
        field(entry.language.as_deref().unwrap_or(""));
        Slot(entry.id, h.finish())
    }
}

impl Memo {
    /// The remembered verdicts on `entry` (bit i: topic i took it), if the
    /// memory holds verdicts for `key`.
    pub fn recall(&self, key: u64, slot: Slot) -> Option<u64> {
        let memo = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if memo.key != key {
            return None;
        }
        memo.taken.get(&slot).copied()
    }

    /// Remembers the verdicts on `entry` for `key`, forgetting verdicts
    /// made for any other key.
    pub fn remember(&self, key: u64, slot: Slot, taken: u64) {
        let mut memo = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if memo.key != key || memo.taken.len() >= MEMO_ENTRIES {
            memo.key = key;
            memo.taken.clear();
        }
        memo.taken.insert(slot, taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FeedId;

    fn entry(id: u8, title: &str) -> Entry {
        let t = chrono::Utc::now();
        Entry {
            id: EntryId([id; 16]),
            feed: FeedId(1),
            identity: String::new(),
            ..Entry::bare("http://a.example/", "", title, t)
        }
    }

    #[test]
    fn verdicts_hold_for_one_key_and_one_version_of_an_entry() {
        let memo = Memo::default();
        let key = 0x5eed;
        let e = entry(7, "Russia and China");
        let slot = |e: &Entry| Slot::of(e);
        assert_eq!(memo.recall(key, slot(&e)), None);
        memo.remember(key, slot(&e), 0b101);
        assert_eq!(memo.recall(key, slot(&e)), Some(0b101));
        // An edited entry is judged again; a copy of the same text is not.
        assert_eq!(memo.recall(key, slot(&entry(7, "Russia, China"))), None);
        let copy = entry(7, "Russia and China");
        assert_eq!(memo.recall(key, slot(&copy)), Some(0b101));
        assert_eq!(memo.recall(key, slot(&entry(8, "Russia and China"))), None);
        // Other topics or feed details: nothing is remembered.
        assert_eq!(memo.recall(key + 1, slot(&e)), None);
        memo.remember(key + 1, slot(&e), 0b1);
        assert_eq!(memo.recall(key, slot(&e)), None);
    }
}
