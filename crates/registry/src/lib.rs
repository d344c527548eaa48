//! The OCI distribution client: `pull`, `push`, `login` and `search` against
//! registries, on top of the image store. Speaks HTTP through ureq (rustls), streams
//! every blob, and trusts nothing it has not checked against a digest.

mod blobs;
pub mod challenge;
pub mod client;
pub mod credentials;
pub mod ensure;
pub mod error;
pub mod gzip;
pub mod login;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod report;
pub mod search;
pub mod settings;
pub mod transport;

pub use blobs::BlobReader;
pub use client::{Client, ClientOptions};
pub use credentials::{CredentialStore, Credentials};
pub use ensure::{ensure_image, PullPolicy};
pub use error::{RegistryError, Result};
pub use manifest::Platform;
pub use pull::{pull, Pulled};
pub use push::{push, PushCompression, PushOptions, Pushed};
pub use report::{pull_reported, PullNotice, PullProgress, SilentPull};
pub use search::SearchResult;
pub use settings::RegistrySettings;
