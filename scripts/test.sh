#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind: installs the system packages the
# tests drive (real skopeo, podman, busybox, docker-registry), then runs every crate's tests.
# The tests start their own registries on 127.0.0.1 (free ports, private storage).
# Must run as root: tests mount real overlayfs and write trusted.* xattrs.
set -euo pipefail
cd "$(dirname "$0")/.."

# debootstrap, zstd: the Dockerfile corpus' base images (scripts/corpus-bases.sh);
# openssh-client: its ssh-agent, forwarded by RUN --mount=type=ssh.
# chromium: the layer explorer's HTML page, rendered headless (crates/cli/tests/explore.rs).
# docker-compose: Debian's compose 1.29 (Python), driven against strata's socket.
# docker.io: Debian's docker 20.10 client (API 1.41) at /usr/bin/docker, which the Engine
# API tests drive beside docker 28 at /usr/local/bin/docker. Its daemon is never started:
# ensure_packages blocks service starts while it installs (policy-rc.d), and nothing runs it.
packages=(skopeo podman crun runc uidmap busybox-static python3 python3-venv tar procps docker-registry apache2-utils openssl gcc libc6-dev nftables iproute2
  docker.io docker-compose debootstrap zstd openssh-client chromium e2fsprogs mount)
source scripts/packages.sh
ensure_packages "${packages[@]}"
# The Python Docker SDK (pinned, in .venv-docker-py) for crates/cli/tests/docker_py.rs;
# docker compose v5 (pinned, built from the Go module proxy into .tools) and Debian's
# docker-compose 1.29 for crates/cli/tests/compose.rs.
scripts/docker-py.sh
scripts/compose.sh
# The Dockerfile corpus' base images (crates/cli/tests/build_corpus.rs): debootstrap from
# deb.debian.org the first time, then cached in /var/cache/strata-corpus.
scripts/corpus-bases.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -q -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Test-only features (never in a shipped build): race-points, the pause points of the
# host-safety race tests; failpoints, the crash tests' failure points.
cargo test --workspace --all-targets --no-fail-fast --features strata/race-points,strata/failpoints 2>&1 | tee "$log" || status=$?
# One closing line over every test binary (doc tests are not run: there are none).
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
# A short fuzzing run of every target (scripts/fuzz.sh SECONDS runs longer ones).
scripts/fuzz.sh "${STRATA_FUZZ_SECS:-20}" || status=1
exit $status
