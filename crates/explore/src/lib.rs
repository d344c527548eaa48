//! The layer explorer: what every layer of an image adds, changes, hides and wastes,
//! read from the store's own layers (no daemon, no extraction). One analysis, which the
//! CLI and the Engine API service both call.

pub mod analysis;
mod checked;
pub mod ci;
pub mod compare;
pub mod display;
pub mod entries;
pub mod error;
pub mod html;
pub mod paths;
pub mod remote;
pub mod source;

pub use analysis::{Analysis, Analyzer, LayerInput};
pub use error::{ExploreError, Result};
