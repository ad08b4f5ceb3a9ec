//! The data model every pipeline stage shares: feed and entry identities,
//! the stored [`Entry`], and the per-feed [`FeedState`].
//!
//! Identities are derived, never random: a [`FeedId`] is a hash of the feed's
//! configured URL and an [`EntryId`] a hash of that URL plus the entry's
//! identity key (see `dedup`). The same story therefore keeps the same id
//! across polls, restarts and re-installs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Stable identity of a configured feed: the first 8 bytes of SHA-256 over
/// its configured URL. The configured URL is the identity even when the feed
/// later redirects elsewhere.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeedId(pub u64);

impl FeedId {
    pub fn for_url(url: &str) -> FeedId {
        let digest = Sha256::digest(url.as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        FeedId(u64::from_be_bytes(bytes))
    }

    pub fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

impl fmt::Debug for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedId({:016x})", self.0)
    }
}

/// Stable identity of a stored entry: 16 bytes of SHA-256 over the feed's
/// configured URL and the entry's identity key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EntryId(pub [u8; 16]);

impl EntryId {
    pub fn derive(feed_url: &str, identity_key: &str) -> EntryId {
        let mut hasher = Sha256::new();
        hasher.update(feed_url.as_bytes());
        hasher.update([0u8]);
        hasher.update(identity_key.as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        EntryId(bytes)
    }

    /// Parses the 32-hex-digit form (with or without dashes, or as a
    /// `urn:uuid:` URN) that [`EntryId::urn`] and `Display` produce.
    pub fn parse(text: &str) -> Option<EntryId> {
        let text = text.strip_prefix("urn:uuid:").unwrap_or(text);
        let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
        if hex.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, pair) in hex.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok()?;
            bytes[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(EntryId(bytes))
    }

    /// The id as an RFC 4122-shaped `urn:uuid:` IRI (version 8, "custom"), the
    /// form feed readers handle best for Atom `<id>`.
    pub fn urn(&self) -> String {
        let mut b = self.0;
        b[6] = (b[6] & 0x0f) | 0x80; // version 8
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let h = hex(&b);
        format!(
            "urn:uuid:{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryId({self})")
    }
}

/// The current time at the store's precision (microseconds), so a value
/// compares equal to itself after a round trip through the store.
pub fn now() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// One story as stored and served. Built by `normalize` + `dedup`, written
/// only by `store`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EntryId,
    pub feed: FeedId,
    /// The identity key the id was derived from, e.g. `guid:…`, `link:…`,
    /// `content:…` (kept for `explain` and debugging).
    pub identity: String,
    /// Absolute link to the story as the publisher gave it.
    pub link: Option<String>,
    /// Plain text, never HTML.
    pub title: String,
    /// Sanitized-for-XML HTML.
    pub summary: Option<String>,
    /// Sanitized-for-XML HTML.
    pub content: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub language: Option<String>,
    /// What the publisher says, if anything.
    #[serde(with = "chrono::serde::ts_microseconds_option")]
    pub published: Option<DateTime<Utc>>,
    /// When we first stored the entry.
    #[serde(with = "chrono::serde::ts_microseconds")]
    pub first_seen: DateTime<Utc>,
    /// The entry's `updated` as served: moves forward whenever the story's
    /// text changes, never backwards.
    #[serde(with = "chrono::serde::ts_microseconds")]
    pub updated: DateTime<Utc>,
}

/// A bare entry for unit tests: the feed at `feed_url`, identity `key`,
/// seen and updated at `at`, nothing else; a test sets what it needs with
/// struct update syntax.
#[cfg(test)]
impl Entry {
    pub(crate) fn bare(feed_url: &str, key: &str, title: &str, at: DateTime<Utc>) -> Entry {
        Entry {
            id: EntryId::derive(feed_url, key),
            feed: FeedId::for_url(feed_url),
            identity: key.into(),
            link: None,
            title: title.into(),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            language: None,
            published: None,
            first_seen: at,
            updated: at,
        }
    }
}

impl Entry {
    /// The time the entry sorts by (newest first) in every served feed.
    /// Publisher dates in the future (bad clocks, wrong time zones) fall back
    /// to the time we first saw the entry, so they cannot pin an entry to
    /// the top of a feed. This never changes after the first store, so the
    /// time index key of an entry is stable.
    pub fn sort_time(&self) -> DateTime<Utc> {
        match self.published {
            Some(p) if p <= self.first_seen => p,
            _ => self.first_seen,
        }
    }

    /// What storing `incoming` (the same story, fetched again) over `self`
    /// yields: `None` when nothing a reader sees changed (the stored entry
    /// stays untouched), else the updated entry, which keeps its id and
    /// first-seen time and whose `updated` moves forward.
    pub fn merged_with(&self, incoming: Entry) -> Option<Entry> {
        if self.content_fingerprint() == incoming.content_fingerprint() {
            return None;
        }
        let updated = incoming.updated.max(self.updated);
        // A change the publisher did not date still moves `updated`, or
        // readers would never notice it.
        let updated = if updated == self.updated {
            incoming.first_seen.max(self.updated)
        } else {
            updated
        };
        Some(Entry {
            first_seen: self.first_seen,
            updated,
            ..incoming
        })
    }

    /// A fingerprint of everything a reader would see as the story's text.
    /// Dates are left out on purpose: many feeds stamp every item with the
    /// fetch time, which must not count as an update.
    pub fn content_fingerprint(&self) -> [u8; 16] {
        let mut hasher = Sha256::new();
        let mut field = |s: &str| {
            hasher.update((s.len() as u64).to_le_bytes());
            hasher.update(s.as_bytes());
        };
        field(&self.title);
        field(self.link.as_deref().unwrap_or(""));
        field(self.summary.as_deref().unwrap_or(""));
        field(self.content.as_deref().unwrap_or(""));
        for a in &self.authors {
            field(a);
        }
        field("\u{1}");
        for c in &self.categories {
            field(c);
        }
        let digest = hasher.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        out
    }
}

/// Everything tidings remembers about one configured feed between polls.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedState {
    /// The configured URL: the feed's identity.
    pub url: String,
    /// The feed's own title as last fetched.
    pub title: Option<String>,
    /// The feed's web page (`<link>` of the channel), if any.
    pub site_link: Option<String>,
    pub language: Option<String>,
    /// HTTP validators exactly as the server last sent them.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// SHA-256 prefix of the last body parsed, to skip re-parsing identical
    /// bodies from servers that ignore conditional requests.
    pub body_hash: Option<[u8; 16]>,
    #[serde(with = "chrono::serde::ts_microseconds_option")]
    pub last_fetch: Option<DateTime<Utc>>,
    #[serde(with = "chrono::serde::ts_microseconds_option")]
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    #[serde(with = "chrono::serde::ts_microseconds_option")]
    pub next_due: Option<DateTime<Utc>>,
    /// Entries stored for this feed (maintained by the store).
    pub entry_count: u64,
    /// Where the feed is polled instead of `url`: the target of a permanent
    /// redirect seen on several consecutive polls (see `poll`).
    pub adopted_url: Option<String>,
    /// A permanent redirect target seen on the latest polls, and on how many
    /// consecutive polls it was seen.
    pub pending_redirect: Option<(String, u32)>,
    /// Set when the server answered `410 Gone`; cleared by any success.
    #[serde(with = "chrono::serde::ts_microseconds_option")]
    pub gone_since: Option<DateTime<Utc>>,
    /// Polls attempted, and how many of them were answered `304`.
    pub polls: u64,
    pub not_modified: u64,
    /// What the feed itself says about when to poll it, from its last parsed
    /// body (kept because a `304` has no body to read them from).
    pub hints: PublisherHints,
}

/// Scheduling hints a feed document carries: RSS `<ttl>`,
/// `sy:updatePeriod`/`sy:updateFrequency`, `<skipHours>`, `<skipDays>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublisherHints {
    /// The longest of `<ttl>` and the syndication module's period, in seconds.
    pub min_interval_secs: Option<u64>,
    /// Bit `h` set: do not poll during hour `h` (UTC), per `<skipHours>`.
    pub skip_hours: u32,
    /// Bit `d` set: do not poll on day `d` (0 = Monday, UTC), per `<skipDays>`.
    pub skip_days: u8,
}

/// A feed's health as an admin sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedStatus {
    NeverFetched,
    Ok,
    BackingOff,
    Gone,
}

impl std::fmt::Display for FeedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FeedStatus::NeverFetched => "never fetched",
            FeedStatus::Ok => "ok",
            FeedStatus::BackingOff => "backing off",
            FeedStatus::Gone => "gone",
        })
    }
}

impl FeedState {
    pub fn new(url: &str) -> FeedState {
        FeedState {
            url: url.to_owned(),
            ..FeedState::default()
        }
    }

    pub fn id(&self) -> FeedId {
        FeedId::for_url(&self.url)
    }

    /// The URL the next poll fetches.
    pub fn fetch_url(&self) -> &str {
        self.adopted_url.as_deref().unwrap_or(&self.url)
    }

    pub fn status(&self) -> FeedStatus {
        if self.gone_since.is_some() {
            FeedStatus::Gone
        } else if self.consecutive_failures > 0 {
            FeedStatus::BackingOff
        } else if self.last_fetch.is_none() {
            FeedStatus::NeverFetched
        } else {
            FeedStatus::Ok
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_scoped_to_the_feed() {
        let a = EntryId::derive("https://a.example/rss", "guid:1");
        assert_eq!(a, EntryId::derive("https://a.example/rss", "guid:1"));
        assert_ne!(a, EntryId::derive("https://b.example/rss", "guid:1"));
        assert_ne!(a, EntryId::derive("https://a.example/rss", "guid:2"));
        // Pinned so that a change of derivation (which would re-key every
        // stored entry) cannot slip in unnoticed.
        assert_eq!(a.to_string(), "582a2c7cd53253bce2c8d9a33d2f306e");
    }

    #[test]
    fn urn_round_trips_through_parse_up_to_version_bits() {
        let id = EntryId::derive("https://a.example/rss", "guid:1");
        let urn = id.urn();
        assert!(urn.starts_with("urn:uuid:"));
        assert_eq!(urn.len(), "urn:uuid:".len() + 36);
        assert_eq!(EntryId::parse(&id.to_string()), Some(id));
        assert!(EntryId::parse("nothex").is_none());
    }

    #[test]
    fn future_publish_dates_sort_at_first_seen() {
        let now = now();
        let mut e = Entry {
            id: EntryId([0; 16]),
            feed: FeedId(0),
            identity: String::new(),
            link: None,
            title: "t".into(),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            language: None,
            published: Some(now + chrono::Duration::days(3)),
            first_seen: now,
            updated: now,
        };
        assert_eq!(e.sort_time(), now);
        e.published = Some(now - chrono::Duration::hours(1));
        assert_eq!(e.sort_time(), now - chrono::Duration::hours(1));
    }
}
