//! Fetch: one HTTP GET of a feed, done politely and within limits.
//!
//! - conditional: the validators the server last gave (`ETag`,
//!   `Last-Modified`) are sent back, and a `304` is reported as
//!   [`FetchOutcome::NotModified`];
//! - bounded: connect and total timeouts, at most 5 redirects, and a body
//!   cap applied *after* decompression, read chunk by chunk so a gzip bomb
//!   is cut off instead of inflated in memory;
//! - identified: `User-Agent: tidings/<version> (+<project url>)`, no
//!   cookies kept.
//!
//! This module knows nothing about feeds' contents or the store.

use crate::config::PollingConfig;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode};
use std::fmt;
use std::time::Duration;
use url::Url;

/// Redirects followed for one fetch before giving up.
const MAX_REDIRECTS: usize = 5;

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
        let get = |name| {
            headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        Validators {
            etag: get(header::ETAG),
            last_modified: get(header::LAST_MODIFIED),
        }
    }
}

/// What a successful fetch brought back.
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    Timeout,
    Connect,
    Redirect,
    /// A non-success HTTP status.
    Status(u16),
    TooLarge,
    Other,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// A shared HTTP client for all feeds.
#[derive(Clone)]
pub struct Fetcher {
    client: Client,
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
            .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(2)
            .build()?;
        Ok(Fetcher {
            client,
            max_body_bytes: polling.max_body_bytes,
            timeout: polling.timeout,
        })
    }

    /// GETs `url`, sending `validators` as conditional headers.
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
    ) -> Result<FetchOutcome, FetchError> {
        let mut request = self.client.get(url.clone()).header(header::ACCEPT, ACCEPT);
        if let Some(etag) = &validators.etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &validators.last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, lm);
        }
        let mut response = request.send().await.map_err(|e| self.describe(e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified {
                validators: Validators::from_headers(response.headers()),
            });
        }
        if !status.is_success() {
            return Err(FetchError {
                kind: FetchErrorKind::Status(status.as_u16()),
                message: format!("HTTP {status}"),
            });
        }
        let validators = Validators::from_headers(response.headers());
        let final_url = response.url().clone();
        let declared = response.content_length().unwrap_or(0);
        let mut body = Vec::with_capacity(declared.min(self.max_body_bytes).min(1 << 20) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.describe(e))? {
            if body.len() as u64 + chunk.len() as u64 > self.max_body_bytes {
                return Err(FetchError {
                    kind: FetchErrorKind::TooLarge,
                    message: format!(
                        "response body larger than {} MiB (after decompression); cut off",
                        self.max_body_bytes / (1024 * 1024)
                    ),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchOutcome::Body {
            body,
            final_url,
            validators,
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
        } else if err.is_redirect() {
            (
                FetchErrorKind::Redirect,
                format!("redirect loop or more than {MAX_REDIRECTS} redirects"),
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
        FetchError { kind, message }
    }
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
