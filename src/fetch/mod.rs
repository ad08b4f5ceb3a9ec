//! Fetch: one HTTP GET of a feed, done politely and within limits.
//!
//! - conditional: the validators the server last gave (`ETag`,
//!   `Last-Modified`) are sent back, and a `304` is reported as
//!   [`FetchOutcome::NotModified`];
//! - bounded: connect and total timeouts, at most [`MAX_REDIRECTS`]
//!   redirects (loops detected), a body cap applied *after* decompression
//!   and read chunk by chunk (a gzip bomb is cut off, never inflated in
//!   memory), and at most `max_per_host` requests to one host at once;
//! - informative: which permanent redirect was followed (for `poll` to
//!   adopt after repeats), the server's caching lifetime, `Retry-After`
//!   on 429/503, and `410 Gone` as its own kind;
//! - identified: `User-Agent: tidings/<version> (+<project url>)` unless
//!   configured otherwise, no cookies kept.
//!
//! This module knows nothing about feed formats or the store.

mod host_limit;

use crate::config::{FeedConfig, PollingConfig};
use chrono::{DateTime, Utc};
use host_limit::HostLimiter;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Response, StatusCode};
use std::fmt;
use std::time::Duration;
use url::Url;

/// Redirects followed for one fetch before giving up.
pub const MAX_REDIRECTS: usize = 5;

const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/feed+json, \
application/rdf+xml;q=0.9, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5";

/// The HTTP validators of a feed's last successful response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    fn from_headers(headers: &HeaderMap) -> Validators {
        Validators {
            etag: header_str(headers, header::ETAG).map(str::to_owned),
            last_modified: header_str(headers, header::LAST_MODIFIED).map(str::to_owned),
        }
    }
}

/// What to fetch and how: the feed's current URL, its validators and its
/// per-feed request options.
pub struct FetchRequest<'a> {
    pub url: &'a Url,
    pub validators: &'a Validators,
    pub user_agent: Option<&'a str>,
    pub headers: &'a [(HeaderName, HeaderValue)],
}

impl<'a> FetchRequest<'a> {
    pub fn new(url: &'a Url, validators: &'a Validators, feed: &'a FeedConfig) -> Self {
        FetchRequest {
            url,
            validators,
            user_agent: feed.user_agent.as_deref(),
            headers: &feed.headers,
        }
    }
}

/// A successful fetch.
#[derive(Debug)]
pub struct Fetched {
    pub outcome: FetchOutcome,
    /// Where a leading chain of permanent redirects (301/308) led, if any.
    pub permanent_redirect: Option<Url>,
    /// How long the server says the response stays fresh
    /// (`Cache-Control: max-age`, else `Expires`).
    pub fresh_for: Option<Duration>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// `304 Not Modified`; the server may send fresh validators with it.
    NotModified { validators: Validators },
    /// A `2xx` with a body.
    Body {
        body: Vec<u8>,
        /// Where the body came from after redirects (relative links in it
        /// resolve against this).
        final_url: Url,
        validators: Validators,
    },
}

/// Why a fetch failed, in words for the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    pub kind: FetchErrorKind,
    pub message: String,
    /// The server's `Retry-After` on a 429 or 503.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    Timeout,
    Connect,
    Redirect,
    /// `410 Gone`: the publisher removed the feed for good.
    Gone,
    /// Any other non-success HTTP status.
    Status(u16),
    TooLarge,
    Other,
}

impl FetchError {
    fn new(kind: FetchErrorKind, message: impl Into<String>) -> FetchError {
        FetchError {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// A shared HTTP client for all feeds. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: Client,
    hosts: HostLimiter,
    max_body_bytes: u64,
    timeout: Duration,
}

impl Fetcher {
    pub fn new(polling: &PollingConfig) -> Result<Fetcher, reqwest::Error> {
        install_crypto_provider();
        let client = Client::builder()
            .user_agent(&polling.user_agent)
            .connect_timeout(polling.connect_timeout)
            .timeout(polling.timeout)
            // Redirects are followed by hand: we must know which were
            // permanent, and the per-host limit applies to every hop.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(polling.max_per_host)
            .build()?;
        Ok(Fetcher {
            client,
            hosts: HostLimiter::new(polling.max_per_host),
            max_body_bytes: polling.max_body_bytes,
            timeout: polling.timeout,
        })
    }

    /// GETs the feed, following up to [`MAX_REDIRECTS`] redirects.
    pub async fn fetch(&self, request: &FetchRequest<'_>) -> Result<Fetched, FetchError> {
        let mut url = request.url.clone();
        let mut visited = vec![url.clone()];
        let mut permanent_redirect = None;
        let mut only_permanent_so_far = true;
        loop {
            let permit = self.hosts.acquire(&url).await;
            let response = self.send(request, &url).await?;
            let status = response.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                let fetched = self.finish(response, url, permanent_redirect).await;
                drop(permit);
                return fetched;
            }
            drop(permit);
            let next = header_str(response.headers(), header::LOCATION)
                .and_then(|location| url.join(location).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https"))
                .ok_or_else(|| {
                    FetchError::new(
                        FetchErrorKind::Redirect,
                        format!("HTTP {status} without a usable Location header"),
                    )
                })?;
            if visited.contains(&next) {
                let chain: Vec<&str> = visited.iter().map(Url::as_str).collect();
                return Err(FetchError::new(
                    FetchErrorKind::Redirect,
                    format!("redirect loop: {} → {next}", chain.join(" → ")),
                ));
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(FetchError::new(
                    FetchErrorKind::Redirect,
                    format!("more than {MAX_REDIRECTS} redirects (last to {next})"),
                ));
            }
            let permanent = matches!(
                status,
                StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT
            );
            only_permanent_so_far &= permanent;
            if only_permanent_so_far {
                permanent_redirect = Some(next.clone());
            }
            tracing::debug!(feed = %request.url, "HTTP {status}: redirected to {next}");
            visited.push(next.clone());
            url = next;
        }
    }

    async fn send(&self, request: &FetchRequest<'_>, url: &Url) -> Result<Response, FetchError> {
        let mut builder = self.client.get(url.clone()).header(header::ACCEPT, ACCEPT);
        if let Some(ua) = request.user_agent {
            builder = builder.header(header::USER_AGENT, ua);
        }
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        if let Some(etag) = &request.validators.etag {
            builder = builder.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &request.validators.last_modified {
            builder = builder.header(header::IF_MODIFIED_SINCE, lm);
        }
        builder.send().await.map_err(|e| self.describe(e))
    }

    /// Turns the final (non-redirect) response into the outcome.
    async fn finish(
        &self,
        mut response: Response,
        final_url: Url,
        permanent_redirect: Option<Url>,
    ) -> Result<Fetched, FetchError> {
        let status = response.status();
        let now = Utc::now();
        let fresh_for = freshness(response.headers(), now);
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched {
                outcome: FetchOutcome::NotModified {
                    validators: Validators::from_headers(response.headers()),
                },
                permanent_redirect,
                fresh_for,
            });
        }
        if !status.is_success() {
            let kind = if status == StatusCode::GONE {
                FetchErrorKind::Gone
            } else {
                FetchErrorKind::Status(status.as_u16())
            };
            let mut error = FetchError::new(kind, format!("HTTP {status}"));
            if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
            {
                error.retry_after = header_str(response.headers(), header::RETRY_AFTER)
                    .and_then(|v| parse_retry_after(v, now));
                if let Some(wait) = error.retry_after {
                    error.message = format!(
                        "HTTP {status} (Retry-After: {})",
                        humantime::format_duration(wait)
                    );
                }
            }
            return Err(error);
        }
        let validators = Validators::from_headers(response.headers());
        let declared = response.content_length().unwrap_or(0);
        let mut body = Vec::with_capacity(declared.min(self.max_body_bytes).min(1 << 20) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body_bytes {
                return Err(FetchError::new(
                    FetchErrorKind::TooLarge,
                    format!(
                        "response body larger than {} MiB (after decompression); cut off",
                        self.max_body_bytes / (1024 * 1024)
                    ),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            outcome: FetchOutcome::Body {
                body,
                final_url,
                validators,
            },
            permanent_redirect,
            fresh_for,
        })
    }

    fn describe(&self, err: reqwest::Error) -> FetchError {
        let (kind, what) = if err.is_timeout() {
            (
                FetchErrorKind::Timeout,
                format!(
                    "timed out (limit {})",
                    humantime::format_duration(self.timeout)
                ),
            )
        } else if err.is_connect() {
            (FetchErrorKind::Connect, "connection failed".to_owned())
        } else if err.is_decode() || err.is_body() {
            (
                FetchErrorKind::Other,
                "error reading the response body".to_owned(),
            )
        } else {
            (FetchErrorKind::Other, "request failed".to_owned())
        };
        // The innermost cause is the one that says what happened
        // ("connection refused", "dns error: …").
        let mut cause: &dyn std::error::Error = &err;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let cause = cause.to_string();
        let message = if kind == FetchErrorKind::Timeout || cause.is_empty() {
            what
        } else {
            format!("{what}: {cause}")
        };
        FetchError::new(kind, message)
    }
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The response's freshness lifetime: `Cache-Control: max-age` wins over
/// `Expires` (RFC 9111 §4.2.1); `no-cache`/`no-store` mean none.
fn freshness(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(cc) = header_str(headers, header::CACHE_CONTROL) {
        let directives: Vec<String> = cc
            .split(',')
            .map(|d| d.trim().to_ascii_lowercase())
            .collect();
        if directives
            .iter()
            .any(|d| d == "no-cache" || d == "no-store")
        {
            return None;
        }
        if let Some(secs) = directives.iter().find_map(|d| {
            d.strip_prefix("max-age=")?
                .trim_matches('"')
                .parse::<u64>()
                .ok()
        }) {
            return Some(Duration::from_secs(secs));
        }
    }
    let expires = parse_http_date(header_str(headers, header::EXPIRES)?)?;
    let date = header_str(headers, header::DATE)
        .and_then(parse_http_date)
        .unwrap_or(now);
    (expires - date).to_std().ok()
}

/// `Retry-After`: delay-seconds or an HTTP-date.
fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = parse_http_date(value)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// reqwest is built without a default TLS crypto provider (the default one
/// needs a C toolchain and a long build); this installs rustls's `ring`
/// provider, once per process. Call it before building any reqwest client.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn freshness_from_cache_control_and_expires() {
        let now = Utc::now();
        let max_age = headers(&[
            ("cache-control", "public, max-age=600"),
            ("expires", "Thu, 01 Jan 2099 00:00:00 GMT"),
        ]);
        assert_eq!(freshness(&max_age, now), Some(Duration::from_secs(600)));
        let expires = headers(&[
            ("date", "Wed, 21 Oct 2026 07:28:00 GMT"),
            ("expires", "Wed, 21 Oct 2026 08:28:00 GMT"),
        ]);
        assert_eq!(freshness(&expires, now), Some(Duration::from_secs(3600)));
        let no_cache = headers(&[("cache-control", "no-cache, max-age=600")]);
        assert_eq!(freshness(&no_cache, now), None);
        let past = headers(&[("expires", "Wed, 21 Oct 2015 07:28:00 GMT")]);
        assert_eq!(freshness(&past, now), None);
        assert_eq!(freshness(&headers(&[("expires", "0")]), now), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:58:00 GMT", now),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
