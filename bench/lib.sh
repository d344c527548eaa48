# Shared by the bench scripts: interleaved rounds timed in milliseconds, and a median
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
# round, its untimed prepare just before it); writes $OUT/NAME.tsv
rounds() {
  local name=$1 runs=$2; shift 2
  : >"$OUT/$name.tsv"
  for _ in $(seq 1 "$runs"); do
    for spec in "$@"; do
      IFS='|' read -r label prepare command <<<"$spec"
      [ -z "$prepare" ] || bash -c "$prepare" >/dev/null 2>&1 || true
      if us=$(time_ms bash -c "$command"); then printf '%s\t%s\n' "$label" "$us" >>"$OUT/$name.tsv"; fi
    done
  done
}

# summary NAME BASE: medians of $OUT/NAME.tsv and BASE's ratio to each engine.
summary() {
python3 - "$OUT/$1.tsv" "$2" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import sys, statistics, collections
path, base, load = sys.argv[1], sys.argv[2], sys.argv[3]
t = collections.defaultdict(list)
for line in open(path):
    label, us = line.split("\t"); t[label].append(int(us) / 1000)
med = {k: statistics.median(v) for k, v in t.items()}
print(f"| {path.rsplit('/',1)[1][:-4]} | runs | median ms | min ms | {base} / this |")
print("|---|---:|---:|---:|---:|")
for k, v in t.items():
    ratio = med[base] / med[k] if k != base else 1.0
    print(f"| {k} | {len(v)} | {med[k]:.1f} | {min(v):.1f} | {ratio:.2f} |")
print(f"(load average at the end: {load})")
PY
}
