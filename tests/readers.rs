//! Real clients against the real daemon: newsboat and Python's feedparser
//! subscribe to a topic feed, headless Chromium opens the status page, and
//! OPML goes out and back in. The tools are installed by `scripts/test`; a
//! missing tool fails the test rather than skipping it.

mod support;

use std::collections::HashSet;
use std::process::Command;
use support::*;

const TOPICS: &str = r#"
[[topic]]
slug = "russia-china"
title = "Russia–China relations"
query = '''(russia OR russian OR moscow OR kremlin OR putin OR россия) AND (china OR chinese OR beijing OR "xi jinping" OR китай)'''

[[topic]]
slug = "hidden"
title = "Hidden interest"
query = "putin"
token = "hidden-token-0123456789"
"#;

/// A daemon serving two real snapshots (English and Russian).
async fn daemon_with_news() -> (Upstream, Setup, Daemon) {
    let up = Upstream::start().await;
    let mut urls = Vec::new();
    for (i, feed) in [
        "theplakhovgroup-reading/moscowtimes",
        "egfedorov-rss-parser/bbc",
    ]
    .iter()
    .enumerate()
    {
        let body = read(replay_snapshots(feed).last().expect("snapshots"));
        up.set(&format!("{i}.xml"), body);
        urls.push(up.url(&format!("{i}.xml")));
    }
    let setup = Setup::new(&urls, TOPICS);
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(10).await;
    // Both feeds polled.
    while up.requests() < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    (up, setup, daemon)
}

fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what} ({e}); scripts/test installs it"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn served_ids(xml: &str) -> HashSet<String> {
    parse_atom(xml).entries.into_iter().map(|e| e.id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn newsboat_subscribes_sees_exactly_our_entries_and_revalidates() {
    let (_up, _setup, daemon) = daemon_with_news().await;
    let feed_url = format!("{}/feeds/russia-china.atom", daemon.base);
    let ours = served_ids(&daemon.get_text("/feeds/russia-china.atom").await);
    assert!(!ours.is_empty(), "the topic has entries");

    let home = tempfile::tempdir().expect("tempdir");
    let urls = home.path().join("urls");
    std::fs::write(&urls, format!("{feed_url}\n")).expect("urls");
    let config = home.path().join("config");
    std::fs::write(&config, "").expect("config");
    let cache = home.path().join("cache.db");
    let reload = || {
        let mut cmd = Command::new("newsboat");
        cmd.args(["-x", "reload", "-u"])
            .arg(&urls)
            .arg("-c")
            .arg(&cache)
            .arg("-C")
            .arg(&config)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("XDG_DATA_HOME", home.path());
        cmd
    };
    run(&mut reload(), "newsboat");
    // newsboat records a feed's validators from its second reload on.
    run(&mut reload(), "newsboat");
    let script = "import sqlite3,sys\nfor (g,) in sqlite3.connect(sys.argv[1]).execute('select guid from rss_item'): print(g)";
    let listed = run(
        Command::new("/usr/bin/python3")
            .args(["-c", script])
            .arg(&cache),
        "python3 (sqlite3)",
    );
    let theirs: HashSet<String> = listed.lines().map(str::to_owned).collect();
    assert_eq!(theirs, ours, "newsboat stored exactly the daemon's entries");

    let before = daemon.get_text("/metrics").await;
    let not_modified = |text: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("tidings_http_requests_total{route=\"/feeds/{file}\",status=\"304\"}")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    run(&mut reload(), "newsboat");
    let after = daemon.get_text("/metrics").await;
    assert_eq!(
        not_modified(&after),
        not_modified(&before) + 1,
        "newsboat's second fetch got a 304"
    );
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn python_feedparser_reads_atom_and_rss_cleanly() {
    let (_up, _setup, daemon) = daemon_with_news().await;
    let ours = served_ids(&daemon.get_text("/feeds/russia-china.atom").await);
    let script = "import feedparser,sys\nd=feedparser.parse(sys.argv[1])\nprint('bozo' if d.bozo else 'clean', d.version)\nfor e in d.entries: print(e.id)";
    // (Debian's feedparser 6.0 predates JSON Feed support; the JSON Feed is
    // checked against the spec and feed-rs in tests/serving.rs.)
    for ext in ["atom", "rss"] {
        let url = format!("{}/feeds/russia-china.{ext}", daemon.base);
        let out = run(
            Command::new("/usr/bin/python3").args(["-c", script, &url]),
            "python3 feedparser",
        );
        let mut lines = out.lines();
        let status = lines.next().unwrap_or_default();
        assert!(
            status.starts_with("clean"),
            "{ext}: feedparser reports {status}"
        );
        let theirs: HashSet<String> = lines.map(str::to_owned).collect();
        assert_eq!(
            theirs, ours,
            "{ext}: feedparser sees exactly the daemon's entries"
        );
    }
    daemon.stop();
}

fn chromium(args: &[&str], profile: &std::path::Path) -> String {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args);
    run(&mut cmd, "chromium")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_renders_in_chromium_and_feeds_are_discoverable() {
    let (up, _setup, daemon) = daemon_with_news().await;
    let profile = tempfile::tempdir().expect("profile");
    let dom = chromium(
        &["--dump-dom", &format!("{}/", daemon.base)],
        profile.path(),
    );
    assert!(
        dom.contains("Russia–China relations"),
        "the topic is listed"
    );
    assert!(dom.contains("All stories"));
    assert!(
        dom.contains("id=\"sources\"") && dom.contains(&up.url("0.xml")),
        "sources are listed"
    );
    assert!(
        dom.contains("class=\"status\">ok<"),
        "their health is shown"
    );
    assert!(
        !dom.contains("Hidden interest") && !dom.contains("hidden"),
        "a private topic never appears"
    );
    // Autodiscovery: the alternate links a reader would find from the page.
    let alternates: Vec<&str> = dom
        .split("<link rel=\"alternate\"")
        .skip(1)
        .filter_map(|l| l.split("href=\"").nth(1)?.split('"').next())
        .collect();
    for ext in ["atom", "rss", "json"] {
        let href = format!("{}/feeds/russia-china.{ext}", daemon.base);
        assert!(
            alternates.contains(&href.as_str()),
            "{href} not in {alternates:?}"
        );
    }
    for href in &alternates {
        let path = href.strip_prefix(&daemon.base).expect("same host");
        assert_eq!(daemon.get(path).await.status(), 200, "{href}");
    }
    // And it lays out on a phone-sized screen.
    let png = profile.path().join("page.png");
    chromium(
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=412,915",
            &format!("{}/", daemon.base),
        ],
        profile.path(),
    );
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "a real screenshot"
    );
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn opml_goes_out_and_back_in() {
    let (up, setup, daemon) = daemon_with_news().await;
    let sources = daemon.get_text("/opml").await;
    let outlines = tidings::opml::parse(sources.as_bytes()).expect("our OPML parses");
    let urls: Vec<&str> = outlines.iter().map(|o| o.xml_url.as_str()).collect();
    assert_eq!(urls, [up.url("0.xml"), up.url("1.xml")]);
    assert!(outlines.iter().all(|o| !o.title.is_empty()));
    let topics = daemon.get_text("/topics.opml").await;
    let topic_urls: Vec<String> = tidings::opml::parse(topics.as_bytes())
        .expect("parses")
        .into_iter()
        .map(|o| o.xml_url)
        .collect();
    assert_eq!(
        topic_urls,
        [
            format!("{}/feeds/russia-china.atom", daemon.base),
            format!("{}/feeds/all.atom", daemon.base)
        ]
    );
    daemon.stop();

    // export-opml, then import-opml into a fresh config with a comment.
    let exported = setup.cli(&["export-opml"]);
    assert!(exported.status.success());
    let file = setup.dir.path().join("export.opml");
    std::fs::write(&file, &exported.stdout).expect("write");
    let other = Setup::new(&[up.url("0.xml")], "# keep this comment\n");
    let imported = other.cli(&["import-opml", &file.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        stdout.contains("1 feeds added") && stdout.contains("1 already there"),
        "{stdout}"
    );
    let text = other.config_text();
    assert!(
        text.contains("# keep this comment"),
        "comments kept:\n{text}"
    );
    let check = other.cli(&["check-config"]);
    assert!(String::from_utf8_lossy(&check.stdout).contains("2 feeds:"));
    // Importing again adds nothing.
    let again = other.cli(&["import-opml", &file.to_string_lossy()]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 feeds added"));
}
