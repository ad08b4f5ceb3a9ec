//! Dedup: when two items are the same story.
//!
//! Within a feed ([`identify`], [`resolve`]) an item gets a stable
//! [`EntryId`] from the identity ladder, first rung that applies wins:
//! 1. the publisher's guid/id — it names a story even when its link or
//!    headline is rewritten (real feeds do this);
//! 2. the canonical link (comparison form: scheme, `www.` and tracking
//!    parameters ignored);
//! 3. a hash of the normalized title and text.
//!
//! A guid or link that one fetch gives to several different items is not an
//! identity (broken feeds do this: the replay has a feed whose every item
//! links to the site's front page), and neither is a link to a site's root.
//! Every usable key is also remembered as an *alias* of the entry, so that a
//! feed that starts (or stops) sending guids, or flips an item between
//! rungs, keeps its entries: [`resolve`] decides which remembered key may
//! claim an incoming item. A feed's config can skip rungs
//! ([`IdentityMode`]) when its guids or links are unstable.
//!
//! Across feeds, [`sketch`] and [`cluster`] decide which entries are copies of
//! one story (same canonical link, or near-identical text within a few
//! days). This module never reads or writes the store: the store asks it.

pub mod cluster;
pub mod sketch;

use crate::model::{Entry, EntryId};
use crate::normalize::{Item, canonical, text};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use url::Url;

/// Which rungs of the identity ladder a feed uses (`[[feed]] identity`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// The whole ladder: guid, else link, else content.
    #[default]
    Guid,
    /// Ignore guids (for feeds whose guids change between fetches): link,
    /// else content.
    Link,
    /// Ignore guids and links: a hash of the title and text. For feeds whose
    /// links carry session ids or change on every fetch.
    Content,
}

/// Prefixes of identity keys, one per rung.
pub const GUID: &str = "guid:";
pub const LINK: &str = "link:";
pub const CONTENT: &str = "content:";

/// One item's identity, as far as the fetch itself can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identified {
    /// Derived from `key`; the id a new entry gets.
    pub id: EntryId,
    /// The highest rung that applies, e.g. `guid:…` (stored as
    /// `Entry::identity`).
    pub key: String,
    /// Lower rungs that also name the item (its `link:` key when the guid is
    /// the primary key), remembered so the entry is found by them too.
    pub aliases: Vec<String>,
    /// Whether the item carries a usable guid.
    pub has_guid: bool,
    /// The comparison form of the item's link when it is a usable identity
    /// (not shared within the fetch, not a site root): entries of any feed
    /// with the same one are one story.
    pub link_key: Option<String>,
}

impl Identified {
    /// Every key naming the item, the primary one first.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.key.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// The identity of each item of one fetch, in order. Items whose primary
/// key repeats an earlier item's in the same fetch are dropped (`None`):
/// one story, one entry.
pub fn identify(feed_url: &str, items: &[Item], mode: IdentityMode) -> Vec<Option<Identified>> {
    let shared = SharedInFetch::of(items);
    let mut seen = HashSet::new();
    items
        .iter()
        .map(|item| {
            let identified = identity_of(feed_url, item, mode, &shared);
            seen.insert(identified.key.clone()).then_some(identified)
        })
        .collect()
}

fn identity_of(
    feed_url: &str,
    item: &Item,
    mode: IdentityMode,
    shared: &SharedInFetch,
) -> Identified {
    let guid = item
        .guid
        .as_deref()
        .filter(|g| mode == IdentityMode::Guid && !shared.guid_is_ambiguous(g));
    let link = item
        .link
        .as_ref()
        .filter(|l| mode != IdentityMode::Content && is_story_link(l))
        .map(canonical::comparison_key)
        .filter(|l| !shared.link_is_ambiguous(l));
    let guid_key = guid.map(|g| format!("{GUID}{g}"));
    let link_key = link.as_ref().map(|l| format!("{LINK}{l}"));
    let (key, aliases) = match (guid_key, link_key) {
        (Some(g), Some(l)) => (g, vec![l]),
        (Some(g), None) => (g, vec![]),
        (None, Some(l)) => (l, vec![]),
        (None, None) => (format!("{CONTENT}{}", content_hash(item)), vec![]),
    };
    Identified {
        id: EntryId::derive(feed_url, &key),
        key,
        aliases,
        has_guid: guid.is_some(),
        link_key: link,
    }
}

/// A link to a site's front page names no story (a scraper that lost the
/// article URL falls back to it).
fn is_story_link(link: &Url) -> bool {
    !(matches!(link.path(), "" | "/") && link.query().is_none())
}

/// Which guids and links one fetch gives to more than one distinct item.
struct SharedInFetch {
    ambiguous_guids: HashSet<String>,
    ambiguous_links: HashSet<String>,
}

impl SharedInFetch {
    fn of(items: &[Item]) -> SharedInFetch {
        // An exact repeat of an item is harmless (dropped later); a key
        // given to items that differ cannot name either of them.
        let mut by_guid: HashMap<&str, HashSet<(Option<String>, &str)>> = HashMap::new();
        let mut by_link: HashMap<String, HashSet<(Option<&str>, &str)>> = HashMap::new();
        for item in items {
            let link = item.link.as_ref().map(canonical::comparison_key);
            if let Some(guid) = item.guid.as_deref() {
                by_guid
                    .entry(guid)
                    .or_default()
                    .insert((link.clone(), item.title.as_str()));
            }
            if let Some(link) = link {
                by_link
                    .entry(link)
                    .or_default()
                    .insert((item.guid.as_deref(), item.title.as_str()));
            }
        }
        let ambiguous = |variants: usize| variants > 1;
        SharedInFetch {
            ambiguous_guids: by_guid
                .into_iter()
                .filter(|(_, v)| ambiguous(v.len()))
                .map(|(g, _)| g.to_owned())
                .collect(),
            ambiguous_links: by_link
                .into_iter()
                .filter(|(_, v)| ambiguous(v.len()))
                .map(|(l, _)| l)
                .collect(),
        }
    }

    fn guid_is_ambiguous(&self, guid: &str) -> bool {
        self.ambiguous_guids.contains(guid)
    }

    fn link_is_ambiguous(&self, link: &str) -> bool {
        self.ambiguous_links.contains(link)
    }
}

/// Hash of the item's words (title, then text), case and punctuation
/// folded: a typographic fix (quotes, dashes, `ё`) is not a new story.
fn content_hash(item: &Item) -> String {
    let body = item
        .content
        .as_deref()
        .or(item.summary.as_deref())
        .unwrap_or("");
    let mut hasher = Sha256::new();
    for word in sketch::words(&item.title) {
        hasher.update(word.as_bytes());
        hasher.update([b' ']);
    }
    hasher.update([0u8]);
    for word in sketch::words(&text::html_to_text(body)) {
        hasher.update(word.as_bytes());
        hasher.update([b' ']);
    }
    crate::model::hex(&hasher.finalize()[..16])
}

/// The identity a stored entry records about itself: its primary key, and
/// its link when that is a story link. (What a store made before aliases
/// existed knows; an item's own fetch knows more, see [`identify`].)
pub fn identity_of_entry(entry: &Entry) -> Identified {
    let content_keyed = entry.identity.starts_with(CONTENT);
    let link_key = entry
        .link
        .as_deref()
        .and_then(|l| Url::parse(l).ok())
        .filter(|l| !content_keyed && is_story_link(l))
        .map(|l| canonical::comparison_key(&l));
    let has_guid = entry.identity.starts_with(GUID);
    let aliases = match &link_key {
        Some(l) if has_guid => vec![format!("{LINK}{l}")],
        _ => Vec::new(),
    };
    Identified {
        id: entry.id,
        key: entry.identity.clone(),
        aliases,
        has_guid,
        link_key,
    }
}

/// A remembered key of the feed and the entry it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownKey {
    pub entry: EntryId,
    /// Whether that entry is known by a guid of its own.
    pub has_guid: bool,
}

/// Which stored entry (if any) an incoming item is, given the feed's
/// remembered keys (`known`, a store lookup). Keys are tried in ladder
/// order. A link claims the item unless both sides have guids: two
/// different guids on one link are two stories (a live page's updates);
/// a guid-less entry and a guid'd item on one link are the feed starting
/// to send guids.
pub fn resolve(
    item: &Identified,
    mut known: impl FnMut(&str) -> Option<KnownKey>,
) -> Option<EntryId> {
    item.keys().find_map(|key| {
        let hit = known(key)?;
        let claims = !(key.starts_with(LINK) && item.has_guid && hit.has_guid);
        claims.then_some(hit.entry)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(guid: Option<&str>, link: Option<&str>, title: &str) -> Item {
        Item::bare(guid, link, title)
    }

    fn keys(items: &[Item], mode: IdentityMode) -> Vec<Option<String>> {
        identify("https://f.example/rss", items, mode)
            .into_iter()
            .map(|k| k.map(|i| i.key))
            .collect()
    }

    #[test]
    fn guid_wins_even_when_link_and_title_change() {
        // WSJ in the replay: same guid, the headline's slug rewritten.
        let id = |link: &str, title: &str| {
            identify(
                "f",
                &[item(Some("SB1256"), Some(link), title)],
                IdentityMode::Guid,
            )[0]
            .clone()
            .unwrap()
            .id
        };
        assert_eq!(
            id(
                "https://www.wsj.com/articles/coronavirus-chased-off-touristslots-of-locals-11597483800",
                "Coronavirus Chased Off Tourists"
            ),
            id(
                "https://www.wsj.com/articles/coronavirus-tourists-tourism-travel-11597601570",
                "Coronavirus Chased Off Tourists---Locals Don't Want Them Back"
            )
        );
    }

    #[test]
    fn the_ladder_by_mode() {
        let items = [
            item(Some("g1"), Some("https://a.example/1?utm_source=x"), "One"),
            item(None, Some("http://www.a.example/2"), "Two"),
            item(Some("g3"), None, "Three"),
            item(None, None, "Four"),
        ];
        // (mode, expected key prefixes in order)
        let table: [(IdentityMode, [&str; 4]); 3] = [
            (
                IdentityMode::Guid,
                ["guid:g1", "link:a.example/2", "guid:g3", CONTENT],
            ),
            (
                IdentityMode::Link,
                ["link:a.example/1", "link:a.example/2", CONTENT, CONTENT],
            ),
            (IdentityMode::Content, [CONTENT; 4]),
        ];
        for (mode, want) in table {
            let got = keys(&items, mode);
            for (got, want) in got.iter().zip(want) {
                let got = got.as_deref().unwrap();
                assert!(got.starts_with(want), "{mode:?}: {got} vs {want}");
            }
        }
        let first = identify("f", &items, IdentityMode::Guid)[0]
            .clone()
            .unwrap();
        assert_eq!(first.aliases, ["link:a.example/1"]);
        assert_eq!(first.link_key.as_deref(), Some("a.example/1"));
        assert!(first.has_guid);
    }

    #[test]
    fn a_guid_given_to_different_items_is_no_identity() {
        let items = [
            item(Some("dup"), Some("https://a.example/1"), "One"),
            item(Some("dup"), Some("https://a.example/2"), "Two"),
        ];
        assert_eq!(
            keys(&items, IdentityMode::Guid),
            [
                Some("link:a.example/1".to_owned()),
                Some("link:a.example/2".to_owned())
            ]
        );
    }

    #[test]
    fn an_item_repeated_verbatim_keeps_its_guid_and_appears_once() {
        // Novaya Gazeta Europe lists some items twice in one fetch.
        let link = "https://novayagazeta.eu/articles/2025/07/18/inspektor";
        let items = [
            item(Some(link), Some(link), "Инспектор"),
            item(Some(link), Some(link), "Инспектор"),
        ];
        let k = keys(&items, IdentityMode::Guid);
        assert_eq!(k[0].as_deref(), Some(format!("guid:{link}").as_str()));
        assert_eq!(k[1], None);
    }

    #[test]
    fn a_shared_or_front_page_link_is_no_identity() {
        // Meduza in the replay: every item links to https://meduza.io/.
        let items = [
            item(
                None,
                Some("https://meduza.io/"),
                "Владимиру Сорокину — 70 лет",
            ),
            item(None, Some("https://meduza.io/"), "«Архстоянию» — 20 лет!"),
            item(None, Some("https://news.example/a"), "A"),
            item(None, Some("https://news.example/a"), "A, edited"),
        ];
        let ids = identify("f", &items, IdentityMode::Guid);
        for i in ids.iter().map(|i| i.as_ref().unwrap()) {
            assert!(i.key.starts_with(CONTENT), "{}", i.key);
            assert_eq!(i.link_key, None);
        }
        let single = identify(
            "f",
            &[item(None, Some("https://meduza.io"), "x")],
            IdentityMode::Guid,
        );
        assert!(single[0].as_ref().unwrap().key.starts_with(CONTENT));
    }

    #[test]
    fn content_keys_ignore_case_and_punctuation_but_not_words() {
        let k = |t: &str| keys(&[item(None, None, t)], IdentityMode::Guid)[0].clone();
        // Meduza fixed the quotes of a headline between two fetches.
        assert_eq!(
            k("«У меня вырвалось: «Вы понимаете, что вас задержат?»"),
            k("«У меня вырвалось: „Вы понимаете, что вас задержат?“")
        );
        assert_eq!(k("Ёлка"), k("елка"));
        assert_ne!(
            k("Трамп обещает «ад» завтра"),
            k("Трамп обещает «ад» сегодня")
        );
    }

    #[test]
    fn repeats_within_one_fetch_are_dropped() {
        let items = [
            item(None, Some("https://a.example/1?utm_source=x"), "One"),
            item(None, Some("https://a.example/1"), "One"),
            item(None, None, "Same"),
            item(None, None, "same"),
        ];
        let k = keys(&items, IdentityMode::Guid);
        assert!(k[0].is_some() && k[1].is_none());
        assert!(k[2].is_some() && k[3].is_none());
    }

    /// Resolution against remembered keys, table-driven: (what the store
    /// knows, the incoming item, which entry it is).
    #[test]
    fn resolution_against_remembered_keys() {
        const STORED: EntryId = EntryId([1; 16]);
        const OTHER: EntryId = EntryId([2; 16]);
        let with_guid = |guid: Option<&str>, link: &str| {
            identify("f", &[item(guid, Some(link), "t")], IdentityMode::Guid)[0]
                .clone()
                .unwrap()
        };
        type Known = &'static [(&'static str, EntryId, bool)];
        let cases: [(&str, Known, Identified, Option<EntryId>); 5] = [
            (
                // BBC Russian started sending guids after months without.
                "guid added to a link-keyed entry",
                &[("link:bbc.com/russian/articles/c4g93nxy27zo", STORED, false)],
                with_guid(
                    Some("https://www.bbc.com/russian/articles/c4g93nxy27zo"),
                    "https://www.bbc.com/russian/articles/c4g93nxy27zo",
                ),
                Some(STORED),
            ),
            (
                "guid dropped again",
                &[("guid:x", STORED, true), ("link:a.example/p", STORED, true)],
                with_guid(None, "https://a.example/p"),
                Some(STORED),
            ),
            (
                "another guid on the same link is another story",
                &[
                    ("guid:update-1", STORED, true),
                    ("link:a.example/live", STORED, true),
                ],
                with_guid(Some("update-2"), "https://a.example/live"),
                None,
            ),
            (
                "the guid finds its entry after the link changed",
                &[("guid:g", OTHER, true), ("link:a.example/old", OTHER, true)],
                with_guid(Some("g"), "https://a.example/new"),
                Some(OTHER),
            ),
            (
                "nothing known",
                &[],
                with_guid(Some("g"), "https://a.example/x"),
                None,
            ),
        ];
        for (what, known, incoming, want) in cases {
            let got = resolve(&incoming, |key| {
                known
                    .iter()
                    .find(|(k, _, _)| *k == key)
                    .map(|(_, entry, has_guid)| KnownKey {
                        entry: *entry,
                        has_guid: *has_guid,
                    })
            });
            assert_eq!(got, want, "{what}");
        }
    }
}
