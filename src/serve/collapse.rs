//! One story, one entry: how a story reported by several feeds is served.
//!
//! The story's first version is the entry, under the story's stable id (so
//! a reader sees one item that does not change identity as copies
//! arrive). Each other copy becomes a `related` link naming its outlet,
//! the HTML gets a short "Also reported by: …" line, and `updated` moves
//! whenever a copy joins, so readers notice. `?collapse=false` serves every
//! copy as its own entry instead (see `view`).
//!
//! A wire story can run in hundreds of outlets: the entry names the first
//! [`MAX_NAMED`] outlets and links the first [`MAX_RELATED`] copies (oldest
//! first), and says how many more there are, rather than grow without
//! bound in every reader.

use super::view::SourceInfo;
use crate::model::{Entry, EntryId, FeedId};
use crate::store::StoryView;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Outlets named in the "Also reported by" line, at most.
pub const MAX_NAMED: usize = 12;

/// Copies linked as `related`, at most.
pub const MAX_RELATED: usize = 24;

/// Another outlet's copy of a served story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Related {
    /// The outlet.
    pub title: String,
    /// The copy's page.
    pub href: String,
}

/// A story made ready to serve as one entry.
pub struct Collapsed {
    /// The first version, under the story's id, `updated` at its latest.
    pub entry: Entry,
    pub related: Vec<Related>,
    /// The "Also reported by" paragraph (HTML), when there are copies.
    pub also: Option<String>,
    /// Every entry of the story (their topics are the story's).
    pub members: Vec<EntryId>,
}

pub fn collapse(story: StoryView, sources: &HashMap<FeedId, Arc<SourceInfo>>) -> Collapsed {
    let outlet = |feed: FeedId| sources.get(&feed).map(|s| s.title.clone());
    let own = outlet(story.entry.feed);
    let mut members = vec![story.entry.id];
    let mut related = Vec::new();
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    // Every other outlet, named or not.
    let mut named: HashSet<String> = HashSet::new();
    let mut updated = story.entry.updated;
    for copy in &story.copies {
        members.push(copy.id);
        // A copy joining changes what the story's entry shows.
        updated = updated.max(copy.updated).max(copy.first_seen);
        let name = outlet(copy.feed).unwrap_or_else(|| "another feed".to_owned());
        if let Some(href) = &copy.link {
            if story.entry.link.as_deref() != Some(href.as_str()) && related.len() < MAX_RELATED {
                related.push(Related {
                    title: name.clone(),
                    href: href.clone(),
                });
            }
        }
        if own.as_deref() != Some(name.as_str()) && !named.contains(&name) {
            if names.len() < MAX_NAMED {
                names.push((name.clone(), copy.link.clone()));
            }
            named.insert(name);
        }
    }
    let also = (!names.is_empty()).then(|| also_line(&names, named.len() - names.len()));
    Collapsed {
        entry: Entry {
            id: story.id,
            updated,
            ..story.entry
        },
        related,
        also,
        members,
    }
}

/// `<p>Also reported by: <a href="…">Outlet</a>, … and N more</p>`.
fn also_line(names: &[(String, Option<String>)], more: usize) -> String {
    let mut html = String::from("<p>Also reported by: ");
    for (i, (name, link)) in names.iter().enumerate() {
        if i > 0 {
            html.push_str(", ");
        }
        let name = html_escape::encode_text(name);
        match link {
            Some(href) => {
                html.push_str("<a href=\"");
                html.push_str(&html_escape::encode_double_quoted_attribute(href));
                html.push_str("\">");
                html.push_str(&name);
                html.push_str("</a>");
            }
            None => html.push_str(&name),
        }
    }
    if more > 0 {
        html.push_str(&format!(" and {more} more"));
    }
    html.push_str("</p>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration};

    fn entry(n: u8, feed: u64, link: &str, minutes: i64) -> Entry {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::minutes(minutes);
        Entry {
            id: EntryId([n; 16]),
            feed: FeedId(feed),
            identity: String::new(),
            link: Some(link.into()),
            published: Some(t),
            ..Entry::bare("", "", "China and Russia sign gas pipeline deal", t)
        }
    }

    fn sources() -> HashMap<FeedId, Arc<SourceInfo>> {
        [(1, "TASS"), (2, "Xinhua"), (3, "CGTN & Co")]
            .into_iter()
            .map(|(id, title)| {
                (
                    FeedId(id),
                    Arc::new(SourceInfo {
                        title: title.into(),
                        feed_url: format!("https://{id}.example/rss"),
                        site_link: None,
                    }),
                )
            })
            .collect()
    }

    #[test]
    fn a_story_keeps_its_id_and_names_every_other_outlet() {
        let story = StoryView {
            id: EntryId([1; 16]),
            entry: entry(1, 1, "https://tass.com/a", 0),
            copies: vec![
                entry(2, 2, "https://xinhua.example/b?x=1&y=2", 30),
                entry(3, 3, "https://cgtn.example/c", 90),
            ],
        };
        let c = collapse(story, &sources());
        assert_eq!(c.entry.id, EntryId([1; 16]));
        assert_eq!(c.entry.link.as_deref(), Some("https://tass.com/a"));
        assert_eq!(c.entry.updated, entry(3, 3, "", 90).updated);
        assert_eq!(c.related.len(), 2);
        assert_eq!(c.related[0].title, "Xinhua");
        assert_eq!(
            c.also.as_deref(),
            Some(
                "<p>Also reported by: <a href=\"https://xinhua.example/b?x=1&amp;y=2\">Xinhua</a>, \
                 <a href=\"https://cgtn.example/c\">CGTN &amp; Co</a></p>"
            )
        );
        assert_eq!(c.members.len(), 3);
    }

    #[test]
    fn a_story_in_hundreds_of_outlets_names_a_few_and_counts_the_rest() {
        let mut sources = sources();
        let copies: Vec<Entry> = (0..200u64)
            .map(|n| {
                let feed = 100 + n;
                sources.insert(
                    FeedId(feed),
                    Arc::new(SourceInfo {
                        title: format!("Outlet {n}"),
                        feed_url: format!("https://{n}.example/rss"),
                        site_link: None,
                    }),
                );
                entry(
                    2 + n as u8,
                    feed,
                    &format!("https://{n}.example/a"),
                    n as i64,
                )
            })
            .collect();
        let story = StoryView {
            id: EntryId([1; 16]),
            entry: entry(1, 1, "https://tass.com/a", 0),
            copies,
        };
        let c = collapse(story, &sources);
        assert_eq!(c.members.len(), 201);
        assert_eq!(c.related.len(), MAX_RELATED);
        assert_eq!(c.related[0].href, "https://0.example/a");
        let also = c.also.unwrap();
        assert_eq!(also.matches("<a ").count(), MAX_NAMED);
        assert!(also.contains(">Outlet 11</a>") && !also.contains("Outlet 12<"));
        assert!(also.ends_with(" and 188 more</p>"), "{also}");
    }

    #[test]
    fn a_lone_entry_is_served_as_it_is() {
        let e = entry(1, 1, "https://tass.com/a", 0);
        let c = collapse(
            StoryView {
                id: e.id,
                entry: e.clone(),
                copies: vec![],
            },
            &sources(),
        );
        assert_eq!(c.entry, e);
        assert!(c.related.is_empty() && c.also.is_none());
    }

    #[test]
    fn a_copy_on_the_same_link_adds_no_link_and_its_own_outlet_no_name() {
        let story = StoryView {
            id: EntryId([1; 16]),
            entry: entry(1, 1, "https://tass.com/a", 0),
            copies: vec![entry(2, 1, "https://tass.com/a", 5)],
        };
        let c = collapse(story, &sources());
        assert!(c.related.is_empty());
        assert_eq!(c.also, None);
    }
}
