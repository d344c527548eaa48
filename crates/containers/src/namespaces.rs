//! The namespace modes of a container, as Docker names them: `--pid`, `--ipc`, `--uts`,
//! `--userns` and `--cgroupns`, checked at create. A mode that joins another container
//! (`container:NAME`) is stored with that container's ID, resolved at create.

use crate::error::{ContainerError, Result};
use serde::{Deserialize, Serialize};

/// The namespaces a container shares with the host or another container; the default
/// of each is a namespace of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceModes {
    /// `--uts host`: the host's hostname and domain name (no `--hostname` then).
    #[serde(default)]
    pub uts_host: bool,
    /// `--cgroupns private`: a cgroup namespace rooted at the container's group. The
    /// host's (Docker's default on cgroup v1) otherwise.
    #[serde(default)]
    pub cgroupns_private: bool,
}

/// `--pid`: `host`, or `container:NAME` (that container's PID namespace).
pub fn check_pid_mode(mode: Option<&str>) -> Result<Option<String>> {
    match mode.filter(|m| !m.is_empty()) {
        None => Ok(None),
        Some("host") => Ok(Some("host".into())),
        Some(m) if joined(m).is_some() => Ok(Some(m.to_string())),
        Some(m) => Err(ContainerError::Invalid(format!(
            "invalid --pid {m:?}: use host or container:NAME"
        ))),
    }
}

/// `--ipc`: `private` (the default) is the container's own namespace and /dev/shm;
/// `shareable` the same, its /dev/shm made where other containers can join it;
/// `host` the host's (and its /dev/shm); `container:NAME` a shareable container's.
pub fn check_ipc_mode(mode: Option<&str>) -> Result<Option<String>> {
    match mode.filter(|m| !m.is_empty()) {
        None | Some("private") => Ok(None),
        Some(m @ ("host" | "shareable")) => Ok(Some(m.to_string())),
        Some("none") => Err(ContainerError::Invalid(
            "--ipc none is not supported by strata: a container always has /dev/shm (use private)".into(),
        )),
        Some(m) if joined(m).is_some() => Ok(Some(m.to_string())),
        Some(m) => Err(ContainerError::Invalid(format!(
            "invalid --ipc {m:?}: use private, shareable, host or container:NAME"
        ))),
    }
}

/// The container a `container:NAME` mode names.
pub fn joined(mode: &str) -> Option<&str> {
    mode.strip_prefix("container:").filter(|n| !n.is_empty())
}

/// `--uts host` (the only mode beside the default), with the flags it excludes.
pub fn check_uts_mode(mode: Option<&str>, hostname: Option<&str>, domainname: Option<&str>) -> Result<bool> {
    match mode.filter(|m| !m.is_empty()) {
        None => Ok(false),
        Some("host") if hostname.is_some_and(|h| !h.is_empty()) => Err(ContainerError::Invalid(
            "conflicting options: --hostname and --uts host (the host's name is the container's)".into(),
        )),
        Some("host") if domainname.is_some_and(|d| !d.is_empty()) => Err(ContainerError::Invalid(
            "conflicting options: --domainname and --uts host (the host's domain name is the container's)".into(),
        )),
        Some("host") => Ok(true),
        Some(m) => Err(ContainerError::Invalid(format!("invalid --uts {m:?}: use host"))),
    }
}

/// `--userns host`: strata runs no container in a user namespace of its own (no
/// `userns-remap`), so `host` is what every container gets; anything else is refused.
pub fn check_userns_mode(mode: Option<&str>) -> Result<()> {
    match mode.filter(|m| !m.is_empty()) {
        None | Some("host") => Ok(()),
        Some(m) => Err(ContainerError::Invalid(format!(
            "--userns {m} is not supported by strata: containers share the host's user namespace \
             (strata has no user-namespace remapping yet); use --userns host or leave it unset"
        ))),
    }
}

/// `--cgroupns host|private`.
pub fn check_cgroupns_mode(mode: Option<&str>) -> Result<bool> {
    match mode.filter(|m| !m.is_empty()) {
        None | Some("host") => Ok(false),
        Some("private") => Ok(true),
        Some(m) => Err(ContainerError::Invalid(format!(
            "invalid --cgroupns {m:?}: use host or private"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_checked_as_docker_checks_them() {
        assert_eq!(
            check_pid_mode(Some("container:web")).unwrap().as_deref(),
            Some("container:web")
        );
        assert!(check_pid_mode(Some("container:")).is_err());
        assert_eq!(check_ipc_mode(Some("private")).unwrap(), None);
        assert_eq!(check_ipc_mode(Some("shareable")).unwrap().as_deref(), Some("shareable"));
        assert!(check_uts_mode(Some("host"), Some("h"), None).is_err());
        assert!(check_uts_mode(Some("host"), None, None).unwrap());
        assert!(check_userns_mode(Some("host")).is_ok());
        assert!(check_userns_mode(Some("remap"))
            .unwrap_err()
            .to_string()
            .contains("not supported"));
        assert!(check_cgroupns_mode(Some("private")).unwrap());
        assert!(check_cgroupns_mode(Some("other")).is_err());
    }
}
