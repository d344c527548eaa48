//! Archive formats: applying layer tars safely, recognising compression, and reading and
//! writing image archives (docker-archive, legacy and Docker ≥ 25, and OCI image layouts).
//!
//! This crate knows formats only; it never touches the store. The `images` crate moves
//! bytes between these formats and the content and snapshot stores.

pub mod apply;
pub mod compression;
pub mod path;

pub use apply::{apply_layer, ApplyError, ApplyOptions, ApplyStats, DevicePolicy};
pub use compression::{decompress, Compression};
