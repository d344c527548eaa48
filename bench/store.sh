#!/usr/bin/env bash
# strata vs docker 20.10 (and skopeo, and GNU tar as the floor) for load / save / import of
# the reference images. Every store (strata's roots, the fair dockerd's data-root, skopeo's
# directory, tar's output) is on one fresh journaled ext4 (bench/lib.sh fair_fs); rounds
# are interleaved (each engine once per round), every timed run starts after a `sync` and
# is timed returned and durable; medians, ranges and ratios. Then the same rounds for
# strata and the floor with their stores on a tmpfs: the CPU-bound view. See bench/README.md.
#
#   bash bench/store.sh                       # all groups, RUNS=10 rounds
#   RUNS=3 bash bench/store.sh load import    # groups: load save import sizes
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if the
# reference images are missing). Results: /var/tmp/strata-bench/store/*.md, sizes.txt
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"            # $DOCKER $IMG $A ...
RUNS=${RUNS:-10}
GROUPS_=${*:-load save import sizes}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/store
mkdir -p "$OUT"
have() { [[ " $GROUPS_ " == *" $1 "* ]]; }
source "$HERE/lib.sh"           # rounds, summary, fair_fs

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
[ -s "$IMG/multi.tar" ] && [ -s "$IMG/debian-save.tar" ] && [ -s "$IMG/debian.tar" ] || bash "$REF/setup.sh" >/dev/null
fair_fs                         # $FAIR, $FAIR_DOCKER (with multi:1 and debian:bookworm loaded)
DOCKER=$FAIR_DOCKER
W=$FAIR/store
TMPFS=/mnt/strata-bench-tmpfs
mkdir -p "$W" "$TMPFS"
mountpoint -q "$TMPFS" || mount -t tmpfs -o size=4g strata-bench "$TMPFS"
trap 'umount -l "$TMPFS" 2>/dev/null || true' EXIT

tar_floor                       # floor DIR: multi.tar's layers extracted by GNU tar

# docker's import of the debootstrap rootfs: strata's import refuses device nodes by design,
# so both get the same device-free copy.
NODEV=$W/debian-nodev.tar
cp "$IMG/debian.tar" "$NODEV"
tar --delete --wildcards -f "$NODEV" './dev/*'

# Restores what a cold docker load removed (outside the timing).
docker_restore() {
  $DOCKER image inspect debian:bookworm >/dev/null 2>&1 || $DOCKER load -q -i "$IMG/debian-save.tar" >/dev/null
  $DOCKER image inspect multi:1 >/dev/null 2>&1 || $DOCKER load -q -i "$IMG/multi.tar" >/dev/null
}
DOCKER_COLD="$DOCKER rmi -f multi:1 debian:bookworm; $DOCKER image prune -af"

if have load; then
  rounds load "$RUNS" \
    "strata|rm -rf $W/load-root|$STRATA --root $W/load-root load -q -i $IMG/multi.tar" \
    "docker|$DOCKER_COLD|$DOCKER load -q -i $IMG/multi.tar" \
    "skopeo|rm -rf $W/oci|skopeo copy -q docker-archive:$IMG/multi.tar oci:$W/oci:multi:1" \
    "tar|rm -rf $W/floor|floor $W/floor"
  summary load strata | tee "$OUT/load.md"
  docker_restore
  rounds load-tmpfs "$RUNS" \
    "strata|rm -rf $TMPFS/load-root|$STRATA --root $TMPFS/load-root load -q -i $IMG/multi.tar" \
    "tar|rm -rf $TMPFS/floor|floor $TMPFS/floor"
  summary load-tmpfs strata | tee "$OUT/load-tmpfs.md"
  rm -rf "$W/load-root" "$W/oci" "$W/floor" "$TMPFS/load-root" "$TMPFS/floor"
fi

if have save; then
  "$STRATA" --root "$W/save-root" load -q -i "$IMG/multi.tar" >/dev/null
  rounds save "$RUNS" \
    "strata|rm -f $W/strata-save.tar|$STRATA --root $W/save-root save -o $W/strata-save.tar multi:1" \
    "docker|rm -f $W/docker-save.tar|$DOCKER save multi:1 -o $W/docker-save.tar"
  summary save strata | tee "$OUT/save.md"
  # strata's output loads back into docker as the same image (outside the timing).
  want=$($DOCKER image inspect multi:1 --format '{{.Id}}')
  $DOCKER rmi -f multi:1 >/dev/null
  $DOCKER load -q -i "$W/strata-save.tar" >/dev/null
  got=$($DOCKER image inspect multi:1 --format '{{.Id}}')
  [ "$got" = "$want" ] && echo "strata's save loads into docker as multi:1 $want: ok" | tee -a "$OUT/save.md" \
    || echo "!!! strata's save loaded as $got, not $want" | tee -a "$OUT/save.md"
  rm -rf "$W/save-root" "$W/strata-save.tar" "$W/docker-save.tar"
fi

if have import; then
  rounds import "$RUNS" \
    "strata|rm -rf $W/import-root|$STRATA --root $W/import-root import $NODEV strata-bench/import:1" \
    "docker|$DOCKER rmi -f strata-bench/import:1; $DOCKER image prune -f|$DOCKER import $NODEV strata-bench/import:1" \
    "tar|rm -rf $W/import-floor; mkdir -p $W/import-floor|tar -xf $NODEV -C $W/import-floor"
  summary import strata | tee "$OUT/import.md"
  rounds import-tmpfs "$RUNS" \
    "strata|rm -rf $TMPFS/import-root|$STRATA --root $TMPFS/import-root import $NODEV strata-bench/import:1" \
    "tar|rm -rf $TMPFS/import-floor; mkdir -p $TMPFS/import-floor|tar -xf $NODEV -C $TMPFS/import-floor"
  summary import-tmpfs strata | tee "$OUT/import-tmpfs.md"
  $DOCKER rmi -f strata-bench/import:1 >/dev/null 2>&1 || true
  rm -rf "$W/import-root" "$W/import-floor" "$TMPFS/import-root" "$TMPFS/import-floor"
fi

MULTI_SZ=$(stat -c %s "$IMG/multi.tar")
# ------------------------------------------------------------------ on-disk size and base sharing (strata only)
if have sizes; then
  echo ">>> sizes"
  # per-layer tar sizes of multi.tar; the first layer is debian:bookworm's
  read -r ALL_LAYERS BASE_LAYER UPPER_LAYERS NLAYERS < <(python3 - "$IMG/multi.tar" <<'PY'
import json, sys, tarfile
t = tarfile.open(sys.argv[1])
m = json.load(t.extractfile("manifest.json"))[0]
s = [t.getmember(l).size for l in m["Layers"]]
print(sum(s), s[0], sum(s[1:]), len(s))
PY
)
  SZ=$W/sizes
  {
    echo "== strata store after a cold load of multi.tar ($NLAYERS layers)"
    rm -rf "$SZ"; $STRATA --root "$SZ" load -q -i "$IMG/multi.tar" >/dev/null 2>&1
    COLD_B=$(du -sb "$SZ" | cut -f1)
    printf '%-34s %12s bytes  (%s KiB on disk)\n' "multi.tar" "$MULTI_SZ" "$(du -k "$IMG/multi.tar" | cut -f1)"
    printf '%-34s %12s bytes\n' "its layer tars (sum)" "$ALL_LAYERS"
    printf '%-34s %12s bytes  (%s KiB on disk)  = %.2f x multi.tar\n' "strata root (du -sb / du -sk)" "$COLD_B" "$(du -sk "$SZ" | cut -f1)" \
      "$(python3 -c "print($COLD_B/$MULTI_SZ)")"
    for d in "$SZ"/*; do [ -e "$d" ] && printf '  %-32s %12s bytes\n' "${d#"$SZ"/}" "$(du -sb "$d" | cut -f1)"; done
    rm -rf "$W/oci-multi"
    if skopeo copy -q "docker-archive:$IMG/multi.tar" "oci:$W/oci-multi:multi:1"; then
      printf '%-34s %12s bytes  (gzipped layers)\n' "skopeo oci: dir, for comparison" "$(du -sb "$W/oci-multi" | cut -f1)"
    fi
    printf '%-34s %12s bytes  (unpacked, as reported by docker)\n' "docker image inspect multi:1 .Size" "$($DOCKER image inspect multi:1 --format '{{.Size}}')"
    FACTOR=$(python3 -c "print($COLD_B/$ALL_LAYERS)")

    echo
    echo "== base sharing: load debian-save.tar, then multi.tar, into one fresh strata root"
    rm -rf "$SZ"; $STRATA --root "$SZ" load -q -i "$IMG/debian-save.tar" >/dev/null 2>&1
    S1=$(du -sb "$SZ" | cut -f1); N1=$(find "$SZ"/snapshots/committed -mindepth 2 -maxdepth 2 2>/dev/null | wc -l)
    $STRATA --root "$SZ" load -q -i "$IMG/multi.tar" >/dev/null 2>&1
    S2=$(du -sb "$SZ" | cut -f1); N2=$(find "$SZ"/snapshots/committed -mindepth 2 -maxdepth 2 2>/dev/null | wc -l)
    python3 - "$S1" "$S2" "$ALL_LAYERS" "$BASE_LAYER" "$UPPER_LAYERS" "$FACTOR" "$N1" "$N2" "$NLAYERS" <<'PY'
import sys
s1, s2, all_, base, upper = map(int, sys.argv[1:6]); f = float(sys.argv[6]); n1, n2, nl = map(int, sys.argv[7:10])
g = s2 - s1
print(f"after debian:bookworm              {s1:>12} bytes  ({n1} layer snapshots)")
print(f"after multi:1 as well              {s2:>12} bytes  ({n2} layer snapshots, +{n2-n1}; multi:1 has {nl} layers, {nl-1} new)")
print(f"growth                             {g:>12} bytes")
print(f"multi's {nl-1} new layers (tar sum)     {upper:>12} bytes;  base layer {base} bytes;  all {nl} layers {all_} bytes")
print(f"store bytes per layer-tar byte (from the cold load): {f:.2f}")
exp_shared, exp_dup = f * upper, f * all_
print(f"expected growth if base shared: {exp_shared:.0f}; if base stored again: {exp_dup:.0f}")
extra = g - exp_shared
verdict = "base shared: no base bytes added" if abs(g - exp_shared) < abs(g - exp_dup) else "BASE STORED AGAIN"
print(f"=> growth / new-layer bytes = {g/upper:.2f}; growth - expected(shared) = {extra:+.0f} bytes ({extra/base*100:+.2f}% of the base layer): {verdict}")
PY
    rm -rf "$SZ"; rm -rf "$W/oci-multi"
  } 2>&1 | tee "$OUT/sizes.txt"
fi

exit 0
}
