//! RSS 2.0 rendering of a [`FeedView`], for readers that predate Atom.
//! Same entries and ids as the Atom feed (each `<guid>` is the entry's
//! `urn:uuid:` id), paging via an `atom:link rel="next"`.

use super::atom::escape;
use super::view::FeedView;
use chrono::{DateTime, Utc};
use std::fmt::Write;

pub fn render(view: &FeedView) -> String {
    let mut out = String::with_capacity(1024 + view.entries.len() * 2048);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n",
    );
    let _ = writeln!(out, "  <title>{}</title>", escape(&view.title));
    let _ = writeln!(out, "  <link>{}</link>", escape(&view.home_url));
    let _ = writeln!(
        out,
        "  <description>{}</description>",
        escape(&view.subtitle)
    );
    let _ = writeln!(
        out,
        "  <lastBuildDate>{}</lastBuildDate>",
        rfc2822(view.updated)
    );
    let _ = writeln!(
        out,
        "  <generator>tidings {}</generator>",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        out,
        "  <atom:link rel=\"self\" type=\"application/rss+xml\" href=\"{}\"/>",
        escape(&view.self_url)
    );
    if let Some(next) = &view.next_url {
        let _ = writeln!(
            out,
            "  <atom:link rel=\"next\" type=\"application/rss+xml\" href=\"{}\"/>",
            escape(next)
        );
    }
    for item in &view.entries {
        let e = &item.entry;
        out.push_str("  <item>\n");
        let _ = writeln!(out, "    <guid isPermaLink=\"false\">{}</guid>", e.id.urn());
        let _ = writeln!(out, "    <title>{}</title>", escape(&e.title));
        if let Some(link) = &e.link {
            let _ = writeln!(out, "    <link>{}</link>", escape(link));
        }
        let body = item.content.as_deref().or(item.summary.as_deref());
        if let Some(html) = body {
            let _ = writeln!(out, "    <description>{}</description>", escape(html));
        }
        let _ = writeln!(
            out,
            "    <pubDate>{}</pubDate>",
            rfc2822(e.published.unwrap_or(e.first_seen))
        );
        for author in &e.authors {
            let _ = writeln!(out, "    <dc:creator>{}</dc:creator>", escape(author));
        }
        for category in e
            .categories
            .iter()
            .chain(item.topics.iter().map(|t| &t.title))
        {
            let _ = writeln!(out, "    <category>{}</category>", escape(category));
        }
        if let Some(source) = &item.source {
            let _ = writeln!(
                out,
                "    <source url=\"{}\">{}</source>",
                escape(&source.feed_url),
                escape(&source.title)
            );
        }
        out.push_str("  </item>\n");
    }
    out.push_str("</channel>\n</rss>\n");
    out
}

fn rfc2822(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_items_with_the_same_ids_and_parses_back() {
        let view = crate::serve::atom::tests::sample_view();
        let xml = render(&view);
        let parsed = feed_rs::parser::parse(xml.as_bytes()).expect("valid RSS");
        assert_eq!(parsed.entries.len(), 1);
        assert_eq!(parsed.entries[0].id, view.entries[0].entry.id.urn());
        assert!(xml.contains("<source url=\"https://a.example/rss\">Outlet</source>"));
        assert!(xml.contains("rel=\"next\""));
    }
}
