//! `strata build`: Dockerfiles parsed by our own parser (heredocs, the escape directive),
//! run step by step through strata's image store and runtime, with a build cache.

pub mod error;
pub mod instruction;
pub mod parser;
pub mod words;

pub use error::{BuildError, Result};
