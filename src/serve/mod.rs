//! Serve: the HTTP side. Merged Atom feeds per topic and of everything,
//! read from the store only — serving never waits on the network.
//!
//! Routes:
//! - `GET /feeds/{slug}.atom` (and `/feeds/all.atom`), `?limit=N`
//! - `GET /healthz`
//!
//! A rendered feed is cached until the store's generation moves (any new or
//! updated entry) or the catalog is replaced (config reload), so a busy
//! reader population costs one store scan per change, not per request.

pub mod atom;
mod ops;

use crate::config::{ALL_SLUG, Config, FeedConfig};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::model::{Entry, FeedId, FeedState};
use crate::store::Store;
use crate::topic::{Tagger, Topic};
use atom::{FeedHead, SourceInfo, TopicTag};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use url::Url;

/// Entries per feed unless `?limit=` says otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The most entries one request may ask for.
pub const MAX_LIMIT: usize = 500;
/// Rendered feeds kept at once (per slug, limit and host).
const CACHE_CAPACITY: usize = 256;

/// What the server serves, derived from the config; replaced as a whole on
/// reload.
pub struct Catalog {
    pub topics: Vec<Topic>,
    /// Titles the config gives feeds, overriding the feeds' own.
    pub feed_titles: HashMap<FeedId, String>,
    /// The configured feeds, in config order (for health reports).
    pub feeds: Vec<FeedConfig>,
    pub base_url: Option<Url>,
}

impl Catalog {
    pub fn from_config(config: &Config) -> Catalog {
        Catalog {
            topics: config.topics.clone(),
            feed_titles: config
                .feeds
                .iter()
                .filter_map(|f| Some((FeedId::for_url(f.url.as_str()), f.title.clone()?)))
                .collect(),
            feeds: config.feeds.clone(),
            base_url: config.server.base_url.clone(),
        }
    }
}

/// Shared state of all handlers.
pub struct AppState {
    store: Arc<Store>,
    catalog: RwLock<Arc<Catalog>>,
    cache: Mutex<RenderCache>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    /// Cached per-topic entry counts for `/metrics`: when computed, for
    /// which catalog, and the counts.
    topic_counts: Mutex<Option<TopicCounts>>,
}

type TopicCounts = (std::time::Instant, Arc<Catalog>, Vec<(String, u64)>);

#[derive(Default)]
struct RenderCache {
    /// Store generation the cached documents were rendered at.
    generation: u64,
    docs: HashMap<(String, usize, String), Rendered>,
}

#[derive(Clone)]
struct Rendered {
    body: Bytes,
    etag: HeaderValue,
}

impl AppState {
    pub fn new(
        store: Arc<Store>,
        catalog: Catalog,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            store,
            catalog: RwLock::new(Arc::new(catalog)),
            cache: Mutex::new(RenderCache::default()),
            health,
            metrics,
            topic_counts: Mutex::new(None),
        })
    }

    /// Swaps in a new catalog (config reload); cached documents are dropped.
    pub fn replace_catalog(&self, catalog: Catalog) {
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(catalog);
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = RenderCache::default();
    }

    fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn cached(&self, key: &(String, usize, String), generation: u64) -> Option<Rendered> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        (cache.generation == generation)
            .then(|| cache.docs.get(key).cloned())
            .flatten()
    }

    fn remember(&self, key: (String, usize, String), generation: u64, doc: Rendered) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.generation != generation {
            if generation < cache.generation {
                return; // rendered from an older store state than cached docs
            }
            cache.generation = generation;
            cache.docs.clear();
        }
        if cache.docs.len() >= CACHE_CAPACITY {
            cache.docs.clear();
        }
        cache.docs.insert(key, doc);
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/feeds/{file}", get(feed))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/feeds", get(ops::feed_reports))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            ops::count_requests,
        ))
        .with_state(state)
}

#[derive(Deserialize)]
struct FeedParams {
    limit: Option<usize>,
}

async fn feed(
    State(state): State<Arc<AppState>>,
    Path(file): Path<String>,
    Query(params): Query<FeedParams>,
    headers: HeaderMap,
) -> Response {
    let Some(slug) = file.strip_suffix(".atom") else {
        return not_found();
    };
    let catalog = state.catalog();
    let topic = match slug {
        ALL_SLUG => None,
        _ => match catalog.topics.iter().find(|t| t.slug == slug) {
            Some(t) => Some(t.clone()),
            None => return not_found(),
        },
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let base = base_url(&catalog, &headers);
    let key = (slug.to_owned(), limit, base.to_string());
    let generation = state.store.generation();

    let doc = match state.cached(&key, generation) {
        Some(doc) => doc,
        None => {
            let store = Arc::clone(&state.store);
            let slug = slug.to_owned();
            let rendered = tokio::task::spawn_blocking(move || {
                render_feed(&store, &catalog, topic.as_ref(), &slug, limit, &base)
            })
            .await;
            let body = match rendered {
                Ok(Ok(body)) => body,
                Ok(Err(e)) => {
                    tracing::error!("cannot render feed {file}: {e}");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "store error\n").into_response();
                }
                Err(e) => {
                    tracing::error!("render task for {file} failed: {e}");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
                }
            };
            let doc = Rendered {
                etag: etag_of(&body),
                body: Bytes::from(body),
            };
            state.remember(key, generation, doc.clone());
            doc
        }
    };

    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|inm| etag_matches(inm, &doc.etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        doc.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/atom+xml; charset=utf-8"),
    );
    h.insert(header::ETAG, doc.etag);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    response
}

/// Selects and renders one feed. Runs on a blocking thread (store scan).
fn render_feed(
    store: &Store,
    catalog: &Catalog,
    topic: Option<&Topic>,
    slug: &str,
    limit: usize,
    base: &Url,
) -> Result<String, crate::store::StoreError> {
    // Each entry is indexed once and tagged with every topic it matches
    // (the `<category>`s), whichever feed it is served in.
    let tagger = Tagger::new(&catalog.topics, &store.feed_states()?, &catalog.feed_titles);
    let mut tags = HashMap::new();
    let entries: Vec<Entry> = store.newest(limit, |e| {
        let doc = tagger.document(e);
        if topic.is_some_and(|t| !t.matches(&doc)) {
            return false;
        }
        let matched = tagger.matching(&doc).map(|t| TopicTag {
            slug: t.slug.clone(),
            title: t.title.clone(),
        });
        tags.insert(e.id, matched.collect::<Vec<_>>());
        true
    })?;
    let sources = sources(store, catalog)?;
    let topic_scheme = base
        .join("topics")
        .map_or_else(|_| String::new(), String::from);
    let self_url = base
        .join(&format!("feeds/{slug}.atom"))
        .map_or_else(|_| String::new(), String::from);
    let (title, subtitle) = match topic {
        Some(t) => (
            t.title.as_str(),
            Some("Merged by tidings from its subscribed feeds"),
        ),
        None => (
            "All entries",
            Some("Every entry tidings has stored, newest first"),
        ),
    };
    let id = format!("urn:tidings:feed:{slug}");
    let head = FeedHead {
        id: &id,
        title,
        subtitle,
        self_url: &self_url,
        alternate_url: base.as_str(),
        topic_scheme: &topic_scheme,
    };
    Ok(atom::render(&head, &entries, &sources, &tags))
}

fn sources(
    store: &Store,
    catalog: &Catalog,
) -> Result<HashMap<FeedId, SourceInfo>, crate::store::StoreError> {
    Ok(store
        .feed_states()?
        .into_iter()
        .map(|s: FeedState| {
            let id = s.id();
            let title = catalog
                .feed_titles
                .get(&id)
                .cloned()
                .or(s.title)
                .unwrap_or_else(|| host_of(&s.url));
            (
                id,
                SourceInfo {
                    title,
                    feed_url: s.url,
                    site_link: s.site_link,
                },
            )
        })
        .collect())
}

fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

/// The base for self links: the configured `base_url`, else the `Host` the
/// client used (when it is a plausible host name), else localhost.
fn base_url(catalog: &Catalog, headers: &HeaderMap) -> Url {
    if let Some(base) = &catalog.base_url {
        return base.clone();
    }
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .and_then(|h| Url::parse(&format!("http://{h}/")).ok())
        .unwrap_or_else(|| Url::parse("http://localhost/").expect("static URL parses"))
}

fn etag_of(body: &str) -> HeaderValue {
    let digest = Sha256::digest(body.as_bytes());
    let tag = format!("\"{}\"", crate::model::hex(&digest[..12]));
    HeaderValue::from_str(&tag).expect("hex ETag is a valid header value")
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

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such feed\n").into_response()
}
