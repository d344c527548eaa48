//! Events: the store's journal followed (`strata events`, the Engine API's `/events`),
//! and the events of images, with Docker's actor and attributes: the image ID (a pull's
//! or push's reference) and the name it concerns.

use crate::error::Result;
use crate::store::ImageStore;
use std::time::Duration;
use strata_metadata::{Event, EventFilter, EventType};

/// Which events to follow: Docker's `--since`, `--until` (nanoseconds since the epoch)
/// and `--filter`.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Past events from this time on; without it only new ones (unless `until` is given).
    pub since: Option<i64>,
    /// Stop at this time; without it follow until the receiver declines.
    pub until: Option<i64>,
    pub filter: EventFilter,
}

/// How often the journal is read for new rows while following.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(100);
const BATCH: usize = 512;

impl ImageStore {
    /// Records an image event: `action` on `actor` (an image ID, or a reference for
    /// pull and push), about the name `name` (empty when none).
    pub fn emit_image(&self, action: &str, actor: &str, name: &str) {
        self.emit(Event::new(EventType::Image, action, actor).with("name", name));
    }

    /// The `untag` and `delete` events of an image's removal (`id`), from its `rmi`
    /// lines: names untagged, then the image deleted (its layers are not images).
    pub(crate) fn emit_removal(&self, id: &str, lines: &[crate::remove::RemoveEvent]) {
        for line in lines {
            match line {
                crate::remove::RemoveEvent::Untagged(name) => self.emit_image("untag", id, name),
                crate::remove::RemoveEvent::Deleted(what) if what == id => self.emit_image("delete", id, ""),
                crate::remove::RemoveEvent::Deleted(_) => {}
            }
        }
    }
}

impl ImageStore {
    /// Sends the events `query` selects to `receive`, oldest first, as any process
    /// records them; returns when `until` has passed or `receive` returns false (its
    /// client is gone). The database is locked per read, never while waiting.
    pub fn follow_events(&self, query: &EventQuery, receive: &mut dyn FnMut(&Event) -> bool) -> Result<()> {
        self.follow_events_while(query, receive, &mut || true)
    }

    /// [`ImageStore::follow_events`], asking `wanted` before every wait for new rows
    /// whether its receiver is still there: a receiver that can notice its client went
    /// away without being sent an event (an API connection) ends the follow then,
    /// instead of waiting for an event that may never come.
    pub fn follow_events_while(
        &self,
        query: &EventQuery,
        receive: &mut dyn FnMut(&Event) -> bool,
        wanted: &mut dyn FnMut() -> bool,
    ) -> Result<()> {
        let mut after = match (query.since, query.until) {
            (Some(since), _) => self.db().event_id_before(since)?,
            (None, Some(_)) => 0,
            (None, None) => self.db().last_event_id()?,
        };
        loop {
            let batch = self.db().events_after(after, BATCH)?;
            for entry in &batch {
                after = entry.id;
                if query.until.is_some_and(|u| entry.event.time_nano > u) {
                    return Ok(());
                }
                if query.filter.matches(&entry.event) && !receive(&entry.event) {
                    return Ok(());
                }
            }
            if batch.len() == BATCH {
                continue;
            }
            if query.until.is_some_and(|u| strata_metadata::events::now_nano() > u) {
                return Ok(());
            }
            if !wanted() {
                return Ok(());
            }
            std::thread::sleep(FOLLOW_INTERVAL);
        }
    }
}
