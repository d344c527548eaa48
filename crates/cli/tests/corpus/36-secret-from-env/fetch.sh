#!/bin/sh
# Stands in for `git clone https://x-access-token:$TOKEN@…` of a private module: checks
# the token it is given and records only its length.
set -eu
token=$(cat "$1")
[ -n "$token" ] || { echo "no token" >&2; exit 1; }
echo "fetched with a token of ${#token} characters" > /fetched.txt
