#!/usr/bin/env bash
# What the default seccomp filter costs: `run --rm busybox true` with the filter (the
# default) and with `--security-opt seccomp=unconfined`, under strata's runtime and under
# runc, in interleaved rounds of the same run; and a syscall-bound container (dd moving
# 1-byte blocks: two syscalls each) with and without it. Medians and ratios
# (filter / this), no thresholds. strata alone: no reference engine is needed.
#
#   bash bench/seccomp.sh              # RUNS=20 rounds of each group
#   RUNS=5 bash bench/seccomp.sh run   # groups: run syscalls
#
# Needs root, busybox-static (the image) and runc. Results: /var/tmp/strata-bench/seccomp/
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-20}
BLOCKS=${BLOCKS:-200000}
GROUPS_=${*:-run syscalls}
OUT=/var/tmp/strata-bench/seccomp
ROOT=$OUT/root
mkdir -p "$OUT"
have() { [[ " $GROUPS_ " == *" $1 "* ]]; }

# The binary under test must know the flag: build it unless one is given.
if [ -z "${STRATA:-}" ]; then
  (cd "$REPO" && cargo build --release -q -p strata)
  STRATA=$REPO/target/release/strata
fi
[ ! -d "$ROOT" ] || "$STRATA" --root "$ROOT" system reset --force >/dev/null 2>&1 || true
rm -rf "$ROOT"
"$REPO/examples/busybox/make-rootfs.sh" "$OUT/busybox.tar"
"$STRATA" --root "$ROOT" import -c 'CMD ["sh"]' "$OUT/busybox.tar" busybox:local >/dev/null

source "$HERE/lib.sh"   # time_ms, rounds, summary

S="$STRATA --root $ROOT run --rm --network none"
U="--security-opt seccomp=unconfined"
# The filter is really there (and really not), under both runtimes.
for rt in strata runc; do
  on=$($S --runtime "$rt" busybox:local grep '^Seccomp:' /proc/self/status)
  off=$($S --runtime "$rt" $U busybox:local grep '^Seccomp:' /proc/self/status)
  [ "$on" = "$(printf 'Seccomp:\t2')" ] && [ "$off" = "$(printf 'Seccomp:\t0')" ] \
    || { echo "$rt: expected Seccomp 2 and 0, got '$on' and '$off'" >&2; exit 1; }
done

if have run; then
  rounds run "$RUNS" \
    "filter||$S busybox:local true" \
    "unconfined||$S $U busybox:local true" \
    "runc filter||$S --runtime runc busybox:local true" \
    "runc unconfined||$S --runtime runc $U busybox:local true"
  summary run filter | tee "$OUT/run.md"
fi

if have syscalls; then
  DD="dd if=/dev/zero of=/dev/null bs=1 count=$BLOCKS"
  rounds syscalls "$RUNS" \
    "filter||$S busybox:local $DD" \
    "unconfined||$S $U busybox:local $DD"
  summary syscalls filter | tee "$OUT/syscalls.md"
fi
"$STRATA" --root "$ROOT" system reset --force >/dev/null 2>&1 || true
exit
}
