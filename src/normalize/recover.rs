//! Recovery: a second chance for documents that feed-rs rejects but that
//! forgiving readers (Python feedparser, browsers) read anyway.
//!
//! [`super::parse_feed`] first gives feed-rs the bytes exactly as sent;
//! only when that fails does it call [`repair`] and try once more on the
//! repaired text. Every repair is one that a real feed needs and that
//! cannot change what a well-formed document means:
//!
//! - **charset**: a BOM, a UTF-16/32 byte pattern, the declared encoding
//!   when the bytes are valid in it, UTF-8 when valid, else chardetng's
//!   guess; the text is re-encoded as UTF-8 and the declaration rewritten;
//! - **leading junk**: blank lines, a BOM or a PHP warning before the
//!   document;
//! - **entities**: HTML entities XML does not define (`&nbsp;`) become
//!   character references; an `&` that starts no reference is escaped;
//! - **`<rss>` version**: a missing or unknown version is read as 2.0;
//! - **structure**: end tags out of order are closed in order, stray ones
//!   dropped, and a document cut off in the middle is closed after its last
//!   complete item (the cut-off item is dropped rather than stored half);
//!   content after the root element is dropped.
//!
//! Repairs keep line numbers where they can (removed lines are counted) so
//! that an error found after repair still points at the admin's document.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
use quick_xml::Reader;
use quick_xml::events::Event;
use std::fmt;

/// One kind of repair, for logs and the corpus sweep's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fix {
    /// Decoded with another encoding than the document claims (or implies).
    Charset,
    /// Blank lines, a BOM or other text before the document.
    LeadingJunk,
    /// HTML entities turned into character references.
    HtmlEntities,
    /// `&` that started no reference, escaped; invalid character
    /// references removed.
    BareAmpersand,
    /// `<rss>` without a version feed-rs knows.
    RssVersion,
    /// End tags reordered or dropped.
    Structure,
    /// A document cut off (or unreadable from some point on) closed after
    /// its last complete item.
    Truncated,
    /// Content after the root element.
    TrailingJunk,
    /// An Atom `type` attribute feed-rs does not accept (`text/plain` on a
    /// title, `html` on a `src` content), mapped to the nearest it does.
    ContentType,
}

impl fmt::Display for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fix::Charset => "charset",
            Fix::LeadingJunk => "leading junk",
            Fix::HtmlEntities => "HTML entities",
            Fix::BareAmpersand => "bare &",
            Fix::RssVersion => "rss version",
            Fix::Structure => "unbalanced tags",
            Fix::Truncated => "cut off",
            Fix::TrailingJunk => "trailing junk",
            Fix::ContentType => "Atom type attribute",
        })
    }
}

/// A document after repair.
#[derive(Debug)]
pub struct Repaired {
    /// UTF-8 text; its XML declaration (if any) says so.
    pub text: String,
    /// What was changed, in pipeline order, without repeats.
    pub fixes: Vec<Fix>,
    /// The text before the structural pass (tags rebalanced), in which a
    /// syntax error is still where the publisher put it.
    pub unbalanced: String,
    /// Lines removed from the start of the document: add to a line number
    /// found in `text` or `unbalanced` to get the original line.
    pub lines_removed: usize,
    /// The encoding the bytes were read as.
    pub encoding: &'static str,
    /// Whether the structural pass dropped an item cut off in the middle.
    pub dropped_item: bool,
    /// A declared encoding this build cannot decode (e.g. `"x-fake"`), when
    /// the bytes were not valid UTF-8 either.
    pub unsupported_encoding: Option<String>,
}

/// Repairs `body`; see the module documentation for what is repaired.
pub fn repair(body: &[u8]) -> Repaired {
    let mut fixes = Vec::new();
    let decoded = decode(body);
    if decoded.changed {
        fixes.push(Fix::Charset);
    }
    let (text, lines_removed) = strip_leading_junk(&decoded.text);
    if lines_removed.1 {
        fixes.push(Fix::LeadingJunk);
    }
    if text.starts_with(['{', '[']) {
        // JSON: none of the XML repairs apply (and would damage it).
        return Repaired {
            text: text.to_owned(),
            unbalanced: text.to_owned(),
            fixes,
            lines_removed: lines_removed.0,
            dropped_item: false,
            encoding: decoded.encoding,
            unsupported_encoding: decoded.unsupported,
        };
    }
    let text = rewrite_declaration(text);
    let (text, entity_fixes) = fix_references(&text);
    fixes.extend(entity_fixes);
    let text = match fix_rss_version(&text) {
        Some(fixed) => {
            fixes.push(Fix::RssVersion);
            fixed
        }
        None => text,
    };
    let (balanced, structure_fixes, dropped_item) = balance(&text);
    fixes.extend(structure_fixes);
    Repaired {
        text: balanced,
        fixes,
        unbalanced: text,
        lines_removed: lines_removed.0,
        dropped_item,
        encoding: decoded.encoding,
        unsupported_encoding: decoded.unsupported,
    }
}

// ---- charset ----

struct Decoded {
    text: String,
    encoding: &'static str,
    /// Whether a parser trusting the document would have read it otherwise.
    changed: bool,
    unsupported: Option<String>,
}

/// Whether `body` is UTF-16 or UTF-32 (by BOM or byte pattern).
pub fn is_wide(body: &[u8]) -> bool {
    utf32_order(body).is_some()
        || utf16_pattern(body).is_some()
        || body.starts_with(&[0xFF, 0xFE])
        || body.starts_with(&[0xFE, 0xFF])
}

/// UTF-32 is not in encoding_rs (the web never uses it) but feeds do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Utf32 {
    Le,
    Be,
}

fn decode(body: &[u8]) -> Decoded {
    // A BOM or a byte pattern of `<` in a wide encoding decides first, as
    // the XML spec's appendix F says.
    if let Some(order) = utf32_order(body) {
        let skip = if body.starts_with(&[0xFF, 0xFE, 0, 0]) || body.starts_with(&[0, 0, 0xFE, 0xFF])
        {
            4
        } else {
            0
        };
        return Decoded {
            text: decode_utf32(&body[skip..], order),
            encoding: if order == Utf32::Le {
                "UTF-32LE"
            } else {
                "UTF-32BE"
            },
            changed: true,
            unsupported: None,
        };
    }
    if let Some((encoding, bom_len)) = Encoding::for_bom(body) {
        let (text, _) = encoding.decode_without_bom_handling(&body[bom_len..]);
        return Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
            changed: false,
            unsupported: None,
        };
    }
    if let Some(encoding) = utf16_pattern(body) {
        let (text, _) = encoding.decode_without_bom_handling(body);
        return Decoded {
            text: text.into_owned(),
            encoding: encoding.name(),
            changed: false,
            unsupported: None,
        };
    }
    let declared = declared_encoding(body);
    let mut unsupported = None;
    // What quick-xml (inside feed-rs) would have used.
    let mut trusted = UTF_8;
    if let Some(label) = &declared {
        match encoding_for_label(label) {
            // A document in an 8-bit encoding cannot be UTF-16: the
            // declaration is wrong.
            Some(e) if e == UTF_16LE || e == UTF_16BE => {}
            Some(e) => {
                trusted = e;
                if let Some(text) = e.decode_without_bom_handling_and_without_replacement(body) {
                    return Decoded {
                        text: text.into_owned(),
                        encoding: e.name(),
                        changed: false,
                        unsupported: None,
                    };
                }
            }
            None => unsupported = Some(label.clone()),
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        return Decoded {
            text: text.to_owned(),
            encoding: "UTF-8",
            changed: trusted != UTF_8,
            // Readable after all: the strange label did not matter.
            unsupported: None,
        };
    }
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    let guess = detector.guess(None, true);
    let (text, _, _) = guess.decode(body);
    Decoded {
        text: text.into_owned(),
        encoding: guess.name(),
        changed: guess != trusted,
        unsupported,
    }
}

/// Maps an encoding label, including spellings Python accepts
/// (`utf_8`, `u16`, `iso8859_1`), to an encoding_rs encoding.
fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().to_ascii_lowercase().replace('_', "-");
    let label = match label.as_str() {
        "u8" | "utf8" => "utf-8",
        "u16" | "utf16" => "utf-16",
        other => other,
    };
    Encoding::for_label(label.as_bytes())
}

fn utf32_order(body: &[u8]) -> Option<Utf32> {
    match body {
        [0xFF, 0xFE, 0, 0, ..] | [b'<', 0, 0, 0, ..] => Some(Utf32::Le),
        [0, 0, 0xFE, 0xFF, ..] | [0, 0, 0, b'<', ..] => Some(Utf32::Be),
        _ => None,
    }
}

fn decode_utf32(body: &[u8], order: Utf32) -> String {
    body.chunks_exact(4)
        .map(|c| {
            let bytes = [c[0], c[1], c[2], c[3]];
            let n = match order {
                Utf32::Le => u32::from_le_bytes(bytes),
                Utf32::Be => u32::from_be_bytes(bytes),
            };
            char::from_u32(n).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect()
}

/// UTF-16 without a BOM: `<` (or whitespace) followed or preceded by a NUL.
fn utf16_pattern(body: &[u8]) -> Option<&'static Encoding> {
    match body {
        [c, 0, ..] if c.is_ascii() && *c != 0 => Some(UTF_16LE),
        [0, c, ..] if c.is_ascii() && *c != 0 => Some(UTF_16BE),
        _ => None,
    }
}

/// The `encoding` of an XML declaration at the start of `body` (an
/// ASCII-compatible encoding is assumed: wide ones were handled before).
fn declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(1024)];
    let start = find(head, b"<?xml")?;
    let end = start + find(&head[start..], b"?>")?;
    let decl = std::str::from_utf8(&head[start..end]).ok()?;
    let value = attribute(decl, "encoding")?;
    Some(value.to_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The value of `name="…"` (or `'…'`) in a tag's or declaration's text.
pub(crate) fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut rest = tag;
    while let Some(at) = find_ascii_ci(rest, name) {
        let before_ok = at == 0
            || rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_whitespace());
        let after = rest[at + name.len()..].trim_start();
        rest = &rest[at + name.len()..];
        if !before_ok {
            continue;
        }
        let Some(value) = after.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let quote = value.chars().next()?;
        if quote == '"' || quote == '\'' {
            let inner = &value[1..];
            return inner.find(quote).map(|end| &inner[..end]);
        }
        // Unquoted (HTML allows it): up to whitespace or the tag's end.
        let end = value
            .find(|c: char| c.is_whitespace() || c == '>')
            .unwrap_or(value.len());
        return Some(value[..end].trim_end_matches('/'));
    }
    None
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

// ---- leading junk and the declaration ----

/// Drops everything before the document's first markup: BOMs, blank lines,
/// and text such as a PHP warning. Returns the text, and the lines removed
/// with whether anything was removed at all.
fn strip_leading_junk(text: &str) -> (&str, (usize, bool)) {
    let trimmed = text.trim_start_matches(|c: char| c == '\u{feff}' || c.is_whitespace());
    let start_ok = |s: &str| {
        s.starts_with("<?xml")
            || s.starts_with("<!")
            || s.starts_with('{')
            || s.starts_with('<') && s[1..].starts_with(|c: char| c.is_alphabetic() || c == '_')
    };
    let start = if start_ok(trimmed) {
        text.len() - trimmed.len()
    } else if let Some(decl) = text.find("<?xml") {
        decl
    } else {
        text.char_indices()
            .find(|(i, c)| *c == '<' && start_ok(&text[*i..]))
            .map_or(0, |(i, _)| i)
    };
    let removed = &text[..start];
    (
        &text[start..],
        (removed.matches('\n').count(), !removed.is_empty()),
    )
}

/// The text is UTF-8 from here on: an XML declaration naming another
/// encoding would make the parser decode it wrongly. Keeps line numbers.
fn rewrite_declaration(text: &str) -> String {
    if !text.starts_with("<?xml") {
        return text.to_owned();
    }
    let Some(end) = text.find("?>") else {
        return text.to_owned();
    };
    let decl = &text[..end];
    let mut out = String::with_capacity(text.len());
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
    for _ in 0..decl.matches('\n').count() {
        out.push('\n');
    }
    out.push_str(&text[end + 2..]);
    out
}

// ---- entities and ampersands ----

/// Replaces HTML entities with character references, escapes bare `&`
/// and drops references to characters XML forbids, everywhere except in
/// CDATA sections, comments, processing instructions and the doctype.
fn fix_references(text: &str) -> (String, Vec<Fix>) {
    let mut out = String::with_capacity(text.len() + 64);
    let mut fixes = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            // Markup whose content is not parsed: copy it whole.
            let verbatim_end = [
                ("<![CDATA[", "]]>"),
                ("<!--", "-->"),
                ("<?", "?>"),
                ("<!DOCTYPE", ">"),
            ]
            .iter()
            .find(|(open, _)| rest.starts_with(open))
            .map(|(open, close)| {
                if *open == "<!DOCTYPE" {
                    doctype_end(rest)
                } else {
                    rest[open.len()..]
                        .find(close)
                        .map_or(rest.len(), |j| open.len() + j + close.len())
                }
            });
            let take = verbatim_end.unwrap_or(1);
            out.push_str(&rest[..take]);
            rest = &rest[take..];
            continue;
        }
        // An `&`.
        let (replacement, len, fix) = reference(rest);
        if let Some(fix) = fix {
            if !fixes.contains(&fix) {
                fixes.push(fix);
            }
        }
        out.push_str(&replacement);
        rest = &rest[len..];
    }
    out.push_str(rest);
    fixes.sort();
    (out, fixes)
}

/// The end of a `<!DOCTYPE …>`, past an internal subset `[…]` if any.
fn doctype_end(text: &str) -> usize {
    let bracket = text.find('[');
    let close = text.find('>');
    match (bracket, close) {
        (Some(b), Some(c)) if b < c => text[b..]
            .find("]")
            .and_then(|j| text[b + j..].find('>').map(|k| b + j + k + 1))
            .unwrap_or(text.len()),
        (_, Some(c)) => c + 1,
        _ => text.len(),
    }
}

/// What to write for the `&` at the start of `text`: the replacement, how
/// many bytes of `text` it replaces, and the fix it is (if any).
fn reference(text: &str) -> (std::borrow::Cow<'static, str>, usize, Option<Fix>) {
    use std::borrow::Cow;
    let body = &text[1..];
    let end = body
        .char_indices()
        .take(40)
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))
        .filter(|(_, c)| *c == ';')
        .map(|(i, _)| i);
    let Some(end) = end else {
        return (Cow::Borrowed("&amp;"), 1, Some(Fix::BareAmpersand));
    };
    let name = &body[..end];
    let whole = end + 2;
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse::<u32>().ok(),
        };
        return match code.and_then(char::from_u32) {
            // XML spells hexadecimal references with a lower-case x only.
            Some(c) if number.starts_with('X') && super::text::is_xml_char(c) => (
                Cow::Owned(format!("&#x{:x};", c as u32)),
                whole,
                Some(Fix::BareAmpersand),
            ),
            Some(c) if super::text::is_xml_char(c) => {
                (Cow::Owned(text[..whole].to_owned()), whole, None)
            }
            // `&#0;`, `&#xD800;`, `&#1114112;`: no character to keep.
            _ => (Cow::Borrowed(""), whole, Some(Fix::BareAmpersand)),
        };
    }
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return (Cow::Borrowed("&amp;"), 1, Some(Fix::BareAmpersand));
    }
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        return (Cow::Owned(text[..whole].to_owned()), whole, None);
    }
    let decoded = html_escape::decode_html_entities(&text[..whole]);
    if decoded != text[..whole] {
        let refs: String = decoded
            .chars()
            .map(|c| format!("&#{};", c as u32))
            .collect();
        return (Cow::Owned(refs), whole, Some(Fix::HtmlEntities));
    }
    // Unknown to HTML too: perhaps declared in the doctype. feed-rs keeps
    // unresolved references as text, which is what feedparser shows.
    (Cow::Owned(text[..whole].to_owned()), whole, None)
}

// ---- <rss> version ----

/// feed-rs reads `<rss>` only with version 2.0, 0.91 or 0.92; feeds also
/// say nothing, 0.93, 0.94, 2.01 or 1.0. Read them all as 2.0 (0.9x and 2.0
/// differ only in optional elements).
fn fix_rss_version(text: &str) -> Option<String> {
    let start = root_start(text)?;
    let tag_end = start + text[start..].find('>')?;
    let tag = &text[start..tag_end];
    let rest = tag.strip_prefix("<rss")?;
    if !rest.starts_with(|c: char| c.is_whitespace() || c == '/') && !rest.is_empty() {
        return None;
    }
    match attribute(tag, "version") {
        Some("2.0" | "0.91" | "0.92" | "") => None,
        Some(other) => {
            let at = start
                + tag
                    .find(&format!("\"{other}\""))
                    .or_else(|| tag.find(&format!("'{other}'")))?;
            let mut out = String::with_capacity(text.len());
            out.push_str(&text[..at]);
            out.push_str("\"2.0\"");
            out.push_str(&text[at + other.len() + 2..]);
            Some(out)
        }
        None => {
            let at = start + "<rss".len();
            let mut out = String::with_capacity(text.len() + 16);
            out.push_str(&text[..at]);
            out.push_str(" version=\"2.0\"");
            out.push_str(&text[at..]);
            Some(out)
        }
    }
}

/// Byte offset of the root element's `<`, past the prolog.
pub(crate) fn root_start(text: &str) -> Option<usize> {
    let mut at = 0;
    loop {
        let i = at + text[at..].find('<')?;
        let rest = &text[i..];
        if rest.starts_with("<?") {
            at = i + rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            at = i + rest.find("-->")? + 3;
        } else if rest.starts_with("<!") {
            at = i + doctype_end(rest);
        } else {
            return Some(i);
        }
    }
}

// ---- structure ----

/// Elements that hold one story: when a document is cut off inside one,
/// that story is dropped rather than stored incomplete.
const ITEM_ELEMENTS: &[&[u8]] = &[b"item", b"entry"];

/// Rebalances tags: an end tag closes the open elements down to its match
/// (or is dropped when nothing open matches), a document that ends (or
/// stops parsing) inside elements is closed after its last complete item,
/// and content after the root element is dropped.
fn balance(text: &str) -> (String, Vec<Fix>, bool) {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;
    config.check_comments = false;
    let mut out = String::with_capacity(text.len() + 64);
    // Open elements: qualified name and where in `out` their start tag is.
    let mut open: Vec<(String, usize)> = Vec::new();
    let mut fixes = Vec::new();
    let mut root_closed = false;
    let mut dropped_item = false;
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader.read_event();
        let after = reader.buffer_position() as usize;
        let raw = text.get(before..after).unwrap_or("");
        match event {
            Ok(Event::Eof) => break,
            Err(_) => {
                fixes.push(Fix::Truncated);
                dropped_item = cut_to_last_item(&mut out, &mut open);
                break;
            }
            Ok(_) if root_closed => {
                if !raw.trim().is_empty() {
                    fixes.push(Fix::TrailingJunk);
                    break;
                }
            }
            Ok(Event::Start(start)) => {
                open.push((start.name().as_ref().to_owned(), out.len()));
                out.push_str(raw);
            }
            Ok(Event::End(end)) => {
                let name = end.name().as_ref().to_owned();
                let name = name.trim_end();
                match open.iter().rposition(|(n, _)| n == name) {
                    Some(depth) => {
                        if depth + 1 != open.len() {
                            fixes.push(Fix::Structure);
                        }
                        while open.len() > depth + 1 {
                            if let Some((n, _)) = open.pop() {
                                out.push_str(&format!("</{n}>"));
                            }
                        }
                        open.pop();
                        out.push_str(raw);
                        root_closed = open.is_empty();
                    }
                    None => fixes.push(Fix::Structure),
                }
            }
            Ok(_) => out.push_str(raw),
        }
    }
    if !open.is_empty() {
        if !fixes.contains(&Fix::Truncated) {
            fixes.push(Fix::Truncated);
        }
        dropped_item |= cut_to_last_item(&mut out, &mut open);
    }
    fixes.sort();
    fixes.dedup();
    (out, fixes, dropped_item)
}

/// Drops an item left open at the end, then closes everything else.
/// Returns whether an item was dropped.
fn cut_to_last_item(out: &mut String, open: &mut Vec<(String, usize)>) -> bool {
    let local = |n: &str| n.rsplit(':').next().unwrap_or(n).to_ascii_lowercase();
    let dropped = match open
        .iter()
        .position(|(n, _)| ITEM_ELEMENTS.contains(&local(n).as_bytes()))
    {
        Some(depth) => {
            out.truncate(open[depth].1);
            open.truncate(depth);
            true
        }
        None => false,
    };
    while let Some((n, _)) = open.pop() {
        out.push_str(&format!("</{n}>"));
    }
    dropped
}

// ---- Atom type attributes ----

/// feed-rs rejects a whole feed over one Atom `type` it does not accept,
/// naming the element's position (just past its start tag). Maps that
/// element's `type` to the nearest accepted value, as feedparser reads it:
/// a MIME type for a `<content src>`, else `text`, `html` or `xhtml`.
pub fn fix_type_attribute(text: &str, position: usize) -> Option<String> {
    let end = position.min(text.len());
    let start = text.get(..end)?.rfind('<')?;
    let tag = &text[start..end];
    let value = attribute(tag, "type")?;
    let value_at = start
        + tag
            .find(&format!("\"{value}\""))
            .or_else(|| tag.find(&format!("'{value}'")))?
        + 1;
    let lower = value.to_ascii_lowercase();
    let name = tag[1..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("");
    let local = name.rsplit(':').next().unwrap_or(name);
    let mapped = if local == "content" && attribute(tag, "src").is_some() {
        match lower.as_str() {
            "html" => "text/html",
            "xhtml" => "application/xhtml+xml",
            _ => "text/plain",
        }
    } else if lower.contains("xhtml") {
        "xhtml"
    } else if lower.contains("html") {
        "html"
    } else {
        "text"
    };
    if mapped == value {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..value_at]);
    out.push_str(mapped);
    out.push_str(&text[value_at + value.len()..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(input: &[u8]) -> (String, Vec<Fix>) {
        let r = repair(input);
        (r.text, r.fixes)
    }

    #[test]
    fn leading_junk_and_bom_are_dropped_and_lines_counted() {
        let r = repair(b"\n\n  \xEF\xBB\xBF<?xml version=\"1.0\"?><rss version=\"2.0\"/>");
        assert!(r.text.starts_with("<?xml"), "{}", r.text);
        assert_eq!(r.fixes, [Fix::LeadingJunk]);
        assert_eq!(r.lines_removed, 2);
        let (text, _) =
            fixed(b"Warning: include(x.php) failed in /var/www\n<?xml version=\"1.0\"?><feed/>");
        assert!(text.starts_with("<?xml"));
    }

    #[test]
    fn charsets_are_detected_and_the_declaration_rewritten() {
        // Declared UTF-8, but Latin-1 bytes ("café").
        let r = repair(b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss><channel><title>caf\xE9</title></channel></rss>");
        assert!(r.text.contains("café"), "{}", r.text);
        assert!(r.fixes.contains(&Fix::Charset));
        // Declared windows-1251, and it is: decoded, declaration now UTF-8.
        let r = repair(
            b"<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss>\xCF\xF3\xF2\xE8\xED</rss>",
        );
        assert!(r.text.contains("Путин"), "{}", r.text);
        assert!(
            r.text
                .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
        );
        assert!(!r.fixes.contains(&Fix::Charset));
        // UTF-16 without a BOM, and UTF-32 with one.
        let utf16: Vec<u8> = "<rss/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(repair(&utf16).text, "<rss version=\"2.0\"/>");
        let mut utf32 = vec![0, 0, 0xFE, 0xFF];
        utf32.extend("<rss/>".chars().flat_map(|c| (c as u32).to_be_bytes()));
        let r = repair(&utf32);
        assert!(r.text.starts_with("<rss"), "{}", r.text);
        assert_eq!(r.encoding, "UTF-32BE");
        // A label nobody knows, over bytes that are not UTF-8.
        let r = repair(b"<?xml version=\"1.0\" encoding=\"x-fake\"?><rss>\xFF\xFE\xFD</rss>");
        assert_eq!(r.unsupported_encoding.as_deref(), Some("x-fake"));
    }

    #[test]
    fn entities_and_ampersands() {
        let (text, fixes) = fixed(
            b"<rss version=\"2.0\"><t a=\"?x=1&y=2\">Tom &amp; Jerry&nbsp;&mdash; R&D &#0; &#x41; &unknown;<![CDATA[a & b &nbsp;]]><!-- & --></t></rss>",
        );
        assert_eq!(
            text,
            "<rss version=\"2.0\"><t a=\"?x=1&amp;y=2\">Tom &amp; Jerry&#160;&#8212; R&amp;D  &#x41; &unknown;<![CDATA[a & b &nbsp;]]><!-- & --></t></rss>"
        );
        assert_eq!(fixes, [Fix::HtmlEntities, Fix::BareAmpersand]);
        // A doctype's internal subset is left alone.
        let (text, _) = fixed(b"<!DOCTYPE x [<!ENTITY a \"&b;\">]><rss version=\"2.0\">&a;</rss>");
        assert!(
            text.starts_with("<!DOCTYPE x [<!ENTITY a \"&b;\">]>"),
            "{text}"
        );
    }

    #[test]
    fn rss_versions() {
        assert_eq!(
            fixed(b"<rss><channel/></rss>").0,
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            fixed(b"<?xml version=\"1.0\"?>\n<rss version='2.01'><channel/></rss>").0,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(fixed(b"<rss version=\"0.91\"/>").1, []);
        assert_eq!(fixed(b"<rssfeed/>").1, []);
    }

    #[test]
    fn structure_is_balanced_and_cut_off_items_dropped() {
        let (text, fixes) =
            fixed(b"<rss version=\"2.0\"><channel><item><b>x</item></channel></rss>");
        assert_eq!(
            text,
            "<rss version=\"2.0\"><channel><item><b>x</b></item></channel></rss>"
        );
        assert_eq!(fixes, [Fix::Structure]);
        let (text, fixes) = fixed(
            b"<rss version=\"2.0\"><channel></p><item><title>1</title></item><item><title>tru",
        );
        assert_eq!(fixes, [Fix::Structure, Fix::Truncated]);
        assert_eq!(
            text,
            "<rss version=\"2.0\"><channel><item><title>1</title></item></channel></rss>"
        );
        let (text, fixes) = fixed(b"<feed></feed>\n<script>evil()</script>");
        assert_eq!(text, "<feed></feed>");
        assert_eq!(fixes, [Fix::TrailingJunk]);
    }

    #[test]
    fn atom_types_are_mapped() {
        let doc = "<feed><title type=\"text/plain\">t</title><content src=\"/a\" type='html'/>";
        let once = fix_type_attribute(doc, 30).unwrap();
        assert_eq!(
            once,
            "<feed><title type=\"text\">t</title><content src=\"/a\" type='html'/>"
        );
        let twice = fix_type_attribute(&once, once.len()).unwrap();
        assert!(twice.ends_with("type='text/html'/>"), "{twice}");
        assert_eq!(fix_type_attribute("<title type=\"text\">", 19), None);
    }

    #[test]
    fn trailing_junk_is_dropped() {
        let (text, fixes) = fixed(b"<feed></feed>\n<script>evil()</script>");
        assert_eq!(text, "<feed></feed>");
        assert_eq!(fixes, [Fix::TrailingJunk]);
    }

    #[test]
    fn attributes_are_read_quoted_or_not() {
        assert_eq!(
            attribute("<link rel=alternate href='/a'>", "href"),
            Some("/a")
        );
        assert_eq!(
            attribute("<link rel=alternate href='/a'>", "rel"),
            Some("alternate")
        );
        assert_eq!(attribute("<link data-href=\"x\">", "href"), None);
        assert_eq!(
            attribute("<?xml version=\"1.0\" encoding=\"utf-8\"", "encoding"),
            Some("utf-8")
        );
    }
}
