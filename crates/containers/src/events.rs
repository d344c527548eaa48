//! The events of containers and volumes, with Docker's attributes: a container's image,
//! name and labels; a volume's driver.

use crate::{ContainerRecord, Containers};
use strata_metadata::{Event, EventType};

/// A container event for `record`, attributed as Docker does (image, name, labels).
pub fn container_event(containers: &Containers<'_>, record: &ContainerRecord, action: &str) -> Event {
    let mut event = Event::new(EventType::Container, action, &record.id)
        .with("image", &record.image_name)
        .with("name", &record.name);
    if let Ok(config) = containers.config(record) {
        for (k, v) in config.labels {
            event.attributes.entry(k).or_insert(v);
        }
    }
    event
}

/// A volume event for `name` (strata's volumes are all of the local driver).
pub fn volume_event(name: &str, action: &str) -> Event {
    Event::new(EventType::Volume, action, name).with("driver", "local")
}

impl Containers<'_> {
    /// Records a container event for `record` with `extra` attributes.
    pub fn emit(&self, record: &ContainerRecord, action: &str, extra: &[(&str, &str)]) {
        let mut event = container_event(self, record, action);
        for (k, v) in extra {
            event = event.with(k, *v);
        }
        self.store().emit(event);
    }
}
