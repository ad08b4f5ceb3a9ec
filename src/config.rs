//! Configuration: the TOML schema, its defaults, and validation whose every
//! error names the file, line and column (with the offending line and a
//! caret), so an admin can fix a typo without guessing.
//!
//! Loading happens in two steps: serde reads the raw schema (unknown keys,
//! wrong types and bad durations fail here, located by toml's spans), then
//! [`validate`] checks what serde cannot (URLs, duplicates, slugs, topic
//! queries) using the spans it kept.

use crate::dedup::IdentityMode;
use crate::model::FeedId;
use crate::store::RetentionPolicy;
use crate::topic::{Aliases, Query, Topic, parse_language_code};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use url::Url;

/// Where the config is read from when `--config` is not given and
/// `$TIDINGS_CONFIG` is unset.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/tidings/tidings.toml";

/// The slug of the feed of every entry; no topic may take it.
pub const ALL_SLUG: &str = "all";

/// A validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub polling: PollingConfig,
    pub feeds: Vec<FeedConfig>,
    pub topics: Vec<Topic>,
    /// Where settings that can fail only at run time were written, so that
    /// such a failure (port in use, unusable store) is located like any
    /// other config error.
    pub origins: Origins,
}

/// Locations in the config file of settings checked only at run time;
/// `None` when the setting was left at its default.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    pub listen: Option<Location>,
    pub storage_path: Option<Location>,
}

#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Public base URL for self links; when unset, links are built from the
    /// request's `Host` header.
    pub base_url: Option<Url>,
    /// Who may read which feeds.
    pub access: AccessConfig,
}

/// Access tokens. With none configured every feed is public.
#[derive(Clone, Debug, Default)]
pub struct AccessConfig {
    /// `[server] tokens`: when set, every feed needs one of them.
    pub global: Vec<String>,
    /// `[[topic]] token`: that topic's feed needs it (or a global token).
    pub per_topic: HashMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// The sled directory, resolved against the config file's directory.
    pub path: PathBuf,
    /// sled page-cache capacity in bytes.
    pub cache_bytes: u64,
    /// `min_free_mb`: free space below which the store refuses writes.
    pub min_free_bytes: u64,
    /// `compact_above_mb`: disk use above which the daemon compacts a
    /// store that has grown far past its live data.
    pub compact_above_bytes: u64,
    /// `max_age`, `max_entries_per_feed`: what retention keeps.
    pub retention: RetentionPolicy,
    /// `prune_interval`: how often the daemon runs retention.
    pub prune_interval: Duration,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PollingConfig {
    pub interval: Duration,
    pub concurrency: usize,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Largest accepted body, after decompression.
    pub max_body_bytes: u64,
    pub user_agent: String,
    /// Fetches to one host at once.
    pub max_per_host: usize,
    /// The longest a server's or feed's caching hints may stretch a feed's
    /// interval, and the longest backoff after failures.
    pub max_interval: Duration,
}

#[derive(Clone, Debug)]
pub struct FeedConfig {
    /// The configured URL: the feed's identity.
    pub url: Url,
    pub title: Option<String>,
    pub interval: Duration,
    /// Overrides `[polling] user_agent` for this feed.
    pub user_agent: Option<String>,
    /// Extra request headers for this feed (e.g. an API key).
    pub headers: Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>,
    /// Which rungs of the identity ladder name this feed's items.
    pub identity: IdentityMode,
}

/// A configuration error, located in its file when possible.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
    pub location: Option<Location>,
}

/// A 1-based line and column, with the text of that line for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
    pub source_line: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.location {
            None => write!(f, "{path}: {}", self.message),
            Some(loc) => {
                let gutter = loc.line.to_string().len();
                let caret_pad: String = loc
                    .source_line
                    .chars()
                    .take(loc.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(
                    f,
                    "{path}:{}:{}: {}\n{:gutter$} |\n{} | {}\n{:gutter$} | {caret_pad}^",
                    loc.line, loc.column, self.message, "", loc.line, loc.source_line, ""
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// An error about this config, at `at` when the setting was written in
    /// the file (else about the file as a whole).
    pub fn error_at(&self, at: Option<&Location>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.clone(),
            message: message.into(),
            location: at.cloned(),
        }
    }
}

impl Config {
    /// Reads and validates the config at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_owned(),
            message: format!("cannot read the config file: {e}"),
            location: None,
        })?;
        // systemd's StateDirectory= sets $STATE_DIRECTORY: the store goes
        // there unless the config names a path.
        let state_dir = std::env::var_os("STATE_DIRECTORY")
            .and_then(|dirs| std::env::split_paths(&dirs).next())
            .filter(|d| !d.as_os_str().is_empty());
        Config::parse(&source, path, state_dir)
    }

    /// Parses `source` as if read from `path`. Relative storage paths are
    /// resolved against `path`'s directory; without `[storage] path` the
    /// store is `default_storage`, else `data/` next to the config.
    pub fn parse(
        source: &str,
        path: &Path,
        default_storage: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(source).map_err(|e| {
            let message = e.message().trim();
            ConfigError {
                path: path.to_owned(),
                message: match what_to_do(message) {
                    Some(hint) => format!("{message}: {hint}"),
                    None => message.to_owned(),
                },
                location: e.span().map(|s| locate(source, s.start)),
            }
        })?;
        validate(raw, source, path, default_storage)
    }
}

/// What to do about a mistake serde found, when its message does not say.
fn what_to_do(message: &str) -> Option<&'static str> {
    if message.starts_with("missing field") {
        Some("add it to this table")
    } else if message.contains("expected u64") || message.contains("expected usize") {
        Some("write a whole number, e.g. 16")
    } else if message.contains("expected a sequence") {
        Some(
            "write a list as [\"a\", \"b\"], and each feed or topic as its own [[feed]] or [[topic]] table",
        )
    } else if message.contains("expected a map") {
        Some("write a table, e.g. headers = { \"X-Api-Key\" = \"…\" }")
    } else if message.contains("expected a string") {
        Some("put the value in double quotes")
    } else {
        None
    }
}

// ---- raw schema (what serde reads) ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default, rename = "feed")]
    feeds: Vec<RawFeed>,
    #[serde(default, rename = "topic")]
    topics: Vec<RawTopic>,
    /// Named term groups, used in queries as `@name`.
    #[serde(default)]
    aliases: std::collections::BTreeMap<String, Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    base_url: Option<Spanned<String>>,
    tokens: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<Spanned<String>>,
    cache_mb: Option<Spanned<u64>>,
    min_free_mb: Option<Spanned<u64>>,
    compact_above_mb: Option<Spanned<u64>>,
    max_age: Option<Spanned<HumanDuration>>,
    max_entries_per_feed: Option<Spanned<usize>>,
    prune_interval: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    interval: Option<Spanned<HumanDuration>>,
    concurrency: Option<Spanned<usize>>,
    connect_timeout: Option<Spanned<HumanDuration>>,
    timeout: Option<Spanned<HumanDuration>>,
    max_body_mb: Option<Spanned<u64>>,
    user_agent: Option<String>,
    max_per_host: Option<Spanned<usize>>,
    max_interval: Option<Spanned<HumanDuration>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<String>,
    title: Option<String>,
    interval: Option<Spanned<HumanDuration>>,
    user_agent: Option<String>,
    headers: Option<Spanned<std::collections::BTreeMap<String, String>>>,
    identity: Option<IdentityMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    slug: Spanned<String>,
    title: Option<String>,
    query: Spanned<String>,
    exclude: Option<Spanned<String>>,
    feeds: Option<Vec<Spanned<String>>>,
    languages: Option<Vec<Spanned<String>>>,
    min_score: Option<Spanned<Score>>,
    token: Option<Spanned<String>>,
}

/// A `min_score`: TOML writes `4` and `4.5` as different types.
#[derive(Clone, Copy)]
struct Score(f64);

impl<'de> Deserialize<'de> for Score {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Number {
            Int(i64),
            Float(f64),
        }
        match Number::deserialize(d) {
            Ok(Number::Int(i)) => Ok(Score(i as f64)),
            Ok(Number::Float(f)) if f.is_finite() => Ok(Score(f)),
            _ => Err(serde::de::Error::custom(
                "min_score must be a number, e.g. 4 or 2.5",
            )),
        }
    }
}

/// A duration written the humantime way: "90s", "15m", "1h 30m", "2d".
#[derive(Clone, Copy)]
struct HumanDuration(Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Text(String),
            Number(i64),
        }
        let text = match Written::deserialize(d) {
            Ok(Written::Text(text)) => text,
            Ok(Written::Number(n)) => {
                return Err(serde::de::Error::custom(format!(
                    "a duration needs a unit and quotes: write \"{n}s\" or \"{n}m\", not {n}"
                )));
            }
            Err(_) => {
                return Err(serde::de::Error::custom(
                    "a duration is text with a unit, e.g. \"90s\", \"15m\", \"1h 30m\"",
                ));
            }
        };
        humantime::parse_duration(&text)
            .map(HumanDuration)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid duration {text:?}: {e} (write e.g. \"90s\", \"15m\", \"1h 30m\")"
                ))
            })
    }
}

// ---- validation ----

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30 * 60);
const MIN_INTERVAL: Duration = Duration::from_secs(1);
const DEFAULT_CONCURRENCY: usize = 16;
/// sled's page cache. sled holds about four times this (pages it loaded,
/// their bookkeeping), so it is the knob for sled's share of memory:
/// polling 10,000 feeds peaked at 198–202 MB with 8 and 208–212 MB with
/// 16, and ingest ran at the same speed with either (its reads are of
/// random keys in a store far bigger than both).
const DEFAULT_CACHE_MB: u64 = 8;
/// Below this, a store's garbage is not worth a rewrite.
const DEFAULT_COMPACT_ABOVE_MB: u64 = 64;
/// Retention is cheap when there is nothing to prune; hourly keeps the
/// store within its limits without much overshoot.
const DEFAULT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
const DEFAULT_MAX_BODY_MB: u64 = 16;
const DEFAULT_MAX_PER_HOST: usize = 2;
const DEFAULT_MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

pub fn default_user_agent() -> String {
    format!(
        "tidings/{} (+{})",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_REPOSITORY")
    )
}

struct Validator<'a> {
    source: &'a str,
    path: &'a Path,
}

impl Validator<'_> {
    fn error_at(&self, offset: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            path: self.path.to_owned(),
            message: message.into(),
            location: Some(locate(self.source, offset)),
        }
    }

    fn error<T>(&self, spanned: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.error_at(spanned.span().start, message)
    }

    fn positive_duration(
        &self,
        value: Option<Spanned<HumanDuration>>,
        default: Duration,
        what: &str,
    ) -> Result<Duration, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) if v.get_ref().0 < MIN_INTERVAL => {
                Err(self.error(&v, format!("{what} must be at least 1s")))
            }
            Some(v) => Ok(v.into_inner().0),
        }
    }
}

fn validate(
    raw: RawConfig,
    source: &str,
    path: &Path,
    default_storage: Option<PathBuf>,
) -> Result<Config, ConfigError> {
    let v = Validator { source, path };

    let listen = match &raw.server.listen {
        None => DEFAULT_LISTEN
            .parse()
            .map_err(|_| v.error_at(0, "bad default"))?,
        Some(l) => l.get_ref().parse::<SocketAddr>().map_err(|_| {
            v.error(
                l,
                format!(
                    "invalid listen address {:?}: write host:port, e.g. \"127.0.0.1:8080\"",
                    l.get_ref()
                ),
            )
        })?,
    };
    let base_url = match &raw.server.base_url {
        None => None,
        Some(b) => {
            let url = parse_http_url(b.get_ref()).map_err(|m| v.error(b, m))?;
            Some(url)
        }
    };

    let origins = Origins {
        listen: raw
            .server
            .listen
            .as_ref()
            .map(|l| locate(source, l.span().start)),
        storage_path: raw
            .storage
            .path
            .as_ref()
            .map(|p| locate(source, p.span().start)),
    };
    let storage_path = match (raw.storage.path.map(Spanned::into_inner), default_storage) {
        (None, Some(default)) => default,
        (configured, _) => {
            let p = PathBuf::from(configured.as_deref().unwrap_or("data"));
            if p.is_relative() {
                path.parent().unwrap_or(Path::new(".")).join(p)
            } else {
                p
            }
        }
    };
    let cache_mb = raw
        .storage
        .cache_mb
        .map_or(DEFAULT_CACHE_MB, |c| c.into_inner());
    let retention = RetentionPolicy {
        max_age: match raw.storage.max_age {
            None => None,
            Some(age) => Some(v.positive_duration(Some(age), Duration::ZERO, "max_age")?),
        },
        max_entries_per_feed: match raw.storage.max_entries_per_feed {
            None => None,
            Some(m) if *m.get_ref() == 0 => {
                return Err(v.error(&m, "max_entries_per_feed must be at least 1"));
            }
            Some(m) => Some(m.into_inner()),
        },
    };
    let prune_interval = v.positive_duration(
        raw.storage.prune_interval,
        DEFAULT_PRUNE_INTERVAL,
        "prune_interval",
    )?;

    let interval = v.positive_duration(raw.polling.interval, DEFAULT_INTERVAL, "interval")?;
    let concurrency = match raw.polling.concurrency {
        None => DEFAULT_CONCURRENCY,
        Some(c) if *c.get_ref() == 0 || *c.get_ref() > 1024 => {
            return Err(v.error(&c, "concurrency must be between 1 and 1024"));
        }
        Some(c) => c.into_inner(),
    };
    let max_body_mb = match raw.polling.max_body_mb {
        None => DEFAULT_MAX_BODY_MB,
        Some(m) if *m.get_ref() == 0 => return Err(v.error(&m, "max_body_mb must be at least 1")),
        Some(m) => m.into_inner(),
    };
    let polling = PollingConfig {
        interval,
        concurrency,
        connect_timeout: v.positive_duration(
            raw.polling.connect_timeout,
            Duration::from_secs(10),
            "connect_timeout",
        )?,
        timeout: v.positive_duration(raw.polling.timeout, Duration::from_secs(30), "timeout")?,
        max_body_bytes: max_body_mb.saturating_mul(1024 * 1024),
        user_agent: raw.polling.user_agent.unwrap_or_else(default_user_agent),
        max_per_host: match raw.polling.max_per_host {
            None => DEFAULT_MAX_PER_HOST,
            Some(m) if *m.get_ref() == 0 => {
                return Err(v.error(&m, "max_per_host must be at least 1"));
            }
            Some(m) => m.into_inner(),
        },
        max_interval: v.positive_duration(
            raw.polling.max_interval,
            DEFAULT_MAX_INTERVAL,
            "max_interval",
        )?,
    };

    let mut feeds = Vec::with_capacity(raw.feeds.len());
    let mut seen_urls: HashMap<String, usize> = HashMap::new();
    for feed in raw.feeds {
        let url = parse_http_url(feed.url.get_ref()).map_err(|m| v.error(&feed.url, m))?;
        if let Some(first) = seen_urls.insert(url.to_string(), feed.url.span().start) {
            let first = locate(source, first);
            return Err(v.error(
                &feed.url,
                format!(
                    "duplicate feed URL {url} (first listed on line {})",
                    first.line
                ),
            ));
        }
        let mut headers = Vec::new();
        for (name, value) in feed.headers.iter().flat_map(|h| h.get_ref()) {
            let header = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .ok()
                .zip(reqwest::header::HeaderValue::from_str(value).ok());
            match header {
                Some(h) => headers.push(h),
                None => {
                    let at = feed.headers.as_ref().map_or(0, |h| h.span().start);
                    return Err(v.error_at(at, format!("invalid HTTP header {name:?}: {value:?}")));
                }
            }
        }
        feeds.push(FeedConfig {
            url,
            title: feed.title.filter(|t| !t.trim().is_empty()),
            interval: v.positive_duration(feed.interval, interval, "interval")?,
            user_agent: feed.user_agent,
            headers,
            identity: feed.identity.unwrap_or_default(),
        });
    }

    let mut aliases = Aliases::default();
    for (name, items) in &raw.aliases {
        let texts: Vec<&str> = items
            .get_ref()
            .iter()
            .map(|i| i.get_ref().as_str())
            .collect();
        aliases.define(name, &texts).map_err(|e| {
            let offset = match e.item.and_then(|i| items.get_ref().get(i)) {
                Some(item) => query_offset_in_source(source, item, 0),
                None => items.span().start,
            };
            v.error_at(offset, format!("invalid [aliases] entry: {}", e.message))
        })?;
    }

    let mut access = AccessConfig::default();
    for token in raw.server.tokens.iter().flatten() {
        access.global.push(valid_token(&v, token)?);
    }
    let mut topics: Vec<Topic> = Vec::with_capacity(raw.topics.len());
    let mut seen_slugs: HashMap<String, usize> = HashMap::new();
    for topic in raw.topics {
        let slug = topic.slug.get_ref();
        if slug.is_empty()
            || !slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(v.error(
                &topic.slug,
                format!("invalid slug {slug:?}: use lower-case letters, digits, '-' and '_'"),
            ));
        }
        if slug == ALL_SLUG {
            return Err(v.error(
                &topic.slug,
                "the slug \"all\" is reserved for the feed of every entry",
            ));
        }
        if let Some(first) = seen_slugs.insert(slug.clone(), topic.slug.span().start) {
            let first = locate(source, first);
            return Err(v.error(
                &topic.slug,
                format!(
                    "duplicate topic slug {slug:?} (first used on line {})",
                    first.line
                ),
            ));
        }
        let parse = |text: &Spanned<String>, what: &str| {
            Query::parse(text.get_ref(), &aliases).map_err(|e| {
                v.error_at(
                    query_offset_in_source(source, text, e.offset),
                    format!("invalid {what} of topic {slug:?}: {}", e.message),
                )
            })
        };
        let query = parse(&topic.query, "query")?;
        let exclude = topic
            .exclude
            .as_ref()
            .map(|e| parse(e, "exclude query"))
            .transpose()?;
        let topic_feeds = match &topic.feeds {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|item| {
                        let url = parse_http_url(item.get_ref()).map_err(|m| v.error(item, m))?;
                        if !feeds.iter().any(|f| f.url == url) {
                            return Err(v.error(
                                item,
                                format!("topic {slug:?} lists feed {url}, which no [[feed]] has"),
                            ));
                        }
                        Ok(FeedId::for_url(url.as_str()))
                    })
                    .collect::<Result<Vec<_>, ConfigError>>()?,
            ),
        };
        let languages = match &topic.languages {
            None => None,
            Some(list) => Some(
                list.iter()
                    .map(|item| parse_language_code(item.get_ref()).map_err(|m| v.error(item, m)))
                    .collect::<Result<Vec<_>, ConfigError>>()?,
            ),
        };
        let min_score = match &topic.min_score {
            Some(m) if !query.is_weighted() => {
                return Err(v.error(
                    m,
                    format!(
                        "min_score of topic {slug:?} needs weighted clauses in its query \
                         (e.g. `(a NEAR/5 b)^2`): without them every match scores 0"
                    ),
                ));
            }
            m => m.as_ref().map(|m| m.get_ref().0),
        };
        if let Some(token) = &topic.token {
            access
                .per_topic
                .insert(slug.clone(), valid_token(&v, token)?);
        }
        topics.push(Topic {
            title: topic.title.unwrap_or_else(|| slug.clone()),
            slug: topic.slug.into_inner(),
            query,
            exclude,
            feeds: topic_feeds,
            languages,
            min_score,
        });
    }

    Ok(Config {
        path: path.to_owned(),
        server: ServerConfig {
            listen,
            base_url,
            access,
        },
        storage: StorageConfig {
            path: storage_path,
            cache_bytes: cache_mb.saturating_mul(1024 * 1024),
            min_free_bytes: raw
                .storage
                .min_free_mb
                .map_or(crate::store::DEFAULT_MIN_FREE, |m| {
                    m.into_inner().saturating_mul(1024 * 1024)
                }),
            compact_above_bytes: raw
                .storage
                .compact_above_mb
                .map_or(DEFAULT_COMPACT_ABOVE_MB, |m| m.into_inner())
                .saturating_mul(1024 * 1024),
            retention,
            prune_interval,
        },
        polling,
        feeds,
        topics,
        origins,
    })
}

/// Tokens travel in URLs and headers: long enough to resist guessing, and
/// only characters that need no escaping.
fn valid_token(v: &Validator<'_>, token: &Spanned<String>) -> Result<String, ConfigError> {
    let t = token.get_ref();
    if t.len() < 16
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
    {
        return Err(v.error(
            token,
            "a token must be at least 16 characters of A-Z, a-z, 0-9, '-', '_', '.', '~' (e.g. from `openssl rand -hex 16`)",
        ));
    }
    Ok(t.clone())
}

fn parse_http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("invalid URL {text:?}: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "invalid URL {text:?}: only http and https are supported"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid URL {text:?}: it has no host"));
    }
    Ok(url)
}

/// Maps an offset inside a query string to an offset in the TOML source.
/// The span covers the quoted value; its text appears verbatim in it unless
/// it used escapes, in which case we point at the value's start.
fn query_offset_in_source(source: &str, query: &Spanned<String>, offset: usize) -> usize {
    let span: Range<usize> = query.span();
    let raw = source.get(span.clone()).unwrap_or("");
    match raw.find(query.get_ref().as_str()) {
        Some(start) if !query.get_ref().is_empty() => span.start + start + offset,
        _ => span.start,
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
fn locate(source: &str, offset: usize) -> Location {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = source
        .get(line_start..offset)
        .map_or(1, |s| s.chars().count() + 1);
    let source_line = source[line_start..].lines().next().unwrap_or("").to_owned();
    Location {
        line,
        column,
        source_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(src: &str) -> Result<Config, ConfigError> {
        Config::parse(src, Path::new("/etc/tidings/tidings.toml"), None)
    }

    fn error(src: &str) -> (usize, usize, String) {
        let e = load(src).expect_err("config should be rejected");
        let loc = e.location.clone().expect("error should be located");
        (loc.line, loc.column, e.to_string())
    }

    const GOOD: &str = r#"
[server]
listen = "127.0.0.1:9000"

[storage]
path = "state"

[polling]
interval = "20m"
concurrency = 4

[[feed]]
url = "https://www.themoscowtimes.com/rss/news"
title = "The Moscow Times"
interval = "15m"

[[feed]]
url = "https://tass.com/rss/v2.xml"

[[topic]]
slug = "russia-china"
title = "Russia–China relations"
query = '''(russia OR kremlin) AND (china OR "xi jinping")'''
"#;

    #[test]
    fn a_good_config_loads_with_defaults_filled_in() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(c.storage.path, Path::new("/etc/tidings/state"));
        assert_eq!(c.polling.concurrency, 4);
        assert_eq!(c.polling.timeout, Duration::from_secs(30));
        assert_eq!(c.feeds[0].interval, Duration::from_secs(15 * 60));
        assert_eq!(c.feeds[1].interval, Duration::from_secs(20 * 60));
        assert_eq!(c.polling.max_per_host, 2);
        assert_eq!(c.polling.max_interval, Duration::from_secs(24 * 3600));
        let with_headers = GOOD.replace(
            "interval = \"15m\"\n",
            "interval = \"15m\"\nuser_agent = \"ua/1\"\nheaders = { \"X-Api-Key\" = \"k\" }\n",
        );
        let c = load(&with_headers).unwrap();
        assert_eq!(c.feeds[0].user_agent.as_deref(), Some("ua/1"));
        assert_eq!(c.feeds[0].headers.len(), 1);
        assert_eq!(c.feeds[0].headers[0].0.as_str(), "x-api-key");
        assert_eq!(c.topics[0].slug, "russia-china");
        assert!(c.polling.user_agent.starts_with("tidings/"));
        let systemd = Config::parse(
            "",
            Path::new("/etc/tidings/tidings.toml"),
            Some("/var/lib/tidings".into()),
        );
        assert_eq!(systemd.unwrap().storage.path, Path::new("/var/lib/tidings"));
        let empty = load("").unwrap();
        assert_eq!(empty.storage.path, Path::new("/etc/tidings/data"));
        assert_eq!(empty.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(empty.polling.interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn mistakes_are_located() {
        let (l, c, msg) = error(&GOOD.replace("concurrency = 4", "concurency = 4"));
        assert_eq!((l, c), (10, 1), "{msg}");
        assert!(msg.contains("unknown field `concurency`"), "{msg}");
        assert!(msg.contains("/etc/tidings/tidings.toml:10:1"), "{msg}");
        assert!(msg.contains("10 | concurency = 4"), "{msg}");

        let (l, _, msg) = error(&GOOD.replace("\"15m\"", "\"15 minutes-ish\""));
        assert_eq!(l, 15, "{msg}");
        assert!(msg.contains("invalid duration"), "{msg}");

        let (l, _, msg) = error(&GOOD.replace("concurrency = 4", "concurrency = \"four\""));
        assert_eq!(l, 10, "{msg}");

        let (l, c, msg) = error(&GOOD.replace("https://tass.com", "htps//tass.com"));
        assert_eq!((l, c), (18, 7), "{msg}");
        assert!(msg.contains("invalid URL"), "{msg}");

        let dup = format!("{GOOD}\n[[feed]]\nurl = \"https://tass.com/rss/v2.xml\"\n");
        let (l, _, msg) = error(&dup);
        assert_eq!(l, 26, "{msg}");
        assert!(
            msg.contains("duplicate feed URL") && msg.contains("line 18"),
            "{msg}"
        );

        let dup = format!("{GOOD}\n[[topic]]\nslug = \"russia-china\"\nquery = \"x\"\n");
        let (l, _, msg) = error(&dup);
        assert_eq!(l, 26, "{msg}");
        assert!(msg.contains("duplicate topic slug"), "{msg}");

        let bad_header = GOOD.replace(
            "interval = \"15m\"\n",
            "interval = \"15m\"\nheaders = { \"Bad Name\" = \"x\" }\n",
        );
        let (l, _, msg) = error(&bad_header);
        assert_eq!(l, 16, "{msg}");
        assert!(msg.contains("invalid HTTP header \"Bad Name\""), "{msg}");

        let (_, _, msg) = error(&GOOD.replace("slug = \"russia-china\"", "slug = \"all\""));
        assert!(msg.contains("reserved"), "{msg}");

        let (_, _, msg) =
            error(&GOOD.replace("listen = \"127.0.0.1:9000\"", "listen = \"localhost\""));
        assert!(msg.contains("invalid listen address"), "{msg}");
    }

    #[test]
    fn query_errors_point_into_the_query() {
        let bad = GOOD.replace(
            r#"'''(russia OR kremlin) AND (china OR "xi jinping")'''"#,
            r#"'''(russia OR kremlin) AND (china'''"#,
        );
        let (l, c, msg) = error(&bad);
        // The `(` that is never closed: line 23, column 12 + 24.
        assert_eq!((l, c), (23, 36), "{msg}");
        assert!(
            msg.contains("invalid query of topic \"russia-china\""),
            "{msg}"
        );
        assert!(msg.ends_with(&format!("{}^", " ".repeat(35))), "{msg}");
    }

    /// A topic that uses every topic key, and an alias table.
    const TOPICS: &str = r#"
[[feed]]
url = "https://tass.com/rss/v2.xml"

[aliases]
russia = ["russia", "kremlin", "путин"]
china = ["china", "xi jinping", "китай*", '"си"']

[[topic]]
slug = "rc"
query = '''(@russia NEAR/10 @china)^2 OR title:(@russia AND @china)^1'''
exclude = "sport*"
feeds = ["https://tass.com/rss/v2.xml"]
languages = ["en", "RU"]
min_score = 2
"#;

    #[test]
    fn topics_take_aliases_exclusions_feeds_languages_and_scores() {
        let c = load(TOPICS).unwrap();
        let t = &c.topics[0];
        assert_eq!(t.title, "rc");
        assert_eq!(t.min_score, Some(2.0));
        assert_eq!(t.languages, Some(vec!["en".to_owned(), "ru".to_owned()]));
        assert_eq!(
            t.feeds,
            Some(vec![FeedId::for_url("https://tass.com/rss/v2.xml")])
        );
        assert!(t.exclude.is_some());
        assert!(t.query.is_weighted());
        let fractional = load(&TOPICS.replace("min_score = 2", "min_score = 2.5")).unwrap();
        assert_eq!(fractional.topics[0].min_score, Some(2.5));
    }

    #[test]
    fn topic_mistakes_are_located() {
        // Line numbers count from the blank first line of TOPICS.
        let (l, c, msg) = error(&TOPICS.replace("(@russia NEAR/10", "(@rusia NEAR/10"));
        assert_eq!((l, c), (11, 13), "{msg}");
        assert!(
            msg.contains("unknown alias `@rusia` (defined: @china, @russia)"),
            "{msg}"
        );
        assert!(msg.contains("invalid query of topic \"rc\""), "{msg}");

        let (l, c, msg) = error(&TOPICS.replace(r#""китай*""#, r#""ки*тай""#));
        assert_eq!((l, c), (7, 34), "{msg}");
        assert!(msg.contains("alias \"china\""), "{msg}");

        let (l, c, msg) =
            error(&TOPICS.replace(r#"exclude = "sport*""#, r#"exclude = "sport AND""#));
        assert_eq!((l, c), (12, 21), "{msg}");
        assert!(
            msg.contains("invalid exclude query of topic \"rc\""),
            "{msg}"
        );

        let unknown_feed = TOPICS.replace(
            r#"feeds = ["https://tass.com"#,
            r#"feeds = ["https://ria.ru"#,
        );
        let (l, c, msg) = error(&unknown_feed);
        assert_eq!((l, c), (13, 10), "{msg}");
        assert!(msg.contains("which no [[feed]] has"), "{msg}");

        let (l, c, msg) = error(&TOPICS.replace(r#""RU""#, r#""russian""#));
        assert_eq!((l, c), (14, 20), "{msg}");
        assert!(msg.contains("invalid language code"), "{msg}");

        let unweighted = TOPICS.replace(")^2 OR", ") OR").replace(")^1", ")");
        let (l, c, msg) = error(&unweighted);
        assert_eq!((l, c), (15, 13), "{msg}");
        assert!(msg.contains("needs weighted clauses"), "{msg}");

        let (l, _, msg) = error(&TOPICS.replace("min_score = 2", "min_score = \"high\""));
        assert_eq!(l, 15, "{msg}");
        assert!(msg.contains("min_score must be a number"), "{msg}");

        let (l, _, msg) =
            error(&TOPICS.replace("[aliases]\n", "[aliases]\n\"no good\" = [\"x\"]\n"));
        assert_eq!(l, 6, "{msg}");
        assert!(msg.contains("invalid alias name"), "{msg}");
    }

    #[test]
    fn identity_and_retention_settings() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.feeds[0].identity, IdentityMode::Guid);
        assert!(c.storage.retention.keeps_everything());
        assert_eq!(c.storage.prune_interval, Duration::from_secs(3600));
        let set = GOOD
            .replace(
                "path = \"state\"\n",
                "path = \"state\"\nmax_age = \"90d\"\nmax_entries_per_feed = 500\nprune_interval = \"10m\"\n",
            )
            .replace(
                "url = \"https://tass.com/rss/v2.xml\"\n",
                "url = \"https://tass.com/rss/v2.xml\"\nidentity = \"link\"\n",
            );
        let c = load(&set).unwrap();
        assert_eq!(c.feeds[1].identity, IdentityMode::Link);
        assert_eq!(
            c.storage.retention.max_age,
            Some(Duration::from_secs(90 * 86400))
        );
        assert_eq!(c.storage.retention.max_entries_per_feed, Some(500));
        assert_eq!(c.storage.prune_interval, Duration::from_secs(600));

        let (l, _, msg) = error(&set.replace("\"link\"", "\"url\""));
        assert_eq!(l, 22, "{msg}");
        assert!(msg.contains("`guid`, `link`, `content`"), "{msg}");
        let (l, _, msg) = error(&set.replace("= 500", "= 0"));
        assert_eq!(l, 8, "{msg}");
        let (_, _, msg) = error(&set.replace("\"90d\"", "\"0s\""));
        assert!(msg.contains("max_age must be at least 1s"), "{msg}");
    }
}
