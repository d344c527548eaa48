//! The spec's `linux.seccomp` compiled into BPF with `seccompiler`, in the parent, and
//! installed by the child with one syscall per program.
//!
//! A seccompiler filter has one action for the syscalls it matches and one for the rest,
//! while a profile gives each rule its own action. The kernel runs every filter a
//! process has and takes the most severe verdict (KILL_PROCESS, KILL_THREAD, TRAP,
//! ERRNO, TRACE, LOG, ALLOW, in that order), so a profile becomes a stack of filters:
//!
//! - the base filter matches every rule of every action and ALLOWs it; anything else
//!   gets the default action (skipped when the default is ALLOW);
//! - one filter per other action (each ERRNO value its own) takes that action on its
//!   rules' matches and ALLOWs the rest.
//!
//! A call that matches no rule gets the default action; one that matches rules of one
//! action gets that action; where rules of different actions overlap, the most severe
//! wins. Rules whose action is the default action are dropped (libseccomp refuses them
//! and runc skips them), and several conditions on one argument become separate rules
//! (alternatives), as runc adds them.

use super::syscalls;
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// Compiled filters, installed in order.
#[derive(Debug, Clone)]
pub struct Program {
    filters: Vec<BpfProgram>,
    flags: libc::c_ulong,
}

impl Program {
    /// Installs the filters on the calling thread (its children inherit them). Makes
    /// syscalls only, no allocation: fit for the child of a clone. Without
    /// no_new_privs set, the caller needs CAP_SYS_ADMIN.
    pub fn install(&self) -> std::io::Result<()> {
        for filter in &self.filters {
            let prog = libc::sock_fprog {
                len: filter.len() as libc::c_ushort,
                filter: filter.as_ptr().cast::<libc::sock_filter>().cast_mut(),
            };
            // SAFETY: `prog` points at a live, well-formed program of `len` instructions
            // (seccompiler's sock_filter has the kernel's layout); the kernel copies it.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                    self.flags,
                    &prog as *const libc::sock_fprog,
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// How many filters the program stacks.
    pub fn filters(&self) -> usize {
        self.filters.len()
    }
}

/// What a syscall number's rules in one filter are: any call, or calls whose arguments
/// meet one of the rules.
#[derive(Debug, Clone)]
enum Chain {
    Always,
    Rules(Vec<SeccompRule>),
}

type Rules = BTreeMap<i64, Chain>;

fn add(rules: &mut Rules, nr: i64, conditions: &Option<Vec<SeccompRule>>) {
    match (rules.get_mut(&nr), conditions) {
        (Some(Chain::Always), _) => {}
        (Some(Chain::Rules(existing)), Some(more)) => existing.extend(more.iter().cloned()),
        (_, None) => {
            rules.insert(nr, Chain::Always);
        }
        (None, Some(more)) => {
            rules.insert(nr, Chain::Rules(more.clone()));
        }
    }
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, String> {
    let errno = errno.unwrap_or(libc::EPERM as u32);
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => SeccompAction::KillThread,
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActErrno => SeccompAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno),
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err("seccomp action SCMP_ACT_NOTIFY (a seccomp agent) is not supported by strata's runtime".into())
        }
    })
}

/// The argument conditions of a rule: `None` for none (any call matches), else the
/// alternatives (one rule, or one per condition when an argument has several).
fn conditions(args: &[oci_spec::runtime::LinuxSeccompArg]) -> Result<Option<Vec<SeccompRule>>, String> {
    if args.is_empty() {
        return Ok(None);
    }
    let conds = args
        .iter()
        .map(|a| {
            let index = u8::try_from(a.index())
                .ok()
                .filter(|i| *i < 6)
                .ok_or_else(|| format!("seccomp argument index {} out of range (0-5)", a.index()))?;
            let (op, value) = match a.op() {
                LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, a.value()),
                LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, a.value()),
                LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, a.value()),
                LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, a.value()),
                LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, a.value()),
                LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, a.value()),
                LinuxSeccompOperator::ScmpCmpMaskedEq => {
                    (SeccompCmpOp::MaskedEq(a.value()), a.value_two().unwrap_or(0))
                }
            };
            // Whole 64-bit arguments, as libseccomp compares them.
            SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value).map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_index = [0usize; 6];
    for a in args {
        per_index[a.index()] += 1;
    }
    let rules = if per_index.iter().any(|n| *n > 1) {
        conds
            .into_iter()
            .map(|c| SeccompRule::new(vec![c]))
            .collect::<Result<Vec<_>, _>>()
    } else {
        SeccompRule::new(conds).map(|r| vec![r])
    };
    rules.map(Some).map_err(|e| e.to_string())
}

fn target_arch() -> Result<TargetArch, String> {
    TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|_| format!("seccomp filters are not supported on {}", std::env::consts::ARCH))
}

fn filter(
    rules: Rules,
    mismatch: SeccompAction,
    on_match: SeccompAction,
    arch: TargetArch,
) -> Result<BpfProgram, String> {
    let rules = rules
        .into_iter()
        .map(|(nr, chain)| {
            (
                nr,
                match chain {
                    Chain::Always => Vec::new(),
                    Chain::Rules(r) => r,
                },
            )
        })
        .collect();
    let filter = SeccompFilter::new(rules, mismatch, on_match, arch).map_err(|e| e.to_string())?;
    BpfProgram::try_from(filter).map_err(|e| format!("compiling the seccomp filter: {e}"))
}

/// Compiles the spec's seccomp section for this machine's architecture. Syscall names
/// unknown here are skipped; other architectures of `architectures` are not filtered
/// but refused: each filter kills a process making a call of a foreign architecture.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Program, String> {
    let arch = target_arch()?;
    let default = action(seccomp.default_action(), seccomp.default_errno_ret())?;
    // Each action's rules, keyed by the action's return value (ERRNO values apart).
    let mut by_action: BTreeMap<u32, (SeccompAction, Rules)> = BTreeMap::new();
    let mut all = Rules::new();
    for rule in seccomp.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let conds = conditions(rule.args().as_deref().unwrap_or_default())?;
        let entry = by_action
            .entry(u32::from(act.clone()))
            .or_insert_with(|| (act.clone(), Rules::new()));
        for name in rule.names() {
            let Some(nr) = syscalls::number(name) else {
                continue;
            };
            add(&mut entry.1, nr, &conds);
            add(&mut all, nr, &conds);
        }
    }
    // The filters, each with whether it may refuse seccomp(2) itself: that one has to
    // be installed last.
    let seccomp_nr: i64 = libc::SYS_seccomp;
    let mut filters: Vec<(BpfProgram, bool)> = Vec::new();
    for (_, (act, rules)) in by_action {
        if act == SeccompAction::Allow || rules.is_empty() {
            continue;
        }
        let restricts = rules.contains_key(&seccomp_nr);
        filters.push((filter(rules, SeccompAction::Allow, act, arch)?, restricts));
    }
    if default != SeccompAction::Allow {
        let restricts = !matches!(all.get(&seccomp_nr), Some(Chain::Always));
        filters.push((filter(all, default, SeccompAction::Allow, arch)?, restricts));
    }
    if filters.is_empty() {
        // Everything allowed: still a filter (the architecture check), as runc's would be.
        filters.push((
            filter(Rules::new(), SeccompAction::Allow, SeccompAction::KillProcess, arch)?,
            false,
        ));
    }
    if filters.iter().filter(|(_, r)| *r).count() > 1 {
        return Err(
            "the seccomp profile restricts seccomp(2) itself under more than one action: \
                    not supported by strata's runtime"
                .into(),
        );
    }
    filters.sort_by_key(|(_, restricts)| *restricts);
    let mut flags: libc::c_ulong = 0;
    for f in seccomp.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            // Only meaningful with a notification listener, which strata does not make.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => 0,
        };
    }
    Ok(Program {
        filters: filters.into_iter().map(|(f, _)| f).collect(),
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    /// Runs `f` in a forked child with `program` installed; returns what `f` returned
    /// (a small number) or 200 + the signal that killed the child.
    fn in_child(program: &Program, f: fn() -> i32) -> i32 {
        // SAFETY: the child only makes syscalls and exits.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: prctl on this (child) process.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let code = match program.install() {
                    Ok(()) => f(),
                    Err(_) => 99,
                };
                // SAFETY: ends the child without running the parent's destructors.
                unsafe { libc::_exit(code) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else {
                    200 + libc::WTERMSIG(status)
                }
            }
        }
    }

    fn errno_of(rc: libc::c_long) -> i32 {
        if rc >= 0 {
            0
        } else {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        }
    }

    #[test]
    fn actions_errnos_and_argument_conditions_take_effect() {
        let program = compile(&spec(
            r#"{
                "defaultAction": "SCMP_ACT_ERRNO",
                "defaultErrnoRet": 1,
                "syscalls": [
                    {"names": ["exit", "exit_group", "getpid", "seccomp", "rt_sigreturn", "munmap", "brk", "mmap", "write"],
                     "action": "SCMP_ACT_ALLOW"},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                    {"names": ["getuid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
                    {"names": ["getgid"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["dup"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 0, "value": 4294967040, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                    {"names": ["no_such_call_anywhere"], "action": "SCMP_ACT_ALLOW"}
                ]
            }"#,
        ))
        .unwrap();
        // Base filter, ENOSYS, ENOSPC (the rule with the default's EPERM is dropped).
        assert_eq!(program.filters(), 3);
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getpid) })),
            0
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getppid) })),
            libc::ENOSYS
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getuid) })),
            libc::ENOSPC
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getgid) })),
            libc::EPERM
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_geteuid) })),
            libc::EPERM
        );
        fn personality(p: libc::c_ulong) -> i32 {
            errno_of(unsafe { libc::syscall(libc::SYS_personality, p) })
        }
        assert_eq!(in_child(&program, || personality(0xffff_ffff)), 0);
        assert_eq!(in_child(&program, || personality(0x0040_0000)), libc::EPERM);
        // dup: allowed only for descriptors below 256 (a masked comparison).
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_dup, 300) })),
            libc::EPERM
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_dup, 255) })),
            libc::EBADF
        );
    }

    #[test]
    fn a_deny_list_and_overlaps_take_the_most_severe_action() {
        let program = compile(&spec(
            r#"{
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                    {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS",
                     "args": [{"index": 0, "value": 7, "op": "SCMP_CMP_EQ"}]},
                    {"names": ["getuid"], "action": "SCMP_ACT_ALLOW"}
                ]
            }"#,
        ))
        .unwrap();
        assert_eq!(program.filters(), 2);
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getuid) })),
            0
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getppid, 0) })),
            libc::EACCES
        );
        assert_eq!(
            in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getppid, 7) })),
            200 + libc::SIGSYS
        );
    }

    #[test]
    fn unsupported_and_malformed_profiles_are_refused() {
        let notify = spec(r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#);
        assert!(compile(&notify).unwrap_err().contains("SCMP_ACT_NOTIFY"));
        let index = spec(
            r#"{"defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                              "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(compile(&index).unwrap_err().contains("out of range"));
        let allow_all = compile(&spec(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#)).unwrap();
        assert_eq!(allow_all.filters(), 1);
        assert_eq!(
            in_child(&allow_all, || errno_of(unsafe { libc::syscall(libc::SYS_getppid) })),
            0
        );
    }

    #[test]
    fn the_default_profile_compiles_within_the_kernels_limits() {
        let profile = super::super::profile::parse(super::super::DEFAULT_PROFILE).unwrap();
        for caps in [vec![], vec!["CAP_SYS_ADMIN".to_string()]] {
            let target = super::super::profile::Target::host(&caps);
            let seccomp = super::super::profile::evaluate(&profile, &target).unwrap().unwrap();
            let program = compile(&seccomp).unwrap();
            assert!(program.filters.iter().all(|f| f.len() < 4096));
            // Without CAP_SYS_ADMIN: clone3 gets ENOSYS from a filter of its own.
            assert_eq!(program.filters(), if caps.is_empty() { 2 } else { 1 });
            let unshare = in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_unshare, 0) }));
            let clone3 = in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0, 0) }));
            if caps.is_empty() {
                assert_eq!((unshare, clone3), (libc::EPERM, libc::ENOSYS));
            } else {
                assert_eq!((unshare, clone3), (0, libc::EINVAL));
            }
            assert_eq!(
                in_child(&program, || errno_of(unsafe { libc::syscall(libc::SYS_getppid) })),
                0
            );
        }
    }
}
