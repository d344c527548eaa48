"""Drives strata's Engine API with the Python Docker SDK (docker-py): run with a
healthcheck, an init and a ulimit, then update. Called by crates/cli/tests/docker_py.rs
with DOCKER_HOST pointing at the service and the image to run as its argument; exits
non-zero with the reason on the first difference."""

import os
import sys
import time

import docker

BOUND = 60  # seconds: generous, so a slow machine never fails the test


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(what, got, wanted):
    if got != wanted:
        fail(f"{what}: got {got!r}, wanted {wanted!r}")


image = sys.argv[1]
# version='auto': the SDK asks the service its API version (strata speaks up to 1.41;
# docker-py 7's own default, 1.44, asked for explicitly, is refused as too new).
client = docker.DockerClient(base_url=os.environ["DOCKER_HOST"], version="auto")
check("the negotiated API version", client.api.api_version, "1.41")

container = client.containers.run(
    image,
    ["sleep", "600"],
    detach=True,
    name="docker-py",
    healthcheck={
        "test": ["CMD-SHELL", "test -e /proc/1"],
        "interval": 500_000_000,
        "timeout": 10_000_000_000,
        "retries": 3,
    },
    init=True,
    ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=2048)],
)
try:
    deadline = time.monotonic() + BOUND
    while True:
        container.reload()
        health = container.attrs["State"].get("Health") or {}
        if health.get("Status") == "healthy":
            break
        if container.status != "running":
            fail(f"the container stopped: {container.attrs['State']}")
        if time.monotonic() > deadline:
            fail(f"not healthy within {BOUND}s: {health}")
        time.sleep(0.1)
    check("the health log's last exit code", health["Log"][-1]["ExitCode"], 0)

    code, out = container.exec_run(["cat", "/proc/1/comm"])
    check("cat /proc/1/comm's exit code", code, 0)
    check("PID 1", out.decode().strip(), "docker-init")
    code, out = container.exec_run(["sh", "-c", "ulimit -n; ulimit -Hn"])
    check("ulimit -n and -Hn inside", out.decode().split(), ["1024", "2048"])
    host_config = container.attrs["HostConfig"]
    check("HostConfig.Init", host_config["Init"], True)
    check(
        "HostConfig.Ulimits",
        host_config["Ulimits"],
        [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
    )

    container.update(
        mem_limit="128m",
        cpu_shares=512,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    )
    container.reload()
    host_config = container.attrs["HostConfig"]
    check("HostConfig.Memory after update", host_config["Memory"], 128 * 1024 * 1024)
    check("HostConfig.CpuShares after update", host_config["CpuShares"], 512)
    check(
        "HostConfig.RestartPolicy after update",
        host_config["RestartPolicy"],
        {"Name": "on-failure", "MaximumRetryCount": 3},
    )
    check("still running after update", container.status, "running")
finally:
    container.remove(force=True)

print("ok")
