//! Hostile upstreams, end to end: the real daemon polls a dozen feeds that
//! attack it (entity expansion, external entities, a gzip bomb, an endless
//! body, a server trickling one byte a second, a redirect loop, an HTML
//! login page, invalid UTF-8, a 50 MB entry, 100,000 entries, control
//! characters, a lying `Content-Type`) next to one good feed. Each must
//! cost bounded time and memory and end in a clear per-feed error or a
//! clean result, while the daemon keeps serving and the good feed is stored.

mod support;

use serde_json::Value;
use std::io::Write;
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GOOD: &str = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title><link>http://good.example/</link><description>d</description>
<item><guid>g1</guid><title>Good news</title><link>http://good.example/1</link></item></channel></rss>"#;

fn rss(items: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title><link>http://t.example/</link><description>d</description>{items}</channel></rss>"#
    )
    .into_bytes()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// How a raw upstream answers: headers at once, then the body in pieces.
#[derive(Clone, Copy)]
enum Raw {
    /// One byte a second, forever (slowloris).
    Trickle,
    /// Bytes as fast as the client takes them, forever.
    Endless,
}

/// A server below HTTP libraries, for answers no well-behaved server
/// gives. Serves every connection with `mode` until the client hangs up.
async fn raw_upstream(mode: Raw) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind raw upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\nconnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let _ = socket
                    .write_all(b"<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>")
                    .await;
                let chunk = vec![b'x'; 64 * 1024];
                loop {
                    let sent = match mode {
                        Raw::Trickle => {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            socket.write_all(b"x").await
                        }
                        Raw::Endless => socket.write_all(&chunk).await,
                    };
                    if sent.is_err() {
                        return; // the client gave up, as it should
                    }
                }
            });
        }
    });
    addr
}

/// The daemon's peak resident memory (VmHWM), in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_upstreams_cost_only_their_own_feed() {
    let up = Upstream::start().await;
    let trickle = raw_upstream(Raw::Trickle).await;
    let endless = raw_upstream(Raw::Endless).await;

    up.set("good.xml", GOOD.into());
    let laughs = {
        let mut doctype = String::from("<!DOCTYPE rss [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            doctype.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        doctype.push_str("<!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>");
        format!(
            "<?xml version=\"1.0\"?>{doctype}<rss version=\"2.0\"><channel><title>t</title>\
             <item><guid>l1</guid><title>Laughs &lol9; end</title><description>&xxe;</description></item></channel></rss>"
        )
    };
    up.set("laughs.xml", laughs.into_bytes());
    // 64 MiB of zeros in about 64 KiB of gzip: cut off at 16 MiB.
    up.script(
        "bomb.xml",
        vec![Reply::ok(gzip(&vec![0u8; 64 << 20])).header("content-encoding", "gzip")],
    );
    up.script("loop-a.xml", vec![Reply::redirect(302, "/loop-b.xml")]);
    up.script("loop-b.xml", vec![Reply::redirect(301, "/loop-a.xml")]);
    up.script(
        "login.xml",
        vec![Reply::ok(
            b"<!DOCTYPE html><html><head><title>Sign in</title></head><body><form><input name=pw></form></body></html>".to_vec(),
        )
        .header("content-type", "text/html")],
    );
    up.script(
        "moved.xml",
        vec![Reply::ok(
            br#"<html><head><link rel="alternate" type="application/rss+xml" href="/feeds/real.rss"></head></html>"#.to_vec(),
        )],
    );
    // Declared UTF-8, written in windows-1252 ("café", "naïve").
    up.set(
        "latin1.xml",
        rss("<item><guid>c1</guid><title>caf\u{e9}</title></item>")
            .into_iter()
            .flat_map(|b| if b == 0xC3 { None } else { Some(b) })
            .map(|b| if b == 0xA9 { 0xE9 } else { b })
            .collect(),
    );
    // 50 MiB in one entry: over the 16 MiB body cap.
    up.set(
        "huge-entry.xml",
        rss(&format!(
            "<item><guid>h1</guid><title>Huge</title><description>{}</description></item>",
            "x".repeat(50 << 20)
        )),
    );
    // 12 MiB in one entry: under the cap, stored cut to 1 MiB.
    up.set(
        "big-entry.xml",
        rss(&format!(
            "<item><guid>b1</guid><title>Big</title><description>{}</description></item>",
            "y".repeat(12 << 20)
        )),
    );
    let many: String = (0..100_000)
        .map(|i| format!("<item><guid>m{i}</guid><title>Item {i}</title></item>"))
        .collect();
    up.set("many.xml", rss(&many));
    up.set(
        "control.xml",
        rss("<item><guid>x1</guid><title>Nul\u{0}and\u{1b}[31mescape\u{7}bell &#x1; ref</title><description>a\u{0}b</description></item>"),
    );
    // An RSS feed that says it is UTF-16 HTML.
    up.script(
        "liar.xml",
        vec![
            Reply::ok(GOOD.replace("g1", "liar1").into_bytes())
                .header("content-type", "text/html; charset=utf-16"),
        ],
    );

    let feeds = [
        up.url("good.xml"),
        up.url("laughs.xml"),
        up.url("bomb.xml"),
        format!("http://{endless}/endless.xml"),
        format!("http://{trickle}/slow.xml"),
        up.url("loop-a.xml"),
        up.url("login.xml"),
        up.url("moved.xml"),
        up.url("latin1.xml"),
        up.url("huge-entry.xml"),
        up.url("big-entry.xml"),
        up.url("many.xml"),
        up.url("control.xml"),
        up.url("liar.xml"),
    ];
    let setup = Setup::new(&feeds, "");
    // A short total timeout bounds the slowloris; every feed on this one
    // host may be fetched at once.
    setup.write_config(
        &setup
            .config_text()
            .replace("timeout = \"10s\"", "timeout = \"3s\"\nmax_per_host = 16")
            .replace("concurrency = 4", "concurrency = 16"),
    );
    let daemon = setup.start_daemon();
    let pid = daemon.pid();

    // The daemon answers throughout, and every feed gets a result.
    tidings::fetch::install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(120);
    let reports: Vec<Value> = loop {
        let health = client
            .get(format!("{}/healthz", daemon.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("the daemon stopped answering: {e}\n{}", daemon.log()));
        assert_eq!(health.status(), 200);
        let body = client
            .get(format!("{}/api/feeds", daemon.base))
            .send()
            .await
            .expect("/api/feeds")
            .bytes()
            .await
            .expect("body");
        let reports: Vec<Value> = serde_json::from_slice(&body).expect("json");
        if reports.iter().all(|r| r["polls"].as_u64() >= Some(1)) {
            break reports;
        }
        assert!(
            Instant::now() < deadline,
            "not every feed was polled within 120 s: {reports:#?}\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let report = |path: &str| -> &Value {
        reports
            .iter()
            .find(|r| r["url"].as_str().is_some_and(|u| u.ends_with(path)))
            .unwrap_or_else(|| panic!("no report for {path}"))
    };
    let error = |path: &str| report(path)["last_error"].as_str().unwrap_or("").to_owned();
    let entries = |path: &str| report(path)["entries"].as_u64().unwrap_or(0);

    assert_eq!(entries("good.xml"), 1, "{reports:#?}");
    assert_eq!(
        entries("laughs.xml"),
        1,
        "entities are not expanded: {reports:#?}"
    );
    assert!(
        error("bomb.xml").contains("larger than 16 MiB"),
        "{reports:#?}"
    );
    assert!(
        error("endless.xml").contains("larger than 16 MiB"),
        "{reports:#?}"
    );
    assert!(error("slow.xml").contains("timed out"), "{reports:#?}");
    assert!(
        error("loop-a.xml").contains("redirect loop"),
        "{reports:#?}"
    );
    assert_eq!(
        error("login.xml"),
        "not a feed: HTML page (it links to no feed: a login or error page?)"
    );
    assert_eq!(
        error("moved.xml"),
        format!(
            "not a feed: HTML page (did you mean {}?)",
            up.url("feeds/real.rss")
        )
    );
    assert_eq!(entries("latin1.xml"), 1, "{reports:#?}");
    assert!(
        error("huge-entry.xml").contains("larger than 16 MiB"),
        "{reports:#?}"
    );
    assert_eq!(entries("big-entry.xml"), 1, "{reports:#?}");
    assert_eq!(
        entries("many.xml"),
        tidings::normalize::MAX_ITEMS as u64,
        "{reports:#?}"
    );
    assert_eq!(entries("control.xml"), 1, "{reports:#?}");
    assert_eq!(entries("liar.xml"), 1, "{reports:#?}");

    // What is served is valid, and holds what the hostile feeds said
    // without what they attacked with.
    // (2,000 entries from one feed: read every archive page.)
    let mut all = String::new();
    let mut page = daemon.get_text("/feeds/all.atom?limit=500").await;
    assert_valid_atom(&page);
    loop {
        assert!(
            page.len() < 8 << 20,
            "a 12 MiB entry is served cut: the page has {} bytes",
            page.len()
        );
        let next = page
            .split("<link rel=\"next\" type=\"application/atom+xml\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|href| href.replace("&amp;", "&"));
        all.push_str(&page);
        let Some(next) = next else { break };
        let path = next.strip_prefix(&daemon.base).unwrap_or(&next).to_owned();
        page = daemon.get_text(&path).await;
    }
    assert!(all.contains("Good news"));
    assert!(all.contains("café"), "re-decoded as windows-1252");
    assert!(all.contains("Laughs &amp;lol9; end"), "not expanded");
    assert!(!all.contains("root:"), "no external entity was read");
    assert!(
        all.contains("Nuland[31mescapebell ref"),
        "control characters gone"
    );
    let peak = peak_rss_mib(pid);
    assert!(
        peak < 600,
        "the daemon's memory peaked at {peak} MiB; log:\n{}",
        daemon.log()
    );
    println!("daemon peak RSS while polling the hostile feeds: {peak} MiB");
    daemon.stop();
}
