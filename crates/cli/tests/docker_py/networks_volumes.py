"""docker-py's networks and volumes against strata's Engine API: a user network, a web
server and a client reaching it by name, connect and disconnect of a running container,
removal; a named volume written by one container and read by the next, read-only,
refused removal while in use, removal. Called by crates/cli/tests/docker_py.rs with
DOCKER_HOST pointing at the service and the image to run as its argument; prints "ok",
or exits non-zero with the reason on the first difference."""

import os
import sys

import docker
from sdk import check, check_true, done, eventually, raises, step

image = sys.argv[1]
client = docker.from_env(version="auto")
api = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="auto")
page = b"<h1>hello</h1>\n"  # the harness's busybox has it at /var/www/index.html

step("networks.create")
net = client.networks.create("sdk-net", driver="bridge", labels={"sdk": "docker-py"})
check("the network's name", net.name, "sdk-net")
check("the network's driver", net.attrs["Driver"], "bridge")
check("the network's labels", net.attrs["Labels"], {"sdk": "docker-py"})
check("networks.list(names=...)", [n.id for n in client.networks.list(names=["sdk-net"])], [net.id])
check("networks.list(filters label)", [n.name for n in client.networks.list(filters={"label": "sdk"})], ["sdk-net"])
raises("a second network of the same name", docker.errors.APIError, client.networks.create, "sdk-net", check_duplicate=True)

step("a server and a client on the network, by name")
web = client.containers.run(
    image, ["httpd", "-f", "-p", "8080", "-h", "/var/www"], detach=True, name="sdk-web", network="sdk-net"
)
web.reload()
check("the server's networks", list(web.attrs["NetworkSettings"]["Networks"]), ["sdk-net"])
web_ip = web.attrs["NetworkSettings"]["Networks"]["sdk-net"]["IPAddress"]
check_true("the server has an address on sdk-net", web_ip.count(".") == 3, web_ip)
fetched = eventually(
    "a client container on sdk-net fetching http://sdk-web:8080/",
    lambda: client.containers.run(image, ["wget", "-qO-", "http://sdk-web:8080/"], network="sdk-net", remove=True),
)
check("the page fetched by name", fetched, page)
net.reload()
check("the network's containers", [c.name for c in net.containers], ["sdk-web"])

step("connect a running container, with an alias")
other = client.containers.run(image, ["sleep", "600"], detach=True, name="sdk-other")
other.reload()
check("a container started without a network is on bridge", list(other.attrs["NetworkSettings"]["Networks"]), ["bridge"])
code, _ = other.exec_run(["timeout", "30", "wget", "-qO-", "http://sdk-web:8080/"])
check_true("sdk-web is not reachable from bridge", code != 0, code)
net.connect(other, aliases=["sdk-alias"])
other.reload()
check("networks after connect", sorted(other.attrs["NetworkSettings"]["Networks"]), ["bridge", "sdk-net"])
check("the endpoint's Aliases", other.attrs["NetworkSettings"]["Networks"]["sdk-net"]["Aliases"], ["sdk-alias", other.short_id])
code, out = eventually(
    "the connected container fetching http://sdk-web:8080/",
    lambda: (lambda r: r if r[0] == 0 else None)(other.exec_run(["timeout", "30", "wget", "-qO-", "http://sdk-web:8080/"])),
)
check("the page fetched after connect", out, page)
code, out = web.exec_run(["ping", "-c", "1", "-W", "10", "sdk-alias"])
check_true("the server reaches the other by its alias", code == 0, out)
check_true("at the address of the other's endpoint", other.attrs["NetworkSettings"]["Networks"]["sdk-net"]["IPAddress"] in out.decode(), out)
net.reload()
check("the network's containers after connect", sorted(c.name for c in net.containers), ["sdk-other", "sdk-web"])

step("disconnect")
net.disconnect(other)
other.reload()
check("networks after disconnect", list(other.attrs["NetworkSettings"]["Networks"]), ["bridge"])
code, _ = other.exec_run(["timeout", "30", "wget", "-qO-", "http://sdk-web:8080/"])
check_true("sdk-web is not reachable after disconnect", code != 0, code)
raises("disconnect of a container not on the network", docker.errors.APIError, net.disconnect, other)

step("the low-level network calls")
created = api.create_network("sdk-low", driver="bridge", internal=True)
check("inspect_network's Internal", api.inspect_network(created["Id"])["Internal"], True)
api.connect_container_to_network(other.id, "sdk-low")
check("sdk-low in the container's networks", "sdk-low" in api.inspect_container(other.id)["NetworkSettings"]["Networks"], True)
api.disconnect_container_from_network(other.id, "sdk-low")
api.remove_network(created["Id"])

step("remove")
raises("remove of a network in use", docker.errors.APIError, net.remove)
web.remove(force=True)
other.remove(force=True)
net.remove()
raises("get of the removed network", docker.errors.NotFound, client.networks.get, net.id)

step("volumes.create")
vol = client.volumes.create("sdk-vol", labels={"sdk": "docker-py"})
check("the volume's name", vol.name, "sdk-vol")
check("the volume's driver", vol.attrs["Driver"], "local")
check("the volume's labels", vol.attrs["Labels"], {"sdk": "docker-py"})
check_true("the volume has a mountpoint", vol.attrs["Mountpoint"].startswith("/"), vol.attrs)
check("volumes.list(filters label)", [v.name for v in client.volumes.list(filters={"label": "sdk"})], ["sdk-vol"])

step("a volume shared by containers")
client.containers.run(
    image, ["sh", "-c", "echo kept > /data/file"], volumes={"sdk-vol": {"bind": "/data", "mode": "rw"}}, remove=True
)
out = client.containers.run(image, ["cat", "/data/file"], volumes=["sdk-vol:/data:ro"], remove=True)
check("what the first container wrote, read by the second", out, b"kept\n")
error = raises(
    "a write to the volume mounted read-only",
    docker.errors.ContainerError,
    client.containers.run,
    image,
    ["sh", "-c", "echo no > /data/file"],
    volumes={"sdk-vol": {"bind": "/data", "mode": "ro"}},
    remove=True,
)
check_true("the read-only write's error", b"Read-only" in (error.stderr or b""), error.stderr)
mounted = client.containers.run(
    image, ["cat", "/data/file"], mounts=[docker.types.Mount("/data", "sdk-vol", type="volume")], detach=True
)
check("wait of the Mount container", mounted.wait(timeout=60)["StatusCode"], 0)
check("the Mount container's output", mounted.logs(), b"kept\n")
mounted.reload()
check(
    "the container's Mounts",
    [(m["Type"], m["Name"], m["Destination"]) for m in mounted.attrs["Mounts"]],
    [("volume", "sdk-vol", "/data")],
)
raises("remove of a volume in use", docker.errors.APIError, vol.remove)
mounted.remove()

step("anonymous and low-level volumes")
anon = client.containers.run(image, ["true"], volumes=["/anon"], detach=True)
anon.wait(timeout=60)
anon.reload()
anon_name = anon.attrs["Mounts"][0]["Name"]
check_true("an anonymous volume has a generated name", len(anon_name) == 64, anon_name)
anon.remove(v=True)
raises("get of the anonymous volume removed with its container", docker.errors.NotFound, client.volumes.get, anon_name)
created = api.create_volume("sdk-low-vol", driver_opts={})
check("create_volume's Name", created["Name"], "sdk-low-vol")
check("inspect_volume", api.inspect_volume("sdk-low-vol")["Name"], "sdk-low-vol")
api.remove_volume("sdk-low-vol")

step("volume remove")
vol.remove()
raises("get of the removed volume", docker.errors.NotFound, client.volumes.get, "sdk-vol")
check("containers left", client.containers.list(all=True), [])
check("volumes left", client.volumes.list(), [])
check("networks left", sorted(n.name for n in client.networks.list()), ["bridge", "host", "none"])
done()
