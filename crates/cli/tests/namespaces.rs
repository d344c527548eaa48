//! `--pid host`, `--ipc host|private|shareable` and `--volumes-from` (issue 18), as
//! compose files use them; what strata does not do yet is refused by name.

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
        (
            &["--pid", "container:other"][..],
            "--pid container:other is not supported",
        ),
        (
            &["--ipc", "container:other"][..],
            "--ipc container:other is not supported",
        ),
        (&["--ipc", "sometimes"][..], "invalid --ipc"),
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
