#!/usr/bin/env bash
# The main job on the bundled example, with no network image: build strata, make a
# busybox rootfs from Debian's busybox-static, import it, list and inspect it, show
# that save/load keeps the image ID, then run containers: a one-off command, and the
# seeds' flow (a detached web server published with -p, exec, commit, run the committed
# image); finally build the seeds' hello world (a static C binary, FROM scratch) and run it.
# Usage: scripts/example.sh            (root is /var/tmp/strata-example unless STRATA_ROOT is set)
set -euo pipefail
cd "$(dirname "$0")/.."
# Every host package the example's commands call: busybox-static (the rootfs and the
# host's wget), nftables (`nft`, the default bridge network's rules: run -p), gcc and
# libc6-dev (the static hello world).
packages=(busybox-static nftables gcc libc6-dev)
source scripts/packages.sh
ensure_packages "${packages[@]}"
cargo build --release -q -p strata
strata=$PWD/target/release/strata
export STRATA_ROOT=${STRATA_ROOT:-/var/tmp/strata-example}
# The example's own store starts empty each time (stopping what a killed run left).
if [ -d "$STRATA_ROOT" ] && [ "$STRATA_ROOT" = /var/tmp/strata-example ]; then
  "$strata" system reset --force >/dev/null 2>&1 || true
  grep -q " $STRATA_ROOT/" /proc/self/mountinfo && grep " $STRATA_ROOT/" /proc/self/mountinfo | awk '{print $5}' | xargs -r umount -l
  rm -rf "$STRATA_ROOT"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { printf '\n$ %s\n' "$*"; "$@"; }
examples/busybox/make-rootfs.sh "$work/busybox.tar"
step "$strata" import -c 'CMD ["sh"]' -m "busybox from Debian's busybox-static" "$work/busybox.tar" busybox:example
step "$strata" images busybox
step "$strata" inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} layers={{len .RootFS.Layers}} cmd={{json .Config.Cmd}}' busybox:example
step "$strata" history busybox:example
step "$strata" save -o "$work/busybox-saved.tar" busybox:example
id=$("$strata" inspect -f '{{.Id}}' busybox:example)
step "$strata" rmi busybox:example
step "$strata" load -i "$work/busybox-saved.tar"
[ "$("$strata" inspect -f '{{.Id}}' busybox:example)" = "$id" ] && printf '\nimage ID unchanged by save/rmi/load: %s\n' "$id"

# A container: the image plus a writable layer on overlayfs, in its own namespaces.
step "$strata" run --rm busybox:example sh -c 'echo "hello from $(hostname), PID $$"; ls /'
"$strata" rm -f example-web >/dev/null 2>&1 || true
step "$strata" run -d --name example-web -p 127.0.0.1::8080 busybox:example httpd -f -p 8080 -h /var/www
step "$strata" port example-web
port=$("$strata" port example-web 8080 | sed 's/.*://')
step "$strata" exec example-web sh -c 'echo "<h1>changed in the container</h1>" > /var/www/index.html'
# From the host, through the published port (the container is on the default bridge).
for _ in $(seq 100); do /bin/busybox wget -qO- "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
step /bin/busybox wget -qO- "http://127.0.0.1:$port/"
step "$strata" diff example-web
step "$strata" commit -a "strata example" -m "changed the page" example-web busybox:example-web
step "$strata" history busybox:example-web
step "$strata" run --rm busybox:example-web cat /var/www/index.html
step "$strata" stop -t 1 example-web
step "$strata" ps -a
"$strata" rm example-web >/dev/null

# The seeds' hello world: a static C program, built into an image FROM scratch.
cp -r examples/hello "$work/hello"
gcc -static -O2 -o "$work/hello/hello" "$work/hello/hello.c"
step cat "$work/hello/Dockerfile"
step "$strata" build -t hello:latest "$work/hello"
step "$strata" run --rm hello
step "$strata" build -t hello:latest "$work/hello"
step "$strata" images hello
step "$strata" history hello
