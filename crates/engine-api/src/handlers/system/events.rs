//! `GET /events?since=&until=&filters=`: Docker's event messages from the store's
//! journal, through the library call `strata events` makes
//! (`ImageStore::follow_events_while`). Without `until` the answer follows new events
//! until the client goes away.
//!
//! A client that went away is noticed by a failed write. While no event comes, the
//! producer probes the connection at most once per [`PROBE_INTERVAL`] with a newline
//! (whitespace between JSON documents, which every JSON-stream reader skips): the
//! channel it writes into offers no test without sending something, and a follow that
//! waits for the next event could wait for ever on a thread of its own.

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::stream::Headers;
use std::io::Write;
use std::time::{Duration, Instant};
use strata_images::{EventFilter, EventQuery, ImageStore};
use strata_metadata::events::{now_nano, parse_time};

/// How long the stream may stay silent before the connection is probed.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

pub fn events(store: &ImageStore, call: &Call) -> Result<Reply, ApiError> {
    let now = now_nano();
    let time = |key: &str| {
        call.query(key)
            .filter(|t| !t.is_empty())
            .map(|t| parse_time(t, now))
            .transpose()
            .map_err(ApiError::invalid)
    };
    let query = EventQuery {
        since: time("since")?,
        until: time("until")?,
        filter: EventFilter::parse(&call.filters()?.terms()).map_err(ApiError::invalid)?,
    };
    let store = store.try_clone()?;
    Reply::streamed("application/json", Headers::AtOnce, move |w| {
        // The writer and when it last wrote, shared by the two callbacks.
        let out = std::cell::RefCell::new((w, Instant::now()));
        let mut receive = |event: &strata_images::Event| {
            let (w, last_write) = &mut *out.borrow_mut();
            let mut line = event.to_docker_json().to_string();
            line.push('\n');
            *last_write = Instant::now();
            w.write_all(line.as_bytes()).is_ok()
        };
        let mut wanted = || {
            let (w, last_write) = &mut *out.borrow_mut();
            if last_write.elapsed() < PROBE_INTERVAL {
                return true;
            }
            *last_write = Instant::now();
            w.write_all(b"\n").is_ok()
        };
        store.follow_events_while(&query, &mut receive, &mut wanted)?;
        Ok(())
    })
}
