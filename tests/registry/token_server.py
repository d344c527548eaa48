#!/usr/bin/env python3
"""A bearer-token service for docker-registry's `auth: token` set-up, for strata's tests.

Issues RS256 JWTs signed with KEY and carrying CERT in `x5c` (the registry trusts CERT
through its rootcertbundle). Anonymous requests get pull access; USER:PASSWORD (basic
auth) gets pull and push, and the catalog. Wrong credentials get 401. Signing uses the
openssl tool, so no Python package is needed.

Usage: token_server.py PORT KEY CERT ISSUER SERVICE USER:PASSWORD
"""

import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse
import uuid

PORT, KEY, CERT, ISSUER, SERVICE, ACCOUNT = sys.argv[1:7]
PORT = int(PORT)
CERT_DER = subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"],
                          check=True, capture_output=True).stdout


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(CERT_DER).decode()]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                               check=True, capture_output=True).stdout
    return signing_input + "." + b64url(signature)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, doc):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            return self.reply(404, {"error": "not found"})
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            if base64.b64decode(auth[6:]).decode() != ACCOUNT:
                return self.reply(401, {"error": "wrong credentials"})
            user = ACCOUNT.split(":", 1)[0]
        access = []
        for scope in urllib.parse.parse_qs(url.query).get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = actions.split(",")
            granted = [a for a in wanted if a == "pull" or user] if kind == "repository" else \
                (wanted if user else [])
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        token = sign({"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                      "iat": now, "jti": str(uuid.uuid4()), "access": access})
        self.reply(200, {"token": token, "access_token": token, "expires_in": 300})


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", PORT), Handler).serve_forever()
