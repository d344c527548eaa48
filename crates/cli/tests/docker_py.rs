//! The Python Docker SDK (PyPI's docker, pinned in scripts/docker-py.sh, which the test
//! command runs) against strata's Engine API service: `containers.run(detach=True)`
//! with a healthcheck, `init=True` and a `nofile` ulimit, then `container.update` of
//! the memory limit, CPU shares and restart policy (the checks are in
//! tests/docker_py/run_health_init_ulimits_update.py).

mod harness;

use harness::service::{with_busybox, Service};
use std::path::PathBuf;

/// The virtual environment scripts/docker-py.sh makes at the repository's root.
fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-docker-py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/docker-py.sh (scripts/test.sh runs it) to install the Python Docker SDK",
        python.display()
    );
    python
}

#[test]
fn docker_py_runs_a_healthy_container_with_init_and_ulimits_then_updates_it() {
    let python = python();
    let t = with_busybox();
    let service = Service::start(&t);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/docker_py/run_health_init_ulimits_update.py");
    let out = std::process::Command::new(&python)
        .arg(&script)
        .arg("busybox:test")
        .env("DOCKER_HOST", format!("unix://{}", service.socket.display()))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "docker-py failed ({}):\nstdout: {stdout}\nstderr: {stderr}\nservice log: {}",
        out.status,
        service.log_text()
    );
    assert!(t.ok(&["ps", "-aq"]).is_empty(), "the script removed its container");
}
