//! The dedup state of the store: which keys name which entry of a feed, the
//! tombstones of pruned entries, and which entries are copies of one story.
//!
//! Two trees, keys prefixed by record kind:
//! - `identities`
//!   - `a` · [`FeedId`] · hash(identity key) → [`Alias`]: every guid, link
//!     and content key a feed has used for an entry (see `dedup::resolve`)
//!   - `t` · [`EntryId`] → [`Tombstone`]: a pruned entry, kept so that the
//!     feed listing it again does not bring it back
//! - `stories`
//!   - `e` · [`EntryId`] → [`StoryRecord`]: the entry's story, sketch, keys
//!   - `s` · story id · [`EntryId`] → `()`: the entries of a story of
//!     several, one key each (a story of one entry has none)
//!   - `h` · hash(link comparison key) · first-stored time · [`EntryId`] →
//!     `()`: entries by link, earliest first
//!
//! One key per member, not one list per story: a story carried by
//! thousands of feeds would otherwise rewrite (and re-read) its whole list
//! for every copy, quadratic in its copies. Transactions cannot scan, so
//! what a fetch needs from these ranges (the earliest entry with a link) is
//! read just before its transaction, under the store's write lock (see
//! `ingest::Scan`).
//!
//! The LSH index of recent sketches, where a new entry finds candidates for
//! near-duplicates, is kept in memory and rebuilt from the records at open
//! (see `band_index`).
//!
//! Written only inside the store's fetch transaction (see `ingest`) and by
//! retention; read by serving through [`Store::story_page`].

use super::{Cursor, Store, StoreError, codec};
use crate::dedup::sketch::Sketch;
use crate::model::{Entry, EntryId, FeedId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The 16-byte hash identity keys and links are stored under.
pub type KeyHash = [u8; 16];

pub fn key_hash(text: &str) -> KeyHash {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// What a remembered identity key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    pub entry: EntryId,
    /// The entry is known by a guid of its own.
    pub has_guid: bool,
}

/// A pruned entry: its keys stay remembered (so the feed's next listing of
/// it resolves here and is ignored) until the feed has not listed it for
/// `retention::TOMBSTONE_TTL`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    pub feed: FeedId,
    #[serde(with = "chrono::serde::ts_microseconds")]
    pub pruned_at: DateTime<Utc>,
    /// The last time a fetch listed it.
    #[serde(with = "chrono::serde::ts_microseconds")]
    pub last_seen: DateTime<Utc>,
    pub keys: Vec<KeyHash>,
}

/// An entry's place among stories.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoryRecord {
    pub feed: FeedId,
    /// The story (cluster) it belongs to: the id of the story's first entry.
    pub story: EntryId,
    /// When the entry was first stored: the time copies are compared by
    /// (publishers' dates can be missing or wrong — a scraper stamps every
    /// item 1970-01-01).
    #[serde(with = "chrono::serde::ts_microseconds")]
    pub at: DateTime<Utc>,
    pub sketch: Sketch,
    /// Hash of its link's comparison key, when the link is an identity.
    pub link: Option<KeyHash>,
    /// Hashes of every identity key that names it.
    pub keys: Vec<KeyHash>,
    pub has_guid: bool,
    /// Identified by its text alone (no usable guid or link).
    pub content_keyed: bool,
    /// Its text recurred under another id of its feed (`cluster::Placement`).
    pub recurring: bool,
}

pub mod key {
    //! Byte layouts (big-endian, fixed width after the one-byte kind).
    use super::KeyHash;
    use crate::model::{EntryId, FeedId};
    use chrono::{DateTime, Utc};

    pub fn alias(feed: FeedId, key: &KeyHash) -> [u8; 25] {
        let mut k = [0u8; 25];
        k[0] = b'a';
        k[1..9].copy_from_slice(&feed.to_bytes());
        k[9..].copy_from_slice(key);
        k
    }

    pub fn tombstone(id: EntryId) -> [u8; 17] {
        tagged(b't', &id.0)
    }

    pub const TOMBSTONES: &[u8] = b"t";

    pub fn record(id: EntryId) -> [u8; 17] {
        tagged(b'e', &id.0)
    }

    /// Where the member keys of `story` begin.
    pub fn members(story: EntryId) -> [u8; 17] {
        tagged(b's', &story.0)
    }

    pub fn member(story: EntryId, entry: EntryId) -> [u8; 33] {
        let mut k = [0u8; 33];
        k[..17].copy_from_slice(&members(story));
        k[17..].copy_from_slice(&entry.0);
        k
    }

    /// The entry a member key names.
    pub fn member_of_key(k: &[u8]) -> Option<EntryId> {
        Some(EntryId(k.get(17..33)?.try_into().ok()?))
    }

    /// Where the keys of entries with the link `hash` begin.
    pub fn links(hash: &KeyHash) -> [u8; 17] {
        tagged(b'h', hash)
    }

    /// An entry with the link `hash`, first stored `at`: entries of one
    /// link sort earliest first.
    pub fn link(hash: &KeyHash, at: DateTime<Utc>, entry: EntryId) -> [u8; 41] {
        let mut k = [0u8; 41];
        k[..17].copy_from_slice(&links(hash));
        k[17..25].copy_from_slice(&crate::store::keys::time_prefix(at));
        k[25..].copy_from_slice(&entry.0);
        k
    }

    /// The first-stored time part and the entry of a link key.
    pub fn linked_of_key(k: &[u8]) -> Option<([u8; 8], EntryId)> {
        Some((
            k.get(17..25)?.try_into().ok()?,
            EntryId(k.get(25..41)?.try_into().ok()?),
        ))
    }

    /// Schema 2 kept one list per story (`m` · story → `Vec<EntryId>`) and
    /// per link (`l` · hash → `Vec<EntryId>`); see `migrate`.
    pub mod legacy {
        pub const MEMBERS: &[u8] = b"m";
        pub const LINKS: &[u8] = b"l";
    }

    fn tagged(tag: u8, bytes: &[u8; 16]) -> [u8; 17] {
        let mut k = [0u8; 17];
        k[0] = tag;
        k[1..].copy_from_slice(bytes);
        k
    }
}

/// A story as served: its first entry, with the other copies.
#[derive(Clone, Debug)]
pub struct StoryView {
    /// The story's stable id (its first entry's id).
    pub id: EntryId,
    /// The earliest version.
    pub entry: Entry,
    /// The other copies, oldest first.
    pub copies: Vec<Entry>,
}

impl Store {
    /// An entry's place among stories (`None` for an entry stored before
    /// stories existed and not migrated, which cannot happen after `open`).
    pub fn story_record(&self, id: EntryId) -> Result<Option<StoryRecord>, StoreError> {
        self.stories
            .get(key::record(id))?
            .map(|v| codec::decode(&v))
            .transpose()
            .map_err(Into::into)
    }

    /// The ids of a story's entries (none for a story of one entry).
    pub fn story_members(&self, story: EntryId) -> Result<Vec<EntryId>, StoreError> {
        let mut ids = Vec::new();
        for k in self.stories.scan_prefix(key::members(story)).keys() {
            ids.extend(key::member_of_key(&k?));
        }
        Ok(ids)
    }

    /// The earliest-stored entry with the link `hash` other than `except`
    /// (the lowest story id among equals, as `cluster::place` orders
    /// them). A range read: not possible inside a transaction.
    pub(super) fn first_linked(
        &self,
        hash: &KeyHash,
        except: EntryId,
    ) -> Result<Option<EntryId>, StoreError> {
        // Entries stored at the same instant (one fetch) share their story
        // almost always, so a few of them decide it.
        const TIES: usize = 8;
        let mut first: Option<([u8; 8], EntryId, EntryId)> = None;
        let keys = self.stories.scan_prefix(key::links(hash)).keys();
        for k in keys.take(TIES + 1) {
            let k = k?;
            let Some((at, id)) = key::linked_of_key(&k) else {
                continue;
            };
            if id == except {
                continue;
            }
            match &first {
                Some((first_at, ..)) if at != *first_at => break,
                _ => {}
            }
            // Ties in time are rare (one fetch listing a link twice) but
            // must resolve as the placement rule does: by story.
            let Some(record) = self.story_record(id)? else {
                continue;
            };
            if first
                .as_ref()
                .is_none_or(|(_, _, story)| record.story < *story)
            {
                first = Some((at, id, record.story));
            }
        }
        Ok(first.map(|(_, id, _)| id))
    }

    /// One page of stories in the newest-first order of entries, each
    /// story once, where its first entry sorts (so archive pages stay put
    /// as copies arrive): up to `limit` stories after `before`, shown when
    /// `keep` accepts one of their entries, and where the next page starts
    /// when this one is full. A scan: call it from a blocking thread.
    pub fn story_page(
        &self,
        limit: usize,
        before: Option<&Cursor>,
        mut keep: impl FnMut(&Entry) -> bool,
    ) -> Result<StoryPage, StoreError> {
        let mut page = StoryPage {
            stories: Vec::with_capacity(limit.min(1024)),
            next: None,
        };
        if limit == 0 {
            return Ok(page);
        }
        for found in self.newest_first(before) {
            let (key, entry) = found?;
            let Some(story) = self.story_of(entry)? else {
                continue;
            };
            let mut kept = false;
            for e in std::iter::once(&story.entry).chain(&story.copies) {
                kept |= keep(e);
            }
            if kept {
                page.stories.push(story);
                if page.stories.len() == limit {
                    page.next = Cursor::from_key(&key);
                    break;
                }
            }
        }
        Ok(page)
    }

    /// The story `entry` anchors, or `None` when it is a later copy (its
    /// story is shown where its first entry sorts). The first entry is the
    /// story's founder, or after retention removed that, the earliest copy
    /// left.
    fn story_of(&self, entry: Entry) -> Result<Option<StoryView>, StoreError> {
        let id = entry.id;
        let story = self.story_record(id)?.map_or(id, |r| r.story);
        // A later copy whose founder is still stored is shown with the
        // founder. Told without reading the members: a walk through a big
        // story's copies would read them all again at every copy.
        if story != id && self.entries.contains_key(story.0)? {
            return Ok(None);
        }
        let members = self.story_members(story)?;
        if members.iter().all(|m| *m == id) {
            return Ok(Some(StoryView {
                id: story,
                entry,
                copies: Vec::new(),
            }));
        }
        let mut entries = vec![entry];
        for m in members.into_iter().filter(|m| *m != id) {
            entries.extend(self.entry(m)?);
        }
        let first_key = super::keys::time_key(&entries[0]);
        let anchor = story == id
            || entries[1..]
                .iter()
                .all(|e| super::keys::time_key(e) > first_key);
        if !anchor {
            return Ok(None);
        }
        let mut entries = entries.into_iter();
        let Some(first) = entries.next() else {
            return Ok(None);
        };
        let mut copies: Vec<Entry> = entries.collect();
        copies.sort_by_key(super::keys::time_key);
        Ok(Some(StoryView {
            id: story,
            entry: first,
            copies,
        }))
    }
}

/// One page of stories and where the next one starts.
#[derive(Debug)]
pub struct StoryPage {
    pub stories: Vec<StoryView>,
    pub next: Option<Cursor>,
}
