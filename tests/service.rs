//! tidings as a system service: systemd notifications and watchdog, config
//! reload under load, shutdown during polling, metrics and readiness, and
//! the unit files themselves.

mod support;

use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::*;

const RSS: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>http://t.example/</link><description>d</description>
<item><guid>1</guid><title>Putin and Xi meet</title><link>http://t.example/1</link></item>
<item><guid>2</guid><title>Weather in Lima</title><link>http://t.example/2</link></item></channel></rss>"#;

fn rss(prefix: &str) -> Vec<u8> {
    RSS.replace("<guid>", &format!("<guid>{prefix}"))
        .into_bytes()
}

/// Collects sd_notify datagrams sent to a socket in a temp dir.
struct FakeSystemd {
    _dir: tempfile::TempDir,
    path: String,
    socket: UnixDatagram,
    received: Vec<String>,
}

impl FakeSystemd {
    fn new() -> FakeSystemd {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind notify socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        FakeSystemd {
            path: path.to_string_lossy().into_owned(),
            _dir: dir,
            socket,
            received: Vec::new(),
        }
    }

    /// Reads datagrams until one contains `needle` (up to 30 s).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 4096];
        loop {
            if let Some(found) = self.received.iter().find(|m| m.contains(needle)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} among {:?}",
                self.received
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.received
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn systemd_is_told_ready_status_reloading_and_stopping_and_gets_watchdog_pings() {
    let up = Upstream::start().await;
    up.set("a.xml", rss("a"));
    let setup = Setup::new(&[up.url("a.xml")], "");
    let mut systemd = FakeSystemd::new();
    let daemon = setup.start_daemon_with_env(&[
        ("NOTIFY_SOCKET", &systemd.path),
        ("WATCHDOG_USEC", "400000"),
    ]);
    let ready = systemd.wait_for("READY=1");
    assert!(
        ready.contains("STATUS=") && ready.contains("entries"),
        "{ready}"
    );
    // Pings come every WATCHDOG_USEC / 2 while the scheduler runs.
    systemd.wait_for("WATCHDOG=1");
    let pings_before = systemd
        .received
        .iter()
        .filter(|m| *m == "WATCHDOG=1")
        .count();
    std::thread::sleep(Duration::from_millis(700));
    systemd.wait_for("WATCHDOG=1");
    let mut buf = [0u8; 4096];
    while let Ok(n) = systemd.socket.recv(&mut buf) {
        systemd
            .received
            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    let pings = systemd
        .received
        .iter()
        .filter(|m| *m == "WATCHDOG=1")
        .count();
    assert!(
        pings >= pings_before + 2,
        "{pings} pings: {:?}",
        systemd.received
    );

    daemon.signal("HUP");
    systemd.wait_for("RELOADING=1");
    systemd.received.clear();
    let ready_again = systemd.wait_for("READY=1");
    assert!(ready_again.contains("1 feeds ok"), "{ready_again}");
    daemon.stop();
    systemd.wait_for("STOPPING=1");
}

/// Many readers keep fetching while the config is reloaded twice (valid,
/// then invalid): no request fails, the valid change applies at once, the
/// invalid one is rejected and the old config keeps running.
#[tokio::test(flavor = "multi_thread")]
async fn reload_applies_a_valid_config_and_rejects_an_invalid_one_without_dropping_requests() {
    let up = Upstream::start().await;
    up.set("old.xml", rss("old"));
    up.set("new.xml", rss("new"));
    let setup = Setup::new(&[up.url("old.xml")], "");
    setup.poll_every("1s");
    let config = setup.config_text();
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(2).await;

    let base = daemon.base.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut readers = Vec::new();
    tidings::fetch::install_crypto_provider();
    for _ in 0..4 {
        let (base, stop, ok, failed) = (
            base.clone(),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&failed),
        );
        readers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                match client.get(format!("{base}/feeds/all.atom")).send().await {
                    Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }

    // Valid: swap the feed, add a topic.
    let reloaded = config.replace("old.xml", "new.xml")
        + "\n[[topic]]\nslug = \"summit\"\ntitle = \"Summits\"\nquery = \"putin AND xi\"\n";
    setup.write_config(&reloaded);
    daemon.signal("HUP");
    daemon.wait_for_log("config reloaded").await;
    let old_polls = up.seen_at("old.xml").len();
    daemon.wait_for_entries(4).await;
    // Both feeds' "Putin and Xi meet" link the same page: one story, so
    // count copies.
    let summit = daemon.get_text("/feeds/summit.atom?collapse=false").await;
    assert_eq!(
        parse_atom(&summit).entries.len(),
        2,
        "the new topic has its history at once:\n{summit}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        up.seen_at("old.xml").len() <= old_polls + 1,
        "a removed feed stops being polled"
    );
    assert!(
        up.seen_at("new.xml").len() >= 2,
        "an added feed is polled on its interval"
    );

    // Invalid: rejected with its location; everything keeps working.
    setup.write_config(&reloaded.replace("concurrency = 4", "concurrency = \"lots\""));
    daemon.signal("HUP");
    daemon.wait_for_log("config reload rejected").await;
    assert!(
        daemon.log().contains("tidings.toml:9:15"),
        "{}",
        daemon.log()
    );
    assert_eq!(daemon.get("/feeds/summit.atom").await.status(), 200);

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.expect("reader");
    }
    assert!(ok.load(Ordering::Relaxed) > 50, "readers ran");
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed during reloads"
    );

    let metrics = daemon.get_text("/metrics").await;
    assert!(
        metrics.contains("tidings_config_reloads_total{outcome=\"ok\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tidings_config_reloads_total{outcome=\"rejected\"} 1"),
        "{metrics}"
    );
    daemon.stop();
}

/// SIGTERM while polls are in flight: the daemon exits 0 within the
/// deadline, keeps what it stored, and the next start picks up the rest.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_polling_loses_nothing_and_the_next_start_continues() {
    let up = Upstream::start().await;
    up.set("fast.xml", rss("fast"));
    let mut urls = vec![up.url("fast.xml")];
    for i in 0..3 {
        let path = format!("slow{i}.xml");
        up.script(
            &path,
            vec![Reply::ok(rss(&format!("slow{i}"))).delay(Duration::from_secs(3))],
        );
        urls.push(up.url(&path));
    }
    let setup = Setup::new(&urls, "");
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(2).await;
    // The slow feeds are mid-request now.
    let log = daemon.stop();
    assert!(log.contains("store flushed"), "{log}");

    let daemon = setup.start_daemon();
    assert!(
        daemon.wait_for_entries(2).await >= 2,
        "nothing stored is lost"
    );
    // Polls cut short are not recorded as done: they run again now.
    assert_eq!(daemon.wait_for_entries(8).await, 8);
    let all = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&all);
    daemon.stop();
}

/// Parses the Prometheus text format strictly enough to catch mistakes:
/// every sample belongs to a declared family, names and labels are well
/// formed, values are numbers. Returns sample → value.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut types: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let (name, kind) = (parts.next().expect("name"), parts.next().expect("kind"));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().expect("name");
        assert!(name.starts_with("tidings_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "sample before its # TYPE: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                for pair in labels[1..labels.len() - 1].split("\",") {
                    let (k, v) = pair
                        .split_once("=\"")
                        .unwrap_or_else(|| panic!("bad label in {line:?}"));
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    assert!(!v.trim_end_matches('"').contains('\n'), "{line}");
                }
            }
        }
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "duplicate series {series}"
        );
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_and_count_what_happened_and_readyz_reports_ready() {
    let up = Upstream::start().await;
    up.set("a.xml", rss("a"));
    up.script("down.xml", vec![Reply::status(503)]);
    let setup = Setup::new(
        &[up.url("a.xml"), up.url("down.xml")],
        "[[topic]]\nslug = \"summit\"\nquery = \"putin AND xi\"\n",
    );
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(2).await;
    daemon.wait_for_log("poll failed").await;
    assert_eq!(daemon.get_text("/readyz").await, "ready\n");
    for _ in 0..3 {
        daemon.get_text("/feeds/summit.atom").await;
    }
    assert_eq!(daemon.get("/feeds/nope.atom").await.status(), 404);

    let text = daemon.get_text("/metrics").await;
    let m = parse_prometheus(&text);
    let get = |series: &str| {
        *m.get(series)
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(get("tidings_polls_total{result=\"ok\",error=\"\"}"), 1.0);
    assert_eq!(
        get("tidings_polls_total{result=\"error\",error=\"http_5xx\"}"),
        1.0
    );
    assert_eq!(get("tidings_entries_stored_total{change=\"new\"}"), 2.0);
    assert_eq!(get("tidings_fetch_duration_seconds_count"), 2.0);
    assert!(get("tidings_fetched_bytes_total") >= RSS.len() as f64);
    assert_eq!(
        get("tidings_http_requests_total{route=\"/feeds/{file}\",status=\"200\"}"),
        3.0
    );
    assert_eq!(
        get("tidings_http_requests_total{route=\"/feeds/{file}\",status=\"404\"}"),
        1.0
    );
    assert_eq!(
        get(&format!(
            "tidings_feed_consecutive_failures{{feed=\"{}\"}}",
            up.url("down.xml")
        )),
        1.0
    );
    assert!(
        get(&format!(
            "tidings_feed_last_success_timestamp_seconds{{feed=\"{}\"}}",
            up.url("a.xml")
        )) > 1.7e9
    );
    assert_eq!(get("tidings_topic_entries{topic=\"summit\"}"), 1.0);
    assert_eq!(get("tidings_store_entries"), 2.0);
    assert!(get("tidings_store_size_bytes") > 0.0);
    daemon.stop();
}

/// The shipped unit files pass `systemd-analyze verify` (with ExecStart
/// pointed at the binary just built, since nothing is installed here).
#[test]
fn unit_files_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    for name in ["tidings.service", "tidings.socket"] {
        let text = std::fs::read_to_string(units.join(name)).expect("unit file");
        let text = text.replace("/usr/local/bin/tidings", env!("CARGO_BIN_EXE_tidings"));
        std::fs::write(dir.path().join(name), text).expect("write unit");
    }
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("tidings.service"))
        .arg(dir.path().join("tidings.socket"))
        .output()
        .expect("systemd-analyze must be installed (scripts/test installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify failed:\n{stderr}"
    );
    let complaints: Vec<&str> = stderr.lines().filter(|l| l.contains("tidings")).collect();
    assert!(complaints.is_empty(), "{complaints:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_and_restore_round_trip_through_the_cli() {
    let up = Upstream::start().await;
    let snapshots = replay_snapshots("theplakhovgroup-reading/moscowtimes");
    up.set("a.xml", read(snapshots.last().expect("snapshots")));
    let setup = Setup::new(&[up.url("a.xml")], "");
    setup.poll_once();
    let daemon = setup.start_daemon();
    let before = daemon.get_text("/feeds/all.atom?limit=500").await;
    let n = parse_atom(&before).entries.len();
    assert!(n > 0);
    // While the daemon holds the store, a backup says what to do.
    let busy = setup.cli(&["backup", "/nonexistent/x"]);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("stop it first"));
    daemon.stop();

    let file = setup.dir.path().join("tidings.backup");
    let file_arg = file.to_string_lossy().into_owned();
    let out = setup.cli(&["backup", &file_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("backed up "));

    // Restoring over a live store needs --force and keeps the old one.
    let refused = setup.cli(&["restore", &file_arg]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));

    // Restore into a second installation and serve the same feed from it.
    let other = Setup::new(&[up.url("a.xml")], "");
    let out = other.cli(&["restore", &file_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let daemon = other.start_daemon();
    assert_eq!(daemon.wait_for_entries(n).await, n);
    let after = daemon.get_text("/feeds/all.atom?limit=500").await;
    let ids = |xml: &str| {
        parse_atom(xml)
            .entries
            .into_iter()
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&before), ids(&after), "same entries, same ids");
    daemon.stop();

    let forced = setup.cli(&["restore", "--force", &file_arg]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let kept_aside = std::fs::read_dir(setup.dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("data.before-restore-")
        });
    assert!(kept_aside, "the replaced store is kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_as_json_or_with_journal_priorities() {
    let up = Upstream::start().await;
    up.script("down.xml", vec![Reply::status(500)]);
    let setup = Setup::new(&[up.url("down.xml")], "");
    fn json_line(line: &str) -> bool {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        v["level"].is_string() && v["fields"]["message"].is_string()
    }
    fn journal_line(line: &str) -> bool {
        (line.starts_with("<6>") && line.contains("INFO"))
            || (line.starts_with("<4>") && line.contains("WARN"))
    }
    type LineCheck = fn(&str) -> bool;
    let formats: [(&str, LineCheck); 2] = [("json", json_line), ("journal", journal_line)];
    for (format, check) in formats {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tidings"))
            .args(["run", "--log-format", format, "--config"])
            .arg(&setup.config)
            .env("TIDINGS_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
        let mut seen_warn = false;
        for _ in 0..2 {
            let line = lines.next().expect("a log line").expect("utf-8");
            assert!(check(&line), "{format}: {line}");
            seen_warn |= line.contains("WARN");
        }
        assert!(seen_warn, "the failing feed's warning was logged");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A feed of `items` consecutive stories, `first..first + items`, newest last
/// by date.
fn numbered_feed(first: usize, items: usize) -> Vec<u8> {
    let mut xml = String::from(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>N</title><link>http://n.example/</link><description>d</description>"#,
    );
    for i in first..first + items {
        xml.push_str(&format!(
            "<item><guid>n{i}</guid><title>Numbered story {i} about topic {i}</title>\
             <link>http://n.example/{i}</link><pubDate>Mon, 02 Nov 2026 {:02}:00:00 GMT</pubDate></item>",
            i % 24
        ));
    }
    xml.push_str("</channel></rss>");
    xml.into_bytes()
}

/// Polls `/metrics` until `series` reaches `want` (up to 30 s).
async fn wait_for_metric(daemon: &Daemon, series: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = daemon.get_text("/metrics").await;
        let got = parse_prometheus(&text).get(series).copied();
        if got == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {got:?}, not {want}, after 30s; log:\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn served_titles(atom: &str) -> Vec<String> {
    parse_atom(atom)
        .entries
        .into_iter()
        .filter_map(|e| e.title.map(|t| t.content))
        .collect()
}

/// Retention runs on its own schedule in the daemon; a reload can switch
/// it on; pruned stories stay gone (tombstones) when the feed still lists
/// them, while new ones keep arriving and the oldest keep going.
#[tokio::test(flavor = "multi_thread")]
async fn retention_runs_on_a_schedule_and_pruned_stories_stay_gone() {
    let up = Upstream::start().await;
    up.set("n.xml", numbered_feed(0, 10));
    let setup = Setup::new(&[up.url("n.xml")], "");
    setup.poll_every("1s");
    let daemon = setup.start_daemon();
    assert_eq!(daemon.wait_for_entries(10).await, 10);

    // Switch retention on with a reload: at most 3 entries per feed,
    // checked every second.
    let text = setup.config_text().replace(
        "path = \"data\"\n",
        "path = \"data\"\nmax_entries_per_feed = 3\nprune_interval = \"1s\"\n",
    );
    setup.write_config(&text);
    daemon.signal("HUP");
    daemon
        .wait_for_log("retention: pruned 7 entries, expired 0 tombstones")
        .await;
    wait_for_metric(&daemon, "tidings_retention_pruned_entries_total", 7.0).await;
    let all = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&all);
    let mut titles = served_titles(&all);
    titles.sort();
    assert_eq!(
        titles,
        [7, 8, 9].map(|i| format!("Numbered story {i} about topic {i}")),
        "the newest three stay"
    );

    // The feed still lists all ten and adds one: only the new one is new,
    // and the next pass prunes the then-oldest.
    up.set("n.xml", numbered_feed(0, 11));
    wait_for_metric(
        &daemon,
        "tidings_entries_stored_total{change=\"new\"}",
        11.0,
    )
    .await;
    wait_for_metric(&daemon, "tidings_retention_pruned_entries_total", 8.0).await;
    let mut titles = served_titles(&daemon.get_text("/feeds/all.atom").await);
    titles.sort();
    assert_eq!(
        titles,
        [10, 8, 9].map(|i| format!("Numbered story {i} about topic {i}")),
    );
    let metrics = parse_prometheus(&daemon.get_text("/metrics").await);
    assert_eq!(metrics["tidings_store_entries"], 3.0);
    assert_eq!(
        metrics["tidings_retention_runs_total{outcome=\"error\"}"],
        0.0
    );
    assert!(metrics["tidings_retention_last_success_timestamp_seconds"] > 1.7e9);
    daemon.stop();
}

/// `tidings compact` rewrites the store in place: the daemon then serves
/// exactly what it served before. It refuses while the daemon holds the
/// store.
#[tokio::test(flavor = "multi_thread")]
async fn compact_keeps_what_is_served_and_waits_for_the_daemon_to_stop() {
    let up = Upstream::start().await;
    let snapshots = replay_snapshots("gesab001-headlines/bbc");
    let setup = Setup::new(&[up.url("a.xml")], "");
    // Churn: several snapshots of one feed, each stored over the last.
    for snapshot in snapshots.iter().take(6) {
        up.set("a.xml", read(snapshot));
        setup.poll_once();
    }
    let daemon = setup.start_daemon();
    let before = daemon.get_text("/feeds/all.atom?limit=500").await;
    assert!(!parse_atom(&before).entries.is_empty());
    let busy = setup.cli(&["compact"]);
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("stop it first"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    daemon.stop();

    let out = setup.cli(&["compact"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("compacted "),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let daemon = setup.start_daemon();
    let after = daemon.get_text("/feeds/all.atom?limit=500").await;
    let entries = |xml: &str| {
        parse_atom(xml)
            .entries
            .into_iter()
            .map(|e| (e.id, e.title.map(|t| t.content)))
            .collect::<Vec<_>>()
    };
    assert_eq!(entries(&before), entries(&after));
    daemon.stop();
}

/// Under churn with retention, the daemon compacts the store by itself
/// once it has grown past `compact_above_mb` and far past its live data:
/// serving goes on, nothing kept is lost, and the next start opens the
/// compacted generation.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_compacts_a_store_grown_far_past_its_data() {
    let up = Upstream::start().await;
    let body = |round: usize| {
        let text = "words of a long article body ".repeat(700);
        let mut xml = String::from(
            r#"<?xml version="1.0"?><rss version="2.0"><channel><title>C</title><link>http://c.example/</link><description>d</description>"#,
        );
        for i in round * 10..round * 10 + 10 {
            xml.push_str(&format!(
                "<item><guid>c{i}</guid><title>Churned story {i} on subject {i}</title>\
                 <link>http://c.example/{i}</link><description>{i} {text}</description></item>"
            ));
        }
        xml.push_str("</channel></rss>");
        xml.into_bytes()
    };
    up.set("c.xml", body(0));
    let setup = Setup::new(&[up.url("c.xml")], "");
    setup.poll_every("1s");
    let text = setup.config_text().replace(
        "path = \"data\"\n",
        "path = \"data\"\nmax_entries_per_feed = 10\nprune_interval = \"1s\"\ncompact_above_mb = 2\nmin_free_mb = 0\n",
    );
    setup.write_config(&text);
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(10).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut round = 0;
    while !daemon.log().contains("store compacted") {
        assert!(
            Instant::now() < deadline,
            "no compaction after {round} rounds; log:\n{}",
            daemon.log()
        );
        round += 1;
        up.set("c.xml", body(round));
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    let metrics = parse_prometheus(&daemon.get_text("/metrics").await);
    assert!(metrics["tidings_store_compactions_total{reason=\"size\",outcome=\"ok\"}"] >= 1.0);
    // Polling and serving go on against the new database.
    up.set("c.xml", body(round + 1));
    let want: Vec<String> = (0..10)
        .map(|i| {
            format!(
                "Churned story {} on subject {}",
                (round + 1) * 10 + i,
                (round + 1) * 10 + i
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let titles = loop {
        let all = daemon.get_text("/feeds/all.atom").await;
        assert_valid_atom(&all);
        let mut titles = served_titles(&all);
        titles.sort();
        let mut sorted = want.clone();
        sorted.sort();
        if titles == sorted {
            break titles;
        }
        assert!(Instant::now() < deadline, "served {titles:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    daemon.stop();

    let generations: Vec<String> = std::fs::read_dir(setup.dir.path().join("data"))
        .expect("store dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("gen-") || n == "db")
        .collect();
    assert_eq!(
        generations.len(),
        1,
        "only the generation in use: {generations:?}"
    );
    let daemon = setup.start_daemon();
    let mut again = served_titles(&daemon.get_text("/feeds/all.atom").await);
    again.sort();
    assert_eq!(again, titles);
    daemon.stop();
}
