//! Story identity within a feed: which key names an item, so that the same
//! story keeps one [`EntryId`] across polls, edits and restarts.
//!
//! The identity ladder, first rung that applies wins:
//! 1. the publisher's guid/id — it names a story even when its link or
//!    headline is rewritten (real feeds do this);
//! 2. the canonical link (comparison form: scheme and `www.` ignored);
//! 3. a hash of the normalized title and content.
//!
//! A guid that one fetch gives to several different items is not an
//! identity (broken feeds do this); those items fall back to rung 2.

use crate::model::EntryId;
use crate::normalize::{Item, canonical, text};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

/// The identity key of each item of one fetch, in order, and the
/// [`EntryId`] derived from it. Items whose key repeats an earlier item's
/// in the same fetch are dropped (`None`): one story, one entry.
pub fn identify(feed_url: &str, items: &[Item]) -> Vec<Option<(EntryId, String)>> {
    let mut guid_counts: HashMap<&str, usize> = HashMap::new();
    for guid in items.iter().filter_map(|i| i.guid.as_deref()) {
        *guid_counts.entry(guid).or_default() += 1;
    }
    let mut seen = HashSet::new();
    items
        .iter()
        .map(|item| {
            let key = identity_key(item, &guid_counts);
            seen.insert(key.clone())
                .then(|| (EntryId::derive(feed_url, &key), key))
        })
        .collect()
}

fn identity_key(item: &Item, guid_counts: &HashMap<&str, usize>) -> String {
    if let Some(guid) = item.guid.as_deref() {
        if guid_counts.get(guid).copied().unwrap_or(0) == 1 {
            return format!("guid:{guid}");
        }
    }
    if let Some(link) = &item.link {
        return format!("link:{}", canonical::comparison_key(link));
    }
    format!("content:{}", content_hash(item))
}

fn content_hash(item: &Item) -> String {
    let mut hasher = Sha256::new();
    hasher.update(item.title.to_lowercase().as_bytes());
    hasher.update([0u8]);
    let body = item
        .content
        .as_deref()
        .or(item.summary.as_deref())
        .unwrap_or("");
    hasher.update(text::html_to_text(body).to_lowercase().as_bytes());
    crate::model::hex(&hasher.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(guid: Option<&str>, link: Option<&str>, title: &str) -> Item {
        Item {
            guid: guid.map(String::from),
            link: link.map(|l| canonical::canonical_link(l, None).unwrap()),
            title: title.into(),
            summary: None,
            content: None,
            authors: vec![],
            categories: vec![],
            language: None,
            published: None,
            updated: None,
        }
    }

    fn keys(items: &[Item]) -> Vec<Option<String>> {
        identify("https://f.example/rss", items)
            .into_iter()
            .map(|k| k.map(|(_, key)| key))
            .collect()
    }

    #[test]
    fn guid_wins_even_when_link_and_title_change() {
        let before = identify(
            "f",
            &[item(Some("g1"), Some("https://a.example/old-slug"), "Old")],
        );
        let after = identify(
            "f",
            &[item(Some("g1"), Some("https://a.example/new-slug"), "New")],
        );
        assert_eq!(before[0].as_ref().unwrap().0, after[0].as_ref().unwrap().0);
    }

    #[test]
    fn the_ladder_falls_back_in_order() {
        let items = [
            item(Some("dup"), Some("https://a.example/1"), "One"),
            item(Some("dup"), Some("http://www.a.example/2"), "Two"),
            item(None, Some("https://a.example/3"), "Three"),
            item(None, None, "Four"),
        ];
        let k = keys(&items);
        assert_eq!(k[0].as_deref(), Some("link:a.example/1"));
        assert_eq!(k[1].as_deref(), Some("link:a.example/2"));
        assert_eq!(k[2].as_deref(), Some("link:a.example/3"));
        assert!(k[3].as_deref().unwrap().starts_with("content:"));
    }

    #[test]
    fn repeats_within_one_fetch_are_dropped() {
        let items = [
            item(None, Some("https://a.example/1?utm_source=x"), "One"),
            item(None, Some("https://a.example/1"), "One again"),
            item(None, None, "Same"),
            item(None, None, "same"),
        ];
        let k = keys(&items);
        assert!(k[0].is_some() && k[1].is_none());
        assert!(k[2].is_some() && k[3].is_none());
    }
}
