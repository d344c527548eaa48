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
SETTLE=${SETTLE:-370}            # seconds to let pass after this script's last deletions (see below)
STRATA=${STRATA:-$REPO/target/release/strata}
B=${STRATA_BENCH_DIR:-/var/tmp/strata-bench}
OUT=$B/results                   # kept
W=$B/work                        # kept: debian-nodev.tar; scratch: save outputs, OCI dir
V=$B/variants                    # per-round input tars (deleted at exit)
ROOTS=$B/roots                   # strata stores, one per benchmark
TRASH=$B/trash                   # used stores are moved here and deleted only at exit (see README)
GROUPS_=${*:-load warm save import sizes}
ORDER=$OUT/order.txt
NONCE=$(date +%s).$$             # makes this run's variant layers new to both stores

have() { [[ " $GROUPS_ " == *" $1 "* ]]; }
die() { echo "store.sh: $*" >&2; exit 1; }

# ------------------------------------------------------------------ table (also for TABLE_ONLY=1)
print_table() {
python3 - "$OUT" "$ORDER" <<'PY'
import json, os, sys
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
[[ "$RUNS" =~ ^[1-9][0-9]*$ && "$WARMUP" =~ ^[0-9]+$ && "$SETTLE" =~ ^[0-9]+$ ]] || die "RUNS must be >= 1, WARMUP and SETTLE >= 0"
for t in hyperfine skopeo python3; do command -v $t >/dev/null || die "$t missing (run $REF/setup.sh)"; done
if [ ! -x "$STRATA" ]; then
  echo "== building strata (cargo build --release -p strata)"
  (cd "$REPO" && cargo build --release -p strata)
fi
mkdir -p "$OUT/raw" "$W" "$V" "$ROOTS" "$TRASH"
start_dockerd

# multi:1 + $IMG/multi.tar: the 4-layer 185 MB test image. (An interrupted measure.sh may have left
# multi:1 unloaded: restore it from the tar first; run the idempotent setup only if still missing.)
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
# (as in measure.sh) debian:bookworm, the base of multi:1, must be present for the warm-base load
if ! $DOCKER image inspect debian:bookworm >/dev/null 2>&1; then
  if [ -s "$IMG/debian-save.tar" ]; then $DOCKER load -q -i "$IMG/debian-save.tar" >/dev/null
  else $DOCKER import -c 'CMD ["bash"]' "$IMG/debian.tar" debian:bookworm >/dev/null; fi
fi
[ -s "$IMG/debian-save.tar" ] || $DOCKER save debian:bookworm -o "$IMG/debian-save.tar"
DOCKER_ROOT=$($DOCKER info --format '{{.DockerRootDir}}')

# Device-free copy of the debootstrap rootfs tar (strata's import refuses device nodes by design);
# docker imports the very same bytes. Built once, kept in $W.
NODEV=$W/debian-nodev.tar
if [ ! -s "$NODEV" ] || [ "$IMG/debian.tar" -nt "$NODEV" ]; then
  echo "== building $NODEV (debian.tar without ./dev/*)"
  cp "$IMG/debian.tar" "$NODEV.tmp"
  tar --delete --wildcards -f "$NODEV.tmp" './dev/*'
  left=$(tar -tvf "$NODEV.tmp" | awk '$1 ~ /^[cbp]/' | wc -l)
  [ "$left" = 0 ] || die "$NODEV.tmp still has $left device/fifo entries"
  mv "$NODEV.tmp" "$NODEV"
fi

# ------------------------------------------------------------------ no deletions near timed runs
# This ext4 has no journal. Then, for 60 s after inodes are freed (360 s while their inode-table block
# is dirty, i.e. while new files are being created next to them), every file creation in that inode
# group skips them one buffer lookup at a time (kernel: recently_deleted()): loading ~6000 files soon
# after someone (docker's rmi, an rm -rf of the last strata root) freed ~6000 inodes took strata 2-3x longer.
# So nothing is deleted while timing:
#  - strata: every run gets a fresh root; the previous one is moved to $TRASH (deleted at exit);
#  - docker: instead of `rmi` before each run, each round loads/imports its own variant of the input
#    (one extra small file in one layer => new DiffID/ChainIDs => as cold as after rmi), all removed at exit;
#  - a run started < SETTLE s after the previous run's final deletions waits first.
discard() { local d; for d in "$@"; do [ ! -e "$d" ] || mv "$d" "$TRASH/$(basename "$d").$(date +%s%N)"; done; }
discard_prep() { echo "if [ -e $1 ]; then mv $1 $TRASH/$(basename "$1").\$\$.\$(date +%s%N); fi; sync"; }
bench_images() { $DOCKER images --format '{{.Repository}}:{{.Tag}}' | grep '^strata-bench/' || true; }

cleanup() {
  local rc=$?
  set +e
  echo "== cleanup: removing strata-bench/* docker images, variants, strata roots"
  local imgs; imgs=$(bench_images); [ -z "$imgs" ] || $DOCKER rmi $imgs >/dev/null
  $DOCKER image prune -f >/dev/null
  rm -rf "$ROOTS" "$TRASH" "$V" "$W/oci-multi" "$W/docker-save.tar" "$W/strata-save.tar"
  date +%s >"$B/.last-delete"
  [ "$($DOCKER image inspect multi:1 --format '{{.Id}}' 2>/dev/null)" = "$MULTI_ID" ] || echo "WARNING: multi:1 is not $MULTI_ID after cleanup"
  $DOCKER image inspect debian:bookworm >/dev/null 2>&1 || echo "WARNING: debian:bookworm missing after cleanup"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
left=$(bench_images)       # leftovers of an interrupted run
if [ -n "$left" ]; then $DOCKER rmi $left >/dev/null; date +%s >"$B/.last-delete"; fi
if [ -s "$B/.last-delete" ]; then      # (leftover trash is left for the exit cleanup)
  ago=$(( $(date +%s) - $(cat "$B/.last-delete") ))
  if [ "$ago" -ge 0 ] && [ "$ago" -lt "$SETTLE" ]; then
    echo "== last deletion ${ago}s ago: waiting $((SETTLE - ago))s (ext4 recently-deleted inodes; SETTLE=0 skips)"; sleep $((SETTLE - ago))
  fi
fi

# variants KIND: $V/KIND-r<round>.tar for every round. KIND: cold (layer 0 changed: nothing of it is
# in any store), warm (layer 1 changed: debian:bookworm's base layer still shared), import (rootfs tar)
variants() {
  local kind=$1 r
  for ((r = 0; r < WARMUP + RUNS; r++)); do
    case $kind in
      cold)   python3 - image "$IMG/multi.tar" "$V/cold-r$r.tar" 0 "strata-bench/cold:r$r" "$NONCE.$r" ;;
      warm)   python3 - image "$IMG/multi.tar" "$V/warm-r$r.tar" 1 "strata-bench/warm:r$r" "$NONCE.$r" ;;
      import) python3 - rootfs "$NODEV" "$V/import-r$r.tar" "$NONCE.$r" ;;
    esac <<'PY'
# image SRC DST LAYER_INDEX REPO_TAG MARKER | rootfs SRC DST MARKER
# Copy of a docker-archive (or rootfs tar) whose layer LAYER_INDEX gets one extra 20-byte file.
import hashlib, io, json, os, shutil, sys, tarfile
def add_marker(path, marker):
    with tarfile.open(path, "a", format=tarfile.PAX_FORMAT) as t:
        data = marker.encode()
        ti = tarfile.TarInfo("strata-bench-variant"); ti.size = len(data); ti.mode = 0o644; ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    return h.hexdigest()
mode = sys.argv[1]
if mode == "rootfs":
    src, dst, marker = sys.argv[2:5]
    shutil.copyfile(src, dst + ".tmp"); add_marker(dst + ".tmp", marker); os.replace(dst + ".tmp", dst)
    sys.exit(0)
src, dst, idx, tag, marker = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
with tarfile.open(src) as t:
    m = json.load(t.extractfile("manifest.json"))[0]
    cfg = json.load(t.extractfile(m["Config"]))
    layers = list(m["Layers"])
    lt = dst + ".layer.tmp"
    with t.extractfile(layers[idx]) as f, open(lt, "wb") as o: shutil.copyfileobj(f, o, 1 << 20)
    add_marker(lt, marker)
    diff = sha256_file(lt)
    cfg["rootfs"]["diff_ids"][idx] = "sha256:" + diff
    cfgb = json.dumps(cfg, separators=(",", ":")).encode()
    cfgname = hashlib.sha256(cfgb).hexdigest() + ".json"
    layers[idx] = diff + "/layer.tar"
    with tarfile.open(dst + ".tmp", "w", format=tarfile.PAX_FORMAT) as o:
        def add_bytes(name, b):
            ti = tarfile.TarInfo(name); ti.size = len(b); ti.mode = 0o644; ti.mtime = 0
            o.addfile(ti, io.BytesIO(b))
        for i, name in enumerate(layers):
            if i == idx: o.add(lt, arcname=name)
            else:
                mi = t.getmember(m["Layers"][i]); o.addfile(mi, t.extractfile(mi))
        add_bytes(cfgname, cfgb)
        add_bytes("manifest.json", json.dumps([{"Config": cfgname, "RepoTags": [tag], "Layers": layers}]).encode())
    os.remove(lt)
os.replace(dst + ".tmp", dst)
PY
  done
  sync
}
# first layer DiffID of a variant, and whether docker's layer store has it
variant_layer() { tar -xOf "$1" manifest.json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Layers"][int(sys.argv[1])].split("/")[0])' "$2"; }
docker_has_layer() { grep -rqs "sha256:$1" "$DOCKER_ROOT"/image/overlay2/layerdb/sha256/*/diff; }

# ------------------------------------------------------------------ interleaved runner
# bench NAME LABEL PREPARE COMMAND [LABEL PREPARE COMMAND ...]    ("{r}" in PREPARE/COMMAND: the round)
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
      if ! hyperfine --style basic --runs 1 --prepare "${preps[i]//\{r\}/$r}" --export-json "$raw/${labels[i]}.$tag.json" \
             "${cmds[i]//\{r\}/$r}" >"$raw/${labels[i]}.$tag.log" 2>&1; then
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
    t, u, s, cmds, failed = [], [], [], [], False
    for k in range(runs):
        p = os.path.join(raw, f"{lab}.run{k}.json")
        if not os.path.exists(p): failed = True; continue
        r = json.load(open(p))["results"][0]
        cmds.append(r["command"]); t.append(r["times"][0]); u.append(r["user"]); s.append(r["system"])
    e = {"label": lab, "command": cmds[0] if cmds else None, "commands": cmds, "failed": failed,
         "times": t, "user_times": u, "system_times": s,
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
# Every prepare ends with `sync`, so no run pays for the previous run's dirty pages.
# (strata syncs its store itself before returning; docker 20.10 does not sync unpacked layers.)

# ------------------------------------------------------------------ cold load: no layer of the image in the store
if have load; then
  variants cold
  l0=$(variant_layer "$V/cold-r0.tar" 0)
  if docker_has_layer "$l0"; then echo "docker cold-load check: base layer $l0 PRESENT (not cold!)"; else echo "docker cold-load check: variant base layer absent (cold)"; fi
  bench load_cold \
    docker "sync" "$DOCKER load -q -i $V/cold-r{r}.tar" \
    strata "$(discard_prep "$ROOTS/cold")" "$STRATA --root $ROOTS/cold load -q -i $V/cold-r{r}.tar" \
    skopeo "rm -rf $W/oci-multi && sync" "skopeo copy -q docker-archive:$V/cold-r{r}.tar oci:$W/oci-multi:multi:1"
  rm -f "$V"/cold-r*.tar
fi

# ------------------------------------------------------------------ warm-base load: debian:bookworm's layer already stored
if have warm; then
  variants warm
  # strata: a fresh root holding debian:bookworm (docker save of it) in every prepare
  bench load_warmbase \
    docker "sync" "$DOCKER load -q -i $V/warm-r{r}.tar" \
    strata "$(discard_prep "$ROOTS/warm") && $STRATA --root $ROOTS/warm load -q -i $IMG/debian-save.tar >/dev/null 2>&1 && sync" \
           "$STRATA --root $ROOTS/warm load -q -i $V/warm-r{r}.tar"
  rm -f "$V"/warm-r*.tar
fi

# ------------------------------------------------------------------ save multi:1 to a file
if have save; then
  discard "$ROOTS/save"; $STRATA --root "$ROOTS/save" load -q -i "$IMG/multi.tar" >/dev/null 2>&1
  bench save \
    docker "rm -f $W/docker-save.tar && sync" "$DOCKER save multi:1 -o $W/docker-save.tar" \
    strata "rm -f $W/strata-save.tar && sync" "$STRATA --root $ROOTS/save save -o $W/strata-save.tar multi:1"
  echo "    output bytes: docker $(stat -c %s "$W/docker-save.tar" 2>/dev/null || echo -) strata $(stat -c %s "$W/strata-save.tar" 2>/dev/null || echo -) (multi.tar $MULTI_SZ)"
  # strata's output must load back into docker as the same image (outside the timing; no deletion:
  # it is loaded under another name, which docker resolves to the existing layers)
  if [ -s "$W/strata-save.tar" ]; then
    id=$($DOCKER load -q -i "$W/strata-save.tar" 2>&1 | tail -1)
    if [ "$($DOCKER image inspect multi:1 --format '{{.Id}}')" = "$MULTI_ID" ] && [[ "$id" == *multi:1* ]]; then
      echo "    strata-save.tar loads into docker as multi:1 $MULTI_ID: ok"
    else echo "!!! strata-save.tar did not load into docker as $MULTI_ID ($id)"; fi
  fi
  discard "$ROOTS/save"; rm -f "$W/docker-save.tar" "$W/strata-save.tar"
fi

# ------------------------------------------------------------------ import the device-free rootfs tar
if have import; then
  variants import
  bench import \
    docker "sync" "$DOCKER import $V/import-r{r}.tar strata-bench/import:r{r}" \
    strata "$(discard_prep "$ROOTS/import")" "$STRATA --root $ROOTS/import import $V/import-r{r}.tar strata-bench/import:r{r}"
  rm -f "$V"/import-r*.tar
fi

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
  SZ=$ROOTS/sizes
  {
    echo "== strata store after a cold load of multi.tar ($NLAYERS layers)"
    discard "$SZ"; $STRATA --root "$SZ" load -q -i "$IMG/multi.tar" >/dev/null 2>&1
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
    discard "$SZ"; $STRATA --root "$SZ" load -q -i "$IMG/debian-save.tar" >/dev/null 2>&1
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
    discard "$SZ"; rm -rf "$W/oci-multi"
  } 2>&1 | tee "$OUT/sizes.txt"
fi

echo
print_table | tee "$OUT/table.md"
echo
echo "JSON: $OUT/<benchmark>.json (per-run raw hyperfine files under $OUT/raw/)"
exit 0
}
