"""docker-py's images against strata's Engine API: tag, push to and pull from a local
registry, build (POST /build, the classic builder), save and load. Called by
crates/cli/tests/docker_py.rs with DOCKER_HOST pointing at the service, the local image
and the registry's address (127.0.0.1:PORT, plain HTTP) as its arguments; prints "ok",
or exits non-zero with the reason on the first difference."""

import json
import os
import sys
import tempfile
import urllib.request

import docker
from sdk import check, check_true, done, fail, raises, step

image, registry = sys.argv[1], sys.argv[2]
client = docker.from_env(version="auto")
api = docker.APIClient(base_url=os.environ["DOCKER_HOST"], version="auto")

step("get and tag")
base = client.images.get(image)
check("the image's tags", base.tags, [image])
repository = f"{registry}/sdk/busybox"
check("tag", base.tag(repository, "v1"), True)
tagged = client.images.get(f"{repository}:v1")
check("the tagged image's id", tagged.id, base.id)
check("tags after tag", sorted(client.images.get(image).tags), sorted([image, f"{repository}:v1"]))
check("images.list(name=...)", [i.id for i in client.images.list(name=repository)], [base.id])
raises("get of a missing image", docker.errors.ImageNotFound, client.images.get, "sdk-missing:1")

step("push")
lines = list(client.images.push(repository, tag="v1", stream=True, decode=True))
errors = [line for line in lines if "error" in line or "errorDetail" in line]
check("errors in push's stream", errors, [])
aux = [line["aux"] for line in lines if "aux" in line]
check_true("push's stream ends with the pushed digest (aux)", aux and aux[-1].get("Digest", "").startswith("sha256:"), lines)
check("aux's Tag", aux[-1].get("Tag"), "v1")
with urllib.request.urlopen(f"http://{registry}/v2/sdk/busybox/tags/list", timeout=60) as reply:
    check("the registry's tags", json.load(reply)["tags"], ["v1"])
# Not checked: RepoDigests. Docker records REPOSITORY@DIGEST after a push and a pull;
# strata's image inspect and list always answer [] (no repository digests are kept).

step("pull")
client.images.remove(f"{repository}:v1")
raises("get of the untagged name", docker.errors.ImageNotFound, client.images.get, f"{repository}:v1")
client.images.remove(image)
raises("get of the removed image", docker.errors.ImageNotFound, client.images.get, base.id)
pulled = client.images.pull(repository, tag="v1")
check("the pulled image's id", pulled.id, base.id)
check("the pulled image's tags", pulled.tags, [f"{repository}:v1"])
lines = list(api.pull(repository, tag="v1", stream=True, decode=True))
check_true(
    "a second pull says the image is up to date",
    any("Image is up to date" in line.get("status", "") for line in lines),
    lines,
)
error = raises("pull of a missing tag", docker.errors.NotFound, client.images.pull, repository, tag="missing")
check_true("the pull error names the reference", "missing" in str(error), str(error))
check("tag back to the local name", pulled.tag(image), True)
out = client.containers.run(image, ["echo", "pulled"], remove=True)
check("a container of the pulled image", out, b"pulled\n")

step("build")
with tempfile.TemporaryDirectory() as context:
    with open(os.path.join(context, "Dockerfile"), "w") as f:
        f.write(
            f"FROM {image}\n"
            "ARG GREETING=unset\n"
            "COPY msg.txt /msg.txt\n"
            'RUN echo "built with $GREETING" > /built\n'
            "ENV SDK=docker-py\n"
            "LABEL sdk=docker-py\n"
            "WORKDIR /srv\n"
            'CMD ["sh", "-c", "cat /msg.txt /built; echo $SDK; pwd"]\n'
        )
    with open(os.path.join(context, "msg.txt"), "w") as f:
        f.write("from the context\n")
    with open(os.path.join(context, ".dockerignore"), "w") as f:
        f.write("ignored.txt\n")
    with open(os.path.join(context, "ignored.txt"), "w") as f:
        f.write("never sent\n")
    built, logs = client.images.build(path=context, tag="sdk-built:1", buildargs={"GREETING": "hello"}, rm=True)
    log_text = "".join(line.get("stream", "") for line in logs)
    check_true("build's log has the steps", "Step 1/8 : FROM" in log_text and "Step 8/8 : CMD" in log_text, log_text)
    check("the built image's tags", built.tags, ["sdk-built:1"])
    check("the built image's label", built.labels, {"sdk": "docker-py"})
    config = built.attrs["Config"]
    check_true("the built image's Env", "SDK=docker-py" in config["Env"], config["Env"])
    check("the built image's WorkingDir", config["WorkingDir"], "/srv")
    out = client.containers.run("sdk-built:1", remove=True)
    check("a container of the built image", out, b"from the context\nbuilt with hello\ndocker-py\n/srv\n")
    check(
        "the .dockerignore'd file was not sent",
        client.containers.run("sdk-built:1", ["ls", "/"], remove=True).split().count(b"ignored.txt"),
        0,
    )
    # The low-level API: the JSON stream itself, a build of another Dockerfile name.
    with open(os.path.join(context, "Other.Dockerfile"), "w") as f:
        f.write(f"FROM {image}\nRUN exit 3\n")
    lines = list(api.build(path=context, dockerfile="Other.Dockerfile", tag="sdk-fails:1", decode=True))
    errors = [line for line in lines if "error" in line]
    check_true("a failing RUN is an error in the stream", errors and "returned a non-zero code: 3" in errors[-1]["error"], lines)
    raises("get of the image of the failed build", docker.errors.ImageNotFound, client.images.get, "sdk-fails:1")
    error = raises(
        "images.build of a failing Dockerfile",
        docker.errors.BuildError,
        client.images.build,
        path=context,
        dockerfile="Other.Dockerfile",
    )
    check_true("BuildError's message", "non-zero code: 3" in error.msg, error.msg)
    with open(os.path.join(context, "Dockerfile"), "rb") as f:
        # A bare Dockerfile as the whole context (fileobj): the SDK wraps it in a tar.
        with open(os.path.join(context, "Bare.Dockerfile"), "wb") as bare:
            bare.write(f"FROM {image}\nLABEL bare=yes\n".encode())
    with open(os.path.join(context, "Bare.Dockerfile"), "rb") as bare:
        bare_image, _ = client.images.build(fileobj=bare, tag="sdk-bare:1")
    check("the fileobj build's label", bare_image.labels, {"bare": "yes"})

step("save and load")
built = client.images.get("sdk-built:1")
data = b"".join(built.save(named=True))
check_true("save returned a tar", len(data) > 1024 and data[257:262] == b"ustar", len(data))
client.images.remove("sdk-built:1")
raises("get of the removed built image", docker.errors.ImageNotFound, client.images.get, "sdk-built:1")
loaded = client.images.load(data)
check("load's images", [(i.id, i.tags) for i in loaded], [(built.id, ["sdk-built:1"])])
out = client.containers.run("sdk-built:1", remove=True)
check("a container of the loaded image", out, b"from the context\nbuilt with hello\ndocker-py\n/srv\n")
history = client.images.get("sdk-built:1").history()
# The base's entry and one for each of COPY, RUN, ENV, LABEL, WORKDIR and CMD (Docker's
# classic builder records ARG too; strata's does not).
check("history's length", len(history), 7)
check_true("history's newest entry is the CMD", "CMD" in history[0]["CreatedBy"], history[0])
check("history's newest entry's Id", history[0]["Id"], built.id)

step("remove")
for name in ["sdk-built:1", "sdk-bare:1", f"{repository}:v1"]:
    client.images.remove(name)
check("images left", [i.tags for i in client.images.list()], [[image]])
done()
