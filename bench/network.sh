#!/usr/bin/env bash
# Networking costs: `run --rm busybox true` on the default bridge vs --network none
# (what the bridge adds: namespace pin, veth pair, address, route), next to docker's
# and podman's bridge runs; and 1 GiB each way through a published port (-p: DNAT to the
# container's address) vs a direct loopback connection, with the same static programs,
# under the kernel's default congestion control and under cubic; podman's -p alongside.
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
    label, us = line.split("\t")[:2]; t[label].append(int(us) / 1000)
m = {k: statistics.median(v) for k, v in t.items()}
print(f"bridge adds {m['strata bridge'] - m['strata none']:.1f} ms to run --rm (medians)")
PY
  if [ ${#engines[@]} -gt 0 ]; then
    rounds run "$RUNS" "strata bridge||$STRATA --root $ROOT run --rm busybox:local true" "${engines[@]}"
    summary run "strata bridge" | tee "$OUT/run.md"
  fi
fi

if have throughput; then
  # 1 GiB each way: "up" = a host client sends to a server in the container (tcp_pump
  # source -> sink), "down" = the container serves a download (serve -> fetch). Every path
  # against a direct loopback connection of the same direction and congestion control:
  # first the kernel's default (BBR on this machine's kernel), then cubic on both ends
  # (PUMP_CC for the host's sockets, --sysctl for the container's), if that differs.
  gcc -static -O2 -o "$OUT/tcp_pump" "$HERE/tcp_pump.c"
  mkdir -p "$OUT/ctx"; cp "$OUT/tcp_pump" "$OUT/ctx/"
  printf 'FROM busybox:local\nCOPY tcp_pump /bin/tcp_pump\n' >"$OUT/ctx/Dockerfile"
  S build -q -t pump:1 "$OUT/ctx" >/dev/null
  S network create -o com.docker.network.driver.mtu=65520 jumbo >/dev/null
  DEFAULT_CC=$(cat /proc/sys/net/ipv4/tcp_congestion_control)
  CCS=$DEFAULT_CC
  if [ "$DEFAULT_CC" != cubic ] && grep -qw cubic /proc/sys/net/ipv4/tcp_available_congestion_control; then
    CCS="$DEFAULT_CC cubic"
  fi
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  SERVERS=()
  PODMAN_PUMPS=()
  trap 'kill "${SERVERS[@]}" 2>/dev/null || true; [ ${#PODMAN_PUMPS[@]} -eq 0 ] || $PODMAN rm -f "${PODMAN_PUMPS[@]}" >/dev/null 2>&1 || true' EXIT
  PUMP_SH="tcp_pump sink 9000 & exec tcp_pump serve 9001 $MIB"
  specs=()
  for cc in $CCS; do
    env_cc=""; sysctl=()
    if [ "$cc" != "$DEFAULT_CC" ]; then env_cc="PUMP_CC=$cc"; sysctl=(--sysctl "net.ipv4.tcp_congestion_control=$cc"); fi
    up=$(free_port); down=$(free_port)
    env $env_cc "$OUT/tcp_pump" sink "$up" & SERVERS+=($!)
    env $env_cc "$OUT/tcp_pump" serve "$down" "$MIB" & SERVERS+=($!)
    specs+=("$cc up loopback||$env_cc $OUT/tcp_pump source 127.0.0.1 $up $MIB"
            "$cc down loopback||$env_cc $OUT/tcp_pump fetch 127.0.0.1 $down")
    for net in bridge jumbo; do
      name=pump-$cc-$net
      S run -d --name "$name" --network "$net" "${sysctl[@]}" -p 127.0.0.1::9000 -p 127.0.0.1::9001 \
        pump:1 sh -c "$PUMP_SH" >/dev/null
      pu=$(S port "$name" 9000 | head -1 | sed 's/.*://'); pd=$(S port "$name" 9001 | head -1 | sed 's/.*://')
      label="-p"; [ "$net" = bridge ] || label="-p, MTU 65520"
      specs+=("$cc up $label||$env_cc $OUT/tcp_pump source 127.0.0.1 $pu $MIB"
              "$cc down $label||$env_cc $OUT/tcp_pump fetch 127.0.0.1 $pd")
      if [ "$net" = bridge ]; then
        address=$(S inspect -f '{{.NetworkSettings.IPAddress}}' "$name")
        specs+=("$cc up container address, no NAT||$env_cc $OUT/tcp_pump source $address 9000 $MIB"
                "$cc down container address, no NAT||$env_cc $OUT/tcp_pump fetch $address 9001")
      fi
    done
    if [ ${#engines[@]} -gt 0 ]; then
      # podman's bridge (CNI, MTU 1500) with its own published ports: the same kernel path
      # through another engine, for scale.
      name=strata-bench-pump-$cc
      $PODMAN rm -f "$name" >/dev/null 2>&1 || true
      if $PODMAN run -d --name "$name" --network bridge "${sysctl[@]}" -v "$OUT/ctx:/x:ro" \
          -p 127.0.0.1::9000 -p 127.0.0.1::9001 localhost/busybox:local \
          sh -c "PATH=/x:\$PATH; $PUMP_SH" >/dev/null 2>&1; then
        PODMAN_PUMPS+=("$name")
        pu=$($PODMAN port "$name" 9000 | head -1 | sed 's/.*://'); pd=$($PODMAN port "$name" 9001 | head -1 | sed 's/.*://')
        specs+=("$cc up podman -p||$env_cc $OUT/tcp_pump source 127.0.0.1 $pu $MIB"
                "$cc down podman -p||$env_cc $OUT/tcp_pump fetch 127.0.0.1 $pd")
      fi
    fi
  done
  sleep 0.5
  rounds throughput "$RUNS_TP" "${specs[@]}"
  python3 - "$OUT/throughput.tsv" "$MIB" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY' | tee "$OUT/throughput.md"
import sys, statistics, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, us = line.split("\t")[:2]; t[label].append(int(us) / 1e6)
mib = int(sys.argv[2])
print(f"| {mib} MiB through | runs | median MiB/s | / loopback (same direction and congestion control) |")
print("|---|---:|---:|---:|")
for k, v in t.items():
    cc, direction, path = k.split(" ", 2)
    rate = mib / statistics.median(v)
    base = mib / statistics.median(t[f"{cc} {direction} loopback"])
    print(f"| {cc}, {direction}: {path} | {len(v)} | {rate:.0f} | {rate / base:.2f} |")
print(f"(load average at the end: {sys.argv[3]})")
PY
  kill "${SERVERS[@]}" 2>/dev/null || true
fi
S system reset --force >/dev/null
exit
}
