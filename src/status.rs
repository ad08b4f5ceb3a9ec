//! The admin's view of feed health: one [`FeedReport`] per feed, built from
//! the config and the stored [`FeedState`]s. `tidings feeds` prints it as a
//! table; the daemon serves it as JSON at `/api/feeds` (which is how
//! `tidings feeds` reads it while the daemon holds the store).

use crate::config::FeedConfig;
use crate::model::{FeedId, FeedState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write;

/// One feed's health.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedReport {
    /// The configured URL (the feed's identity).
    pub url: String,
    /// Polled instead of `url` after a permanent redirect.
    pub adopted_url: Option<String>,
    pub title: Option<String>,
    /// `ok`, `backing off`, `gone`, `never fetched`, or `removed` for a
    /// stored feed no longer in the config.
    pub status: String,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub next_due: Option<DateTime<Utc>>,
    pub entries: u64,
    pub polls: u64,
    /// Polls answered `304 Not Modified`.
    pub not_modified: u64,
}

/// Reports for every configured feed, in config order, then for stored
/// feeds no longer configured.
pub fn reports(configured: &[FeedConfig], states: Vec<FeedState>) -> Vec<FeedReport> {
    let mut states: HashMap<FeedId, FeedState> = states.into_iter().map(|s| (s.id(), s)).collect();
    let mut out = Vec::with_capacity(configured.len());
    for feed in configured {
        let state = states
            .remove(&FeedId::for_url(feed.url.as_str()))
            .unwrap_or_else(|| FeedState::new(feed.url.as_str()));
        let title = feed.title.clone().or_else(|| state.title.clone());
        out.push(report(state, title, None));
    }
    let mut removed: Vec<FeedState> = states.into_values().collect();
    removed.sort_by(|a, b| a.url.cmp(&b.url));
    for state in removed {
        let title = state.title.clone();
        out.push(report(state, title, Some("removed")));
    }
    out
}

fn report(state: FeedState, title: Option<String>, status: Option<&str>) -> FeedReport {
    let status = status.map_or_else(|| state.status().to_string(), str::to_owned);
    FeedReport {
        status,
        title,
        last_success: state.last_success,
        last_error: state.last_error,
        consecutive_failures: state.consecutive_failures,
        next_due: state.next_due,
        entries: state.entry_count,
        polls: state.polls,
        not_modified: state.not_modified,
        adopted_url: state.adopted_url,
        url: state.url,
    }
}

/// The reports as a plain-text table, times relative to `now`.
pub fn table(reports: &[FeedReport], now: DateTime<Utc>) -> String {
    let headers = [
        "FEED",
        "STATUS",
        "LAST SUCCESS",
        "FAILS",
        "NEXT POLL",
        "ENTRIES",
        "304s",
        "LAST ERROR",
    ];
    let rows: Vec<[String; 8]> = reports
        .iter()
        .map(|r| {
            [
                r.url.clone(),
                r.status.clone(),
                r.last_success.map_or("-".into(), |t| ago(now, t)),
                r.consecutive_failures.to_string(),
                if r.status == "removed" {
                    "-".into()
                } else {
                    r.next_due.map_or("now".into(), |t| until(now, t))
                },
                r.entries.to_string(),
                (r.not_modified * 100 + r.polls / 2)
                    .checked_div(r.polls)
                    .map_or("-".into(), |pct| format!("{pct}%")),
                r.last_error.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&headers);
    for (row, report) in rows.iter().zip(reports) {
        line(&row.each_ref().map(String::as_str));
        if let Some(adopted) = &report.adopted_url {
            line(&[&format!(
                "  → {adopted} (adopted after permanent redirects)"
            )]);
        }
    }
    out
}

fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    format!("{} ago", short((now - t).num_seconds().max(0)))
}

fn until(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    if secs <= 0 {
        "now".into()
    } else {
        format!("in {}", short(secs))
    }
}

/// `45s`, `12m`, `3h`, `2d`: one unit is plenty for a status table.
fn short(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn feed(url: &str, title: Option<&str>) -> FeedConfig {
        FeedConfig {
            url: url::Url::parse(url).unwrap(),
            title: title.map(String::from),
            interval: std::time::Duration::from_secs(1800),
            user_agent: None,
            headers: vec![],
            identity: Default::default(),
        }
    }

    #[test]
    fn reports_cover_configured_never_fetched_and_removed_feeds() {
        let now = Utc::now();
        let mut ok = FeedState::new("https://a.example/rss");
        ok.last_fetch = Some(now - Duration::minutes(12));
        ok.last_success = ok.last_fetch;
        ok.next_due = Some(now + Duration::minutes(18));
        ok.polls = 4;
        ok.not_modified = 3;
        ok.entry_count = 42;
        ok.adopted_url = Some("https://a.example/new".into());
        let mut failing = FeedState::new("https://b.example/rss");
        failing.last_fetch = Some(now);
        failing.consecutive_failures = 3;
        failing.last_error = Some("HTTP 503 Service Unavailable".into());
        let old = FeedState::new("https://old.example/rss");
        let configured = [
            feed("https://a.example/rss", Some("A")),
            feed("https://b.example/rss", None),
            feed("https://c.example/rss", None),
        ];
        let r = reports(&configured, vec![old, failing, ok]);
        let statuses: Vec<&str> = r.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(statuses, ["ok", "backing off", "never fetched", "removed"]);
        assert_eq!(r[0].title.as_deref(), Some("A"));

        let text = table(&r, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("FEED"));
        assert!(
            lines[1].contains("12m ago") && lines[1].contains("in 18m") && lines[1].contains("75%"),
            "{text}"
        );
        assert!(lines[2].contains("→ https://a.example/new"), "{text}");
        assert!(
            lines[3].contains("backing off") && lines[3].ends_with("HTTP 503 Service Unavailable"),
            "{text}"
        );
        assert!(lines[4].contains("never fetched"), "{text}");
    }
}
