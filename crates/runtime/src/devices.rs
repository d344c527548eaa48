//! Device access rules, and their cgroup v2 form: there is no `devices.allow` file in
//! the unified hierarchy, so the rules become an eBPF program of type
//! `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the container's group (as runc does). The
//! kernel runs it on every open and mknod of a device; it returns 1 to allow.

use crate::error::{Result, RuntimeError};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// Docker's default device rules: only these character devices may be used.
pub const ALLOWED: &[&str] = &[
    "c 1:3 rwm",    // null
    "c 1:5 rwm",    // zero
    "c 1:7 rwm",    // full
    "c 1:8 rwm",    // random
    "c 1:9 rwm",    // urandom
    "c 5:0 rwm",    // tty
    "c 5:1 rwm",    // console
    "c 5:2 rwm",    // ptmx
    "c 136:* rwm",  // pts
    "c 10:200 rwm", // tun
    "c *:* m",
    "b *:* m",
];

/// One `TYPE MAJOR:MINOR ACCESS` rule; `None` is `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// 1 block, 2 character (the kernel's BPF_DEVCG_DEV_*), `None` for `a`.
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// Bits: 1 mknod, 2 read, 4 write (BPF_DEVCG_ACC_*).
    pub access: u32,
}

impl Rule {
    pub fn parse(text: &str) -> Result<Rule> {
        let bad = || RuntimeError::Unsupported(format!("device rule {text:?}"));
        let words: Vec<&str> = text.split_whitespace().collect();
        let [kind, numbers, access] = words.as_slice() else {
            return Err(bad());
        };
        let kind = match *kind {
            "a" => None,
            "b" => Some(1),
            "c" => Some(2),
            _ => return Err(bad()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
        let number = |n: &str| -> Result<Option<u32>> {
            if n == "*" {
                Ok(None)
            } else {
                n.parse().map(Some).map_err(|_| bad())
            }
        };
        let mut bits = 0;
        for c in access.chars() {
            bits |= match c {
                'm' => 1,
                'r' => 2,
                'w' => 4,
                _ => return Err(bad()),
            };
        }
        Ok(Rule {
            kind,
            major: number(major)?,
            minor: number(minor)?,
            access: bits,
        })
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const MOV64_X: u8 = 0xbf;
const MOV64_K: u8 = 0xb7;
const AND64_K: u8 = 0x57;
const RSH64_K: u8 = 0x77;
const JNE_K: u8 = 0x55; // if dst != imm: pc += off
const EXIT: u8 = 0x95;

/// The program for an allow-list: deny unless one rule allows. Registers: r2 type,
/// r3 access, r4 major, r5 minor (from `struct bpf_cgroup_dev_ctx`), r6 scratch.
fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(MOV64_X, 3, 2, 0, 0),
        insn(AND64_K, 2, 0, 0, 0xffff),
        insn(RSH64_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules {
        // Each check jumps past the rest of this rule's block when it does not match.
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        if let Some(kind) = rule.kind {
            checks.push(vec![insn(JNE_K, 2, 0, 0, kind as i32)]);
        }
        if rule.access != 7 {
            // Every access asked for must be in the rule: (access & !allowed) == 0.
            checks.push(vec![
                insn(MOV64_X, 6, 3, 0, 0),
                insn(AND64_K, 6, 0, 0, (!rule.access & 7) as i32),
                insn(JNE_K, 6, 0, 0, 0),
            ]);
        }
        if let Some(major) = rule.major {
            checks.push(vec![insn(JNE_K, 4, 0, 0, major as i32)]);
        }
        if let Some(minor) = rule.minor {
            checks.push(vec![insn(JNE_K, 5, 0, 0, minor as i32)]);
        }
        let mut block: Vec<Insn> = checks.into_iter().flatten().collect();
        block.push(insn(MOV64_K, 0, 0, 0, 1));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, ins) in block.iter_mut().enumerate() {
            if ins.code == JNE_K {
                ins.off = (len - i - 1) as i16;
            }
        }
        p.extend(block);
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: `attr` is a properly laid out bpf_attr prefix of the given size, and
    // the pointers in it outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup v2 directory `group`.
pub fn attach(group: &Path, rules: &[Rule]) -> Result<()> {
    let insns = program(rules);
    let license = b"Apache-2.0\0";
    let load = |log: &mut [u8]| {
        let mut attr = ProgLoad {
            prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
            insn_cnt: insns.len() as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            // No buffer at all without a log level: the kernel refuses a dangling one.
            log_buf: if log.is_empty() { 0 } else { log.as_mut_ptr() as u64 },
            ..Default::default()
        };
        bpf(BPF_PROG_LOAD, &mut attr)
    };
    let prog = load(&mut []).map_err(|e| {
        // Again with the verifier's log, for the message.
        let mut log = vec![0u8; 1 << 20];
        let _ = load(&mut log);
        let text = String::from_utf8_lossy(&log).trim_end_matches('\0').trim().to_string();
        let tail: String = text
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        RuntimeError::io(format!("loading the device filter (verifier: {tail})"), e)
    })?;
    // SAFETY: a new descriptor from the kernel, owned here.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let dir = std::fs::File::open(group).map_err(|e| RuntimeError::io(format!("opening {}", group.display()), e))?;
    let mut attach = ProgAttach {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attach)
        .map_err(|e| RuntimeError::io(format!("attaching the device filter to {}", group.display()), e))?;
    Ok(())
}

/// Docker's default rules, parsed.
pub fn default_rules() -> Vec<Rule> {
    ALLOWED
        .iter()
        .map(|r| Rule::parse(r).expect("the built-in rules parse"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn rules_parse_like_the_v1_files() {
        assert_eq!(
            Rule::parse("c 136:* rwm").unwrap(),
            Rule {
                kind: Some(2),
                major: Some(136),
                minor: None,
                access: 7
            }
        );
        assert_eq!(Rule::parse("b *:* m").unwrap().access, 1);
        assert!(Rule::parse("x 1:1 r").is_err());
        assert!(Rule::parse("c 1:1 z").is_err());
    }

    /// The unified hierarchy, wherever it is mounted (hybrid machines have it beside v1).
    fn cgroup2_mount() -> Option<std::path::PathBuf> {
        std::fs::read_to_string("/proc/self/mountinfo")
            .ok()?
            .lines()
            .find(|l| l.contains(" - cgroup2 "))
            .and_then(|l| l.split(' ').nth(4))
            .map(std::path::PathBuf::from)
    }

    /// The real kernel enforces the program: a process in the group may open the
    /// allowed devices and make nodes, and may not open any other device.
    #[test]
    fn the_ebpf_filter_is_enforced_by_the_kernel() {
        let Some(mount) = cgroup2_mount() else {
            panic!("no cgroup2 hierarchy is mounted; this kernel-level test needs one");
        };
        let group = mount.join(format!("strata-devices-test-{}", std::process::id()));
        std::fs::create_dir_all(&group).unwrap();
        attach(&group, &default_rules()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kmsg = dir.path().join("kmsg");
        let null = dir.path().join("null");
        // SAFETY: fork in a test; the child only makes syscalls and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            let code = (|| {
                std::fs::write(group.join("cgroup.procs"), std::process::id().to_string()).map_err(|_| 10)?;
                nix::sys::stat::mknod(
                    &null,
                    nix::sys::stat::SFlag::S_IFCHR,
                    nix::sys::stat::Mode::from_bits_truncate(0o600),
                    nix::sys::stat::makedev(1, 3),
                )
                .map_err(|_| 11)?;
                // mknod of any character device is allowed ("c *:* m") ...
                nix::sys::stat::mknod(
                    &kmsg,
                    nix::sys::stat::SFlag::S_IFCHR,
                    nix::sys::stat::Mode::from_bits_truncate(0o600),
                    nix::sys::stat::makedev(1, 11),
                )
                .map_err(|_| 12)?;
                std::fs::File::open(&null).map_err(|_| 13)?;
                // ... opening one that no rule allows is not.
                match std::fs::File::open(&kmsg) {
                    Err(e) if e.kind() == ErrorKind::PermissionDenied => Ok(()),
                    _ => Err(14),
                }
            })();
            // SAFETY: ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(code.err().unwrap_or(0)) };
        }
        let status = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None).unwrap();
        let _ = std::fs::remove_dir(&group);
        assert_eq!(
            status,
            nix::sys::wait::WaitStatus::Exited(nix::unistd::Pid::from_raw(child), 0),
            "10 join, 11/12 mknod, 13 open null, 14 kmsg not refused"
        );
        // Outside the group the same node opens (the filter made the difference).
        assert!(std::fs::File::open(&kmsg).is_ok());
    }
}
