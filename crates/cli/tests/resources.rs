//! What `run` takes beyond `--memory`, `--cpus` and `--pids-limit` (issue 18): the
//! limits reach the kernel (the container's cgroups, its rlimits, its /dev/shm), the
//! process flags behave as Docker's, and what the machine cannot give is refused by
//! name. Through the CLI and the Engine API.

mod harness;

use harness::service::{clients, with_busybox, Service};
use harness::TestRoot;

fn id(t: &TestRoot, name: &str) -> String {
    t.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string()
}

/// A v1 cgroup file of the container (this machine's hierarchy is hybrid v1).
fn cgroup(t: &TestRoot, name: &str, controller: &str, file: &str) -> String {
    let path = format!("/sys/fs/cgroup/{controller}/strata/{}/{file}", id(t, name));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

fn cgroup_v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

#[test]
fn memory_and_cpu_settings_reach_the_containers_cgroups() {
    if !cgroup_v1() {
        eprintln!("skipped: the v1 files this test reads are not here");
        return;
    }
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "limited",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "32m",
        "--oom-kill-disable",
        "--cpu-shares",
        "512",
        "--cpu-quota",
        "50000",
        "--cpu-period",
        "100000",
        "--cpuset-cpus",
        "0",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let mib = 1 << 20;
    assert_eq!(
        cgroup(&t, "limited", "memory", "memory.limit_in_bytes"),
        (64 * mib).to_string()
    );
    assert_eq!(
        cgroup(&t, "limited", "memory", "memory.memsw.limit_in_bytes"),
        (128 * mib).to_string()
    );
    assert_eq!(
        cgroup(&t, "limited", "memory", "memory.soft_limit_in_bytes"),
        (32 * mib).to_string()
    );
    assert!(cgroup(&t, "limited", "memory", "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(cgroup(&t, "limited", "cpu", "cpu.shares"), "512");
    assert_eq!(cgroup(&t, "limited", "cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cgroup(&t, "limited", "cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(cgroup(&t, "limited", "cpuset", "cpuset.cpus"), "0");
    let host = t.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.MemorySwap}}",
        "limited",
    ]);
    assert_eq!(host.trim(), format!("512 0 {}", 128 * mib));
    // A container without them keeps the kernel's defaults, and starts as before.
    t.ok(&["run", "-d", "--name", "plain", "busybox:test", "sleep", "600"]);
    assert_eq!(cgroup(&t, "plain", "cpu", "cpu.shares"), "1024");
    t.ok(&["rm", "-f", "limited", "plain"]);
}

#[test]
fn inconsistent_resource_flags_are_refused_as_docker_refuses_them() {
    let t = with_busybox();
    for (flags, words) in [
        (&["--memory-swap", "64m"][..], "--memory-swap needs --memory"),
        (
            &["--memory", "64m", "--memory-swap", "32m"][..],
            "must be at least --memory",
        ),
        (&["--cpus", "1", "--cpu-quota", "50000"][..], "Conflicting options"),
        (&["--cpu-period", "10"][..], "--cpu-period must be between"),
        (&["--cpuset-cpus", "1-0"][..], "invalid --cpuset-cpus"),
        (&["--ulimit", "files=10"][..], "unknown resource"),
        (
            &["--platform", "linux/s390x"][..],
            "--platform linux/s390x is not supported",
        ),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend(["busybox:test", "true"]);
        let e = t.fails(&args);
        assert!(e.contains(words), "{flags:?}: {e}");
    }
    assert_eq!(t.ok(&["ps", "-aq"]).trim(), "", "nothing half-made");
}

#[test]
fn ulimits_apply_and_one_above_the_machines_hard_limit_is_refused() {
    let t = with_busybox();
    let limits = t.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=512:1024",
        "--ulimit",
        "nproc=300",
        "busybox:test",
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn; ulimit -u",
    ]);
    assert_eq!(limits.split_whitespace().collect::<Vec<_>>(), ["512", "1024", "300"]);
    let (_, machine) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    if machine < u64::MAX / 2 {
        let above = format!("nofile={machine}:{}", machine + 1);
        let e = t.fails(&["run", "--rm", "--ulimit", &above, "busybox:test", "true"]);
        assert!(e.contains("above this machine's hard limit"), "{e}");
        assert_eq!(t.ok(&["ps", "-aq"]).trim(), "");
    }
}

#[test]
fn shm_size_group_add_numeric_users_and_the_stop_signal() {
    let t = with_busybox();
    let shm = t.ok(&[
        "run",
        "--rm",
        "--shm-size",
        "128m",
        "busybox:test",
        "df",
        "-k",
        "/dev/shm",
    ]);
    assert!(shm.contains("131072"), "{shm}");
    let ids = t.ok(&[
        "run",
        "--rm",
        "--user",
        "4242:4343",
        "--group-add",
        "50",
        "--group-add",
        "root",
        "busybox:test",
        "id",
    ]);
    assert!(ids.contains("uid=4242") && ids.contains("gid=4343"), "{ids}");
    assert!(ids.contains("50") && ids.contains("0(root)"), "extra groups: {ids}");
    let missing = t.fails(&["run", "--rm", "--group-add", "nosuchgroup", "busybox:test", "true"]);
    assert!(missing.contains("unable to find group nosuchgroup"), "{missing}");
    // The stop signal reaches the container's trap; its exit code is the container's.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "polite",
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "30",
        "busybox:test",
        "sh",
        "-c",
        "trap 'exit 3' USR1; echo ready; while :; do sleep 1; done",
    ]);
    let start = std::time::Instant::now();
    while !t.ok(&["logs", "polite"]).contains("ready") {
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t.ok(&["stop", "polite"]);
    let state = t.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.Config.StopSignal}} {{.Config.StopTimeout}}",
        "polite",
    ]);
    assert_eq!(state.trim(), "3 SIGUSR1 30");
    t.ok(&["rm", "polite"]);
    // --stop-timeout is stop's wait when not told: 1 s, so a shutdown that takes 8 s
    // (which Docker's default 10 s would let finish, exit 4) is killed (137).
    t.ok(&[
        "run",
        "-d",
        "--name",
        "slow-exit",
        "--stop-timeout",
        "1",
        "busybox:test",
        "sh",
        "-c",
        "trap 'sleep 8; exit 4' TERM; echo ready; while :; do sleep 1; done",
    ]);
    while !t.ok(&["logs", "slow-exit"]).contains("ready") {
        assert!(start.elapsed() < std::time::Duration::from_secs(120));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t.ok(&["stop", "slow-exit"]);
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.State.ExitCode}}", "slow-exit"]).trim(),
        "137"
    );
    t.ok(&["rm", "slow-exit"]);
}

#[test]
fn cidfile_is_written_and_an_existing_one_refused() {
    let t = with_busybox();
    let file = t.path("cid");
    t.ok(&[
        "run",
        "-d",
        "--cidfile",
        file.to_str().unwrap(),
        "--name",
        "c1",
        "busybox:test",
        "sleep",
        "600",
    ]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), id(&t, "c1"));
    let e = t.fails(&["run", "-d", "--cidfile", file.to_str().unwrap(), "busybox:test", "true"]);
    assert!(e.contains("Container ID file found"), "{e}");
    let attached = t.path("cid2");
    t.ok(&[
        "run",
        "--cidfile",
        attached.to_str().unwrap(),
        "--name",
        "c2",
        "busybox:test",
        "true",
    ]);
    assert_eq!(std::fs::read_to_string(&attached).unwrap(), id(&t, "c2"));
    t.ok(&["rm", "-f", "c1", "c2"]);
}

#[test]
fn docker_run_resource_flags_work_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        let out = service.docker_ok(&[
            "run",
            "--rm",
            "--cpu-shares",
            "512",
            "--memory",
            "64m",
            "--memory-reservation",
            "32m",
            "--ulimit",
            "nofile=100:200",
            "--shm-size",
            "100m",
            "--group-add",
            "50",
            "--stop-signal",
            "SIGINT",
            "busybox:test",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; id -G",
        ]);
        let words: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(&words[..2], ["100", "200"], "{client}: {out}");
        assert!(out.contains("102400"), "{client}: /dev/shm: {out}");
        assert!(
            out.trim_end().ends_with("50") || out.contains(" 50"),
            "{client}: groups: {out}"
        );
        let refused = service.docker(&["run", "--rm", "--platform", "linux/s390x", "busybox:test", "true"]);
        assert!(!refused.status.success());
        let e = String::from_utf8_lossy(&refused.stderr);
        assert!(e.contains("linux/s390x"), "{client}: {e}");
    }
}

/// Everything after the image is the command's, flags of `run` included (`-c` is
/// `--cpu-shares`, `-l` `--label`, `-e` `--env` before the image).
#[test]
fn options_after_the_image_belong_to_the_command() {
    let t = with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "-e",
        "X=1",
        "busybox:test",
        "sh",
        "-c",
        "echo $X -c -l -e",
    ]);
    assert_eq!(out, "1 -c -l -e\n");
    let listing = t.ok(&["run", "--rm", "busybox:test", "ls", "-l", "/bin/sh"]);
    assert!(listing.contains("/bin/sh -> busybox"), "{listing}");
}

/// A container's groups are made while its process makes its root: one the kernel
/// refuses (a CPU this machine does not have) is the start's error, with Docker's 125,
/// and none of its groups stays behind (they once did: made before the process, left
/// when a limit failed).
#[test]
fn a_group_the_kernel_refuses_fails_the_start_and_leaves_no_group_behind() {
    if !cgroup_v1() {
        eprintln!("skipped: the v1 hierarchies this test looks in are not here");
        return;
    }
    let t = with_busybox();
    let cidfile = t.path("refused.cid");
    let cidfile = cidfile.to_str().unwrap();
    let out = t.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--cidfile",
        cidfile,
        "--cpuset-cpus",
        "1000",
        "busybox:test",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("cpuset.cpus"), "the refused file is named: {e}");
    let id = std::fs::read_to_string(cidfile).unwrap();
    assert_eq!(id.len(), 64, "{id}");
    for controller in [
        "memory", "cpu", "pids", "freezer", "devices", "cpuacct", "blkio", "cpuset",
    ] {
        let group = format!("/sys/fs/cgroup/{controller}/strata/{id}");
        assert!(!std::path::Path::new(&group).exists(), "{group} stayed");
    }
    assert_eq!(t.ok(&["ps", "-aq"]).trim(), "", "the --rm container is gone");
}

/// `run` forks a process that takes the wait of its container's cgroup move early
/// (`cgroup_warmup`); it holds none of the command's output (a shell reading it would
/// wait for it) and ends by itself soon after the start. The group here is the test's
/// own, in the pids hierarchy: every process `run` leaves there is gone once its
/// container is.
#[test]
fn the_cgroup_warmup_of_a_run_holds_no_output_and_ends_with_its_start() {
    use std::os::unix::process::CommandExt;
    if !cgroup_v1() {
        eprintln!("skipped: the v1 hierarchy this test makes its group in is not here");
        return;
    }
    let t = with_busybox();
    let group = std::path::PathBuf::from(format!("/sys/fs/cgroup/pids/strata-test-warmup-{}", std::process::id()));
    std::fs::create_dir_all(&group).unwrap();
    let procs = std::fs::File::options()
        .write(true)
        .open(group.join("cgroup.procs"))
        .unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&procs);
    let in_group = |args: &[&str]| {
        let mut cmd = t.cmd();
        cmd.args(args);
        // SAFETY: one write(2) of a constant into a descriptor opened before the fork.
        unsafe {
            cmd.pre_exec(move || match libc::write(fd, b"0".as_ptr().cast(), 1) {
                1 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        cmd
    };
    let members = || -> Vec<(String, String)> {
        let listed = std::fs::read_to_string(group.join("cgroup.procs")).unwrap();
        listed
            .lines()
            .map(|pid| {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                let out = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap_or_default();
                (comm.trim().to_string(), out.display().to_string())
            })
            .collect()
    };
    let emptied = || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !members().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        members()
    };

    // Detached: the command ends at the start, its output read through a pipe.
    let mut cli = in_group(&[
        "run",
        "-d",
        "--name",
        "warm",
        "--network",
        "none",
        "busybox:test",
        "sleep",
        "60",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    let pipe = std::fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(cli.stdout.as_ref().unwrap())
    ))
    .unwrap()
    .display()
    .to_string();
    assert!(cli.wait().unwrap().success());
    let holders: Vec<_> = members().into_iter().filter(|(_, out)| *out == pipe).collect();
    assert!(
        holders.is_empty(),
        "the command's output is held after it ended: {holders:?}"
    );
    t.ok(&["rm", "-f", "warm"]);
    let left = emptied();

    // In the foreground, until the `--rm` container is gone.
    let out = in_group(&["run", "--rm", "--network", "none", "busybox:test", "true"])
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    let left_by_rm = emptied();
    let _ = std::fs::remove_dir(&group);
    assert!(left.is_empty(), "still in the run's group: {left:?}");
    assert!(out.status.success(), "{out:?}");
    assert!(left_by_rm.is_empty(), "still in the run's group: {left_by_rm:?}");
}
