//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>) rendering of a
//! [`FeedView`]: the same entries and ids as the Atom feed, paging via
//! `next_url`.

use super::view::FeedView;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    description: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Item<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_published: Option<String>,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    /// Where the entry came from (a JSON Feed extension object).
    #[serde(rename = "_source", skip_serializing_if = "Option::is_none")]
    source: Option<Source<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Source<'a> {
    title: &'a str,
    feed_url: &'a str,
}

pub fn render(view: &FeedView) -> String {
    let items = view
        .entries
        .iter()
        .map(|item| {
            let e = &item.entry;
            // JSON Feed requires content; the summary stands in when the
            // publisher gave only that.
            let content = item.content.as_deref().or(item.summary.as_deref());
            Item {
                id: e.id.urn(),
                url: e.link.as_deref(),
                title: &e.title,
                content_html: Some(content.unwrap_or(&e.title)),
                summary: item
                    .summary
                    .as_deref()
                    .filter(|_| item.content.is_some())
                    .map(crate::normalize::text::html_to_text),
                date_published: e.published.map(rfc3339),
                date_modified: rfc3339(e.updated),
                authors: e.authors.iter().map(|a| Author { name: a }).collect(),
                tags: e
                    .categories
                    .iter()
                    .map(String::as_str)
                    .chain(item.topics.iter().map(|t| t.slug.as_str()))
                    .collect(),
                language: e.language.as_deref(),
                source: item.source.as_ref().map(|s| Source {
                    title: &s.title,
                    feed_url: &s.feed_url,
                }),
            }
        })
        .collect();
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: &view.title,
        description: &view.subtitle,
        home_page_url: &view.home_url,
        feed_url: &view.self_url,
        next_url: view.next_url.as_deref(),
        items,
    };
    // Serializing plain structs of strings cannot fail.
    serde_json::to_string_pretty(&feed).unwrap_or_default()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_json_feed_with_the_same_ids() {
        let view = crate::serve::atom::tests::sample_view();
        let json = render(&view);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
        assert_eq!(v["items"][0]["id"], view.entries[0].entry.id.urn());
        assert_eq!(v["items"][0]["content_html"], "<p>Talks</p>");
        assert_eq!(v["next_url"], "http://h/feeds/t.atom?before=cd");
        let parsed = feed_rs::parser::parse(json.as_bytes()).expect("feed-rs reads it");
        assert_eq!(parsed.entries[0].id, view.entries[0].entry.id.urn());
    }
}
