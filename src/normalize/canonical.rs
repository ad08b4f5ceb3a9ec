//! Canonical links: one spelling per story URL, computed before any identity
//! key, so that `https://Example.com:443/a?utm_source=x#top` and
//! `https://example.com/a` name the same story.
//!
//! Two forms exist:
//! - [`canonical_link`] is still a working URL (safe to serve): lower-case
//!   scheme and host (done by the `url` crate), default port, fragment and
//!   tracking parameters dropped, remaining query parameters sorted.
//! - [`comparison_key`] additionally forgets `http` vs `https` and a leading
//!   `www.`; it is only ever used as an identity key, never served.

use url::Url;

/// Query parameters that only track the reader, never select content.
/// Matched case-insensitively; entries ending in `_` are prefixes.
pub const TRACKING_PARAMS: &[&str] = &[
    "utm_",
    "mtm_",
    "pk_",
    "fbclid",
    "gclid",
    "dclid",
    "gbraid",
    "wbraid",
    "yclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "ocid",
    "cmpid",
    "at_medium",
    "at_campaign",
    "at_custom1",
    "at_custom2",
    "at_custom3",
    "at_custom4",
    "at_link_id",
    "at_link_origin",
    "at_link_type",
    "at_ptr_name",
    "at_bbc_team",
    "at_format",
    "at_platform",
    "ito",
    "igshid",
    "_hsenc",
    "_hsmi",
    "ref_src",
    "s_cid",
    "smid",
    "xtor",
];

fn is_tracking_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    TRACKING_PARAMS.iter().any(|p| {
        if p.ends_with('_') {
            name.starts_with(p)
        } else {
            name == *p
        }
    })
}

/// Resolves `href` against `base` (for relative links) and canonicalizes it.
/// Returns `None` for anything that is not an http(s) URL.
pub fn canonical_link(href: &str, base: Option<&Url>) -> Option<Url> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let mut url = match Url::parse(href) {
        Ok(url) => url,
        Err(url::ParseError::RelativeUrlWithoutBase) => base?.join(href).ok()?,
        Err(_) => return None,
    };
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    url.set_fragment(None);
    if url.query().is_some() {
        let mut pairs: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.is_empty() {
            url.set_query(None);
        } else {
            pairs.sort();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    Some(url)
}

/// The identity form of a canonical link: scheme and a leading `www.`
/// dropped, so `http://www.example.com/a` and `https://example.com/a` agree.
pub fn comparison_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    let host = host.strip_prefix("www.").unwrap_or(host);
    let mut key = String::with_capacity(url.as_str().len());
    key.push_str(host);
    if let Some(port) = url.port() {
        key.push(':');
        key.push_str(&port.to_string());
    }
    key.push_str(url.path());
    if let Some(q) = url.query() {
        key.push('?');
        key.push_str(q);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_links_from_real_world_shapes() {
        let base = Url::parse("https://www.themoscowtimes.com/rss/news").unwrap();
        let cases = [
            (
                "https://www.bbc.co.uk/news/world-europe-123?at_medium=RSS&at_campaign=KARANGA",
                "https://www.bbc.co.uk/news/world-europe-123",
            ),
            (
                "HTTPS://Example.COM:443/a/b?z=1&utm_source=rss&a=2#comments",
                "https://example.com/a/b?a=2&z=1",
            ),
            ("http://example.com:80/x", "http://example.com/x"),
            ("http://example.com:8080/x", "http://example.com:8080/x"),
            (
                "/2024/05/16/putin-xi-a123",
                "https://www.themoscowtimes.com/2024/05/16/putin-xi-a123",
            ),
            (
                "https://meduza.io/news/2025/07/20/x?fbclid=IwAR&utm_medium=social",
                "https://meduza.io/news/2025/07/20/x",
            ),
            (
                "https://www.wsj.com/articles/x?mod=rss_world",
                "https://www.wsj.com/articles/x?mod=rss_world",
            ),
        ];
        for (input, want) in cases {
            let got = canonical_link(input, Some(&base)).map(|u| u.to_string());
            assert_eq!(got.as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn non_web_links_are_rejected() {
        for bad in [
            "",
            "   ",
            "javascript:alert(1)",
            "mailto:a@b.c",
            "relative/without/base",
        ] {
            assert_eq!(canonical_link(bad, None), None, "{bad}");
        }
    }

    #[test]
    fn comparison_key_unifies_scheme_and_www() {
        let a = canonical_link("http://www.example.com/a?b=1", None).unwrap();
        let b = canonical_link("https://example.com/a?b=1&utm_campaign=x", None).unwrap();
        assert_eq!(comparison_key(&a), comparison_key(&b));
        let c = canonical_link("https://example.com/a?b=2", None).unwrap();
        assert_ne!(comparison_key(&a), comparison_key(&c));
    }
}
