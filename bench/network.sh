#!/usr/bin/env bash
# Networking costs: `run --rm busybox true` on the default bridge vs --network none
# (what the bridge adds: namespace pin, veth pair, address, route), next to docker's
# and podman's bridge runs; and 1 GiB through a published port (-p, through strata's
# proxy) vs a direct loopback connection, with the same static sender and sink.
# Interleaved rounds, medians, ratios. Not a test: no thresholds.
#
#   bash bench/network.sh              # RUNS=20 latency rounds, RUNS_TP=5 throughput rounds
#   RUNS=10 bash bench/network.sh run  # groups: run throughput
#
# Needs root, gcc, and the reference systems of /work/shared/reference (docker and podman
# rows are skipped when they are not there). Results: /var/tmp/strata-bench/network/
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
RUNS=${RUNS:-20}
RUNS_TP=${RUNS_TP:-5}
MIB=${MIB:-1024}
GROUPS_=${*:-run throughput}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/network
ROOT=$OUT/root
mkdir -p "$OUT"
have() { [[ " $GROUPS_ " == *" $1 "* ]]; }
[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
S() { "$STRATA" --root "$ROOT" "$@"; }

engines=()
if [ -e "$REF/env.sh" ]; then
  source "$REF/env.sh"
  if ! $DOCKER image inspect busybox:local >/dev/null 2>&1; then bash "$REF/setup.sh" >/dev/null; fi
  start_dockerd
  engines+=("docker bridge||$DOCKER run --rm busybox:local true"
            "podman bridge||$PODMAN run --rm localhost/busybox:local true")
  TAR=$IMG/busybox.tar
else
  TAR=$OUT/busybox.tar
  d=$(mktemp -d); mkdir -p "$d/bin"; cp /bin/busybox "$d/bin/"
  for a in $(/bin/busybox --list); do ln -sf busybox "$d/bin/$a"; done
  tar -C "$d" -cf "$TAR" .; rm -rf "$d"
fi
[ ! -d "$ROOT" ] || S system reset --force >/dev/null 2>&1 || true
rm -rf "$ROOT"
S import -c 'CMD ["sh"]' "$TAR" busybox:local >/dev/null
S run --rm busybox:local true   # the default bridge exists from here on, as docker0 does

source "$HERE/lib.sh"   # time_ms, rounds, summary

if have run; then
  # What the bridge adds: strata against itself only. (A run right after docker's or
  # podman's pays for their background cleanup on the 2 cores, whichever it is.)
  rounds bridge "$RUNS" \
    "strata none||$STRATA --root $ROOT run --rm --network none busybox:local true" \
    "strata bridge||$STRATA --root $ROOT run --rm busybox:local true"
  summary bridge "strata bridge" | tee "$OUT/bridge.md"
  python3 - "$OUT/bridge.tsv" <<'PY' | tee -a "$OUT/bridge.md"
import sys, statistics, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, us = line.split("\t"); t[label].append(int(us) / 1000)
m = {k: statistics.median(v) for k, v in t.items()}
print(f"bridge adds {m['strata bridge'] - m['strata none']:.1f} ms to run --rm (medians)")
PY
  if [ ${#engines[@]} -gt 0 ]; then
    rounds run "$RUNS" "strata bridge||$STRATA --root $ROOT run --rm busybox:local true" "${engines[@]}"
    summary run "strata bridge" | tee "$OUT/run.md"
  fi
fi

if have throughput; then
  gcc -static -O2 -o "$OUT/tcp_pump" "$HERE/tcp_pump.c"
  mkdir -p "$OUT/ctx"; cp "$OUT/tcp_pump" "$OUT/ctx/"
  printf 'FROM busybox:local\nCOPY tcp_pump /bin/tcp_pump\n' >"$OUT/ctx/Dockerfile"
  S build -q -t pump:1 "$OUT/ctx" >/dev/null
  DIRECT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$OUT/tcp_pump" sink "$DIRECT" & SINK=$!
  # The default bridge (MTU 1500, as Docker's), and a network with loopback's MTU.
  S network create -o com.docker.network.driver.mtu=65520 jumbo >/dev/null
  S run -d --name pump -p 127.0.0.1::9000 pump:1 tcp_pump sink 9000 >/dev/null
  S run -d --name pump-jumbo --network jumbo -p 127.0.0.1::9000 pump:1 tcp_pump sink 9000 >/dev/null
  PUBLISHED=$(S port pump 9000 | head -1 | sed 's/.*://')
  JUMBO=$(S port pump-jumbo 9000 | head -1 | sed 's/.*://')
  ADDRESS=$(S inspect -f '{{.NetworkSettings.IPAddress}}' pump)
  sleep 0.5
  rounds throughput "$RUNS_TP" \
    "loopback||$OUT/tcp_pump source 127.0.0.1 $DIRECT $MIB" \
    "published -p||$OUT/tcp_pump source 127.0.0.1 $PUBLISHED $MIB" \
    "container address, no NAT||$OUT/tcp_pump source $ADDRESS 9000 $MIB" \
    "published -p, MTU 65520||$OUT/tcp_pump source 127.0.0.1 $JUMBO $MIB"
  kill $SINK; S rm -f pump pump-jumbo >/dev/null
  summary throughput "published -p" | tee "$OUT/throughput.md"
  python3 - "$OUT/throughput.tsv" "$MIB" <<'PY' | tee -a "$OUT/throughput.md"
import sys, statistics, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, us = line.split("\t"); t[label].append(int(us) / 1e6)
mib = int(sys.argv[2])
rate = {k: mib / statistics.median(v) for k, v in t.items()}
for k, r in rate.items():
    print(f"{k}: {r:.0f} MiB/s")
for k in rate:
    if k != "loopback":
        print(f"{k} / loopback throughput: {rate[k] / rate['loopback']:.2f}")
PY
fi
S system reset --force >/dev/null
exit
}
