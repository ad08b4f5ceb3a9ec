//! tidings: a self-hosted news feed aggregator.
//!
//! One entry's path through the code, in pipeline order:
//!
//! ```text
//!  config ──▶ schedule ──▶ fetch ──▶ normalize ──▶ dedup ──▶ store ──▶ serve
//!  (TOML)     (when due)   (HTTP)    (feed-rs →    (story    (sled)    (Atom per
//!                                     Item)         identity)           topic)
//! ```
//!
//! - [`config`]: the TOML schema and its validation (errors with line/column).
//! - [`schedule`]: when each feed is due; backoff.
//! - [`fetch`]: one polite, bounded HTTP GET with conditional headers.
//! - [`normalize`]: feed bytes → [`normalize::Item`]s (clean text, HTML,
//!   canonical links) for every format.
//! - [`dedup`]: the identity ladder that gives each story a stable
//!   [`model::EntryId`].
//! - [`store`]: the only code that touches sled.
//! - [`poll`]: runs fetch → normalize → dedup → store for one feed.
//! - [`topic`]: the query language topics are written in, and matching.
//! - [`serve`]: the HTTP routes, reading the store only.
//! - [`status`]: feed health for admins (`tidings feeds`, `/api/feeds`).
//! - [`daemon`]: wiring, signals, reload and graceful shutdown.
//! - [`housekeeping`]: the daemon's periodic retention pass.
//! - [`service`]: systemd integration (sd_notify, watchdog, socket
//!   activation); [`health`] and [`metrics`]: what monitoring sees.
//! - [`inspect`]: topic tuning tools (`explain`, `test-topic`) over the store.
//! - [`memory`]: the allocator settings the daemon (and its benchmarks) run with.
//!
//! [`model`] holds the types every stage shares.

pub mod config;
pub mod config_edit;
pub mod daemon;
pub mod dedup;
pub mod fetch;
pub mod health;
pub mod housekeeping;
pub mod inspect;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod normalize;
pub mod opml;
pub mod poll;
pub mod schedule;
pub mod serve;
pub mod service;
pub mod status;
pub mod store;
pub mod topic;
