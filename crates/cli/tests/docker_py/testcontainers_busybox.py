"""testcontainers-python (pinned in scripts/docker-py.sh) against strata's Engine API:
a DockerContainer of the local busybox image with a command and an exposed port;
wait_for_logs, the port (PortWaitStrategy, then get_exposed_port and an HTTP request
from here), exec, files copied in (testcontainers' copy_into_container, whose tar has
absolute entry names, taken from the destination as Docker takes them, and docker-py's
put_archive through get_wrapped_container) and out (copy_from_container), a Network
with an alias, stop. Called by
crates/cli/tests/docker_py.rs with DOCKER_HOST pointing at the service,
TESTCONTAINERS_RYUK_DISABLED=true (Ryuk's image is Docker Hub's) and the image as its
argument; prints "ok", or exits non-zero with the reason on the first difference."""

import io
import pathlib
import tarfile
import sys
import tempfile
import urllib.request

import docker
from sdk import BOUND, check, check_true, done, step
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.wait_strategies import PortWaitStrategy
from testcontainers.core.waiting_utils import wait_for_logs

image = sys.argv[1]
client = docker.from_env(version="auto")

step("start with a command and an exposed port")
web = (
    DockerContainer(image)
    .with_command(["sh", "-c", "echo starting; httpd -f -p 8080 -h /var/www & echo server up; wait"])
    .with_exposed_ports(8080)
    .with_env("SDK", "testcontainers")
    .with_name("tc-web")
)
web.start()
try:
    step("wait_for_logs")
    waited = wait_for_logs(web, "server up", timeout=BOUND)
    check_true("wait_for_logs returned the time it waited", waited >= 0, waited)
    stdout, stderr = web.get_logs()
    check("the logs", stdout, b"starting\nserver up\n")

    step("the exposed port")
    PortWaitStrategy(8080).with_startup_timeout(BOUND).wait_until_ready(web)
    host, port = web.get_container_host_ip(), web.get_exposed_port(8080)
    check_true("a published host port", 0 < int(port) < 65536, port)
    with urllib.request.urlopen(f"http://{host}:{port}/", timeout=BOUND) as reply:
        check("the page through the published port", reply.read(), b"<h1>hello</h1>\n")

    step("exec")
    result = web.exec(["sh", "-c", 'echo "$SDK $((6 * 7))"'])
    check("exec's exit code and output", (result.exit_code, result.output), (0, b"testcontainers 42\n"))
    result = web.exec("sh -c 'exit 3'")
    check("exec's exit code of a failing command", result.exit_code, 3)

    step("copy in and out of the running container")
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        info = tarfile.TarInfo("in.txt")
        info.size, info.mode = len(b"copied while running\n"), 0o600
        tar.addfile(info, io.BytesIO(b"copied while running\n"))
    check("put_archive through get_wrapped_container", web.get_wrapped_container().put_archive("/tmp", data.getvalue()), True)
    result = web.exec(["sh", "-c", "cat /tmp/in.txt; stat -c %a /tmp/in.txt"])
    check("the file copied in and its mode", result.output, b"copied while running\n600\n")
    web.copy_into_container(b"copied by testcontainers\n", "/tmp/tc.txt")
    result = web.exec(["cat", "/tmp/tc.txt"])
    check("copy_into_container (absolute tar names)", result.output, b"copied by testcontainers\n")
    with tempfile.TemporaryDirectory() as out:
        target = pathlib.Path(out) / "out.txt"
        web.copy_from_container("/tmp/in.txt", target)
        check("copy_from_container", target.read_bytes(), b"copied while running\n")

    step("get_wrapped_container: the docker-py container underneath")
    wrapped = web.get_wrapped_container()
    check("its name", wrapped.name, "tc-web")
    check("its status", web.status, "running")
finally:
    step("stop")
    web.stop()
check("containers left after stop (removed)", client.containers.list(all=True), [])

step("a Network, a container reached by its alias")
with Network() as network:
    with (
        DockerContainer(image)
        .with_command(["httpd", "-f", "-p", "8080", "-h", "/var/www"])
        .with_network(network)
        .with_network_aliases("tc-server") as server
    ):
        with (
            DockerContainer(image)
            .with_command(
                ["sh", "-c", "for i in $(seq 600); do wget -qO- http://tc-server:8080/ && exit 0; sleep 0.2; done; exit 1"]
            )
            .with_network(network) as fetcher
        ):
            check("the client's exit code", fetcher.get_wrapped_container().wait(timeout=BOUND)["StatusCode"], 0)
            check("what the client fetched by the alias", fetcher.get_logs()[0], b"<h1>hello</h1>\n")
check("containers left", client.containers.list(all=True), [])
check("networks left", sorted(n.name for n in client.networks.list()), ["bridge", "host", "none"])
done()
