//! Atom 1.0 (RFC 4287) rendering of a [`FeedView`], with RFC 5005 paging
//! links (`next` / `prev-archive` to the older page, `current` and
//! `fh:archive` on archive pages).
//!
//! Written by hand into one `String`: the format is small, and owning the
//! writer means every text and attribute goes through one escaping function
//! that also drops characters XML 1.0 forbids.

use super::view::{EntryView, FeedView};
use crate::normalize::text::is_xml_char;
use chrono::{DateTime, SecondsFormat, Utc};
use std::fmt::Write;

/// Renders a complete Atom document.
pub fn render(view: &FeedView) -> String {
    let mut out = String::with_capacity(1024 + view.entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:fh=\"http://purl.org/syndication/history/1.0\">\n",
    );
    element(&mut out, 1, "id", &view.id);
    element(&mut out, 1, "title", &view.title);
    element(&mut out, 1, "subtitle", &view.subtitle);
    element(&mut out, 1, "updated", &rfc3339(view.updated));
    link(&mut out, 1, "self", "application/atom+xml", &view.self_url);
    link(&mut out, 1, "alternate", "text/html", &view.home_url);
    if view.is_archive {
        out.push_str("  <fh:archive/>\n");
        link(
            &mut out,
            1,
            "current",
            "application/atom+xml",
            &view.current_url,
        );
    }
    if let Some(next) = &view.next_url {
        link(&mut out, 1, "next", "application/atom+xml", next);
        link(&mut out, 1, "prev-archive", "application/atom+xml", next);
    }
    let _ = writeln!(
        out,
        "  <generator uri=\"{}\" version=\"{}\">tidings</generator>",
        escape(env!("CARGO_PKG_REPOSITORY")),
        env!("CARGO_PKG_VERSION")
    );
    for entry in &view.entries {
        render_entry(&mut out, entry, &view.topic_scheme);
    }
    out.push_str("</feed>\n");
    out
}

fn render_entry(out: &mut String, view: &EntryView, topic_scheme: &str) {
    let entry = &view.entry;
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
    for copy in &view.related {
        // Other outlets' copies of the story (see `collapse`).
        let _ = writeln!(
            out,
            "    <link rel=\"related\" type=\"text/html\" href=\"{}\" title=\"{}\"/>",
            escape(&copy.href),
            escape(&copy.title)
        );
    }
    if entry.authors.is_empty() {
        // Atom requires an author; the outlet is the honest fallback.
        let name = view.source.as_ref().map_or("unknown", |s| s.title.as_str());
        let _ = writeln!(out, "    <author><name>{}</name></author>", escape(name));
    }
    for author in &entry.authors {
        let _ = writeln!(out, "    <author><name>{}</name></author>", escape(author));
    }
    for category in &entry.categories {
        let _ = writeln!(out, "    <category term=\"{}\"/>", escape(category));
    }
    for topic in &view.topics {
        let _ = writeln!(
            out,
            "    <category term=\"{}\" scheme=\"{}\" label=\"{}\"/>",
            escape(&topic.slug),
            escape(topic_scheme),
            escape(&topic.title)
        );
    }
    if let Some(summary) = &view.summary {
        html_element(out, "summary", summary);
    }
    match (&view.content, &entry.link) {
        (Some(content), _) => html_element(out, "content", content),
        // An entry with neither content nor an alternate link must carry
        // content (RFC 4287 §4.1.1.1).
        (None, None) => html_element(
            out,
            "content",
            view.summary.as_deref().unwrap_or(&entry.title),
        ),
        (None, Some(_)) => {}
    }
    if let Some(source) = &view.source {
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
pub(crate) mod tests {
    use super::*;
    use crate::model::{Entry, EntryId, FeedId};
    use crate::serve::view::{SourceInfo, TopicTag};
    use std::sync::Arc;

    #[test]
    fn escaping_is_complete() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(
            escape("a<b>&\"c\"\u{0}\u{1b}"),
            "a&lt;b&gt;&amp;&quot;c&quot;"
        );
    }

    pub(crate) fn sample_view() -> FeedView {
        let now = crate::model::now();
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
        FeedView {
            id: "urn:tidings:feed:t".into(),
            title: "T".into(),
            subtitle: "S".into(),
            self_url: "http://h/feeds/t.atom?before=ab".into(),
            current_url: "http://h/feeds/t.atom".into(),
            next_url: Some("http://h/feeds/t.atom?before=cd".into()),
            is_archive: true,
            home_url: "http://h/".into(),
            topic_scheme: "http://h/topics".into(),
            updated: now,
            entries: vec![EntryView {
                summary: entry.summary.clone(),
                content: None,
                topics: vec![TopicTag {
                    slug: "t".into(),
                    title: "Topic".into(),
                }],
                source: Some(Arc::new(SourceInfo {
                    title: "Outlet".into(),
                    feed_url: "https://a.example/rss".into(),
                    site_link: None,
                })),
                related: vec![crate::serve::collapse::Related {
                    title: "Other & Co".into(),
                    href: "https://b.example/y?a=1&b=2".into(),
                }],
                entry,
            }],
        }
    }

    #[test]
    fn renders_required_elements_and_paging_links() {
        let xml = render(&sample_view());
        for needle in [
            "<title>Putin &amp; Xi</title>",
            "href=\"https://a.example/x?a=1&amp;b=2\"",
            "<summary type=\"html\">&lt;p&gt;Talks&lt;/p&gt;</summary>",
            "<author><name>Outlet</name></author>",
            "<source>",
            "<id>urn:uuid:",
            "<fh:archive/>",
            "<link rel=\"current\" type=\"application/atom+xml\" href=\"http://h/feeds/t.atom\"/>",
            "<link rel=\"prev-archive\" type=\"application/atom+xml\" href=\"http://h/feeds/t.atom?before=cd\"/>",
            "<category term=\"t\" scheme=\"http://h/topics\" label=\"Topic\"/>",
            "<link rel=\"related\" type=\"text/html\" href=\"https://b.example/y?a=1&amp;b=2\" title=\"Other &amp; Co\"/>",
        ] {
            assert!(xml.contains(needle), "missing {needle} in {xml}");
        }
    }
}
