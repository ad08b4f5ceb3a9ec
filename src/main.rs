//! The `tidings` command line. Parsing arguments and printing results only;
//! everything else lives in the library.

use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tidings::config::{Config, DEFAULT_CONFIG_PATH};
use tidings::daemon;
use tidings::poll::PollOutcome;

#[derive(Parser)]
#[command(version, about = "A self-hosted news feed aggregator")]
struct Cli {
    /// The config file.
    #[arg(long, short, global = true, env = "TIDINGS_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    /// Log format: text, json, journal (syslog priority prefixes), or auto
    /// (journal when stderr is the systemd journal, else text).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    log_format: tidings::logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll feeds on their schedule and serve the merged feeds until stopped.
    Run,
    /// Poll every feed now, print what each one did, and exit.
    Poll {
        /// Poll once and exit (required; the daemon is `tidings run`).
        #[arg(long, required = true)]
        once: bool,
    },
    /// Validate the config and print a summary.
    CheckConfig,
    /// Show every feed's health: status, last success and error, next poll.
    Feeds,
    /// Print the configured sources as OPML 2.0 (for another reader).
    ExportOpml,
    /// Add the feeds of an OPML export (from another reader) to the config,
    /// keeping its comments and layout.
    ImportOpml { file: PathBuf },
    /// Write a consistent snapshot of the store to PATH (the daemon must be
    /// stopped: it holds the store).
    Backup { path: PathBuf },
    /// Rewrite the store compactly, shrinking its disk use to the live
    /// data (the daemon must be stopped: it holds the store).
    Compact,
    /// Restore a backup as the configured store.
    Restore {
        path: PathBuf,
        /// Replace an existing store (it is moved aside, not deleted).
        #[arg(long)]
        force: bool,
    },
    /// Explain why a topic takes or leaves an entry: the terms found and
    /// where, the score, and the clause that decided.
    Explain {
        /// The topic's slug.
        #[arg(long)]
        topic: String,
        /// A stored entry's id (as `test-topic` prints it, or its Atom <id>).
        #[arg(required_unless_present = "text", conflicts_with = "text")]
        entry_id: Option<String>,
        /// Explain this text instead of a stored entry (read as a title).
        #[arg(long)]
        text: Option<String>,
        /// With --text: a summary to go with it.
        #[arg(long, requires = "text")]
        summary: Option<String>,
    },
    /// List the stored entries a topic takes, newest first, with scores.
    TestTopic {
        /// The topic's slug.
        #[arg(long)]
        topic: String,
        /// How many entries to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Measure a topic on labelled items (a TSV with id, label, title,
    /// summary; label 2 = relevant, 0 = not, 1 = ignored): precision,
    /// recall and every mistake.
    EvalTopic {
        /// The topic's slug.
        #[arg(long)]
        topic: String,
        /// The labelled TSV, e.g. ../shared/topics/russia-china/dev.tsv.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`, systemd's LimitFSIZE=) must fail the
    // store's write with EFBIG, reported like a full disk, rather than kill
    // the daemon with SIGXFSZ.
    // SAFETY: setting a signal's disposition to SIG_IGN before any thread
    // starts has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    tidings::memory::tune_allocator();
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Run => "info",
        _ => "error",
    };
    tidings::logging::init(default_level, cli.log_format);

    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig = cli.command {
        // What `run` would trip over beyond the file itself.
        let (errors, warnings) = daemon::check_environment(&config);
        if let Some(e) = errors.first() {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
        print_summary(&config);
        return ExitCode::SUCCESS;
    }
    // The topic tools read the store on this thread: no runtime needed.
    if let Some(result) = topic_tool(&cli.command, &config) {
        return match result {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run => daemon::run(config).await,
            Command::Poll { .. } => poll_once(&config).await,
            Command::Backup { path } => {
                let s = daemon::backup(&config, &path).await?;
                println!(
                    "backed up {} records from {} trees to {} ({} bytes)",
                    s.records,
                    s.trees,
                    path.display(),
                    s.bytes
                );
                Ok(())
            }
            Command::Compact => {
                let s = daemon::compact(&config).await?;
                let mb = |b: u64| b as f64 / 1e6;
                println!(
                    "compacted {} entries in {}: {:.1} MB → {:.1} MB",
                    s.entries,
                    config.storage.path.display(),
                    mb(s.before),
                    mb(s.after)
                );
                Ok(())
            }
            Command::Restore { path, force } => {
                let s = daemon::restore(&config, &path, force).await?;
                println!(
                    "restored {} records in {} trees into {}",
                    s.records,
                    s.trees,
                    config.storage.path.display()
                );
                Ok(())
            }
            Command::ExportOpml => {
                print!("{}", daemon::export_opml(&config).await);
                Ok(())
            }
            Command::ImportOpml { file } => {
                let text = std::fs::read(&file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let outlines = tidings::opml::parse(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let summary = tidings::config_edit::import_feeds(&config.path, &outlines)?;
                for url in &summary.added {
                    println!("added    {url}");
                }
                for url in &summary.rejected {
                    println!("rejected {url} (not an http(s) URL)");
                }
                println!(
                    "{} feeds added to {}, {} already there; reload the daemon to poll them (systemctl reload tidings)",
                    summary.added.len(),
                    config.path.display(),
                    summary.skipped
                );
                Ok(())
            }
            Command::Feeds => {
                let reports = daemon::feed_reports(&config).await?;
                print!("{}", tidings::status::table(&reports, chrono::Utc::now()));
                Ok(())
            }
            Command::CheckConfig
            | Command::Explain { .. }
            | Command::TestTopic { .. }
            | Command::EvalTopic { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn poll_once(config: &Config) -> anyhow::Result<()> {
    let store = daemon::open_store(config).await?;
    let width = config
        .feeds
        .iter()
        .map(|f| f.url.as_str().len())
        .max()
        .unwrap_or(0);
    // A progress bar on a terminal; plain lines for scripts and logs.
    let progress = std::io::stdout().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(config.feeds.len() as u64),
            indicatif::ProgressDrawTarget::stdout(),
        );
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} feeds  {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    });
    let reports = daemon::poll_once(config, store.clone(), |r| {
        let status = match &r.outcome {
            PollOutcome::Failed(_) => "error",
            PollOutcome::Stored(c) if c.new > 0 => "new",
            PollOutcome::Stored(c) if c.updated > 0 => "updated",
            _ => "unchanged",
        };
        let line = format!("{status:<9} {:<width$}  {}", r.url.as_str(), r.outcome);
        match &progress {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => println!("{line}"),
        }
    })
    .await?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let (mut new, mut updated, mut failed) = (0, 0, 0);
    for r in &reports {
        match &r.outcome {
            PollOutcome::Stored(c) => {
                new += c.new;
                updated += c.updated;
            }
            PollOutcome::Failed(_) => failed += 1,
            _ => {}
        }
    }
    // Retention after the poll: pruned entries leave tombstones, so the
    // next poll does not bring them back.
    let retention = config.storage.retention;
    let pruned =
        tidings::store::retention::prune(store.clone(), retention, chrono::Utc::now()).await?;
    if pruned.pruned > 0 {
        println!("retention: {} entries pruned", pruned.pruned);
    }
    println!(
        "total: {} feeds polled, {} failed; {new} new, {updated} updated; {} entries stored",
        reports.len(),
        failed,
        store.entry_count()
    );
    Ok(())
}

/// Runs `explain`, `test-topic` or `eval-topic`; `None` for other commands.
fn topic_tool(command: &Command, config: &Config) -> Option<anyhow::Result<String>> {
    use tidings::inspect;
    Some(match command {
        Command::Explain {
            topic,
            text: Some(text),
            summary,
            ..
        } => inspect::explain_text(config, topic, text, summary.as_deref()),
        Command::Explain {
            topic,
            entry_id: Some(id),
            ..
        } => inspect::open_store(config)
            .and_then(|store| inspect::explain_entry(config, &store, topic, id)),
        Command::TestTopic { topic, limit } => inspect::open_store(config)
            .and_then(|store| inspect::test_topic(config, &store, topic, *limit)),
        Command::EvalTopic { topic, file } => inspect::eval_topic(config, topic, file),
        _ => return None,
    })
}

fn print_summary(config: &Config) {
    println!("{}: ok", config.path.display());
    println!("  listen:  http://{}", config.server.listen);
    if let Some(base) = &config.server.base_url {
        println!("  base URL: {base}");
    }
    println!("  storage: {}", config.storage.path.display());
    println!(
        "  polling: every {} by default, {} at once",
        humantime::format_duration(config.polling.interval),
        config.polling.concurrency
    );
    println!("  {} feeds:", config.feeds.len());
    for feed in &config.feeds {
        println!(
            "    {} (every {}){}",
            feed.url,
            humantime::format_duration(feed.interval),
            feed.title
                .as_deref()
                .map(|t| format!(" \"{t}\""))
                .unwrap_or_default()
        );
    }
    println!("  {} topics:", config.topics.len());
    for topic in &config.topics {
        println!("    /feeds/{}.atom  {}", topic.slug, topic.title);
    }
}
