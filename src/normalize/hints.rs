//! Publisher scheduling hints from a feed document's header: RSS `<ttl>`,
//! the syndication module's `sy:updatePeriod`/`sy:updateFrequency`, and
//! `<skipHours>`/`<skipDays>`. feed-rs does not expose these, so a quick
//! event scan reads them, stopping at the first item.

use crate::model::PublisherHints;
use quick_xml::Reader;
use quick_xml::events::Event;

/// Longest interval a hint may ask for; longer values are treated as this.
const MAX_HINT_SECS: u64 = 7 * 24 * 3600;

/// Reads the hints of `body`; a document without them (or not XML) has
/// none.
pub fn publisher_hints(body: &[u8]) -> PublisherHints {
    let mut reader = Reader::from_reader(body);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut ttl_minutes: Option<u64> = None;
    let mut period: Option<u64> = None;
    let mut frequency: Option<u64> = None;
    let mut hints = PublisherHints::default();
    // A malformed document simply ends the scan.
    while let Ok(event) = reader.read_event_into(&mut buf) {
        match event {
            Event::Start(e) => {
                let name = e.local_name().into_inner().to_ascii_lowercase();
                if matches!(name.as_str(), "item" | "entry") {
                    break;
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t[..].trim();
                match path.last().map(String::as_str) {
                    Some("ttl") => ttl_minutes = text.parse().ok(),
                    Some("updateperiod") => period = period_secs(text),
                    Some("updatefrequency") => frequency = text.parse().ok().filter(|f| *f > 0),
                    Some("hour") if parent_is(&path, "skiphours") => {
                        if let Ok(hour) = text.parse::<u32>() {
                            hints.skip_hours |= 1 << (hour % 24);
                        }
                    }
                    Some("day") if parent_is(&path, "skipdays") => {
                        if let Some(day) = weekday(text) {
                            hints.skip_days |= 1 << day;
                        }
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    let ttl = ttl_minutes.map(|m| m.saturating_mul(60));
    let sy = period.map(|p| p / frequency.unwrap_or(1));
    hints.min_interval_secs = ttl
        .into_iter()
        .chain(sy)
        .max()
        .filter(|s| *s > 0)
        .map(|s| s.min(MAX_HINT_SECS));
    // A feed that asks to be skipped at every hour or on every day cannot
    // mean it; ignore such hints rather than never polling.
    if hints.skip_hours == (1 << 24) - 1 {
        hints.skip_hours = 0;
    }
    if hints.skip_days == 0x7f {
        hints.skip_days = 0;
    }
    hints
}

fn parent_is(path: &[String], name: &str) -> bool {
    path.len() >= 2 && path[path.len() - 2] == name
}

fn period_secs(text: &str) -> Option<u64> {
    Some(match text.to_ascii_lowercase().as_str() {
        "hourly" => 3600,
        "daily" => 86_400,
        "weekly" => 7 * 86_400,
        "monthly" => 30 * 86_400,
        "yearly" => 365 * 86_400,
        _ => return None,
    })
}

/// 0 = Monday … 6 = Sunday.
fn weekday(text: &str) -> Option<u8> {
    let days = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let text = text.to_ascii_lowercase();
    days.iter().position(|d| *d == text).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_header_hints_and_stops_at_items() {
        let rss = br#"<?xml version="1.0"?>
<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>
<title>t</title><ttl>60</ttl>
<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>12</sy:updateFrequency>
<skipHours><hour>0</hour><hour>1</hour><hour>24</hour></skipHours>
<skipDays><day>Saturday</day><day>Sunday</day></skipDays>
<item><ttl>9999</ttl></item></channel></rss>"#;
        let h = publisher_hints(rss);
        // ttl 60 min vs daily/12 = 2 h: the longer wins.
        assert_eq!(h.min_interval_secs, Some(7200));
        assert_eq!(h.skip_hours, 0b11);
        assert_eq!(h.skip_days, (1 << 5) | (1 << 6));
    }

    #[test]
    fn absent_or_absurd_hints_are_none() {
        assert_eq!(
            publisher_hints(b"<feed><entry/></feed>"),
            PublisherHints::default()
        );
        assert_eq!(
            publisher_hints(b"{\"json\": true}"),
            PublisherHints::default()
        );
        assert_eq!(
            publisher_hints(b"<rss><channel><ttl>0</ttl></channel></rss>").min_interval_secs,
            None
        );
        let year = publisher_hints(b"<rss><channel><ttl>525600</ttl></channel></rss>");
        assert_eq!(year.min_interval_secs, Some(MAX_HINT_SECS));
        let mut all_hours = String::from("<rss><channel><skipHours>");
        for h in 0..24 {
            all_hours.push_str(&format!("<hour>{h}</hour>"));
        }
        all_hours.push_str("</skipHours></channel></rss>");
        assert_eq!(publisher_hints(all_hours.as_bytes()).skip_hours, 0);
    }
}
