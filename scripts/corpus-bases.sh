#!/usr/bin/env bash
# The base images of the Dockerfile corpus (crates/cli/tests/build_corpus.rs, issue 20):
# root filesystem tarballs made with debootstrap from Debian's packages, which the test
# imports and tags under the names the corpus' Dockerfiles use (debian:bookworm-slim,
# golang:1.19, rust:1.63, node:18, python:3.11, gcc:12, …). No registry is reached:
# only the Debian mirror, and only here, never from a build step.
#
#   scripts/corpus-bases.sh          make the tarballs unless the cache has them
#   scripts/corpus-bases.sh --check  print the cache directory if complete, else fail
#
# Cached outside the clone in $STRATA_CORPUS_CACHE (default /var/cache/strata-corpus),
# in a directory named by a hash of this script: editing a package list below makes new
# ones, runs after the first reuse them. Each tarball is written under a temporary name
# and renamed, so a killed run never leaves half of one; older directories are removed.
# Must run as root (debootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."

suite=bookworm
mirror=${STRATA_CORPUS_MIRROR:-http://deb.debian.org/debian}
# bookworm-slim: the minimal base (minbase: essential packages and apt), as Docker's
# debian:bookworm-slim.
slim_include=ca-certificates
# toolchain: one root for every language of the corpus, tagged under each language's
# image name (five separate debootstraps would each repeat the same minbase). Debian's
# versions: Go 1.19, rustc and cargo 1.63, Node.js 18 (without npm: the corpus' Node
# apps commit their node_modules), Python 3.11 with venv and pip, GCC 12 and make.
toolchain_include=ca-certificates,golang-go,gcc,libc6-dev,make,python3,python3-venv,python3-pip,nodejs,rustc,cargo,git

cache=${STRATA_CORPUS_CACHE:-/var/cache/strata-corpus}
key=$(sha256sum "$0" | cut -c1-16)
dir=$cache/$key
names=(slim toolchain)

complete() {
  local n
  for n in "${names[@]}"; do [ -s "$dir/$n.tar.zst" ] || return 1; done
}

if [ "${1:-}" = --check ]; then
  if complete; then
    echo "$dir"
    exit 0
  fi
  echo "corpus base images missing in $dir: run scripts/corpus-bases.sh (as root; debootstrap from $mirror)" >&2
  exit 1
fi

# One maker at a time (two test runs at once would debootstrap twice into one cache).
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if complete; then
  echo "corpus bases: cached in $dir"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "debootstrap is needed (scripts/test.sh installs it)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "zstd is needed (scripts/test.sh installs it)" >&2; exit 1; }
mkdir -p "$dir"
# Directories of other keys are stale: this script changed since they were made. The
# downloaded packages (debs/, shared by the roots: debootstrap's --cache-dir) are kept.
debs=$cache/debs
mkdir -p "$debs"
for old in "$cache"/*; do
  [ "$old" = "$dir" ] || [ "$old" = "$debs" ] || [ ! -d "$old" ] || rm -rf --one-file-system "$old"
done

work=$(mktemp -d /var/tmp/strata-corpus-bases.XXXXXX)
# debootstrap mounts /proc (and may bind the host's /dev) in the root it makes, and a
# killed run leaves them: unmount before anything is removed, and remove within one
# filesystem only.
unmount_under() {
  local m
  for m in $(awk -v w="$1/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ! awk -v w="$1/" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}
cleanup() {
  unmount_under "$work" && rm -rf --one-file-system "$work"
  rm -f "$dir"/*.tmp.*
}
trap cleanup EXIT

# make NAME INCLUDE: debootstrap a root, trim what an image does not need, tar it.
make_base() {
  local name=$1 include=$2 root=$work/$1 start=$SECONDS
  [ -s "$dir/$name.tar.zst" ] && return 0
  echo "corpus bases: debootstrap $name ($include)"
  debootstrap --variant=minbase --include="$include" --cache-dir="$debs" \
    "$suite" "$root" "$mirror" >"$work/$name.log" 2>&1 || {
    tail -n 30 "$work/$name.log" >&2
    echo "debootstrap $name failed" >&2
    return 1
  }
  unmount_under "$root" || { echo "cannot unmount what debootstrap left in $root" >&2; return 1; }
  # As Docker's Debian images: no package lists or downloaded packages, no logs.
  rm -rf --one-file-system "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log "$root"/var/log/apt/* \
    "$root"/tmp/* "$root"/var/tmp/*
  # The host's name and resolver are the container's business, not the image's.
  : >"$root/etc/hostname"
  rm -f "$root/etc/resolv.conf"
  local tmp=$dir/$name.tar.zst.tmp.$$
  # /dev, /proc and /sys are the runtime's to fill.
  tar --numeric-owner --xattrs --xattrs-include='security.capability' \
    --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -C "$root" -cf - . |
    zstd -q -T0 -3 -o "$tmp"
  mv "$tmp" "$dir/$name.tar.zst"
  rm -rf --one-file-system "$root"
  echo "corpus bases: $name made in $((SECONDS - start))s ($(du -h "$dir/$name.tar.zst" | cut -f1))"
}

make_base slim "$slim_include"
make_base toolchain "$toolchain_include"
echo "corpus bases: in $dir"
