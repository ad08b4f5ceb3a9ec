//! Topic tuning tools over the store: `tidings explain` (why a topic takes
//! or leaves one entry) and `tidings test-topic` (what a topic takes from
//! the stored history). They read the store exactly as serving does, so
//! what they report is what the served feed shows.

use crate::config::Config;
use crate::model::{Entry, EntryId};
use crate::store::Store;
use crate::topic::explain::explain;
use crate::topic::{Document, FieldSet, Tagger, Topic, feed_directory};
use anyhow::{Context, anyhow};
use std::collections::HashMap;
use std::fmt::Write;

/// Finds the topic `slug` of `config`, or says which slugs exist.
pub fn topic<'c>(config: &'c Config, slug: &str) -> anyhow::Result<&'c Topic> {
    config
        .topics
        .iter()
        .find(|t| t.slug == slug)
        .ok_or_else(|| {
            let known: Vec<&str> = config.topics.iter().map(|t| t.slug.as_str()).collect();
            anyhow!(
                "no topic {slug:?} in {} (topics: {})",
                config.path.display(),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
}

/// Opens the store read for inspection, with advice when the daemon holds
/// its lock.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::open(&config.storage.path, config.storage.cache_bytes).with_context(|| {
        format!(
            "cannot open the store at {} (a running `tidings run` holds it: stop it first)",
            config.storage.path.display()
        )
    })
}

/// `tidings explain --topic SLUG ENTRY_ID`.
pub fn explain_entry(
    config: &Config,
    store: &Store,
    slug: &str,
    id: &str,
) -> anyhow::Result<String> {
    let topic = topic(config, slug)?;
    let entry = find_entry(store, id.trim())?;
    let feeds = feed_directory(&store.feed_states()?, &config_titles(config));
    // The language is shown even when the topic does not need it.
    let fields = topic.fields().union(FieldSet::language());
    let doc = Document::of_entry(&entry, feeds.get(&entry.feed), fields);
    let mut out = String::new();
    let _ = writeln!(out, "entry {}: {}", entry.id, entry.title);
    let _ = writeln!(
        out,
        "  {} · {}",
        feed_title(config, store, &entry)?,
        entry.sort_time().format("%Y-%m-%d %H:%M UTC")
    );
    if let Some(link) = &entry.link {
        let _ = writeln!(out, "  {link}");
    }
    let _ = write!(out, "{}", explain(topic, &doc));
    Ok(out)
}

/// The stored entry `id` names: its hex id as `test-topic` prints it, or
/// the `urn:uuid:` Atom `<id>` a reader shows (which sets the UUID version
/// bits, so it is matched against every entry's URN).
fn find_entry(store: &Store, id: &str) -> anyhow::Result<Entry> {
    let parsed = EntryId::parse(id)
        .ok_or_else(|| anyhow!("{id:?} is not an entry id (32 hex digits or a urn:uuid)"))?;
    if let Some(entry) = store.entry(parsed)? {
        return Ok(entry);
    }
    if id.starts_with("urn:uuid:") {
        let found = store.newest(1, |e| e.id.urn() == id)?;
        if let Some(entry) = found.into_iter().next() {
            return Ok(entry);
        }
    }
    Err(anyhow!("no stored entry has id {id}"))
}

/// `tidings explain --topic SLUG --text TEXT [--summary TEXT]`: the text is
/// the title of a made-up entry.
pub fn explain_text(
    config: &Config,
    slug: &str,
    title: &str,
    summary: Option<&str>,
) -> anyhow::Result<String> {
    let topic = topic(config, slug)?;
    // Ad-hoc text comes from no feed: a `feeds` list could only refuse it.
    let mut unrestricted = topic.clone();
    let note = unrestricted.feeds.take().map_or(
        "",
        |_| "(the text comes from no feed: the topic's `feeds` list is not applied)\n",
    );
    let explanation = explain(&unrestricted, &Document::of_text(title, summary));
    Ok(format!("{note}{explanation}"))
}

/// `tidings test-topic --topic SLUG --limit N`: the newest `limit` stored
/// entries the topic takes, with scores, after scanning the whole store
/// to count them all.
pub fn test_topic(
    config: &Config,
    store: &Store,
    slug: &str,
    limit: usize,
) -> anyhow::Result<String> {
    let topic = topic(config, slug)?;
    let tagger = tagger(config, store)?;
    let titles = feed_titles(config, store)?;
    let (mut scanned, mut matched) = (0usize, 0usize);
    let mut lines = Vec::new();
    store.newest(usize::MAX, |e| {
        scanned += 1;
        let verdict = topic.evaluate(&tagger.document(e));
        if verdict.matched() {
            matched += 1;
            if lines.len() < limit {
                lines.push(format!(
                    "{}  {:>6.1}  {}  {} — {}",
                    e.sort_time().format("%Y-%m-%d %H:%M"),
                    verdict.score,
                    e.id,
                    titles.get(&e.feed).map_or("?", String::as_str),
                    e.title
                ));
            }
        }
        false // count everything; keep nothing
    })?;
    let mut out = format!(
        "{slug}: {matched} of {scanned} stored entries match; the newest {} (date, score, id, feed — title):\n",
        lines.len()
    );
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// `tidings eval-topic --topic SLUG FILE.tsv`: precision and recall on a
/// labelled set (see `topic::eval`), and every item the topic gets wrong.
pub fn eval_topic(config: &Config, slug: &str, path: &std::path::Path) -> anyhow::Result<String> {
    let topic = topic(config, slug)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let items =
        crate::topic::eval::read_tsv(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let report = crate::topic::eval::evaluate(topic, &items);
    let mut out = format!("{slug}: {report}\n");
    for (id, score, title) in &report.false_positive_items {
        let _ = writeln!(out, "  false positive  {id}  score {score:>5.1}  {title}");
    }
    for (id, score, title) in &report.false_negative_items {
        let _ = writeln!(out, "  false negative  {id}  score {score:>5.1}  {title}");
    }
    Ok(out)
}

fn config_titles(config: &Config) -> HashMap<crate::model::FeedId, String> {
    config
        .feeds
        .iter()
        .filter_map(|f| {
            Some((
                crate::model::FeedId::for_url(f.url.as_str()),
                f.title.clone()?,
            ))
        })
        .collect()
}

fn tagger<'c>(config: &'c Config, store: &Store) -> anyhow::Result<Tagger<'c>> {
    Ok(Tagger::new(
        &config.topics,
        &store.feed_states()?,
        &config_titles(config),
    ))
}

/// A display name per feed: its first known title, else its URL.
fn feed_titles(
    config: &Config,
    store: &Store,
) -> anyhow::Result<HashMap<crate::model::FeedId, String>> {
    Ok(
        feed_directory(&store.feed_states()?, &config_titles(config))
            .into_iter()
            .map(|(id, meta)| (id, meta.titles.first().cloned().unwrap_or(meta.url)))
            .collect(),
    )
}

fn feed_title(config: &Config, store: &Store, entry: &Entry) -> anyhow::Result<String> {
    Ok(feed_titles(config, store)?
        .remove(&entry.feed)
        .unwrap_or_else(|| "unknown feed".to_owned()))
}
