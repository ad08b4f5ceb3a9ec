//! Normalize: raw feed bytes → [`ParsedFeed`], one model for every format
//! feed-rs reads (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed).
//!
//! This stage decides what each item *says* (plain-text title, HTML summary
//! and content, absolute canonical link, dates, authors, categories) but not
//! what it *is*: identity is `dedup`'s job. Everything here is pure and
//! synchronous; callers run it off the async runtime.

pub mod canonical;
pub mod hints;
pub mod text;

use chrono::{DateTime, Utc};
use feed_rs::model;
use std::fmt;
use url::Url;

/// A feed as one fetch saw it.
#[derive(Debug)]
pub struct ParsedFeed {
    pub title: Option<String>,
    /// The feed's web site, if it names one.
    pub site_link: Option<String>,
    pub language: Option<String>,
    /// When the feed asks to be polled (`<ttl>`, `<skipHours>`, …).
    pub hints: crate::model::PublisherHints,
    pub items: Vec<Item>,
}

/// One entry of a fetched feed, normalized but not yet identified.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The publisher's own id (RSS guid, Atom id, JSON Feed id), trimmed.
    pub guid: Option<String>,
    /// Absolute canonical link (see `canonical`).
    pub link: Option<Url>,
    /// Plain text; never empty.
    pub title: String,
    /// HTML.
    pub summary: Option<String>,
    /// HTML.
    pub content: Option<String>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    pub language: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
}

/// Why a body could not be read as a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeError(String);

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NormalizeError {}

/// Titles derived from the summary are cut at this many characters.
const DERIVED_TITLE_CHARS: usize = 100;

/// Parses `body` fetched from `feed_url` (used to resolve relative links).
pub fn parse_feed(body: &[u8], feed_url: &Url) -> Result<ParsedFeed, NormalizeError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url.as_str()))
        // feed-rs would otherwise invent ids from link+title (an edited title
        // becomes a new story) or random UUIDs (a new story on every poll).
        // An empty id tells `dedup` that the publisher gave none.
        .id_generator(|_, _, _| String::new())
        .build();
    let feed = parser
        .parse(body)
        .map_err(|e| describe_parse_error(body, e))?;

    let site_link = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| canonical::canonical_link(&l.href, Some(feed_url)))
        .map(String::from);
    let feed_language = feed.language.as_deref().map(clean_language);
    let items = feed
        .entries
        .into_iter()
        .map(|entry| item_from(entry, feed_url, feed_language.as_deref()))
        .collect();
    Ok(ParsedFeed {
        title: feed
            .title
            .map(|t| text::clean_text(&t.content))
            .filter(|t| !t.is_empty()),
        site_link,
        language: feed_language,
        hints: hints::publisher_hints(body),
        items,
    })
}

fn item_from(entry: model::Entry, feed_url: &Url, feed_language: Option<&str>) -> Item {
    let base = entry
        .base
        .as_deref()
        .and_then(|b| feed_url.join(b).ok())
        .unwrap_or_else(|| feed_url.clone());
    let link = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .chain(entry.links.iter())
        .find_map(|l| canonical::canonical_link(&l.href, Some(&base)));
    let summary = entry.summary.as_ref().and_then(text_as_html);
    let content = entry.content.as_ref().and_then(|c| {
        let body = c.body.as_deref()?;
        html_if_nonempty(body, c.content_type.as_str())
    });
    let title = entry
        .title
        .as_ref()
        .map(|t| text::clean_text(&t.content))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| {
            derived_title(
                summary
                    .as_deref()
                    .or(content.as_deref())
                    .unwrap_or_default(),
            )
        });
    let mut authors: Vec<String> = entry
        .authors
        .iter()
        .filter_map(|p| {
            let name = p.name.as_deref().map(text::clean_text).unwrap_or_default();
            if !name.is_empty() {
                Some(name)
            } else {
                p.email.as_deref().map(text::clean_text)
            }
        })
        .filter(|n| !n.is_empty())
        .collect();
    authors.dedup();
    let mut categories: Vec<String> = entry
        .categories
        .iter()
        .map(|c| text::clean_text(c.label.as_deref().unwrap_or(&c.term)))
        .filter(|c| !c.is_empty())
        .collect();
    categories.dedup();
    let guid = Some(entry.id.trim())
        .filter(|id| !id.is_empty())
        .map(|id| text::strip_invalid_xml(id).into_owned());
    Item {
        guid,
        link,
        title,
        summary,
        content,
        authors,
        categories,
        language: entry
            .language
            .as_deref()
            .map(clean_language)
            .or_else(|| feed_language.map(str::to_owned)),
        published: entry.published,
        updated: entry.updated,
    }
}

/// A feed-rs `Text` as HTML: HTML stays HTML, plain text is escaped.
fn text_as_html(t: &model::Text) -> Option<String> {
    html_if_nonempty(&t.content, t.content_type.as_str())
}

fn html_if_nonempty(body: &str, media_type: &str) -> Option<String> {
    if body.trim().is_empty() {
        return None;
    }
    Some(if media_type.starts_with("text/plain") {
        text::text_to_html(body.trim())
    } else {
        text::strip_invalid_xml(body.trim()).into_owned()
    })
}

fn derived_title(html: &str) -> String {
    let text = text::html_to_text(html);
    if text.is_empty() {
        return "(untitled)".to_owned();
    }
    let mut title: String = text.chars().take(DERIVED_TITLE_CHARS).collect();
    if title.len() < text.len() {
        title.push('…');
    }
    title
}

fn clean_language(lang: &str) -> String {
    lang.trim().to_ascii_lowercase().replace('_', "-")
}

/// Turns feed-rs's error into a message an admin can act on.
fn describe_parse_error(body: &[u8], err: feed_rs::parser::ParseFeedError) -> NormalizeError {
    let head: String = String::from_utf8_lossy(&body[..body.len().min(512)])
        .trim_start_matches('\u{feff}')
        .trim_start()
        .to_ascii_lowercase();
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return NormalizeError("empty response body".into());
    }
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return NormalizeError("not a feed: the server sent an HTML page".into());
    }
    if let feed_rs::parser::ParseFeedError::ParseError(
        feed_rs::parser::ParseErrorKind::NoFeedRoot,
    ) = err
    {
        return NormalizeError(match root_element(&head) {
            Some(root) => format!(
                "not a feed: the document's root element is <{root}>, not <rss>, <feed> or <rdf:RDF>"
            ),
            None => "not a feed: neither XML nor JSON".to_owned(),
        });
    }
    NormalizeError(format!("not a readable feed: {err}"))
}

/// The name of the first element in `head` (lower-cased text), skipping
/// the XML declaration, processing instructions, comments and doctypes.
fn root_element(head: &str) -> Option<String> {
    let mut rest = head;
    loop {
        let start = rest.find('<')?;
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            rest = &rest[rest.find('>')? + 1..];
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        return (!name.is_empty()).then_some(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://news.example/feed.xml").unwrap()
    }

    #[test]
    fn rss2_items_are_normalized() {
        let rss = br#"<?xml version="1.0"?>
<rss version="2.0"><channel><title>Example &amp; Co</title><link>https://news.example/</link>
<language>en-US</language>
<item><title>Putin&#8217;s visit</title><link>/2024/a?utm_source=rss#x</link>
<guid isPermaLink="false"> 42 </guid><description>&lt;p&gt;Talks in &lt;b&gt;Beijing&lt;/b&gt;&lt;/p&gt;</description>
<category>World</category><category>World</category><pubDate>Thu, 16 May 2024 08:00:00 GMT</pubDate></item>
<item><description>No title here, only a rather long description text</description></item>
</channel></rss>"#;
        let feed = parse_feed(rss, &url()).unwrap();
        assert_eq!(feed.title.as_deref(), Some("Example & Co"));
        assert_eq!(feed.site_link.as_deref(), Some("https://news.example/"));
        assert_eq!(feed.items.len(), 2);
        let a = &feed.items[0];
        assert_eq!(a.guid.as_deref(), Some("42"));
        assert_eq!(a.title, "Putin\u{2019}s visit");
        assert_eq!(
            a.link.as_ref().unwrap().as_str(),
            "https://news.example/2024/a"
        );
        assert_eq!(a.summary.as_deref(), Some("<p>Talks in <b>Beijing</b></p>"));
        assert_eq!(a.categories, ["World"]);
        assert_eq!(a.language.as_deref(), Some("en-us"));
        assert!(a.published.is_some());
        let b = &feed.items[1];
        assert_eq!(b.guid, None, "no invented ids");
        assert_eq!(
            b.title,
            "No title here, only a rather long description text"
        );
    }

    #[test]
    fn atom_and_json_feed_are_read() {
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<updated>2024-01-01T00:00:00Z</updated>
<entry><id>urn:e1</id><title type="html">&lt;b&gt;Bold&lt;/b&gt; move</title><updated>2024-01-01T00:00:00Z</updated>
<link href="https://a.example/e1"/><content type="text">1 &lt; 2</content><author><name>Ann</name></author></entry></feed>"#;
        let feed = parse_feed(atom, &url()).unwrap();
        let e = &feed.items[0];
        assert_eq!(e.title, "Bold move");
        assert_eq!(e.content.as_deref(), Some("1 &lt; 2"));
        assert_eq!(e.authors, ["Ann"]);

        let json = br#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"j1","url":"https://j.example/1","title":"One","content_html":"<p>x</p>"}]}"#;
        let feed = parse_feed(json, &url()).unwrap();
        assert_eq!(feed.items[0].guid.as_deref(), Some("j1"));
        assert_eq!(feed.items[0].content.as_deref(), Some("<p>x</p>"));
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let html = b"<!DOCTYPE html><html><body>Login</body></html>";
        assert!(
            parse_feed(html, &url())
                .unwrap_err()
                .to_string()
                .contains("HTML page")
        );
        assert!(
            parse_feed(b"  \n", &url())
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        let broken = b"<rss version=\"2.0\"><channel><item><title>x</channel></rss>";
        assert!(
            parse_feed(broken, &url())
                .unwrap_err()
                .to_string()
                .starts_with("not a readable feed")
        );
    }
}
