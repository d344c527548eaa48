#!/usr/bin/env bash
# The Python Docker SDK (PyPI's docker) and testcontainers-python, both pinned, in a
# virtual environment of their own, for the tests that drive strata's Engine API with
# them (crates/cli/tests/docker_py.rs). Idempotent and quiet: nothing is done when the
# pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
docker_version=7.1.0
testcontainers_version=4.15.0
venv=.venv-docker-py
installed() {
  "$venv/bin/python" - "$docker_version" "$testcontainers_version" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
sys.exit(version("docker") != sys.argv[1] or version("testcontainers") != sys.argv[2])
PY
}
if [ -x "$venv/bin/python" ] && installed; then
  exit 0
fi
rm -rf "$venv"
# Debian's Python (scripts/test.sh installs python3 and python3-venv), whatever else
# is first on PATH.
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "docker==$docker_version" "testcontainers==$testcontainers_version"
