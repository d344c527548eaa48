#!/usr/bin/env bash
# dive (wagoodman/dive), built from the Go module proxy into .tools/ for bench/explore.sh.
# Its module root has no main package: the command is github.com/wagoodman/dive/cmd/dive.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${DIVE_VERSION:-v0.13.2-0.20250516191726-d6c691947f8f}
[ -x .tools/dive ] && exit 0
mkdir -p .tools
GOBIN=$PWD/.tools go install "github.com/wagoodman/dive/cmd/dive@$VERSION"
