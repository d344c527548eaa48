"""docker-py's containers against strata's Engine API: run attached and detached, logs
followed to the container's exit, exec (high- and low-level), put_archive/get_archive,
wait, stats, stop and remove. Called by crates/cli/tests/docker_py.rs with DOCKER_HOST
pointing at the service and the image to run as its argument; prints "ok", or exits
non-zero with the reason on the first difference."""

import io
import os
import sys
import tarfile
import time

import docker
from sdk import check, check_true, done, eventually, fail, raises, step

image = sys.argv[1]
client = docker.from_env(version="auto")
api = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="auto")
check("the negotiated API version", api.api_version, "1.41")

step("run, attached")
out = client.containers.run(image, ["sh", "-c", "echo out; echo err >&2"], remove=True)
check("run's output (stdout only, the SDK's default)", out, b"out\n")
out = client.containers.run(image, ["sh", "-c", "echo out; sleep 0.2; echo err >&2"], stderr=True, remove=True)
check("run's output with stderr", out, b"out\nerr\n")
error = raises(
    "run of a command exiting 3",
    docker.errors.ContainerError,
    client.containers.run,
    image,
    ["sh", "-c", "echo why >&2; exit 3"],
    remove=True,
)
check("ContainerError.exit_status", error.exit_status, 3)
check_true("ContainerError's stderr has the command's", b"why" in (error.stderr or b""), error.stderr)
check("containers left by run(remove=True)", client.containers.list(all=True), [])

step("run, detached; logs(follow=True) to the exit")
counter = client.containers.run(
    image,
    ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done; echo gone >&2"],
    detach=True,
    name="sdk-counter",
    labels={"sdk": "docker-py"},
)
streamed = b"".join(counter.logs(stream=True, follow=True))
check("logs(follow=True), which ends when the container exits", streamed, b"".join(b"line %d\n" % i for i in range(1, 6)) + b"gone\n")
waited = counter.wait(timeout=60)
check("wait()'s StatusCode", waited["StatusCode"], 0)
check("wait()'s Error (none, or null as docker 20.10 sends)", waited.get("Error"), None)
counter.reload()
check("status after the exit", counter.status, "exited")
check("State.ExitCode", counter.attrs["State"]["ExitCode"], 0)
check("logs(stderr=False)", counter.logs(stderr=False).count(b"\n"), 5)
check("logs(stdout=False)", counter.logs(stdout=False), b"gone\n")
check("logs(tail=2)", counter.logs(tail=2), b"line 5\ngone\n")
stamped = api.logs(counter.id, timestamps=True, stderr=False).decode().splitlines()
check("timestamped lines", len(stamped), 5)
check_true("a timestamp before each line", all(line.split(" ", 1)[0].endswith("Z") for line in stamped), stamped)
check(
    "containers.list(all, filters label)",
    [c.name for c in client.containers.list(all=True, filters={"label": "sdk=docker-py"})],
    ["sdk-counter"],
)
check("containers.list() (running only)", client.containers.list(), [])
counter.remove()

step("low-level create, start, wait, logs")
created = api.create_container(image, ["sh", "-c", "echo low; exit 4"], name="sdk-low")
api.start(created["Id"])
check("api.wait", api.wait(created["Id"], timeout=60)["StatusCode"], 4)
check("api.logs", api.logs(created["Id"]), b"low\n")
check("api.inspect_container's name", api.inspect_container("sdk-low")["Name"], "/sdk-low")
api.remove_container(created["Id"])

step("a long-running container")
sleeper = client.containers.run(image, ["sleep", "600"], detach=True, name="sdk-sleeper")
sleeper.reload()
check("status", sleeper.status, "running")

step("exec_run")
code, out = sleeper.exec_run(["sh", "-c", "echo hi; echo oops >&2; exit 7"])
check("exec_run's exit code", code, 7)
check("exec_run's output (both streams)", sorted(out.decode().split()), ["hi", "oops"])
code, (out, err) = sleeper.exec_run(["sh", "-c", "echo hi; echo oops >&2"], demux=True)
check("exec_run(demux=True)", (code, out, err), (0, b"hi\n", b"oops\n"))
code, out = sleeper.exec_run(
    ["sh", "-c", 'echo "$SDK_VAR $(pwd) $(id -u)"'], environment={"SDK_VAR": "set"}, workdir="/tmp", user="nobody"
)
check("exec_run with environment, workdir and user", (code, out), (0, b"set /tmp 65534\n"))
result = sleeper.exec_run(["sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.1; done"], stream=True)
check("exec_run(stream=True)", b"".join(result.output), b"1\n2\n3\n")

step("low-level exec_create, exec_start, exec_inspect")
exec_id = api.exec_create(sleeper.id, ["sh", "-c", "echo low-level; exit 5"])["Id"]
check("exec_start", api.exec_start(exec_id), b"low-level\n")
inspected = api.exec_inspect(exec_id)
check("exec_inspect's ExitCode", inspected["ExitCode"], 5)
check("exec_inspect's Running", inspected["Running"], False)
exec_id = api.exec_create(sleeper.id, ["cat"], stdin=True)["Id"]
sock = api.exec_start(exec_id, socket=True)
raw = sock._sock
raw.sendall(b"through stdin\n")
raw.shutdown(1)  # SHUT_WR: cat sees the end of its input
received = b""
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    chunk = raw.recv(4096)
    if not chunk:
        break
    received += chunk
sock.close()
# The stream is multiplexed (no TTY): an 8-byte header before each frame.
frames, rest = [], received
while len(rest) >= 8:
    size = int.from_bytes(rest[4:8], "big")
    frames.append((rest[0], rest[8 : 8 + size]))
    rest = rest[8 + size :]
check("exec_start(socket=True) with stdin, demultiplexed", frames, [(1, b"through stdin\n")])

step("put_archive and get_archive")
data = io.BytesIO()
with tarfile.open(fileobj=data, mode="w") as tar:
    body = b"put by docker-py\n"
    info = tarfile.TarInfo("sdk/hello.txt")
    info.size, info.mode, info.mtime = len(body), 0o640, 1_700_000_000
    tar.addfile(info, io.BytesIO(body))
    info = tarfile.TarInfo("sdk/sub")
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)
check("put_archive", sleeper.put_archive("/tmp", data.getvalue()), True)
code, out = sleeper.exec_run(["sh", "-c", "cat /tmp/sdk/hello.txt; stat -c '%a %Y' /tmp/sdk/hello.txt; test -d /tmp/sdk/sub"])
check("the file put, its mode and mtime", (code, out), (0, b"put by docker-py\n640 1700000000\n"))
chunks, stat = sleeper.get_archive("/tmp/sdk/hello.txt")
check("get_archive's stat name", stat["name"], "hello.txt")
check("get_archive's stat size", stat["size"], len(b"put by docker-py\n"))
with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
    members = tar.getmembers()
    check("get_archive's members", [m.name for m in members], ["hello.txt"])
    check("the member's mode", members[0].mode & 0o7777, 0o640)
    check("the member's content", tar.extractfile(members[0]).read(), b"put by docker-py\n")
chunks, stat = sleeper.get_archive("/tmp/sdk")
with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
    check("get_archive of a directory", sorted(m.name for m in tar.getmembers()), ["sdk", "sdk/hello.txt", "sdk/sub"])
raises("get_archive of a missing path", docker.errors.NotFound, sleeper.get_archive, "/no/such/path")
raises("put_archive into a missing directory", docker.errors.NotFound, sleeper.put_archive, "/no/such/dir", data.getvalue())

step("stats(stream=False)")
stats = sleeper.stats(stream=False)
check("stats' id", stats["id"], sleeper.id)
check("stats' name", stats["name"], "/sdk-sleeper")
check_true("stats' memory usage is above zero", stats["memory_stats"].get("usage", 0) > 0, stats["memory_stats"])
check_true("stats' pids", stats["pids_stats"].get("current", 0) >= 1, stats["pids_stats"])
check_true("stats' cpu total_usage", stats["cpu_stats"]["cpu_usage"].get("total_usage", 0) > 0, stats["cpu_stats"])
first_two = []
for sample in sleeper.stats(stream=True, decode=True):
    first_two.append(sample)
    if len(first_two) == 2:
        break
check_true(
    "stats(stream=True)'s second sample carries the first's as precpu_stats",
    first_two[1]["precpu_stats"].get("cpu_usage", {}).get("total_usage", 0) > 0,
    first_two[1]["precpu_stats"],
)

step("stop and remove")
raises("remove of a running container", docker.errors.APIError, sleeper.remove)
started = time.monotonic()
sleeper.stop(timeout=1)
sleeper.reload()
check("status after stop", sleeper.status, "exited")
# sleep is PID 1 and has no SIGTERM handler, so the kernel ignores TERM: stop kills it.
check("ExitCode after stop", sleeper.attrs["State"]["ExitCode"], 137)
check_true("stop waited about its timeout, not forever", time.monotonic() - started < 60)
sleeper.start()
sleeper.reload()
check("status after start again", sleeper.status, "running")
sleeper.remove(force=True)
raises("get of the removed container", docker.errors.NotFound, client.containers.get, sleeper.id)
check("containers left", client.containers.list(all=True), [])
done()
