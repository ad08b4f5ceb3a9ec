//! Normalize: raw feed bytes → [`ParsedFeed`], one model for every format
//! feed-rs reads (RSS 0.9x/1.0/2.0, Atom 0.3/1.0, JSON Feed).
//!
//! This stage decides what each item *says* (plain-text title, HTML summary
//! and content, absolute canonical link, dates, authors, categories) but not
//! what it *is*: identity is `dedup`'s job. Everything here is pure and
//! synchronous; callers run it off the async runtime.

pub mod canonical;
pub mod hints;
pub mod recover;
pub mod reject;
pub mod text;

pub use recover::Fix;
pub use reject::RejectKind;

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
    /// What had to be repaired before feed-rs could read the document
    /// (empty for a well-formed feed).
    pub repairs: Vec<Fix>,
    /// Items beyond [`MAX_ITEMS`], not read.
    pub items_dropped: usize,
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

#[cfg(test)]
impl Item {
    /// An item with a guid, a link (made canonical) and a title, and
    /// nothing else: test fixtures add what they need with struct update
    /// syntax.
    pub fn bare(guid: Option<&str>, link: Option<&str>, title: &str) -> Item {
        Item {
            guid: guid.map(String::from),
            link: link.and_then(|l| canonical::canonical_link(l, None)),
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
}

/// Why a body could not be read as a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizeError {
    kind: RejectKind,
    message: String,
}

impl NormalizeError {
    /// What kind of rejection this is (for counts and metrics).
    pub fn kind(&self) -> RejectKind {
        self.kind
    }
}

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NormalizeError {}

/// Titles derived from the summary are cut at this many characters.
const DERIVED_TITLE_CHARS: usize = 100;

/// Items read from one fetch at most. A feed is newest-first, so these are
/// its newest stories; the cap bounds the memory and the size of the one
/// store transaction a fetch becomes (a hostile feed can list 100,000).
pub const MAX_ITEMS: usize = 2_000;

/// A title longer than this (in characters) is cut: no reader shows more,
/// and a hostile feed can send megabytes.
pub const MAX_TITLE_CHARS: usize = 1_000;

/// Summaries and contents longer than this (in bytes of HTML) are cut, so
/// one entry cannot fill the store or every served page.
pub const MAX_HTML_BYTES: usize = 1 << 20;

/// How many element-by-element repairs (see [`recover::fix_type_attribute`])
/// one document may need before it is given up on.
const MAX_TARGETED_REPAIRS: usize = 8;

/// Parses `body` fetched from `feed_url` (used to resolve relative links).
///
/// feed-rs reads the bytes as sent first; when it fails, the document is
/// repaired (see [`recover`]) and read once more, and [`ParsedFeed::repairs`]
/// says what was fixed. When both fail, the error says why as precisely as
/// it can (see [`reject`]).
pub fn parse_feed(body: &[u8], feed_url: &Url) -> Result<ParsedFeed, NormalizeError> {
    // quick-xml (inside feed-rs) panics on some UTF-16 documents; those are
    // decoded by `recover` instead.
    if !recover::is_wide(body) {
        if let Ok(feed) = read_with_feed_rs(body, feed_url) {
            return Ok(from_model(feed, body, feed_url, Vec::new()));
        }
    }
    let mut repaired = recover::repair(body);
    let mut result = read_with_feed_rs(repaired.text.as_bytes(), feed_url);
    // Targeted repairs, each at the position feed-rs names; a few at most,
    // since each costs a parse.
    for _ in 0..MAX_TARGETED_REPAIRS {
        let Err(feed_rs::parser::ParseFeedError::ParseError(
            feed_rs::parser::ParseErrorKind::UnknownMimeType { position, .. },
        )) = &result
        else {
            break;
        };
        let at = usize::try_from(*position).unwrap_or(usize::MAX);
        let Some(fixed) = recover::fix_type_attribute(&repaired.text, at) else {
            break;
        };
        repaired.text = fixed;
        if !repaired.fixes.contains(&Fix::ContentType) {
            repaired.fixes.push(Fix::ContentType);
        }
        result = read_with_feed_rs(repaired.text.as_bytes(), feed_url);
    }
    match result {
        // A document read only up to an error in its first item gives an
        // empty feed: the error is the better answer.
        Ok(feed) if repaired.dropped_item && feed.entries.is_empty() => {
            let (kind, message) = reject::describe(body, &repaired, None, feed_url);
            Err(NormalizeError { kind, message })
        }
        Ok(feed) => Ok(from_model(
            feed,
            repaired.text.as_bytes(),
            feed_url,
            repaired.fixes,
        )),
        Err(err) => {
            let (kind, message) = reject::describe(body, &repaired, Some(&err), feed_url);
            Err(NormalizeError { kind, message })
        }
    }
}

fn read_with_feed_rs(
    body: &[u8],
    feed_url: &Url,
) -> Result<model::Feed, feed_rs::parser::ParseFeedError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(feed_url.as_str()))
        // feed-rs would otherwise invent ids from link+title (an edited title
        // becomes a new story) or random UUIDs (a new story on every poll).
        // An empty id tells `dedup` that the publisher gave none.
        .id_generator(|_, _, _| String::new())
        .build();
    // A panic in the parser must cost one feed its poll, not the daemon a
    // worker thread: it becomes an error like any other. (The parser is
    // dropped right after, so no state broken by the panic is reused.)
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(body))).unwrap_or_else(
        |panic| {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(feed_rs::parser::ParseFeedError::IoError(
                std::io::Error::other(format!("the feed parser failed: {why}")),
            ))
        },
    )
}

fn from_model(feed: model::Feed, body: &[u8], feed_url: &Url, repairs: Vec<Fix>) -> ParsedFeed {
    let site_link = feed
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .and_then(|l| canonical::canonical_link(&l.href, Some(feed_url)))
        .map(String::from);
    let feed_language = feed.language.as_deref().map(clean_language);
    let items_dropped = feed.entries.len().saturating_sub(MAX_ITEMS);
    let items = feed
        .entries
        .into_iter()
        .take(MAX_ITEMS)
        .map(|entry| item_from(entry, feed_url, feed_language.as_deref()))
        .collect();
    ParsedFeed {
        title: feed
            .title
            .map(|t| cap_chars(text::clean_text(&t.content), MAX_TITLE_CHARS))
            .filter(|t| !t.is_empty()),
        site_link,
        language: feed_language,
        hints: hints::publisher_hints(body),
        items,
        repairs,
        items_dropped,
    }
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
    let summary = entry
        .summary
        .as_ref()
        .and_then(text_as_html)
        .or_else(|| {
            // Video feeds (YouTube's) carry an entry's text only as
            // `media:description`.
            entry
                .media
                .iter()
                .find_map(|m| m.description.as_ref().and_then(text_as_html))
        })
        .map(cap_html);
    let content = entry
        .content
        .as_ref()
        .and_then(|c| {
            let body = c.body.as_deref()?;
            html_if_nonempty(body, c.content_type.as_str())
        })
        .map(cap_html);
    let title = entry
        .title
        .as_ref()
        .map(|t| cap_chars(text::clean_text(&t.content), MAX_TITLE_CHARS))
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

/// Cuts `text` to at most `max` characters, marking the cut with "…".
fn cap_chars(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text,
        Some((at, _)) => {
            let mut cut = text;
            cut.truncate(at);
            cut.push('…');
            cut
        }
    }
}

/// Cuts HTML to at most [`MAX_HTML_BYTES`] at a character boundary. A tag
/// cut in half is harmless: the HTML is sanitized (and so balanced) when
/// served, and [`text::html_to_text`] drops an unterminated tag.
fn cap_html(mut html: String) -> String {
    if html.len() <= MAX_HTML_BYTES {
        return html;
    }
    let mut at = MAX_HTML_BYTES;
    while !html.is_char_boundary(at) {
        at -= 1;
    }
    html.truncate(at);
    html.push('…');
    html
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
    fn a_video_feed_s_media_description_is_the_summary() {
        let atom = br#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
<title>Al Jazeera English</title><id>yt:channel:x</id><updated>2021-10-17T13:00:16+00:00</updated>
<entry><id>yt:video:d6yrtGStsI4</id><title>Carbon Capture: A green way forward?</title>
<link rel="alternate" href="https://www.youtube.com/watch?v=d6yrtGStsI4"/><updated>2021-10-17T13:00:16+00:00</updated>
<media:group><media:title>Carbon Capture</media:title>
<media:content url="https://www.youtube.com/v/d6yrtGStsI4?version=3" type="application/x-shockwave-flash" width="640" height="390"/>
<media:description>Can we pull CO2 &amp; store it?</media:description></media:group>
</entry></feed>"#;
        let feed = parse_feed(atom, &url()).unwrap();
        assert_eq!(
            feed.items[0].summary.as_deref(),
            Some("Can we pull CO2 &amp; store it?")
        );
    }

    #[test]
    fn errors_say_what_went_wrong() {
        let error = |body: &[u8]| parse_feed(body, &url()).unwrap_err();
        let html = b"<!DOCTYPE html><html><body>Login</body></html>";
        let e = error(html);
        assert_eq!(e.kind(), RejectKind::Html);
        assert_eq!(
            e.to_string(),
            "not a feed: HTML page (it links to no feed: a login or error page?)"
        );
        let page = br#"<html><head><link rel="alternate" type="application/atom+xml" href="/atom"></head></html>"#;
        assert_eq!(
            error(page).to_string(),
            "not a feed: HTML page (did you mean https://news.example/atom?)"
        );
        assert_eq!(error(b"  \n").kind(), RejectKind::Empty);
        let broken = b"<rss version=\"2.0\"><channel>\n<item><title a=\"x>t</title>";
        let e = error(broken);
        assert_eq!(e.kind(), RejectKind::XmlSyntax, "{e}");
        assert!(
            e.to_string().starts_with("XML error at line 2 col 7: "),
            "{e}"
        );
        let e = error(b"<opml version=\"2.0\"><body/></opml>");
        assert_eq!(e.kind(), RejectKind::NotFeedXml, "{e}");
        assert!(e.to_string().contains("<opml>"), "{e}");
        assert_eq!(error(b"{\"a\": 1}").kind(), RejectKind::NotFeedJson);
        assert_eq!(error(b"{\"a\": ").kind(), RejectKind::JsonSyntax);
        assert_eq!(error(b"GIF89a\x01\x00").kind(), RejectKind::Binary);
    }

    #[test]
    fn what_feed_rs_rejects_is_repaired() {
        // (Leading blank lines and junk before the declaration: feed-rs 3
        // reads those itself.)
        let cases: [(&[u8], Fix); 5] = [
            (b"<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><id>1</id><title type=\"text/plain\">A</title></entry></feed>", Fix::ContentType),
            (b"<rss><channel><item><title>A&nbsp;B</title></item></channel></rss>", Fix::HtmlEntities),
            (b"<rss version=\"2.0\"><channel><item><title>R&D</title></item></channel></rss>", Fix::BareAmpersand),
            (b"<rss><channel><item><title>A</title></item></channel></rss>", Fix::RssVersion),
            (b"<rss version=\"2.0\"><channel><item><title>caf\xE9</title></item></channel></rss>", Fix::Charset),
        ];
        for (body, fix) in cases {
            let feed = parse_feed(body, &url()).unwrap_or_else(|e| panic!("{fix}: {e}"));
            assert!(feed.repairs.contains(&fix), "{fix}: {:?}", feed.repairs);
            assert_eq!(feed.items.len(), 1, "{fix}");
        }
        let feed = parse_feed(
            b"<rss version=\"2.0\"><channel><item><title>A&nbsp;B</title></item></channel></rss>",
            &url(),
        )
        .unwrap();
        assert_eq!(feed.items[0].title, "A B");
        let feed = parse_feed(
            b"<rss version=\"2.0\"><channel><item><title>caf\xE9</title></item></channel></rss>",
            &url(),
        )
        .unwrap();
        assert_eq!(feed.items[0].title, "café");
    }

    #[test]
    fn huge_feeds_and_entries_are_capped() {
        let mut rss = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for i in 0..MAX_ITEMS + 5 {
            rss.push_str(&format!("<item><guid>{i}</guid><title>{i}</title></item>"));
        }
        rss.push_str("</channel></rss>");
        let feed = parse_feed(rss.as_bytes(), &url()).unwrap();
        assert_eq!((feed.items.len(), feed.items_dropped), (MAX_ITEMS, 5));
        let big = format!(
            "<rss version=\"2.0\"><channel><item><title>{}</title><description>{}</description></item></channel></rss>",
            "t".repeat(MAX_TITLE_CHARS + 10),
            "d".repeat(MAX_HTML_BYTES + 10)
        );
        let feed = parse_feed(big.as_bytes(), &url()).unwrap();
        assert_eq!(feed.items[0].title.chars().count(), MAX_TITLE_CHARS + 1);
        assert!(feed.items[0].summary.as_ref().unwrap().len() <= MAX_HTML_BYTES + 3);
    }
}
