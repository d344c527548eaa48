//! Archive formats: applying layer tars safely, recognising compression, and reading and
//! writing image archives (docker-archive, legacy and Docker ≥ 25, and OCI image layouts).
//!
//! This crate knows formats only; it never touches the store. The `images` crate moves
//! bytes between these formats and the content and snapshot stores.

pub mod apply;
pub mod compression;
pub mod path;

pub use apply::{apply_layer, apply_layer_split, ApplyError, ApplyOptions, ApplyStats, DevicePolicy};
pub use compression::{decompress, Compression};
pub mod image_archive;
pub mod tar_index;
pub mod tar_split;
pub mod writer;

pub use image_archive::{read_archive, ArchiveError, ArchiveImage, Format, LayerSource};
pub use tar_index::{IndexError, TarIndex};
