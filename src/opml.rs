//! OPML 2.0, the format feed readers exchange subscription lists in:
//! writing the sources tidings polls and the feeds it serves, and reading
//! another reader's export (`tidings import-opml`).

use crate::normalize::text::strip_invalid_xml;
use chrono::Utc;
use quick_xml::Reader;
use quick_xml::events::Event;
use std::fmt::Write;

/// One subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outline {
    pub title: String,
    pub xml_url: String,
    pub html_url: Option<String>,
}

/// The configured feeds as outlines, titled by the config, else by the
/// feed itself (from `states`), with their web pages when known.
pub fn source_outlines(
    feeds: &[crate::config::FeedConfig],
    states: Vec<crate::model::FeedState>,
) -> Vec<Outline> {
    let states: std::collections::HashMap<_, _> = states.into_iter().map(|s| (s.id(), s)).collect();
    feeds
        .iter()
        .map(|f| {
            let state = states.get(&crate::model::FeedId::for_url(f.url.as_str()));
            Outline {
                title: f
                    .title
                    .clone()
                    .or_else(|| state.and_then(|s| s.title.clone()))
                    .unwrap_or_else(|| f.url.to_string()),
                xml_url: f.url.to_string(),
                html_url: state.and_then(|s| s.site_link.clone()),
            }
        })
        .collect()
}

/// An OPML 2.0 document listing `outlines`.
pub fn render(title: &str, outlines: &[Outline]) -> String {
    let mut out = String::with_capacity(256 + outlines.len() * 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    let _ = writeln!(out, "  <title>{}</title>", esc(title));
    let _ = writeln!(
        out,
        "  <dateCreated>{}</dateCreated>",
        Utc::now().to_rfc2822()
    );
    let _ = writeln!(out, "  <docs>http://opml.org/spec2.opml</docs>");
    out.push_str("</head>\n<body>\n");
    for o in outlines {
        let _ = write!(
            out,
            "  <outline type=\"rss\" text=\"{t}\" title=\"{t}\" xmlUrl=\"{}\"",
            esc(&o.xml_url),
            t = esc(&o.title)
        );
        if let Some(html) = &o.html_url {
            let _ = write!(out, " htmlUrl=\"{}\"", esc(html));
        }
        out.push_str("/>\n");
    }
    out.push_str("</body>\n</opml>\n");
    out
}

fn esc(s: &str) -> String {
    crate::serve::atom::escape(&strip_invalid_xml(s)).into_owned()
}

/// Every outline with an `xmlUrl`, at any depth (readers nest them in
/// folders), in document order.
pub fn parse(document: &[u8]) -> Result<Vec<Outline>, String> {
    let mut reader = Reader::from_reader(document);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("not valid XML at byte {}: {e}", reader.buffer_position()))?;
        match event {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name().into_inner().to_ascii_lowercase();
                if name == "opml" {
                    saw_opml = true;
                }
                if name != "outline" {
                    buf.clear();
                    continue;
                }
                let mut attrs = std::collections::HashMap::new();
                for a in e.attributes().flatten() {
                    let key = a.key.local_name().into_inner().to_ascii_lowercase();
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.into_owned())
                        .unwrap_or_default();
                    attrs.insert(key, value);
                }
                if let Some(xml_url) = attrs.get("xmlurl").filter(|u| !u.trim().is_empty()) {
                    let title = attrs
                        .get("title")
                        .or(attrs.get("text"))
                        .cloned()
                        .unwrap_or_default();
                    out.push(Outline {
                        title: title.trim().to_owned(),
                        xml_url: xml_url.trim().to_owned(),
                        html_url: attrs
                            .get("htmlurl")
                            .map(|u| u.trim().to_owned())
                            .filter(|u| !u.is_empty()),
                    });
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !saw_opml {
        return Err("not an OPML document (no <opml> element)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_nested_folders() {
        let outlines = vec![
            Outline {
                title: "The Moscow Times & co".into(),
                xml_url: "https://www.themoscowtimes.com/rss/news".into(),
                html_url: Some("https://www.themoscowtimes.com/".into()),
            },
            Outline {
                title: "TASS".into(),
                xml_url: "https://tass.com/rss/v2.xml?a=1&b=2".into(),
                html_url: None,
            },
        ];
        let doc = render("sources", &outlines);
        assert_eq!(parse(doc.as_bytes()).unwrap(), outlines);

        let nested = br#"<?xml version="1.0"?><opml version="1.0"><body>
<outline text="News"><outline text="BBC" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
<outline text="No feed here"/></outline></body></opml>"#;
        let parsed = parse(nested).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].title, "BBC");
        assert!(parse(b"<rss/>").unwrap_err().contains("not an OPML"));
        assert!(parse(b"<opml><body><outline").is_err());
    }
}
