//! What each feed's last stored fetch listed: a fingerprint of every item
//! (its keys and its text) and the live entry it is. A feed that changed
//! lists one new item and repeats the rest; the repeated ones are settled
//! here without reading their aliases and entries back from sled (about
//! three reads and a decode each, most of storing such a fetch).
//!
//! Only memory, never persisted: after a restart the first fetch of each
//! feed is checked against the store in full. It is sound because a feed's
//! aliases and entries change only through its own fetches (which replace
//! its memory here) and through retention (which clears all of it);
//! items that resolved to a tombstone are never remembered, so pruned
//! entries keep having their tombstones refreshed.

use crate::model::{EntryId, FeedId};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

use super::ingest::Incoming;

/// By feed: the fingerprints of its last fetch's items, sorted, with the
/// entry each one is.
#[derive(Default)]
pub(super) struct LastFetch {
    by_feed: HashMap<FeedId, Box<[(u64, EntryId)]>>,
}

impl LastFetch {
    /// Takes the feed's memory out (the fetch about to be stored replaces
    /// it, and a failed one must not leave it behind).
    pub fn take(&mut self, feed: FeedId) -> Remembered {
        Remembered(self.by_feed.remove(&feed).unwrap_or_default())
    }

    /// Remembers what a fetch of `feed` was stored as.
    pub fn remember(&mut self, feed: FeedId, mut items: Vec<(u64, EntryId)>) {
        if items.is_empty() {
            return;
        }
        items.sort_unstable();
        self.by_feed.insert(feed, items.into_boxed_slice());
    }

    /// Forgets every feed (retention changed which entries are live).
    pub fn clear(&mut self) {
        self.by_feed = HashMap::new();
    }
}

/// One feed's last fetch, as [`LastFetch::take`] hands it out.
pub(super) struct Remembered(Box<[(u64, EntryId)]>);

impl Remembered {
    /// The live entry an item with this fingerprint was stored as, if the
    /// last fetch listed it.
    pub fn get(&self, fingerprint: u64) -> Option<EntryId> {
        let i = self
            .0
            .binary_search_by_key(&fingerprint, |(f, _)| *f)
            .ok()?;
        Some(self.0[i].1)
    }
}

/// Everything about an item that storing it reads: its identity (every key,
/// the guid flag, the link key) and its text as `Entry::merged_with`
/// compares it. Dates are left out, as there: storing an item again with
/// only new dates changes nothing.
pub(super) fn fingerprint(item: &Incoming) -> u64 {
    let id = &item.identity;
    let mut hasher = Sha256::new();
    hasher.update(id.id.0);
    hasher.update([u8::from(id.has_guid)]);
    let text = |hasher: &mut Sha256, t: &str| {
        hasher.update((t.len() as u64).to_le_bytes());
        hasher.update(t.as_bytes());
    };
    hasher.update((id.keys().count() as u64).to_le_bytes());
    for k in id.keys() {
        text(&mut hasher, k);
    }
    match &id.link_key {
        Some(link) => {
            hasher.update([1]);
            text(&mut hasher, link);
        }
        None => hasher.update([0]),
    }
    hasher.update(item.entry.content_fingerprint());
    let digest = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(out)
}
