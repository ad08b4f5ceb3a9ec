//! Logging setup: tracing to stderr, in the form whoever reads it wants.
//!
//! - `text`: human-readable lines (colored on a terminal only);
//! - `json`: one JSON object per line, for log shippers;
//! - `journal`: text with `<N>` syslog priority prefixes and no timestamp,
//!   which journald turns into proper levels. Chosen automatically when
//!   stderr is the journal (`$JOURNAL_STREAM` names it).
//!
//! The filter comes from `$TIDINGS_LOG`, else `$RUST_LOG`, else the
//! command's default level. Nothing logs request headers or config
//! secrets (per-feed `headers` may carry API keys).

use std::fmt;
use std::io::IsTerminal;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `journal` when stderr is the systemd journal, else `text`.
    Auto,
    Text,
    Json,
    Journal,
}

/// Installs the global subscriber. Call once, first thing.
pub fn init(default_level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_env("TIDINGS_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default_level));
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journal,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().with_current_span(false).init(),
        LogFormat::Journal => builder
            .with_ansi(false)
            .event_format(JournalPrefix(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_ansi(false),
            ))
            .init(),
        LogFormat::Auto | LogFormat::Text => {
            builder.with_ansi(std::io::stderr().is_terminal()).init()
        }
    }
}

/// Whether stderr is the stream `$JOURNAL_STREAM` (`device:inode`) names.
fn stderr_is_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(expected) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    match std::fs::metadata("/proc/self/fd/2") {
        Ok(meta) => expected == format!("{}:{}", meta.dev(), meta.ino()),
        Err(_) => false,
    }
}

/// Prefixes each line with its syslog priority (`<3>` error … `<7>` debug).
struct JournalPrefix<F>(F);

impl<S, N, F> FormatEvent<S, N> for JournalPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let priority = match *event.metadata().level() {
            Level::ERROR => 3,
            Level::WARN => 4,
            Level::INFO => 6,
            Level::DEBUG | Level::TRACE => 7,
        };
        write!(writer, "<{priority}>")?;
        self.0.format_event(ctx, writer, event)
    }
}
