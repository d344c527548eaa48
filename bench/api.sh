#!/usr/bin/env bash
# The Engine API service's latency against dockerd's, both stores on one fresh journaled
# ext4 (../shared/reference/fair-fs.sh), measured with a light client (bench/api_client.py:
# one kept-alive connection per server, rounds interleaved, `sync` before each group):
#   ping     GET /_ping
#   ps       GET /containers/json?all=1 with 100 containers
#   images   GET /images/json with 1,000 images
#   cycle    create + start + wait + delete of `busybox true` with NetworkMode none
# and the docker CLI's own `run --rm --network none busybox true` against each, beside its
# floor (`docker version` against each); the service's overhead over strata's CLI doing the
# same work (`ps -a`, `images`, `run --rm`); and the idle service's RSS. Not a test: ratios.
#
#   bash bench/api.sh                  # RUNS=50 rounds per request, RUNS_CLI=20 for the CLIs
#
# Needs root and the reference systems of /work/shared/reference (setup.sh is run if needed).
# Results: /var/tmp/strata-bench/api/
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"
RUNS=${RUNS:-50}
RUNS_CLI=${RUNS_CLI:-20}
STRATA=${STRATA:-$REPO/target/release/strata}
OUT=/var/tmp/strata-bench/api
FAIR=${FAIR:-/mnt/strata-fair}
FAIR_SOCK=/run/strata-fair-docker.sock
FD="$DOCKER -H unix://$FAIR_SOCK"
CLIENT=/usr/local/bin/docker   # the docker 28 client; it negotiates down to strata's 1.41
mkdir -p "$OUT"

[ -x "$STRATA" ] || (cd "$REPO" && cargo build --release -q -p strata)
[ -s "$IMG/busybox.tar" ] && [ -f /etc/docker/daemon.json ] || bash "$REF/setup.sh" >/dev/null
bash "$REF/fair-fs.sh" reset >/dev/null
ROOT=$FAIR/strata
SOCK=$FAIR/strata-api.sock
S() { "$STRATA" --root "$ROOT" "$@"; }
S import -c 'CMD ["sh"]' "$IMG/busybox.tar" busybox:local >/dev/null

# The same 1,000 images and 100 (created) containers on both.
python3 "$HERE/api_client.py" images-archive 1000 "$OUT/images.tar"
S load -q -i "$OUT/images.tar" >/dev/null
$FD load -q -i "$OUT/images.tar" >/dev/null
for i in $(seq 1 100); do
  S create --network none --name "c$i" busybox:local true >/dev/null
  $FD create --network none --name "c$i" busybox:local true >/dev/null
done

setsid "$STRATA" --root "$ROOT" system service --time 0 "unix://$SOCK" 2>"$OUT/service.log" &
SERVICE=$!
trap 'kill $SERVICE 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SERVICE/status"; }
RSS_IDLE=$(rss)

source "$HERE/lib.sh"   # rounds, summary
for op in ping ps images cycle; do
  sync
  python3 "$HERE/api_client.py" "$op" "$RUNS" "strata=$SOCK" "dockerd=$FAIR_SOCK" >"$OUT/$op.tsv"
  summary "$op" strata | tee "$OUT/$op.md"
done

# The docker CLI end to end, and its floor, against each.
sync
rounds cli "$RUNS_CLI" \
  "strata run||$CLIENT -H unix://$SOCK run --rm --network none busybox:local true" \
  "dockerd run||$CLIENT -H unix://$FAIR_SOCK run --rm --network none busybox:local true" \
  "strata version||$CLIENT -H unix://$SOCK version" \
  "dockerd version||$CLIENT -H unix://$FAIR_SOCK version"
summary cli "strata run" | tee "$OUT/cli.md"

# strata's CLI doing each request's work: the service's overhead is the difference.
sync
rounds strata-cli "$RUNS_CLI" \
  "cli ps||$STRATA --root $ROOT ps -a" \
  "cli images||$STRATA --root $ROOT images" \
  "cli run||$STRATA --root $ROOT run --rm --network none busybox:local true"
summary strata-cli "cli run" | tee "$OUT/strata-cli.md"

RSS_AFTER=$(rss)
sleep 2
RSS_SETTLED=$(rss)
printf '| service RSS | kB |\n|---|---:|\n| idle, at start | %s |\n| after the runs | %s |\n| 2 s later | %s |\n' \
  "$RSS_IDLE" "$RSS_AFTER" "$RSS_SETTLED" | tee "$OUT/rss.md"
exit
}
