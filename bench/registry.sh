#!/usr/bin/env bash
# strata vs docker, podman and skopeo against the reference registry (distribution 2.8 on
# 127.0.0.1:5000): a cold pull of the 4-layer multi:1 image (~100 MB gzip) and a push of it
# to an empty registry. Interleaved rounds (each engine once per round), medians and
# ratios. Not a test: no thresholds. Every engine's store (strata's roots, the fair
# dockerd's data-root, podman's graphroot, skopeo's directory) is on one fresh journaled
# ext4 (fair-fs.sh reset); each timed run starts after a `sync` and is timed returned and
# durable (bench/lib.sh). The registry's own storage stays where the reference put it.
#
#   bash bench/registry.sh               # RUNS=10 rounds per group
#   RUNS=3 bash bench/registry.sh pull   # groups: pull push
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if
# multi:1 is missing). Results: /var/tmp/strata-bench/registry/{pull,push}.md
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"            # $DOCKER $PODMAN $REGISTRY $IMG start_dockerd reset_registry ...
RUNS=${RUNS:-10}
GROUPS_=${*:-pull push}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/registry
mkdir -p "$OUT"
have() { [[ " $GROUPS_ " == *" $1 "* ]]; }
source "$HERE/lib.sh"           # time_ms, rounds, summary, fair_fs
Q='>/dev/null 2>&1'

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
$DOCKER image inspect multi:1 >/dev/null 2>&1 || bash "$REF/setup.sh" >/dev/null
start_dockerd; start_registry
fair_fs                         # $FAIR, $FAIR_DOCKER
DOCKER=$FAIR_DOCKER
W=$FAIR/registry
mkdir -p "$W"
PODMAN="$PODMAN --root $W/podman --runroot /run/strata-bench-podman"
IMAGE=$REGISTRY/multi:1

# docker's copy of multi:1 and its debian base must be restored after cold pulls.
restore_docker() {
  $DOCKER image inspect debian:bookworm >/dev/null 2>&1 || $DOCKER load -q -i "$IMG/debian-save.tar" >/dev/null
  $DOCKER image inspect multi:1 >/dev/null 2>&1 || $DOCKER tag "$IMAGE" multi:1
  $DOCKER rmi "$IMAGE" >/dev/null 2>&1 || true
}
seed_registry() {
  reset_registry
  $DOCKER tag multi:1 "$IMAGE"
  $DOCKER push -q "$IMAGE" >/dev/null
}

if have pull; then
  seed_registry
  DOCKER_COLD="$DOCKER rmi $IMAGE multi:1 $Q; $DOCKER rmi debian:bookworm $Q; $DOCKER image prune -f $Q; true"
  rounds pull "$RUNS" \
    "strata|rm -rf $W/pull-root; sync|$STRATA --root $W/pull-root pull -q $IMAGE" \
    "docker|$DOCKER_COLD; sync|$DOCKER pull -q $IMAGE" \
    "podman|$PODMAN rmi -f $IMAGE; sync|$PODMAN pull -q --tls-verify=false $IMAGE" \
    "skopeo-dir|rm -rf $W/skopeo-dir; sync|skopeo copy -q --src-tls-verify=false docker://$IMAGE dir:$W/skopeo-dir"
  summary pull strata | tee "$OUT/pull.md"
  restore_docker
  rm -rf "$W/pull-root" "$W/skopeo-dir"; $PODMAN rmi -f "$IMAGE" >/dev/null 2>&1 || true
fi

if have push; then
  # strata's multi:1 as docker saved it: uncompressed layers, gzipped on push as docker does.
  rm -rf "$W/push-root"
  "$STRATA" --root "$W/push-root" load -q -i "$IMG/multi.tar" >/dev/null
  "$STRATA" --root "$W/push-root" tag multi:1 "$IMAGE"
  $DOCKER tag multi:1 "$IMAGE"
  RESET="bash -c 'source $REF/env.sh; reset_registry'; sync"
  rounds push "$RUNS" \
    "strata|$RESET|$STRATA --root $W/push-root push -q $IMAGE" \
    "docker|$RESET|$DOCKER push -q $IMAGE"
  summary push strata | tee "$OUT/push.md"
  $DOCKER rmi "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$W/push-root"
fi
exit
}
