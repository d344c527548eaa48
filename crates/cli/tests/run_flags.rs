//! The rest of docker 20.10's `run` flags (issue 18): block I/O limits, swappiness,
//! memory nodes, device rules, the parent cgroup, the OOM score, legacy links, `-a` and
//! `--sig-proxy`; and the flags this kernel or strata cannot honour, refused by name
//! with the reason. Through the CLI and the Engine API.

mod harness;

use harness::service::{clients, with_busybox, Service};
use harness::TestRoot;
use std::time::{Duration, Instant};

fn id(t: &TestRoot, name: &str) -> String {
    t.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string()
}

fn cgroup_v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

/// A block device of this machine and its `major:minor`.
fn block_device() -> (String, String) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    for path in ["/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda", "/dev/loop0"] {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.file_type().is_block_device() {
                let rdev = meta.rdev();
                let numbers = format!("{}:{}", nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
                return (path.to_string(), numbers);
            }
        }
    }
    panic!("no block device found to limit");
}

#[test]
fn block_io_swappiness_memory_nodes_and_oom_score_reach_the_kernel() {
    if !cgroup_v1() {
        eprintln!("skipped: the v1 files this test reads are not here");
        return;
    }
    let t = with_busybox();
    let (device, numbers) = block_device();
    let out = t.ok(&[
        "run",
        "--name",
        "io",
        "--memory-swappiness",
        "7",
        "--cpuset-mems",
        "0",
        "--device-read-bps",
        &format!("{device}:1mb"),
        "--device-write-bps",
        &format!("{device}:2097152"),
        "--device-read-iops",
        &format!("{device}:300"),
        "--device-write-iops",
        &format!("{device}:400"),
        "--oom-score-adj",
        "500",
        "busybox:test",
        "sh",
        "-c",
        "cat /proc/self/oom_score_adj; cat /sys/fs/cgroup/memory/memory.swappiness 2>/dev/null || true",
    ]);
    assert_eq!(out.lines().next(), Some("500"), "{out}");
    // The groups are gone once it stopped: their settings are read while one runs.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "io-running",
        "--memory-swappiness",
        "7",
        "--cpuset-mems",
        "0",
        "--device-read-bps",
        &format!("{device}:1mb"),
        "--device-write-iops",
        &format!("{device}:400"),
        "busybox:test",
        "sleep",
        "617",
    ]);
    let group = |controller: &str, file: &str| {
        let path = format!("/sys/fs/cgroup/{controller}/strata/{}/{file}", id(&t, "io-running"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    assert_eq!(group("memory", "memory.swappiness").trim(), "7");
    assert_eq!(group("cpuset", "cpuset.mems").trim(), "0");
    assert_eq!(
        group("blkio", "blkio.throttle.read_bps_device").trim(),
        format!("{numbers} 1048576")
    );
    assert_eq!(
        group("blkio", "blkio.throttle.write_iops_device").trim(),
        format!("{numbers} 400")
    );
    let shown = t.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.MemorySwappiness}} {{.HostConfig.CpusetMems}} {{(index .HostConfig.BlkioDeviceReadBps 0).Rate}} {{.HostConfig.OomScoreAdj}}",
        "io",
    ]);
    assert_eq!(shown.trim(), "7 0 1048576 500");
    t.ok(&["rm", "-f", "io", "io-running"]);
    let e = t.fails(&["create", "--device-read-bps", "/dev/null:1mb", "busybox:test", "true"]);
    assert!(e.contains("not a block device"), "{e}");
    let e = t.fails(&["create", "--memory-swappiness", "101", "busybox:test", "true"]);
    assert!(e.contains("--memory-swappiness must be between 0 and 100"), "{e}");
    let e = t.fails(&["create", "--oom-score-adj", "1001", "busybox:test", "true"]);
    assert!(e.contains("invalid --oom-score-adj"), "{e}");
}

#[test]
fn a_device_cgroup_rule_lets_the_container_open_a_device_it_makes() {
    let t = with_busybox();
    // Major 240 is for local use: no driver has it, so an open the device cgroup allows
    // fails with ENXIO, and one it denies with EPERM.
    let script = "mknod /tmp/dev c 240 0 && cat /tmp/dev";
    let denied = t.run(&["run", "--rm", "busybox:test", "sh", "-c", script]);
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
        "{denied:?}"
    );
    let allowed = t.run(&[
        "run",
        "--rm",
        "--device-cgroup-rule",
        "c 240:* r",
        "busybox:test",
        "sh",
        "-c",
        script,
    ]);
    assert!(
        String::from_utf8_lossy(&allowed.stderr).contains("No such device or address"),
        "{allowed:?}"
    );
    let e = t.fails(&["create", "--device-cgroup-rule", "c 1:7 x", "busybox:test", "true"]);
    assert!(e.contains("invalid --device-cgroup-rule"), "{e}");
}

#[test]
fn cgroup_parent_places_the_containers_groups_under_it() {
    if !cgroup_v1() {
        eprintln!("skipped: the v1 files this test reads are not here");
        return;
    }
    let t = with_busybox();
    let parent = format!("strata-test-parent-{}", std::process::id());
    t.ok(&[
        "run",
        "-d",
        "--name",
        "placed",
        "--cgroup-parent",
        &format!("/{parent}/inner"),
        "--cpuset-cpus",
        "0",
        "--memory",
        "32m",
        "busybox:test",
        "sleep",
        "618",
    ]);
    let id = id(&t, "placed");
    let limit = format!("/sys/fs/cgroup/memory/{parent}/inner/{id}/memory.limit_in_bytes");
    assert_eq!(std::fs::read_to_string(&limit).unwrap().trim(), (32 << 20).to_string());
    let seen = t.ok(&["exec", "placed", "cat", "/proc/self/cgroup"]);
    assert!(seen.contains(&format!("/{parent}/inner/{id}")), "{seen}");
    let shown = t.ok(&["inspect", "-f", "{{.HostConfig.CgroupParent}}", "placed"]);
    assert_eq!(shown.trim(), format!("/{parent}/inner"));
    // pause and top find the groups where they are.
    t.ok(&["pause", "placed"]);
    assert!(t.ok(&["ps", "--filter", "name=placed"]).contains("Paused"));
    t.ok(&["unpause", "placed"]);
    t.ok(&["rm", "-f", "placed"]);
    assert!(!std::path::Path::new(&limit).exists(), "its group is removed with it");
    for controller in [
        "memory", "cpu", "pids", "freezer", "devices", "cpuacct", "blkio", "cpuset",
    ] {
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{controller}/{parent}/inner"));
        let _ = std::fs::remove_dir(format!("/sys/fs/cgroup/{controller}/{parent}"));
    }
    let e = t.fails(&["create", "--cgroup-parent", "../escape", "busybox:test", "true"]);
    assert!(e.contains("invalid --cgroup-parent"), "{e}");
}

#[test]
fn a_link_names_the_linked_container_in_hosts_and_environment() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "linked-web",
        "-e",
        "GREETING=hello",
        "--expose",
        "80",
        "busybox:test",
        "sleep",
        "619",
    ]);
    let web_ip = t.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "linked-web"]);
    let web_ip = web_ip.trim();
    let seen = t.ok(&[
        "run",
        "--rm",
        "--name",
        "linker",
        "--link",
        "linked-web:db",
        "busybox:test",
        "sh",
        "-c",
        "cat /etc/hosts; env",
    ]);
    assert!(
        seen.lines()
            .any(|l| l.starts_with(web_ip) && l.split_whitespace().any(|w| w == "db")),
        "the alias in /etc/hosts: {seen}"
    );
    for var in [
        "DB_NAME=/linker/db".to_string(),
        format!("DB_PORT=tcp://{web_ip}:80"),
        format!("DB_PORT_80_TCP_ADDR={web_ip}"),
        "DB_PORT_80_TCP_PORT=80".to_string(),
        "DB_ENV_GREETING=hello".to_string(),
    ] {
        assert!(seen.lines().any(|l| l == var), "{var} in {seen}");
    }
    let ping = t.run(&[
        "run",
        "--rm",
        "--link",
        "linked-web:db",
        "busybox:test",
        "ping",
        "-c",
        "1",
        "-W",
        "30",
        "db",
    ]);
    assert!(ping.status.success(), "{ping:?}");
    // On a user network a link is an alias there.
    t.ok(&["network", "create", "linknet"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "linked-user",
        "--network",
        "linknet",
        "busybox:test",
        "sleep",
        "620",
    ]);
    let hosts = t.ok(&[
        "run",
        "--rm",
        "--network",
        "linknet",
        "--link",
        "linked-user:other",
        "busybox:test",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts.lines().any(|l| l.split_whitespace().any(|w| w == "other")),
        "{hosts}"
    );
    t.ok(&["rm", "-f", "linked-web", "linked-user"]);
    t.ok(&["network", "rm", "linknet"]);
    t.ok(&["create", "--name", "linked-stopped", "busybox:test", "true"]);
    let e = t.fails(&["run", "--rm", "--link", "linked-stopped:s", "busybox:test", "true"]);
    assert!(e.contains("Cannot link to a non running container"), "{e}");
    let e = t.fails(&["create", "--link", "nobody", "busybox:test", "true"]);
    assert!(e.contains("No such container: nobody"), "{e}");
}

#[test]
fn attach_chooses_the_streams_and_sig_proxy_false_leaves_the_container_alone() {
    let t = with_busybox();
    let out = t.run(&[
        "run",
        "--rm",
        "-a",
        "stdout",
        "busybox:test",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to-out\n");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("to-err"), "{out:?}");
    let err = t.run(&[
        "run",
        "--rm",
        "-a",
        "stderr",
        "busybox:test",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2",
    ]);
    assert_eq!(String::from_utf8_lossy(&err.stdout), "");
    assert!(String::from_utf8_lossy(&err.stderr).contains("to-err"), "{err:?}");
    let e = t.fails(&["run", "-d", "-a", "stdout", "busybox:test", "true"]);
    assert!(e.contains("Conflicting options: -a and -d"), "{e}");
    // --sig-proxy=false: a signal to the command line ends it, not the container.
    let mut cli = t
        .cmd()
        .args([
            "run",
            "--name",
            "unproxied",
            "--sig-proxy=false",
            "busybox:test",
            "sleep",
            "621",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !t
        .ok(&["ps", "-q", "--filter", "name=unproxied"])
        .contains(char::is_alphanumeric)
    {
        assert!(Instant::now() < deadline, "the container never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cli.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let _ = cli.wait().unwrap();
    let running = t.ok(&["inspect", "-f", "{{.State.Running}}", "unproxied"]);
    assert_eq!(running.trim(), "true", "the container goes on");
    t.ok(&["rm", "-f", "unproxied"]);
}

#[test]
fn a_real_time_budget_lets_the_container_use_a_real_time_scheduler() {
    let root_budget = std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us");
    if !root_budget.exists() {
        eprintln!("skipped: this kernel has no real-time group scheduling (cpu.rt_runtime_us)");
        return;
    }
    let t = with_busybox();
    let parent_budget = || std::fs::read_to_string("/sys/fs/cgroup/cpu/strata/cpu.rt_runtime_us").unwrap_or_default();
    // Another container makes the parent group first.
    t.ok(&["run", "--rm", "busybox:test", "true"]);
    let before = parent_budget();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "rt",
        "--cpu-rt-runtime",
        "50000",
        "busybox:test",
        "sleep",
        "622",
    ]);
    t.ok(&["run", "-d", "--name", "not-rt", "busybox:test", "sleep", "623"]);
    let pid = |name: &str| t.ok(&["inspect", "-f", "{{.State.Pid}}", name]).trim().to_string();
    // From the host, as the kernel sees it: a real-time policy needs the group's budget.
    let rt = std::process::Command::new("chrt")
        .args(["-f", "-p", "10", &pid("rt")])
        .output()
        .unwrap();
    assert!(rt.status.success(), "{rt:?}");
    let policy = harness::host("chrt", &["-p", &pid("rt")]);
    assert!(policy.contains("SCHED_FIFO"), "{policy}");
    let denied = std::process::Command::new("chrt")
        .args(["-f", "-p", "10", &pid("not-rt")])
        .output()
        .unwrap();
    assert!(!denied.status.success(), "a container without a budget: {denied:?}");
    let shown = t.ok(&["inspect", "-f", "{{.HostConfig.CpuRealtimeRuntime}}", "rt"]);
    assert_eq!(shown.trim(), "50000");
    t.ok(&["rm", "-f", "rt", "not-rt"]);
    assert_eq!(parent_budget(), before, "the budget goes back to the parent group");
}

#[test]
fn mac_address_and_link_local_ips_are_the_containers_on_its_first_network() {
    let t = with_busybox();
    let seen = t.ok(&[
        "run",
        "--rm",
        "--mac-address",
        "92:D0:C6:0A:29:33",
        "--link-local-ip",
        "169.254.10.5",
        "--link-local-ip",
        "fe80::1234",
        "busybox:test",
        "sh",
        "-c",
        "cat /sys/class/net/eth0/address; ip addr show eth0",
    ]);
    assert_eq!(seen.lines().next(), Some("92:d0:c6:0a:29:33"), "{seen}");
    assert!(
        seen.contains("inet 169.254.10.5/16") && seen.contains("inet6 fe80::1234/64"),
        "{seen}"
    );
    t.ok(&["network", "create", "macnet"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "mac",
        "--network",
        "macnet",
        "--mac-address",
        "92:d0:c6:0a:29:34",
        "busybox:test",
        "sleep",
        "624",
    ]);
    let shown = t.ok(&[
        "inspect",
        "-f",
        "{{.Config.MacAddress}} {{.NetworkSettings.Networks.macnet.MacAddress}}",
        "mac",
    ]);
    assert_eq!(shown.trim(), "92:d0:c6:0a:29:34 92:d0:c6:0a:29:34");
    let network = t.ok(&["network", "inspect", "macnet"]);
    assert!(network.contains("\"MacAddress\": \"92:d0:c6:0a:29:34\""), "{network}");
    t.ok(&["rm", "-f", "mac"]);
    t.ok(&["network", "rm", "macnet"]);
    // Through the Engine API, from both docker clients, on a user network (the clients
    // send link-local addresses for one only); docker 28 sends a MAC address only to API
    // 1.44 and later (its own check), so it gives the link-local one only.
    let mut s = Service::start(&t);
    t.ok(&["network", "create", "llnet"]);
    for client in clients() {
        s.client = client;
        let mac = client != harness::service::DOCKER;
        let mut args = vec!["run", "--rm", "--network", "llnet", "--link-local-ip", "169.254.10.6"];
        if mac {
            args.extend(["--mac-address", "92:d0:c6:0a:29:35"]);
        }
        args.extend([
            "busybox:test",
            "sh",
            "-c",
            "cat /sys/class/net/eth0/address; ip -4 addr show eth0",
        ]);
        let out = s.docker_ok(&args);
        assert!(out.contains("169.254.10.6/16"), "{client}: {out}");
        assert!(!mac || out.starts_with("92:d0:c6:0a:29:35"), "{client}: {out}");
    }
}

#[test]
fn flags_strata_cannot_honour_are_refused_by_name_with_the_reason() {
    let t = with_busybox();
    let weights_here = std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
        || std::path::Path::new("/sys/fs/cgroup/blkio/blkio.bfq.weight").exists();
    let mut refused: Vec<(&[&str], &str)> = vec![
        (&["--kernel-memory", "64m"], "--kernel-memory is not supported"),
        (
            &["--cpu-rt-runtime", "2000000"],
            "--cpu-rt-runtime (2000000) must be between 0 and the period",
        ),
        (&["--storage-opt", "size=1G"], "--storage-opt size=1G is not supported"),
        (&["--isolation", "hyperv"], "--isolation hyperv is not supported"),
        (&["--volume-driver", "nfs"], "--volume-driver nfs is not supported"),
        (&["--gpus", "all"], "--gpus all is not supported"),
        (&["--link-local-ip", "10.0.0.1"], "invalid --link-local-ip"),
        (&["--mac-address", "01:00:5e:00:00:01"], "invalid --mac-address"),
        (
            &["--network", "none", "--mac-address", "92:d0:c6:0a:29:33"],
            "conflicting options: --mac-address",
        ),
        (
            &["--disable-content-trust=false"],
            "--disable-content-trust=false is not supported",
        ),
    ];
    if !weights_here {
        refused.push((
            &["--blkio-weight", "300"],
            "--blkio-weight and --blkio-weight-device are not supported",
        ));
    }
    for (flags, words) in refused {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend(["busybox:test", "true"]);
        let e = t.fails(&args);
        assert!(e.contains(words), "{flags:?}: {e}");
    }
    if weights_here {
        t.ok(&["run", "--rm", "--blkio-weight", "300", "busybox:test", "true"]);
    }
    // The defaults docker's clients send pass.
    t.ok(&[
        "run",
        "--rm",
        "--isolation",
        "default",
        "--volume-driver",
        "local",
        "--disable-content-trust",
        "busybox:test",
        "true",
    ]);
    assert_eq!(t.ok(&["ps", "-aq"]).trim(), "", "nothing half-made");
}

#[test]
fn docker_run_flags_work_over_the_engine_api() {
    let t = with_busybox();
    let mut s = Service::start(&t);
    for client in clients() {
        s.client = client;
        let name = format!("api-flags-{}", client.replace('/', "-"));
        let out = s.docker_ok(&[
            "run",
            "--name",
            &name,
            "--oom-score-adj",
            "300",
            "--uts",
            "host",
            "--cgroupns",
            "private",
            "--device-cgroup-rule",
            "c 240:* r",
            "busybox:test",
            "sh",
            "-c",
            "cat /proc/self/oom_score_adj; hostname; tail -n 1 /proc/self/cgroup; mknod /tmp/dev c 240 0; cat /tmp/dev 2>&1; true",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
        assert_eq!(lines[..2], ["300", host_name.as_str()], "{client}: {out}");
        assert!(lines[2].ends_with(":/"), "{client}: {out}");
        assert!(lines[3].contains("No such device or address"), "{client}: {out}");
        let e = s.docker(&["create", "--kernel-memory", "64m", "busybox:test", "true"]);
        let text = String::from_utf8_lossy(&e.stderr);
        assert!(
            !e.status.success() && text.contains("--kernel-memory is not supported"),
            "{client}: {text}"
        );
        s.docker_ok(&["rm", &name]);
    }
}
