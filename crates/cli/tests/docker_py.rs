//! The Python Docker SDK (PyPI's docker) and testcontainers-python, both pinned in
//! scripts/docker-py.sh (which the test command runs), against strata's Engine API
//! service: each test runs a script of tests/docker_py/ with DOCKER_HOST pointing at a
//! service on a fresh root with the local busybox image (never a network image):
//! - run_health_init_ulimits_update.py: `containers.run(detach=True)` with a
//!   healthcheck, `init=True` and a `nofile` ulimit, then `container.update`;
//! - containers.py: run attached and detached, logs followed to the exit, exec (also
//!   the low-level exec_create/exec_start), put_archive/get_archive, wait, stats, stop,
//!   remove;
//! - images.py: tag, push to and pull from a local registry (Debian's
//!   docker-registry on 127.0.0.1), build (POST /build), save and load;
//! - networks_volumes.py: a user network reached by name, connect with an alias,
//!   disconnect, remove; a named volume shared by containers, read-only, in use;
//! - testcontainers_busybox.py: testcontainers' DockerContainer with wait_for_logs, an
//!   exposed port, exec, copying files in and out, a Network with an alias.

mod harness;

use harness::registry::{Registry, Setup};
use harness::service::{with_busybox, Service};
use std::path::PathBuf;

/// The virtual environment scripts/docker-py.sh makes at the repository's root.
fn python() -> PathBuf {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-docker-py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/docker-py.sh (scripts/test.sh runs it) to install the Python Docker SDK and testcontainers",
        python.display()
    );
    let imports = std::process::Command::new(&python)
        .args(["-c", "import docker, testcontainers"])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    assert!(
        imports.status.success(),
        "{} cannot import docker and testcontainers: run scripts/docker-py.sh to install them\n{}",
        python.display(),
        String::from_utf8_lossy(&imports.stderr)
    );
    python
}

/// Runs tests/docker_py/`script` with `args` against `service`; panics with its
/// output and the service's log unless it printed "ok" and exited 0. The scripts bound
/// their own waits and their whole run (tests/docker_py/sdk.py), so none hangs.
fn run_script(service: &Service, script: &str, args: &[&str]) {
    let python = python();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/docker_py")
        .join(script);
    let out = std::process::Command::new(&python)
        .arg(&path)
        .args(args)
        .env("DOCKER_HOST", format!("unix://{}", service.socket.display()))
        .env("DOCKER_CONFIG", &service.docker_config)
        // Ryuk, testcontainers' reaper, is an image on Docker Hub: out of reach.
        .env("TESTCONTAINERS_RYUK_DISABLED", "true")
        .env_remove("TESTCONTAINERS_HOST_OVERRIDE")
        .env_remove("TC_HOST")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success() && stdout.trim() == "ok",
        "{script} failed ({}):\nstdout: {stdout}\nstderr: {stderr}\nservice log: {}",
        out.status,
        service.log_text()
    );
}

#[test]
fn docker_py_runs_a_healthy_container_with_init_and_ulimits_then_updates_it() {
    let t = with_busybox();
    let service = Service::start(&t);
    run_script(&service, "run_health_init_ulimits_update.py", &["busybox:test"]);
    assert!(t.ok(&["ps", "-aq"]).is_empty(), "the script removed its container");
}

#[test]
fn docker_py_runs_execs_copies_and_stops_containers() {
    let t = with_busybox();
    let service = Service::start(&t);
    run_script(&service, "containers.py", &["busybox:test"]);
    assert!(t.ok(&["ps", "-aq"]).is_empty(), "the script removed its containers");
    assert!(t.ok(&["volume", "ls", "-q"]).is_empty(), "and made no volume");
}

#[test]
fn docker_py_tags_pushes_pulls_builds_saves_and_loads_images() {
    let t = with_busybox();
    let service = Service::start(&t);
    let registry = Registry::start(&t.path("registry"), Setup::Plain);
    run_script(&service, "images.py", &["busybox:test", &registry.addr]);
    assert!(
        registry.blob_count() >= 2,
        "the push stored a layer and a config: {}",
        registry.log()
    );
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 1, "only busybox:test is left");
}

#[test]
fn docker_py_connects_containers_on_networks_and_shares_volumes() {
    let t = with_busybox();
    let service = Service::start(&t);
    run_script(&service, "networks_volumes.py", &["busybox:test"]);
    assert!(t.ok(&["ps", "-aq"]).is_empty(), "the script removed its containers");
    assert!(t.ok(&["volume", "ls", "-q"]).is_empty(), "and its volumes");
}

#[test]
fn testcontainers_python_waits_for_logs_and_a_port_execs_and_copies_files() {
    let t = with_busybox();
    let service = Service::start(&t);
    run_script(&service, "testcontainers_busybox.py", &["busybox:test"]);
    assert!(t.ok(&["ps", "-aq"]).is_empty(), "stop removed the containers");
}
