#!/usr/bin/env bash
# The Python Docker SDK (PyPI's docker, pinned) in a virtual environment of its own, for
# the test that drives strata's Engine API with it (crates/cli/tests/docker_py.rs).
# Idempotent and quiet: nothing is done when the pinned version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
version=7.1.0
venv=.venv-docker-py
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import docker, sys; sys.exit(docker.__version__ != '$version')" 2>/dev/null; then
  exit 0
fi
rm -rf "$venv"
# Debian's Python (scripts/test.sh installs python3 and python3-venv), whatever else
# is first on PATH.
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "docker==$version"
