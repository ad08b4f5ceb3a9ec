//! End to end: a fake upstream on 127.0.0.1 serving real feeds, the real
//! `tidings` binary polling it, and its HTTP server checked from outside.

mod support;

use std::collections::{HashMap, HashSet};
use support::*;

const TOPIC: &str = r#"
[[topic]]
slug = "russia-china"
title = "Russia–China relations"
query = '''(russia OR russian OR moscow OR kremlin OR putin OR россия) AND (china OR chinese OR beijing OR "xi jinping" OR китай)'''
"#;

fn corpus(path: &str) -> Vec<u8> {
    read(&shared().join("corpora").join(path))
}

/// Distinct stories in a feed file as an independent reader counts them:
/// the publisher's id, else the link — unless the link is the site's front
/// page or names several differently titled items (a scraper's fallback),
/// then the title. `None` when it is no feed at all (the replay has a few
/// empty snapshots).
fn stories_in(body: &[u8]) -> Option<HashSet<String>> {
    let feed = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| String::new())
        .build()
        .parse(body)
        .ok()?;
    let link = |e: &feed_rs::model::Entry| e.links.first().map(|l| l.href.clone());
    let title = |e: &feed_rs::model::Entry| e.title.as_ref().map(|t| t.content.clone());
    let mut titles_by_link: HashMap<String, HashSet<Option<String>>> = HashMap::new();
    for e in &feed.entries {
        if let Some(l) = link(e) {
            titles_by_link.entry(l).or_default().insert(title(e));
        }
    }
    let names_one_story = |l: &String| {
        let front_page = url::Url::parse(l).is_ok_and(|u| u.path() == "/" && u.query().is_none());
        !front_page && titles_by_link.get(l).is_none_or(|t| t.len() == 1)
    };
    Some(
        feed.entries
            .iter()
            .map(|e| match link(e) {
                _ if !e.id.is_empty() => e.id.clone(),
                Some(l) if names_one_story(&l) => l,
                _ => format!("title:{}", title(e).unwrap_or_default()),
            })
            .collect(),
    )
}

fn distinct_stories(body: &[u8]) -> HashSet<String> {
    stories_in(body).expect("fixture parses")
}

/// How many entries of a served feed came from the feed at `url`.
fn count_from_source(xml: &str, url: &str) -> usize {
    xml.matches(&format!("<source>\n      <id>{url}</id>"))
        .count()
}

fn entry_ids(xml: &str) -> Vec<String> {
    parse_atom(xml).entries.into_iter().map(|e| e.id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_arrives_and_is_served_as_valid_atom() {
    let up = Upstream::start().await;
    let sources: [(&str, Vec<u8>); 4] = [
        (
            "rss2.xml",
            read(&replay_snapshots("gesab001-headlines/bbc")[0]),
        ),
        (
            "rss1.rdf",
            corpus("rsparser/Tests/RSParserTests/Resources/bio.rdf"),
        ),
        (
            "atom.xml",
            read(&replay_snapshots("gesab001-headlines/aljazeeraenglish")[0]),
        ),
        (
            "feed.json",
            corpus("rsparser/Tests/RSParserTests/Resources/DaringFireball.json"),
        ),
    ];
    let mut expected = HashMap::new();
    for (path, body) in &sources {
        expected.insert(up.url(path), distinct_stories(body).len());
        up.set(path, body.clone());
    }
    let urls: Vec<String> = sources.iter().map(|(p, _)| up.url(p)).collect();
    let setup = Setup::new(&urls, TOPIC);
    let daemon = setup.start_daemon();
    let total: usize = expected.values().sum();
    assert_eq!(
        daemon.wait_for_entries(total).await,
        total,
        "no extra entries"
    );

    let all = daemon
        .get_text(&format!("/feeds/all.atom?limit={total}"))
        .await;
    assert_valid_atom(&all);
    for (url, n) in &expected {
        assert!(*n > 0, "fixture for {url} has entries");
        assert_eq!(count_from_source(&all, url), *n, "entries from {url}");
    }
    let ids = entry_ids(&all);
    assert_eq!(ids.len(), total);
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        total,
        "ids are unique"
    );

    let topic = daemon.get_text("/feeds/russia-china.atom").await;
    assert_valid_atom(&topic);
    assert_eq!(daemon.get("/feeds/nope.atom").await.status(), 404);
    assert_eq!(daemon.get("/feeds/all.rss2").await.status(), 404);
    daemon.stop();
}

/// A real snapshot with the first item's headline rewritten.
fn with_first_title_edited(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).expect("utf-8 fixture");
    let item = text.find("<item>").expect("an item");
    let title = item + text[item..].find("<title>").expect("item title") + "<title>".len();
    let mut edited = text.clone();
    edited.insert_str(title, "UPDATED ");
    edited.into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn repolls_add_nothing_and_edits_update_in_place() {
    let up = Upstream::start().await;
    let body = read(&replay_snapshots("gesab001-headlines/bbc")[10]);
    let stories = distinct_stories(&body).len();
    up.set("bbc.xml", body.clone());
    let setup = Setup::new(&[up.url("bbc.xml")], "");

    let first = setup.poll_once();
    assert_eq!(poll_totals(&first), (stories, 0), "{first}");
    assert!(
        first.lines().next().unwrap_or("").starts_with("new"),
        "{first}"
    );

    // Unchanged upstream: the stored ETag is sent back and a 304 changes nothing.
    let second = setup.poll_once();
    assert_eq!(poll_totals(&second), (0, 0), "{second}");
    assert!(second.contains("304"), "{second}");
    let last = up.seen().pop().expect("a request");
    assert_eq!(
        (last.status, last.if_none_match.as_deref()),
        (304, Some("\"v1\""))
    );

    // The same bytes under a new ETag: still nothing new.
    up.set("bbc.xml", body.clone());
    let third = setup.poll_once();
    assert_eq!(poll_totals(&third), (0, 0), "{third}");

    let daemon = setup.start_daemon();
    let before = daemon.get_text("/feeds/all.atom?limit=500").await;
    daemon.stop();

    // One headline rewritten: one update, no new entry, same id.
    up.set("bbc.xml", with_first_title_edited(&body));
    let fourth = setup.poll_once();
    assert_eq!(poll_totals(&fourth), (0, 1), "{fourth}");
    assert!(fourth.starts_with("updated"), "{fourth}");

    let daemon = setup.start_daemon();
    let after = daemon.get_text("/feeds/all.atom?limit=500").await;
    daemon.stop();
    assert_valid_atom(&after);
    let (before, after) = (parse_atom(&before), parse_atom(&after));
    assert_eq!(after.entries.len(), stories);
    let ids = |f: &feed_rs::model::Feed| {
        f.entries
            .iter()
            .map(|e| e.id.clone())
            .collect::<HashSet<_>>()
    };
    assert_eq!(ids(&before), ids(&after), "ids never change");
    let edited: Vec<_> = after
        .entries
        .iter()
        .filter(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content.starts_with("UPDATED "))
        })
        .collect();
    assert_eq!(edited.len(), 1);
    let old = before
        .entries
        .iter()
        .find(|e| e.id == edited[0].id)
        .expect("same id before");
    assert!(edited[0].updated > old.updated, "updated moved forward");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_entries_and_ids_and_does_not_refetch() {
    let up = Upstream::start().await;
    let feeds = [
        "egfedorov-rss-parser/meduza",
        "theplakhovgroup-reading/moscowtimes",
    ];
    let mut total = 0;
    for (i, feed) in feeds.iter().enumerate() {
        let body = read(replay_snapshots(feed).last().expect("snapshots"));
        total += distinct_stories(&body).len();
        up.set(&format!("{i}.xml"), body);
    }
    let urls: Vec<String> = (0..feeds.len())
        .map(|i| up.url(&format!("{i}.xml")))
        .collect();
    let setup = Setup::new(&urls, TOPIC);

    let daemon = setup.start_daemon();
    daemon.wait_for_entries(total).await;
    let before = entry_ids(&daemon.get_text("/feeds/all.atom?limit=500").await);
    let log = daemon.stop();
    assert!(log.contains("store flushed"), "clean shutdown:\n{log}");
    let requests = up.requests();
    assert_eq!(requests, feeds.len(), "one poll per feed");

    let daemon = setup.start_daemon();
    assert_eq!(daemon.wait_for_entries(total).await, total);
    let after = entry_ids(&daemon.get_text("/feeds/all.atom?limit=500").await);
    assert_eq!(before, after, "same entries, same ids, same order");
    // The next polls are due an hour after the first: a restart is no
    // reason to poll again.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(up.requests(), requests, "no polls right after a restart");
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_topic_feed_holds_exactly_the_matching_entries() {
    let up = Upstream::start().await;
    let items = [
        (
            "1",
            "Putin and Xi Jinping sign an energy pact",
            "",
            "",
            true,
        ),
        ("2", "China's exports to Russia hit a record", "", "", true),
        (
            "3",
            "Kremlin says the talks with Beijing went well",
            "",
            "",
            true,
        ),
        ("4", "Россия и Китай подписали соглашение", "", "", true),
        ("5", "Russian ballet tours Europe", "A review.", "", false),
        ("6", "China launches a Moon probe", "", "", false),
        ("7", "Prussian history and fine china", "", "", false),
        (
            "8",
            "Moscow weather",
            "Crowds of Chinese tourists arrive.",
            "",
            true,
        ),
        (
            "9",
            "Gas pipeline news",
            "Deliveries to Beijing resume.",
            "Russia",
            true,
        ),
        ("10", "Moscow and Beijing", "", "", true),
        ("11", "Russians in Chinatown", "", "", false),
    ];
    let mut rss = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title><link>http://wire.example/</link><description>d</description>"#,
    );
    for (guid, title, summary, category, _) in &items {
        rss.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>http://wire.example/{guid}</link>\
             <description>{summary}</description><category>{category}</category></item>"
        ));
    }
    rss.push_str("</channel></rss>");
    up.set("wire.xml", rss.into_bytes());
    let setup = Setup::new(&[up.url("wire.xml")], TOPIC);
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(items.len()).await;

    let xml = daemon.get_text("/feeds/russia-china.atom").await;
    assert_valid_atom(&xml);
    let served: HashSet<String> = parse_atom(&xml)
        .entries
        .into_iter()
        .filter_map(|e| e.title.map(|t| t.content))
        .collect();
    let expected: HashSet<String> = items
        .iter()
        .filter(|i| i.4)
        .map(|i| i.1.to_owned())
        .collect();
    assert_eq!(served, expected);
    let limited = parse_atom(&daemon.get_text("/feeds/russia-china.atom?limit=2").await);
    assert_eq!(limited.entries.len(), 2);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn poll_once_stores_the_news_replay_without_duplicates() {
    let up = Upstream::start().await;
    let root = shared().join("news-replay");
    let mut feeds = Vec::new();
    for source in std::fs::read_dir(&root).expect("news-replay") {
        for feed in std::fs::read_dir(source.expect("entry").path()).expect("source dir") {
            let path = feed.expect("entry").path();
            let name = path
                .strip_prefix(&root)
                .expect("prefix")
                .to_string_lossy()
                .into_owned();
            feeds.push(name);
        }
    }
    feeds.sort();
    assert!(feeds.len() >= 10, "replay feeds: {feeds:?}");

    // Replay several consecutive snapshots of every feed, one per poll.
    const ROUNDS: usize = 4;
    let urls: Vec<String> = (0..feeds.len())
        .map(|i| up.url(&format!("{i}.xml")))
        .collect();
    let setup = Setup::new(&urls, "");
    let mut stories: Vec<HashSet<String>> = vec![HashSet::new(); feeds.len()];
    let mut reported_new = 0;
    let mut unreadable = 0;
    for round in 0..ROUNDS {
        let mut broken = HashSet::new();
        for (i, feed) in feeds.iter().enumerate() {
            let snapshots = replay_snapshots(feed);
            // Spread the rounds over each feed's history.
            let pick = &snapshots[(round * (snapshots.len() - 1)) / (ROUNDS - 1).max(1)];
            let body = read(pick);
            match stories_in(&body) {
                Some(s) => stories[i].extend(s),
                None => {
                    broken.insert(up.url(&format!("{i}.xml")));
                }
            }
            up.set(&format!("{i}.xml"), body);
        }
        let out = setup.poll_once();
        // Exactly the snapshots that are no feed fail, each with its reason;
        // the feed's stored entries stay.
        let failed: HashSet<String> = out
            .lines()
            .filter(|l| l.starts_with("error"))
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_owned))
            .collect();
        assert_eq!(failed, broken, "round {round}:\n{out}");
        unreadable += broken.len();
        reported_new += poll_totals(&out).0;
    }
    assert!(
        unreadable > 0,
        "the replay's empty snapshots were exercised"
    );
    let expected: usize = stories.iter().map(HashSet::len).sum();
    assert_eq!(reported_new, expected, "one entry per distinct story");

    // Polling the same snapshots again adds nothing.
    let again = setup.poll_once();
    assert_eq!(poll_totals(&again), (0, 0), "{again}");

    let daemon = setup.start_daemon();
    assert_eq!(daemon.wait_for_entries(expected).await, expected);
    let all = daemon.get_text("/feeds/all.atom?limit=500").await;
    assert_valid_atom(&all);
    let ids = entry_ids(&all);
    assert_eq!(ids.len(), expected.min(500));
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "no duplicate ids"
    );
    daemon.stop();
}
