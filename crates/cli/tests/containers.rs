//! Containers on real overlayfs and real namespaces: what the process sees, exit codes,
//! the writable layer, volumes, and cleanup.

mod harness;

use harness::images::busybox_rootfs;
use harness::TestRoot;
use std::process::Output;

fn with_busybox() -> TestRoot {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    t.ok(&["import", "-c", "CMD [\"sh\"]", tar.to_str().unwrap(), "busybox:test"]);
    t
}

fn run(t: &TestRoot, args: &[&str]) -> Output {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    t.run(&all)
}

fn stdout_of(t: &TestRoot, args: &[&str]) -> String {
    let out = run(t, args);
    assert!(
        out.status.success(),
        "run {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn env_names_without_values_come_from_the_callers_environment() {
    let t = with_busybox();
    let caller = |args: &[&str]| {
        let out = t
            .cmd()
            .args(args)
            .env("FROM_CALLER", "yes")
            .env_remove("UNSET_HERE")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let env = caller(&[
        "run",
        "--rm",
        "-e",
        "FROM_CALLER",
        "-e",
        "UNSET_HERE",
        "busybox:test",
        "env",
    ]);
    assert!(env.lines().any(|l| l == "FROM_CALLER=yes"), "{env}");
    assert!(!env.contains("UNSET_HERE"), "{env}");
    t.ok(&["run", "-d", "--name", "envs", "busybox:test", "sleep", "600"]);
    let env = caller(&["exec", "-e", "FROM_CALLER", "-e", "UNSET_HERE", "envs", "env"]);
    assert!(env.lines().any(|l| l == "FROM_CALLER=yes"), "{env}");
    assert!(!env.contains("UNSET_HERE"), "{env}");
    t.ok(&["rm", "-f", "envs"]);
}

#[test]
fn exit_codes_follow_docker() {
    let t = with_busybox();
    assert_eq!(
        stdout_of(&t, &["busybox:test", "echo", "hello", "world"]),
        "hello world\n"
    );
    assert_eq!(run(&t, &["busybox:test", "sh", "-c", "exit 7"]).status.code(), Some(7));
    let missing = run(&t, &["busybox:test", "no-such-command"]);
    assert_eq!(missing.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("executable file not found in $PATH"));
    let not_exec = run(&t, &["busybox:test", "/etc/passwd"]);
    assert_eq!(
        not_exec.status.code(),
        Some(126),
        "{}",
        String::from_utf8_lossy(&not_exec.stderr)
    );
    // Killed from outside with SIGKILL: 128 + 9. (From inside, PID 1 ignores it, as in Docker.)
    let child = t
        .cmd()
        .args(["run", "--rm", "busybox:test", "sleep", "31.25"])
        .spawn()
        .unwrap();
    let mut killed = false;
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if std::process::Command::new("pkill")
            .args(["-KILL", "-f", "^sleep 31.25$"])
            .status()
            .unwrap()
            .success()
        {
            killed = true;
            break;
        }
    }
    assert!(killed, "the container process was never seen");
    assert_eq!(
        child.wait_with_output().unwrap().status.code(),
        Some(137),
        "128 + SIGKILL"
    );
    let bad_user = run(&t, &["-u", "ghost", "busybox:test", "true"]);
    assert_eq!(bad_user.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&bad_user.stderr).contains("unable to find user ghost"));
    assert_eq!(
        run(&t, &["nosuch:image", "true"]).status.code(),
        Some(125),
        "engine errors exit 125"
    );
}

#[test]
fn the_process_sees_a_docker_like_container() {
    let t = with_busybox();
    let script = "echo pid=$$; hostname; id -u; pwd; echo A=$A; grep CapEff /proc/self/status; ls /sys/class/net; ls /proc/self/fd | tr '\\n' ' '";
    let out = stdout_of(
        &t,
        &[
            "--hostname",
            "box",
            "--network",
            "none",
            "-e",
            "A=1",
            "-w",
            "/work/dir",
            "busybox:test",
            "sh",
            "-c",
            script,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1", "{out}");
    assert_eq!(lines[1], "box");
    assert_eq!(lines[2], "0");
    assert_eq!(lines[3], "/work/dir", "a missing working directory is created");
    assert_eq!(lines[4], "A=1");
    assert_eq!(lines[5], "CapEff:\t00000000a80425fb", "Docker's default capability set");
    assert_eq!(lines[6], "lo", "--network none: a network namespace with loopback only");
    assert_eq!(
        lines[7].trim(),
        "0 1 2 3",
        "no engine descriptor leaks into the container (3 is ls's own)"
    );
    assert_eq!(
        stdout_of(&t, &["-u", "nobody", "busybox:test", "id"]).trim(),
        "uid=65534(nobody) gid=65534(nobody)"
    );
    // Numbers need no passwd or group entry.
    assert_eq!(
        stdout_of(&t, &["-u", "1234:5678", "busybox:test", "id"]).trim(),
        "uid=1234 gid=5678"
    );
    let host_net = stdout_of(&t, &["--network", "host", "busybox:test", "ls", "/sys/class/net"]);
    assert!(
        host_net.lines().count() > 1,
        "--network host shares the host's interfaces: {host_net}"
    );
}

#[test]
fn masked_and_read_only_paths_are_enforced() {
    let t = with_busybox();
    // /proc/timer_list exists on this kernel and has content on the host.
    assert!(!std::fs::read_to_string("/proc/timer_list").unwrap().is_empty());
    assert_eq!(
        stdout_of(&t, &["busybox:test", "sh", "-c", "wc -c < /proc/timer_list"]).trim(),
        "0",
        "/proc/timer_list is masked"
    );
    assert_eq!(
        stdout_of(&t, &["busybox:test", "ls", "/sys/firmware"]).trim(),
        "",
        "/sys/firmware is masked"
    );
    let write = run(
        &t,
        &["busybox:test", "sh", "-c", "echo 1 > /proc/sys/kernel/domainname"],
    );
    assert!(!write.status.success(), "/proc/sys is read-only");
    assert!(
        !run(&t, &["--read-only", "busybox:test", "touch", "/x"])
            .status
            .success(),
        "--read-only root"
    );
    assert!(run(&t, &["busybox:test", "touch", "/x"]).status.success());
}

#[test]
fn writes_go_to_the_container_layer_and_the_image_is_unchanged() {
    let t = with_busybox();
    let out = t.run(&[
        "run",
        "--name",
        "writer",
        "busybox:test",
        "sh",
        "-c",
        "echo new > /newfile; rm /etc/group; echo changed > /etc/passwd",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ps = t.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("writer Exited (0)"), "{ps}");
    let upper = std::fs::read_dir(t.root().join("snapshots/active"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("upper");
    assert_eq!(std::fs::read_to_string(upper.join("newfile")).unwrap(), "new\n");
    let wh = std::fs::symlink_metadata(upper.join("etc/group")).unwrap();
    assert!(
        std::os::unix::fs::FileTypeExt::is_char_device(&wh.file_type()),
        "the deletion is a whiteout in the upper layer"
    );
    // A fresh container of the same image sees the original files.
    assert!(stdout_of(&t, &["busybox:test", "cat", "/etc/group"]).contains("root:x:0:"));
    assert!(!stdout_of(&t, &["busybox:test", "ls", "/"]).contains("newfile"));
    // The image cannot go while a container uses it.
    let err = t.fails(&["rmi", "busybox:test"]);
    assert!(err.contains("conflict") && err.contains("container"), "{err}");
    assert_eq!(t.ok(&["rm", "writer"]).trim(), "writer");
    assert!(t.ok(&["ps", "-aq"]).is_empty());
    assert_eq!(t.entries("snapshots/active"), 0);
    assert_eq!(t.entries("containers"), 0);
}

#[test]
fn bind_volumes_and_rm_cleanup() {
    let t = with_busybox();
    let host = t.path("data");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from host").unwrap();
    let vol = format!("{}:/data", host.display());
    assert_eq!(
        stdout_of(
            &t,
            &[
                "-v",
                &vol,
                "busybox:test",
                "sh",
                "-c",
                "cat /data/in; echo out > /data/out"
            ]
        ),
        "from host"
    );
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "out\n");
    let ro = format!("{}:/data:ro", host.display());
    assert!(!run(&t, &["-v", &ro, "busybox:test", "touch", "/data/x"])
        .status
        .success());
    assert!(!host.join("x").exists());
    // --rm leaves no container, layer, directory or mount behind.
    assert!(t.ok(&["ps", "-aq"]).is_empty());
    assert_eq!(t.entries("snapshots/active"), 0);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(t.root().to_str().unwrap()),
        "no mount left under the store"
    );
    let err = t.fails(&["run", "-v", "/host:relative", "busybox:test", "true"]);
    assert!(err.contains("must be absolute"), "{err}");
}

#[test]
fn container_names_are_unique_and_resolvable() {
    let t = with_busybox();
    t.ok(&["create", "--name", "one", "busybox:test", "echo", "started"]);
    let err = t.fails(&["create", "--name", "one", "busybox:test"]);
    assert!(err.contains("is already in use"), "{err}");
    let out = t.run(&["start", "-a", "one"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started\n");
    let id = t.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
    assert_eq!(id.len(), 64);
    t.ok(&["rm", &id[..6]]);
    let err = t.fails(&["rm", "one"]);
    assert!(err.contains("No such container: one"), "{err}");
}

#[test]
fn container_inspect_and_prune() {
    let t = with_busybox();
    let host = t.path("v");
    std::fs::create_dir(&host).unwrap();
    let vol = format!("{}:/v:ro", host.display());
    let out = t.run(&[
        "run",
        "--name",
        "done",
        "-v",
        &vol,
        "-e",
        "K=V",
        "busybox:test",
        "sh",
        "-c",
        "echo hi > /f; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let doc: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", "done"])).unwrap();
    let c = &doc[0];
    assert_eq!(c["Name"], "/done");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 4);
    assert_eq!(c["Path"], "sh");
    assert_eq!(c["Config"]["Image"], "busybox:test");
    assert!(c["Config"]["Env"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("K=V")));
    assert_eq!(c["Mounts"][0]["Destination"], "/v");
    assert_eq!(c["Mounts"][0]["RW"], false);
    let upper = c["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(upper).join("f")).unwrap(),
        "hi\n"
    );
    assert_eq!(
        t.ok(&["container", "inspect", "-f", "{{.State.Status}}", "done"])
            .trim(),
        "exited"
    );
    // --type image skips the container of that name.
    assert!(t
        .fails(&["inspect", "--type", "image", "done"])
        .contains("No such image"));
    assert!(t
        .ok(&["inspect", "-f", "{{.Id}}", "busybox:test"])
        .starts_with("sha256:"));

    t.ok(&["run", "-d", "--name", "alive", "busybox:test", "sleep", "1000"]);
    let pruned = t.ok(&["container", "prune", "-f"]);
    assert!(pruned.starts_with("Deleted Containers:"), "{pruned}");
    assert_eq!(
        t.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(),
        "alive",
        "running containers stay"
    );
    t.ok(&["rm", "-f", "alive"]);
}

/// The container's cgroup file, read from the host (v1 layout on this machine, v2 too).
fn cgroup_file(controller: &str, id: &str, file: &str) -> String {
    let v1 = format!("/sys/fs/cgroup/{controller}/strata/{id}/{file}");
    let v2 = format!("/sys/fs/cgroup/strata/{id}/{file}");
    std::fs::read_to_string(&v1)
        .or_else(|_| std::fs::read_to_string(&v2))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn cgroup_limits_devices_and_pause() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "limited",
        "-m",
        "64m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "12",
        "busybox:test",
        "sleep",
        "1000",
    ]);
    let id = t.ok(&["ps", "-q", "--no-trunc"]).trim().to_string();
    let memory = cgroup_file("memory", &id, "memory.limit_in_bytes");
    let memory = if memory.is_empty() {
        cgroup_file("memory", &id, "memory.max")
    } else {
        memory
    };
    assert_eq!(memory, (64 << 20).to_string());
    let quota = cgroup_file("cpu", &id, "cpu.cfs_quota_us");
    assert!(
        quota == "50000" || cgroup_file("cpu", &id, "cpu.max") == "50000 100000",
        "cpu quota {quota}"
    );
    assert_eq!(cgroup_file("pids", &id, "pids.max"), "12");
    // Devices are deny-by-default: a block device node can be made but not opened.
    let dev = t.run(&[
        "exec",
        "limited",
        "sh",
        "-c",
        "mknod /dev/sdz b 8 0 && head -c1 /dev/sdz",
    ]);
    assert!(!dev.status.success());
    assert!(
        String::from_utf8_lossy(&dev.stderr).contains("Operation not permitted"),
        "{}",
        String::from_utf8_lossy(&dev.stderr)
    );
    t.ok(&["pause", "limited"]);
    assert!(t.ok(&["ps", "--format", "{{.Status}}"]).contains("(Paused)"));
    t.ok(&["unpause", "limited"]);
    assert!(!t.ok(&["ps", "--format", "{{.Status}}"]).contains("Paused"));
    // The pids limit holds for exec'd processes too: they join the container's groups.
    let forks = t.run(&[
        "exec",
        "limited",
        "sh",
        "-c",
        "for i in $(seq 20); do sleep 1 & done; wait",
    ]);
    assert!(
        String::from_utf8_lossy(&forks.stderr).contains("can't fork"),
        "the 12-process limit must bite"
    );
    t.ok(&["rm", "-f", "limited"]);
    assert!(
        cgroup_file("pids", &id, "pids.max").is_empty(),
        "the groups are removed with the container"
    );
    let err = t.fails(&["run", "-m", "lots", "busybox:test", "true"]);
    assert!(err.contains("invalid size"), "{err}");
}

#[test]
fn rename_and_top() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "first",
        "busybox:test",
        "sh",
        "-c",
        "sleep 1001 & sleep 1002",
    ]);
    t.ok(&["run", "-d", "--name", "other", "busybox:test", "sleep", "1003"]);
    t.ok(&["rename", "first", "second"]);
    assert!(t.fails(&["rename", "second", "other"]).contains("already in use"));
    let top = t.ok(&["top", "second"]);
    assert!(
        top.starts_with("UID") && top.contains("sleep 1001") && top.contains("sleep 1002"),
        "{top}"
    );
    assert!(!top.contains("sleep 1003"), "only this container's processes: {top}");
    t.ok(&["rm", "-f", "second", "other"]);
}

#[test]
fn named_and_anonymous_volumes() {
    let t = with_busybox();
    // A new named volume is filled from the image at its path, then keeps its own data.
    let out = t.ok(&[
        "run",
        "--rm",
        "-v",
        "site:/var/www",
        "busybox:test",
        "sh",
        "-c",
        "cat /var/www/index.html; echo more > /var/www/more",
    ]);
    assert_eq!(out, "<h1>hello</h1>\n");
    assert_eq!(
        t.ok(&["run", "--rm", "-v", "site:/srv", "busybox:test", "cat", "/srv/more"]),
        "more\n"
    );
    assert_eq!(t.ok(&["volume", "ls", "-q"]).trim(), "site", "--rm keeps named volumes");
    let doc: serde_json::Value = serde_json::from_str(&t.ok(&["volume", "inspect", "site"])).unwrap();
    let mountpoint = doc[0]["Mountpoint"].as_str().unwrap().to_string();
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&mountpoint).join("more")).unwrap(),
        "more\n"
    );
    // In use: not removable; its contents never reach a commit.
    t.ok(&[
        "run",
        "--name",
        "user",
        "-v",
        "site:/data",
        "busybox:test",
        "sh",
        "-c",
        "echo secret > /data/s",
    ]);
    assert!(t.fails(&["volume", "rm", "site"]).contains("volume is in use"));
    // Inspect shows the volume as Docker does: Type volume, with its name.
    let user: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", "user"])).unwrap();
    let m = &user[0]["Mounts"][0];
    assert_eq!(
        (&m["Type"], &m["Name"], &m["Source"], &m["Destination"], &m["Driver"]),
        (
            &"volume".into(),
            &"site".into(),
            &mountpoint.clone().into(),
            &"/data".into(),
            &"local".into()
        ),
        "{m}"
    );
    t.ok(&["commit", "user", "with-volume:1"]);
    assert!(!t
        .run(&["run", "--rm", "with-volume:1", "test", "-e", "/data/s"])
        .status
        .success());
    // Anonymous volumes: made for -v /path, removed by rm -v (and by --rm).
    t.ok(&[
        "run",
        "--name",
        "anon",
        "-v",
        "/scratch",
        "busybox:test",
        "touch",
        "/scratch/x",
    ]);
    assert_eq!(t.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    t.ok(&["rm", "-v", "anon"]);
    assert_eq!(t.ok(&["volume", "ls", "-q"]).lines().count(), 1);
    t.ok(&["run", "--rm", "-v", "/scratch", "busybox:test", "true"]);
    assert_eq!(t.ok(&["volume", "ls", "-q"]).lines().count(), 1);
    t.ok(&["rm", "user"]);
    t.ok(&["rmi", "with-volume:1"]);
    assert_eq!(t.ok(&["volume", "prune", "-f"]), "", "named volumes stay without -a");
    assert!(t.ok(&["volume", "prune", "-a", "-f"]).contains("site"));
    assert!(t.ok(&["volume", "ls", "-q"]).is_empty());
}

#[test]
fn cp_in_both_directions_never_follows_links_out_of_the_root() {
    let t = with_busybox();
    // The container plants links that point at the host's root if followed naively.
    t.ok(&[
        "run",
        "--name",
        "trap",
        "busybox:test",
        "sh",
        "-c",
        "ln -s / /evil; ln -s /etc/hostsfile-of-host /etc/trap; echo inside > /etc/marker",
    ]);
    let out = t.path("out");
    std::fs::create_dir(&out).unwrap();
    // CVE-2018-15664 class: /evil/etc/passwd is the container's passwd, not the host's.
    t.ok(&["cp", "trap:/evil/etc/passwd", out.join("passwd").to_str().unwrap()]);
    let copied = std::fs::read_to_string(out.join("passwd")).unwrap();
    assert_eq!(
        copied,
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
    );
    // Into the container through the same link: lands in the container's /tmp.
    let host_file = t.path("note");
    std::fs::write(&host_file, "from host").unwrap();
    let witness = std::path::Path::new("/tmp/note");
    let _ = std::fs::remove_file(witness);
    t.ok(&["cp", host_file.to_str().unwrap(), "trap:/evil/tmp/"]);
    assert!(
        !witness.exists(),
        "cp wrote through the container's symlink onto the host"
    );
    // A directory, with its mode, out of a stopped container.
    t.ok(&["cp", "trap:/etc", out.join("etc").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out.join("etc/marker")).unwrap(), "inside\n");
    assert!(
        std::fs::symlink_metadata(out.join("etc/trap"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "links are copied as links"
    );
    let diff = t.ok(&["diff", "trap"]);
    assert!(diff.contains("A /tmp/note"), "{diff}");
    t.ok(&["rm", "trap"]);
}

#[test]
fn cp_sees_the_containers_volumes_and_binds_running_or_stopped() {
    let t = with_busybox();
    let bound = t.path("bound");
    std::fs::create_dir(&bound).unwrap();
    std::fs::write(bound.join("hostfile"), "from the bind\n").unwrap();
    let host_file = t.path("incoming");
    std::fs::write(&host_file, "copied in\n").unwrap();
    let out = t.path("out");
    std::fs::create_dir(&out).unwrap();
    let bind = format!("{}:/bound", bound.display());
    let ro_bind = format!("{}:/ro:ro", bound.display());
    let (incoming, out_str) = (host_file.to_str().unwrap(), out.to_str().unwrap());
    // Other tests mount and unmount meanwhile: count only this store's mounts.
    let store = t.root().display().to_string();
    let mounts = || {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        info.lines().filter(|l| l.contains(&store)).count()
    };

    // Stopped: the volume's and the bind's content, not the image's empty directories.
    let vol = ["-v", "cpdata:/data", "-v", bind.as_str(), "-v", ro_bind.as_str()];
    let mut args = vec!["run", "--name", "stopped"];
    args.extend(vol);
    args.extend(["busybox:test", "sh", "-c", "echo in the volume > /data/f"]);
    t.ok(&args);
    t.ok(&["cp", "stopped:/data/f", out_str]);
    assert_eq!(std::fs::read_to_string(out.join("f")).unwrap(), "in the volume\n");
    t.ok(&["cp", "stopped:/bound/hostfile", out_str]);
    assert_eq!(
        std::fs::read_to_string(out.join("hostfile")).unwrap(),
        "from the bind\n"
    );
    t.ok(&["cp", incoming, "stopped:/bound/"]);
    assert_eq!(std::fs::read_to_string(bound.join("incoming")).unwrap(), "copied in\n");
    t.ok(&["cp", incoming, "stopped:/data/"]);
    let seen = t.ok(&[
        "run",
        "--rm",
        "-v",
        "cpdata:/data",
        "busybox:test",
        "cat",
        "/data/incoming",
    ]);
    assert_eq!(seen, "copied in\n");
    // A read-only bind stays read-only for cp.
    std::fs::remove_file(bound.join("incoming")).unwrap();
    let refused = t.fails(&["cp", incoming, "stopped:/ro/"]);
    assert!(refused.to_lowercase().contains("read-only"), "{refused}");
    assert!(!bound.join("incoming").exists());
    // Nothing stays mounted after a stopped container's cp.
    assert_eq!(mounts(), 0, "cp left mounts behind");

    // Running: the container's own mounts, through its process.
    let mut args = vec!["run", "-d", "--name", "running"];
    args.extend(vol);
    args.extend(["busybox:test", "sleep", "600"]);
    t.ok(&args);
    t.ok(&["cp", incoming, "running:/data/live"]);
    assert_eq!(t.ok(&["exec", "running", "cat", "/data/live"]), "copied in\n");
    t.ok(&["cp", "running:/bound/hostfile", out.join("live").to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out.join("live")).unwrap(), "from the bind\n");
    let refused = t.fails(&["cp", incoming, "running:/ro/"]);
    assert!(refused.to_lowercase().contains("read-only"), "{refused}");
    t.ok(&["rm", "-f", "running", "stopped"]);
}

#[test]
fn no_new_privileges_and_nothing_of_the_engine_inside() {
    let t = with_busybox();
    let nnp = stdout_of(
        &t,
        &[
            "--security-opt",
            "no-new-privileges",
            "busybox:test",
            "grep",
            "NoNewPrivs",
            "/proc/self/status",
        ],
    );
    assert_eq!(nnp.trim(), "NoNewPrivs:\t1");
    assert_eq!(
        stdout_of(&t, &["busybox:test", "grep", "NoNewPrivs", "/proc/self/status"]).trim(),
        "NoNewPrivs:\t0"
    );
    assert!(t
        .fails(&["run", "--security-opt", "seccomp=x", "busybox:test", "true"])
        .contains("invalid --security-opt"));
    // Every process in the container, the exec'd ones too, is the container's program:
    // no /proc/PID/exe inside leads to the engine's binary.
    t.ok(&["run", "-d", "--name", "probe", "busybox:test", "sleep", "1000"]);
    let exes = t.ok(&[
        "exec",
        "probe",
        "sh",
        "-c",
        "for p in /proc/[0-9]*; do readlink $p/exe; done",
    ]);
    assert!(!exes.is_empty());
    assert!(exes.lines().all(|l| l == "/bin/busybox"), "{exes}");
    t.ok(&["rm", "-f", "probe"]);
}

// Regression: GC took a running export's view (`tmp/export-<container id>`) for garbage,
// and could not remove a killed export's still-mounted view.
#[test]
fn gc_spares_live_exports_and_clears_killed_ones() {
    let t = with_busybox();
    // Running: `system prune` removes stopped containers, as Docker's.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "src",
        "busybox:test",
        "sh",
        "-c",
        "echo kept > /kept; sleep 600",
    ]);
    let upper_file = || {
        let upper = t.ok(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "src"]);
        std::path::Path::new(upper.trim()).join("kept")
    };
    let start = std::time::Instant::now();
    while !upper_file().exists() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "/kept never written"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let upper = t
        .ok(&["inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "src"])
        .trim()
        .to_string();
    let lower = t
        .ok(&["inspect", "-f", "{{.GraphDriver.Data.LowerDir}}", "src"])
        .trim()
        .to_string();
    // A killed export: its owner PID is gone and its read-only view is still mounted.
    let killed = t.root().join("tmp/export-999999999-src");
    std::fs::create_dir_all(&killed).unwrap();
    let view = format!("lowerdir={upper}:{lower}");
    harness::host(
        "mount",
        &["-t", "overlay", "overlay", "-o", &view, killed.to_str().unwrap()],
    );
    // A running export: its owner (this test process) is alive.
    let live = t.root().join(format!("tmp/export-{}-src", std::process::id()));
    std::fs::create_dir_all(&live).unwrap();
    t.ok(&["system", "prune", "-f"]);
    assert!(!killed.exists(), "the killed export's view is cleared");
    assert!(live.exists(), "a running export's view is left alone");
    assert_eq!(
        std::fs::read_to_string(std::path::Path::new(&upper).join("kept")).unwrap(),
        "kept\n"
    );
    assert!(t.ok(&["diff", "src"]).contains("A /kept"));
    std::fs::remove_dir(&live).unwrap();
    t.ok(&["rm", "-f", "src"]);
}

#[test]
fn system_prune_volumes_removes_unused_anonymous_volumes_only() {
    let t = with_busybox();
    t.ok(&["volume", "create", "keep"]);
    t.ok(&[
        "run",
        "--name",
        "first",
        "-v",
        "/anon",
        "-v",
        "keep:/k",
        "busybox:test",
        "true",
    ]);
    t.ok(&["rm", "first"]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "second",
        "-v",
        "/inuse",
        "busybox:test",
        "sleep",
        "600",
    ]);
    t.ok(&["run", "--name", "third", "-v", "/stopped", "busybox:test", "true"]);
    assert_eq!(t.ok(&["volume", "ls", "-q"]).lines().count(), 4);
    let out = t.ok(&["system", "prune", "-f", "--volumes"]);
    // As Docker's: the stopped container goes first, and with it the use of its volume.
    assert!(out.contains("Deleted Containers:"), "{out}");
    assert!(out.contains("Deleted Volumes:"), "{out}");
    let left = t.ok(&["volume", "ls", "-q"]);
    assert_eq!(
        left.lines().count(),
        2,
        "the named volume and the one the running container uses stay: {left}"
    );
    assert!(left.contains("keep"));
    assert_eq!(t.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(), "second");
    t.ok(&["rm", "-f", "second"]);
}

#[test]
fn detached_containers_keep_stdin_open_for_attach() {
    let t = with_busybox();
    // `run -di`: stdin stays open (a pipe the monitor holds) until someone attaches.
    t.ok(&[
        "run",
        "-di",
        "--name",
        "reader",
        "busybox:test",
        "sh",
        "-c",
        "read line; echo got:$line; exit 3",
    ]);
    let attached = t.run_with_input(&["attach", "reader"], b"hello\n");
    assert_eq!(String::from_utf8_lossy(&attached.stdout), "got:hello\n");
    assert_eq!(
        attached.status.code(),
        Some(3),
        "attach ends with the container's status"
    );
    assert_eq!(t.ok(&["logs", "reader"]), "got:hello\n");
    // Without -i, attach streams output (stdout and stderr apart) and the exit code.
    t.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        "busybox:test",
        "sh",
        "-c",
        "sleep 1; echo out; echo err >&2; exit 2",
    ]);
    let attached = t.run(&["attach", "talker"]);
    assert_eq!(String::from_utf8_lossy(&attached.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&attached.stderr), "err\n");
    assert_eq!(attached.status.code(), Some(2));
    let stopped = t.run(&["attach", "talker"]);
    assert!(String::from_utf8_lossy(&stopped.stderr).contains("You cannot attach to a stopped container"));
    t.ok(&["rm", "reader", "talker"]);
}

#[test]
fn the_vfs_driver_copies_the_image_and_commits_what_changed() {
    let t = TestRoot::new();
    let tar = t.path("busybox.tar");
    busybox_rootfs(&tar);
    // The root takes the driver it is first given, and keeps it.
    t.ok(&[
        "--storage-driver",
        "vfs",
        "import",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        "busybox:test",
    ]);
    assert!(t.ok(&["system", "info"]).contains("Storage Driver: vfs"));
    let refused = t.fails(&["--storage-driver", "overlay", "images"]);
    assert!(refused.contains("uses the vfs storage driver"), "{refused}");
    let unknown = t.fails(&["--storage-driver", "zfs", "images"]);
    assert!(unknown.contains("unknown storage driver \"zfs\""), "{unknown}");
    t.ok(&["run", "-d", "--name", "web", "busybox:test", "sleep", "600"]);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = t.root().to_string_lossy().into_owned();
    assert!(
        !mounts.lines().any(|l| l.contains(&root) && l.contains(" - overlay ")),
        "no overlay mount with vfs"
    );
    t.ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "echo changed > /var/www/index.html && echo new > /var/www/new.html && rm /bin/vi && mkdir -p /data",
    ]);
    let diff = t.ok(&["diff", "web"]);
    for line in ["C /var/www/index.html", "A /var/www/new.html", "D /bin/vi", "A /data"] {
        assert!(diff.lines().any(|l| l == line), "{line} in {diff}");
    }
    assert!(
        !diff.lines().any(|l| l.contains("/bin/sh")),
        "unchanged files are not listed: {diff}"
    );
    t.ok(&["commit", "-m", "vfs change", "web", "busybox:vfs"]);
    assert_eq!(
        t.ok(&[
            "run",
            "--rm",
            "busybox:vfs",
            "sh",
            "-c",
            "cat /var/www/index.html /var/www/new.html; test -e /bin/vi || echo gone"
        ]),
        "changed\nnew\ngone\n"
    );
    assert_eq!(
        t.ok(&["run", "--rm", "busybox:test", "cat", "/var/www/index.html"]),
        "<h1>hello</h1>\n"
    );
    let graph = t.ok(&["inspect", "-f", "{{.GraphDriver.Name}}", "web"]);
    assert_eq!(graph.trim(), "vfs");
    t.ok(&["stop", "-t", "1", "web"]);
    let export = t.path("web.tar");
    t.ok(&["export", "-o", export.to_str().unwrap(), "web"]);
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&export)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l.trim_start_matches("./") == "var/www/new.html"),
        "{listing}"
    );
    assert!(!listing.lines().any(|l| l.trim_start_matches("./") == "bin/vi"));
    t.ok(&["rm", "web"]);
}

/// `--sysctl` writes into the container's own namespaces, never the host's; what would
/// change the host is refused (exit 125) before anything is created.
#[test]
fn sysctls_are_set_in_the_containers_namespaces_only() {
    let t = with_busybox();
    let host = |f: &str| std::fs::read_to_string(format!("/proc/sys/{f}")).unwrap();
    let (port_start, shmmax) = (host("net/ipv4/ip_unprivileged_port_start"), host("kernel/shmmax"));
    let inside = stdout_of(
        &t,
        &[
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=80",
            "--sysctl",
            "kernel/shmmax=1048576",
            "busybox:test",
            "cat",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
            "/proc/sys/kernel/shmmax",
        ],
    );
    assert_eq!(inside, "80\n1048576\n");
    assert_eq!(host("net/ipv4/ip_unprivileged_port_start"), port_start);
    assert_eq!(host("kernel/shmmax"), shmmax);
    // runc receives the same spec.
    let runc = stdout_of(
        &t,
        &[
            "--runtime",
            "runc",
            "--sysctl",
            "net.ipv4.ip_unprivileged_port_start=81",
            "busybox:test",
            "cat",
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
        ],
    );
    assert_eq!(runc, "81\n");
    t.ok(&[
        "create",
        "--name",
        "sc",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "busybox:test",
    ]);
    assert_eq!(
        t.ok(&["inspect", "-f", "{{json .HostConfig.Sysctls}}", "sc"]).trim(),
        r#"{"net.ipv4.ip_forward":"1"}"#
    );
    t.ok(&["rm", "sc"]);
    for (args, message) in [
        (
            vec!["--sysctl", "kernel.pid_max=10"],
            "is not allowed: it is not namespaced",
        ),
        (
            vec!["--network", "host", "--sysctl", "net.ipv4.ip_forward=0"],
            "is not allowed with --network host",
        ),
        (vec!["--sysctl", "net.ipv4"], "expected KEY=VALUE"),
        (vec!["--sysctl", "net..ipv4=1"], "malformed name"),
    ] {
        let mut all = vec!["run", "--rm"];
        all.extend(args);
        all.extend(["busybox:test", "true"]);
        let out = t.run(&all);
        assert_eq!(out.status.code(), Some(125), "{all:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{all:?}: {out:?}"
        );
    }
    // A parameter this kernel lacks fails the start with its name.
    let missing = run(&t, &["--sysctl", "net.ipv4.no_such_knob=1", "busybox:test", "true"]);
    assert_eq!(missing.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("setting sysctl net.ipv4.no_such_knob=1"));
    assert_eq!(t.ok(&["ps", "-aq"]), "");
}

#[test]
fn restart_keeps_the_container_and_starts_it_detached() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "again",
        "busybox:test",
        "sh",
        "-c",
        "echo run >>/runs; exec sleep 600",
    ]);
    let pid = |t: &TestRoot| t.ok(&["inspect", "-f", "{{.State.Pid}}", "again"]).trim().to_string();
    let first = pid(&t);
    // PID 1 ignores SIGTERM: -t 0 kills it at once.
    assert_eq!(t.ok(&["restart", "-t", "0", "again"]), "again\n");
    assert_ne!(pid(&t), first);
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Status}}", "again"]).trim(), "running");
    // The same writable layer: the first run's line is still there.
    assert_eq!(t.ok(&["exec", "again", "cat", "/runs"]), "run\nrun\n");
    // A stopped container is simply started.
    t.ok(&["stop", "-t", "0", "again"]);
    t.ok(&["restart", "again"]);
    assert_eq!(t.ok(&["exec", "again", "cat", "/runs"]), "run\nrun\nrun\n");
    // Regression: the veth pair of the run before was still on its way out with its
    // namespace ("File exists") when the next start made the same one. Holding the old
    // namespace open keeps that pair there for certain.
    let old_namespace = std::fs::File::open(format!("/proc/{}/ns/net", pid(&t))).unwrap();
    t.ok(&["restart", "-t", "0", "again"]);
    drop(old_namespace);
    assert_eq!(
        t.ok(&["exec", "again", "ls", "/sys/class/net"])
            .split_whitespace()
            .count(),
        2
    );
    let missing = t.run(&["restart", "nosuch"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such container: nosuch"));
    t.ok(&["rm", "-f", "again"]);
}

#[test]
fn info_counts_containers_by_state() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "up", "busybox:test", "sleep", "600"]);
    t.ok(&["run", "-d", "--name", "held", "busybox:test", "sleep", "600"]);
    t.ok(&["pause", "held"]);
    t.ok(&["create", "--name", "idle", "busybox:test", "true"]);
    let counts = "{{.Containers}} {{.ContainersRunning}} {{.ContainersPaused}} {{.ContainersStopped}}";
    assert_eq!(t.ok(&["info", "--format", counts]).trim(), "3 1 1 1");
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Paused}}", "held"]).trim(), "true");
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Paused}}", "up"]).trim(), "false");
    let text = t.ok(&["info"]);
    assert!(
        text.contains("  Paused: 1\n") && text.contains(" Runtimes: strata"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&t.ok(&["info", "--format", "json"])).unwrap();
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    assert_eq!(json["CgroupVersion"], if v2 { "2" } else { "1" });
    assert!(json["NCPU"].as_u64().unwrap() >= 1 && json["MemTotal"].as_u64().unwrap() > 0);
    t.ok(&["unpause", "held"]);
    t.ok(&["rm", "-f", "up", "held", "idle"]);
}

/// This process's capability bounding set, as /proc shows it: what `ALL` grants, since
/// the engine runs with the same.
fn engine_bounding_set() -> String {
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    own.lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn cap_add_and_cap_drop_follow_dockers_rules() {
    let t = with_busybox();
    let effective = |flags: &[&str]| {
        let mut args = flags.to_vec();
        args.extend(["busybox:test", "grep", "CapEff", "/proc/self/status"]);
        stdout_of(&t, &args)
            .trim()
            .trim_start_matches("CapEff:")
            .trim()
            .to_string()
    };
    // Docker's default set, then bit 12 (NET_ADMIN) more, bit 0 (CHOWN) less.
    assert_eq!(effective(&[]), "00000000a80425fb");
    assert_eq!(effective(&["--cap-add", "net_admin"]), "00000000a80435fb");
    assert_eq!(
        effective(&["--cap-add", "CAP_NET_ADMIN", "--cap-drop", "CHOWN"]),
        "00000000a80435fa"
    );
    assert_eq!(effective(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(
        effective(&["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"]),
        "0000000000000400"
    );
    // ALL: every capability the engine itself holds.
    let bounding = engine_bounding_set();
    assert_eq!(effective(&["--cap-add", "ALL"]), bounding);
    assert_eq!(
        effective(&["--runtime", "runc", "--cap-add", "NET_ADMIN"]),
        "00000000a80435fb"
    );
    // What the set means: without CHOWN, chown is refused.
    let denied = run(
        &t,
        &[
            "--cap-drop",
            "CHOWN",
            "busybox:test",
            "sh",
            "-c",
            "touch /x && chown 1 /x",
        ],
    );
    assert_eq!(denied.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"));
    let unknown = run(&t, &["--cap-add", "BOGUS", "busybox:test", "true"]);
    assert_eq!(unknown.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown capability: \"BOGUS\""));
    t.ok(&[
        "create",
        "--name",
        "caps",
        "--cap-add",
        "net_admin",
        "--cap-drop",
        "all",
        "busybox:test",
    ]);
    assert_eq!(
        t.ok(&[
            "inspect",
            "-f",
            "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}",
            "caps"
        ])
        .trim(),
        r#"["CAP_NET_ADMIN"] ["ALL"]"#
    );
    t.ok(&["rm", "caps"]);
}

#[test]
fn labels_come_from_the_image_flags_and_files_and_filter_ps() {
    let t = with_busybox();
    let tar = t.path("busybox.tar");
    t.ok(&[
        "import",
        "-c",
        "LABEL base=yes",
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        "labelled:1",
    ]);
    let file = t.path("labels");
    std::fs::write(&file, "# owners\nowner=ops\n\nteam=overridden\n").unwrap();
    let (label_file, labels) = (file.to_str().unwrap(), "{{json .Config.Labels}}");
    t.ok(&[
        "create",
        "--name",
        "web",
        "--label-file",
        label_file,
        "-l",
        "team=web",
        "--label",
        "tier",
        "labelled:1",
    ]);
    t.ok(&["create", "--name", "db", "-l", "team=db", "labelled:1"]);
    assert_eq!(
        t.ok(&["inspect", "-f", labels, "web"]).trim(),
        r#"{"base":"yes","owner":"ops","team":"web","tier":""}"#
    );
    let names = |filter: &str| t.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    assert_eq!(names("label=team=web"), "web\n");
    assert_eq!(names("label=tier"), "web\n");
    assert_eq!(names("label=base=yes").lines().count(), 2);
    assert_eq!(names("label=team=none"), "");
    assert_eq!(
        t.ok(&["ps", "-a", "--filter", "name=db", "--format", "{{.Labels}}"]),
        "base=yes,team=db\n"
    );
    // A commit keeps them, as Docker's.
    t.ok(&["commit", "web", "labelled:2"]);
    assert!(t
        .ok(&["inspect", "-f", labels, "labelled:2"])
        .contains(r#""team":"web""#));
    assert!(t.fails(&["create", "-l", "=x", "labelled:1"]).contains("empty name"));
    t.ok(&["rm", "web", "db"]);
}

#[test]
fn privileged_containers_get_every_capability_and_device_and_nothing_masked() {
    let t = with_busybox();
    let probe = "grep CapEff /proc/self/status; ls /dev/loop-control 2>&1; grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; \
                 mkdir /m && mount -t tmpfs none /m 2>/dev/null && echo mounted; grep -c . /proc/timer_list";
    let bounding = engine_bounding_set();
    let host_has_loop = std::path::Path::new("/dev/loop-control").exists();
    for runtime in ["strata", "runc"] {
        let privileged = stdout_of(
            &t,
            &["--runtime", runtime, "--privileged", "busybox:test", "sh", "-c", probe],
        );
        let lines: Vec<&str> = privileged.lines().collect();
        assert_eq!(lines[0], format!("CapEff:\t{bounding}"), "{runtime}: {privileged}");
        if host_has_loop {
            assert_eq!(
                lines[1], "/dev/loop-control",
                "{runtime}: the host's devices: {privileged}"
            );
        }
        assert_eq!(lines[2], "rw", "{runtime}: /sys writable: {privileged}");
        assert_eq!(lines[3], "mounted", "{runtime}: {privileged}");
        assert_ne!(lines[4], "0", "{runtime}: /proc/timer_list not masked: {privileged}");
        let plain = run(&t, &["--runtime", runtime, "busybox:test", "sh", "-c", probe]);
        let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
        let lines: Vec<&str> = plain.lines().collect();
        assert_eq!(lines[0], "CapEff:\t00000000a80425fb", "{runtime}: {plain}");
        assert!(lines[1].contains("No such file"), "{runtime}: {plain}");
        assert_eq!(lines[2], "ro", "{runtime}: {plain}");
        assert!(!plain.contains("mounted"), "{runtime}: {plain}");
    }
    t.ok(&["create", "--name", "priv", "--privileged", "busybox:test"]);
    assert_eq!(
        t.ok(&["inspect", "-f", "{{.HostConfig.Privileged}}", "priv"]).trim(),
        "true"
    );
    t.ok(&["rm", "priv"]);
}

#[test]
fn stats_reads_each_containers_groups() {
    let t = with_busybox();
    let fill = "dd if=/dev/zero of=/dev/shm/x bs=1M count=20 2>/dev/null; touch /filled; while :; do :; done";
    t.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "-m",
        "64m",
        "busybox:test",
        "sh",
        "-c",
        fill,
    ]);
    t.ok(&[
        "run",
        "-d",
        "--name",
        "quiet",
        "--runtime",
        "runc",
        "busybox:test",
        "sleep",
        "600",
    ]);
    t.ok(&["create", "--name", "off", "busybox:test", "true"]);
    for _ in 0..200 {
        if t.run(&["exec", "busy", "test", "-e", "/filled"]).status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rows: std::collections::HashMap<String, serde_json::Value> = t
        .ok(&["stats", "--no-stream", "-a", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| (v["Name"].as_str().unwrap().to_string(), v))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let busy = &rows["busy"];
    let cpu: f64 = busy["CPUPerc"].as_str().unwrap().trim_end_matches('%').parse().unwrap();
    assert!(cpu > 0.0, "a busy loop uses CPU: {busy}");
    let memory = busy["MemUsage"].as_str().unwrap();
    let (used, limit) = memory.split_once(" / ").unwrap();
    assert_eq!(limit, "64MiB", "{busy}");
    assert!(
        used.ends_with("MiB") && used.trim_end_matches("MiB").parse::<f64>().unwrap() >= 20.0,
        "{busy}"
    );
    assert_ne!(busy["PIDs"], "0", "{busy}");
    // runc's groups are found through its init's /proc/PID/cgroup.
    assert_eq!(rows["quiet"]["PIDs"], "1", "{rows:?}");
    assert_eq!(rows["off"]["MemUsage"], "0B / 0B");
    let table = t.ok(&["stats", "--no-stream"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    assert!(!table.contains("off"), "stopped containers only with -a: {table}");
    t.ok(&["rm", "-f", "busy", "quiet", "off"]);
}

#[test]
fn mount_flag_gives_binds_volumes_and_tmpfs() {
    let t = with_busybox();
    let src = t.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "hello\n").unwrap();
    let bind = format!("type=bind,source={},target=/data,readonly", src.display());
    let out = stdout_of(
        &t,
        &[
            "--mount", &bind, "--mount", "type=volume,src=kept,dst=/v", "--mount", "type=tmpfs,destination=/t,tmpfs-size=1m",
            "busybox:test", "sh", "-c",
            "cat /data/f; touch /data/g 2>/dev/null || echo read-only; echo x >/v/y; grep ' /t ' /proc/mounts | cut -d' ' -f3,4",
        ],
    );
    assert_eq!(
        out,
        "hello\nread-only\ntmpfs rw,nosuid,nodev,noexec,relatime,size=1024k\n"
    );
    // The named volume outlives the container and keeps what was written.
    assert_eq!(
        stdout_of(&t, &["--mount", "source=kept,target=/v", "busybox:test", "cat", "/v/y"]),
        "x\n"
    );
    for (spec, why) in [
        (
            "type=bind,source=/no/such/dir,target=/x".to_string(),
            "bind source path does not exist",
        ),
        ("type=bind,src=relative,target=/x".into(), "absolute source path"),
        ("type=nfs,target=/x".into(), "is not one of bind, volume, tmpfs"),
        ("type=tmpfs,target=relative".into(), "target must be an absolute path"),
        (
            format!("type=bind,source={},target=/x,color=red", src.display()),
            "unknown field",
        ),
    ] {
        let out = run(&t, &["--mount", &spec, "busybox:test", "true"]);
        assert_eq!(out.status.code(), Some(125), "{spec}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{spec}: {out:?}");
    }
    assert_eq!(t.ok(&["ps", "-aq"]), "");
    t.ok(&["volume", "rm", "kept"]);
}

#[test]
fn the_foreground_run_passes_its_signals_to_the_container() {
    use std::io::{BufRead, BufReader, Read};
    let t = with_busybox();
    let mut cli = t
        .cmd()
        .args(["run", "--rm", "busybox:test", "sh", "-c"])
        .arg("trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.05; done")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The shell installs its trap before it prints.
    let mut out = BufReader::new(cli.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(cli.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    // Bounded: a signal that is lost leaves the container looping for ever.
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = cli.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = cli.kill();
            panic!("SIGTERM never reached the container");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(rest, "got TERM\n");
    assert_eq!(t.ok(&["ps", "-aq"]), "", "--rm: gone once the command returned");
}
