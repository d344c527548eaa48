//! Health checks as Docker runs them: from `--health-*` or the image's HEALTHCHECK, run
//! by the container's monitor as execs, shown by `inspect` (`State.Health`), `ps`
//! ("(healthy)") and `ps --filter health=`, announced by `health_status` events; over
//! the Engine API too. Waits are generous bounds on states, never timings.

mod harness;

use harness::service::{with_busybox, Service};
use harness::TestRoot;
use serde_json::Value;
use std::time::{Duration, Instant};

const BOUND: Duration = Duration::from_secs(90);

fn health(t: &TestRoot, name: &str) -> Value {
    let doc: Value = serde_json::from_str(&t.ok(&["inspect", name])).unwrap();
    doc[0]["State"]["Health"].clone()
}

/// Waits for the container's health status to be `status`; its health then.
fn wait_for(t: &TestRoot, name: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let h = health(t, name);
        if h["Status"] == status {
            return h;
        }
        assert!(start.elapsed() < BOUND, "{name} not {status} within {BOUND:?}: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ps(t: &TestRoot, filter: &str) -> String {
    t.ok(&["ps", "--filter", filter, "--format", "{{.Names}} {{.Status}}"])
}

#[test]
fn a_failing_check_makes_a_container_unhealthy_and_a_passing_one_healthy() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "test -e /tmp/ready && echo fine",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let unhealthy = wait_for(&t, "web", "unhealthy");
    assert!(unhealthy["FailingStreak"].as_i64().unwrap() >= 2, "{unhealthy}");
    assert_eq!(unhealthy["Log"].as_array().unwrap().last().unwrap()["ExitCode"], 1);
    assert!(ps(&t, "health=unhealthy").starts_with("web Up"), "ps --filter health=");
    assert!(ps(&t, "health=unhealthy").trim_end().ends_with("(unhealthy)"));

    t.ok(&["exec", "web", "touch", "/tmp/ready"]);
    let healthy = wait_for(&t, "web", "healthy");
    assert_eq!(healthy["FailingStreak"], 0);
    let last = healthy["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["ExitCode"].clone(), last["Output"].clone()),
        (0.into(), "fine\n".into())
    );
    assert!(ps(&t, "health=healthy").trim_end().ends_with("(healthy)"));
    assert_eq!(ps(&t, "health=unhealthy").trim(), "");
    // Five results at most; no exec of a check is kept.
    std::thread::sleep(Duration::from_secs(6));
    assert!(health(&t, "web")["Log"].as_array().unwrap().len() <= 5);
    let execs = std::fs::read_dir(t.root().join("containers").join(id(&t, "web")).join("execs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(execs <= 3, "the execs of past checks are gone ({execs} files left)");

    let events = t.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "event=health_status",
    ]);
    let unhealthy_at = events.find("health_status: unhealthy").expect(&events);
    let healthy_at = events.find("health_status: healthy").expect(&events);
    assert!(unhealthy_at < healthy_at, "{events}");
    t.ok(&["rm", "-f", "web"]);
}

fn id(t: &TestRoot, name: &str) -> String {
    t.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string()
}

#[test]
fn a_check_that_hangs_is_killed_at_its_timeout_and_counted_as_a_failure() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "stuck",
        "--health-cmd",
        "sleep 1000",
        "--health-timeout",
        "1s",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let h = wait_for(&t, "stuck", "unhealthy");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], -1, "{h}");
    assert_eq!(last["Output"], "Health check exceeded timeout (1s)");
    // Each hung check was killed: at most the current one sleeps.
    let sleeping = t.ok(&[
        "exec",
        "stuck",
        "sh",
        "-c",
        "ps -o args | grep -c '^sleep 1000' || true",
    ]);
    assert!(sleeping.trim().parse::<u32>().unwrap() <= 1, "{sleeping}");
    t.ok(&["rm", "-f", "stuck"]);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let t = with_busybox();
    t.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "false",
        "--health-start-period",
        "10m",
        "--health-start-interval",
        "1s",
        "--health-retries",
        "1",
        "busybox:test",
        "sleep",
        "600",
    ]);
    let start = Instant::now();
    let h = loop {
        let h = health(&t, "slow");
        if h["Log"].as_array().is_some_and(|l| l.len() >= 3) {
            break h;
        }
        assert!(start.elapsed() < BOUND, "no checks ran: {h}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (h["Status"].clone(), h["FailingStreak"].clone()),
        ("starting".into(), 0.into()),
        "{h}"
    );
    assert!(ps(&t, "health=starting").contains("(health: starting)"));
    t.ok(&["rm", "-f", "slow"]);
}

#[test]
fn the_images_healthcheck_runs_unless_turned_off() {
    let t = with_busybox();
    let context = t.path("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM busybox:test\nHEALTHCHECK --interval=1s --retries=1 CMD true\n",
    )
    .unwrap();
    t.ok(&["build", "-q", "-t", "checked:1", context.to_str().unwrap()]);
    t.ok(&["run", "-d", "--name", "from-image", "checked:1", "sleep", "600"]);
    wait_for(&t, "from-image", "healthy");
    t.ok(&[
        "run",
        "-d",
        "--name",
        "off",
        "--no-healthcheck",
        "checked:1",
        "sleep",
        "600",
    ]);
    assert!(health(&t, "off").is_null(), "no State.Health without a check");
    let unchecked = ps(&t, "health=none");
    assert_eq!(unchecked.split_whitespace().next(), Some("off"), "{unchecked}");
    assert!(!unchecked.contains('('), "no health in the status: {unchecked}");
    let refused = t.fails(&["run", "--no-healthcheck", "--health-cmd", "true", "checked:1", "true"]);
    assert!(refused.contains("--no-healthcheck conflicts"), "{refused}");
    t.ok(&["rm", "-f", "from-image", "off"]);
}

#[test]
fn docker_run_health_flags_work_over_the_engine_api() {
    let t = with_busybox();
    let mut service = Service::start(&t);
    for client in harness::service::clients() {
        service.client = client;
        service.docker_ok(&[
            "run",
            "-d",
            "--name",
            "api-checked",
            "--health-cmd",
            "true",
            "--health-interval",
            "1s",
            "busybox:test",
            "sleep",
            "600",
        ]);
        wait_for(&t, "api-checked", "healthy");
        let status = service.docker_ok(&["inspect", "-f", "{{.State.Health.Status}}", "api-checked"]);
        assert_eq!(status.trim(), "healthy", "{client}");
        let listed = service.docker_ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}"]);
        assert!(
            listed.trim_end().ends_with("(healthy)") && listed.starts_with("api-checked"),
            "{client}: {listed}"
        );
        service.docker_ok(&["rm", "-f", "api-checked"]);
    }
}
