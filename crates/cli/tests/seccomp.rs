//! Seccomp: Docker's default profile on every container and exec, under strata's
//! runtime and runc alike; `--security-opt seccomp=unconfined|FILE`, `--privileged`,
//! the capability-dependent rules, argument conditions and ERRNO values.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

const RUNTIMES: [&str; 2] = ["strata", "runc"];

/// Each probe makes one raw syscall with arguments chosen so that, once past seccomp,
/// the kernel answers something other than EPERM and changes nothing; it prints
/// `NAME=ERRNO` (0 for success).
const PROBE_C: &str = r#"
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long probe(const char *name, const char *arg) {
    if (!strcmp(name, "keyctl")) return syscall(SYS_keyctl, 0x7fff, 0, 0, 0, 0);       /* EOPNOTSUPP */
    if (!strcmp(name, "add_key")) return syscall(SYS_add_key, NULL, NULL, NULL, 0, 0);  /* EFAULT */
    if (!strcmp(name, "bpf")) return syscall(SYS_bpf, 0x7fff, NULL, 0);                 /* EINVAL */
    if (!strcmp(name, "mount")) return syscall(SYS_mount, NULL, NULL, NULL, 0, NULL);   /* EFAULT */
    /* EINVAL (no such architecture) with CAP_SYS_BOOT, ENOSYS without kexec. */
    if (!strcmp(name, "kexec_load")) return syscall(SYS_kexec_load, 0, 0, NULL, 0xffff0000UL);
    if (!strcmp(name, "unshare")) return syscall(SYS_unshare, CLONE_NEWUSER);
    if (!strcmp(name, "clone3")) return syscall(SYS_clone3, NULL, 0);                  /* EINVAL */
    if (!strcmp(name, "personality")) return syscall(SYS_personality, strtoul(arg, NULL, 0));
    if (!strcmp(name, "fork") || !strcmp(name, "clone-newuser")) {
        unsigned long flags = SIGCHLD | (strcmp(name, "fork") ? CLONE_NEWUSER : 0);
        long pid = syscall(SYS_clone, flags, 0, 0, 0, 0);
        if (pid == 0) _exit(0);
        if (pid > 0) { waitpid(pid, NULL, 0); return 0; }
        return -1;
    }
    fprintf(stderr, "unknown probe %s\n", name);
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *name = argv[i], *arg = strchr(name, '=');
        if (arg) *arg++ = 0;
        errno = 0;
        long r = probe(name, arg);
        printf("%s=%d\n", name, r < 0 ? errno : 0);
        fflush(stdout);
    }
    return 0;
}
"#;

const EPERM: i32 = 1;
const EFAULT: i32 = 14;
const EINVAL: i32 = 22;
const ENOSYS: i32 = 38;
const EOPNOTSUPP: i32 = 95;

/// A store with busybox, and the probe compiled (static) into `probe/` beside it.
fn setup() -> (TestRoot, PathBuf) {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    let dir = t.path("probe");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("probe.c"), PROBE_C).unwrap();
    let out = std::process::Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(dir.join("probe"))
        .arg(dir.join("probe.c"))
        .output()
        .expect("gcc (scripts/test.sh installs gcc and libc6-dev)");
    assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
    (t, dir)
}

fn run(t: &TestRoot, runtime: &str, args: &[&str]) -> Output {
    let mut all = vec!["run", "--rm", "--network", "none", "--runtime", runtime];
    all.extend_from_slice(args);
    t.run(&all)
}

fn stdout_of(t: &TestRoot, runtime: &str, args: &[&str]) -> String {
    let out = run(t, runtime, args);
    assert!(
        out.status.success(),
        "run --runtime {runtime} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `Seccomp:` mode of the container's process (0 none, 2 filter).
fn mode(t: &TestRoot, runtime: &str, flags: &[&str]) -> String {
    let mut args = flags.to_vec();
    args.extend(["busybox:test", "grep", "^Seccomp:", "/proc/self/status"]);
    stdout_of(t, runtime, &args).trim().to_string()
}

/// The probes' answers, run with `flags` (the probe directory mounted at /p).
fn probes(t: &TestRoot, dir: &Path, runtime: &str, flags: &[&str], names: &[&str]) -> BTreeMap<String, i32> {
    let volume = format!("{}:/p:ro", dir.display());
    let mut args = flags.to_vec();
    args.extend(["-v", &volume, "busybox:test", "/p/probe"]);
    args.extend_from_slice(names);
    stdout_of(t, runtime, &args)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

fn default_profile() -> Value {
    serde_json::from_str(include_str!("../../runtime/src/seccomp/default.json")).unwrap()
}

/// The default profile with `names` taken out of its allow list and given `rule`'s action.
fn profile_with(t: &TestRoot, file: &str, names: &[&str], rule: Value) -> String {
    let mut p = default_profile();
    let calls = p["syscalls"].as_array_mut().unwrap();
    for call in calls.iter_mut() {
        if call["action"] == "SCMP_ACT_ALLOW" {
            call["names"]
                .as_array_mut()
                .unwrap()
                .retain(|n| !names.contains(&n.as_str().unwrap()));
        }
    }
    calls.retain(|c| !c["names"].as_array().unwrap().is_empty());
    let mut rule = rule;
    rule["names"] = json!(names);
    calls.push(rule);
    let path = t.path(file);
    std::fs::write(&path, serde_json::to_string_pretty(&p).unwrap()).unwrap();
    format!("seccomp={}", path.display())
}

#[test]
fn every_container_and_exec_gets_the_default_filter() {
    let (t, _) = setup();
    for runtime in RUNTIMES {
        assert_eq!(mode(&t, runtime, &[]), "Seccomp:\t2", "{runtime}");
        // Installed early (before the user change) and late (after no_new_privs).
        assert_eq!(mode(&t, runtime, &["-u", "nobody"]), "Seccomp:\t2", "{runtime}");
        assert_eq!(
            mode(&t, runtime, &["--security-opt", "no-new-privileges"]),
            "Seccomp:\t2",
            "{runtime}"
        );
        assert_eq!(
            mode(&t, runtime, &["--security-opt", "seccomp=builtin"]),
            "Seccomp:\t2",
            "{runtime}"
        );
        assert_eq!(
            mode(&t, runtime, &["--security-opt", "seccomp=unconfined"]),
            "Seccomp:\t0",
            "{runtime}"
        );
        assert_eq!(mode(&t, runtime, &["--privileged"]), "Seccomp:\t0", "{runtime}");

        let name = format!("exec-{runtime}");
        t.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--runtime",
            runtime,
            "busybox:test",
            "sleep",
            "1000",
        ]);
        let exec = |args: &[&str]| {
            let mut all = vec!["exec"];
            all.extend_from_slice(args);
            all.extend([name.as_str(), "grep", "^Seccomp:", "/proc/self/status"]);
            t.ok(&all).trim().to_string()
        };
        assert_eq!(exec(&[]), "Seccomp:\t2", "exec under {runtime}");
        assert_eq!(exec(&["-u", "nobody"]), "Seccomp:\t2", "exec -u under {runtime}");
        // The exec'd process gets the filter, not just a copy of the container's state.
        let denied = t.run(&["exec", &name, "unshare", "-U", "true"]);
        assert!(!denied.status.success(), "exec unshare under {runtime}");
        t.ok(&["rm", "-f", &name]);

        // With no_new_privs the exec'd process gets it too, and the filter after it.
        let name = format!("exec-nnp-{runtime}");
        t.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--runtime",
            runtime,
            "--security-opt",
            "no-new-privileges",
            "busybox:test",
            "sleep",
            "1000",
        ]);
        assert_eq!(
            t.ok(&[
                "exec",
                &name,
                "grep",
                "-E",
                "^(Seccomp|NoNewPrivs):",
                "/proc/self/status"
            ]),
            "NoNewPrivs:\t1\nSeccomp:\t2\n",
            "exec under {runtime}"
        );
        t.ok(&["rm", "-f", &name]);

        let name = format!("exec-unconfined-{runtime}");
        t.ok(&[
            "run",
            "-d",
            "--name",
            &name,
            "--runtime",
            runtime,
            "--security-opt",
            "seccomp=unconfined",
            "busybox:test",
            "sleep",
            "1000",
        ]);
        assert_eq!(
            t.ok(&["exec", &name, "grep", "^Seccomp:", "/proc/self/status"]).trim(),
            "Seccomp:\t0"
        );
        t.ok(&["rm", "-f", &name]);
    }
}

#[test]
fn inspect_shows_security_opt_as_docker_does() {
    let (t, _) = setup();
    let security_opt = |args: &[&str]| {
        let mut all = vec!["create"];
        all.extend_from_slice(args);
        all.extend(["busybox:test", "true"]);
        let id = t.ok(&all).trim().to_string();
        let shown = t.ok(&["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", &id]);
        t.ok(&["rm", &id]);
        serde_json::from_str::<Value>(shown.trim()).unwrap()
    };
    assert_eq!(security_opt(&[]), Value::Null);
    assert_eq!(
        security_opt(&["--security-opt", "seccomp=unconfined"]),
        json!(["seccomp=unconfined"])
    );
    assert_eq!(
        security_opt(&[
            "--security-opt",
            "no-new-privileges",
            "--security-opt",
            "seccomp:unconfined"
        ]),
        json!(["no-new-privileges", "seccomp=unconfined"])
    );
    // A profile file is shown (and kept) as its compacted JSON.
    let opt = profile_with(&t, "deny-mkdir.json", &["mkdir"], json!({"action": "SCMP_ACT_ERRNO"}));
    let shown = security_opt(&["--security-opt", &opt]);
    let text = shown[0].as_str().unwrap();
    let profile: Value = serde_json::from_str(text.strip_prefix("seccomp=").unwrap()).unwrap();
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    assert!(!text.contains('\n'), "compacted");

    // Refused by name, at create: a missing or malformed file, an unknown option.
    let missing = t.fails(&[
        "create",
        "--security-opt",
        "seccomp=/no/such/profile.json",
        "busybox:test",
    ]);
    assert!(
        missing.contains("opening seccomp profile (/no/such/profile.json) failed"),
        "{missing}"
    );
    let bad = t.path("bad.json");
    std::fs::write(&bad, "{not json").unwrap();
    let malformed = t.fails(&[
        "create",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        "busybox:test",
    ]);
    assert!(malformed.contains("compacting json for seccomp profile"), "{malformed}");
    let unknown = t.fails(&["create", "--security-opt", "apparmor=unconfined", "busybox:test"]);
    assert!(
        unknown.contains("invalid --security-opt \"apparmor=unconfined\""),
        "{unknown}"
    );
    // A profile Docker's format does not allow fails at start, as Docker's does.
    std::fs::write(&bad, r#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#).unwrap();
    let out = t.run(&[
        "run",
        "--rm",
        "--security-opt",
        &format!("seccomp={}", bad.display()),
        "busybox:test",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("decoding seccomp profile failed"));
}

#[test]
fn namespaces_need_cap_sys_admin_and_clone_flags_are_checked() {
    let (t, dir) = setup();
    for runtime in RUNTIMES {
        let denied = run(&t, runtime, &["busybox:test", "unshare", "-U", "true"]);
        assert!(!denied.status.success(), "{runtime}: unshare -U must be denied");
        assert!(
            String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
            "{runtime}: {}",
            String::from_utf8_lossy(&denied.stderr)
        );
        stdout_of(
            &t,
            runtime,
            &[
                "--security-opt",
                "seccomp=unconfined",
                "busybox:test",
                "unshare",
                "-U",
                "true",
            ],
        );
        // CAP_SYS_ADMIN turns on the profile's rules for it (a mount namespace needs the
        // capability too); without it the call never reaches the kernel.
        assert!(!run(&t, runtime, &["busybox:test", "unshare", "-m", "true"])
            .status
            .success());
        stdout_of(
            &t,
            runtime,
            &["--cap-add", "SYS_ADMIN", "busybox:test", "unshare", "-m", "true"],
        );

        // clone: plain forks pass, namespace flags do not (an argument condition);
        // clone3 gets ENOSYS (libc falls back to clone), all of it open with CAP_SYS_ADMIN.
        // In this order: a successful unshare moves the probe into a user namespace of
        // its own, unmapped, where a nested one is refused by the kernel.
        let names = ["fork", "clone-newuser", "unshare", "clone3"];
        let default = probes(&t, &dir, runtime, &[], &names);
        assert_eq!(default["fork"], 0, "{runtime}");
        assert_eq!(default["clone-newuser"], EPERM, "{runtime}");
        assert_eq!(default["unshare"], EPERM, "{runtime}");
        assert_eq!(default["clone3"], ENOSYS, "{runtime}");
        let admin = probes(&t, &dir, runtime, &["--cap-add", "SYS_ADMIN"], &names);
        assert_eq!(admin["fork"], 0, "{runtime}");
        assert_eq!(admin["clone-newuser"], 0, "{runtime}");
        assert_eq!(admin["unshare"], 0, "{runtime}");
        assert_eq!(admin["clone3"], EINVAL, "{runtime}");

        // personality: the values Docker allows, and nothing else.
        let p = probes(
            &t,
            &dir,
            runtime,
            &[],
            &["personality=0xffffffff", "personality=0x0040000"],
        );
        assert_eq!(
            p["personality"], EPERM,
            "{runtime}: the last one (ADDR_NO_RANDOMIZE) is refused"
        );
        let p = probes(&t, &dir, runtime, &[], &["personality=0xffffffff"]);
        assert_eq!(p["personality"], 0, "{runtime}");
        let p = probes(
            &t,
            &dir,
            runtime,
            &["--security-opt", "seccomp=unconfined"],
            &["personality=0x0040000"],
        );
        assert_eq!(p["personality"], 0, "{runtime}");
    }
}

#[test]
fn keyrings_bpf_mount_and_kexec_are_denied_unless_the_profile_allows_them() {
    let (t, dir) = setup();
    let names = ["keyctl", "add_key", "bpf", "mount", "kexec_load"];
    let allow = profile_with(&t, "allow.json", &names, json!({"action": "SCMP_ACT_ALLOW"}));
    for runtime in RUNTIMES {
        // CAP_SYS_BOOT so that an allowed kexec_load reaches its argument checks.
        let caps = ["--cap-add", "SYS_BOOT"];
        let default = probes(&t, &dir, runtime, &caps, &names);
        let allowed = probes(
            &t,
            &dir,
            runtime,
            &[&caps[..], &["--security-opt", allow.as_str()][..]].concat(),
            &names,
        );
        let unconfined = probes(
            &t,
            &dir,
            runtime,
            &[&caps[..], &["--security-opt", "seccomp=unconfined"][..]].concat(),
            &names,
        );
        for name in names {
            assert_eq!(default[name], EPERM, "{runtime}: {name} denied by default");
            assert_eq!(
                allowed[name], unconfined[name],
                "{runtime}: {name} reaches the kernel when allowed"
            );
        }
        assert_eq!(allowed["keyctl"], EOPNOTSUPP, "{runtime}");
        assert_eq!(allowed["add_key"], EFAULT, "{runtime}");
        assert_eq!(allowed["bpf"], EINVAL, "{runtime}");
        assert_eq!(allowed["mount"], EFAULT, "{runtime}");
        assert!(
            [EINVAL, ENOSYS].contains(&allowed["kexec_load"]),
            "{runtime}: {allowed:?}"
        );
        // CAP_BPF turns on the profile's bpf rule.
        let bpf = probes(&t, &dir, runtime, &["--cap-add", "BPF"], &["bpf"]);
        assert_eq!(bpf["bpf"], EINVAL, "{runtime}");
    }
}

#[test]
fn a_profile_file_sets_actions_and_errno_values() {
    let (t, _) = setup();
    // Docker's format with one more rule: mkdir fails with ENOSPC instead of running.
    let no_space = profile_with(
        &t,
        "mkdir-enospc.json",
        &["mkdir", "mkdirat"],
        json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 28}),
    );
    // A deny list: everything allowed but mkdir (EACCES).
    let deny_list = t.path("deny-list.json");
    std::fs::write(
        &deny_list,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
        })
        .to_string(),
    )
    .unwrap();
    let deny_list = format!("seccomp={}", deny_list.display());
    for runtime in RUNTIMES {
        let out = run(
            &t,
            runtime,
            &["--security-opt", &no_space, "busybox:test", "mkdir", "/made"],
        );
        assert!(!out.status.success(), "{runtime}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("No space left on device"),
            "{runtime}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout_of(
            &t,
            runtime,
            &["--security-opt", &no_space, "busybox:test", "touch", "/made"],
        );
        let out = run(
            &t,
            runtime,
            &["--security-opt", &deny_list, "busybox:test", "mkdir", "/made"],
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{runtime}"
        );
        // Everything else passes, namespaces included.
        stdout_of(
            &t,
            runtime,
            &["--security-opt", &deny_list, "busybox:test", "unshare", "-U", "true"],
        );
    }
    // The profile is the container's: a restart does not need the file any more.
    let path = no_space.strip_prefix("seccomp=").unwrap().to_string();
    t.ok(&[
        "create",
        "--name",
        "kept",
        "--security-opt",
        &no_space,
        "busybox:test",
        "mkdir",
        "/again",
    ]);
    std::fs::remove_file(&path).unwrap();
    let out = t.run(&["start", "-a", "kept"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left on device"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.ok(&["rm", "kept"]);
}
