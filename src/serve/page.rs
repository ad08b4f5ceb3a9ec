//! `GET /`: the status page for people. Server-rendered HTML, no script:
//! each public topic with its subscribe links and newest headlines, each
//! source with its health, and `<link rel="alternate">` tags so a reader
//! given the page's URL discovers the feeds. Private topics never appear.

use super::{AppState, Catalog, base_url};
use crate::config::ALL_SLUG;
use crate::model::{Entry, FeedId, FeedState};
use crate::status::{FeedReport, reports};
use crate::store::{Store, StoreError};
use crate::topic::Tagger;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

/// Headlines shown per topic.
const HEADLINES: usize = 5;

pub(super) async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let catalog = state.catalog();
    let base = base_url(&catalog, &headers);
    let store = state.store();
    let rendered =
        tokio::task::spawn_blocking(move || render(&store, &catalog, base.as_str())).await;
    match rendered {
        Ok(Ok(html)) => {
            let mut response = html.into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Ok(Err(e)) => {
            tracing::error!("cannot render the status page: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "store error\n").into_response()
        }
        Err(e) => {
            tracing::error!("status page task failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

/// One topic (or "all") as the page lists it.
struct Listed {
    slug: String,
    title: String,
    headlines: Vec<Entry>,
}

fn render(store: &Store, catalog: &Catalog, base: &str) -> Result<String, StoreError> {
    let states = store.feed_states()?;
    let listed = listed_topics(store, catalog, &states)?;
    let outlets: HashMap<FeedId, String> = states
        .iter()
        .map(|s| {
            let title = catalog
                .feed_titles
                .get(&s.id())
                .cloned()
                .or_else(|| s.title.clone())
                .unwrap_or_else(|| s.url.clone());
            (s.id(), title)
        })
        .collect();
    let health = reports(&catalog.feeds, states);
    let now = Utc::now();
    let base = base.trim_end_matches('/');

    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>tidings</title>\n");
    for topic in &listed {
        for (ext, media_type) in [
            ("atom", "application/atom+xml"),
            ("rss", "application/rss+xml"),
            ("json", "application/feed+json"),
        ] {
            let _ = writeln!(
                out,
                "<link rel=\"alternate\" type=\"{media_type}\" title=\"{}\" href=\"{}/feeds/{}.{ext}\">",
                attr(&topic.title),
                attr(base),
                attr(&topic.slug)
            );
        }
    }
    out.push_str(STYLE);
    out.push_str("</head>\n<body>\n<header>\n<h1>tidings</h1>\n");
    let entries = store.entry_count();
    let _ = writeln!(
        out,
        "<p>{entries} stories from {} sources, merged into {} feeds.</p>\n</header>",
        catalog.feeds.len(),
        listed.len()
    );
    // An admin opening the page must see at once that nothing new is
    // being stored, and why.
    if let Err(e) = store.writable() {
        let _ = writeln!(
            out,
            "<p class=\"alert\" id=\"store-alert\"><strong>Store not writable: new entries are not being stored.</strong> {}</p>",
            text(&e.to_string())
        );
    }

    out.push_str("<main>\n<section id=\"topics\">\n<h2>Feeds</h2>\n");
    for topic in &listed {
        let _ = writeln!(
            out,
            "<article class=\"topic\" id=\"topic-{}\">",
            attr(&topic.slug)
        );
        let _ = writeln!(out, "<h3>{}</h3>", text(&topic.title));
        let _ = write!(out, "<p class=\"subscribe\">Subscribe:");
        for (ext, name) in [("atom", "Atom"), ("rss", "RSS"), ("json", "JSON Feed")] {
            let _ = write!(
                out,
                " <a href=\"{}/feeds/{}.{ext}\">{name}</a>",
                attr(base),
                attr(&topic.slug)
            );
        }
        out.push_str("</p>\n<ul class=\"headlines\">\n");
        if topic.headlines.is_empty() {
            out.push_str("<li class=\"empty\">Nothing yet.</li>\n");
        }
        for entry in &topic.headlines {
            let outlet = outlets.get(&entry.feed).map_or("", String::as_str);
            let when = entry.published.unwrap_or(entry.first_seen);
            out.push_str("<li>");
            match &entry.link {
                Some(link) => {
                    let _ = write!(out, "<a href=\"{}\">{}</a>", attr(link), text(&entry.title));
                }
                None => out.push_str(&text(&entry.title)),
            }
            let _ = writeln!(
                out,
                " <span class=\"meta\">{} · <time datetime=\"{}\">{}</time></span></li>",
                text(outlet),
                when.to_rfc3339(),
                when.format("%d %b %H:%M UTC")
            );
        }
        out.push_str("</ul>\n</article>\n");
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"sources\">\n<h2>Sources</h2>\n<div class=\"scroll\"><table>\n");
    out.push_str("<thead><tr><th>Source</th><th>Status</th><th>Last success</th><th>Failures</th><th>Next poll</th><th>Stories</th><th>Last error</th></tr></thead>\n<tbody>\n");
    for r in &health {
        source_row(&mut out, r, now);
    }
    out.push_str("</tbody></table></div>\n</section>\n</main>\n");
    let _ = writeln!(
        out,
        "<footer><a href=\"{b}/topics.opml\">All feeds as OPML</a> · <a href=\"{b}/opml\">Sources as OPML</a> · tidings {}</footer>",
        env!("CARGO_PKG_VERSION"),
        b = attr(base)
    );
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// Public topics, then "all", each with its newest headlines (one scan of
/// the store for all of them).
fn listed_topics(
    store: &Store,
    catalog: &Catalog,
    states: &[FeedState],
) -> Result<Vec<Listed>, StoreError> {
    let mut listed: Vec<Listed> = catalog
        .topics
        .iter()
        .filter(|t| !catalog.is_private(&t.slug))
        .map(|t| Listed {
            slug: t.slug.clone(),
            title: t.title.clone(),
            headlines: Vec::new(),
        })
        .collect();
    if catalog.is_private(ALL_SLUG) {
        return Ok(listed);
    }
    let tagger = Tagger::new(&catalog.topics, states, &catalog.feed_titles);
    let topics: Vec<_> = listed
        .iter()
        .map(|l| catalog.topic(&l.slug).cloned())
        .collect();
    let mut all = Vec::new();
    // Stop once every topic has its headlines, or after a bounded scan so a
    // rare topic cannot make the page slow on a large store.
    let mut scanned = 0usize;
    // A one-entry page whose filter says "done": the scan stops there.
    store.page(1, None, |e| {
        scanned += 1;
        if all.len() < HEADLINES {
            all.push(e.clone());
        }
        let doc = tagger.document(e);
        for (l, t) in listed.iter_mut().zip(&topics) {
            if l.headlines.len() < HEADLINES && t.as_ref().is_some_and(|t| t.matches(&doc)) {
                l.headlines.push(e.clone());
            }
        }
        let done = all.len() >= HEADLINES && listed.iter().all(|l| l.headlines.len() >= HEADLINES);
        done || scanned >= 20_000
    })?;
    // Shown newest-published first (the scan order is when we stored them).
    for l in listed.iter_mut() {
        l.headlines
            .sort_by_key(|e| std::cmp::Reverse(e.published.unwrap_or(e.first_seen)));
    }
    all.sort_by_key(|e| std::cmp::Reverse(e.published.unwrap_or(e.first_seen)));
    listed.push(Listed {
        slug: ALL_SLUG.to_owned(),
        title: "All stories".to_owned(),
        headlines: all,
    });
    Ok(listed)
}

fn source_row(out: &mut String, r: &FeedReport, now: DateTime<Utc>) {
    let class = match r.status.as_str() {
        "ok" => "ok",
        "never fetched" => "new",
        _ => "bad",
    };
    let name = r.title.as_deref().unwrap_or(&r.url);
    let _ = writeln!(
        out,
        "<tr class=\"{class}\"><td><a href=\"{}\">{}</a></td><td class=\"status\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        attr(&r.url),
        text(name),
        text(&r.status),
        r.last_success.map_or("never".into(), |t| ago(now, t)),
        r.consecutive_failures,
        r.next_due.map_or("now".into(), |t| if t > now {
            format!("in {}", span(t - now))
        } else {
            "now".into()
        }),
        r.entries,
        text(r.last_error.as_deref().unwrap_or(""))
    );
}

fn ago(now: DateTime<Utc>, t: DateTime<Utc>) -> String {
    format!("{} ago", span(now - t))
}

fn span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

const STYLE: &str = "<style>
:root{color-scheme:light dark;--muted:#6b7280;--bad:#b91c1c;--ok:#15803d}
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:60rem;padding:1rem}
h1{margin:.2rem 0}h2{border-bottom:1px solid #8884;padding-bottom:.2rem}
.alert{border:2px solid var(--bad);padding:.5rem .8rem;border-radius:.3rem}
.topic{margin-bottom:1.5rem}.subscribe a{margin-right:.4rem}
.headlines{padding-left:1.1rem}.headlines li{margin:.3rem 0}
.meta{color:var(--muted);font-size:.85rem;white-space:nowrap}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #8883;vertical-align:top}
tr.ok .status{color:var(--ok)}tr.bad .status{color:var(--bad);font-weight:600}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem}
</style>
";
