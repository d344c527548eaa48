//! `--device HOST[:CONTAINER[:PERMISSIONS]]` (issue 18): the host's device node appears in
//! the container, and the device cgroup grants it only the permissions given.

mod harness;

use harness::service::{clients, with_busybox, Service};

/// A character device of the host no container gets by default.
fn spare_device() -> &'static str {
    ["/dev/fuse", "/dev/loop-control"]
        .into_iter()
        .find(|d| std::path::Path::new(d).exists())
        .expect("this machine has /dev/fuse or /dev/loop-control")
}

const PROBE: &str = "ls -l /dev/given | cut -c1; exec 3</dev/given && echo read-ok; (exec 4<>/dev/given) 2>/dev/null && echo write-ok || echo write-refused";

#[test]
fn a_device_is_given_with_only_its_permissions() {
    let t = with_busybox();
    let device = spare_device();
    let read_only = format!("{device}:/dev/given:r");
    let out = t.ok(&["run", "--rm", "--device", &read_only, "busybox:test", "sh", "-c", PROBE]);
    assert_eq!(out, "c\nread-ok\nwrite-refused\n");
    let read_write = format!("{device}:/dev/given:rw");
    let out = t.ok(&[
        "run",
        "--rm",
        "--device",
        &read_write,
        "busybox:test",
        "sh",
        "-c",
        PROBE,
    ]);
    assert_eq!(out, "c\nread-ok\nwrite-ok\n");
    let absent = t.run(&["run", "--rm", "busybox:test", "ls", device]);
    assert!(!absent.status.success(), "not there without --device");
    let e = t.fails(&[
        "run",
        "--rm",
        "--device",
        "/etc/hostname:/dev/h",
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("not a character or block device"), "{e}");
    let e = t.fails(&[
        "create",
        "--device",
        &format!("{device}:/dev/x:rwz"),
        "busybox:test",
        "true",
    ]);
    assert!(e.contains("permissions are letters of rwm"), "{e}");
}

#[test]
fn docker_run_device_works_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    let read_only = format!("{}:/dev/given:r", spare_device());
    for client in clients() {
        service.client = client;
        let out = service.docker_ok(&["run", "--rm", "--device", &read_only, "busybox:test", "sh", "-c", PROBE]);
        assert_eq!(out, "c\nread-ok\nwrite-refused\n", "{client}");
    }
}
