//! Wiring: opens the store, starts the HTTP server, the scheduler and the
//! housekeeper (retention),
//! talks to systemd, reloads the config on SIGHUP and shuts down cleanly on
//! SIGINT/SIGTERM.
//!
//! Shutdown is one [`CancellationToken`] threaded through every task: the
//! server stops accepting and finishes in-flight requests, the scheduler
//! starts no new polls and waits (up to [`SHUTDOWN_DEADLINE`]) for running
//! ones, then the store is flushed. A reload sends the new config down a
//! `watch` channel to the scheduler and swaps the server's catalog; the
//! listener is never touched, so no request fails.

use crate::config::{Config, ConfigError, FeedConfig};
use crate::fetch::Fetcher;
use crate::health::{Health, SCHEDULER_TICK};
use crate::housekeeping::Housekeeper;
use crate::metrics::Metrics;
use crate::model::FeedId;
use crate::poll::{PollReport, Poller};
use crate::schedule;
use crate::serve::{self, AppState, Catalog};
use crate::service::{self, Notifier};
use crate::status::FeedReport;
use crate::store::{BackupSummary, CompactSummary, SharedStore, Store};
use anyhow::Context;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long in-flight polls may take to finish after a stop signal.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// How often the daemon reports its status line to systemd.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// How often the daemon hands freed heap pages back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(30);

/// Opens the store named by the config, off the async runtime. A store
/// that cannot be opened is reported at `[storage] path` in the config,
/// with what to do about it.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let path = config.storage.path.clone();
    let cache = config.storage.cache_bytes;
    let store = tokio::task::spawn_blocking(move || Store::open(&path, cache)).await?;
    match store {
        Ok(store) => {
            store.set_min_free(config.storage.min_free_bytes);
            Ok(Arc::new(store))
        }
        Err(e @ crate::store::StoreError::Open { .. }) => {
            let text = e.to_string();
            let hint = if text.contains("could not acquire lock") {
                "another tidings process is using it (is the daemon running? stop it first)"
            } else if text.contains("Read-only file system") {
                "its file system is mounted read-only: remount it read-write, or set [storage] path to a writable directory"
            } else if text.contains("No space left on device") || text.contains("too large") {
                "the disk is full: free disk space, or set [storage] path to a disk with room"
            } else if config.origins.storage_path.is_some() {
                "set [storage] path to a directory tidings can create and write"
            } else {
                "add [storage] path = \"…\" naming a directory tidings can create and write"
            };
            Err(config
                .error_at(
                    config.origins.storage_path.as_ref(),
                    format!("{text}: {hint}"),
                )
                .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Problems `check-config` can see beyond the file itself, without
/// touching a running daemon's store or port: errors (the store path cannot
/// be a directory) and warnings (the port is taken right now, which is
/// expected while the daemon runs).
pub fn check_environment(config: &Config) -> (Vec<ConfigError>, Vec<String>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    // The nearest existing ancestor decides whether the store directory can
    // be there (or be created).
    let mut existing = config.storage.path.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => break,
        }
    }
    if existing.exists() && !existing.is_dir() {
        errors.push(config.error_at(
            config.origins.storage_path.as_ref(),
            format!(
                "cannot open the store at {}: {} is not a directory: set [storage] path to a directory tidings can create and write",
                config.storage.path.display(),
                existing.display()
            ),
        ));
    } else if existing.is_dir() {
        match crate::store::check_dir(existing, config.storage.min_free_bytes) {
            Ok(()) => {}
            Err(crate::store::NotWritable::ReadOnly { .. }) => errors.push(config.error_at(
                config.origins.storage_path.as_ref(),
                format!(
                    "cannot open the store at {}: {} is on a read-only file system: remount it read-write, or set [storage] path to a writable directory",
                    config.storage.path.display(),
                    existing.display()
                ),
            )),
            // A full disk does not stop the daemon: it serves what it has
            // and stores again once there is room.
            Err(e) => warnings.push(format!("[storage] path: {e}")),
        }
    }
    if let Err(e) = std::net::TcpListener::bind(config.server.listen) {
        warnings.push(format!(
            "{} is not free right now ({e}); fine if this config's daemon is running, else `tidings run` will fail",
            config.server.listen
        ));
    }
    (errors, warnings)
}

/// Writes the store to disk, off the async runtime.
async fn flush(store: &SharedStore) -> anyhow::Result<()> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.write(|s| s.flush())).await??;
    Ok(())
}

/// `tidings run`: serve and poll until a stop signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let notifier = Arc::new(Notifier::from_env());
    let store = SharedStore::from(open_store(&config).await?);
    let listener = listen(&config).await?;
    let addr = listener.local_addr()?;
    tracing::info!(
        feeds = config.feeds.len(),
        topics = config.topics.len(),
        entries = store.get().entry_count(),
        "listening on http://{addr}"
    );

    let shutdown = CancellationToken::new();
    let health = Arc::new(Health::default());
    let metrics = Arc::new(Metrics::default());
    let app_state = AppState::new(
        store.clone(),
        Catalog::from_config(&config),
        Arc::clone(&health),
        Arc::clone(&metrics),
    );
    let server = tokio::spawn(
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(serve::App::new(
                Arc::clone(&app_state),
            )),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .into_future(),
    );
    let mut config = Arc::new(config);
    let (config_tx, config_rx) = watch::channel(Arc::clone(&config));
    let scheduler = Scheduler {
        store: store.clone(),
        health: Arc::clone(&health),
        metrics: Arc::clone(&metrics),
        shutdown: shutdown.clone(),
    };
    let housekeeper = Housekeeper {
        store: store.clone(),
        metrics: Arc::clone(&metrics),
        shutdown: shutdown.clone(),
    };
    let housekeeper = tokio::spawn(housekeeper.run(config_rx.clone()));
    let scheduler = tokio::spawn(scheduler.run(config_rx));
    let pinger = tokio::spawn(keep_systemd_informed(
        Arc::clone(&notifier),
        store.clone(),
        Arc::clone(&health),
        shutdown.clone(),
    ));
    let trimmer = tokio::spawn(release_memory_now_and_then(shutdown.clone()));
    let mut signals = Signals::new();
    notifier.ready(&status_line(&store.get()));

    while let Signal::Reload = signals.next().await {
        notifier.reloading();
        match Config::load(&config.path) {
            Err(e) => {
                metrics.record_reload(false);
                tracing::error!("config reload rejected; the running config stays in force:\n{e}");
            }
            Ok(new) => {
                metrics.record_reload(true);
                if new.server.listen != config.server.listen
                    || new.storage.path != config.storage.path
                {
                    tracing::warn!(
                        "[server] listen and [storage] path take effect at the next restart"
                    );
                }
                tracing::info!(
                    feeds = new.feeds.len(),
                    topics = new.topics.len(),
                    "config reloaded"
                );
                app_state.replace_catalog(Catalog::from_config(&new));
                config = Arc::new(new);
                // The scheduler only stops at shutdown, so the send cannot fail
                // before then.
                let _ = config_tx.send(Arc::clone(&config));
            }
        }
        notifier.ready(&status_line(&store.get()));
    }

    tracing::info!("stopping: finishing in-flight work");
    notifier.stopping();
    shutdown.cancel();
    if let Err(e) = scheduler.await {
        tracing::error!("scheduler task failed: {e}");
    }
    if let Err(e) = housekeeper.await {
        tracing::error!("housekeeping task failed: {e}");
    }
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("HTTP server error: {e}"),
        Err(e) => tracing::error!("HTTP server task failed: {e}"),
    }
    pinger.abort();
    trimmer.abort();
    flush(&store).await?;
    tracing::info!("stopped; store flushed");
    Ok(())
}

/// The socket systemd passed us (socket activation), else a new one bound
/// to `[server] listen`.
async fn listen(config: &Config) -> anyhow::Result<tokio::net::TcpListener> {
    if let Some(inherited) = service::activated_listener() {
        tracing::info!("using the listening socket passed by systemd");
        return Ok(tokio::net::TcpListener::from_std(inherited)?);
    }
    tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    "another program (perhaps another tidings) uses it: stop that, or set [server] listen to a free port"
                }
                std::io::ErrorKind::PermissionDenied => {
                    "ports below 1024 need privileges: use a higher port, or socket activation (systemd/tidings.socket)"
                }
                std::io::ErrorKind::AddrNotAvailable => {
                    "this machine has no such address: set [server] listen to one of its addresses, e.g. 127.0.0.1:8080"
                }
                _ => "set [server] listen to an address and port this machine can listen on",
            };
            config
                .error_at(
                    config.origins.listen.as_ref(),
                    format!("cannot listen on {}: {e}: {hint}", config.server.listen),
                )
                .into()
        })
}

/// A one-line summary for systemd's `STATUS=`.
fn status_line(store: &Store) -> String {
    let (mut ok, mut failing) = (0, 0);
    for state in store.feed_states().unwrap_or_default() {
        if state.consecutive_failures > 0 {
            failing += 1;
        } else if state.last_success.is_some() {
            ok += 1;
        }
    }
    let mut line = format!(
        "{ok} feeds ok, {failing} failing; {} entries",
        store.entry_count()
    );
    if store.writable().is_err() {
        line.push_str("; NOT STORING: store not writable (see the log)");
    }
    line
}

/// Pings the systemd watchdog while the scheduler and the store are
/// healthy (so a hung daemon gets restarted), and refreshes `STATUS=`.
async fn keep_systemd_informed(
    notifier: Arc<Notifier>,
    store: SharedStore,
    health: Arc<Health>,
    shutdown: CancellationToken,
) {
    if !notifier.is_enabled() {
        return;
    }
    let watchdog = service::watchdog_interval();
    let every = watchdog.map_or(STATUS_EVERY, |w| w.min(STATUS_EVERY));
    let mut last_status = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if watchdog.is_some() {
            if health.scheduler_alive() && store.get().check().is_ok() {
                notifier.watchdog();
            } else {
                tracing::error!("scheduler or store unhealthy: withholding the watchdog ping");
            }
        }
        if last_status.elapsed() >= STATUS_EVERY {
            notifier.status(&status_line(&store.get()));
            last_status = std::time::Instant::now();
        }
    }
}

/// Returns the heap's free pages to the system every [`TRIM_EVERY`] (see
/// `memory::release_free_memory`), so memory a scan or a burst of polls
/// used and freed does not stay resident. Public for the benchmarks, which
/// run it as the daemon does.
pub async fn release_memory_now_and_then(shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(TRIM_EVERY) => {}
        }
        let started = std::time::Instant::now();
        if tokio::task::spawn_blocking(crate::memory::release_free_memory)
            .await
            .is_ok()
        {
            tracing::trace!("heap trimmed in {:?}", started.elapsed());
        }
    }
}

/// `tidings export-opml`: the configured sources as OPML, with titles and
/// web pages from the store when it can be read.
pub async fn export_opml(config: &Config) -> String {
    let states = match open_store(config).await {
        Ok(store) => tokio::task::spawn_blocking(move || store.feed_states())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        // A running daemon holds the store: titles come from the config.
        Err(_) => Vec::new(),
    };
    crate::opml::render(
        "tidings sources",
        &crate::opml::source_outlines(&config.feeds, states),
    )
}

/// `tidings backup PATH`: a consistent snapshot of the store. The store
/// must not be in use: a running daemon holds it.
pub async fn backup(config: &Config, path: &std::path::Path) -> anyhow::Result<BackupSummary> {
    let store = open_store(config).await.map_err(needs_daemon_stopped)?;
    let path = path.to_owned();
    let summary = tokio::task::spawn_blocking(move || store.backup(&path)).await??;
    Ok(summary)
}

/// `tidings compact`: rewrites the store compactly. Like `backup`, it needs
/// the daemon stopped.
pub async fn compact(config: &Config) -> anyhow::Result<CompactSummary> {
    let storage = config.storage.clone();
    let summary = tokio::task::spawn_blocking(move || {
        Store::compact(&storage.path, storage.cache_bytes, storage.min_free_bytes)
    })
    .await?
    .map_err(|e| needs_daemon_stopped(e.into()))?;
    Ok(summary)
}

/// An offline command's error, with what to do when the daemon holds the
/// store.
fn needs_daemon_stopped(e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:#}\n(is the daemon running? stop it first, e.g. `systemctl stop tidings`)")
}

/// `tidings restore PATH`: restores a backup as the configured store. An
/// existing store is only replaced with `force`, and then kept beside it
/// (renamed, never deleted).
pub async fn restore(
    config: &Config,
    path: &std::path::Path,
    force: bool,
) -> anyhow::Result<BackupSummary> {
    let target = config.storage.path.clone();
    let occupied = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        if !force {
            anyhow::bail!(
                "the store at {} already holds data; restore into an empty location, or pass --force to set the current store aside",
                target.display()
            );
        }
        let aside = target.with_extension(format!(
            "before-restore-{}",
            Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::rename(&target, &aside)
            .with_context(|| format!("cannot move the current store to {}", aside.display()))?;
        tracing::warn!("the previous store was moved to {}", aside.display());
        eprintln!("the previous store was moved to {}", aside.display());
    }
    let (backup, cache) = (path.to_owned(), config.storage.cache_bytes);
    let summary =
        tokio::task::spawn_blocking(move || Store::restore(&backup, &target, cache)).await??;
    Ok(summary)
}

/// `tidings poll --once`: polls every feed now, `concurrency` at a time,
/// calling `report` as each finishes.
pub async fn poll_once(
    config: &Config,
    store: impl Into<SharedStore>,
    mut report: impl FnMut(&PollReport),
) -> anyhow::Result<Vec<PollReport>> {
    let store = store.into();
    let fetcher = Fetcher::new(&config.polling).context("cannot build the HTTP client")?;
    let poller = Poller::new(fetcher, store.clone(), config.polling.max_interval);
    let mut tasks = JoinSet::new();
    let mut reports = Vec::with_capacity(config.feeds.len());
    let mut finish_one = async |tasks: &mut JoinSet<_>| -> anyhow::Result<()> {
        if let Some(done) = tasks.join_next().await {
            let r: PollReport = done.context("poll task failed")??;
            report(&r);
            reports.push(r);
        }
        Ok(())
    };
    // At most `concurrency` polls at once; a poll is spawned only when
    // another has ended, not queued as a task (each the size of a poll).
    for feed in &config.feeds {
        if tasks.len() >= config.polling.concurrency {
            finish_one(&mut tasks).await?;
        }
        let (poller, feed) = (poller.clone(), feed.clone());
        tasks.spawn(async move { poller.poll(&feed, crate::model::now()).await });
    }
    while !tasks.is_empty() {
        finish_one(&mut tasks).await?;
    }
    flush(&store).await?;
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

/// Polls each feed when it is due, at most `concurrency` at once, and
/// follows config reloads: added feeds start, removed feeds stop (their
/// entries stay), changed intervals apply from the next poll.
struct Scheduler {
    store: SharedStore,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

/// One feed's place in the schedule.
struct Slot {
    feed: FeedConfig,
    due: DateTime<Utc>,
    in_flight: bool,
}

/// The URLs of the `n` feeds due earliest, earliest first (ties by URL),
/// without sorting thousands of them at every poll that ends.
fn earliest<'a>(
    due: impl Iterator<Item = (DateTime<Utc>, &'a String)>,
    n: usize,
) -> Vec<&'a String> {
    if n == 0 {
        return Vec::new();
    }
    let mut due: Vec<(DateTime<Utc>, &String)> = due.collect();
    if due.len() > n {
        due.select_nth_unstable(n);
        due.truncate(n);
    }
    due.sort_unstable();
    due.into_iter().map(|(_, url)| url).collect()
}

/// The parts of the scheduler a reload may replace.
struct Pollers {
    poller: Poller,
    permits: Arc<Semaphore>,
    polling: crate::config::PollingConfig,
}

impl Pollers {
    fn new(store: &SharedStore, config: &Config) -> anyhow::Result<Pollers> {
        let fetcher = Fetcher::new(&config.polling).context("cannot build the HTTP client")?;
        Ok(Pollers {
            poller: Poller::new(fetcher, store.clone(), config.polling.max_interval),
            permits: Arc::new(Semaphore::new(config.polling.concurrency)),
            polling: config.polling.clone(),
        })
    }
}

impl Scheduler {
    async fn run(self, mut config_rx: watch::Receiver<Arc<Config>>) {
        let config = Arc::clone(&config_rx.borrow_and_update());
        let mut pollers = match Pollers::new(&self.store, &config) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("scheduler cannot start: {e:#}");
                return;
            }
        };
        let mut slots: BTreeMap<String, Slot> = BTreeMap::new();
        self.apply(&config, &mut slots);
        let mut tasks: JoinSet<Option<PollReport>> = JoinSet::new();
        // Which feed each running task polls, so even a panicked task
        // releases its feed.
        let mut task_feed: HashMap<tokio::task::Id, String> = HashMap::new();

        loop {
            self.health.beat();
            let now = Utc::now();
            // A poll is spawned only with a permit in hand, earliest due
            // first: ten thousand feeds due at start are not ten thousand
            // tasks (each the size of a whole poll) waiting for permits.
            let due = (slots.iter())
                .filter(|(_, s)| !s.in_flight && s.due <= now)
                .map(|(url, s)| (s.due, url));
            let due = earliest(due, pollers.permits.available_permits());
            let mut starting = Vec::new();
            for url in due {
                match Arc::clone(&pollers.permits).try_acquire_owned() {
                    Ok(permit) => starting.push((url.clone(), permit)),
                    Err(_) => break,
                }
            }
            for (url, permit) in starting {
                let Some(slot) = slots.get_mut(&url) else {
                    continue;
                };
                slot.in_flight = true;
                let poller = pollers.poller.clone();
                let feed = slot.feed.clone();
                let handle = tasks.spawn(async move {
                    let _permit = permit;
                    match poller.poll(&feed, crate::model::now()).await {
                        Ok(report) => Some(report),
                        Err(e) => {
                            tracing::error!(feed = %feed.url, "cannot store entries of {}: {e}", feed.url);
                            None
                        }
                    }
                });
                task_feed.insert(handle.id(), url.clone());
            }
            // Feeds due but waiting for a permit start when a poll ends
            // (below), so they do not count here.
            let next_due = (slots.values())
                .filter(|s| !s.in_flight && s.due > now)
                .map(|s| s.due)
                .min();
            let sleep_for = next_due
                .map_or(SCHEDULER_TICK, |t| {
                    (t - Utc::now()).to_std().unwrap_or(Duration::ZERO)
                })
                .min(SCHEDULER_TICK);
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                changed = config_rx.changed() => {
                    if changed.is_err() {
                        continue; // the daemon is shutting down
                    }
                    let config = Arc::clone(&config_rx.borrow_and_update());
                    if config.polling != pollers.polling {
                        match Pollers::new(&self.store, &config) {
                            Ok(p) => pollers = p,
                            Err(e) => tracing::error!("keeping the old [polling] settings: {e:#}"),
                        }
                    }
                    self.apply(&config, &mut slots);
                }
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let (task, report) = match done {
                        Ok((task, report)) => (task, report),
                        Err(e) => {
                            tracing::error!("poll task failed: {e}");
                            (e.id(), None)
                        }
                    };
                    if let Some(report) = &report {
                        self.metrics.record_poll(report);
                    }
                    let slot = task_feed.remove(&task).and_then(|url| slots.get_mut(&url));
                    if let Some(slot) = slot {
                        slot.in_flight = false;
                        // A store failure or a crashed task still waits a
                        // full interval rather than spinning.
                        slot.due = report.map_or_else(
                            || Utc::now() + chrono::Duration::from_std(slot.feed.interval).unwrap_or(chrono::Duration::MAX),
                            |r| r.next_due,
                        );
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
        self.health.scheduler_stopped();
    }

    /// Brings the slots in line with `config`'s feeds.
    fn apply(&self, config: &Config, slots: &mut BTreeMap<String, Slot>) {
        let now = Utc::now();
        let wanted: HashMap<String, &FeedConfig> = config
            .feeds
            .iter()
            .map(|f| (f.url.to_string(), f))
            .collect();
        slots.retain(|url, _| {
            let keep = wanted.contains_key(url);
            if !keep {
                tracing::info!(feed = %url, "feed removed from the config: no longer polled (its entries stay)");
            }
            keep
        });
        for (url, feed) in wanted {
            match slots.get_mut(&url) {
                Some(slot) => slot.feed = feed.clone(),
                None => {
                    let state = self
                        .store
                        .get()
                        .feed_state(FeedId::for_url(&url))
                        .unwrap_or_else(|e| {
                            tracing::warn!(feed = %url, "cannot read feed state: {e}");
                            None
                        });
                    let due = schedule::first_due(
                        state.as_ref(),
                        now,
                        feed.interval,
                        schedule::jitter(&url, 0),
                    );
                    slots.insert(
                        url,
                        Slot {
                            feed: feed.clone(),
                            due,
                            in_flight: false,
                        },
                    );
                }
            }
        }
    }
}

enum Signal {
    Reload,
    Stop,
}

/// The daemon's signal listeners, created once so that no signal arriving
/// between two waits is lost.
struct Signals {
    hangup: Option<tokio::signal::unix::Signal>,
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind, what| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("cannot listen for {what}: {e}");
                None
            }
        };
        Signals {
            hangup: listen(SignalKind::hangup(), "SIGHUP (no reloads)"),
            terminate: listen(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// Waits for SIGHUP (reload) or SIGINT/SIGTERM (stop).
    async fn next(&mut self) -> Signal {
        let hangup = &mut self.hangup;
        let terminate = &mut self.terminate;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => Signal::Stop,
            Some(_) = async { terminate.as_mut()?.recv().await } => Signal::Stop,
            Some(_) = async { hangup.as_mut()?.recv().await } => Signal::Reload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler starts the feeds due longest ago first, whatever
    /// their order in the config, and as many as it has permits for.
    #[test]
    fn the_earliest_due_feeds_start_first() {
        let start = Utc::now();
        // Due times in a scrambled order, two feeds due at the same time.
        let feeds: Vec<(DateTime<Utc>, String)> = (0..50u32)
            .map(|i| {
                let minutes = i64::from((i * 37) % 50 / 2);
                (
                    start - chrono::Duration::minutes(minutes),
                    format!("https://f{i}/"),
                )
            })
            .collect();
        let mut by_due: Vec<(DateTime<Utc>, &String)> =
            feeds.iter().map(|(due, url)| (*due, url)).collect();
        by_due.sort();
        for n in [0, 1, 7, 49, 50, 80] {
            let picked = earliest(feeds.iter().map(|(due, url)| (*due, url)), n);
            let expected: Vec<&String> = by_due.iter().take(n).map(|(_, url)| *url).collect();
            assert_eq!(picked, expected, "{n} permits");
        }
    }
}
