//! Entry HTML made safe for subscribers' readers: an allow-list sanitizer
//! (ammonia) drops scripts, styles, event handlers, `javascript:` and other
//! non-web URLs, iframes, forms and known tracking pixels, and makes
//! relative `href`/`src` absolute against the story's URL.
//!
//! Runs when a page is rendered (and the result is cached until the store
//! changes), so the fast ingest path never pays for it and a stricter
//! policy applies to stored entries at once.

use std::borrow::Cow;
use std::collections::HashSet;
use url::Url;

/// Image hosts and paths that only count readers.
const TRACKER_PATTERNS: &[&str] = &[
    "feeds.feedburner.com/~r/",
    "feeds.feedburner.com/~ff/",
    "pixel.wp.com",
    "stats.wordpress.com",
    "pixel.quantserve.com",
    "www.google-analytics.com",
    "ssl.google-analytics.com",
    "pixel.facebook.com",
    "www.facebook.com/tr",
    "mf.feeds.reuters.com",
    "feedsportal.com",
    "/pixel.gif",
    "/tracking/",
    "sb.scorecardresearch.com",
    "counter.rambler.ru",
    "mc.yandex.ru",
];

/// Sanitizes one HTML fragment. `base` resolves relative URLs; without it,
/// relative URLs are dropped (a reader could not follow them anyway).
pub fn html(fragment: &str, base: Option<&Url>) -> String {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(|element, attribute, value| {
            if element == "img" && attribute == "src" && is_tracker(value) {
                return None;
            }
            Some(Cow::Borrowed(value))
        });
    match base {
        Some(base) => builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone())),
        None => builder.url_relative(ammonia::UrlRelative::Deny),
    };
    builder.clean(fragment).to_string()
}

fn is_tracker(src: &str) -> bool {
    let lower = src.to_ascii_lowercase();
    TRACKER_PATTERNS.iter().any(|p| lower.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_html_is_defused() {
        let base = Url::parse("https://news.example/2026/11/story.html").unwrap();
        let hostile = r#"<p onclick="steal()">Hi <script>alert(1)</script><a href="javascript:alert(2)">x</a>
<img src="x.png" onerror="alert(3)"><iframe src="https://evil.example/"></iframe>
<a href="/other">rel</a><img src="https://feeds.feedburner.com/~r/foo/~4/bar"><style>p{}</style>
<form action="/post"><input name="q"></form></p>"#;
        let clean = html(hostile, Some(&base));
        for bad in [
            "script",
            "onclick",
            "onerror",
            "javascript:",
            "iframe",
            "feedburner",
            "<style",
            "<form",
            "<input",
        ] {
            assert!(!clean.contains(bad), "{bad} survived: {clean}");
        }
        assert!(
            clean.contains(r#"src="https://news.example/2026/11/x.png""#),
            "{clean}"
        );
        assert!(
            clean.contains(r#"href="https://news.example/other""#),
            "{clean}"
        );
        assert!(clean.contains("Hi "));
    }

    #[test]
    fn relative_urls_without_a_base_are_dropped() {
        let clean = html(
            r#"<a href="/x">x</a> <a href="https://a.example/">a</a>"#,
            None,
        );
        assert!(!clean.contains("href=\"/x\""), "{clean}");
        assert!(clean.contains("https://a.example/"), "{clean}");
    }
}
