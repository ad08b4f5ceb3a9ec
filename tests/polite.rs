//! Polite, resilient fetching, rule by rule, against a fake upstream on
//! 127.0.0.1 that records every request. The poller takes the time as an
//! argument, so schedules are checked without waiting for them.

mod support;

use chrono::{DateTime, Duration as Span, Utc};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tidings::config::{Config, FeedConfig};
use tidings::fetch::Fetcher;
use tidings::model::{FeedId, FeedState, FeedStatus};
use tidings::poll::{PollOutcome, PollReport, Poller};
use tidings::store::Store;

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://t.example/</link><description>d</description>
<item><guid>1</guid><title>One</title><link>http://t.example/1</link></item></channel></rss>"#;

fn rss_with(extra_channel: &str) -> Vec<u8> {
    RSS.replace(
        "<description>d</description>",
        &format!("<description>d</description>{extra_channel}"),
    )
    .into_bytes()
}

/// A store, a poller and the config they were built from.
struct Harness {
    _dir: tempfile::TempDir,
    config: Config,
    store: Arc<Store>,
    poller: Poller,
}

impl Harness {
    /// `polling` is extra `[polling]` TOML; `feeds` the feed URLs.
    fn new(polling: &str, feeds: &[String]) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut toml = format!("[polling]\ninterval = \"30m\"\n{polling}\n");
        for url in feeds {
            toml.push_str(&format!("[[feed]]\nurl = \"{url}\"\n"));
        }
        let config = Config::parse(&toml, &dir.path().join("t.toml"), None).expect("config");
        let store = Arc::new(Store::open(&dir.path().join("data"), 1 << 20).expect("store"));
        let fetcher = Fetcher::new(&config.polling).expect("fetcher");
        let poller = Poller::new(fetcher, Arc::clone(&store), config.polling.max_interval);
        Harness {
            _dir: dir,
            config,
            store,
            poller,
        }
    }

    fn feed(&self, i: usize) -> &FeedConfig {
        &self.config.feeds[i]
    }

    async fn poll(&self, i: usize, now: DateTime<Utc>) -> PollReport {
        self.poller
            .poll(self.feed(i), now)
            .await
            .expect("store works")
    }

    fn state(&self, i: usize) -> FeedState {
        self.store
            .feed_state(FeedId::for_url(self.feed(i).url.as_str()))
            .expect("store")
            .expect("state saved")
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn minutes(report: &PollReport, now: DateTime<Utc>) -> i64 {
    (report.next_due - now).num_minutes()
}

#[tokio::test]
async fn validators_are_sent_back_exactly_and_304_touches_no_entries() {
    let up = Upstream::start().await;
    let lm = "Wed, 21 Oct 2026 07:28:00 GMT";
    up.script(
        "f.xml",
        vec![
            Reply::ok(RSS.into())
                .header("etag", "W/\"abc\"")
                .header("last-modified", lm),
            Reply::status(304).header("etag", "\"def\""),
            Reply::status(304),
        ],
    );
    let h = Harness::new("", &[up.url("f.xml")]);
    let first = h.poll(0, t0()).await;
    assert!(
        matches!(first.outcome, PollOutcome::Stored(c) if c.new == 1),
        "{:?}",
        first.outcome
    );
    let entries = h.store.entry_count();

    let second = h.poll(0, t0() + Span::minutes(30)).await;
    assert!(matches!(second.outcome, PollOutcome::NotModified));
    let sent = &up.seen()[1];
    assert_eq!(sent.if_none_match.as_deref(), Some("W/\"abc\""));
    assert_eq!(sent.if_modified_since.as_deref(), Some(lm));
    let state = h.state(0);
    assert_eq!(state.last_fetch, Some(t0() + Span::minutes(30)));
    assert_eq!(
        state.etag.as_deref(),
        Some("\"def\""),
        "a 304's new validator is kept"
    );
    assert_eq!((state.polls, state.not_modified), (2, 1));
    assert_eq!(h.store.entry_count(), entries);

    h.poll(0, t0() + Span::minutes(60)).await;
    assert_eq!(up.seen()[2].if_none_match.as_deref(), Some("\"def\""));
    assert_eq!(
        up.seen()[2].if_modified_since.as_deref(),
        Some(lm),
        "kept when a 304 omits it"
    );
}

#[tokio::test]
async fn an_identical_body_is_not_parsed_again_but_new_validators_are_kept() {
    let up = Upstream::start().await;
    up.script(
        "f.xml",
        vec![
            Reply::ok(RSS.into()).header("etag", "\"a\""),
            Reply::ok(RSS.into()).header("etag", "\"b\""),
            Reply::status(304),
        ],
    );
    let h = Harness::new("", &[up.url("f.xml")]);
    h.poll(0, t0()).await;
    let second = h.poll(0, t0() + Span::minutes(30)).await;
    assert!(
        matches!(second.outcome, PollOutcome::SameBody),
        "{:?}",
        second.outcome
    );
    h.poll(0, t0() + Span::minutes(60)).await;
    assert_eq!(up.seen()[2].if_none_match.as_deref(), Some("\"b\""));
}

#[tokio::test]
async fn caching_hints_stretch_the_interval_up_to_the_cap() {
    let up = Upstream::start().await;
    up.script(
        "max-age.xml",
        vec![Reply::ok(RSS.into()).header("cache-control", "max-age=7200")],
    );
    up.script(
        "short.xml",
        vec![Reply::ok(RSS.into()).header("cache-control", "max-age=60")],
    );
    up.script("ttl.xml", vec![Reply::ok(rss_with("<ttl>180</ttl>"))]);
    up.script(
        "sy.xml",
        vec![Reply::ok(
            rss_with("<sy:updatePeriod xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\">daily</sy:updatePeriod>")
                .to_vec(),
        )],
    );
    up.script(
        "week.xml",
        vec![Reply::ok(RSS.into()).header("cache-control", "max-age=604800")],
    );
    up.script(
        "expires.xml",
        vec![
            Reply::ok(RSS.into())
                .header("date", "Wed, 25 Nov 2026 10:00:00 GMT")
                .header("expires", "Wed, 25 Nov 2026 14:00:00 GMT"),
        ],
    );
    up.script(
        "night.xml",
        vec![Reply::ok(rss_with(
            "<skipHours><hour>10</hour><hour>11</hour></skipHours>",
        ))],
    );
    let paths = [
        "max-age.xml",
        "short.xml",
        "ttl.xml",
        "sy.xml",
        "week.xml",
        "expires.xml",
        "night.xml",
    ];
    let urls: Vec<String> = paths.iter().map(|p| up.url(p)).collect();
    let h = Harness::new("", &urls);
    let mut waits = Vec::new();
    for i in 0..paths.len() {
        waits.push(minutes(&h.poll(i, t0()).await, t0()));
    }
    // 10:30 falls in skipped hours 10–11 (UTC): moved to 12:00.
    assert_eq!(waits, [120, 30, 180, 24 * 60, 24 * 60, 240, 120]);
    // A 304 keeps using the feed's own hints.
    up.script("ttl.xml", vec![Reply::status(304)]);
    let again = h.poll(2, t0() + Span::hours(3)).await;
    assert_eq!(minutes(&again, t0() + Span::hours(3)), 180);
}

#[tokio::test]
async fn retry_after_holds_back_only_that_feed() {
    let up = Upstream::start().await;
    up.script(
        "busy.xml",
        vec![Reply::status(429).header("retry-after", "7200")],
    );
    up.script(
        "down.xml",
        vec![Reply::status(503).header("retry-after", "Wed, 25 Nov 2026 13:00:00 GMT")],
    );
    up.set("fine.xml", RSS.into());
    let h = Harness::new(
        "",
        &[up.url("busy.xml"), up.url("down.xml"), up.url("fine.xml")],
    );
    let busy = h.poll(0, t0()).await;
    assert!(
        matches!(&busy.outcome, PollOutcome::Failed(m) if m.contains("429") && m.contains("Retry-After: 2h")),
        "{:?}",
        busy.outcome
    );
    assert_eq!(minutes(&busy, t0()), 120);
    // The HTTP-date form counts from the real clock, so only its floor is exact.
    let down = h.poll(1, Utc::now()).await;
    assert!(
        down.next_due
            >= DateTime::parse_from_rfc3339("2026-11-25T13:00:00Z")
                .expect("t")
                .with_timezone(&Utc)
    );
    let fine = h.poll(2, t0()).await;
    assert_eq!(
        minutes(&fine, t0()),
        30,
        "the same host's other feed keeps its schedule"
    );
}

#[tokio::test]
async fn failures_back_off_exponentially_never_give_up_and_reset_on_success() {
    let up = Upstream::start().await;
    let mut replies = vec![Reply::status(500); 12];
    replies.push(Reply::ok(RSS.into()));
    up.script("flaky.xml", replies);
    let h = Harness::new("", &[up.url("flaky.xml")]);
    let mut now = t0();
    let mut waits = Vec::new();
    for _ in 0..12 {
        let report = h.poll(0, now).await;
        assert!(report.outcome.is_failure());
        waits.push(minutes(&report, now));
        now = report.next_due;
    }
    // Doubling from the interval, with up to 20 % jitter, capped at 24 h.
    for (n, wait) in waits.iter().enumerate() {
        let base = (30i64 << n).min(24 * 60);
        assert!(
            *wait >= base && *wait <= (base * 6 / 5).min(24 * 60),
            "failure {}: waited {wait} min",
            n + 1
        );
    }
    assert_eq!(
        *waits.last().expect("waits"),
        24 * 60,
        "capped, still polling"
    );
    let state = h.state(0);
    assert_eq!(state.consecutive_failures, 12);
    assert_eq!(state.status(), FeedStatus::BackingOff);
    assert_eq!(
        state.last_error.as_deref(),
        Some("HTTP 500 Internal Server Error")
    );

    let recovered = h.poll(0, now).await;
    assert!(matches!(recovered.outcome, PollOutcome::Stored(_)));
    assert_eq!(
        minutes(&recovered, now),
        30,
        "the first success resets the backoff"
    );
    let state = h.state(0);
    assert_eq!(
        (state.consecutive_failures, state.status()),
        (0, FeedStatus::Ok)
    );
    assert_eq!(state.last_error, None);
}

/// Upstream down for days, then back: every feed keeps being retried, at
/// most a day apart, and when the host returns the feeds that failed
/// together come back spread out (jittered backoff), not in one burst. A
/// restart in the middle of the outage keeps them spread.
#[tokio::test]
async fn after_days_of_outage_feeds_recover_spread_out_not_in_a_burst() {
    const FEEDS: usize = 24;
    let up = Upstream::start().await;
    let urls: Vec<String> = (0..FEEDS).map(|i| up.url(&format!("f{i}.xml"))).collect();
    for i in 0..FEEDS {
        up.script(&format!("f{i}.xml"), vec![Reply::status(503)]);
    }
    let h = Harness::new("", &urls);
    // Every feed fails first at the same moment: the worst case for
    // lockstep retries.
    let mut due = vec![t0(); FEEDS];
    let back_at = t0() + Span::days(4);
    let restart_at = t0() + Span::days(2);
    let mut restarted = false;
    let mut recovered: Vec<Option<DateTime<Utc>>> = vec![None; FEEDS];
    let mut upstream_back = false;
    let mut longest_wait = Span::zero();
    while recovered.iter().any(Option::is_none) {
        // The next feed due, on the simulated clock.
        let (i, now) = due
            .iter()
            .copied()
            .enumerate()
            .filter(|(i, _)| recovered[*i].is_none())
            .min_by_key(|(_, t)| *t)
            .expect("a feed left");
        if !restarted && now >= restart_at {
            // The daemon restarts: due times come from the stored states.
            restarted = true;
            for (j, d) in due.iter_mut().enumerate() {
                let state = h.state(j);
                *d = tidings::schedule::first_due(
                    Some(&state),
                    restart_at,
                    h.feed(j).interval,
                    tidings::schedule::jitter(&urls[j], 0),
                );
            }
            continue;
        }
        if !upstream_back && now >= back_at {
            upstream_back = true;
            for j in 0..FEEDS {
                up.set(&format!("f{j}.xml"), RSS.into());
            }
        }
        let report = h.poll(i, now).await;
        if report.outcome.is_failure() {
            assert!(now < back_at, "feed {i} failed after upstream was back");
            longest_wait = longest_wait.max(report.next_due - now);
        } else {
            recovered[i] = Some(now);
        }
        due[i] = report.next_due;
    }
    assert!(
        longest_wait <= Span::hours(24),
        "backoff capped at a day, never given up: waited {longest_wait}"
    );
    let failures = h.state(0).polls - 1;
    assert!(failures >= 8, "days of retries: {failures} failed polls");
    let mut times: Vec<DateTime<Utc>> = recovered.into_iter().flatten().collect();
    times.sort();
    let (first, last) = (times[0], times[FEEDS - 1]);
    assert!(
        first >= back_at && last - back_at <= Span::hours(24),
        "every feed recovers within a day of the upstream's return"
    );
    // Not all at once: spread over hours, and no ten minutes hold more
    // than half of them (in lockstep, all 24 would land in the same second).
    assert!(
        last - first >= Span::hours(1),
        "recoveries spread over only {}",
        last - first
    );
    let crowded = times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u >= *t && **u - *t < Span::minutes(10))
                .count()
        })
        .max()
        .unwrap_or(0);
    assert!(
        crowded <= FEEDS / 2,
        "{crowded} of {FEEDS} feeds came back within ten minutes: {times:?}"
    );
}

#[tokio::test]
async fn gone_is_rechecked_weekly_but_not_found_only_backs_off() {
    let up = Upstream::start().await;
    up.script("gone.xml", vec![Reply::status(410)]);
    let h = Harness::new("", &[up.url("gone.xml"), up.url("missing.xml")]);
    let gone = h.poll(0, t0()).await;
    assert_eq!(minutes(&gone, t0()), 7 * 24 * 60);
    let state = h.state(0);
    assert_eq!(state.status(), FeedStatus::Gone);
    assert_eq!(state.gone_since, Some(t0()));
    let again = h.poll(0, gone.next_due).await;
    assert_eq!((again.next_due - gone.next_due).num_days(), 7);
    assert_eq!(
        h.state(0).gone_since,
        Some(t0()),
        "gone since the first 410"
    );

    let missing = h.poll(1, t0()).await;
    assert!(minutes(&missing, t0()) < 60);
    assert_eq!(h.state(1).status(), FeedStatus::BackingOff);

    // A gone feed that comes back is healthy again.
    up.set("gone.xml", RSS.into());
    h.poll(0, t0() + Span::days(14)).await;
    assert_eq!(h.state(0).status(), FeedStatus::Ok);
}

#[tokio::test]
async fn a_permanent_redirect_is_adopted_after_three_polls_in_a_row() {
    let up = Upstream::start().await;
    up.set("new.xml", RSS.into());
    up.script("old.xml", vec![Reply::redirect(301, "/new.xml")]);
    let h = Harness::new("", &[up.url("old.xml")]);
    for n in 1..=3u32 {
        let report = h.poll(0, t0() + Span::hours(n.into())).await;
        assert!(!report.outcome.is_failure(), "{:?}", report.outcome);
    }
    assert_eq!(up.seen_at("old.xml").len(), 3);
    let state = h.state(0);
    assert_eq!(
        state.adopted_url.as_deref(),
        Some(up.url("new.xml").as_str())
    );
    assert_eq!(
        state.url,
        up.url("old.xml"),
        "the configured URL stays the identity"
    );

    h.poll(0, t0() + Span::hours(4)).await;
    assert_eq!(
        up.seen_at("old.xml").len(),
        3,
        "the old URL is no longer asked"
    );
    assert_eq!(up.seen_at("new.xml").len(), 4);
}

#[tokio::test]
async fn temporary_or_interrupted_redirects_are_never_adopted() {
    let up = Upstream::start().await;
    up.set("target.xml", RSS.into());
    up.script("temp.xml", vec![Reply::redirect(302, "/target.xml")]);
    up.script("temp307.xml", vec![Reply::redirect(307, "/target.xml")]);
    // 308 twice, then the old URL answers itself, then 308 again.
    up.script(
        "moody.xml",
        vec![
            Reply::redirect(308, "/target.xml"),
            Reply::redirect(308, "/target.xml"),
            Reply::ok(RSS.into()),
            Reply::redirect(308, "/target.xml"),
        ],
    );
    // Permanent to a temporary hop: only the permanent part counts.
    up.script("mixed.xml", vec![Reply::redirect(301, "/hop.xml")]);
    up.script("hop.xml", vec![Reply::redirect(302, "/target.xml")]);
    let h = Harness::new(
        "",
        &[
            up.url("temp.xml"),
            up.url("temp307.xml"),
            up.url("moody.xml"),
            up.url("mixed.xml"),
        ],
    );
    for n in 0..4 {
        for i in 0..4 {
            let r = h.poll(i, t0() + Span::hours(n)).await;
            assert!(!r.outcome.is_failure(), "{:?}", r.outcome);
        }
    }
    assert_eq!(h.state(0).adopted_url, None);
    assert_eq!(h.state(1).adopted_url, None);
    assert_eq!(
        h.state(2).adopted_url,
        None,
        "the repeats must be consecutive"
    );
    assert_eq!(h.state(2).pending_redirect.as_ref().map(|p| p.1), Some(1));
    assert_eq!(
        h.state(3).adopted_url.as_deref(),
        Some(up.url("hop.xml").as_str())
    );
}

#[tokio::test]
async fn redirect_loops_and_long_chains_are_errors() {
    let up = Upstream::start().await;
    up.script("a.xml", vec![Reply::redirect(301, "/b.xml")]);
    up.script("b.xml", vec![Reply::redirect(302, "/a.xml")]);
    for i in 0..7 {
        up.script(
            &format!("r{i}.xml"),
            vec![Reply::redirect(307, &format!("/r{}.xml", i + 1))],
        );
    }
    up.set("r7.xml", RSS.into());
    up.set("r5.xml", RSS.into()); // r0 → … → r5 is five hops: still fine
    let h = Harness::new("", &[up.url("a.xml"), up.url("r0.xml"), up.url("r1.xml")]);
    let looped = h.poll(0, t0()).await;
    assert!(
        matches!(&looped.outcome, PollOutcome::Failed(m) if m.starts_with("redirect loop")),
        "{:?}",
        looped.outcome
    );
    let five = h.poll(1, t0()).await;
    assert!(!five.outcome.is_failure(), "{:?}", five.outcome);
    up.script("r5.xml", vec![Reply::redirect(307, "/r6.xml")]);
    let six = h.poll(2, t0()).await;
    assert!(
        matches!(&six.outcome, PollOutcome::Failed(m) if m.starts_with("more than 5 redirects")),
        "{:?}",
        six.outcome
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

#[tokio::test]
async fn bodies_over_the_cap_are_cut_off_even_when_compressed() {
    let up = Upstream::start().await;
    // 64 MiB of zeros in about 64 KiB of gzip.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 200_000);
    up.script(
        "bomb.xml",
        vec![
            Reply::ok(bomb)
                .header("content-encoding", "gzip")
                .header("content-type", "application/xml"),
        ],
    );
    up.script("big.xml", vec![Reply::ok(vec![b' '; 3 << 20])]);
    // Compressed and under the cap: fine.
    up.script(
        "small.xml",
        vec![Reply::ok(gzip(RSS.as_bytes())).header("content-encoding", "gzip")],
    );
    let h = Harness::new(
        "max_body_mb = 2",
        &[up.url("bomb.xml"), up.url("big.xml"), up.url("small.xml")],
    );
    for i in 0..2 {
        let r = h.poll(i, t0()).await;
        assert!(
            matches!(&r.outcome, PollOutcome::Failed(m) if m == "response body larger than 2 MiB (after decompression); cut off"),
            "{:?}",
            r.outcome
        );
    }
    let small = h.poll(2, t0()).await;
    assert!(
        matches!(small.outcome, PollOutcome::Stored(c) if c.new == 1),
        "{:?}",
        small.outcome
    );
    assert!(
        up.seen()[0]
            .headers
            .get("accept-encoding")
            .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip")),
        "compression is offered"
    );
}

#[tokio::test]
async fn never_more_than_max_per_host_requests_at_once() {
    let near = Upstream::start().await;
    let far = Upstream::start_on("127.0.0.2").await;
    let mut urls = Vec::new();
    for i in 0..6 {
        let slow = || vec![Reply::ok(RSS.into()).delay(Duration::from_millis(300))];
        near.script(&format!("{i}.xml"), slow());
        far.script(&format!("{i}.xml"), slow());
        urls.push(near.url(&format!("{i}.xml")));
        urls.push(far.url(&format!("{i}.xml")));
    }
    let h = Harness::new("concurrency = 16\nmax_per_host = 2", &urls);
    let started = std::time::Instant::now();
    let reports = tidings::daemon::poll_once(&h.config, Arc::clone(&h.store), |_| {})
        .await
        .expect("poll");
    assert!(reports.iter().all(|r| !r.outcome.is_failure()));
    assert_eq!(
        near.max_concurrent(),
        2,
        "the cap is reached and never exceeded"
    );
    assert_eq!(far.max_concurrent(), 2);
    // Two hosts in parallel, each 6 feeds two at a time: about 3 rounds.
    assert!(
        started.elapsed() < Duration::from_millis(300 * 6),
        "hosts do not wait for each other"
    );
}

#[tokio::test]
async fn user_agent_and_per_feed_headers() {
    let up = Upstream::start().await;
    up.set("a.xml", RSS.into());
    up.set("b.xml", RSS.into());
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "[[feed]]\nurl = \"{}\"\n[[feed]]\nurl = \"{}\"\nuser_agent = \"special/2\"\nheaders = {{ \"X-Api-Key\" = \"s3cret\" }}\n",
        up.url("a.xml"),
        up.url("b.xml")
    );
    let config = Config::parse(&toml, Path::new("/x/t.toml"), None).expect("config");
    let store = Arc::new(Store::open(&dir.path().join("data"), 1 << 20).expect("store"));
    let poller = Poller::new(
        Fetcher::new(&config.polling).expect("fetcher"),
        store,
        config.polling.max_interval,
    );
    poller.poll(&config.feeds[0], t0()).await.expect("poll");
    poller.poll(&config.feeds[1], t0()).await.expect("poll");
    let seen = up.seen();
    let ua = seen[0].user_agent.as_deref().unwrap_or("");
    assert!(ua.starts_with("tidings/") && ua.contains("(+http"), "{ua}");
    assert_eq!(seen[1].user_agent.as_deref(), Some("special/2"));
    assert_eq!(
        seen[1]
            .headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok()),
        Some("s3cret")
    );
    assert!(seen[0].headers.get("cookie").is_none());
    assert_eq!(seen[0].path, "a.xml", "no query-string cruft added");
}

/// The daemon itself, on the real clock: a feed told to wait is left
/// alone while its neighbour on the same host keeps its one-second beat.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_honours_retry_after_per_feed() {
    let up = Upstream::start().await;
    up.script(
        "busy.xml",
        vec![Reply::status(429).header("retry-after", "3600")],
    );
    up.set("fine.xml", RSS.into());
    let setup = Setup::new(&[up.url("busy.xml"), up.url("fine.xml")], "");
    setup.poll_every("1s");
    let daemon = setup.start_daemon();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while up.seen_at("fine.xml").len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "fine.xml polled {} times",
            up.seen_at("fine.xml").len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        up.seen_at("busy.xml").len(),
        1,
        "asked once, then left alone"
    );
    let log = daemon.stop();
    assert!(log.contains("Retry-After: 1h"), "{log}");
}

/// `tidings feeds` reads the store directly, or asks the running daemon
/// (which holds the store's lock) over HTTP.
#[tokio::test(flavor = "multi_thread")]
async fn tidings_feeds_shows_each_feeds_health() {
    let up = Upstream::start().await;
    up.set("ok.xml", RSS.into());
    up.script("gone.xml", vec![Reply::status(410)]);
    up.script("moved.xml", vec![Reply::redirect(301, "/ok.xml")]);
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let setup = Setup::new(
        &[
            up.url("ok.xml"),
            up.url("gone.xml"),
            up.url("moved.xml"),
            up.url("never.xml"),
        ],
        "",
    );
    let config = std::fs::read_to_string(&setup.config).expect("config");
    // `never.xml` is added after the polls below: configured, never fetched.
    let (polled, never) = config.split_at(
        config
            .find(&format!("[[feed]]\nurl = \"{}\"", up.url("never.xml")))
            .expect("feed"),
    );
    std::fs::write(
        &setup.config,
        polled.replace("127.0.0.1:0", &format!("127.0.0.1:{port}")),
    )
    .expect("write");
    for _ in 0..3 {
        setup.poll_once();
    }
    std::fs::write(
        &setup.config,
        format!(
            "{}{never}",
            polled.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"))
        ),
    )
    .expect("write");

    let direct = setup.cli(&["feeds"]);
    assert!(
        direct.status.success(),
        "{}",
        String::from_utf8_lossy(&direct.stderr)
    );
    let table = String::from_utf8_lossy(&direct.stdout).into_owned();
    let row = |path: &str| -> String {
        table
            .lines()
            .find(|l| l.starts_with(&up.url(path)))
            .unwrap_or_else(|| panic!("no row for {path}:\n{table}"))
            .to_owned()
    };
    assert!(table.starts_with("FEED"), "{table}");
    assert!(
        row("ok.xml").contains(" ok ") && row("ok.xml").contains("67%"),
        "two of three polls were 304s:\n{table}"
    );
    assert!(
        row("gone.xml").contains(" gone ") && row("gone.xml").ends_with("HTTP 410 Gone"),
        "{table}"
    );
    assert!(row("never.xml").contains("never fetched"), "{table}");
    assert!(
        table.contains(&format!("→ {} (adopted", up.url("ok.xml"))),
        "{table}"
    );

    let daemon = setup.start_daemon();
    let via_daemon = setup.cli(&["feeds"]);
    assert!(
        via_daemon.status.success(),
        "{}",
        String::from_utf8_lossy(&via_daemon.stderr)
    );
    let live = String::from_utf8_lossy(&via_daemon.stdout);
    // (The daemon polls never.xml at once, so only stable rows are checked.)
    assert!(
        live.contains(" gone ") && live.contains(&up.url("never.xml")),
        "{live}"
    );
    daemon.stop();
}

/// Many feeds polled at once: every write path (transactions, state saves,
/// flushes) runs concurrently. sled 0.34 deadlocked here before the store
/// serialized its writes; the timeout turns a hang into a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_concurrent_polls_complete() {
    let up = Upstream::start().await;
    let mut urls = Vec::new();
    for i in 0..300 {
        let body = RSS.replace("<guid>1</guid>", &format!("<guid>{i}</guid>"));
        up.set(&format!("{i}.xml"), body.into_bytes());
        urls.push(up.url(&format!("{i}.xml")));
    }
    let h = Harness::new("concurrency = 64\nmax_per_host = 64", &urls);
    let round = || tidings::daemon::poll_once(&h.config, Arc::clone(&h.store), |_| {});
    let first = tokio::time::timeout(Duration::from_secs(120), round())
        .await
        .expect("no deadlock")
        .expect("poll");
    assert!(
        first
            .iter()
            .all(|r| matches!(r.outcome, PollOutcome::Stored(c) if c.new == 1))
    );
    let second = tokio::time::timeout(Duration::from_secs(120), round())
        .await
        .expect("no deadlock")
        .expect("poll");
    assert!(
        second
            .iter()
            .all(|r| matches!(r.outcome, PollOutcome::NotModified))
    );
    assert_eq!(h.store.entry_count(), 300);
}

/// Fetched bodies take turns to be parsed and stored (one turn here):
/// twelve feeds polled at once all finish, and a body that fails to parse
/// gives its turn back.
#[tokio::test]
async fn fetched_bodies_take_turns_and_a_failure_gives_its_turn_back() {
    let up = Upstream::start().await;
    up.set("broken.xml", b"this is not a feed".to_vec());
    let mut urls = vec![up.url("broken.xml")];
    for i in 0..12 {
        let path = format!("f{i}.xml");
        up.set(
            &path,
            RSS.replace("<guid>1</guid>", &format!("<guid>{i}</guid>"))
                .into_bytes(),
        );
        urls.push(up.url(&path));
    }
    let mut h = Harness::new("concurrency = 16", &urls);
    h.poller = h.poller.clone().with_processing_turns(1);
    let broken = h.poll(0, t0()).await;
    assert!(broken.outcome.is_failure(), "{:?}", broken.outcome);

    let mut polls = tokio::task::JoinSet::new();
    for i in 1..urls.len() {
        let (poller, feed) = (h.poller.clone(), h.feed(i).clone());
        polls.spawn(async move { poller.poll(&feed, t0()).await });
    }
    let all = tokio::time::timeout(Duration::from_secs(60), polls.join_all())
        .await
        .expect("no poll waits forever for a turn");
    assert_eq!(all.len(), 12);
    for report in all {
        let report = report.expect("store works");
        assert!(
            matches!(report.outcome, PollOutcome::Stored(c) if c.new == 1),
            "{}: {:?}",
            report.url,
            report.outcome
        );
    }
    assert_eq!(h.store.entry_count(), 12);
}

/// `concurrency` bounds the polls in flight in all, in `poll --once` and in
/// the daemon's scheduler alike (which start a poll only when another has
/// ended): twelve slow feeds due at once, three at a time, never more.
#[tokio::test(flavor = "multi_thread")]
async fn concurrency_bounds_the_polls_in_flight() {
    let up = Upstream::start().await;
    let urls: Vec<String> = (0..12)
        .map(|i| {
            let path = format!("slow{i}.xml");
            let body = RSS.replace("<guid>1</guid>", &format!("<guid>{i}</guid>"));
            up.script(
                &path,
                vec![Reply::ok(body.into_bytes()).delay(Duration::from_millis(150))],
            );
            up.url(&path)
        })
        .collect();
    let setup = Setup::new(&urls, "");
    setup.write_config(
        &setup
            .config_text()
            .replace("concurrency = 4", "concurrency = 3\nmax_per_host = 12"),
    );

    let out = tokio::task::block_in_place(|| setup.poll_once());
    assert_eq!(poll_totals(&out).0, 12, "{out}");
    assert_eq!(up.requests(), 12);
    assert_eq!(up.max_concurrent(), 3, "poll --once");

    // The daemon: a fresh store, so every feed is due at start.
    std::fs::remove_dir_all(setup.dir.path().join("data")).expect("remove store");
    let daemon = setup.start_daemon();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while up.requests() < 24 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.stop();
    assert_eq!(up.requests(), 24, "the daemon polled every feed");
    assert_eq!(up.max_concurrent(), 3, "the daemon");
}
