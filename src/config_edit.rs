//! Editing the config file in place, keeping the admin's comments and
//! layout (`toml_edit`): `tidings import-opml` appends `[[feed]]` tables.
//! The edited text is validated as a whole before it replaces the file,
//! and it replaces it atomically, so an import can never leave a broken
//! or half-written config.

use crate::config::Config;
use crate::opml::Outline;
use std::path::Path;
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, value};

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub added: Vec<String>,
    /// Already configured (same URL), or repeated in the OPML file.
    pub skipped: usize,
    /// Not http(s) URLs.
    pub rejected: Vec<String>,
}

/// Appends `outlines` as feeds to the config at `path`.
pub fn import_feeds(path: &Path, outlines: &[Outline]) -> anyhow::Result<ImportSummary> {
    let source = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let (edited, summary) = append_feeds(&source, outlines)?;
    if summary.added.is_empty() {
        return Ok(summary);
    }
    // The result must be a config tidings accepts, or nothing is written.
    Config::parse(&edited, path, None)
        .map_err(|e| anyhow::anyhow!("the edited config would be invalid:\n{e}"))?;
    let tmp = path.with_extension("toml.importing");
    std::fs::write(&tmp, &edited)?;
    std::fs::rename(&tmp, path)?;
    Ok(summary)
}

fn append_feeds(source: &str, outlines: &[Outline]) -> anyhow::Result<(String, ImportSummary)> {
    let mut doc: DocumentMut = source.parse()?;
    let mut known: std::collections::HashSet<String> = doc
        .get("feed")
        .and_then(Item::as_array_of_tables)
        .map(|feeds| {
            feeds
                .iter()
                .filter_map(|t| t.get("url")?.as_str().map(normalized))
                .collect()
        })
        .unwrap_or_default();
    let mut summary = ImportSummary::default();
    let mut new_tables = Vec::new();
    for outline in outlines {
        let url = match url::Url::parse(outline.xml_url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                summary.rejected.push(outline.xml_url.clone());
                continue;
            }
        };
        if !known.insert(normalized(url.as_str())) {
            summary.skipped += 1;
            continue;
        }
        let mut table = Table::new();
        table.insert("url", value(url.as_str()));
        if !outline.title.is_empty() {
            table.insert("title", value(outline.title.as_str()));
        }
        summary.added.push(url.to_string());
        new_tables.push(table);
    }
    if new_tables.is_empty() {
        return Ok((source.to_owned(), summary));
    }
    let feeds = doc
        .entry("feed")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| anyhow::anyhow!("`feed` in the config is not a list of [[feed]] tables"))?;
    for table in new_tables {
        feeds.push(table);
    }
    Ok((doc.to_string(), summary))
}

fn normalized(url: &str) -> String {
    url::Url::parse(url.trim()).map_or_else(|_| url.trim().to_owned(), String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outline(url: &str, title: &str) -> Outline {
        Outline {
            title: title.into(),
            xml_url: url.into(),
            html_url: None,
        }
    }

    #[test]
    fn appends_new_feeds_and_keeps_comments() {
        let source = "# my feeds\n[polling]\ninterval = \"30m\" # half an hour\n\n[[feed]]\nurl = \"https://a.example/rss\"\n";
        let (edited, summary) = append_feeds(
            source,
            &[
                outline("https://a.example/rss", "dup"),
                outline("https://b.example/feed", "B \"quoted\""),
                outline("https://b.example/feed", "again"),
                outline("ftp://c.example/x", "ftp"),
            ],
        )
        .unwrap();
        assert_eq!(summary.added, ["https://b.example/feed"]);
        assert_eq!(summary.skipped, 2);
        assert_eq!(summary.rejected, ["ftp://c.example/x"]);
        assert!(
            edited.starts_with("# my feeds\n[polling]\ninterval = \"30m\" # half an hour\n"),
            "{edited}"
        );
        let config = Config::parse(&edited, Path::new("/x/t.toml"), None).unwrap();
        assert_eq!(config.feeds.len(), 2);
        assert_eq!(config.feeds[1].title.as_deref(), Some("B \"quoted\""));
    }
}
