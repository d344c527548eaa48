//! Seccomp profiles in Docker's JSON format, and their evaluation for one container into
//! the OCI spec's `linux.seccomp`, as moby's `profiles/seccomp` does before runc gets
//! the spec: `includes` and `excludes` (capabilities of the bounding set, architectures,
//! minimum kernel) pick the rules that apply, `archMap` gives the architectures.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;

/// A profile as Docker reads it (`--security-opt seccomp=FILE`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub default_action: Option<LinuxSeccompAction>,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    /// The older form of `archMap`: architectures as they are.
    #[serde(default)]
    pub architectures: Option<Vec<Arch>>,
    #[serde(default)]
    pub arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    pub flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    pub listener_path: Option<String>,
    #[serde(default)]
    pub listener_metadata: Option<String>,
    #[serde(default)]
    pub syscalls: Option<Vec<Syscall>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    pub architecture: Arch,
    #[serde(default)]
    pub sub_architectures: Option<Vec<Arch>>,
}

/// One rule: syscalls, their action, argument conditions, and when the rule applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Syscall {
    /// The older, single-name form.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    pub action: LinuxSeccompAction,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default)]
    pub args: Option<Vec<Arg>>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

/// An argument condition: argument `index` compared by `op` with `value` (for
/// `SCMP_CMP_MASKED_EQ`, `value` is the mask and `valueTwo` what the masked bits equal).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: usize,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: LinuxSeccompOperator,
}

/// `includes`: the rule applies only if all of these hold; `excludes`: not if any does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Capabilities (`CAP_SYS_ADMIN`) of the container's bounding set.
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    /// Go's names (`amd64`, `arm64`, `x32`, …).
    #[serde(default)]
    pub arches: Option<Vec<String>>,
    /// `MAJOR.MINOR`.
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// What a profile is evaluated against.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The bounding capabilities, as `CAP_*` names.
    pub capabilities: &'a [String],
    /// The architecture by Go's name (`amd64`), as profiles name it in `arches`.
    pub arch: &'a str,
    /// The architecture as `archMap` names it.
    pub native: Arch,
    /// The running kernel's (major, minor).
    pub kernel: (u32, u32),
}

impl Target<'_> {
    /// This machine: its architecture and kernel, with `capabilities`.
    pub fn host(capabilities: &[String]) -> Target<'_> {
        let (arch, native) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", Arch::ScmpArchX86_64),
            "aarch64" => ("arm64", Arch::ScmpArchAarch64),
            "riscv64" => ("riscv64", Arch::ScmpArchRiscv64),
            "s390x" => ("s390x", Arch::ScmpArchS390x),
            "powerpc64" => ("ppc64le", Arch::ScmpArchPpc64le),
            "x86" => ("386", Arch::ScmpArchX86),
            "arm" => ("arm", Arch::ScmpArchArm),
            _ => ("unknown", Arch::ScmpArchNative),
        };
        let release = rustix::system::uname().release().to_string_lossy().into_owned();
        Target {
            capabilities,
            arch,
            native,
            kernel: parse_kernel(&release).unwrap_or((0, 0)),
        }
    }
}

/// `MAJOR.MINOR[.…]` of a kernel release or a `minKernel`.
fn parse_kernel(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor: String = parts.next()?.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some((major, minor.parse().ok()?))
}

/// Parses a profile (the error is Docker's "decoding seccomp profile failed" message).
pub fn parse(json: &str) -> Result<Profile, String> {
    serde_json::from_str(json).map_err(|e| format!("decoding seccomp profile failed: {e}"))
}

fn holds(filter: &Filter, target: &Target<'_>, all: bool) -> Result<bool, String> {
    let mut tests = Vec::new();
    if let Some(caps) = filter.caps.as_ref().filter(|c| !c.is_empty()) {
        let held = |c: &String| target.capabilities.iter().any(|h| h == c);
        tests.push(if all {
            caps.iter().all(held)
        } else {
            caps.iter().any(held)
        });
    }
    if let Some(arches) = filter.arches.as_ref().filter(|a| !a.is_empty()) {
        tests.push(arches.iter().any(|a| a == target.arch));
    }
    if let Some(min) = &filter.min_kernel {
        let min = parse_kernel(min).ok_or_else(|| format!("invalid minKernel {min:?}: use MAJOR.MINOR"))?;
        tests.push(target.kernel >= min);
    }
    Ok(if all {
        tests.iter().all(|t| *t)
    } else {
        tests.iter().any(|t| *t)
    })
}

/// The spec's `linux.seccomp` for `profile` on `target`; `None` when the profile has
/// neither a default action nor rules (Docker's "seccomp disabled").
pub fn evaluate(profile: &Profile, target: &Target<'_>) -> Result<Option<LinuxSeccomp>, String> {
    let rules = profile.syscalls.clone().unwrap_or_default();
    let Some(default_action) = profile.default_action else {
        if rules.is_empty() {
            return Ok(None);
        }
        return Err("the seccomp profile has rules but no defaultAction".into());
    };
    let architectures = match (&profile.architectures, &profile.arch_map) {
        (Some(a), Some(m)) if !a.is_empty() && !m.is_empty() => {
            return Err(
                "both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"
                    .into(),
            )
        }
        (Some(a), _) if !a.is_empty() => a.clone(),
        (_, Some(map)) => map
            .iter()
            .filter(|m| m.architecture == target.native)
            .flat_map(|m| std::iter::once(m.architecture).chain(m.sub_architectures.clone().unwrap_or_default()))
            .collect(),
        _ => Vec::new(),
    };
    let mut syscalls: Vec<LinuxSyscall> = Vec::new();
    for rule in rules {
        let mut names = rule.names.clone().unwrap_or_default();
        if let Some(name) = &rule.name {
            if !names.is_empty() {
                return Err(
                    "'name' and 'names' were specified in the seccomp profile, use either 'name' or 'names'".into(),
                );
            }
            names.push(name.clone());
        }
        let excluded = match &rule.excludes {
            Some(f) => holds(f, target, false)?,
            None => false,
        };
        let included = match &rule.includes {
            Some(f) => holds(f, target, true)?,
            None => true,
        };
        if excluded || !included {
            continue;
        }
        let mut b = LinuxSyscallBuilder::default().names(names).action(rule.action);
        if let Some(errno) = rule.errno_ret {
            b = b.errno_ret(errno);
        }
        if let Some(args) = &rule.args {
            let args = args
                .iter()
                .map(|a| {
                    let mut arg = LinuxSeccompArgBuilder::default().index(a.index).value(a.value).op(a.op);
                    if a.value_two != 0 {
                        arg = arg.value_two(a.value_two);
                    }
                    arg.build().map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !args.is_empty() {
                b = b.args(args);
            }
        }
        syscalls.push(b.build().map_err(|e| e.to_string())?);
    }
    let mut b = LinuxSeccompBuilder::default()
        .default_action(default_action)
        .syscalls(syscalls);
    if let Some(errno) = profile.default_errno_ret {
        b = b.default_errno_ret(errno);
    }
    if !architectures.is_empty() {
        b = b.architectures(architectures);
    }
    if let Some(flags) = profile.flags.clone().filter(|f| !f.is_empty()) {
        b = b.flags(flags);
    }
    if let Some(path) = &profile.listener_path {
        b = b.listener_path(path);
    }
    if let Some(meta) = &profile.listener_metadata {
        b = b.listener_metadata(meta.clone());
    }
    b.build().map(Some).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[String]) -> Target<'_> {
        Target {
            capabilities: caps,
            arch: "amd64",
            native: Arch::ScmpArchX86_64,
            kernel: (6, 1),
        }
    }

    fn names_for(seccomp: &LinuxSeccomp, action: LinuxSeccompAction) -> Vec<String> {
        seccomp
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == action)
            .flat_map(|s| s.names().clone())
            .collect()
    }

    #[test]
    fn the_default_profile_follows_capabilities_arch_and_kernel() {
        let profile = parse(super::super::DEFAULT_PROFILE).unwrap();
        let default_caps: Vec<String> = ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_CHROOT"].map(String::from).to_vec();
        let s = evaluate(&profile, &target(&default_caps)).unwrap().unwrap();
        assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(s.default_errno_ret(), Some(1));
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32]
        );
        let allowed = names_for(&s, LinuxSeccompAction::ScmpActAllow);
        for name in ["read", "arch_prctl", "ptrace", "chroot", "personality", "clone"] {
            assert!(allowed.iter().any(|n| n == name), "{name} allowed");
        }
        for name in [
            "unshare",
            "mount",
            "keyctl",
            "add_key",
            "bpf",
            "kexec_load",
            "reboot",
            "s390_runtime_instr",
        ] {
            assert!(!allowed.iter().any(|n| n == name), "{name} not allowed");
        }
        // clone only without namespace flags (an argument condition); clone3 gets ENOSYS.
        let clone = s
            .syscalls()
            .iter()
            .flatten()
            .find(|r| r.names().iter().any(|n| n == "clone"))
            .unwrap();
        let arg = clone.args().clone().unwrap()[0];
        assert_eq!(
            (arg.index(), arg.value(), arg.op()),
            (0, 0x7E02_0000, LinuxSeccompOperator::ScmpCmpMaskedEq)
        );
        let clone3 = s
            .syscalls()
            .iter()
            .flatten()
            .find(|r| r.names() == &["clone3"])
            .unwrap();
        assert_eq!(
            (clone3.action(), clone3.errno_ret()),
            (LinuxSeccompAction::ScmpActErrno, Some(38))
        );

        // CAP_SYS_ADMIN: the namespace and mount calls, clone unconditional, clone3 allowed.
        let admin: Vec<String> = ["CAP_SYS_ADMIN"].map(String::from).to_vec();
        let s = evaluate(&profile, &target(&admin)).unwrap().unwrap();
        let allowed = names_for(&s, LinuxSeccompAction::ScmpActAllow);
        for name in ["unshare", "mount", "setns", "clone", "clone3", "bpf"] {
            assert!(allowed.iter().any(|n| n == name), "{name} allowed with CAP_SYS_ADMIN");
        }
        assert!(names_for(&s, LinuxSeccompAction::ScmpActErrno).is_empty());
        assert!(!allowed.iter().any(|n| n == "chroot"), "chroot needs CAP_SYS_CHROOT");

        // minKernel: ptrace needs 4.8 (or CAP_SYS_PTRACE).
        let old = Target {
            kernel: (4, 4),
            ..target(&default_caps)
        };
        let s = evaluate(&profile, &old).unwrap().unwrap();
        assert!(!names_for(&s, LinuxSeccompAction::ScmpActAllow)
            .iter()
            .any(|n| n == "ptrace"));
        // Another architecture gets its own names and sub-architectures.
        let arm = Target {
            arch: "arm64",
            native: Arch::ScmpArchAarch64,
            ..target(&default_caps)
        };
        let s = evaluate(&profile, &arm).unwrap().unwrap();
        assert_eq!(
            s.architectures().clone().unwrap(),
            [Arch::ScmpArchAarch64, Arch::ScmpArchArm]
        );
        let allowed = names_for(&s, LinuxSeccompAction::ScmpActAllow);
        assert!(allowed.iter().any(|n| n == "set_tls"));
        assert!(!allowed.iter().any(|n| n == "arch_prctl"));
    }

    #[test]
    fn older_forms_and_errors_are_dockers() {
        let p = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "syscalls":[{"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":28,"args":null}]}"#,
        )
        .unwrap();
        let s = evaluate(&p, &target(&[])).unwrap().unwrap();
        assert_eq!(s.architectures().clone().unwrap(), [Arch::ScmpArchX86_64]);
        assert_eq!(names_for(&s, LinuxSeccompAction::ScmpActErrno), ["mkdir"]);
        assert!(evaluate(&parse("{}").unwrap(), &target(&[])).unwrap().is_none());
        let both = parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        assert!(evaluate(&both, &target(&[]))
            .unwrap_err()
            .contains("either 'name' or 'names'"));
        assert!(parse(r#"{"defaultAction":"SCMP_ACT_BOGUS"}"#)
            .unwrap_err()
            .starts_with("decoding seccomp profile failed"));
        assert!(parse("not json").is_err());
        assert_eq!(parse_kernel("6.18.44-fc-v1300"), Some((6, 18)));
        assert_eq!(parse_kernel("5.4"), Some((5, 4)));
        assert_eq!(parse_kernel("junk"), None);
    }
}
