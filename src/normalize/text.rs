//! Text hygiene for everything that comes out of a feed: plain text from
//! HTML, and removal of characters that XML 1.0 forbids (upstream feeds do
//! contain NULs and other control characters; written back out they would
//! make our own served feed invalid).

/// Whether `c` may appear in an XML 1.0 document.
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Removes characters that are illegal in XML 1.0. Borrows when there is
/// nothing to remove (the common case).
pub fn strip_invalid_xml(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|c| is_xml_char(*c)).collect())
    }
}

/// Converts an HTML fragment to one line of plain text: tags dropped (and
/// the contents of `script`/`style`), entities decoded, whitespace collapsed,
/// XML-illegal characters removed. A `<` that does not start a tag is kept,
/// so plain text with "a < b" survives.
pub fn html_to_text(html: &str) -> String {
    let mut stripped = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(pos) = rest.find('<') {
        stripped.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !starts_tag {
            stripped.push('<');
            rest = after;
            continue;
        }
        let Some(end) = after.find('>') else {
            // An unterminated tag: drop the rest, as a browser would.
            rest = "";
            break;
        };
        let tag = &after[..end];
        rest = &after[end + 1..];
        let name_len = tag.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let name = &tag[..name_len];
        if name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style") {
            let close = format!("</{name}");
            match find_ascii_case_insensitive(rest, &close) {
                Some(i) => {
                    rest = &rest[i..];
                    rest = rest.find('>').map_or("", |j| &rest[j + 1..]);
                }
                None => rest = "",
            }
        }
        // Block-level tags separate words.
        stripped.push(' ');
    }
    stripped.push_str(rest);
    let decoded = html_escape::decode_html_entities(&stripped);
    collapse_valid(&decoded)
}

/// `text` without XML-illegal characters, each run of whitespace made one
/// space and none at either end: one pass and one allocation, as every
/// summary goes through this whenever it is read. Runs of ordinary
/// characters are copied whole; only a byte that may start whitespace or
/// an illegal character is decoded and looked at.
fn collapse_valid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    let keep = |out: &mut String, run: &str, space: &mut bool| {
        if run.is_empty() {
            return;
        }
        if std::mem::take(space) && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(run);
    };
    let bytes = text.as_bytes();
    let (mut run, mut i) = (0, 0);
    while i < bytes.len() {
        if !may_be_space_or_illegal(bytes[i]) {
            i += 1;
            continue;
        }
        // A byte below 0x21 or a lead byte: `i` is a char boundary.
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        let (legal, blank) = (is_xml_char(c), c.is_whitespace());
        if legal && !blank {
            i += c.len_utf8();
            continue;
        }
        keep(&mut out, &text[run..i], &mut space);
        space |= legal && blank;
        i += c.len_utf8();
        run = i;
    }
    keep(&mut out, &text[run..], &mut space);
    out
}

/// Whether a byte may begin whitespace or an XML-illegal character: ASCII
/// controls and space, and the UTF-8 lead bytes 0xC2 (U+0080–U+00BF:
/// U+0085, U+00A0), 0xE1 (U+1000–U+1FFF: U+1680), 0xE2 (U+2000–U+2FFF: the
/// general punctuation spaces), 0xE3 (U+3000–U+3FFF: U+3000) and 0xEF
/// (U+F000–U+FFFF: U+FFFE, U+FFFF).
fn may_be_space_or_illegal(b: u8) -> bool {
    b <= b' ' || matches!(b, 0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF)
}

/// Plain text of a title or name: the same as [`html_to_text`] when it
/// looks like markup or contains entities, else just cleaned up.
pub fn clean_text(text: &str) -> String {
    if text.contains('<') || text.contains('&') {
        html_to_text(text)
    } else {
        collapse_valid(text)
    }
}

/// Escapes plain text for inclusion in HTML.
pub fn text_to_html(text: &str) -> String {
    html_escape::encode_text(&strip_invalid_xml(text)).into_owned()
}

fn find_ascii_case_insensitive(haystack: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    haystack
        .as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_strips_tags_scripts_and_entities() {
        assert_eq!(
            html_to_text("<p>Putin&nbsp;&amp; Xi</p><script>alert('x<y')</script><b>meet</b>"),
            "Putin & Xi meet"
        );
        assert_eq!(html_to_text("a < b, 1<2"), "a < b, 1<2");
        assert_eq!(html_to_text("x <STYLE>p{}</Style> y"), "x y");
        assert_eq!(html_to_text("cut <a href=\"x"), "cut");
        assert_eq!(html_to_text("&#1055;&#x0443;"), "Пу");
    }

    #[test]
    fn collapsing_valid_text_in_one_pass_equals_stripping_then_collapsing() {
        // The plain way: remove, split on whitespace, join.
        let collapse_whitespace =
            |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        for text in [
            "",
            "  ",
            " a  b ",
            "a\u{0}b",
            "a \u{1} b",
            "\u{1}\u{2}",
            "x\u{a0}\u{2003}y\t\nz ",
            " \u{FFFE} lead",
            "Путин  и\u{b}Си",
        ] {
            let two_passes = collapse_whitespace(&strip_invalid_xml(text));
            assert_eq!(collapse_valid(text), two_passes, "{text:?}");
        }
        // Every string of up to three characters from ones that share a
        // lead byte with whitespace or illegal characters, or are either.
        let alphabet = [
            'a', ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{0}', '\u{1f}', '\u{7f}', '\u{85}',
            '\u{a0}', '\u{a9}', '\u{1680}', '\u{1681}', '\u{2003}', '\u{2028}', '\u{202f}',
            '\u{205f}', '\u{2060}', '€', '\u{3000}', '、', '\u{feff}', '\u{fffd}', '\u{fffe}',
            '\u{ffff}', 'П', '😀',
        ];
        let mut text = String::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    for len in 1..=3 {
                        text.clear();
                        text.extend([a, b, c].into_iter().take(len));
                        let two_passes = collapse_whitespace(&strip_invalid_xml(&text));
                        assert_eq!(collapse_valid(&text), two_passes, "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(
            clean_text("Bad\u{0}title\u{1b}[0m \u{FFFE}ok"),
            "Badtitle[0m ok"
        );
        assert!(matches!(
            strip_invalid_xml("fine"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn text_to_html_escapes() {
        assert_eq!(text_to_html("a<b & c"), "a&lt;b &amp; c");
    }
}
