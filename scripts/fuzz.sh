#!/usr/bin/env bash
# Fuzzes strata's parsers of untrusted input with cargo-fuzz (libFuzzer, nightly Rust):
# tar_apply, reference, dockerfile, manifest, archive_load (fuzz/fuzz_targets/).
# Installs the nightly toolchain and cargo-fuzz when missing. Each target starts from
# fuzz/seeds/TARGET; new inputs go to /var/tmp/strata-fuzz/corpus/TARGET (kept between
# runs), crashes to fuzz/artifacts/TARGET/ (turn each into a regression test).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20 s, all targets)
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tar_apply reference dockerfile manifest archive_load)
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo +nightly fuzz build
corpus=${STRATA_FUZZ_CORPUS:-/var/tmp/strata-fuzz/corpus}
status=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  log=$(mktemp)
  if cargo +nightly fuzz run "$t" "$corpus/$t" "seeds/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo 0)
    echo "fuzz $t: $runs executions in ${secs} s, no crash"
  else
    echo "fuzz $t: CRASH (see fuzz/artifacts/$t/)"; tail -30 "$log"; status=1
  fi
  rm -f "$log"
done
exit $status
