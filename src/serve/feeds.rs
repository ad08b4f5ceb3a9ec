//! `GET /feeds/{slug}.{atom,json,rss}`: one page of a served feed.
//!
//! Order of work: resolve the slug and format (404), check access (401),
//! read the page from the render cache or build and render it on a
//! blocking thread, then answer conditionally: `If-None-Match` (or, without
//! it, `If-Modified-Since`) gets `304 Not Modified` with no body. A client
//! that takes gzip gets the copy compressed at render time (other codings
//! are left to the router's compression layer).

use super::view::{self, Format, PageRequest};
use super::{
    AppState, CacheKey, Catalog, DEFAULT_LIMIT, MAX_LIMIT, Rendered, access, atom, base_key,
    base_url, jsonfeed, rss,
};
use crate::config::ALL_SLUG;
use crate::store::Cursor;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct FeedParams {
    limit: Option<usize>,
    before: Option<String>,
    token: Option<String>,
    collapse: Option<bool>,
}

pub(super) async fn feed(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(params): Query<FeedParams>,
    headers: HeaderMap,
) -> Response {
    let Resolved { key, catalog } = match resolve(&state, &file, params, &headers) {
        Ok(resolved) => resolved,
        Err(refused) => return refused.into_response(),
    };
    let max_age = catalog.max_age;
    let format = key.0.format;
    let mut generation = state.generation();
    let mut cached = state.cached(&key, generation);
    // Held while rendering: see `AppState::renders`.
    let mut _render_permit = None;
    if cached.is_none() {
        _render_permit = state.renders.acquire().await.ok();
        // Another reader may have rendered it while this one waited.
        generation = state.generation();
        cached = state.cached(&key, generation);
    }

    let doc = match cached {
        Some(doc) => doc,
        None => {
            let store = state.store();
            let base = base_url(&catalog, &headers);
            let request = key.0.clone();
            let built = tokio::task::spawn_blocking(move || {
                let topic = catalog.topic(&request.slug);
                let view = view::build(&store, &catalog, topic, &request, &base)?;
                let body = match request.format {
                    Format::Atom => atom::render(&view),
                    Format::Json => jsonfeed::render(&view),
                    Format::Rss => rss::render(&view),
                };
                let gzip = gzip(body.as_bytes());
                Ok::<_, crate::store::StoreError>((
                    body,
                    gzip,
                    view.updated,
                    request.before.is_some(),
                ))
            })
            .await;
            let (body, gzip, updated, archive) = match built {
                Ok(Ok(built)) => built,
                Ok(Err(e)) => {
                    tracing::error!("cannot render feed {file}: {e}");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "store error\n").into_response();
                }
                Err(e) => {
                    tracing::error!("render task for {file} failed: {e}");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
                }
            };
            let doc = Arc::new(Rendered {
                etag: etag_of(&body),
                last_modified: http_date(updated),
                cache_control: cache_control(max_age, archive),
                content_type: format.content_type(),
                body: Bytes::from(body),
                gzip,
            });
            state.remember(key, generation, Arc::clone(&doc));
            doc
        }
    };
    respond(&doc, &headers)
}

/// A feed request checked against the catalog: its key in the render
/// cache (what to render, and for which base URL).
struct Resolved {
    key: CacheKey,
    catalog: Arc<Catalog>,
}

/// Why [`resolve`] turned a request away.
enum Refused {
    NoSuchFeed,
    NeedsToken,
    BadCursor,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NoSuchFeed => (StatusCode::NOT_FOUND, "no such feed\n").into_response(),
            Refused::NeedsToken => access::unauthorized(),
            Refused::BadCursor => {
                (StatusCode::BAD_REQUEST, "bad `before` cursor\n").into_response()
            }
        }
    }
}

/// Resolves the slug and format (404), checks access (401) and the
/// `before` cursor (400): everything a request needs before the cache.
fn resolve(
    state: &AppState,
    file: &str,
    params: FeedParams,
    headers: &HeaderMap,
) -> Result<Resolved, Refused> {
    let Some((slug, format)) = Format::split(file) else {
        return Err(Refused::NoSuchFeed);
    };
    let catalog = state.catalog();
    // Only whether it exists here: the topic itself is needed (and read
    // again) only when the page must be rendered.
    if slug != ALL_SLUG && catalog.topic(slug).is_none() {
        return Err(Refused::NoSuchFeed);
    }
    if !access::allowed(&catalog, slug, params.token.as_deref(), headers) {
        return Err(Refused::NeedsToken);
    }
    let before = match params.before.as_deref().map(Cursor::parse) {
        None => None,
        Some(Some(cursor)) => Some(cursor),
        Some(None) => return Err(Refused::BadCursor),
    };
    let request = PageRequest {
        slug: slug.to_owned(),
        format,
        limit: params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
        before,
        token: params.token.filter(|_| catalog.is_private(slug)),
        collapse: params.collapse.unwrap_or(true),
    };
    let key = (request, base_key(&catalog, headers).to_owned());
    Ok(Resolved { key, catalog })
}

/// The `304 Not Modified` for a conditional request of a page the render
/// cache holds and the client already has: what polling readers ask for
/// most. Answered before the router (see `App`), by the same checks and
/// the same [`respond`] as [`feed`]; a 304 has no body, so the compression
/// layer would leave it as it is. `None`: anything else, which takes the
/// route and is answered there.
pub(super) fn fast_not_modified(state: &AppState, request: &Request) -> Option<Response> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let headers = request.headers();
    if !headers.contains_key(header::IF_NONE_MATCH)
        && !headers.contains_key(header::IF_MODIFIED_SINCE)
    {
        return None;
    }
    // The one segment the route's `{file}` matches, as `Path` gives it; a
    // percent-encoded one takes the route.
    let file = request.uri().path().strip_prefix("/feeds/")?;
    if file.is_empty() || file.contains(['%', '/']) {
        return None;
    }
    // The extractor the route uses, so a query it refuses takes the route.
    let Query(params) = Query::<FeedParams>::try_from_uri(request.uri()).ok()?;
    let resolved = resolve(state, file, params, headers).ok()?;
    let doc = state.cached(&resolved.key, state.generation())?;
    if !not_modified(&doc, headers) {
        return None;
    }
    let mut response = respond_as(&doc, headers, true);
    // What the router adds to every bodiless response (hyper leaves it out
    // of a 304 to a GET and keeps it for a HEAD).
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    Some(response)
}

/// Archive pages never change; the newest page changes at most as often
/// as feeds are polled.
fn cache_control(max_age: std::time::Duration, archive: bool) -> HeaderValue {
    let value = if archive {
        "public, max-age=86400".to_owned()
    } else {
        format!("public, max-age={}", max_age.as_secs())
    };
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("public, max-age=60"))
}

/// Whether the client's copy is `doc` (RFC 9110 §13.1.3: If-None-Match
/// wins; If-Modified-Since only counts without it).
fn not_modified(doc: &Rendered, headers: &HeaderMap) -> bool {
    match headers.get(header::IF_NONE_MATCH) {
        Some(inm) => etag_matches(inm, &doc.etag),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .zip(
                doc.last_modified
                    .to_str()
                    .ok()
                    .and_then(|v| DateTime::parse_from_rfc2822(v).ok()),
            )
            .is_some_and(|(since, modified)| modified <= since),
    }
}

/// The response for a rendered document, `304` when the client has it.
fn respond(doc: &Rendered, headers: &HeaderMap) -> Response {
    respond_as(doc, headers, not_modified(doc, headers))
}

/// [`respond`] once whether the client has `doc` is known.
fn respond_as(doc: &Rendered, headers: &HeaderMap, not_modified: bool) -> Response {
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match &doc.gzip {
            Some(gzip) if accepts_gzip(headers) => {
                let mut response = gzip.clone().into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response
            }
            _ => doc.body.clone().into_response(),
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(doc.content_type),
    );
    h.insert(header::ETAG, doc.etag.clone());
    h.insert(header::LAST_MODIFIED, doc.last_modified.clone());
    h.insert(header::CACHE_CONTROL, doc.cache_control.clone());
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Authorization"),
    );
    response
}

/// `body` gzipped (`None` only if the encoder fails, which writing to
/// memory does not).
fn gzip(body: &[u8]) -> Option<Bytes> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// Whether the client takes gzip (RFC 9110 §12.5.3): named, or else `*`,
/// with a non-zero weight.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let weight = parts
                .filter_map(|p| {
                    let p = p.trim();
                    let (name, q) = p.split_once('=')?;
                    name.trim().eq_ignore_ascii_case("q").then_some(q)
                })
                .next()
                .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(weight > 0.0);
            } else if coding == "*" {
                any = Some(weight > 0.0);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

fn etag_of(body: &str) -> HeaderValue {
    let digest = Sha256::digest(body.as_bytes());
    let tag = format!("\"{}\"", crate::model::hex(&digest[..12]));
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn etag_matches(if_none_match: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default();
    list.split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
}

fn http_date(t: DateTime<Utc>) -> HeaderValue {
    HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_match_lists_weak_forms_and_star() {
        let ours = HeaderValue::from_static("\"abc\"");
        for inm in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(etag_matches(&HeaderValue::from_static(inm), &ours), "{inm}");
        }
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), &ours));
    }

    #[test]
    fn gzip_is_taken_when_named_or_starred_with_a_weight() {
        let takes = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&headers)
        };
        for yes in [
            "gzip",
            "gzip, deflate, br",
            "br;q=1.0, GZIP;q=0.5",
            "*",
            "x-gzip",
            "gzip; Q=0.1",
        ] {
            assert!(takes(yes), "{yes}");
        }
        for no in [
            "identity",
            "br",
            "gzip;q=0",
            "*, gzip;q=0",
            "gzip;q=0.000",
            "deflate",
        ] {
            assert!(!takes(no), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
