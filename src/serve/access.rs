//! Access tokens for private feeds: `?token=…`, `Authorization: Bearer …`
//! or HTTP Basic (the token as password, or as user name for readers that
//! only have one field). Compared in constant time.

use super::Catalog;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Whether the request may read the feed `slug`.
pub fn allowed(
    catalog: &Catalog,
    slug: &str,
    query_token: Option<&str>,
    headers: &HeaderMap,
) -> bool {
    let wanted: Vec<&str> = catalog
        .access
        .global
        .iter()
        .chain(catalog.access.per_topic.get(slug))
        .map(String::as_str)
        .collect();
    if wanted.is_empty() {
        return true;
    }
    let presented = presented_tokens(query_token, headers);
    // Every comparison runs, whatever matches, so timing says nothing.
    let mut ok = false;
    for candidate in &presented {
        for token in &wanted {
            ok |= constant_time_eq(candidate.as_bytes(), token.as_bytes());
        }
    }
    ok
}

pub fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "this feed needs a token\n").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"tidings\", charset=\"UTF-8\""),
    );
    response
}

fn presented_tokens(query_token: Option<&str>, headers: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = query_token.map(str::to_owned).into_iter().collect();
    let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return out;
    };
    let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        out.push(value.trim().to_owned());
    } else if scheme.eq_ignore_ascii_case("basic") {
        if let Some(decoded) = base64_decode(value.trim()).and_then(|b| String::from_utf8(b).ok()) {
            let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
            out.push(password.to_owned());
            out.push(user.to_owned());
        }
    }
    out
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Standard base64 (RFC 4648), as HTTP Basic uses it.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_basic_credentials() {
        assert_eq!(base64_decode("dXNlcjpzM2NyZXQ=").unwrap(), b"user:s3cret");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("YWI=").unwrap(), b"ab");
        assert!(base64_decode("!!!!").is_none());
    }

    #[test]
    fn tokens_from_query_bearer_and_basic() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_tokens(Some("q"), &h), ["q"]);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(presented_tokens(None, &h), ["abc"]);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic dXNlcjpzM2NyZXQ="),
        );
        assert_eq!(presented_tokens(None, &h), ["s3cret", "user"]);
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"short", b"longer"));
    }
}
