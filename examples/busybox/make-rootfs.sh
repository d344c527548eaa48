#!/usr/bin/env bash
# Builds a tiny busybox root filesystem tarball from Debian's busybox-static.
# Usage: examples/busybox/make-rootfs.sh OUT.tar
set -euo pipefail
out=${1:?usage: make-rootfs.sh OUT.tar}
[ -x /bin/busybox ] || { echo "needs /bin/busybox: apt-get install busybox-static" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"/{bin,etc,tmp,proc,sys,dev,root,var/www}
cp /bin/busybox "$dir/bin/busybox"
for app in $("$dir/bin/busybox" --list); do
  [ "$app" = busybox ] || ln -s busybox "$dir/bin/$app"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$dir/etc/group"
echo '<h1>hello from strata</h1>' >"$dir/var/www/index.html"
chmod 1777 "$dir/tmp"
# Fixed owner and mtime: the same busybox gives the same layer digest on every machine.
tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='2024-01-01 00:00:00Z' -C "$dir" -cf "$out" .
