//! Reading a container's json-file log (`logs`): typed entries filtered by time and
//! tail, optionally followed until the container ends. Front ends format the entries
//! (the CLI writes each to its stream, an API server frames them).

use crate::error::{Result, RuntimeError};
use crate::lifecycle;
use crate::monitor::log_path;
use chrono::{DateTime, Utc};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::time::Duration;
use strata_containers::{ContainerRecord, ContainerState, Containers};

/// How often `follow` looks for new records and whether the container still runs.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One record of the log: a line (or the unterminated end) of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub stream: LogStream,
    /// When the monitor read it.
    pub time: DateTime<Utc>,
    /// The output, with its newline when it had one.
    pub bytes: Vec<u8>,
}

impl LogEntry {
    /// What `logs --details` puts before the output: the record's extra attributes
    /// (Docker's `--log-opt labels=`/`env=`/`tag=`, as `key=value` pairs joined by
    /// commas), then a space. strata's json-file driver records no attributes (it
    /// refuses those options), so this is the space alone, as Docker's with none.
    pub fn details_prefix(&self) -> &'static [u8] {
        b" "
    }
}

/// Which entries `read_logs` gives.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Only entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries at or before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only the last this many records (`None`: all), counted before the time filters.
    pub tail: Option<usize>,
    /// Keep giving entries as they are written, until the container is not running.
    pub follow: bool,
}

impl LogOptions {
    /// Whether the entry is inside the time window.
    pub fn admits(&self, entry: &LogEntry) -> bool {
        self.since.is_none_or(|s| entry.time >= s) && self.until.is_none_or(|u| entry.time <= u)
    }
}

/// Receives entries; `Break` stops reading (an API client went away).
pub type LogSink<'a> = dyn FnMut(LogEntry) -> ControlFlow<()> + 'a;

#[derive(serde::Deserialize)]
struct Record {
    log: String,
    stream: String,
    time: String,
}

/// One line of the log file; `None` for a line that is not a record (a torn write).
pub fn parse_record(line: &str) -> Option<LogEntry> {
    let r: Record = serde_json::from_str(line).ok()?;
    Some(LogEntry {
        stream: if r.stream == "stderr" {
            LogStream::Stderr
        } else {
            LogStream::Stdout
        },
        time: DateTime::parse_from_rfc3339(&r.time).ok()?.with_timezone(&Utc),
        bytes: r.log.into_bytes(),
    })
}

fn give(line: &str, options: &LogOptions, sink: &mut LogSink<'_>) -> ControlFlow<()> {
    match parse_record(line) {
        Some(entry) if options.admits(&entry) => sink(entry),
        _ => ControlFlow::Continue(()),
    }
}

/// Gives the records `reader` holds now, the last `options.tail` of them.
pub fn replay(reader: &mut impl BufRead, options: &LogOptions, sink: &mut LogSink<'_>) -> ControlFlow<()> {
    let lines: Vec<String> = reader.lines().map_while(|l| l.ok()).collect();
    replay_lines(&lines, options, sink)
}

fn replay_lines(lines: &[String], options: &LogOptions, sink: &mut LogSink<'_>) -> ControlFlow<()> {
    let skip = options.tail.map_or(0, |n| lines.len().saturating_sub(n));
    lines[skip..].iter().try_for_each(|line| give(line, options, sink))
}

/// Gives a container's log entries; with `options.follow`, also those written later,
/// until the container is not running or the sink breaks.
pub fn read_logs(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    options: &LogOptions,
    sink: &mut LogSink<'_>,
) -> Result<()> {
    read_logs_while(containers, record, options, sink, &|| true)
}

/// [`read_logs`] for a reader that may go away while nothing is written: following
/// stops once `wanted` says so (an API client disconnected).
pub fn read_logs_while(
    containers: &Containers<'_>,
    record: &ContainerRecord,
    options: &LogOptions,
    sink: &mut LogSink<'_>,
    wanted: &dyn Fn() -> bool,
) -> Result<()> {
    let config = containers.config(record)?;
    if !config.log.keeps_logs() {
        // Docker's words for a driver that keeps nothing to read.
        return Err(RuntimeError::Unsupported(
            "configured logging driver does not support reading".into(),
        ));
    }
    let path = log_path(containers, &record.id);
    // The rotated files first, oldest first (`LOG.N` … `LOG.1`), then the current one.
    let mut lines = Vec::new();
    for n in (1..config.log.files()).rev() {
        if let Ok(text) = std::fs::read_to_string(format!("{}.{n}", path.display())) {
            lines.extend(text.lines().map(str::to_string));
        }
    }
    // A container that never started has no log yet: nothing to give.
    let Ok(file) = std::fs::File::open(&path) else {
        let _ = replay_lines(&lines, options, sink);
        return Ok(());
    };
    let mut reader = BufReader::new(file);
    lines.extend((&mut reader).lines().map_while(|l| l.ok()));
    if replay_lines(&lines, options, sink).is_break() || !options.follow {
        return Ok(());
    }
    follow(containers, &record.id, &path, &mut reader, options, sink, wanted)
        .map_err(|e| RuntimeError::io(format!("following the log {}", path.display()), e))
}

fn is_running(containers: &Containers<'_>, id: &str) -> Result<bool> {
    let fresh = lifecycle::reconcile(containers)?.into_iter().find(|c| c.id == id);
    Ok(fresh.is_some_and(|c| c.state == ContainerState::Running))
}

fn follow(
    containers: &Containers<'_>,
    id: &str,
    path: &std::path::Path,
    reader: &mut BufReader<std::fs::File>,
    options: &LogOptions,
    sink: &mut LogSink<'_>,
    wanted: &dyn Fn() -> bool,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    loop {
        let mut line = String::new();
        let pos = reader.stream_position()?;
        // Only whole records: the monitor may be half way through writing one.
        if reader.read_line(&mut line)? > 0 && line.ends_with('\n') {
            if give(line.trim_end(), options, sink).is_break() {
                return Ok(());
            }
            continue;
        }
        reader.seek(SeekFrom::Start(pos))?;
        // Rotated (`--log-opt max-size`): what was left of the old file has been read;
        // go on with the new one from its start.
        let current = std::fs::metadata(path).map(|m| m.ino()).ok();
        if current.is_some_and(|ino| ino != reader.get_ref().metadata().map(|m| m.ino()).unwrap_or(ino)) {
            *reader = BufReader::new(std::fs::File::open(path)?);
            continue;
        }
        if !is_running(containers, id).map_err(std::io::Error::other)? {
            // Drain what the monitor wrote before recording the exit.
            let all = LogOptions {
                tail: None,
                ..options.clone()
            };
            let _ = replay(reader, &all, sink);
            return Ok(());
        }
        if !wanted() {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const LOG: &str = concat!(
        r#"{"log":"one\n","stream":"stdout","time":"2024-01-02T10:00:00.5Z"}"#,
        "\n",
        "torn{\n",
        r#"{"log":"two\n","stream":"stderr","time":"2024-01-02T11:00:00Z"}"#,
        "\n",
        r#"{"log":"three","stream":"stdout","time":"2024-01-02T12:00:00.123456789Z"}"#,
        "\n",
    );

    fn collect(options: &LogOptions) -> Vec<LogEntry> {
        let mut out = Vec::new();
        let _ = replay(&mut LOG.as_bytes(), options, &mut |e| {
            out.push(e);
            ControlFlow::Continue(())
        });
        out
    }

    fn texts(entries: &[LogEntry]) -> Vec<&str> {
        entries.iter().map(|e| std::str::from_utf8(&e.bytes).unwrap()).collect()
    }

    #[test]
    fn records_parse_into_stream_time_and_bytes() {
        let all = collect(&LogOptions::default());
        assert_eq!(texts(&all), ["one\n", "two\n", "three"]);
        assert_eq!(all[1].stream, LogStream::Stderr);
        assert_eq!(all[2].time, at("2024-01-02T12:00:00.123456789Z"));
    }

    #[test]
    fn since_and_until_bound_the_window_inclusively() {
        let options = LogOptions {
            since: Some(at("2024-01-02T11:00:00Z")),
            until: Some(at("2024-01-02T11:00:00Z")),
            ..Default::default()
        };
        assert_eq!(texts(&collect(&options)), ["two\n"]);
    }

    #[test]
    fn tail_counts_lines_from_the_end() {
        let options = LogOptions {
            tail: Some(2),
            ..Default::default()
        };
        assert_eq!(texts(&collect(&options)), ["two\n", "three"]);
        let none = LogOptions {
            tail: Some(0),
            ..Default::default()
        };
        assert!(collect(&none).is_empty());
    }

    #[test]
    fn a_breaking_sink_stops_the_replay() {
        let mut seen = 0;
        let flow = replay(&mut LOG.as_bytes(), &LogOptions::default(), &mut |_| {
            seen += 1;
            ControlFlow::Break(())
        });
        assert!(flow.is_break());
        assert_eq!(seen, 1);
    }
}
