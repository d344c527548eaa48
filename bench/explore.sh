#!/usr/bin/env bash
# The layer explorer against dive and against the floor (issue 21), in one run, interleaved:
#   strata image explore --format json IMAGE      (from the store: layer blobs, no extraction)
#   strata image explore --format json --input IMAGE.tar
#   dive --source docker-archive --json OUT.json IMAGE.tar
#   floor: every layer's bytes read once — tar -xO (parse the headers, stream the contents)
#          piped into sha256sum, layer after layer
# on two images: the reference multi:1 (4 layers, 185 MB) and a generated image of 200,000
# files in 20 layers. Wall time (median, range) and peak RSS (GNU time's %M) per tool.
# Everything lives on the fair filesystem (../shared/reference/fair-fs.sh), sync around
# every timed run.
#
#   bash bench/explore.sh            # RUNS=5 rounds (dive in the first DIVE_RUNS=1 only)
# Needs: target/release/strata (cargo build --release -p strata), dive (scripts/dive.sh
# builds it into .tools/), the reference images (../shared/reference/setup.sh).
# Results: $B/results/explore.md
{
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
REF=${REFERENCE_SCRIPTS:-/work/shared/reference}
source "$REF/env.sh"                 # $IMG
RUNS=${RUNS:-5}
DIVE_RUNS=${DIVE_RUNS:-1}            # dive takes minutes on the 200,000-file image: its rounds
STRATA=${STRATA:-$REPO/target/release/strata}
DIVE=${DIVE:-$REPO/.tools/dive}
[ -x "$STRATA" ] || { echo "build strata first: cargo build --release -p strata" >&2; exit 1; }
[ -x "$DIVE" ] || bash "$REPO/scripts/dive.sh"
[ -s "$IMG/multi.tar" ] || bash "$REF/setup.sh"
bash "$REF/fair-fs.sh" reset >/dev/null
FAIR=${FAIR:-/mnt/strata-fair}
W=$FAIR/explore
OUT=${STRATA_BENCH_DIR:-/var/tmp/strata-bench}/results
mkdir -p "$W" "$OUT"
ROOT=$W/root

# The generated image: 20 layers of 10,000 files each (sizes 0-2 KB), every fifth layer
# rewriting 2,000 files of the one below and whiting out 500.
python3 - "$W/many.tar" <<'PY'
import hashlib, io, json, random, sys, tarfile
random.seed(7)
layers = []
for n in range(20):
    buf = io.BytesIO()
    t = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
    for d in range(100):
        info = tarfile.TarInfo(f"l{n}/d{d}"); info.type = tarfile.DIRTYPE; info.mode = 0o755; t.addfile(info)
        for f in range(100):
            data = random.randbytes(random.randint(0, 2048))
            info = tarfile.TarInfo(f"l{n}/d{d}/f{f}"); info.size = len(data); t.addfile(info, io.BytesIO(data))
    if n % 5 == 4:
        for f in range(2000):
            data = random.randbytes(512)
            info = tarfile.TarInfo(f"l{n-1}/d{f // 100}/f{f % 100}"); info.size = len(data); t.addfile(info, io.BytesIO(data))
        for f in range(500):
            info = tarfile.TarInfo(f"l{n-1}/d{50 + f // 100}/.wh.f{f % 100}"); t.addfile(info)
    t.close()
    layers.append(buf.getvalue())
diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created_by": f"generated layer {i}"} for i in range(20)]}).encode()
out = tarfile.open(sys.argv[1], "w")
def add(name, data):
    info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))
names = []
for i, l in enumerate(layers):
    add(f"{i}/layer.tar", l); names.append(f"{i}/layer.tar")
cfg = hashlib.sha256(config).hexdigest() + ".json"
add(cfg, config)
add("manifest.json", json.dumps([{"Config": cfg, "RepoTags": ["many:1"], "Layers": names}]).encode())
out.close()
PY
cp "$IMG/multi.tar" "$W/multi.tar"
"$STRATA" --root "$ROOT" load -q -i "$W/multi.tar" >/dev/null
"$STRATA" --root "$ROOT" load -q -i "$W/many.tar" >/dev/null
# The floor's input: each image's layer tars, unpacked from the archive (untimed).
for image in multi many; do
  mkdir -p "$W/$image-layers"
  tar -xf "$W/$image.tar" -C "$W/$image-layers"
done

measure() { # label image command...: one timed run; appends "label image seconds kbytes"
  local label=$1 image=$2; shift 2
  sync
  /usr/bin/time -f "%e %M" -o "$W/time.out" "$@" >/dev/null 2>"$W/err.out" || {
    echo "FAILED: $label $image"; cat "$W/err.out" >&2; return 0; }
  sync
  echo "$label $image $(cat "$W/time.out")" >>"$OUT/explore.raw"
}
floor() { # the image's layer tars, each read once: headers parsed, contents hashed
  local dir=$1
  python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$dir/manifest.json" |
    while read -r layer; do tar -xOf "$dir/$layer" | sha256sum >/dev/null; done
}
export -f floor

: >"$OUT/explore.raw"
for round in $(seq 1 "$RUNS"); do
  for image in multi many; do
    tag=$image:1
    measure strata-store "$image" "$STRATA" --root "$ROOT" image explore --format json "$tag"
    measure strata-input "$image" "$STRATA" --root "$ROOT" image explore --format json --input "$W/$image.tar"
    [ "$round" -gt "$DIVE_RUNS" ] ||
      measure dive "$image" "$DIVE" --source docker-archive --json "$W/dive.json" "$W/$image.tar"
    measure floor "$image" bash -c "floor $W/$image-layers"
  done
done
files_many=$("$STRATA" --root "$ROOT" image explore --format json many:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["entries"])')
python3 - "$OUT/explore.raw" "$files_many" >"$OUT/explore.md" <<'PY'
import collections, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, image, secs, kb = line.split()
    rows[(image, label)].append((float(secs), int(kb)))
files = int(sys.argv[2])
print("| image | tool | runs | median s | range s | peak RSS MB | ÷ floor | ÷ dive |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for image in ("multi", "many"):
    med = {l: statistics.median(s for s, _ in v) for (i, l), v in rows.items() if i == image}
    for (i, label), v in sorted(rows.items()):
        if i != image: continue
        secs = [s for s, _ in v]; rss = max(k for _, k in v) / 1024
        f = med[label] / med["floor"] if med.get("floor") else float("nan")
        d = med[label] / med["dive"] if med.get("dive") else float("nan")
        print(f"| {image} | {label} | {len(v)} | {med[label]:.2f} | {min(secs):.2f}–{max(secs):.2f} | {rss:.0f} | {f:.2f} | {d:.2f} |")
store = max(k for (i, l), v in rows.items() if i == "many" and l == "strata-store" for _, k in v)
print(f"\nmany:1 has {files} entries in its final image; strata's peak RSS from the store is "
      f"{store * 1024 / files:.0f} bytes per entry (including the binary's own).")
PY
{
  echo
  echo "Keypress to redraw in the interactive view of many:1 (80x24 pty, bench/explore_keys.py):"
  echo
  python3 "$HERE/explore_keys.py" "$STRATA" --root "$ROOT" explore many:1 | sed 's/^/- /'
} >>"$OUT/explore.md"
cat "$OUT/explore.md"
}
