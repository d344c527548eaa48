# Shared by the bench scripts: interleaved rounds timed in microseconds, and a median
# table with strata/engine ratios. Source it after setting $OUT.

# time_ms CMD...: wall time of one run in microseconds (stdout/stderr discarded).
time_ms() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; return 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000 ))
}

# rounds NAME RUNS "label|prepare|command" ...: interleaved rounds (each engine once per
# round, its untimed prepare just before it). Every timed run starts after a `sync` (no
# engine pays for the previous one's dirty pages) and is timed twice: when it returns,
# and after the `sync` that follows it (durable: what an engine left to write back is
# counted). Writes $OUT/NAME.tsv: label, returned µs, durable µs.
rounds() {
  local name=$1 runs=$2 t0 t1 t2; shift 2
  : >"$OUT/$name.tsv"
  for _ in $(seq 1 "$runs"); do
    for spec in "$@"; do
      IFS='|' read -r label prepare command <<<"$spec"
      [ -z "$prepare" ] || bash -c "$prepare" >/dev/null 2>&1 || true
      sync
      t0=$(date +%s%N)
      if bash -c "$command" >/dev/null 2>&1; then
        t1=$(date +%s%N)
        sync
        t2=$(date +%s%N)
        printf '%s\t%s\t%s\n' "$label" $(( (t1 - t0) / 1000 )) $(( (t2 - t0) / 1000 )) >>"$OUT/$name.tsv"
      else
        echo "FAILED: $label: $command" >&2
      fi
    done
  done
}

# summary NAME BASE: medians and ranges of $OUT/NAME.tsv (returned and, where the file
# has them, durable) and BASE's ratio to each engine.
summary() {
python3 - "$OUT/$1.tsv" "$2" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import sys, statistics, collections
path, base, load = sys.argv[1], sys.argv[2], sys.argv[3]
ret, dur = collections.defaultdict(list), collections.defaultdict(list)
for line in open(path):
    f = line.rstrip("\n").split("\t")
    ret[f[0]].append(int(f[1]) / 1000)
    if len(f) > 2:
        dur[f[0]].append(int(f[2]) / 1000)
med = {k: statistics.median(v) for k, v in ret.items()}
dmed = {k: statistics.median(v) for k, v in dur.items()}
ratio = lambda m, k: (m[base] / m[k] if k != base else 1.0) if base in m and k in m else float("nan")
name = path.rsplit('/', 1)[1][:-4]
if dur:
    print(f"| {name} | runs | returned median ms (range) | {base} / this | durable median ms (range) | {base} / this |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, v in ret.items():
        d = dur.get(k, [])
        dtxt = f"{dmed[k]:.1f} ({min(d):.1f}–{max(d):.1f})" if d else ""
        print(f"| {k} | {len(v)} | {med[k]:.1f} ({min(v):.1f}–{max(v):.1f}) | {ratio(med, k):.2f} | {dtxt} | {ratio(dmed, k):.2f} |")
else:
    print(f"| {name} | runs | median ms | min ms | {base} / this |")
    print("|---|---:|---:|---:|---:|")
    for k, v in ret.items():
        print(f"| {k} | {len(v)} | {med[k]:.1f} | {min(v):.1f} | {ratio(med, k):.2f} |")
print(f"(load average at the end: {load})")
PY
}

# fair_fs: one fresh journaled ext4 on a loop file for this run, and the second dockerd
# whose data-root is on it (../shared/reference/fair-fs.sh reset). Sets $FAIR (its mount
# point) and $FAIR_DOCKER (that dockerd's CLI); put every engine's store under $FAIR.
# The strata roots a previous run left there are reset first: a root's bridge and rules
# live outside it and would outlive the filesystem.
fair_fs() {
  FAIR=${FAIR:-/mnt/strata-fair}
  if mountpoint -q "$FAIR"; then
    find "$FAIR" -maxdepth 3 -name LAYOUT -printf '%h\n' 2>/dev/null | while read -r root; do
      "$STRATA" --root "$root" system reset --force >/dev/null 2>&1 || true
    done
  fi
  bash "$REF/fair-fs.sh" reset >/dev/null
  FAIR_DOCKER="$DOCKER -H unix:///run/strata-fair-docker.sock"
  mountpoint -q "$FAIR" || { echo "the fair filesystem is not mounted at $FAIR" >&2; return 1; }
}

# tar_floor: the floor of a load, GNU tar extracting multi.tar's layer tars (unpacked from
# the archive into $W/multi, untimed). Defines and exports `floor DIR`, every layer
# extracted into its own directory under DIR, and $LAYERS.
tar_floor() {
  mkdir -p "$W/multi"
  tar -xf "$IMG/multi.tar" -C "$W/multi"
  LAYERS=$(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$W/multi/manifest.json")
  floor() { # DIR
    local i=0 l
    for l in $LAYERS; do mkdir -p "$1/$i"; tar -xf "$W/multi/$l" -C "$1/$i"; i=$((i + 1)); done
  }
  export -f floor; export W LAYERS
}
