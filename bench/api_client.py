#!/usr/bin/env python3
"""A light Engine API client for bench/api.sh: times requests against several sockets,
interleaved (each server once per round), on one kept-alive connection per server.

    api_client.py OP ROUNDS LABEL=SOCKET...      OP: ping ps images cycle
    api_client.py images-archive COUNT FILE      writes a docker-archive of COUNT images

Prints one "label<TAB>microseconds" line per timed request.
"""
import http.client
import io
import json
import socket
import sys
import tarfile
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(120)
        s.connect(self.unix_path)
        self.sock = s


def call(conn, method, path, body=None, expect=(200, 201, 204, 304)):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, "/v1.41" + path, body=data, headers=headers)
    reply = conn.getresponse()
    payload = reply.read()
    if reply.status not in expect:
        raise SystemExit(f"{method} {path}: {reply.status} {payload[:300]!r}")
    return payload


def cycle(conn):
    """create + start + wait + delete of `busybox true` with no network."""
    made = call(conn, "POST", "/containers/create", {
        "Image": "busybox:local", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"},
    })
    cid = json.loads(made)["Id"]
    call(conn, "POST", f"/containers/{cid}/start")
    call(conn, "POST", f"/containers/{cid}/wait")
    call(conn, "DELETE", f"/containers/{cid}")


OPS = {
    "ping": lambda c: call(c, "GET", "/_ping"),
    "ps": lambda c: call(c, "GET", "/containers/json?all=1"),
    "images": lambda c: call(c, "GET", "/images/json"),
    "cycle": cycle,
}


def timed(op, rounds, servers):
    conns = {label: UnixConnection(path) for label, path in servers}
    for label, _ in servers:  # warm: connect, first request
        OPS[op](conns[label])
    for _ in range(rounds):
        for label, _ in servers:
            t0 = time.perf_counter_ns()
            OPS[op](conns[label])
            print(f"{label}\t{(time.perf_counter_ns() - t0) // 1000}", flush=True)


def images_archive(count, path):
    """COUNT images sharing one tiny layer, each with its own config (a label, and a
    creation time a minute apart, as real images have one), so COUNT image IDs; tagged
    bench/img:N."""
    import datetime
    epoch = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        info = tarfile.TarInfo("hello.txt")
        data = b"hello\n"
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    import hashlib
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    manifest = []
    with tarfile.open(path, "w") as out:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        add("layer/layer.tar", layer_bytes)
        for n in range(count):
            config = json.dumps({
                "architecture": "amd64", "os": "linux",
                "created": (epoch + datetime.timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "config": {"Cmd": ["sh"], "Labels": {"n": str(n)}},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [{"created_by": f"bench image {n}"}],
            }).encode()
            name = hashlib.sha256(config).hexdigest() + ".json"
            add(name, config)
            manifest.append({"Config": name, "RepoTags": [f"bench/img:{n}"], "Layers": ["layer/layer.tar"]})
        add("manifest.json", json.dumps(manifest).encode())


if __name__ == "__main__":
    if sys.argv[1] == "images-archive":
        images_archive(int(sys.argv[2]), sys.argv[3])
    else:
        op, rounds = sys.argv[1], int(sys.argv[2])
        servers = [arg.split("=", 1) for arg in sys.argv[3:]]
        timed(op, rounds, servers)
