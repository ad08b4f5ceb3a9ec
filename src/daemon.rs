//! Wiring: opens the store, starts the HTTP server and the scheduler, and
//! shuts both down cleanly on SIGINT/SIGTERM.
//!
//! Shutdown is one [`CancellationToken`] threaded through every task: the
//! server stops accepting and finishes in-flight requests, the scheduler
//! starts no new polls and waits (up to [`SHUTDOWN_DEADLINE`]) for running
//! ones, then the store is flushed.

use crate::config::{Config, FeedConfig};
use crate::fetch::Fetcher;
use crate::model::FeedId;
use crate::poll::{PollReport, Poller};
use crate::schedule;
use crate::serve::{self, AppState, Catalog};
use crate::status::FeedReport;
use crate::store::Store;
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long in-flight polls may take to finish after a stop signal.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Opens the store named by the config, off the async runtime.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let path = config.storage.path.clone();
    let cache = config.storage.cache_bytes;
    let store = tokio::task::spawn_blocking(move || Store::open(&path, cache)).await??;
    Ok(Arc::new(store))
}

/// `tidings run`: serve and poll until a stop signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let fetcher = Fetcher::new(&config.polling).context("cannot build the HTTP client")?;
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (set [server] listen in {})",
                config.server.listen,
                config.path.display()
            )
        })?;
    let addr = listener.local_addr()?;
    tracing::info!(
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        entries = store.entry_count(),
        "listening on http://{addr}"
    );

    let shutdown = CancellationToken::new();
    let app = serve::router(AppState::new(
        Arc::clone(&store),
        Catalog::from_config(&config),
    ));
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );
    let scheduler = Scheduler {
        poller: Poller::new(fetcher, Arc::clone(&store), config.polling.max_interval),
        feeds: config.feeds.clone(),
        concurrency: config.polling.concurrency,
    };
    let scheduler = tokio::spawn(scheduler.run(Arc::clone(&store), shutdown.clone()));

    wait_for_stop_signal().await;
    tracing::info!("stopping: finishing in-flight work");
    shutdown.cancel();
    if let Err(e) = scheduler.await {
        tracing::error!("scheduler task failed: {e}");
    }
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("HTTP server error: {e}"),
        Err(e) => tracing::error!("HTTP server task failed: {e}"),
    }
    store.flush().await?;
    tracing::info!("stopped; store flushed");
    Ok(())
}

/// `tidings poll --once`: polls every feed now, `concurrency` at a time,
/// calling `report` as each finishes.
pub async fn poll_once(
    config: &Config,
    store: Arc<Store>,
    mut report: impl FnMut(&PollReport),
) -> anyhow::Result<Vec<PollReport>> {
    let fetcher = Fetcher::new(&config.polling).context("cannot build the HTTP client")?;
    let poller = Poller::new(fetcher, Arc::clone(&store), config.polling.max_interval);
    let permits = Arc::new(Semaphore::new(config.polling.concurrency));
    let mut tasks = JoinSet::new();
    for feed in config.feeds.clone() {
        let poller = poller.clone();
        let permits = Arc::clone(&permits);
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            poller.poll(&feed, crate::model::now()).await
        });
    }
    let mut reports = Vec::with_capacity(config.feeds.len());
    while let Some(done) = tasks.join_next().await {
        let r = done.context("poll task failed")??;
        report(&r);
        reports.push(r);
    }
    store.flush().await?;
    Ok(reports)
}

/// Every feed's health, for `tidings feeds`: read from the store, or — while
/// a running daemon holds the store's lock — from that daemon's
/// `/api/feeds`.
pub async fn feed_reports(config: &Config) -> anyhow::Result<Vec<FeedReport>> {
    let store_error = match open_store(config).await {
        Ok(store) => {
            let states = tokio::task::spawn_blocking(move || store.feed_states()).await??;
            return Ok(crate::status::reports(&config.feeds, states));
        }
        Err(e) => e,
    };
    let mut addr = config.server.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let url = format!("http://{addr}/api/feeds");
    crate::fetch::install_crypto_provider();
    let from_daemon = async {
        let body = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?
            .get(&url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        Ok::<_, anyhow::Error>(serde_json::from_slice::<Vec<FeedReport>>(&body)?)
    };
    from_daemon.await.map_err(|http| {
        anyhow::anyhow!("{store_error:#}; and no running daemon answered at {url}: {http}")
    })
}

/// Polls each feed when it is due, at most `concurrency` at once.
struct Scheduler {
    poller: Poller,
    feeds: Vec<FeedConfig>,
    concurrency: usize,
}

impl Scheduler {
    async fn run(self, store: Arc<Store>, shutdown: CancellationToken) {
        let now = Utc::now();
        let mut due: Vec<DateTime<Utc>> = self
            .feeds
            .iter()
            .map(|f| {
                let state = store
                    .feed_state(FeedId::for_url(f.url.as_str()))
                    .unwrap_or_else(|e| {
                        tracing::warn!(feed = %f.url, "cannot read feed state: {e}");
                        None
                    });
                schedule::first_due(
                    state.as_ref(),
                    now,
                    f.interval,
                    schedule::jitter(f.url.as_str(), 0),
                )
            })
            .collect();
        let mut in_flight = vec![false; self.feeds.len()];
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let mut tasks: JoinSet<Option<DateTime<Utc>>> = JoinSet::new();
        // Which feed each running task polls, so even a panicked task
        // releases its feed.
        let mut task_feed: HashMap<tokio::task::Id, usize> = HashMap::new();

        loop {
            let now = Utc::now();
            for (i, feed) in self.feeds.iter().enumerate() {
                if in_flight[i] || due[i] > now {
                    continue;
                }
                in_flight[i] = true;
                let poller = self.poller.clone();
                let feed = feed.clone();
                let permits = Arc::clone(&permits);
                let stop = shutdown.clone();
                let handle = tasks.spawn(async move {
                    let _permit = tokio::select! {
                        p = permits.acquire_owned() => p,
                        _ = stop.cancelled() => return None,
                    };
                    match poller.poll(&feed, crate::model::now()).await {
                        Ok(report) => Some(report.next_due),
                        Err(e) => {
                            tracing::error!(feed = %feed.url, "store error while polling: {e}");
                            None
                        }
                    }
                });
                task_feed.insert(handle.id(), i);
            }
            let next_wake = self
                .feeds
                .iter()
                .enumerate()
                .filter(|(i, _)| !in_flight[*i])
                .map(|(i, _)| due[i])
                .min();
            let sleep_for = next_wake
                .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let (task, next) = match done {
                        Ok((task, next)) => (task, next),
                        Err(e) => {
                            tracing::error!("poll task failed: {e}");
                            (e.id(), None)
                        }
                    };
                    if let Some(i) = task_feed.remove(&task) {
                        in_flight[i] = false;
                        // A store failure or a crashed task still waits a
                        // full interval rather than spinning.
                        due[i] = next.unwrap_or_else(|| {
                            Utc::now() + chrono::Duration::from_std(self.feeds[i].interval).unwrap_or(chrono::Duration::MAX)
                        });
                    }
                }
                _ = tokio::time::sleep(sleep_for) => {}
            }
        }

        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_DEADLINE, drain)
            .await
            .is_err()
        {
            tracing::warn!(
                "in-flight polls did not finish within {}s; cancelled",
                SHUTDOWN_DEADLINE.as_secs()
            );
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
