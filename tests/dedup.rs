//! One story, one entry, end to end: the news-replay snapshots replayed
//! through the poller in time order, and served feeds that show each story
//! once with its other copies.

mod support;

use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use support::*;
use tidings::config::Config;
use tidings::fetch::Fetcher;
use tidings::model::FeedId;
use tidings::poll::Poller;
use tidings::store::Store;

const TOPIC: &str = r#"
[[topic]]
slug = "russia-china"
title = "Russia–China relations"
query = '''(russia OR moscow OR kremlin) AND (china OR beijing OR "xi jinping")'''
"#;

/// Every replay feed, as `source/feed`.
fn replay_feeds() -> Vec<String> {
    let root = shared().join("news-replay");
    let mut feeds = Vec::new();
    for source in std::fs::read_dir(&root).expect("news-replay") {
        for feed in std::fs::read_dir(source.expect("entry").path()).expect("source dir") {
            let path = feed.expect("entry").path();
            if path.is_dir() {
                let name = path.strip_prefix(&root).expect("prefix");
                feeds.push(name.to_string_lossy().into_owned());
            }
        }
    }
    feeds.sort();
    feeds
}

/// When a snapshot was taken: its file name starts with the UTC time.
fn taken_at(snapshot: &std::path::Path) -> DateTime<Utc> {
    let name = snapshot.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stamp = name.get(..16).unwrap_or("");
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ")
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .and_utc()
}

/// The true number of distinct stories in a feed's snapshots, established
/// without tidings' code: items are one story when they share the
/// publisher's id or their link (union over every snapshot). A link is no
/// evidence when it is the site's front page or names differently titled
/// items in one snapshot (Meduza's scraper fell back to the front page for
/// months); such items are told apart by their headline, merged where a
/// headline was edited in place (the pairs checked by hand in
/// `data/near_dup_pairs.tsv`).
struct Truth {
    parent: HashMap<String, String>,
}

impl Truth {
    fn new() -> Truth {
        Truth {
            parent: HashMap::new(),
        }
    }

    fn find(&mut self, key: &str) -> String {
        let mut k = key.to_owned();
        loop {
            let p = self
                .parent
                .entry(k.clone())
                .or_insert_with(|| k.clone())
                .clone();
            if p == k {
                return k;
            }
            k = p;
        }
    }

    /// Merges two keys' stories (both must have been seen).
    fn union(&mut self, a: &str, b: &str) {
        if !self.parent.contains_key(a) || !self.parent.contains_key(b) {
            return;
        }
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent.insert(ra, rb);
        }
    }

    fn add_snapshot(&mut self, body: &[u8]) {
        let Ok(feed) = feed_rs::parser::Builder::new()
            .id_generator(|_, _, _| String::new())
            .build()
            .parse(body)
        else {
            return;
        };
        let link = |e: &feed_rs::model::Entry| e.links.first().map(|l| l.href.clone());
        // Headlines compared by their words (feeds vary spaces and
        // no-break spaces between fetches).
        let title = |e: &feed_rs::model::Entry| {
            e.title
                .as_ref()
                .map(|t| t.content.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_default()
        };
        let mut titles_by_link: HashMap<String, HashSet<String>> = HashMap::new();
        for e in &feed.entries {
            if let Some(l) = link(e) {
                titles_by_link.entry(l).or_default().insert(title(e));
            }
        }
        for e in &feed.entries {
            let mut keys = Vec::new();
            if !e.id.is_empty() {
                keys.push(format!("id:{}", e.id));
            }
            if let Some(l) = link(e) {
                let front_page =
                    url::Url::parse(&l).is_ok_and(|u| u.path() == "/" && u.query().is_none());
                if !front_page && titles_by_link[&l].len() == 1 {
                    keys.push(format!("link:{l}"));
                }
            }
            if keys.is_empty() {
                keys.push(format!("title:{}", title(e)));
            }
            for k in &keys {
                self.find(k);
            }
            for k in &keys[1..] {
                self.union(&keys[0], k);
            }
        }
    }

    fn stories(&mut self) -> usize {
        let keys: Vec<String> = self.parent.keys().cloned().collect();
        keys.iter()
            .map(|k| self.find(k))
            .collect::<HashSet<_>>()
            .len()
    }
}

/// Headlines edited in place on items without usable ids, from the
/// hand-checked pairs: (feed, old headline, new headline).
fn hand_checked_edits() -> Vec<(String, String, String)> {
    let tsv = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/near_dup_pairs.tsv"),
    )
    .expect("pairs fixture");
    let title = |file: &str, index: &str| -> String {
        let body = read(&shared().join("news-replay").join(file));
        let feed = feed_rs::parser::parse(&body[..]).expect("snapshot parses");
        let i: usize = index.parse().expect("index");
        feed.entries[i]
            .title
            .as_ref()
            .map(|t| t.content.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    tsv.lines()
        .filter(|l| l.starts_with("edit\t") && l.contains("checked by hand"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let feed = f[3].rsplit_once('/').map_or("", |(d, _)| d).to_owned();
            (feed, title(f[3], f[4]), title(f[6], f[7]))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn replaying_every_snapshot_stores_each_story_once() {
    let up = Upstream::start().await;
    let feeds = replay_feeds();
    assert!(feeds.len() >= 10, "{feeds:?}");
    let urls: Vec<String> = (0..feeds.len())
        .map(|i| up.url(&format!("{i}.xml")))
        .collect();
    let setup = Setup::new(&urls, "");
    let config = Config::load(&setup.config).expect("config");
    let store = Arc::new(Store::open(&config.storage.path, 64 << 20).expect("store"));
    let fetcher = Fetcher::new(&config.polling).expect("fetcher");
    let poller = Poller::new(fetcher, Arc::clone(&store), config.polling.max_interval);

    // The snapshots of every feed, in the order they were taken: all of
    // them with TIDINGS_FULL_REPLAY set (a minute or two in a debug build),
    // else every n-th, spread over the feed's whole history, at most 15
    // snapshots and about 3 MB per feed (a poller that polled less often;
    // the truth is counted over the same snapshots).
    let full = std::env::var_os("TIDINGS_FULL_REPLAY").is_some();
    let mut snapshots: Vec<(DateTime<Utc>, usize, PathBuf)> = feeds
        .iter()
        .enumerate()
        .flat_map(|(i, feed)| {
            let all = replay_snapshots(feed);
            let bytes: u64 = all
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            let stride = if full {
                1
            } else {
                all.len()
                    .div_ceil(15)
                    .max(bytes.div_ceil(3 << 20) as usize)
                    .max(1)
            };
            all.into_iter()
                .step_by(stride)
                .map(move |path| (taken_at(&path), i, path))
        })
        .collect();
    snapshots.sort();
    let mut truth: Vec<Truth> = feeds.iter().map(|_| Truth::new()).collect();
    let started = std::time::Instant::now();
    for (at, i, path) in &snapshots {
        let body = read(path);
        truth[*i].add_snapshot(&body);
        up.set(&format!("{i}.xml"), body);
        poller.poll(&config.feeds[*i], *at).await.expect("store");
    }
    let elapsed = started.elapsed();
    for (feed, old, new) in hand_checked_edits() {
        let i = feeds.iter().position(|f| *f == feed).expect("feed");
        truth[i].union(&format!("title:{old}"), &format!("title:{new}"));
    }

    // Stored entries per feed, and the stories they are served as.
    let mut stories_by_feed: HashMap<FeedId, usize> = HashMap::new();
    let page = store
        .story_page(usize::MAX, None, |_| true)
        .expect("stories");
    for story in &page.stories {
        *stories_by_feed.entry(story.entry.feed).or_default() += 1;
    }
    let mut table = format!(
        "{} snapshots replayed in {:.1}s\n{:<40} {:>7} {:>7} {:>7}\n",
        snapshots.len(),
        elapsed.as_secs_f64(),
        "feed",
        "truth",
        "stored",
        "stories"
    );
    let mut mismatches = Vec::new();
    for (i, feed) in feeds.iter().enumerate() {
        let id = FeedId::for_url(&urls[i]);
        let stored = store
            .feed_state(id)
            .expect("state")
            .map_or(0, |s| s.entry_count as usize);
        let expected = truth[i].stories();
        table.push_str(&format!(
            "{feed:<40} {expected:>7} {stored:>7} {:>7}\n",
            stories_by_feed.get(&id).copied().unwrap_or(0)
        ));
        if stored != expected {
            mismatches.push(feed.clone());
        }
    }
    println!("{table}");
    // TIDINGS_PRINT_STORIES lists the stories told by several entries.
    if std::env::var_os("TIDINGS_PRINT_STORIES").is_some() {
        let name = |f: FeedId| {
            urls.iter()
                .position(|u| FeedId::for_url(u) == f)
                .map_or("?", |i| feeds[i].as_str())
        };
        for story in page.stories.iter().filter(|s| !s.copies.is_empty()) {
            println!("{} | {}", name(story.entry.feed), story.entry.title);
            for c in &story.copies {
                let how = if c.link == story.entry.link {
                    "same link"
                } else {
                    "near-duplicate"
                };
                println!("  + {} | {} ({how})", name(c.feed), c.title);
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:?} differ:\n{table}");
    assert_eq!(
        store.entry_count(),
        truth.iter_mut().map(Truth::stories).sum::<usize>(),
        "feed states count what the store holds"
    );
}

/// An RSS document of `(guid, link, title, summary)` items.
fn rss(title: &str, items: &[(&str, &str, &str, &str)]) -> Vec<u8> {
    let mut out = format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title><link>http://{title}.example/</link><description>d</description>"#
    );
    for (guid, link, title, summary) in items {
        out.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><link>{link}</link><title>{title}</title><description>{summary}</description></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out.into_bytes()
}

const WIRE: (&str, &str) = (
    "China and Russia sign gas pipeline deal during Xi visit to Moscow",
    "MOSCOW (Reuters) - China and Russia signed an agreement on the Power of Siberia 2 gas pipeline on Tuesday during a state visit by Chinese President Xi Jinping to Moscow, the Kremlin said.",
);
const COPY: (&str, &str) = (
    "China, Russia sign gas pipeline deal as Xi visits Moscow",
    "MOSCOW (Reuters) - China and Russia signed an agreement on the Power of Siberia 2 gas pipeline on Tuesday during a state visit by President Xi Jinping to Moscow, the Kremlin said on Tuesday.",
);
const LIVE: (&str, &str) = (
    "Russia-Ukraine war: live updates",
    "Follow our live coverage of the war in Ukraine, the talks in Beijing and the latest from Moscow and Kyiv.",
);

/// The entries of a served Atom document, by id.
fn served(xml: &str) -> HashMap<String, feed_rs::model::Entry> {
    parse_atom(xml)
        .entries
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_story_from_several_outlets_is_served_once_with_its_copies() {
    let up = Upstream::start().await;
    let feeds = ["wire.xml", "paper.xml", "digest.xml"];
    let urls: Vec<String> = feeds.iter().map(|f| up.url(f)).collect();
    let setup = Setup::new(&urls, TOPIC);

    // First only the wire has the story (and its live blog).
    up.set(
        "wire.xml",
        rss(
            "Wire",
            &[
                ("w1", "https://wire.example/1", WIRE.0, WIRE.1),
                ("w2", "https://wire.example/live", LIVE.0, LIVE.1),
            ],
        ),
    );
    setup.poll_once();
    let daemon = setup.start_daemon();
    let before = served(&daemon.get_text("/feeds/all.atom").await);
    daemon.stop();
    let story = before
        .values()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == WIRE.0))
        .expect("the wire story")
        .clone();

    // A newspaper runs an edited copy, a digest links the wire's page, and
    // the newspaper has a live blog of its own under the same template.
    up.set(
        "paper.xml",
        rss(
            "Paper",
            &[
                (
                    "p1",
                    "https://paper.example/world/pipeline?utm_source=rss",
                    COPY.0,
                    COPY.1,
                ),
                ("p2", "https://paper.example/live", LIVE.0, LIVE.1),
                (
                    "p3",
                    "https://paper.example/weather",
                    "Heat wave grips southern Europe as temperatures pass 40C",
                    "Spain, Italy and Greece brace for record temperatures this week.",
                ),
            ],
        ),
    );
    up.set(
        "digest.xml",
        rss(
            "Digest",
            &[(
                "d1",
                "https://wire.example/1",
                "Pipeline deal signed in Moscow",
                "Read the wire's report.",
            )],
        ),
    );
    setup.poll_once();
    let daemon = setup.start_daemon();
    let all = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&all);
    let after = served(&all);
    // The story once (under its first id), both live blogs, the weather.
    assert_eq!(after.len(), 4, "{all}");
    let collapsed = after.get(&story.id).expect("the story keeps its id");
    assert_eq!(
        collapsed.title.as_ref().map(|t| t.content.as_str()),
        Some(WIRE.0)
    );
    // (Served to the second, so it may not visibly move within one; the
    // collapse unit tests check that it does.)
    assert!(
        collapsed.updated >= story.updated,
        "updated never moves back"
    );
    let related: Vec<&str> = collapsed
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("related"))
        .map(|l| l.href.as_str())
        .collect();
    assert_eq!(related, ["https://paper.example/world/pipeline"]);
    let summary = collapsed
        .summary
        .as_ref()
        .map_or("", |s| s.content.as_str());
    assert!(summary.contains("Also reported by"), "{summary}");
    assert!(
        summary.contains("Paper") && summary.contains("Digest"),
        "{summary}"
    );
    let live = after
        .values()
        .filter(|e| e.title.as_ref().is_some_and(|t| t.content == LIVE.0))
        .count();
    assert_eq!(live, 2, "template titles are never merged:\n{all}");

    // The topic feed folds the same way; ?collapse=false shows every copy.
    let topic = daemon.get_text("/feeds/russia-china.atom").await;
    assert_valid_atom(&topic);
    assert!(served(&topic).contains_key(&story.id), "{topic}");
    let every = daemon.get_text("/feeds/all.atom?collapse=false").await;
    assert_valid_atom(&every);
    assert_eq!(served(&every).len(), 6, "{every}");
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn pruned_entries_do_not_come_back_while_the_feed_lists_them() {
    let up = Upstream::start().await;
    let items: Vec<(String, String, String, String)> = (1..=5)
        .map(|i| {
            (
                format!("g{i}"),
                format!("https://a.example/{i}"),
                format!("Story number {i} of the day"),
                format!("Text of story {i}."),
            )
        })
        .collect();
    let body = |n: usize| {
        let refs: Vec<(&str, &str, &str, &str)> = items[..n]
            .iter()
            .map(|(g, l, t, s)| (g.as_str(), l.as_str(), t.as_str(), s.as_str()))
            .collect();
        rss("A", &refs)
    };
    let setup = Setup::new(&[up.url("a.xml")], "");
    let text = setup.config_text().replace(
        "path = \"data\"\n",
        "path = \"data\"\nmax_entries_per_feed = 2\n",
    );
    setup.write_config(&text);

    up.set("a.xml", body(4));
    let first = setup.poll_once();
    assert_eq!(poll_totals(&first), (4, 0), "{first}");
    assert!(first.contains("retention: 2 entries pruned"), "{first}");
    assert!(first.contains("2 entries stored"), "{first}");

    // The feed still lists the pruned two, plus a new one: only that is new.
    up.set("a.xml", body(5));
    let second = setup.poll_once();
    assert_eq!(poll_totals(&second), (1, 0), "{second}");
    assert!(second.contains("2 entries stored"), "{second}");
}
