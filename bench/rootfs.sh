#!/usr/bin/env bash
# strata, docker 20.10 and GNU tar on an ext4 WITHOUT a journal, like this VM's root
# filesystem (issue 22: "why strata suffers more than docker on the unjournaled root").
# On such a filesystem a file creation checks every inode of its block group that was
# freed in the last 60 s (360 s while its inode-table block is dirty) one at a time and
# skips it (kernel `recently_deleted()` in `__ext4_new_inode`), so unpacking right after
# a mass deletion in the same groups slows down.
#
# One fresh unjournaled ext4 on a loop file holds every store: strata's root, a dockerd
# whose data-root is there (../shared/reference/fair-fs.sh up on this mount point) and
# tar's output. Each engine does a cold load of the reference `multi:1` (4 layers, 7,700
# files), timed returned and durable:
#   deleted  right after the engine deleted its previous copy (strata: `rm -rf` of its
#            root, and `rmi multi:1` in a second root kept across rounds; docker:
#            `rmi -f multi:1 debian:bookworm`, `image prune -af`; tar: `rm -rf`)
#   dropped  the same deletion, then `sync`, the caches dropped and the inputs read
#            back: no inode counts as recently deleted then
#   settled  every engine's deletion, then `sync` and SETTLE=370 s of waiting, then
#            each engine's load (a dirty inode-table block's deleted inodes count as
#            recent for 360 s, and the first allocation in a block dirties it)
# and, after the last `deleted` round, where each engine's new inodes landed: the block
# groups they are in and how many of them.
#
#   bash bench/rootfs.sh                 # RUNS=5 deleted and dropped rounds, SETTLED=1
#   RUNS=3 SETTLED=0 bash bench/rootfs.sh
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if needed).
# Results: /var/tmp/strata-bench/rootfs/{deleted,dropped,settled}.md, placement.txt. The fair
# dockerd is stopped and the filesystem removed at the end.
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"            # $DOCKER $IMG $A ...
RUNS=${RUNS:-5}
SETTLED=${SETTLED:-1}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/rootfs
mkdir -p "$OUT"
source "$HERE/lib.sh"           # rounds, summary

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
[ -s "$IMG/multi.tar" ] && [ -s "$IMG/debian-save.tar" ] || bash "$REF/setup.sh" >/dev/null

# The shared fair filesystem and its dockerd make way for an unjournaled one at another
# mount point; fair-fs.sh's `up` keeps a filesystem it finds mounted there.
export FAIR=/mnt/strata-unjournaled FAIR_IMAGE=/var/tmp/strata-unjournaled.img
bash "$REF/fair-fs.sh" down >/dev/null 2>&1 || true
FAIR=/mnt/strata-fair FAIR_IMAGE=/var/tmp/strata-fair.img bash "$REF/fair-fs.sh" down >/dev/null 2>&1 || true
mkdir -p "$FAIR"; truncate -s 12G "$FAIR_IMAGE"
mkfs.ext4 -q -F -O ^has_journal "$FAIR_IMAGE"
mount -o loop "$FAIR_IMAGE" "$FAIR"
trap 'bash "$REF/fair-fs.sh" down >/dev/null 2>&1 || true' EXIT
bash "$REF/fair-fs.sh" up >/dev/null
DOCKER="$DOCKER -H unix:///run/strata-fair-docker.sock"
dumpe2fs -h "$FAIR_IMAGE" 2>/dev/null | grep -q has_journal && { echo "the filesystem has a journal" >&2; exit 1; }
PER_GROUP=$(dumpe2fs -h "$FAIR_IMAGE" 2>/dev/null | awk -F: '/Inodes per group/ {gsub(/ /, "", $2); print $2}')

W=$FAIR/work
tar_floor                       # floor DIR: multi.tar's layers extracted by GNU tar
echo "$("$STRATA" --version) ($(cd "$REPO" && git rev-parse --short HEAD)), $(nproc) cores, $PER_GROUP inodes a group" | tee "$OUT/about.txt"

STRATA_DEL="rm -rf $W/strata"
STRATA_RMI="$STRATA --root $W/strata-rmi rmi multi:1"
DOCKER_DEL="$DOCKER rmi -f multi:1 debian:bookworm; $DOCKER image prune -af"
TAR_DEL="rm -rf $W/floor"
# Every engine once, so each has a copy to delete in the first round.
"$STRATA" --root "$W/strata" load -q -i "$IMG/multi.tar" >/dev/null
"$STRATA" --root "$W/strata-rmi" load -q -i "$IMG/multi.tar" >/dev/null
floor "$W/floor"

rounds deleted "$RUNS" \
  "strata|$STRATA_DEL|$STRATA --root $W/strata load -q -i $IMG/multi.tar" \
  "strata rmi|$STRATA_RMI|$STRATA --root $W/strata-rmi load -q -i $IMG/multi.tar" \
  "docker|$DOCKER_DEL|$DOCKER load -q -i $IMG/multi.tar" \
  "tar|$TAR_DEL|floor $W/floor"
summary deleted strata | tee "$OUT/deleted.md"

# Where the last round's inodes are: per block group, how many of each engine's files.
groups_of() { # DIR: "count×group" for the groups holding DIR's inodes, most first
  find "$1" -xdev -printf '%i\n' | awk -v g="$PER_GROUP" '{ n[int(($1 - 1) / g)]++ } END { for (k in n) print n[k] "\t" k }' \
    | sort -rn | awk '{ printf "%s%d×g%d", (NR > 1 ? ", " : ""), $1, $2 } END { print "" }'
}
{
  echo "inodes per group: $PER_GROUP; where the last deleted round's files landed (count×group):"
  echo "strata: $(groups_of "$W/strata")"
  echo "strata rmi: $(groups_of "$W/strata-rmi")"
  echo "docker: $(groups_of "$FAIR/docker/overlay2")"
  echo "tar:    $(groups_of "$W/floor")"
} | tee "$OUT/placement.txt"

# The same deletions, then the caches dropped (clean inode-table blocks leave the
# buffer cache, and an inode whose block is not cached never counts as recently
# deleted) and every input read back in: as if the deletions were long past.
WARM="cat $IMG/multi.tar $W/multi/*/layer.tar $W/multi/*.tar >/dev/null 2>&1"
DROP="sync; echo 3 >/proc/sys/vm/drop_caches; $WARM"
rounds dropped "$RUNS" \
  "strata|$STRATA_DEL; $DROP|$STRATA --root $W/strata load -q -i $IMG/multi.tar" \
  "strata rmi|$STRATA_RMI; $DROP|$STRATA --root $W/strata-rmi load -q -i $IMG/multi.tar" \
  "docker|$DOCKER_DEL; $DROP|$DOCKER load -q -i $IMG/multi.tar" \
  "tar|$TAR_DEL; $DROP|floor $W/floor"
summary dropped strata | tee "$OUT/dropped.md"

# Every engine's deletion, then SETTLE seconds (an allocation dirties its inode-table
# block, and a dirty block's deleted inodes count as recent for 360 s, not 60), then
# each engine's load in turn: one wait a round for all of them.
if [ "$SETTLED" -gt 0 ]; then
  rounds settled "$SETTLED" \
    "strata|$STRATA_DEL; $STRATA_RMI; $DOCKER_DEL; $TAR_DEL; sync; sleep ${SETTLE:-370}|$STRATA --root $W/strata load -q -i $IMG/multi.tar" \
    "strata rmi||$STRATA --root $W/strata-rmi load -q -i $IMG/multi.tar" \
    "docker||$DOCKER load -q -i $IMG/multi.tar" \
    "tar||floor $W/floor"
  summary settled strata | tee "$OUT/settled.md"
fi
for r in strata strata-rmi; do "$STRATA" --root "$W/$r" system reset --force >/dev/null 2>&1 || true; done
exit 0
}
