//! The events journal: what changed in the store, written by the library wherever state
//! changes and read by row ID, so a process can follow what any other process did
//! (`strata events`, and the Engine API's `/events`). Old rows are pruned by age and by
//! count as new ones are written.

use crate::{Db, MetadataError, Result};
use rusqlite::params;
use std::collections::BTreeMap;

/// What an event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Container,
    Image,
    Network,
    Volume,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Container => "container",
            EventType::Image => "image",
            EventType::Network => "network",
            EventType::Volume => "volume",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        [
            EventType::Container,
            EventType::Image,
            EventType::Network,
            EventType::Volume,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One event, as Docker describes it: a type, an action, the actor's ID and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// Docker's action: `create`, `start`, `die`, `tag`, `connect`, `exec_start: sh`, …
    pub action: String,
    /// The actor's ID: a container or image ID, a network ID, a volume name.
    pub actor: String,
    pub attributes: BTreeMap<String, String>,
    /// Nanoseconds since the Unix epoch.
    pub time_nano: i64,
}

impl Event {
    /// An event of now.
    pub fn new(kind: EventType, action: impl Into<String>, actor: impl Into<String>) -> Event {
        Event {
            kind,
            action: action.into(),
            actor: actor.into(),
            attributes: BTreeMap::new(),
            time_nano: now_nano(),
        }
    }

    /// With one more attribute (an empty value is left out).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        let value = value.into();
        if !value.is_empty() {
            self.attributes.insert(key.to_string(), value);
        }
        self
    }
}

/// Nanoseconds since the Unix epoch, now.
pub fn now_nano() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// An event with its place in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub id: i64,
    pub event: Event,
}

/// Rows kept at most, and the oldest kept (7 days), as the journal is pruned.
pub const KEEP_ROWS: i64 = 10_000;
pub const KEEP_NANOS: i64 = 7 * 24 * 3600 * 1_000_000_000;
/// Pruning runs on every this-many-th row, so writes stay one insert.
const PRUNE_EVERY: i64 = 256;

impl Db {
    /// Appends `event` to the journal; returns its row ID. The write does not wait for
    /// the disk (the next durable write of the store carries it): a `run` records four
    /// or five events, and an event lost to a power cut loses no state.
    pub fn record_event(&mut self, event: &Event) -> Result<i64> {
        let attributes = serde_json::to_string(&event.attributes).expect("string maps serialize");
        let path = self.path.clone();
        self.write_transient(|tx| {
            let e = |source| MetadataError::Sqlite {
                path: path.clone(),
                source,
            };
            tx.execute(
                "INSERT INTO events (time_nano, type, action, actor, attributes) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    event.time_nano,
                    event.kind.as_str(),
                    event.action,
                    event.actor,
                    attributes
                ],
            )
            .map_err(e)?;
            let id = tx.last_insert_rowid();
            if id % PRUNE_EVERY == 0 {
                tx.execute(
                    "DELETE FROM events WHERE id <= ?1 OR time_nano < ?2",
                    params![id - KEEP_ROWS, event.time_nano - KEEP_NANOS],
                )
                .map_err(e)?;
            }
            Ok(id)
        })
    }

    /// Up to `limit` events after row `after`, oldest first.
    pub fn events_after(&self, after: i64, limit: usize) -> Result<Vec<JournalEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, time_nano, type, action, actor, attributes FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, time_nano, kind, action, actor, attributes) = row.map_err(|e| self.err(e))?;
            // A type this build does not know (a newer strata wrote it) is skipped.
            let Some(kind) = EventType::parse(&kind) else { continue };
            out.push(JournalEntry {
                id,
                event: Event {
                    kind,
                    action,
                    actor,
                    attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                    time_nano,
                },
            });
        }
        Ok(out)
    }

    /// The row ID of the newest event (0 when there is none): where a reader that wants
    /// only new events starts.
    pub fn last_event_id(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The row ID just before the first event at or after `time_nano`.
    pub fn event_id_before(&self, time_nano: i64) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MIN(id), (SELECT COALESCE(MAX(id), 0) + 1 FROM events)) - 1 FROM events WHERE time_nano >= ?1",
                params![time_nano],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}

impl Event {
    /// Docker's JSON form of the event (the Engine API's `/events` and `events --format`).
    pub fn to_docker_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "Type": self.kind.as_str(),
            "Action": self.action,
            "Actor": { "ID": self.actor, "Attributes": self.attributes },
            "scope": "local",
            "time": self.time_nano / 1_000_000_000,
            "timeNano": self.time_nano,
        });
        // The older fields Docker still sends for containers and images.
        if matches!(self.kind, EventType::Container | EventType::Image) {
            v["status"] = self.action.clone().into();
            v["id"] = self.actor.clone().into();
            if let Some(from) = self.attributes.get("image") {
                v["from"] = from.clone().into();
            }
        }
        v
    }
}

/// Docker's `--filter` of events: the same key ORs, different keys AND.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    terms: BTreeMap<String, Vec<String>>,
}

/// The filter keys `events` knows.
const FILTER_KEYS: [&str; 7] = ["container", "event", "image", "label", "network", "type", "volume"];

impl EventFilter {
    /// From `key=value` terms; an unknown key or a term without `=` is refused by name.
    pub fn parse(terms: &[String]) -> std::result::Result<EventFilter, String> {
        let mut filter = EventFilter::default();
        for term in terms {
            let (key, value) = term
                .split_once('=')
                .ok_or_else(|| format!("bad format of filter {term:?} (expected name=value)"))?;
            if !FILTER_KEYS.contains(&key) {
                return Err(format!(
                    "invalid filter {key:?}: events can be filtered by {}",
                    FILTER_KEYS.join(", ")
                ));
            }
            filter.terms.entry(key.to_string()).or_default().push(value.to_string());
        }
        Ok(filter)
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.terms
            .iter()
            .all(|(key, values)| values.iter().any(|v| term_matches(key, v, event)))
    }
}

fn term_matches(key: &str, value: &str, e: &Event) -> bool {
    let attr = |k: &str| e.attributes.get(k).map(String::as_str);
    match key {
        "type" => e.kind.as_str() == value,
        // `exec_start: sh -c …` is an `exec_start`.
        "event" => e.action.split(':').next() == Some(value),
        "container" => {
            e.kind == EventType::Container && (e.actor.starts_with(value) || attr("name") == Some(value))
                || attr("container").is_some_and(|c| c.starts_with(value))
        }
        "image" => match e.kind {
            EventType::Image => e.actor == value || attr("name") == Some(value) || e.actor.starts_with(value),
            _ => attr("image") == Some(value),
        },
        "network" => e.kind == EventType::Network && (e.actor.starts_with(value) || attr("name") == Some(value)),
        "volume" => e.kind == EventType::Volume && e.actor == value,
        "label" => match value.split_once('=') {
            Some((k, v)) => attr(k) == Some(v),
            None => attr(value).is_some(),
        },
        _ => false,
    }
}

/// Docker's time arguments of `--since` and `--until`, as nanoseconds since the epoch:
/// a Unix time (`1700000000`, `1700000000.5`), an RFC 3339 date or time, or a duration
/// before `now_nano` (`10m`, `1h30m`, `45s`).
pub fn parse_time(text: &str, now_nano: i64) -> std::result::Result<i64, String> {
    let bad = || {
        format!("invalid time {text:?}: use a Unix time, an RFC 3339 date (2006-01-02T15:04:05Z) or a duration (10m)")
    };
    if let Ok(secs) = text.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    if let Some(d) = parse_duration(text) {
        return Ok(now_nano - d);
    }
    let with_zone = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else if !text.ends_with('Z') && !text[text.len().saturating_sub(6)..].contains(['+', '-']) {
        format!("{text}Z")
    } else {
        text.to_string()
    };
    let t = chrono::DateTime::parse_from_rfc3339(&with_zone).map_err(|_| bad())?;
    t.timestamp_nanos_opt().ok_or_else(bad)
}

/// `1h30m`, `10m`, `45s`, `500ms`: Go's durations, as nanoseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Some(total as i64)
}
