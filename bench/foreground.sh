#!/usr/bin/env bash
# What running every foreground container under its monitor costs: `run --rm` (and
# `run --rm -i` with input) of this build against a previous build, in interleaved rounds
# of the same run, each build's store on one fresh journaled ext4 loop filesystem, `sync`
# before each timed run. Medians, and the ratio this / previous (above 1: this is slower).
# Issue 16's bar: at most 5% slower, median of at least 20 rounds.
#
#   PREVIOUS=/path/to/old/strata bash bench/foreground.sh     # RUNS=20
#
# Needs root, busybox-static (the image) and a previous strata binary (build an older
# commit with `cargo build --release -p strata` in a worktree). Results:
# /var/tmp/strata-bench/foreground/
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-20}
OUT=/var/tmp/strata-bench/foreground
FS=$OUT/fs
IMG=$OUT/fs.img
[ -n "${PREVIOUS:-}" ] || { echo "set PREVIOUS to the strata binary to compare with" >&2; exit 2; }
if [ -z "${STRATA:-}" ]; then
  (cd "$REPO" && cargo build --release -q -p strata)
  STRATA=$REPO/target/release/strata
fi
mkdir -p "$OUT"
cleanup() {
  for r in this previous; do "$STRATA" --root "$FS/$r" system reset --force >/dev/null 2>&1 || true; done
  umount "$FS" 2>/dev/null || true
  rm -f "$IMG"
}
trap cleanup EXIT
# One fresh journaled ext4 for both stores (this VM's root ext4 has no journal, and
# its file creation slows after mass deletions: figures taken there swing).
mkdir -p "$FS"
umount "$FS" 2>/dev/null || true
truncate -s 2G "$IMG"
mkfs.ext4 -q -F "$IMG"
mount -o loop "$IMG" "$FS"
"$REPO/examples/busybox/make-rootfs.sh" "$OUT/busybox.tar"
"$STRATA" --root "$FS/this" import -c 'CMD ["sh"]' "$OUT/busybox.tar" busybox:local >/dev/null
"$PREVIOUS" --root "$FS/previous" import -c 'CMD ["sh"]' "$OUT/busybox.tar" busybox:local >/dev/null
# Warm both (first runs make the default network).
for i in 1 2 3; do
  "$STRATA" --root "$FS/this" run --rm busybox:local true
  "$PREVIOUS" --root "$FS/previous" run --rm busybox:local true
done

source "$HERE/lib.sh"   # time_ms, rounds, summary

rounds run "$RUNS" \
  "this|sync|$STRATA --root $FS/this run --rm busybox:local true" \
  "previous|sync|$PREVIOUS --root $FS/previous run --rm busybox:local true"
summary run this | tee "$OUT/run.md"
rounds run-input "$RUNS" \
  "this|sync|echo hello | $STRATA --root $FS/this run --rm -i busybox:local cat" \
  "previous|sync|echo hello | $PREVIOUS --root $FS/previous run --rm -i busybox:local cat"
summary run-input this | tee "$OUT/run-input.md"
exit
}
