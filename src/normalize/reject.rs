//! Why a body is not a feed, in words an admin can act on: an HTML page
//! (with the feed it links to, if any), a syntax error with its line and
//! column, an encoding this build cannot read, an image, JSON that is not a
//! JSON Feed, or XML of another kind.
//!
//! [`super::parse_feed`] calls [`describe`] only after both the strict
//! parse and the repaired one (see `recover`) have failed.

use super::recover::{self, Repaired};
use std::fmt;
use url::Url;

/// The kind of a rejection, for counts (the corpus sweep, metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectKind {
    Empty,
    /// An HTML page (perhaps a login or error page).
    Html,
    /// Binary data: an image, an archive, …
    Binary,
    /// A declared encoding this build cannot decode.
    Encoding,
    /// XML that is not well-formed, even after repair.
    XmlSyntax,
    /// Well-formed XML of another kind (OPML, KML, …).
    NotFeedXml,
    /// JSON that does not parse.
    JsonSyntax,
    /// JSON that is not a JSON Feed.
    NotFeedJson,
    /// Neither markup nor JSON.
    NotMarkup,
    /// A feed document that lacks something feed-rs requires.
    Invalid,
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectKind::Empty => "empty body",
            RejectKind::Html => "HTML page",
            RejectKind::Binary => "binary data",
            RejectKind::Encoding => "unsupported encoding",
            RejectKind::XmlSyntax => "XML syntax error",
            RejectKind::NotFeedXml => "XML, not a feed",
            RejectKind::NotFeedJson => "JSON, not a JSON Feed",
            RejectKind::JsonSyntax => "JSON syntax error",
            RejectKind::NotMarkup => "neither XML nor JSON",
            RejectKind::Invalid => "invalid feed",
        })
    }
}

/// A rejection: its kind and the message for the admin.
pub type Rejection = (RejectKind, String);

/// Describes why `body` (as sent, and as repaired) is not a feed. `err` is
/// feed-rs's error on the repaired text, if it failed.
pub fn describe(
    body: &[u8],
    repaired: &Repaired,
    err: Option<&feed_rs::parser::ParseFeedError>,
    feed_url: &Url,
) -> Rejection {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    let text = repaired.text.trim_start();
    if body.iter().all(u8::is_ascii_whitespace) {
        return (RejectKind::Empty, "empty response body".into());
    }
    if let Some(what) = binary_kind(body) {
        return (RejectKind::Binary, format!("not a feed: {what}"));
    }
    let root = recover::root_start(&repaired.unbalanced)
        .map(|i| element_name(&repaired.unbalanced[i + 1..]).to_ascii_lowercase());
    let doctype_html = repaired
        .unbalanced
        .get(..repaired.unbalanced.len().min(1024))
        .is_some_and(|head| head.to_ascii_lowercase().contains("<!doctype html"));
    if root.as_deref() == Some("html") || doctype_html {
        let hint = match discover_feed(&repaired.unbalanced, feed_url) {
            Some(url) => format!("did you mean {url}?"),
            None => "it links to no feed: a login or error page?".to_owned(),
        };
        return (RejectKind::Html, format!("not a feed: HTML page ({hint})"));
    }
    if let Some(label) = &repaired.unsupported_encoding {
        return (
            RejectKind::Encoding,
            format!(
                "unsupported encoding {label:?} (the document declares it; its bytes are not UTF-8 either)"
            ),
        );
    }
    if text.starts_with('{') || text.starts_with('[') {
        return describe_json(text, err);
    }
    if !text.starts_with('<') {
        let start: String = text.chars().take(40).collect();
        return (
            RejectKind::NotMarkup,
            format!("not a feed: neither XML nor JSON (starts with {start:?})"),
        );
    }
    if let Some((offset, message)) = first_xml_error(&repaired.unbalanced) {
        let (line, col) = line_col(&repaired.unbalanced, offset);
        return (
            RejectKind::XmlSyntax,
            format!(
                "XML error at line {} col {col}: {message}",
                line + repaired.lines_removed
            ),
        );
    }
    let Some(err) = err else {
        return (
            RejectKind::Invalid,
            "invalid feed: no complete item before the document breaks off".to_owned(),
        );
    };
    let position = match err {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            let root = root.unwrap_or_default();
            // feed-rs says "no feed root" also for an <rss> without <channel>.
            if root == "rss" {
                return (
                    RejectKind::Invalid,
                    "invalid feed: <rss> has no <channel>".to_owned(),
                );
            }
            return (
                RejectKind::NotFeedXml,
                format!(
                    "not a feed: the document's root element is <{root}>, not <rss>, <feed> or <rdf:RDF>"
                ),
            );
        }
        ParseFeedError::ParseError(
            ParseErrorKind::MissingContent { position, .. }
            | ParseErrorKind::UnknownMimeType { position, .. }
            | ParseErrorKind::UnknownEnumVariant { position, .. }
            | ParseErrorKind::IllegalState { position, .. },
        ) => Some(*position),
        _ => None,
    };
    let detail = match err {
        ParseFeedError::ParseError(kind) => kind.to_string(),
        other => other.to_string(),
    };
    let detail = detail
        .split(" at position ")
        .next()
        .unwrap_or(&detail)
        .to_owned();
    match position.and_then(|p| usize::try_from(p).ok()) {
        Some(p) => {
            let (line, col) = line_col(&repaired.text, p);
            (
                RejectKind::Invalid,
                format!(
                    "invalid feed at line {} col {col}: {detail}",
                    line + repaired.lines_removed
                ),
            )
        }
        None => (RejectKind::Invalid, format!("invalid feed: {detail}")),
    }
}

fn describe_json(text: &str, err: Option<&feed_rs::parser::ParseFeedError>) -> Rejection {
    match serde_json::from_str::<serde_json::Value>(text) {
        Err(e) => (
            RejectKind::JsonSyntax,
            format!("JSON error at line {} col {}: {e}", e.line(), e.column())
                .replace(&format!(" at line {} column {}", e.line(), e.column()), ""),
        ),
        Ok(value) => {
            let version = value.get("version").and_then(|v| v.as_str());
            match version {
                Some(v) if v.contains("jsonfeed.org") => (
                    RejectKind::Invalid,
                    match err {
                        Some(err) => format!("invalid JSON Feed ({v}): {err}"),
                        None => format!("invalid JSON Feed ({v})"),
                    },
                ),
                _ => (
                    RejectKind::NotFeedJson,
                    "not a feed: JSON, but not a JSON Feed (it has no \"version\": \"https://jsonfeed.org/version/1.1\")".to_owned(),
                ),
            }
        }
    }
}

/// Recognizes common binary formats by their magic numbers, and anything
/// else with NUL bytes that is not UTF-16/32 text.
fn binary_kind(body: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"\x89PNG", "a PNG image"),
        (b"GIF8", "a GIF image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"%PDF", "a PDF document"),
        (b"\x1F\x8B", "gzip data (compressed twice, or a .gz file)"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"BZh", "bzip2 data"),
        (b"\x7FELF", "an executable"),
    ];
    if let Some((_, what)) = MAGIC.iter().find(|(magic, _)| body.starts_with(magic)) {
        return Some(what);
    }
    let head = &body[..body.len().min(512)];
    let wide = matches!(
        head,
        [0, _, ..] | [_, 0, ..] | [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..]
    );
    let controls = head
        .iter()
        .filter(|b| **b < 0x20 && !b"\t\n\r\x0C".contains(b))
        .count();
    (!wide && controls * 10 > head.len()).then_some("binary data")
}

/// The first well-formedness error quick-xml finds, with its byte offset.
fn first_xml_error(text: &str) -> Option<(usize, String)> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_comments = false;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return None,
            Ok(_) => {}
            Err(e) => {
                let offset = usize::try_from(reader.error_position()).unwrap_or(0);
                return Some((offset, e.to_string()));
            }
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn element_name(text: &str) -> &str {
    let end = text
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(text.len());
    &text[..end]
}

/// The feed an HTML page announces with `<link rel="alternate"
/// type="application/rss+xml|atom+xml|feed+json" href="…">`, resolved
/// against the page's URL (or its `<base href>`).
pub fn discover_feed(html: &str, page_url: &Url) -> Option<Url> {
    const FEED_TYPES: &[&str] = &[
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
        "application/json",
    ];
    let lower = html.to_ascii_lowercase();
    let tag_at = |start: usize| -> &str {
        let end = html[start..].find('>').map_or(html.len(), |e| start + e);
        &html[start..end]
    };
    let base = lower
        .find("<base")
        .and_then(|i| recover::attribute(tag_at(i), "href"))
        .and_then(|href| page_url.join(&html_escape::decode_html_entities(href)).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut from = 0;
    while let Some(i) = lower[from..].find("<link") {
        let start = from + i;
        from = start + 5;
        let tag = tag_at(start);
        let rel = recover::attribute(tag, "rel")
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = recover::attribute(tag, "type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if !rel.split_whitespace().any(|r| r == "alternate")
            || !FEED_TYPES.contains(&kind.split(';').next().unwrap_or("").trim())
        {
            continue;
        }
        let Some(href) = recover::attribute(tag, "href") else {
            continue;
        };
        let href = html_escape::decode_html_entities(href.trim());
        if let Ok(url) = base.join(&href) {
            if matches!(url.scheme(), "http" | "https") {
                return Some(url);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://news.example/world/").unwrap()
    }

    #[test]
    fn feeds_are_discovered_in_html() {
        let html = r#"<html><head><link rel="stylesheet" href="s.css">
<LINK REL="alternate" TYPE="application/rss+xml" HREF="/rss?a=1&amp;b=2" title="RSS"></head></html>"#;
        assert_eq!(
            discover_feed(html, &page()).unwrap().as_str(),
            "https://news.example/rss?a=1&b=2"
        );
        let based = r#"<head><base href="https://cdn.example/x/"><link rel="alternate home" type="application/atom+xml" href=atom.xml></head>"#;
        assert_eq!(
            discover_feed(based, &page()).unwrap().as_str(),
            "https://cdn.example/x/atom.xml"
        );
        let none = r#"<html><link rel="alternate" hreflang="de" href="/de/"></html>"#;
        assert_eq!(discover_feed(none, &page()), None);
    }

    #[test]
    fn positions_are_lines_and_characters() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ж\nжx", 5), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }

    #[test]
    fn binary_is_named() {
        assert_eq!(binary_kind(b"\x89PNG\r\n\x1a\n...."), Some("a PNG image"));
        assert_eq!(binary_kind(b"<rss/>"), None);
        let utf16: Vec<u8> = "<rss/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(binary_kind(&utf16), None);
        assert_eq!(binary_kind(&[1, 2, 3, 4, 5, 6]), Some("binary data"));
    }
}
