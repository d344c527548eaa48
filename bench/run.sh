#!/usr/bin/env bash
# strata vs docker, podman, crun and runc: `run --rm IMAGE true` latency, and `commit` of a
# container that wrote 100 MB. Interleaved rounds (each engine once per round), medians and
# ratios; other work on the 2 cores hits every engine alike. Not a test: no thresholds.
# Every engine's store (strata's root, the fair dockerd's data-root, podman's graphroot,
# the crun and runc bundles) is on one fresh journaled ext4 (fair-fs.sh reset); each timed
# run starts after a `sync` and is timed returned and durable (bench/lib.sh).
#
#   bash bench/run.sh                 # RUNS=20 rounds for run, RUNS_COMMIT=10 for commit
#   RUNS=10 bash bench/run.sh run     # groups: run commit
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if the
# busybox image or the crun/runc bundles are missing). Results: /var/tmp/strata-bench/run/
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"
RUNS=${RUNS:-20}
RUNS_COMMIT=${RUNS_COMMIT:-10}
GROUPS_=${*:-run commit}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/run
mkdir -p "$OUT"
have() { [[ " $GROUPS_ " == *" $1 "* ]]; }

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
if ! $DOCKER image inspect busybox:local >/dev/null 2>&1 || [ ! -e "$A/bundle-crun/config.json" ]; then
  bash "$REF/setup.sh" >/dev/null
fi
source "$HERE/lib.sh"   # time_ms, rounds, summary, fair_fs
fair_fs                 # $FAIR, $FAIR_DOCKER
DOCKER=$FAIR_DOCKER
W=$FAIR/run
ROOT=$W/root
PODMAN="$PODMAN --root $W/podman --runroot /run/strata-bench-podman"
mkdir -p "$W"
"$STRATA" --root "$ROOT" import -c 'CMD ["sh"]' "$IMG/busybox.tar" busybox:local >/dev/null
$PODMAN import --change 'CMD ["sh"]' "$IMG/busybox.tar" localhost/busybox:local >/dev/null
cp -a "$A/bundle-crun" "$W/bundle-crun"
cp -a "$A/bundle-runc" "$W/bundle-runc"

if have run; then
  B=$W/bundle-crun; BR=$W/bundle-runc
  rounds run "$RUNS" \
    "strata||$STRATA --root $ROOT run --rm --network none busybox:local true" \
    "docker||$DOCKER run --rm --network none busybox:local true" \
    "podman||$PODMAN run --rm --network none localhost/busybox:local true" \
    "crun||crun run --bundle $B bench-crun" \
    "runc||runc run --bundle $BR bench-runc"
  summary run strata | tee "$OUT/run.md"
fi

if have commit; then
  W='dd if=/dev/urandom of=/big bs=1M count=100 status=none'
  "$STRATA" --root "$ROOT" rm -f c100 >/dev/null 2>&1 || true
  $DOCKER rm -f c100 >/dev/null 2>&1 || true
  "$STRATA" --root "$ROOT" run --name c100 busybox:local sh -c "$W"
  $DOCKER run --name c100 --network none busybox:local sh -c "$W"
  rounds commit "$RUNS_COMMIT" \
    "strata|$STRATA --root $ROOT rmi big:1; $STRATA --root $ROOT image prune -f; sync|$STRATA --root $ROOT commit c100 big:1" \
    "docker|$DOCKER rmi big:1; sync|$DOCKER commit c100 big:1"
  summary commit strata | tee "$OUT/commit.md"
  "$STRATA" --root "$ROOT" rm -f c100 >/dev/null; $DOCKER rm -f c100 >/dev/null; $DOCKER rmi big:1 >/dev/null 2>&1 || true
fi
# A root's bridge and rules live outside it: give them back; the filesystem stays until
# the next fair_fs (or fair-fs.sh down).
"$STRATA" --root "$ROOT" system reset --force >/dev/null 2>&1 || true
$PODMAN rm -af >/dev/null 2>&1 || true
exit
}
