//! Property tests (proptest) for the three parsers that read what strangers
//! write: the feed normalizer (every byte of a fetched body), the topic
//! query parser (an admin's config) and the link canonicalizer (every link
//! in every feed). None may panic on any input, and what they return must
//! keep their promises. Case counts are kept small so `cargo test` stays
//! fast; a failure is shrunk and saved under `tests/properties.proptest-regressions`.

use proptest::prelude::*;
use tidings::normalize::{self, canonical, text};
use tidings::topic::{Aliases, Query};
use url::Url;

fn feed_url() -> Url {
    Url::parse("https://feeds.example/rss").expect("url")
}

/// Pieces of feed documents, including the ones that break parsers:
/// declarations naming odd encodings, entities, CDATA, unbalanced tags,
/// control characters, BOMs.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<?xml version=\"1.0\" encoding=\"utf-8\"?>".to_owned()),
        Just("<?xml version='1.0' encoding='iso-8859-1'?>".to_owned()),
        Just("<?xml version=\"1.0\" encoding=\"x-bogus\"?>".to_owned()),
        Just("<rss version=\"2.0\">".to_owned()),
        Just("<rss>".to_owned()),
        Just("</rss>".to_owned()),
        Just("<channel>".to_owned()),
        Just("</channel>".to_owned()),
        Just("<item>".to_owned()),
        Just("</item>".to_owned()),
        Just("<title>".to_owned()),
        Just("</title>".to_owned()),
        Just("<guid>".to_owned()),
        Just("</guid>".to_owned()),
        Just("<link>https://a.example/x?utm_source=y#z</link>".to_owned()),
        Just("<feed xmlns=\"http://www.w3.org/2005/Atom\">".to_owned()),
        Just("<entry>".to_owned()),
        Just("</entry>".to_owned()),
        Just("<content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">".to_owned()),
        Just("<summary type=\"text/plain\">".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("]]>".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("<!DOCTYPE rss [<!ENTITY a \"&b;&b;\">]>".to_owned()),
        Just("&".to_owned()),
        Just("&amp;".to_owned()),
        Just("&nbsp;".to_owned()),
        Just("&#0;".to_owned()),
        Just("&#x1F600;".to_owned()),
        Just("&#X41;".to_owned()),
        Just("&a;".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{0}\u{1b}".to_owned()),
        Just("<html><link rel=alternate type=application/rss+xml href=/f>".to_owned()),
        Just("{\"version\":\"https://jsonfeed.org/version/1.1\",\"items\":[".to_owned()),
        "[a-zA-Z0-9 <>/=\"'&;#\n]{0,12}",
    ]
}

/// 400 cases each in `cargo test`; set `PROPTEST_CASES` for a longer run
/// (e.g. `PROPTEST_CASES=50000 cargo test --release --test properties`).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_normalizer_never_panics_on_bytes(body in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = normalize::parse_feed(&body, &feed_url());
    }

    #[test]
    fn feed_like_documents_parse_to_clean_items_or_a_reason(
        parts in prop::collection::vec(fragment(), 0..40),
        wide in any::<bool>(),
    ) {
        let text: String = parts.concat();
        // Sometimes as UTF-16, to reach the decoder too.
        let body: Vec<u8> = if wide {
            text.encode_utf16().flat_map(u16::to_le_bytes).collect()
        } else {
            text.into_bytes()
        };
        match normalize::parse_feed(&body, &feed_url()) {
            Ok(feed) => {
                prop_assert!(feed.items.len() <= normalize::MAX_ITEMS);
                for item in &feed.items {
                    prop_assert!(!item.title.is_empty());
                    prop_assert!(item.title.chars().all(text::is_xml_char), "{:?}", item.title);
                    for html in item.summary.iter().chain(&item.content) {
                        prop_assert!(html.chars().all(text::is_xml_char), "{:?}", html);
                    }
                }
            }
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn the_query_parser_never_panics_and_points_inside_the_query(
        query in "[a-z\"()@^/*:!#\\- ]{0,20}|(AND|OR|NOT|NEAR/3|\\(|\\)|\"|x|y|@a|title:|\\^2| ){0,15}",
    ) {
        let mut aliases = Aliases::default();
        aliases.define("a", &["china", "\"xi jinping\""]).expect("alias");
        if let Err(e) = Query::parse(&query, &aliases) {
            prop_assert!(e.offset <= query.len(), "offset {} in {:?}", e.offset, query);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn canonical_links_are_web_urls_and_stable(
        href in "(https?://|HTTP://|//|/|javascript:|mailto:)?[a-zA-Z0-9.:@%/?&=#_~+-]{0,40}",
    ) {
        let base = feed_url();
        if let Some(url) = canonical::canonical_link(&href, Some(&base)) {
            prop_assert!(matches!(url.scheme(), "http" | "https"), "{url}");
            prop_assert!(url.fragment().is_none(), "{url}");
            prop_assert!(
                !url.query_pairs().any(|(k, _)| k.to_ascii_lowercase().starts_with("utm_")),
                "{url}"
            );
            // Canonical means a fixed point.
            let again = canonical::canonical_link(url.as_str(), None);
            prop_assert_eq!(again.as_ref(), Some(&url));
            prop_assert_eq!(
                canonical::comparison_key(&url),
                canonical::comparison_key(again.as_ref().unwrap_or(&url))
            );
        }
    }
}
