#!/usr/bin/env bash
# strata build vs docker's classic builder and BuildKit on the reference Dockerfile.multi
# (debian base + ADD 50 MiB + two RUN layers + metadata): a no-op rebuild (everything
# cached) and a cold build (--no-cache; the base image present). Interleaved rounds,
# medians and ratios. Not a test: no thresholds. Both stores (strata's roots, the fair
# dockerd's data-root) are on one fresh journaled ext4 (fair-fs.sh reset); each timed run
# starts after a `sync` and is timed returned and durable (bench/lib.sh).
#
#   bash bench/build.sh                  # RUNS=10 for noop, RUNS_COLD=10 for cold
#   RUNS=5 bash bench/build.sh noop      # groups: noop cold
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if its
# build context or debian image is missing). Results: /var/tmp/strata-bench/build/*.md
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"            # $DOCKER $IMG $A start_dockerd ...
RUNS=${RUNS:-10}
RUNS_COLD=${RUNS_COLD:-10}
GROUPS_=${*:-noop cold}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/build
CTX=$A/build/multi
mkdir -p "$OUT"
have() { [[ " $GROUPS_ " == *" $1 "* ]]; }
source "$HERE/lib.sh"           # time_ms, rounds, summary, fair_fs

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
[ -s "$CTX/Dockerfile" ] && [ -s "$IMG/debian-save.tar" ] || bash "$REF/setup.sh" >/dev/null
fair_fs                         # $FAIR, $FAIR_DOCKER
DOCKER=$FAIR_DOCKER
W=$FAIR/build
ROOT=$W/root
mkdir -p "$W"
$DOCKER image inspect debian:bookworm >/dev/null 2>&1 || $DOCKER load -q -i "$IMG/debian-save.tar" >/dev/null
# strata's store: the same debian base, loaded from docker's save.
# RUN steps use the default bridge: a root's bridge and rules go with `system reset`.
drop_root() { [ ! -d "$1" ] || "$STRATA" --root "$1" system reset --force >/dev/null 2>&1 || true; rm -rf "$1"; }
fresh_root() { drop_root "$1"; "$STRATA" --root "$1" load -q -i "$IMG/debian-save.tar" >/dev/null; }

if have noop; then
  fresh_root "$ROOT"
  # Warm every cache once, untimed.
  "$STRATA" --root "$ROOT" build -q -t multi:s "$CTX" >/dev/null
  $DOCKER build -q -t multi:1 "$CTX" >/dev/null
  DOCKER_BUILDKIT=1 $DOCKER build -q --network none -t multi:bk "$CTX" >/dev/null
  rounds noop "$RUNS" \
    "strata||$STRATA --root $ROOT build -q -t multi:s $CTX" \
    "docker-classic||$DOCKER build -q -t multi:1 $CTX" \
    "buildkit||DOCKER_BUILDKIT=1 $DOCKER build -q --network none -t multi:bk $CTX"
  summary noop strata | tee "$OUT/noop.md"
  $DOCKER rmi multi:bk >/dev/null 2>&1 || true; $DOCKER builder prune -af >/dev/null
fi

if have cold; then
  rounds cold "$RUNS_COLD" \
    "strata|$STRATA --root $W/cold-root system reset --force; rm -rf $W/cold-root; $STRATA --root $W/cold-root load -q -i $IMG/debian-save.tar; sync|$STRATA --root $W/cold-root build -q --no-cache -t multi:cold $CTX" \
    "docker-classic|$DOCKER rmi multi:cold; $DOCKER image prune -f; sync|$DOCKER build -q --no-cache -t multi:cold $CTX"
  summary cold strata | tee "$OUT/cold.md"
  $DOCKER rmi multi:cold >/dev/null 2>&1 || true
  drop_root "$W/cold-root"
fi
exit
}
