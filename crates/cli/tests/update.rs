//! `update` (issue 18): the resources and the restart policy of a running or stopped
//! container change, in its cgroups at once when it runs; over the Engine API too.

mod harness;

use harness::service::{clients, with_busybox, Service};
use harness::TestRoot;
use std::time::{Duration, Instant};

fn cgroup(t: &TestRoot, name: &str, controller: &str, file: &str) -> String {
    let id = t.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string();
    let path = format!("/sys/fs/cgroup/{controller}/strata/{id}/{file}");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

fn v1() -> bool {
    std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
}

#[test]
fn update_changes_a_running_containers_cgroups_and_a_stopped_ones_config() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "grow",
        "--memory",
        "64m",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let out = t.ok(&[
        "update",
        "--memory",
        "128m",
        "--memory-swap",
        "256m",
        "--cpu-shares",
        "256",
        "--pids-limit",
        "50",
        "grow",
    ]);
    assert_eq!(out, "grow\n");
    let mib = 1 << 20;
    if v1() {
        assert_eq!(
            cgroup(&t, "grow", "memory", "memory.limit_in_bytes"),
            (128 * mib).to_string()
        );
        assert_eq!(
            cgroup(&t, "grow", "memory", "memory.memsw.limit_in_bytes"),
            (256 * mib).to_string()
        );
        assert_eq!(cgroup(&t, "grow", "cpu", "cpu.shares"), "256");
        assert_eq!(cgroup(&t, "grow", "pids", "pids.max"), "50");
    }
    let host = t.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}}",
        "grow",
    ]);
    assert_eq!(host.trim(), format!("{} 256 50", 128 * mib));
    t.ok(&["stop", "-t", "1", "grow"]);
    t.ok(&["update", "--cpu-shares", "512", "grow"]);
    t.ok(&["start", "grow"]);
    if v1() {
        assert_eq!(
            cgroup(&t, "grow", "cpu", "cpu.shares"),
            "512",
            "applied at the next start"
        );
    }
    let refused = t.fails(&["update", "--memory-swap", "32m", "grow"]);
    assert!(refused.contains("must be at least --memory"), "{refused}");
    t.ok(&["rm", "-f", "grow"]);
}

#[test]
fn update_restart_applies_to_the_next_exit_of_a_running_container() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "busybox:test",
        "sh",
        "-c",
        "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 3",
    ]);
    t.ok(&["update", "--restart", "on-failure:2", "flaky"]);
    t.ok(&["exec", "flaky", "touch", "/tmp/go"]);
    let start = Instant::now();
    loop {
        let state = t.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.RestartCount}} {{.HostConfig.RestartPolicy.Name}}",
            "flaky",
        ]);
        if state.trim() == "exited 2 on-failure" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "restarted twice, then left exited: {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.ok(&["rm", "flaky"]);
}

#[test]
fn docker_update_works_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        service.docker_ok(&["run", "-d", "--name", "api-up", "busybox:test", "sleep", "600"]);
        service.docker_ok(&["update", "--cpu-shares", "300", "--restart", "always", "api-up"]);
        let host = service.docker_ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.CpuShares}} {{.HostConfig.RestartPolicy.Name}}",
            "api-up",
        ]);
        assert_eq!(host.trim(), "300 always", "{client}");
        if v1() {
            assert_eq!(cgroup(&t, "api-up", "cpu", "cpu.shares"), "300", "{client}");
        }
        let bad = service.docker(&["update", "--kernel-memory", "10m", "api-up"]);
        assert!(
            !bad.status.success(),
            "{client}: a setting strata cannot change is refused"
        );
        service.docker_ok(&["rm", "-f", "api-up"]);
    }
}
