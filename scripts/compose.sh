#!/usr/bin/env bash
# docker compose v5 (the Go module github.com/docker/compose/v5, pinned), built with the
# machine's Go from the Go module proxy as a docker CLI plugin at
# .tools/cli-plugins/docker-compose, for the compose test (crates/cli/tests/compose.rs).
# `go install MODULE@VERSION` refuses this module (its go.mod has exclude directives), so
# its source is downloaded into the module cache and built there. Idempotent: nothing is
# done when the pinned version is already built.
set -euo pipefail
cd "$(dirname "$0")/.."
version=v5.6.0
out=.tools/cli-plugins/docker-compose
if [ -x "$out" ] && [ "$(cat .tools/compose.version 2>/dev/null)" = "$version" ]; then
  exit 0
fi
dir=$(go mod download -json "github.com/docker/compose/v5@$version" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
mkdir -p .tools/cli-plugins
dest="$PWD/$out"
(cd "$dir" && go build -trimpath -ldflags "-X github.com/docker/compose/v5/internal.Version=$version" -o "$dest.tmp" ./cmd)
mv "$dest.tmp" "$dest"
echo "$version" > .tools/compose.version
