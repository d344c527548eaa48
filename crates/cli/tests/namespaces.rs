//! `--pid host|container:NAME`, `--ipc host|private|shareable|container:NAME`, `--uts`,
//! `--cgroupns`, `--userns` and `--volumes-from` (issue 18), as compose files use them;
//! what strata does not do is refused by name.

mod harness;

use harness::service::{clients, with_busybox, Service};

#[test]
fn pid_host_sees_the_hosts_processes_and_ipc_host_its_shared_memory() {
    let t = with_busybox();
    let own = t.ok(&["run", "--rm", "busybox:test", "sh", "-c", "ps -o pid | wc -l"]);
    assert!(own.trim().parse::<u32>().unwrap() < 5, "its own PID namespace: {own}");
    let host = t.ok(&[
        "run",
        "--rm",
        "--pid",
        "host",
        "busybox:test",
        "sh",
        "-c",
        "ps -o pid | wc -l",
    ]);
    assert!(host.trim().parse::<u32>().unwrap() > 10, "the host's processes: {host}");
    let marker = format!("/dev/shm/strata-ipc-test-{}", std::process::id());
    std::fs::write(&marker, "shared").unwrap();
    let seen = t.run(&["run", "--rm", "--ipc", "host", "busybox:test", "cat", &marker]);
    let _ = std::fs::remove_file(&marker);
    assert_eq!(String::from_utf8_lossy(&seen.stdout), "shared", "the host's /dev/shm");
    let private = t.run(&["run", "--rm", "--ipc", "shareable", "busybox:test", "ls", "/dev/shm"]);
    assert!(
        private.status.success() && private.stdout.is_empty(),
        "its own, empty /dev/shm"
    );
    for (flags, words) in [
        (&["--pid", "container:other"][..], "No such container: other"),
        (&["--ipc", "container:other"][..], "No such container: other"),
        (&["--ipc", "sometimes"][..], "invalid --ipc"),
        (&["--ipc", "none"][..], "--ipc none is not supported"),
    ] {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.extend(["busybox:test", "true"]);
        let e = t.fails(&args);
        assert!(e.contains(words), "{flags:?}: {e}");
    }
}

#[test]
fn volumes_from_mounts_the_other_containers_volumes_and_binds() {
    let t = with_busybox();
    let host_dir = t.path("shared");
    std::fs::create_dir_all(&host_dir).unwrap();
    let bind = format!("{}:/bound", host_dir.display());
    t.ok(&[
        "create",
        "--name",
        "data",
        "-v",
        "named:/named",
        "-v",
        "/anon",
        "-v",
        &bind,
        "busybox:test",
        "true",
    ]);
    t.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "data",
        "busybox:test",
        "sh",
        "-c",
        "echo n > /named/f; echo a > /anon/f; echo b > /bound/f",
    ]);
    assert_eq!(std::fs::read_to_string(host_dir.join("f")).unwrap(), "b\n");
    let read = t.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "data:ro",
        "busybox:test",
        "sh",
        "-c",
        "cat /named/f /anon/f; touch /named/g 2>&1 || echo refused",
    ]);
    assert!(
        read.starts_with("n\na\n") && read.contains("refused"),
        "the same volumes, read-only: {read}"
    );
    let e = t.fails(&["volume", "rm", "named"]);
    assert!(e.contains("in use") || e.contains("data"), "{e}");
    t.ok(&["rm", "-v", "data"]);
}

#[test]
fn docker_namespace_flags_work_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        let host = service.docker_ok(&[
            "run",
            "--rm",
            "--pid",
            "host",
            "busybox:test",
            "sh",
            "-c",
            "ps -o pid | wc -l",
        ]);
        assert!(host.trim().parse::<u32>().unwrap() > 10, "{client}: {host}");
        service.docker_ok(&["create", "--name", "vols", "-v", "apivol:/data", "busybox:test", "true"]);
        let out = service.docker_ok(&[
            "run",
            "--rm",
            "--volumes-from",
            "vols",
            "busybox:test",
            "sh",
            "-c",
            "echo ok > /data/x && cat /data/x",
        ]);
        assert_eq!(out, "ok\n", "{client}");
        service.docker_ok(&["rm", "-v", "vols"]);
        service.docker_ok(&["volume", "rm", "apivol"]);
    }
}

/// The inode of a namespace of the container's first process, as the container sees it.
fn namespace(t: &harness::TestRoot, container: &str, kind: &str) -> String {
    t.ok(&["exec", container, "readlink", &format!("/proc/1/ns/{kind}")])
        .trim()
        .to_string()
}

#[test]
fn pid_container_sees_the_other_containers_processes() {
    let t = with_busybox();
    t.ok(&["run", "-d", "--name", "pid-donor", "busybox:test", "sleep", "612"]);
    let seen = t.ok(&[
        "run",
        "--rm",
        "--pid",
        "container:pid-donor",
        "busybox:test",
        "ps",
        "-o",
        "pid,args",
    ]);
    assert!(seen.contains("sleep 612"), "the donor's process: {seen}");
    // The donor's init is PID 1 there; the joiner is not.
    assert!(
        seen.lines()
            .any(|l| l.trim().starts_with("1 ") && l.contains("sleep 612")),
        "{seen}"
    );
    t.ok(&[
        "run",
        "-d",
        "--name",
        "pid-joiner",
        "--pid",
        "container:pid-donor",
        "busybox:test",
        "sleep",
        "613",
    ]);
    assert_eq!(namespace(&t, "pid-joiner", "pid"), namespace(&t, "pid-donor", "pid"));
    let mode = t.ok(&["inspect", "-f", "{{.HostConfig.PidMode}}", "pid-joiner"]);
    let donor_id = t.ok(&["inspect", "-f", "{{.Id}}", "pid-donor"]);
    assert_eq!(mode.trim(), format!("container:{}", donor_id.trim()));
    t.ok(&["rm", "-f", "pid-joiner", "pid-donor"]);
    t.ok(&["create", "--name", "pid-stopped", "busybox:test", "true"]);
    let e = t.fails(&["run", "--rm", "--pid", "container:pid-stopped", "busybox:test", "true"]);
    assert!(e.contains("non running container"), "{e}");
}

#[test]
fn ipc_container_shares_the_shareable_donors_namespace_and_dev_shm() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "ipc-donor",
        "--ipc",
        "shareable",
        "busybox:test",
        "sh",
        "-c",
        "echo from-donor > /dev/shm/note; sleep 614",
    ]);
    let donor_id = t.ok(&["inspect", "-f", "{{.Id}}", "ipc-donor"]).trim().to_string();
    let shm = t.root().join("containers").join(&donor_id).join("shm");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(shm.to_str().unwrap()))
    };
    assert!(mounted(), "a shareable /dev/shm is mounted on the host side");
    let mut note = String::new();
    for _ in 0..600 {
        note = t.ok(&[
            "run",
            "--rm",
            "--ipc",
            "container:ipc-donor",
            "busybox:test",
            "cat",
            "/dev/shm/note",
        ]);
        if !note.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(note.trim(), "from-donor");
    t.ok(&[
        "run",
        "-d",
        "--name",
        "ipc-joiner",
        "--ipc",
        "container:ipc-donor",
        "busybox:test",
        "sh",
        "-c",
        "echo from-joiner > /dev/shm/reply; sleep 615",
    ]);
    assert_eq!(namespace(&t, "ipc-joiner", "ipc"), namespace(&t, "ipc-donor", "ipc"));
    let mut reply = String::new();
    for _ in 0..600 {
        reply = String::from_utf8_lossy(&t.run(&["exec", "ipc-donor", "cat", "/dev/shm/reply"]).stdout).to_string();
        if !reply.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(reply.trim(), "from-joiner", "both see one /dev/shm");
    t.ok(&["rm", "-f", "ipc-joiner", "ipc-donor"]);
    assert!(!mounted(), "unmounted once the donor is gone");
    // A private container's /dev/shm cannot be joined; a stopped one neither.
    t.ok(&["run", "-d", "--name", "ipc-private", "busybox:test", "sleep", "616"]);
    let e = t.fails(&["run", "--rm", "--ipc", "container:ipc-private", "busybox:test", "true"]);
    assert!(e.contains("not shareable"), "{e}");
    t.ok(&["rm", "-f", "ipc-private"]);
}

#[test]
fn uts_host_cgroupns_private_and_userns_host_behave_as_dockers() {
    let t = with_busybox();
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let seen = t.ok(&["run", "--rm", "--uts", "host", "busybox:test", "hostname"]);
    assert_eq!(seen.trim(), host_name);
    let domain = t.ok(&[
        "run",
        "--rm",
        "--domainname",
        "example.test",
        "busybox:test",
        "cat",
        "/proc/sys/kernel/domainname",
    ]);
    assert_eq!(domain.trim(), "example.test");
    let e = t.fails(&["create", "--uts", "host", "--hostname", "h", "busybox:test", "true"]);
    assert!(e.contains("conflicting options"), "{e}");
    // The container's own group is the root of a private cgroup namespace.
    let private = t.ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "private",
        "busybox:test",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(private.lines().all(|l| l.ends_with(":/")), "{private}");
    let host = t.ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "host",
        "busybox:test",
        "cat",
        "/proc/self/cgroup",
    ]);
    assert!(host.contains("/strata/"), "{host}");
    t.ok(&["run", "--rm", "--userns", "host", "busybox:test", "true"]);
    let e = t.fails(&["create", "--userns", "remap", "busybox:test", "true"]);
    assert!(e.contains("--userns remap is not supported"), "{e}");
    let e = t.fails(&["create", "--cgroupns", "shared", "busybox:test", "true"]);
    assert!(e.contains("invalid --cgroupns"), "{e}");
}
