//! `run --init` (issue 18): strata's own init is the container's PID 1, as Docker's
//! docker-init (tini): it forwards signals to the command, reaps orphans, and exits with
//! the command's status.

mod harness;

use harness::service::{clients, with_busybox, Service};
use harness::TestRoot;
use std::time::{Duration, Instant};

fn wait_for_log(t: &TestRoot, name: &str, wanted: &str) {
    let start = Instant::now();
    while !t.ok(&["logs", name]).contains(wanted) {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{name} never logged {wanted:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_init_is_pid_1_and_exits_with_the_commands_status() {
    let t = with_busybox();
    let out = t.ok(&[
        "run",
        "--rm",
        "--init",
        "busybox:test",
        "sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline; echo",
    ]);
    assert!(out.starts_with("/sbin/docker-init -- sh -c"), "{out}");
    let code = t
        .run(&["run", "--rm", "--init", "busybox:test", "sh", "-c", "exit 7"])
        .status
        .code();
    assert_eq!(code, Some(7));
    let killed = t
        .run(&["run", "--rm", "--init", "busybox:test", "sh", "-c", "kill -9 $$"])
        .status
        .code();
    assert_eq!(killed, Some(137), "128 + the signal that killed the command");
}

#[test]
fn the_init_forwards_stop_to_a_command_that_ignores_signals_as_pid_1() {
    let t = with_busybox();
    // `sleep` as PID 1 would ignore SIGTERM (no handler), and stop would wait 60 s to
    // kill it (137); under the init it is a child, and SIGTERM ends it (143).
    t.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "sleeper",
        "busybox:test",
        "sleep",
        "1000",
    ]);
    t.ok(&["stop", "-t", "60", "sleeper"]);
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.ExitCode}}", "sleeper"]).trim(), "143");
    t.ok(&["rm", "sleeper"]);
}

#[test]
fn the_init_reaps_orphans() {
    let t = with_busybox();
    // The inner shell leaves a `sleep` behind: orphaned, it goes to PID 1 when it ends.
    t.ok(&[
        "run",
        "-d",
        "--init",
        "--name",
        "parent",
        "busybox:test",
        "sh",
        "-c",
        "sh -c 'sleep 0.2 &'; sleep 1; echo checked; sleep 600",
    ]);
    wait_for_log(&t, "parent", "checked");
    let states = t.ok(&["exec", "parent", "ps", "-o", "stat,args"]);
    assert!(
        !states.lines().any(|l| l.trim_start().starts_with('Z')),
        "a zombie was left: {states}"
    );
    t.ok(&["rm", "-f", "parent"]);
}

#[test]
fn docker_run_init_works_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in clients() {
        service.client = client;
        let out = service.docker_ok(&[
            "run",
            "--rm",
            "--init",
            "busybox:test",
            "sh",
            "-c",
            "cat /proc/1/cmdline",
        ]);
        assert!(out.starts_with("/sbin/docker-init"), "{client}: {out}");
        service.docker_ok(&[
            "run",
            "-d",
            "--init",
            "--name",
            "api-init",
            "busybox:test",
            "sleep",
            "1000",
        ]);
        let init = service.docker_ok(&["inspect", "-f", "{{.HostConfig.Init}}", "api-init"]);
        assert_eq!(init.trim(), "true", "{client}");
        service.docker_ok(&["stop", "-t", "60", "api-init"]);
        let code = service.docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", "api-init"]);
        assert_eq!(code.trim(), "143", "{client}");
        service.docker_ok(&["rm", "api-init"]);
    }
}
