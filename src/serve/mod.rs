//! Serve: the HTTP side, reading the store only — serving never waits on
//! the network.
//!
//! Routes:
//! - `GET /feeds/{slug}.{atom,json,rss}` (and `all`): a topic's entries as
//!   Atom, JSON Feed 1.1 or RSS 2.0, newest first, `?limit=N`, older pages
//!   at `?before=<cursor>` (RFC 5005); `feeds.rs`
//! - `GET /`: the status page for people (`page.rs`); `GET /opml`,
//!   `GET /topics.opml` (`opml.rs`)
//! - `GET /healthz`, `/readyz`, `/metrics`, `/api/feeds` (`ops.rs`)
//!
//! A rendered document is cached until the store's generation moves (any
//! new or updated entry) or the catalog is replaced (config reload), so a
//! busy reader population costs one store scan per change, not per
//! request. Responses carry `ETag`/`Last-Modified` and are compressed when
//! the client asks.

mod access;
pub mod atom;
pub mod collapse;
mod feeds;
mod jsonfeed;
mod ops;
mod page;
mod rss;
pub mod sanitize;
pub mod view;

pub use ops::count_topics;

use crate::config::{ALL_SLUG, AccessConfig, Config, FeedConfig};
use crate::health::Health;
use crate::metrics::Metrics;
use crate::model::FeedId;
use crate::opml::Outline;
use crate::store::{SharedStore, Store};
use crate::topic::Topic;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::get;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tower_service::Service;
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
    pub access: AccessConfig,
    /// How long readers may cache a feed: the shortest polling interval
    /// (nothing can change faster), within [1 min, 1 h].
    pub max_age: Duration,
    /// When this catalog was built (start-up or the last reload): the last
    /// change of a feed with no entries yet is its definition's.
    pub loaded: chrono::DateTime<chrono::Utc>,
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
            access: config.server.access.clone(),
            loaded: crate::model::now(),
            max_age: config
                .feeds
                .iter()
                .map(|f| f.interval)
                .min()
                .unwrap_or(config.polling.interval)
                .clamp(Duration::from_secs(60), Duration::from_secs(3600)),
        }
    }

    pub fn topic(&self, slug: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.slug == slug)
    }

    /// Whether the feed `slug` needs a token (then it is also left out of
    /// the status page, the topics OPML and entries' categories).
    pub fn is_private(&self, slug: &str) -> bool {
        !self.access.global.is_empty() || self.access.per_topic.contains_key(slug)
    }
}

/// Shared state of all handlers.
pub struct AppState {
    store: SharedStore,
    catalog: RwLock<Arc<Catalog>>,
    cache: Mutex<RenderCache>,
    /// Renders running at once: one per core. When the store changes, every
    /// waiting reader misses the cache at the same moment; without a bound
    /// each would render the same page (a stampede that made 100 readers
    /// wait seconds). Past the bound, a reader re-checks the cache first.
    renders: tokio::sync::Semaphore,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    /// Cached per-topic entry counts for `/metrics`.
    topic_counts: Mutex<Option<ops::TopicCounts>>,
}

#[derive(Default)]
struct RenderCache {
    /// Store generation the cached documents were rendered at.
    generation: u64,
    /// Shared with the requests answering from them: a hit costs one
    /// reference count, not a copy of each header.
    docs: HashMap<CacheKey, Arc<Rendered>>,
}

/// A rendered document is identified by what was asked and the base URL
/// its links were built from.
type CacheKey = (view::PageRequest, String);

struct Rendered {
    body: Bytes,
    /// The body gzipped once at render time: almost every feed reader asks
    /// for gzip, and compressing a 50 KB page per request cost ten times
    /// more than serving it.
    gzip: Option<Bytes>,
    etag: HeaderValue,
    last_modified: HeaderValue,
    cache_control: HeaderValue,
    content_type: &'static str,
}

impl AppState {
    /// The store, for one request (see [`SharedStore`]).
    fn store(&self) -> Arc<Store> {
        self.store.get()
    }

    /// The store's generation, which the render cache is keyed by.
    fn generation(&self) -> u64 {
        self.store.generation()
    }

    pub fn new(
        store: impl Into<SharedStore>,
        catalog: Catalog,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Arc<AppState> {
        Arc::new(AppState {
            store: store.into(),
            catalog: RwLock::new(Arc::new(catalog)),
            cache: Mutex::new(RenderCache::default()),
            renders: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
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

    fn cached(&self, key: &CacheKey, generation: u64) -> Option<Arc<Rendered>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        (cache.generation == generation)
            .then(|| cache.docs.get(key).cloned())
            .flatten()
    }

    fn remember(&self, key: CacheKey, generation: u64, doc: Arc<Rendered>) {
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
        .route("/", get(page::index))
        .route("/opml", get(sources_opml))
        .route("/topics.opml", get(topics_opml))
        .route("/feeds/{file}", get(feeds::feed))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/feeds", get(ops::feed_reports))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(ops::CountRequests {
            metrics: Arc::clone(&state.metrics),
        })
        .with_state(state)
}

/// The HTTP service: the [`router`], behind a shortcut for the request
/// feed readers send most, a conditional GET of a feed they already have.
/// A `304` for it needs only the render cache, so it is answered before
/// routing, the layers and the extractors, each of which clones or boxes
/// something per request (it took a 304 from ~5 µs of CPU to ~11 µs).
/// Everything else, including every such request the cache cannot answer
/// with a 304, goes to the router, which answers it the same way.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
    router: Router,
}

impl App {
    pub fn new(state: Arc<AppState>) -> App {
        App {
            router: router(Arc::clone(&state)),
            state,
        }
    }
}

/// The route template of the feeds, as `MatchedPath` names it (and
/// `/metrics` counts it).
const FEED_ROUTE: &str = "/feeds/{file}";

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: Request) -> AppFuture {
        if let Some(response) = feeds::fast_not_modified(&self.state, &request) {
            self.state
                .metrics
                .record_http(FEED_ROUTE, response.status().as_u16());
            return AppFuture::Answered(Some(response));
        }
        AppFuture::Routed(self.router.call(request))
    }
}

/// A response of [`App`].
pub enum AppFuture {
    Answered(Option<Response>),
    Routed(RouteFuture<Infallible>),
}

impl Future for AppFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            AppFuture::Routed(routed) => Pin::new(routed).poll(cx),
            // Polled again after it was ready, which tower's contract rules
            // out: an empty 500 is the harmless answer.
            AppFuture::Answered(response) => Poll::Ready(Ok(response
                .take()
                .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response()))),
        }
    }
}

/// The base for self links: the configured `base_url`, else the `Host` the
/// client used (when it is a plausible host name), else localhost.
fn base_url(catalog: &Catalog, headers: &HeaderMap) -> Url {
    if let Some(base) = &catalog.base_url {
        return base.clone();
    }
    request_host(headers)
        .and_then(|h| Url::parse(&format!("http://{h}/")).ok())
        .unwrap_or_else(|| Url::parse("http://localhost/").expect("static URL parses"))
}

/// What the self links of a response depend on, cheaply (no URL parsing):
/// the key under which its rendering is cached.
fn base_key<'a>(catalog: &'a Catalog, headers: &'a HeaderMap) -> &'a str {
    match &catalog.base_url {
        Some(base) => base.as_str(),
        None => request_host(headers).unwrap_or(""),
    }
}

/// The `Host` header, when it is a plausible host name.
fn request_host(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
}

/// `GET /opml`: the sources tidings polls, for a reader to subscribe to
/// them directly.
async fn sources_opml(State(state): State<Arc<AppState>>) -> Response {
    let catalog = state.catalog();
    let store = state.store();
    let states = tokio::task::spawn_blocking(move || store.feed_states())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let outlines = crate::opml::source_outlines(&catalog.feeds, states);
    opml_response(crate::opml::render("tidings sources", &outlines))
}

/// `GET /topics.opml`: every public feed tidings serves, for one-click
/// import into a reader.
async fn topics_opml(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let catalog = state.catalog();
    let base = base_url(&catalog, &headers);
    let mut outlines: Vec<Outline> = catalog
        .topics
        .iter()
        .filter(|t| !catalog.is_private(&t.slug))
        .map(|t| (t.slug.as_str(), t.title.as_str()))
        .chain((!catalog.is_private(ALL_SLUG)).then_some((ALL_SLUG, "All stories")))
        .map(|(slug, title)| Outline {
            title: title.to_owned(),
            xml_url: base
                .join(&format!("feeds/{slug}.atom"))
                .map_or_else(|_| String::new(), String::from),
            html_url: Some(base.to_string()),
        })
        .collect();
    outlines.retain(|o| !o.xml_url.is_empty());
    opml_response(crate::opml::render("tidings feeds", &outlines))
}

fn opml_response(body: String) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/x-opml; charset=utf-8"),
    );
    response
}
