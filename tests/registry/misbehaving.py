#!/usr/bin/env python3
"""A registry that misbehaves in one chosen way, for strata's bad-input tests.

It serves one small image (one gzip layer of 4 MiB of deterministic noise) under any
repository name, over the OCI distribution API on 127.0.0.1, and breaks the protocol as
MODE says. Every request is logged to LOG as `METHOD PATH range=R auth=yes|no`, so
tests can check what the client did (retries, Range requests, credentials).

Usage: misbehaving.py PORT LOG MODE
Modes:
  good            behaves
  ambiguous       the manifest has both "layers" and "manifests" (CVE-2021-41190)
  content-type    the manifest is sent as an index but says it is a manifest
  huge            the manifest is 5 MiB
  unknown-media   the layer has an unknown media type
  schema1         the manifest is Docker schema 1
  redirect        needs basic auth; blobs redirect to another host (localhost)
  authloop        bearer auth whose tokens are never accepted
  stall-once      the first blob download stops halfway and stalls
  stall-manifest  manifest requests stall
  flaky           the first two requests for each blob answer 503
  die             the first blob download stops halfway and the server exits
  hub-search      offers Docker Hub's search API (/v1/search)
"""

import gzip
import hashlib
import http.server
import io
import json
import os
import random
import sys
import tarfile
import threading
import time

PORT, LOG, MODE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
SEEN = {}


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_image():
    noise = random.Random(7).randbytes(4 << 20)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("data.bin")
        info.size, info.mtime, info.mode = len(noise), 1700000000, 0o644
        tar.addfile(info, io.BytesIO(noise))
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes, compresslevel=1, mtime=0)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [digest(tar_bytes)]},
    }).encode()
    layer_type = "application/x-strata-unknown" if MODE == "unknown-media" \
        else "application/vnd.oci.image.layer.v1.tar+gzip"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": digest(config), "size": len(config)},
        "layers": [{"mediaType": layer_type, "digest": digest(layer), "size": len(layer)}],
    }
    if MODE == "ambiguous":
        manifest["manifests"] = []
    if MODE == "huge":
        manifest["annotations"] = {"padding": "x" * (5 << 20)}
    if MODE == "schema1":
        manifest = {"schemaVersion": 1, "name": "x", "tag": "1", "fsLayers": [], "history": []}
    return json.dumps(manifest).encode(), {digest(config): config, digest(layer): layer}


MANIFEST, BLOBS = make_image()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        line = "%s %s range=%s auth=%s\n" % (
            self.command, self.path, self.headers.get("Range", "-"),
            "yes" if self.headers.get("Authorization") else "no")
        with LOCK, open(LOG, "a") as f:
            f.write(line)

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def first_times(self, key):
        with LOCK:
            SEEN[key] = SEEN.get(key, 0) + 1
            return SEEN[key]

    def challenge(self):
        if MODE == "redirect" and not self.headers.get("Authorization"):
            self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                       [("WWW-Authenticate", 'Basic realm="misbehaving"')])
            return True
        if MODE == "authloop":
            realm = "http://127.0.0.1:%d/token" % PORT
            self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"never"}]}',
                       [("WWW-Authenticate", 'Bearer realm="%s",service="loop"' % realm)])
            return True
        return False

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.record()
        path = self.path.split("?")[0]
        if path == "/token":
            return self.reply(200, b'{"token":"never-accepted"}', [("Content-Type", "application/json")])
        if path == "/v1/search" and MODE == "hub-search":
            return self.hub_search()
        if path.startswith("/external/"):
            return self.send_blob(path.rsplit("/", 1)[1])
        if not path.startswith("/v2/"):
            return self.reply(404)
        if self.challenge():
            return
        if path == "/v2/":
            return self.reply(200, b"{}", [("Content-Type", "application/json")])
        if "/manifests/" in path:
            if MODE == "stall-manifest":
                time.sleep(30)
                return
            content_type = "application/vnd.oci.image.index.v1+json" if MODE == "content-type" \
                else "application/vnd.oci.image.manifest.v1+json"
            return self.reply(200, MANIFEST, [("Content-Type", content_type),
                                              ("Docker-Content-Digest", digest(MANIFEST))])
        if "/blobs/" in path:
            name = path.rsplit("/", 1)[1]
            if MODE == "redirect":
                target = "http://localhost:%d/external/%s" % (PORT, name)
                return self.reply(307, b"", [("Location", target)])
            if MODE == "flaky" and self.first_times(name) <= 2:
                return self.reply(503, b'{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}')
            return self.send_blob(name)
        self.reply(404)

    def hub_search(self):
        query = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
        rows = [
            {"name": "library/busybox", "description": "Busybox base image.", "star_count": 3000,
             "is_official": True, "is_automated": False},
            {"name": "someone/busybox-httpd", "description": "A static web server built on busybox, "
             "with a long description that a table truncates", "star_count": 12,
             "is_official": False, "is_automated": True},
            {"name": "someone/alpine", "description": "not a match", "star_count": 1,
             "is_official": False, "is_automated": False},
        ]
        found = [r for r in rows if query.get("q", "") in r["name"]][: int(query.get("n", "25"))]
        body = json.dumps({"num_results": len(found), "query": query.get("q"), "results": found}).encode()
        self.reply(200, body, [("Content-Type", "application/json")])

    def send_blob(self, name):
        blob = BLOBS.get(name)
        if blob is None:
            return self.reply(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
        status = 206 if start else 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(blob) - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(blob) - 1, len(blob)))
        self.end_headers()
        if self.command == "HEAD":
            return
        breaks = MODE in ("stall-once", "die") and len(blob) > 1 << 20 and self.first_times("break") == 1
        if not breaks:
            self.wfile.write(blob[start:])
            return
        self.wfile.write(blob[start:len(blob) // 2])
        self.wfile.flush()
        if MODE == "die":
            os._exit(0)
        time.sleep(30)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up on a broken transfer are the point of most modes


Server(("127.0.0.1", PORT), Handler).serve_forever()
