//! The programs of the host that strata runs: `nft` for bridge networks, `runc` for
//! `--runtime runc`, `ps` for `top`. A command that needs one looks it up before it
//! changes anything, so a missing program is reported by name, with the Debian package
//! that provides it, instead of failing half-way.
//!
//! Programs are looked up in the system's directories (sudo's `secure_path`), never in
//! the caller's `PATH`: strata runs as root, and a long-lived service has no meaningful
//! `PATH` of its own.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where host programs are looked up, in order.
pub const SEARCH_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// A program strata runs, and what provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostProgram {
    pub name: &'static str,
    /// The Debian package that installs it.
    pub package: &'static str,
    /// What needs it, as the user would name it.
    pub needed_for: &'static str,
}

pub const NFT: HostProgram = HostProgram {
    name: "nft",
    package: "nftables",
    needed_for: "bridge networks (the packet filter rules of a bridge)",
};

pub const RUNC: HostProgram = HostProgram {
    name: "runc",
    package: "runc",
    needed_for: "--runtime runc",
};

pub const PS: HostProgram = HostProgram {
    name: "ps",
    package: "procps",
    needed_for: "top",
};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error(
    "{name} is needed for {needed_for} but is not installed (looked in {dirs}); \
     install it with: apt-get install {package}",
    name = program.name,
    needed_for = program.needed_for,
    package = program.package,
    dirs = SEARCH_DIRS.join(":")
)]
pub struct Missing {
    pub program: HostProgram,
}

impl HostProgram {
    /// The program's absolute path: the first executable regular file of that name in
    /// [`SEARCH_DIRS`].
    pub fn find(&self) -> Result<PathBuf, Missing> {
        SEARCH_DIRS
            .iter()
            .map(|dir| Path::new(dir).join(self.name))
            .find(|path| is_executable_file(path))
            .ok_or(Missing { program: *self })
    }
}

fn is_executable_file(path: &Path) -> bool {
    // Following links: /sbin is often a link to /usr/sbin, and programs to alternatives.
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_program_is_found_by_absolute_path() {
        let sh = HostProgram {
            name: "sh",
            package: "dash",
            needed_for: "this test",
        };
        let path = sh.find().unwrap();
        assert!(path.is_absolute() && path.ends_with("sh"), "{}", path.display());
    }

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        let nope = HostProgram {
            name: "strata-no-such-program",
            package: "strata-nope",
            needed_for: "nothing",
        };
        let err = nope.find().unwrap_err().to_string();
        assert!(err.starts_with("strata-no-such-program is needed for nothing"), "{err}");
        assert!(err.ends_with("apt-get install strata-nope"), "{err}");
    }
}
