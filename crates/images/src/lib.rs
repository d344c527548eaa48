//! The image service: what `strata images`, `import`, `load`, `save`, `tag`, `rmi`,
//! `inspect` and `history` do, as a library a CLI or a future Engine API socket calls.
//!
//! It moves bytes between the lower layers, which it alone ties together:
//! `content` (blobs) → `snapshots` (unpacked layers) → `metadata` (records), with
//! `archive` for the formats.

pub mod age;
pub mod backing_fs;
pub mod cache_mounts;
pub mod check;
pub mod commit;
pub mod config;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod filter_args;
pub mod import;
pub mod inspect;
pub mod listing;
pub mod load;
mod lock;
pub mod manifest;
pub mod progress;
pub mod prune_filter;
pub mod reference;
mod relay;
pub mod remote;
pub mod remove;
pub mod save;
pub mod store;
mod unpack;
pub mod usage;

pub use error::{ImageError, Result};
pub use events::EventQuery;
pub use filter_args::{FilterArgs, FilterError, LabelFilter};
pub use listing::{list_images, ImageListOptions, ImageRow};
pub use load::{LoadReport, LoadSource};
pub use lock::StoreLock;
pub use progress::{LayerEvent, Progress, Silent};
pub use prune_filter::PruneFilter;
pub use reference::ImageRef;
pub use store::digest as parse_stored_digest;
pub use store::{ImageStore, Resolved};
pub use strata_metadata::{ErrorKind, Event, EventFilter, EventType, ImageRecord, JournalEntry, MetadataError};
pub use unpack::run_parallel;
