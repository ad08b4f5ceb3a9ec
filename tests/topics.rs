//! Topics end to end, through the real binary: the query language as the
//! served feed applies it (aliases, proximity, weights, exclusions), the
//! `<category>` naming each matched topic, a changed topic covering the
//! stored history at once, and the tuning tools `explain` and `test-topic`.

mod support;

use std::collections::HashSet;
use support::*;

/// (guid, title, description)
const ITEMS: &[(&str, &str, &str)] = &[
    (
        "1",
        "Putin and Xi sign a gas pipeline deal",
        "Power of Siberia 2 talks.",
    ),
    (
        "2",
        "Китай и Россия провели переговоры о торговле",
        "Визит в Пекин.",
    ),
    ("3", "Lavrov arrives in Beijing for talks", ""),
    (
        "4",
        "The US, China and Russia race for hypersonic weapons",
        "",
    ),
    (
        "5",
        "China launches a Moon probe",
        "Russia is not involved.",
    ),
    ("6", "Путин обсудил с Си Цзиньпином поставки газа", ""),
    (
        "7",
        "Russian and Chinese figure skaters share the podium",
        "Sport news.",
    ),
    ("8", "Oil prices rise", "Brent gains."),
];

const TOPICS: &str = r#"
[aliases]
russia = ["russia", "russian", "moscow", "kremlin", "putin", "lavrov", "россия", "путин"]
china = ["china", "chinese", "beijing", "xi", "xi jinping", "китай", "пекин", "си цзиньпин"]
dealings = ["talks", "deal", "pipeline", "trade", "visit", "переговоры", "торговля", "поставки"]
others = ["us", "united states", "india", "iran"]

[[topic]]
slug = "rc"
title = "Russia & China"
query = '''
  title:(@russia AND @china)^2
  OR ((@russia NEAR/8 @china) NEAR/3 @dealings)^2
  OR title:((@russia NEAR/1 @china) NEAR/2 @others)^-3
'''
exclude = "sport* OR skat*"
min_score = 4

[[topic]]
slug = "energy"
title = "Energy"
query = "gas OR oil OR pipeline* OR газ"
"#;

fn rss(items: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut rss = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title><link>http://wire.example/</link><description>d</description>"#,
    );
    for (guid, title, summary) in items {
        rss.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
             <link>http://wire.example/{guid}</link><description>{summary}</description></item>"
        ));
    }
    rss.push_str("</channel></rss>");
    rss.into_bytes()
}

fn titles(xml: &str) -> HashSet<String> {
    parse_atom(xml)
        .entries
        .into_iter()
        .filter_map(|e| e.title.map(|t| t.content))
        .collect()
}

fn expected(guids: &[&str]) -> HashSet<String> {
    ITEMS
        .iter()
        .filter(|i| guids.contains(&i.0))
        .map(|i| i.1.to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn served_topics_apply_the_query_language_and_name_themselves() {
    let up = Upstream::start().await;
    up.set("wire.xml", rss(ITEMS));
    let setup = Setup::new(&[up.url("wire.xml")], TOPICS);
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(ITEMS.len()).await;

    let xml = daemon.get_text("/feeds/rc.atom").await;
    assert_valid_atom(&xml);
    // 4 is a list of powers, 5 mentions Russia only in passing (no title
    // pair, no dealings), 7 is excluded as sport.
    assert_eq!(titles(&xml), expected(&["1", "2", "3", "6"]), "{xml}");

    // Every served entry names the topics it matched, in any feed.
    let rc = parse_atom(&xml);
    for entry in &rc.entries {
        let terms: Vec<_> = entry.categories.iter().map(|c| c.term.as_str()).collect();
        assert!(terms.contains(&"rc"), "{terms:?}");
        let cat = entry
            .categories
            .iter()
            .find(|c| c.term == "rc")
            .expect("rc category");
        assert_eq!(cat.label.as_deref(), Some("Russia & China"));
        let scheme = cat.scheme.as_deref().unwrap_or_default();
        assert!(
            scheme.starts_with("http://127.0.0.1:") && scheme.ends_with("/topics"),
            "{scheme}"
        );
    }
    let all = parse_atom(&daemon.get_text("/feeds/all.atom").await);
    let topics_of = |title: &str| -> Vec<String> {
        let entry = all
            .entries
            .iter()
            .find(|e| e.title.as_ref().is_some_and(|t| t.content == title))
            .unwrap_or_else(|| panic!("{title} in all.atom"));
        let mut terms: Vec<String> = entry
            .categories
            .iter()
            .filter(|c| c.scheme.is_some())
            .map(|c| c.term.clone())
            .collect();
        terms.sort();
        terms
    };
    assert_eq!(topics_of(ITEMS[0].1), ["energy", "rc"]);
    assert_eq!(topics_of(ITEMS[5].1), ["energy", "rc"]);
    assert_eq!(topics_of(ITEMS[7].1), ["energy"]);
    assert!(topics_of(ITEMS[4].1).is_empty());

    // A changed topic covers the stored history at once after a reload.
    let changed = setup
        .config_text()
        .replace("exclude = \"sport* OR skat*\"\n", "")
        .replace("min_score = 4", "min_score = 2");
    setup.write_config(&changed);
    daemon.signal("HUP");
    daemon.wait_for_log("config reloaded").await;
    let xml = daemon.get_text("/feeds/rc.atom").await;
    assert_eq!(titles(&xml), expected(&["1", "2", "3", "6", "7"]), "{xml}");
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_and_test_topic_show_what_a_topic_takes_and_why() {
    let up = Upstream::start().await;
    up.set("wire.xml", rss(ITEMS));
    let setup = Setup::new(&[up.url("wire.xml")], TOPICS);
    setup.poll_once();

    let out = setup.cli(&["test-topic", "--topic", "rc", "--limit", "3"]);
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{listing}");
    assert!(
        listing.starts_with("rc: 4 of 8 stored entries match; the newest 3"),
        "{listing}"
    );
    assert_eq!(listing.lines().count(), 4, "{listing}");
    // The id column feeds `explain`.
    let line = listing
        .lines()
        .find(|l| l.contains(ITEMS[0].1))
        .unwrap_or_else(|| listing.lines().nth(1).unwrap_or_default());
    let id = line
        .split_whitespace()
        .nth(3)
        .unwrap_or_default()
        .to_owned();

    let out = setup.cli(&["explain", "--topic", "rc", &id]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("topic rc: MATCH"), "{text}");
    assert!(text.contains("decided by: score"), "{text}");
    assert!(text.contains("at title#"), "{text}");
    assert!(text.contains("language: "), "{text}");

    // The Atom <id> a reader shows works too.
    let daemon = setup.start_daemon();
    let xml = daemon.get_text("/feeds/rc.atom").await;
    daemon.stop();
    let urn = parse_atom(&xml)
        .entries
        .into_iter()
        .find(|e| e.title.as_ref().is_some_and(|t| t.content == ITEMS[2].1))
        .map(|e| e.id)
        .expect("entry 3 served");
    let out = setup.cli(&["explain", "--topic", "rc", &urn]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains(ITEMS[2].1), "{text}");

    // Ad-hoc text needs no store; a miss says which clause decided.
    let out = setup.cli(&[
        "explain",
        "--topic",
        "rc",
        "--text",
        "The US, China and Russia",
    ]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("topic rc: no match"), "{text}");
    assert!(
        text.contains("decided by: score -1 < min_score 4"),
        "{text}"
    );
    assert!(text.contains("[weight -3]"), "{text}");

    let out = setup.cli(&["explain", "--topic", "nope", "--text", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no topic \"nope\""));
    let out = setup.cli(&["explain", "--topic", "rc", "0123"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an entry id"));
}
