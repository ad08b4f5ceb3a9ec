//! What subscribers' readers get: formats, conditional requests, paging
//! across inserts, sanitized HTML, XML-illegal characters, compression and
//! private feeds — checked over HTTP against the real daemon.

mod support;

use std::collections::HashSet;
use support::*;

fn rss(items: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title><link>http://wire.example/</link><description>d</description>"#,
    );
    for (guid, title, description) in items {
        out.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>http://wire.example/{guid}</link><description>{description}</description></item>"
        ));
    }
    out.push_str("</channel></rss>");
    out.into_bytes()
}

fn numbered(from: usize, to: usize) -> Vec<(String, String, String)> {
    (from..to)
        .map(|i| (format!("g{i}"), format!("Story {i}"), format!("Text {i}")))
        .collect()
}

fn as_refs(items: &[(String, String, String)]) -> Vec<(&str, &str, &str)> {
    items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn atom_json_and_rss_carry_the_same_entries_and_ids() {
    let up = Upstream::start().await;
    up.set("wire.xml", rss(&as_refs(&numbered(0, 7))));
    let setup = Setup::new(&[up.url("wire.xml")], "");
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(7).await;
    let ids = |body: &str| -> Vec<String> {
        feed_rs::parser::parse(body.as_bytes())
            .expect("parses")
            .entries
            .into_iter()
            .map(|e| e.id)
            .collect()
    };
    let atom = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&atom);
    let json_resp = daemon.get("/feeds/all.json").await;
    assert_eq!(
        json_resp.headers()["content-type"],
        "application/feed+json; charset=utf-8"
    );
    let json = json_resp.text().await.expect("body");
    let v: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
    let rss_resp = daemon.get("/feeds/all.rss").await;
    assert_eq!(
        rss_resp.headers()["content-type"],
        "application/rss+xml; charset=utf-8"
    );
    let rss = rss_resp.text().await.expect("body");
    assert_eq!(ids(&atom).len(), 7);
    assert_eq!(ids(&atom), ids(&json));
    assert_eq!(ids(&atom), ids(&rss));
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_requests_get_304_and_the_etag_changes_with_content() {
    let up = Upstream::start().await;
    up.set("wire.xml", rss(&as_refs(&numbered(0, 3))));
    let setup = Setup::new(&[up.url("wire.xml")], "");
    setup.poll_every("1s");
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(3).await;
    tidings::fetch::install_crypto_provider();
    let client = reqwest::Client::new();
    let url = format!("{}/feeds/all.atom", daemon.base);
    let first = client.get(&url).send().await.expect("get");
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
    let last_modified = first.headers()["last-modified"]
        .to_str()
        .expect("lm")
        .to_owned();
    assert!(
        first.headers()["cache-control"]
            .to_str()
            .expect("cc")
            .contains("max-age=60")
    );
    let body = first.text().await.expect("body");

    let again = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(again.status(), 304);
    assert!(
        again.text().await.expect("body").is_empty(),
        "a 304 has no body"
    );
    let by_date = client
        .get(&url)
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .expect("get");
    assert_eq!(by_date.status(), 304);
    let head = client.head(&url).send().await.expect("head");
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["etag"].to_str().expect("etag"), etag);

    // Compressed when asked, identical once decompressed.
    // (A client that does not decompress by itself, to see the wire.)
    let raw_client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .expect("client");
    let gz = raw_client
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("get");
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_eq!(gz.headers()["etag"].to_str().expect("etag"), etag);
    let length: usize = gz.headers()["content-length"]
        .to_str()
        .ok()
        .and_then(|l| l.parse().ok())
        .expect("a gzipped page has a length: it was compressed once, at render time");
    let raw = gz.bytes().await.expect("body");
    assert_eq!(raw.len(), length);
    let mut decoded = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&raw[..]), &mut decoded)
        .expect("gunzip");
    assert_eq!(decoded, body);
    let refused = raw_client
        .get(&url)
        .header("accept-encoding", "gzip;q=0, identity")
        .send()
        .await
        .expect("get");
    assert!(refused.headers().get("content-encoding").is_none());
    assert_eq!(refused.text().await.expect("body"), body);

    // New content: a new ETag, and the old one no longer matches.
    up.set("wire.xml", rss(&as_refs(&numbered(0, 4))));
    daemon.wait_for_entries(4).await;
    let changed = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().expect("etag"), etag);
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_pages_back_without_gaps_or_repeats_while_entries_arrive() {
    let up = Upstream::start().await;
    up.set("wire.xml", rss(&as_refs(&numbered(0, 25))));
    let setup = Setup::new(&[up.url("wire.xml")], "");
    setup.poll_every("1s");
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(25).await;

    let head = parse_atom(&daemon.get_text("/feeds/all.atom?limit=10").await);
    let mut seen: Vec<String> = head.entries.iter().map(|e| e.id.clone()).collect();
    let mut next = head
        .links
        .iter()
        .find(|l| l.rel.as_deref() == Some("prev-archive"))
        .map(|l| l.href.clone());
    assert!(next.is_some(), "a full head page links to the archive");
    // Ten more stories arrive while the reader is catching up.
    up.set("wire.xml", rss(&as_refs(&numbered(0, 35))));
    daemon.wait_for_entries(35).await;
    while let Some(url) = next {
        let path = url
            .split_once(&daemon.base)
            .map(|(_, p)| p.to_owned())
            .expect("same host");
        let xml = daemon.get_text(&path).await;
        assert_valid_atom(&xml);
        assert!(xml.contains("<fh:archive/>"), "archive pages say so");
        let page = parse_atom(&xml);
        seen.extend(page.entries.iter().map(|e| e.id.clone()));
        next = page
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("prev-archive"))
            .map(|l| l.href.clone());
    }
    assert_eq!(seen.len(), 25, "every original story once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25, "no repeats");
    assert_eq!(
        daemon.get("/feeds/all.atom?before=nonsense").await.status(),
        400
    );
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_html_and_illegal_characters_never_reach_readers() {
    let up = Upstream::start().await;
    let hostile = "&lt;p onmouseover=\"steal()\"&gt;Read &lt;a href=\"javascript:alert(1)\"&gt;this&lt;/a&gt;\
&lt;script&gt;alert(2)&lt;/script&gt;&lt;img src=\"/pic.png\" onerror=\"alert(3)\"&gt;\
&lt;iframe src=\"http://evil.example/\"&gt;&lt;/iframe&gt;&lt;/p&gt;";
    up.set(
        "wire.xml",
        rss(&[
            ("h1", "Control\u{1}char\u{b} title", hostile),
            ("h2", "Fine", "ok"),
        ]),
    );
    let setup = Setup::new(&[up.url("wire.xml")], "");
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(2).await;
    let atom = daemon.get_text("/feeds/all.atom").await;
    assert_valid_atom(&atom);
    let feed = parse_atom(&atom);
    let entry = feed
        .entries
        .iter()
        .find(|e| {
            e.title
                .as_ref()
                .is_some_and(|t| t.content.starts_with("Control"))
        })
        .expect("hostile entry served");
    assert_eq!(
        entry.title.as_ref().map(|t| t.content.as_str()),
        Some("Controlchar title")
    );
    let html = entry.summary.as_ref().expect("summary").content.clone();
    for bad in [
        "onmouseover",
        "javascript:",
        "<script",
        "onerror",
        "<iframe",
        "alert(",
    ] {
        assert!(!html.contains(bad), "{bad} reached the reader: {html}");
    }
    assert!(
        html.contains("http://wire.example/pic.png"),
        "relative src made absolute: {html}"
    );
    for format in ["json", "rss"] {
        let body = daemon.get_text(&format!("/feeds/all.{format}")).await;
        assert!(
            !body.contains("javascript:") && !body.contains("onerror"),
            "{format}: {body}"
        );
    }
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn private_feeds_need_their_token() {
    let up = Upstream::start().await;
    up.set("wire.xml", rss(&[("1", "Putin and Xi meet", "Talks")]));
    let setup = Setup::new(
        &[up.url("wire.xml")],
        "[[topic]]\nslug = \"secret\"\ntitle = \"Secret topic\"\nquery = \"putin\"\ntoken = \"s3cret-token-123456\"\n\n[[topic]]\nslug = \"open\"\nquery = \"xi\"\n",
    );
    let daemon = setup.start_daemon();
    daemon.wait_for_entries(1).await;
    tidings::fetch::install_crypto_provider();
    let client = reqwest::Client::new();
    let url = format!("{}/feeds/secret.atom", daemon.base);
    let denied = client.get(&url).send().await.expect("get");
    assert_eq!(denied.status(), 401);
    assert!(denied.headers().contains_key("www-authenticate"));
    assert_eq!(
        client
            .get(format!("{url}?token=wrong-token-1234567"))
            .send()
            .await
            .expect("get")
            .status(),
        401
    );
    let by_query = client
        .get(format!("{url}?token=s3cret-token-123456"))
        .send()
        .await
        .expect("get");
    assert_eq!(by_query.status(), 200);
    let xml = by_query.text().await.expect("body");
    assert!(
        xml.contains("token=s3cret-token-123456"),
        "links carry the token for the reader"
    );
    let bearer = client
        .get(&url)
        .bearer_auth("s3cret-token-123456")
        .send()
        .await
        .expect("get");
    assert_eq!(bearer.status(), 200);
    let basic = client
        .get(&url)
        .basic_auth("reader", Some("s3cret-token-123456"))
        .send()
        .await
        .expect("get");
    assert_eq!(basic.status(), 200);
    // Public feeds stay public and do not name the private topic.
    let open = daemon.get_text("/feeds/open.atom").await;
    assert!(
        open.contains("term=\"open\"") && !open.contains("secret"),
        "{open}"
    );
    daemon.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_with_no_entries_yet_is_dated_by_its_config_not_1970() {
    let up = Upstream::start().await;
    up.set("quiet.xml", rss(&[]));
    let setup = Setup::new(&[up.url("quiet.xml")], "");
    let started = chrono::Utc::now();
    let daemon = setup.start_daemon();
    let first = daemon.get("/feeds/all.atom").await;
    let etag = first.headers()["etag"].to_str().expect("etag").to_owned();
    let atom = first.text().await.expect("body");
    assert_valid_atom(&atom);
    let feed = feed_rs::parser::parse(atom.as_bytes()).expect("parses");
    assert!(feed.entries.is_empty());
    let updated = feed.updated.expect("updated");
    assert!(
        (updated - started).num_seconds().abs() < 60,
        "updated {updated}, daemon started {started}"
    );
    // Stable: the date is not the request's.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = daemon.get("/feeds/all.atom").await;
    assert_eq!(again.headers()["etag"].to_str().expect("etag"), etag);
    daemon.stop();
}
