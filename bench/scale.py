#!/usr/bin/env python3
"""Helpers of bench/scale.sh.

    scale.py layered COUNT BASE_TAR OUT_TAR TAG
        a docker-archive of one image of COUNT layers: BASE_TAR (a rootfs tar) at the
        bottom, then COUNT-1 tiny layers of one file each (/layers/N)
    scale.py time RUNS OUT_TSV [--sync] LABEL=COMMAND ...
        interleaved rounds (each command once per round, in order), each command run
        directly (no shell), stdout/stderr discarded; appends "label<TAB>microseconds"
        lines to OUT_TSV. With --sync, `sync` (untimed) before every command.
    scale.py summary TITLE TSV
        medians and ranges of a TSV as a markdown table
"""
import hashlib
import io
import json
import os
import shlex
import statistics
import subprocess
import sys
import tarfile
import time


def layered(count, base_tar, out, tag):
    with open(base_tar, "rb") as f:
        base = f.read()
    layers = [base]
    for n in range(1, count):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
            if n == 1:
                d = tarfile.TarInfo("layers")
                d.type = tarfile.DIRTYPE
                d.mode = 0o755
                t.addfile(d)
            data = f"layer {n}\n".encode()
            info = tarfile.TarInfo(f"layers/{n}")
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
        layers.append(buf.getvalue())
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"layer {n}"} for n in range(count)],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    with tarfile.open(out, "w") as archive:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        names = []
        for diff_id, data in zip(diff_ids, layers):
            name = diff_id.split(":")[1] + "/layer.tar"
            add(name, data)
            names.append(name)
        add(config_name, config)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": names}]).encode())


def timed(runs, out, sync, specs):
    commands = []
    for spec in specs:
        label, command = spec.split("=", 1)
        commands.append((label, shlex.split(command)))
    with open(out, "a") as tsv:
        for _ in range(runs):
            for label, argv in commands:
                if sync:
                    os.sync()
                t0 = time.perf_counter_ns()
                done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                t1 = time.perf_counter_ns()
                if done.returncode != 0:
                    raise SystemExit(f"{label}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
                tsv.write(f"{label}\t{(t1 - t0) // 1000}\n")
                tsv.flush()


def summary(title, path):
    times = {}
    for line in open(path):
        label, us = line.rstrip("\n").split("\t")
        times.setdefault(label, []).append(int(us) / 1000)
    print(f"| {title} | runs | median ms | range ms |")
    print("|---|---:|---:|---:|")
    for label, t in times.items():
        print(f"| {label} | {len(t)} | {statistics.median(t):.1f} | {min(t):.1f}–{max(t):.1f} |")
    with open("/proc/loadavg") as f:
        print(f"(load average at the end: {f.read().split()[0]})")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "layered":
        layered(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif what == "time":
        args = sys.argv[4:]
        sync = "--sync" in args
        timed(int(sys.argv[2]), sys.argv[3], sync, [a for a in args if a != "--sync"])
    elif what == "summary":
        summary(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
