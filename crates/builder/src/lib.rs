//! `strata build`: Dockerfiles parsed by our own parser (heredocs, the escape directive),
//! run step by step through strata's image store and runtime, with a build cache.

mod builder;
pub mod chmod;
pub mod context;
mod copy;
pub mod error;
mod heredoc;
pub mod ignore;
pub mod input;
pub mod instruction;
mod layer;
pub mod named;
pub mod output;
pub mod parser;
pub mod platform;
pub mod run_mount;
mod squash;
mod step_mounts;
mod steps;
mod view;
pub mod words;

pub use builder::{build, BuildOptions, Built, Callbacks, RunSettings};
pub use context::Context;
pub use error::{BuildError, Result};
pub use input::{BuildInput, DockerfileSource};
pub use named::NamedContext;
pub use output::{Output, TarDest};
pub use step_mounts::{BuildSecret, SshAgent, ENTITLEMENTS};
