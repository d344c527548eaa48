#!/usr/bin/env bash
# strata vs docker 20.10 (and skopeo) for load / save / import, on the same machine, in the same run.
# Every round runs docker, then strata (then skopeo) once each, so load from other work on the 2 cores
# hits both engines alike; the table gives medians and strata/docker ratios. See bench/README.md.
#
#   bash bench/store.sh                       # all groups, RUNS=5 timed rounds (+ WARMUP=1 untimed)
#   RUNS=3 bash bench/store.sh load save      # groups: load warm save import sizes
#   TABLE_ONLY=1 bash bench/store.sh          # reprint the last table
#
# Needs root (docker socket, docker's data dir) and the reference systems of
# /work/shared/reference (setup.sh is run if multi:1 or $IMG/multi.tar is missing).
# Results: /var/tmp/strata-bench/results/{<bench>.json,table.md,sizes.txt,raw/}
# (whole body in braces: bash parses it all first, so editing this file mid-run is safe)
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"            # $DOCKER $IMG $A start_dockerd ...

RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
STRATA=${STRATA:-$REPO/target/release/strata}
B=${STRATA_BENCH_DIR:-/var/tmp/strata-bench}
OUT=$B/results                   # kept
W=$B/work                        # scratch files (save outputs, OCI dir, device-free tar)
ROOTS=$B/roots                   # strata stores, one per benchmark
GROUPS_=${*:-load warm save import sizes}
ORDER=$OUT/order.txt
IMPORT_TAG=strata-bench/import:1

have() { [[ " $GROUPS_ " == *" $1 "* ]]; }
die() { echo "store.sh: $*" >&2; exit 1; }

# ------------------------------------------------------------------ table (also for TABLE_ONLY=1)
print_table() {
python3 - "$OUT" "$ORDER" <<'PY'
import json, os, statistics, sys
out, order = sys.argv[1], sys.argv[2]
names = [l.split()[0] for l in open(order) if l.strip()] if os.path.exists(order) else []
def fmt(x): return "" if x is None else f"{x:.3f}"
def ratio(res, a, b):
    """median(a)/median(b), and the range of the per-round (paired) ratios a_i/b_i"""
    if a not in res or b not in res: return ""
    ta, tb = res[a]["times"], res[b]["times"]
    m = res[a]["median"] / res[b]["median"]
    pr = [x / y for x, y in zip(ta, tb)]
    return f"**{m:.2f}** ({min(pr):.2f}–{max(pr):.2f})" if pr else f"**{m:.2f}**"
rows = ["| benchmark | runs | docker s | strata s | strata/docker (per-round range) | skopeo s | strata/skopeo (per-round range) | load1 before (max during) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|"]
for name in names:
    p = os.path.join(out, name + ".json")
    if not os.path.exists(p): continue
    j = json.load(open(p))
    res = {r["label"]: r for r in j["results"] if r["times"]}
    runs = max((len(r["times"]) for r in res.values()), default=0)
    med = lambda l: res[l]["median"] if l in res else None
    failed = [r["label"] for r in j["results"] if r.get("failed")]
    note = f" (FAILED: {', '.join(failed)})" if failed else ""
    rows.append(f"| {name}{note} | {runs} | {fmt(med('docker'))} | {fmt(med('strata'))} | {ratio(res,'strata','docker')} "
                f"| {fmt(med('skopeo'))} | {ratio(res,'strata','skopeo')} | {j['load_before'][0]} ({j['load_max_during']}) |")
print("\n".join(rows))
print("\nmedian seconds per run; ratio < 1: strata faster. Per-round range: min–max of strata_i/docker_i over the interleaved rounds.")
PY
}
if [ -n "${TABLE_ONLY:-}" ]; then print_table; cat "$OUT/sizes.txt" 2>/dev/null || true; exit 0; fi

# ------------------------------------------------------------------ preconditions
[ "$(id -u)" = 0 ] || die "run as root (docker socket, docker data dir)"
case "$(realpath -m "$B")/" in "$(realpath "$REPO")/"*) die "STRATA_BENCH_DIR=$B is inside the git repo";; esac
for t in hyperfine skopeo python3; do command -v $t >/dev/null || die "$t missing (run $REF/setup.sh)"; done
if [ ! -x "$STRATA" ]; then
  echo "== building strata (cargo build --release -p strata)"
  (cd "$REPO" && cargo build --release -p strata)
fi
mkdir -p "$OUT/raw" "$W" "$ROOTS"
start_dockerd

# multi:1 + $IMG/multi.tar: the 4-layer 185 MB test image. An interrupted run may have left multi:1
# unloaded: restore it from the tar first; run the (idempotent) setup only if still missing.
if ! $DOCKER image inspect multi:1 >/dev/null 2>&1 && [ -s "$IMG/multi.tar" ]; then
  $DOCKER load -q -i "$IMG/multi.tar" >/dev/null
fi
if [ ! -s "$IMG/multi.tar" ] || ! $DOCKER image inspect multi:1 >/dev/null 2>&1; then
  echo "== multi:1 or $IMG/multi.tar missing: running $REF/setup.sh"
  bash "$REF/setup.sh" >"$OUT/setup.log" 2>&1 || { tail -20 "$OUT/setup.log"; die "setup.sh failed"; }
fi
MULTI_ID=$($DOCKER image inspect multi:1 --format '{{.Id}}')
tar_config=$(tar -xOf "$IMG/multi.tar" manifest.json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Config"].split(".")[0])' 2>/dev/null || true)
if [ "sha256:$tar_config" != "$MULTI_ID" ]; then
  echo "== $IMG/multi.tar missing or not of multi:1 ($MULTI_ID): docker save multi:1"
  $DOCKER save multi:1 -o "$IMG/multi.tar"
fi

# (as in measure.sh) the base image, to restore debian:bookworm after the cold-load benchmark
restore_base() {
  $DOCKER image inspect debian:bookworm >/dev/null 2>&1 && return 0
  if [ -s "$IMG/debian-save.tar" ]; then $DOCKER load -q -i "$IMG/debian-save.tar" >/dev/null
  else $DOCKER import -c 'CMD ["bash"]' "$IMG/debian.tar" debian:bookworm >/dev/null; fi
}
restore_multi() {
  $DOCKER image inspect multi:1 >/dev/null 2>&1 || $DOCKER load -q -i "$IMG/multi.tar" >/dev/null
}
restore_base
[ -s "$IMG/debian-save.tar" ] || $DOCKER save debian:bookworm -o "$IMG/debian-save.tar"
DEBIAN_ID=$($DOCKER image inspect debian:bookworm --format '{{.Id}}')
BASE_DIFFID=$($DOCKER image inspect debian:bookworm --format '{{index .RootFS.Layers 0}}')
DOCKER_ROOT=$($DOCKER info --format '{{.DockerRootDir}}')
base_layer_state() {
  if grep -rqs "$BASE_DIFFID" "$DOCKER_ROOT"/image/overlay2/layerdb/sha256/*/diff; then echo "base layer PRESENT (not cold!)"
  else echo "base layer absent (cold)"; fi
}

# Other tags of the same images (e.g. 127.0.0.1:5000/multi:1) would keep the layers during the
# "cold" load: untag them now, re-tag them on exit. Other images/containers using the base layer
# are not ours to delete: warn instead.
ALIASES=()
while read -r ref id; do
  [ "$ref" = multi:1 ] || [ "$ref" = debian:bookworm ] || [[ "$ref" == *"<none>"* ]] && continue
  if [ "$id" = "$MULTI_ID" ] || [ "$id" = "$DEBIAN_ID" ]; then ALIASES+=("$ref=$id"); fi
done < <($DOCKER images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')
for id in $($DOCKER images -q --no-trunc | sort -u); do
  [ "$id" = "$MULTI_ID" ] || [ "$id" = "$DEBIAN_ID" ] && continue
  $DOCKER image inspect "$id" --format '{{range .RootFS.Layers}}{{println .}}{{end}}' | grep -q "$BASE_DIFFID" \
    && echo "WARNING: image $id ($($DOCKER image inspect "$id" --format '{{join .RepoTags ","}}')) shares the base layer: docker's cold load will be warm"
done
ctrs=$($DOCKER ps -aq --filter ancestor=debian:bookworm --filter ancestor=multi:1)
[ -z "$ctrs" ] || echo "WARNING: containers $ctrs use debian:bookworm/multi:1: docker's cold load will be warm"

cleanup() {
  local rc=$?
  set +e
  echo "== cleanup: restoring debian:bookworm, multi:1 and tags; removing scratch stores"
  restore_base; restore_multi
  for a in "${ALIASES[@]}"; do $DOCKER tag "${a#*=}" "${a%%=*}"; done
  $DOCKER rmi "$IMPORT_TAG" >/dev/null 2>&1
  rm -rf "$ROOTS" "$W/oci-multi" "$W/docker-save.tar" "$W/strata-save.tar" "$W/hf"
  [ "$($DOCKER image inspect multi:1 --format '{{.Id}}' 2>/dev/null)" = "$MULTI_ID" ] || echo "WARNING: multi:1 is not $MULTI_ID after cleanup"
  [ "$($DOCKER image inspect debian:bookworm --format '{{.Id}}' 2>/dev/null)" = "$DEBIAN_ID" ] || echo "WARNING: debian:bookworm is not $DEBIAN_ID after cleanup"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for a in "${ALIASES[@]}"; do $DOCKER rmi "${a%%=*}" >/dev/null; done
$DOCKER rmi "$IMPORT_TAG" >/dev/null 2>&1 || true

# Device-free copy of the debootstrap rootfs tar (strata's import refuses device nodes by design);
# docker imports the very same file. Built once, kept in $W.
NODEV=$W/debian-nodev.tar
if [ ! -s "$NODEV" ] || [ "$IMG/debian.tar" -nt "$NODEV" ]; then
  echo "== building $NODEV (debian.tar without ./dev/*)"
  cp "$IMG/debian.tar" "$NODEV.tmp"
  tar --delete --wildcards -f "$NODEV.tmp" './dev/*'
  left=$(tar -tvf "$NODEV.tmp" | awk '$1 ~ /^[cbp]/' | wc -l)
  [ "$left" = 0 ] || die "$NODEV.tmp still has $left device/fifo entries"
  mv "$NODEV.tmp" "$NODEV"
fi

# ------------------------------------------------------------------ interleaved runner
# bench NAME LABEL PREPARE COMMAND [LABEL PREPARE COMMAND ...]
# Rounds: WARMUP untimed + RUNS timed; in each round every command runs once (hyperfine --runs 1,
# with its own --prepare), in the order given. Merged into $OUT/NAME.json (hyperfine-like:
# results[].{label,command,times,median,mean,stddev,min,max,user,system}).
bench() {
  local name=$1; shift
  local -a labels=() preps=() cmds=()
  while (($#)); do labels+=("$1"); preps+=("$2"); cmds+=("$3"); shift 3; done
  local raw=$OUT/raw/$name load0 r i tag
  rm -rf "$raw"; mkdir -p "$raw"
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  echo ">>> $name: ${labels[*]}  (load before: $load0)"
  local -A failed=()
  for ((r = 0; r < WARMUP + RUNS; r++)); do
    if ((r < WARMUP)); then tag=warmup$r; else tag=run$((r - WARMUP)); fi
    for i in "${!labels[@]}"; do
      [ -z "${failed[$i]:-}" ] || continue
      echo "$tag ${labels[i]} $(cut -d' ' -f1 /proc/loadavg)" >>"$raw/load.txt"
      if ! hyperfine --style basic --runs 1 --prepare "${preps[i]}" --export-json "$raw/${labels[i]}.$tag.json" \
             "${cmds[i]}" >"$raw/${labels[i]}.$tag.log" 2>&1; then
        echo "!!! $name/${labels[i]} FAILED in $tag (log: $raw/${labels[i]}.$tag.log):"; tail -8 "$raw/${labels[i]}.$tag.log" | sed 's/^/    /'
        failed[$i]=1
      fi
    done
    printf '    %s:' "$tag"; for i in "${!labels[@]}"; do
      printf ' %s=%s' "${labels[i]}" "$(python3 -c 'import json,sys; print("%.3fs" % json.load(open(sys.argv[1]))["results"][0]["times"][0])' "$raw/${labels[i]}.$tag.json" 2>/dev/null || echo FAIL)"
    done; echo
  done
  python3 - "$name" "$raw" "$load0" "$RUNS" "${labels[@]}" >"$OUT/$name.json" <<'PY'
import json, os, statistics, sys
name, raw, load0, runs, labels = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:]
loads = [l.split() for l in open(os.path.join(raw, "load.txt"))]
results = []
for lab in labels:
    t, u, s, cmd, failed = [], [], [], None, False
    for k in range(runs):
        p = os.path.join(raw, f"{lab}.run{k}.json")
        if not os.path.exists(p): failed = True; continue
        r = json.load(open(p))["results"][0]
        cmd = r["command"]; t.append(r["times"][0]); u.append(r["user"]); s.append(r["system"])
    e = {"label": lab, "command": cmd, "failed": failed, "times": t, "user_times": u, "system_times": s,
         "load1_before_run": [float(l[2]) for l in loads if l[1] == lab and l[0].startswith("run")]}
    if t:
        e.update(median=statistics.median(t), mean=statistics.mean(t),
                 stddev=statistics.stdev(t) if len(t) > 1 else None, min=min(t), max=max(t),
                 user=statistics.mean(u), system=statistics.mean(s))
    results.append(e)
print(json.dumps({"benchmark": name, "runs": runs, "load_before": load0.split(),
                  "load_max_during": max((float(l[2]) for l in loads), default=None),
                  "results": results}, indent=1))
PY
  grep -vs "^$name\$" "$ORDER" >"$ORDER.tmp" || true; echo "$name" >>"$ORDER.tmp"; mv "$ORDER.tmp" "$ORDER"
}

# ------------------------------------------------------------------ header
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); busiest now: $(top -b -n1 | sed -n '8,10p' | awk '{printf "%s(%s%%) ", $12, $9}')"
echo "strata: $STRATA ($($STRATA --version 2>/dev/null), git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)$(git -C "$REPO" diff --quiet HEAD 2>/dev/null || echo '+dirty'), binary built $(date -r "$STRATA" '+%F %T'))"
echo "docker: $($DOCKER version --format '{{.Server.Version}}'), data root $DOCKER_ROOT; skopeo: $(skopeo --version | cut -d' ' -f3); hyperfine: $(hyperfine --version | cut -d' ' -f2)"
echo "runs: $RUNS timed + $WARMUP warmup rounds, each round: docker, then strata (, then skopeo); groups: $GROUPS_"
MULTI_SZ=$(stat -c %s "$IMG/multi.tar")
rm -f "$ORDER"                   # the table shows this run's benchmarks only
Q='>/dev/null 2>&1'
# Every prepare ends with `sync`, so no run pays for the previous run's dirty pages.
# (strata syncs its store itself before returning; docker 20.10 does not sync unpacked layers.)

# ------------------------------------------------------------------ cold load: nothing of multi:1 in the store
if have load; then
  restore_base; restore_multi
  DOCKER_COLD_PREP="$DOCKER rmi multi:1 $Q; $DOCKER rmi debian:bookworm $Q; $DOCKER image prune -f $Q; sync; true"
  sh -c "$DOCKER_COLD_PREP"; echo "docker cold-load check: $(base_layer_state)"
  bench load_cold \
    docker "$DOCKER_COLD_PREP" "$DOCKER load -q -i $IMG/multi.tar" \
    strata "rm -rf $ROOTS/cold && sync" "$STRATA --root $ROOTS/cold load -q -i $IMG/multi.tar" \
    skopeo "rm -rf $W/oci-multi && sync" "skopeo copy -q docker-archive:$IMG/multi.tar oci:$W/oci-multi:multi:1"
  restore_base; restore_multi
fi

# ------------------------------------------------------------------ warm-base load: debian:bookworm already stored
if have warm; then
  restore_base; restore_multi
  bench load_warmbase \
    docker "$DOCKER rmi multi:1 $Q; sync; true" "$DOCKER load -q -i $IMG/multi.tar" \
    strata "rm -rf $ROOTS/warm && $STRATA --root $ROOTS/warm load -q -i $IMG/debian-save.tar >/dev/null && sync" \
           "$STRATA --root $ROOTS/warm load -q -i $IMG/multi.tar"
  restore_multi
fi

# ------------------------------------------------------------------ save multi:1 to a file
if have save; then
  restore_base; restore_multi
  rm -rf "$ROOTS/save"; $STRATA --root "$ROOTS/save" load -q -i "$IMG/multi.tar" >/dev/null
  bench save \
    docker "rm -f $W/docker-save.tar && sync" "$DOCKER save multi:1 -o $W/docker-save.tar" \
    strata "rm -f $W/strata-save.tar && sync" "$STRATA --root $ROOTS/save save -o $W/strata-save.tar multi:1"
  echo "    output bytes: docker $(stat -c %s "$W/docker-save.tar" 2>/dev/null || echo -) strata $(stat -c %s "$W/strata-save.tar" 2>/dev/null || echo -) (multi.tar $MULTI_SZ)"
  # strata's output must load back into docker as the same image (outside the timing)
  if [ -s "$W/strata-save.tar" ]; then
    $DOCKER rmi multi:1 >/dev/null
    if $DOCKER load -q -i "$W/strata-save.tar" >/dev/null && [ "$($DOCKER image inspect multi:1 --format '{{.Id}}')" = "$MULTI_ID" ]; then
      echo "    strata-save.tar loads into docker as multi:1 $MULTI_ID: ok"
    else echo "!!! strata-save.tar did not load into docker as $MULTI_ID"; fi
    restore_multi
  fi
  rm -rf "$ROOTS/save" "$W/docker-save.tar" "$W/strata-save.tar"
fi

# ------------------------------------------------------------------ import the device-free rootfs tar
if have import; then
  bench import \
    docker "$DOCKER rmi $IMPORT_TAG $Q; sync; true" "$DOCKER import $NODEV $IMPORT_TAG" \
    strata "rm -rf $ROOTS/import && sync" "$STRATA --root $ROOTS/import import $NODEV $IMPORT_TAG"
  $DOCKER rmi "$IMPORT_TAG" >/dev/null 2>&1 || true
fi

# ------------------------------------------------------------------ on-disk size and base sharing
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
  kb() { du -sk "$1" | cut -f1; }
  SZ=$ROOTS/sizes
  {
    echo "== strata store after a cold load of multi.tar ($NLAYERS layers)"
    rm -rf "$SZ"; $STRATA --root "$SZ" load -q -i "$IMG/multi.tar" >/dev/null
    COLD_B=$(du -sb "$SZ" | cut -f1)
    printf '%-34s %12s bytes  (%s KiB on disk)\n' "multi.tar" "$MULTI_SZ" "$(du -k "$IMG/multi.tar" | cut -f1)"
    printf '%-34s %12s bytes\n' "its layer tars (sum)" "$ALL_LAYERS"
    printf '%-34s %12s bytes  (%s KiB on disk)  = %.2f x multi.tar\n' "strata root (du -sb / du -sk)" "$COLD_B" "$(kb "$SZ")" \
      "$(python3 -c "print($COLD_B/$MULTI_SZ)")"
    for d in "$SZ"/*; do [ -e "$d" ] && printf '  %-32s %12s bytes\n' "${d#$SZ/}" "$(du -sb "$d" | cut -f1)"; done
    if [ -d "$W/oci-multi" ] || skopeo copy -q "docker-archive:$IMG/multi.tar" "oci:$W/oci-multi:multi:1"; then
      printf '%-34s %12s bytes\n' "skopeo oci: dir (for comparison)" "$(du -sb "$W/oci-multi" | cut -f1)"
    fi
    printf '%-34s %12s bytes  (unpacked, as reported by docker)\n' "docker image inspect multi:1 .Size" "$($DOCKER image inspect multi:1 --format '{{.Size}}')"
    FACTOR=$(python3 -c "print($COLD_B/$ALL_LAYERS)")

    echo
    echo "== base sharing: load debian-save.tar, then multi.tar, into one fresh strata root"
    rm -rf "$SZ"; $STRATA --root "$SZ" load -q -i "$IMG/debian-save.tar" >/dev/null
    S1=$(du -sb "$SZ" | cut -f1); N1=$(find "$SZ"/snapshots/committed -mindepth 2 -maxdepth 2 2>/dev/null | wc -l)
    $STRATA --root "$SZ" load -q -i "$IMG/multi.tar" >/dev/null
    S2=$(du -sb "$SZ" | cut -f1); N2=$(find "$SZ"/snapshots/committed -mindepth 2 -maxdepth 2 2>/dev/null | wc -l)
    GROWTH=$((S2 - S1))
    python3 - "$S1" "$S2" "$ALL_LAYERS" "$BASE_LAYER" "$UPPER_LAYERS" "$FACTOR" "$N1" "$N2" "$NLAYERS" <<'PY'
import sys
s1, s2, all_, base, upper = map(int, sys.argv[1:6]); f = float(sys.argv[6]); n1, n2, nl = map(int, sys.argv[7:10])
g = s2 - s1
print(f"after debian:bookworm           {s1:>12} bytes  ({n1} layer snapshots)")
print(f"after multi:1 as well           {s2:>12} bytes  ({n2} layer snapshots, +{n2-n1}; multi:1 has {nl} layers, {nl-1} new)")
print(f"growth                          {g:>12} bytes")
print(f"multi's {nl-1} new layers (tar sum)    {upper:>12} bytes;  base layer {base} bytes;  all {nl} layers {all_} bytes")
print(f"store bytes per layer-tar byte (from the cold load): {f:.2f}")
exp_shared, exp_dup = f * upper, f * all_
print(f"expected growth if base shared: {exp_shared:.0f}; if base stored again: {exp_dup:.0f}")
extra = g - exp_shared
verdict = "base shared: no base bytes added" if abs(g - exp_shared) < abs(g - exp_dup) else "BASE STORED AGAIN"
print(f"=> growth / new-layer bytes = {g/upper:.2f}; growth - expected(shared) = {extra:+.0f} bytes ({extra/base*100:+.2f}% of the base layer): {verdict}")
PY
    rm -rf "$SZ" "$W/oci-multi"
  } 2>&1 | tee "$OUT/sizes.txt"
fi

echo
print_table | tee "$OUT/table.md"
echo
echo "JSON: $OUT/<benchmark>.json (per-run raw hyperfine files under $OUT/raw/)"
exit 0
}
