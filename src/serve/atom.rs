//! Atom 1.0 (RFC 4287) rendering of a list of stored entries.
//!
//! Written by hand into one `String`: the format is small, and owning the
//! writer means every text and attribute goes through one escaping function
//! that also drops characters XML 1.0 forbids.

use crate::model::{Entry, EntryId, FeedId};
use crate::normalize::text::is_xml_char;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use std::fmt::Write;

/// The served feed's own metadata.
pub struct FeedHead<'a> {
    /// A stable IRI (does not depend on the host name it is served under).
    pub id: &'a str,
    pub title: &'a str,
    pub subtitle: Option<&'a str>,
    /// The URL this document is served at.
    pub self_url: &'a str,
    /// A web page for humans.
    pub alternate_url: &'a str,
    /// The `scheme` of the categories that name matched topics.
    pub topic_scheme: &'a str,
}

/// A topic an entry matched, written as a `<category>` of the entry.
pub struct TopicTag {
    pub slug: String,
    pub title: String,
}

/// The outlet an entry came from, for `<source>` and as author fallback.
pub struct SourceInfo {
    pub title: String,
    pub feed_url: String,
    pub site_link: Option<String>,
}

/// Renders a complete Atom document.
pub fn render(
    head: &FeedHead<'_>,
    entries: &[Entry],
    sources: &HashMap<FeedId, SourceInfo>,
    topics: &HashMap<EntryId, Vec<TopicTag>>,
) -> String {
    let mut out = String::with_capacity(1024 + entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut out, 1, "id", head.id);
    element(&mut out, 1, "title", head.title);
    if let Some(subtitle) = head.subtitle {
        element(&mut out, 1, "subtitle", subtitle);
    }
    // The feed changes when its newest change does; an empty feed has no
    // meaningful time, so it reports the epoch rather than "now" (which
    // would change on every request).
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    element(&mut out, 1, "updated", &rfc3339(updated));
    link(&mut out, 1, "self", "application/atom+xml", head.self_url);
    link(&mut out, 1, "alternate", "text/html", head.alternate_url);
    let _ = writeln!(
        out,
        "  <generator uri=\"{}\" version=\"{}\">tidings</generator>",
        escape(env!("CARGO_PKG_REPOSITORY")),
        env!("CARGO_PKG_VERSION")
    );
    for entry in entries {
        let tags = topics.get(&entry.id).map_or(&[][..], Vec::as_slice);
        render_entry(
            &mut out,
            entry,
            sources.get(&entry.feed),
            tags,
            head.topic_scheme,
        );
    }
    out.push_str("</feed>\n");
    out
}

fn render_entry(
    out: &mut String,
    entry: &Entry,
    source: Option<&SourceInfo>,
    topics: &[TopicTag],
    topic_scheme: &str,
) {
    out.push_str("  <entry>\n");
    element(out, 2, "id", &entry.id.urn());
    element(out, 2, "title", &entry.title);
    element(out, 2, "updated", &rfc3339(entry.updated));
    if let Some(published) = entry.published.filter(|p| *p <= entry.updated) {
        element(out, 2, "published", &rfc3339(published));
    }
    if let Some(href) = &entry.link {
        link(out, 2, "alternate", "text/html", href);
    }
    if entry.authors.is_empty() {
        // Atom requires an author; the outlet is the honest fallback.
        let name = source.map_or("unknown", |s| s.title.as_str());
        let _ = writeln!(out, "    <author><name>{}</name></author>", escape(name));
    }
    for author in &entry.authors {
        let _ = writeln!(out, "    <author><name>{}</name></author>", escape(author));
    }
    for category in &entry.categories {
        let _ = writeln!(out, "    <category term=\"{}\"/>", escape(category));
    }
    for topic in topics {
        let _ = writeln!(
            out,
            "    <category term=\"{}\" scheme=\"{}\" label=\"{}\"/>",
            escape(&topic.slug),
            escape(topic_scheme),
            escape(&topic.title)
        );
    }
    if let Some(summary) = &entry.summary {
        html_element(out, "summary", summary);
    }
    match (&entry.content, &entry.link) {
        (Some(content), _) => html_element(out, "content", content),
        // An entry with neither content nor an alternate link must carry
        // content (RFC 4287 §4.1.1.1).
        (None, None) => element(
            out,
            2,
            "content",
            entry.summary.as_deref().unwrap_or(&entry.title),
        ),
        (None, Some(_)) => {}
    }
    if let Some(source) = source {
        out.push_str("    <source>\n");
        element(out, 3, "id", &source.feed_url);
        element(out, 3, "title", &source.title);
        link(out, 3, "self", "application/xml", &source.feed_url);
        if let Some(site) = &source.site_link {
            link(out, 3, "alternate", "text/html", site);
        }
        out.push_str("    </source>\n");
    }
    out.push_str("  </entry>\n");
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn element(out: &mut String, level: usize, name: &str, text: &str) {
    indent(out, level);
    let _ = writeln!(out, "<{name}>{}</{name}>", escape(text));
}

fn html_element(out: &mut String, name: &str, html: &str) {
    let _ = writeln!(out, "    <{name} type=\"html\">{}</{name}>", escape(html));
}

fn link(out: &mut String, level: usize, rel: &str, media_type: &str, href: &str) {
    indent(out, level);
    let _ = writeln!(
        out,
        "<link rel=\"{rel}\" type=\"{media_type}\" href=\"{}\"/>",
        escape(href)
    );
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Escapes text for XML content and double-quoted attributes, dropping
/// characters XML 1.0 cannot carry at all.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| matches!(c, '&' | '<' | '>' | '"') || !is_xml_char(c))
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EntryId;

    #[test]
    fn escaping_is_complete() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(
            escape("a<b>&\"c\"\u{0}\u{1b}"),
            "a&lt;b&gt;&amp;&quot;c&quot;"
        );
    }

    #[test]
    fn renders_required_elements() {
        let now = Utc::now();
        let entry = Entry {
            id: EntryId([1; 16]),
            feed: FeedId(9),
            identity: "guid:x".into(),
            link: Some("https://a.example/x?a=1&b=2".into()),
            title: "Putin & Xi".into(),
            summary: Some("<p>Talks</p>".into()),
            content: None,
            authors: vec![],
            categories: vec!["World".into()],
            language: None,
            published: Some(now),
            first_seen: now,
            updated: now,
        };
        let mut sources = HashMap::new();
        sources.insert(
            FeedId(9),
            SourceInfo {
                title: "Outlet".into(),
                feed_url: "https://a.example/rss".into(),
                site_link: None,
            },
        );
        let head = FeedHead {
            id: "urn:x",
            title: "T",
            subtitle: None,
            self_url: "http://h/feeds/t.atom",
            alternate_url: "http://h/",
            topic_scheme: "http://h/topics",
        };
        let tags = HashMap::from([(
            entry.id,
            vec![TopicTag {
                slug: "russia-china".into(),
                title: "Russia & China".into(),
            }],
        )]);
        let xml = render(&head, &[entry], &sources, &tags);
        assert!(xml.contains("<title>Putin &amp; Xi</title>"));
        assert!(xml.contains("href=\"https://a.example/x?a=1&amp;b=2\""));
        assert!(xml.contains("<summary type=\"html\">&lt;p&gt;Talks&lt;/p&gt;</summary>"));
        assert!(xml.contains("<author><name>Outlet</name></author>"));
        assert!(xml.contains("<source>"));
        assert!(xml.contains("<id>urn:uuid:"));
        assert!(xml.contains(
            "<category term=\"russia-china\" scheme=\"http://h/topics\" label=\"Russia &amp; China\"/>"
        ));
    }
}
