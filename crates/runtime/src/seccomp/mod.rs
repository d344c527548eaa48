//! Seccomp for every container and `exec`, as Docker has it.
//!
//! 1. A profile in Docker's JSON format: strata's default (`default.json`, Docker's
//!    default profile: moby's `profiles/seccomp/default.json`), or the user's
//!    (`--security-opt seccomp=FILE`, read at create and kept in the container's config).
//! 2. Evaluated when the container starts, against its bounding capabilities, this
//!    machine's architecture and kernel ([`profile`]), into the OCI `linux.seccomp` of
//!    the bundle's `config.json`: runc (`--runtime runc`) reads that and compiles it
//!    with libseccomp.
//! 3. strata's runtime compiles the same section into BPF with `seccompiler` in the
//!    parent, before clone or fork ([`compile`]); the child only installs the programs.
//!
//! `--privileged` and `seccomp=unconfined` leave `linux.seccomp` out.

mod bpf;
pub mod profile;
mod syscalls;

pub use bpf::{compile, Program};

use oci_spec::runtime::{Capability, LinuxSeccomp, Spec};
use std::collections::HashSet;
use strata_containers::ContainerConfig;

/// strata's default profile, in Docker's format.
pub const DEFAULT_PROFILE: &str = include_str!("default.json");

/// `ContainerConfig::seccomp` of `--security-opt seccomp=unconfined`.
pub const UNCONFINED: &str = "unconfined";

/// The `linux.seccomp` of a container whose bounding set is `bounding`: none when
/// privileged or unconfined, else its profile (the default one unless it has its own)
/// evaluated for it.
pub fn for_container(config: &ContainerConfig, bounding: &HashSet<Capability>) -> Result<Option<LinuxSeccomp>, String> {
    if config.privileged || config.seccomp.as_deref() == Some(UNCONFINED) {
        return Ok(None);
    }
    let profile = profile::parse(config.seccomp.as_deref().unwrap_or(DEFAULT_PROFILE))?;
    let mut caps: Vec<String> = bounding
        .iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    caps.sort();
    profile::evaluate(&profile, &profile::Target::host(&caps))
}

/// The compiled filter of a spec's `linux.seccomp`, if it has one: for the parent to
/// make before it clones or forks the process that installs it.
pub fn for_spec(spec: &Spec) -> crate::Result<Option<Program>> {
    let Some(seccomp) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) else {
        return Ok(None);
    };
    compile(seccomp)
        .map(Some)
        .map_err(|message| crate::RuntimeError::Start { code: 125, message })
}
