#!/usr/bin/env bash
# strata at scale (issue 22's "Scale" targets), strata alone by default, its store on one
# fresh journaled ext4 on a loop file, made for this run and removed at its end (the same
# kind of filesystem ../shared/reference/fair-fs.sh makes; with WITH_DOCKER=1 it is that
# one, `fair-fs.sh reset`, with its dockerd; without, the shared one and its dockerd,
# which other benchmarks may be using, are left alone):
#   images    `images` and `images -q` with 10,000 images (one archive of 10,000 configs
#             over one tiny layer, loaded once: bench/api_client.py images-archive)
#   ps        `ps -a` and `ps -a -q` with 1,000 created (never started) containers
#   run       `run --rm --network none IMG true` of a 5-layer and a 500-layer image
#             (busybox at the bottom, then one-file layers: bench/scale.py layered); the
#             first run of each is reported apart (the 500-layer one makes its flattened
#             bottom then)
# Each command is run directly by bench/scale.py (no shell in the timing), rounds
# interleaved, `sync` before every group (and before every run of the run group);
# medians and ranges. With PREVIOUS=binary, an earlier build gets a root of its own with
# the same images and containers and is timed in the same rounds ("previous" rows). With
# WITH_DOCKER=1 the fair dockerd gets them too and its `images`/`ps -a` are timed in the
# same rounds (slow to prepare).
#
#   bash bench/scale.sh                  # RUNS=20 rounds; groups: images ps run
#   RUNS=5 bash bench/scale.sh run       # one group
#   PREVIOUS=/path/to/old/strata bash bench/scale.sh
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if needed).
# Results: /var/tmp/strata-bench/scale/*.md (and the raw *.tsv)
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"
RUNS=${RUNS:-20}
IMAGES=${IMAGES:-10000}
CONTAINERS=${CONTAINERS:-1000}
DEEP=${DEEP:-500}
STRATA=${STRATA:-${CARGO_TARGET_DIR:-$REPO/target}/release/strata}
OUT=/var/tmp/strata-bench/scale
FD="$DOCKER -H unix:///run/strata-fair-docker.sock"
GROUPS_=${*:-images ps run}
mkdir -p "$OUT"

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
[ -s "$IMG/busybox.tar" ] && [ -f /etc/docker/daemon.json ] || bash "$REF/setup.sh" >/dev/null
if [ "${WITH_DOCKER:-0}" = 1 ]; then
  FS=${FAIR:-/mnt/strata-fair}
  bash "$REF/fair-fs.sh" reset >/dev/null
else
  FS=${SCALE_FS:-/mnt/strata-scale}
  FSIMG=${SCALE_FS_IMAGE:-/var/tmp/strata-scale.img}
  fs_down() {
    if mountpoint -q "$FS"; then
      { grep " $FS/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m"; done
      umount "$FS" || umount -l "$FS"
    fi
    rm -f "$FSIMG"
  }
  fs_down
  mkdir -p "$FS"; truncate -s "${SCALE_FS_SIZE:-4G}" "$FSIMG"
  mkfs.ext4 -q -F "$FSIMG"   # default features include has_journal
  mount -o loop "$FSIMG" "$FS"
  trap fs_down EXIT
fi
ROOT=$FS/strata
PROOT=$FS/previous
S() { "$STRATA" --root "$ROOT" "$@"; }
# each CMD...: CMD run by this build, and by the previous one on its own root.
each() {
  "$STRATA" --root "$ROOT" "$@"
  if [ -n "${PREVIOUS:-}" ]; then "$PREVIOUS" --root "$PROOT" "$@"; fi
}
# timed LABEL ARGS: "LABEL=strata --root ROOT ARGS" (and the previous build's row)
timed() {
  echo "strata $1=$STRATA --root $ROOT $2"
  if [ -n "${PREVIOUS:-}" ]; then echo "previous $1=$PREVIOUS --root $PROOT $2"; fi
}
T() { python3 "$HERE/scale.py" time "$RUNS" "$OUT/$1.tsv" "${@:2}"; }
report() { : >"$OUT/$1.tsv"; T "$@"; python3 "$HERE/scale.py" summary "$1" "$OUT/$1.tsv" | tee "$OUT/$1.md"; }
each import -c 'CMD ["sh"]' "$IMG/busybox.tar" busybox:local >/dev/null
echo "$("$STRATA" --version) ($(cd "$REPO" && git rev-parse --short HEAD)), $(nproc) cores, $RUNS rounds" | tee "$OUT/about.txt"

for group in $GROUPS_; do
  case $group in
  images)
    [ -s "$OUT/images-$IMAGES.tar" ] || python3 "$HERE/api_client.py" images-archive "$IMAGES" "$OUT/images-$IMAGES.tar"
    each load -q -i "$OUT/images-$IMAGES.tar" >/dev/null
    extra=()
    if [ "${WITH_DOCKER:-0}" = 1 ]; then
      $FD load -q -i "$OUT/images-$IMAGES.tar" >/dev/null
      extra=("docker images=$FD images" "docker images -q=$FD images -q")
    fi
    echo "images: $(S images -q | wc -l) image IDs" | tee -a "$OUT/about.txt"
    sync
    mapfile -t specs < <(timed images images; timed "images -q" "images -q")
    report images "${specs[@]}" "${extra[@]}"
    ;;
  ps)
    for i in $(seq 1 "$CONTAINERS"); do each create --network none --name "c$i" busybox:local true >/dev/null; done
    extra=()
    if [ "${WITH_DOCKER:-0}" = 1 ]; then
      for i in $(seq 1 "$CONTAINERS"); do $FD create --network none --name "c$i" busybox:local true >/dev/null; done
      extra=("docker ps -a=$FD ps -a" "docker ps -a -q=$FD ps -a -q")
    fi
    echo "ps: $(S ps -a -q | wc -l) containers" | tee -a "$OUT/about.txt"
    sync
    mapfile -t specs < <(timed "ps -a" "ps -a"; timed "ps -a -q" "ps -a -q")
    report ps "${specs[@]}" "${extra[@]}"
    ;;
  run)
    for n in 5 "$DEEP"; do
      [ -s "$OUT/layers-$n.tar" ] || python3 "$HERE/scale.py" layered "$n" "$IMG/busybox.tar" "$OUT/layers-$n.tar" "layers:$n"
      each load -q -i "$OUT/layers-$n.tar" >/dev/null
    done
    sync
    # The first run of each: the deep image's flattened bottom is made then.
    mapfile -t specs < <(for n in 5 "$DEEP"; do timed "first run, $n layers" "run --rm --network none layers:$n true"; done)
    RUNS=1 report run-first --sync "${specs[@]}"
    mapfile -t specs < <(for n in 5 "$DEEP"; do timed "run, $n layers" "run --rm --network none layers:$n true"; done)
    report run --sync "${specs[@]}"
    ;;
  *) echo "unknown group $group (images ps run)" >&2; exit 2 ;;
  esac
done
exit
}
