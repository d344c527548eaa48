"""Asks the forwarded ssh-agent for its identities (SSH2_AGENTC_REQUEST_IDENTITIES), as
`ssh-add -l` would before a `git clone git@…` of a private dependency."""
import os
import socket
import struct

sock = socket.socket(socket.AF_UNIX)
sock.connect(os.environ["SSH_AUTH_SOCK"])
sock.sendall(struct.pack(">IB", 1, 11))
length = struct.unpack(">I", sock.recv(4))[0]
reply = b""
while len(reply) < length:
    reply += sock.recv(length - len(reply))
assert reply[0] == 12, f"agent answered {reply[0]}"
print(f"the agent holds {struct.unpack('>I', reply[1:5])[0]} key(s)")
