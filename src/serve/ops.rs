//! Operational endpoints for admins and monitoring: liveness (`/healthz`),
//! readiness (`/readyz`), Prometheus metrics (`/metrics`), feed health as
//! JSON (`/api/feeds`), and the layer that counts every request.

use super::{AppState, Catalog};
use crate::metrics::Metrics;
use crate::metrics::Snapshot;
use crate::model::{FeedId, FeedState};
use crate::store::{Store, StoreError};
use crate::topic::{Tagger, Topic};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower_layer::Layer;
use tower_service::Service;

/// Per-topic entry counts need a scan of the store; they are recomputed at
/// most this often…
const TOPIC_COUNT_TTL: Duration = Duration::from_secs(300);

/// …and at most once per this many times the last count took, so that on a
/// large store counting stays a small share of the machine (a count of
/// 1,000,000 entries took 9–19 s on two cores here: every 15–32 minutes).
const TOPIC_COUNT_SHARE: u32 = 100;

/// Per-topic entry counts as `/metrics` last computed them.
pub(super) struct TopicCounts {
    /// For which catalog.
    catalog: Arc<Catalog>,
    counts: Vec<(String, u64)>,
    /// When they were computed, and for how long they stand.
    at: Instant,
    valid_for: Duration,
}

/// Liveness: the process answers.
pub(super) async fn healthz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let entries = state.store().entry_count();
    format!("ok: {entries} entries\n")
}

/// Readiness: the store answers and the scheduler is running. A store
/// that cannot be written (disk full, read-only) still serves everything
/// it holds, so the daemon stays ready and says why it stores nothing new.
pub(super) async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let mut problems = Vec::new();
    if let Err(e) = state.store().check() {
        problems.push(format!("store: {e}"));
    }
    if !state.health.scheduler_alive() {
        problems.push("scheduler: not running".to_owned());
    }
    if problems.is_empty() {
        match state.store().writable() {
            Ok(()) => "ready\n".into_response(),
            Err(e) => {
                format!("ready (serving stored entries); store not writable: {e}\n").into_response()
            }
        }
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", problems.join("; ")),
        )
            .into_response()
    }
}

pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let app = Arc::clone(&state);
    let snapshot = tokio::task::spawn_blocking(move || snapshot(&app)).await;
    match snapshot {
        Ok(Ok(snapshot)) => {
            let mut response = state.metrics.render(&snapshot).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            response
        }
        Ok(Err(e)) => {
            tracing::error!("cannot read the store for /metrics: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "store error\n").into_response()
        }
        Err(e) => {
            tracing::error!("metrics task failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

fn snapshot(state: &AppState) -> Result<Snapshot, crate::store::StoreError> {
    let feeds = state.store().feed_states()?;
    Ok(Snapshot {
        topic_entries: topic_counts(state, &feeds)?,
        entries: state.store().entry_count() as u64,
        store_bytes: state.store().size_on_disk()?,
        store_writable: state.store().writable().is_ok(),
        store_write_errors: state.store().write_errors(),
        sketch_index: state.store().sketch_index_size(),
        feeds,
    })
}

/// Entries per topic, from a cache no older than [`TOPIC_COUNT_TTL`] or
/// [`TOPIC_COUNT_SHARE`] times the count's own time, whichever is longer
/// (and recomputed early when the catalog changes).
fn topic_counts(state: &AppState, feeds: &[FeedState]) -> Result<Vec<(String, u64)>, StoreError> {
    let catalog = state.catalog();
    {
        let cached = state.topic_counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cached.as_ref() {
            if c.at.elapsed() < c.valid_for && Arc::ptr_eq(&c.catalog, &catalog) {
                return Ok(c.counts.clone());
            }
        }
    }
    let started = Instant::now();
    let counts = count_topics(&state.store(), &catalog.topics, feeds, &catalog.feed_titles)?;
    let counts: Vec<(String, u64)> = catalog
        .topics
        .iter()
        .map(|t| t.slug.clone())
        .zip(counts)
        .collect();
    let took = started.elapsed();
    *state.topic_counts.lock().unwrap_or_else(|p| p.into_inner()) = Some(TopicCounts {
        catalog: Arc::clone(&catalog),
        counts: counts.clone(),
        at: Instant::now(),
        valid_for: TOPIC_COUNT_TTL.max(took.saturating_mul(TOPIC_COUNT_SHARE)),
    });
    Ok(counts)
}

/// How many stored entries each of `topics` takes: the whole store, read
/// in as many parts side by side as there are cores, each part with its
/// own tagger (they share the remembered verdicts). What a changed topic
/// costs the first `/metrics` scrape after it. A scan: call it from a
/// blocking thread.
pub fn count_topics(
    store: &Store,
    topics: &[Topic],
    feeds: &[FeedState],
    titles: &HashMap<FeedId, String>,
) -> Result<Vec<u64>, StoreError> {
    let parts = std::thread::available_parallelism().map_or(1, usize::from);
    let per_part = store.fold_entries(
        parts,
        || (Tagger::new(topics, feeds, titles), vec![0u64; topics.len()]),
        |(tagger, counts), entry| {
            for topic in tagger.topics_of(entry) {
                if let Some(i) = topics.iter().position(|t| std::ptr::eq(t, topic)) {
                    counts[i] += 1;
                }
            }
        },
    )?;
    Ok(per_part.into_iter().map(|(_, counts)| counts).fold(
        vec![0; topics.len()],
        |mut sum, counts| {
            sum.iter_mut().zip(counts).for_each(|(s, c)| *s += c);
            sum
        },
    ))
}

/// Every feed's health as JSON (what `tidings feeds` shows).
pub(super) async fn feed_reports(State(state): State<Arc<AppState>>) -> Response {
    let catalog = state.catalog();
    let store = state.store();
    let states = tokio::task::spawn_blocking(move || store.feed_states()).await;
    match states {
        Ok(Ok(states)) => {
            axum::Json(crate::status::reports(&catalog.feeds, states)).into_response()
        }
        Ok(Err(e)) => {
            tracing::error!("cannot read feed states: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "store error\n").into_response()
        }
        Err(e) => {
            tracing::error!("feed state task failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// The outermost layer of every route: counts each request by route
/// template (never the raw path, which would let clients create unbounded
/// label values) and status. A plain tower layer rather than
/// `middleware::from_fn`, which clones the inner service and boxes a
/// future on every request.
#[derive(Clone)]
pub(super) struct CountRequests {
    pub(super) metrics: Arc<Metrics>,
}

impl<S> Layer<S> for CountRequests {
    type Service = Counting<S>;

    fn layer(&self, inner: S) -> Counting<S> {
        Counting {
            metrics: Arc::clone(&self.metrics),
            inner,
        }
    }
}

#[derive(Clone)]
pub(super) struct Counting<S> {
    metrics: Arc<Metrics>,
    inner: S,
}

impl<S> Service<Request> for Counting<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        Counted {
            // MatchedPath is a shared string: cloning it does not allocate.
            route: request.extensions().get::<MatchedPath>().cloned(),
            inner: self.inner.call(request),
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// A response of [`Counting`], counted when it is ready.
pub(super) struct Counted<F> {
    inner: F,
    route: Option<MatchedPath>,
    metrics: Arc<Metrics>,
}

impl<F> Future for Counted<F>
where
    F: Future<Output = Result<Response, Infallible>> + Unpin,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Ok(response) = std::task::ready!(Pin::new(&mut this.inner).poll(cx));
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        this.metrics.record_http(route, response.status().as_u16());
        Poll::Ready(Ok(response))
    }
}
