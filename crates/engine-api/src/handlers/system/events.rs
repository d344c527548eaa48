//! `GET /events?since=&until=&filters=`: Docker's event messages from the store's
//! journal, through the library call `strata events` makes
//! (`ImageStore::follow_events_while`). Without `until` the answer follows new events
//! until the client goes away.
//!
//! A client that went away is noticed while no event comes: the follow asks whether its
//! client is still there (the body's channel closed) between its waits.

use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Call;
use crate::stream::Headers;
use std::io::Write;
use strata_images::{EventFilter, EventQuery, ImageStore};
use strata_metadata::events::{now_nano, parse_time};

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
        let client = w.watch();
        let mut receive = |event: &strata_images::Event| {
            let mut line = event.to_docker_json().to_string();
            line.push('\n');
            w.write_all(line.as_bytes()).is_ok()
        };
        let mut wanted = || !client.gone();
        store.follow_events_while(&query, &mut receive, &mut wanted)?;
        Ok(())
    })
}
