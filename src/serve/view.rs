//! One page of a served feed, independent of its format: which entries (a
//! page of the store's newest-first order, filtered by topic), what each
//! one carries (its outlet, the topics it matches, sanitized HTML) and the
//! page's links (self, current, next/older archive page). The Atom, JSON
//! Feed and RSS writers only format a [`FeedView`].

use super::Catalog;
use super::collapse::{self, Collapsed, Related};
use super::sanitize;
use crate::model::{Entry, FeedId, FeedState};
use crate::store::{Cursor, Store, StoreError, StoryView};
use crate::topic::{Tagger, Topic};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use url::Url;

/// The served formats, by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Atom,
    Json,
    Rss,
}

impl Format {
    /// Splits `russia-china.atom` into its slug and format.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        let (slug, ext) = file.rsplit_once('.')?;
        let format = match ext {
            "atom" => Format::Atom,
            "json" => Format::Json,
            "rss" => Format::Rss,
            _ => return None,
        };
        Some((slug, format))
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Json => "json",
            Format::Rss => "rss",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
        }
    }
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub slug: String,
    pub format: Format,
    pub limit: usize,
    /// An archive page: entries older than this cursor.
    pub before: Option<Cursor>,
    /// A private feed's token given in the query; carried into the page's
    /// links so a reader can follow them.
    pub token: Option<String>,
    /// Each story once, with links to its other copies (the default);
    /// `?collapse=false` serves every copy.
    pub collapse: bool,
}

/// The outlet an entry came from.
#[derive(Debug)]
pub struct SourceInfo {
    pub title: String,
    pub feed_url: String,
    pub site_link: Option<String>,
}

/// A topic an entry matched, for its categories.
#[derive(Clone, Debug)]
pub struct TopicTag {
    pub slug: String,
    pub title: String,
}

/// One entry as served.
pub struct EntryView {
    pub entry: Entry,
    pub source: Option<Arc<SourceInfo>>,
    pub topics: Vec<TopicTag>,
    /// Sanitized HTML.
    pub summary: Option<String>,
    /// Sanitized HTML.
    pub content: Option<String>,
    /// Other outlets' copies of the story.
    pub related: Vec<Related>,
}

/// One page of a served feed.
pub struct FeedView {
    /// A stable IRI for the feed (independent of the host it is served on).
    pub id: String,
    pub title: String,
    pub subtitle: String,
    /// This page's URL.
    pub self_url: String,
    /// The newest page's URL (the subscription URL).
    pub current_url: String,
    /// The next, older page, when this one is full.
    pub next_url: Option<String>,
    /// Whether this is an archive page (`?before=`), which never changes.
    pub is_archive: bool,
    /// The web page for people.
    pub home_url: String,
    /// `scheme` of the topic categories.
    pub topic_scheme: String,
    /// The newest `updated` on the page; for an empty page, when the
    /// config was loaded (not the time of the request, so that it does not
    /// change on every request).
    pub updated: DateTime<Utc>,
    pub entries: Vec<EntryView>,
}

/// Builds one page. Scans the store: call from a blocking thread.
pub fn build(
    store: &Store,
    catalog: &Catalog,
    topic: Option<&Topic>,
    request: &PageRequest,
    base: &Url,
) -> Result<FeedView, StoreError> {
    let feeds = store.feed_states()?;
    // Each entry is tagged with every topic it matches, whichever feed it
    // is served in: indexed once, or not at all when the verdicts on its
    // text are remembered from an earlier request.
    let tagger = Tagger::new(&catalog.topics, &feeds, &catalog.feed_titles);
    let mut tags: HashMap<crate::model::EntryId, Vec<TopicTag>> = HashMap::new();
    let keep = |e: &Entry| {
        let matched = tagger.topics_of(e);
        if topic.is_some_and(|t| !matched.iter().any(|m| m.slug == t.slug)) {
            return false;
        }
        let matched = matched
            .into_iter()
            .filter(|t| !catalog.is_private(&t.slug))
            .map(|t| TopicTag {
                slug: t.slug.clone(),
                title: t.title.clone(),
            });
        tags.insert(e.id, matched.collect());
        true
    };
    let (stories, next) = if request.collapse {
        let page = store.story_page(request.limit, request.before.as_ref(), keep)?;
        (page.stories, page.next)
    } else {
        let page = store.page(request.limit, request.before.as_ref(), keep)?;
        let single = |entry: Entry| StoryView {
            id: entry.id,
            entry,
            copies: Vec::new(),
        };
        (page.entries.into_iter().map(single).collect(), page.next)
    };
    let sources = sources(feeds, catalog);
    let ext = request.format.extension();
    let feed_path = format!("feeds/{}.{ext}", request.slug);
    let url = |query: Option<String>| {
        let mut u = base.join(&feed_path).unwrap_or_else(|_| base.clone());
        let query = match (query, &request.token) {
            (Some(q), Some(t)) => Some(format!("{q}&token={t}")),
            (None, Some(t)) => Some(format!("token={t}")),
            (q, None) => q,
        };
        u.set_query(query.as_deref());
        String::from(u)
    };
    // The page's options, kept in its links.
    let mut options = Vec::new();
    if request.limit != super::DEFAULT_LIMIT {
        options.push(format!("limit={}", request.limit));
    }
    if !request.collapse {
        options.push("collapse=false".to_owned());
    }
    let limit_query = (!options.is_empty()).then(|| options.join("&"));
    let page_query = |cursor: &Cursor| {
        Some(match &limit_query {
            Some(l) => format!("before={cursor}&{l}"),
            None => format!("before={cursor}"),
        })
    };
    let (title, subtitle) = match topic {
        Some(t) => (
            t.title.clone(),
            "Merged by tidings from its subscribed feeds".to_owned(),
        ),
        None => (
            "All entries".to_owned(),
            "Every entry tidings has stored, newest first".to_owned(),
        ),
    };
    let entries: Vec<EntryView> = stories
        .into_iter()
        .map(|story| {
            let Collapsed {
                entry,
                related,
                also,
                members,
            } = collapse::collapse(story, &sources);
            let source = sources.get(&entry.feed).cloned();
            // Relative URLs in the HTML resolve against the story's own
            // page, else against its feed.
            let html_base = entry
                .link
                .as_deref()
                .or(source.as_ref().map(|s| s.feed_url.as_str()))
                .and_then(|u| Url::parse(u).ok());
            let mut summary = entry
                .summary
                .as_deref()
                .map(|h| sanitize::html(h, html_base.as_ref()));
            let mut content = entry
                .content
                .as_deref()
                .map(|h| sanitize::html(h, html_base.as_ref()));
            if let Some(also) = also {
                // Where readers look: the content when there is one.
                let html = if content.is_some() {
                    &mut content
                } else {
                    &mut summary
                };
                html.get_or_insert_with(String::new).push_str(&also);
            }
            let mut topics: Vec<TopicTag> = Vec::new();
            for id in members {
                for tag in tags.remove(&id).unwrap_or_default() {
                    if !topics.iter().any(|t| t.slug == tag.slug) {
                        topics.push(tag);
                    }
                }
            }
            EntryView {
                summary,
                content,
                topics,
                source,
                related,
                entry,
            }
        })
        .collect();
    Ok(FeedView {
        id: format!("urn:tidings:feed:{}", request.slug),
        title,
        subtitle,
        self_url: url(match &request.before {
            Some(cursor) => page_query(cursor),
            None => limit_query.clone(),
        }),
        current_url: url(limit_query.clone()),
        next_url: next.as_ref().map(|c| url(page_query(c))),
        is_archive: request.before.is_some(),
        home_url: base.to_string(),
        topic_scheme: base
            .join("topics")
            .map_or_else(|_| String::new(), String::from),
        updated: entries
            .iter()
            .map(|e| e.entry.updated)
            .max()
            .unwrap_or(catalog.loaded),
        entries,
    })
}

fn sources(feeds: Vec<FeedState>, catalog: &Catalog) -> HashMap<FeedId, Arc<SourceInfo>> {
    feeds
        .into_iter()
        .map(|s| {
            let id = s.id();
            let title = catalog
                .feed_titles
                .get(&id)
                .cloned()
                .or(s.title)
                .unwrap_or_else(|| host_of(&s.url));
            let info = SourceInfo {
                title,
                feed_url: s.url,
                site_link: s.site_link,
            };
            (id, Arc::new(info))
        })
        .collect()
}

fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            Format::split("russia-china.atom"),
            Some(("russia-china", Format::Atom))
        );
        assert_eq!(Format::split("all.json"), Some(("all", Format::Json)));
        assert_eq!(Format::split("all.rss"), Some(("all", Format::Rss)));
        assert_eq!(Format::split("all.rss2"), None);
        assert_eq!(Format::split("all"), None);
    }
}
