#!/usr/bin/env bash
# Fuzzes strata's parsers of untrusted input with cargo-fuzz (libFuzzer):
# tar_apply, reference, dockerfile, manifest, archive_load (fuzz/fuzz_targets/).
# Each target starts from fuzz/seeds/TARGET; new inputs go to $STRATA_FUZZ_CORPUS/TARGET
# (default /var/tmp/strata-fuzz/corpus, kept between runs), crashes to
# fuzz/artifacts/TARGET/ (turn each into a regression test).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20 s, all targets)
#
# The toolchain: $RUSTUP_TOOLCHAIN when set (the user's choice, never overridden), else
# nightly when installed, else nightly if `rustup toolchain install` manages it quickly,
# else the default toolchain. A non-nightly toolchain builds with RUSTC_BOOTSTRAP=1 (cargo
# fuzz passes -Z flags), with AddressSanitizer if that builds, else without a sanitizer.
# One line says which toolchain and mode were used. When fuzzing cannot run on this
# machine (no usable toolchain, no cargo-fuzz, no C++ compiler for libFuzzer) one line
# says why and the script exits 0; it exits 1 on a crash or a fuzz build that fails.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(tar_apply reference dockerfile manifest archive_load)
# Run from inside cargo (a test, `cargo run`), the caller's package variables are in the
# environment: $CARGO would pick the caller's toolchain, and build scripts of the fuzz
# workspace track some of them (ring: CARGO_MANIFEST_DIR), rebuilding it all when they change.
unset CARGO CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_MANIFEST_LINKS CARGO_CRATE_NAME \
  CARGO_BIN_NAME CARGO_PRIMARY_PACKAGE CARGO_TARGET_TMPDIR CARGO_RUSTC_CURRENT_DIR
for v in $(compgen -e | grep -E '^CARGO_(PKG|BIN_EXE)_' || true); do unset "$v"; done

skip() {
  echo "fuzz: skipped: $*"
  exit 0
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# --- the toolchain ---------------------------------------------------------------------
why=""
if [ -n "${RUSTUP_TOOLCHAIN:-}" ]; then
  toolchain=$RUSTUP_TOOLCHAIN
  why="RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN"
elif ! command -v rustup >/dev/null; then
  toolchain=""
  why="no rustup"
elif rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=nightly
elif timeout 90 rustup toolchain install nightly --profile minimal >"$log" 2>&1; then
  toolchain=nightly
else
  toolchain=$(rustup show active-toolchain 2>/dev/null | awk '{print $1}')
  toolchain=${toolchain:-stable}
  why="nightly toolchain absent and not installable"
fi
[ -z "$toolchain" ] || export RUSTUP_TOOLCHAIN=$toolchain
rustc_version=$(rustc --version 2>/dev/null) ||
  skip "toolchain ${toolchain:-of PATH} is not usable here (rustc --version failed)"
case $rustc_version in
  *-nightly* | *-dev*) nightly=1 ;;
  *) nightly=0 ;;
esac

# --- cargo-fuzz and a C++ compiler (libfuzzer-sys compiles libFuzzer) ------------------
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked >"$log" 2>&1 ||
    skip "cargo-fuzz is not installed and 'cargo install cargo-fuzz --locked' failed: $(grep -m1 -E '^error' "$log" || tail -1 "$log")"
fi
if [ -z "${CXX:-}" ] && ! command -v c++ >/dev/null && ! command -v g++ >/dev/null &&
  ! command -v clang++ >/dev/null; then
  skip "no C++ compiler (c++, g++, clang++ or \$CXX) to build libFuzzer"
fi

# --- the mode line, then the build -----------------------------------------------------
name=${toolchain:-"the toolchain of PATH"}
if [ $nightly = 1 ]; then
  echo "fuzz: building with $name ($rustc_version), sanitizer address${why:+ ($why)}"
else
  export RUSTC_BOOTSTRAP=1
  echo "fuzz: ${why:-toolchain $name is not nightly}; building with $name ($rustc_version) and RUSTC_BOOTSTRAP=1, sanitizer address"
fi
sanitizer=address
build() { # builds the chosen targets (all of them at once when none was named)
  if [ $# -eq 0 ]; then
    cargo fuzz build -s "$sanitizer" >"$log" 2>&1 || return 1
  else
    for t in "$@"; do cargo fuzz build -s "$sanitizer" "$t" >"$log" 2>&1 || return 1; done
  fi
}
named=("${targets[@]}")
[ $# -gt 0 ] || named=()
if ! build "${named[@]}"; then
  # Errors in the sources (error[E0xxx]) fail as they are; anything else with a
  # non-nightly toolchain (a -Z flag refused, no ASan runtime to link) retries without ASan.
  if [ $nightly = 0 ] && ! grep -qE '^error\[E[0-9]+\]' "$log"; then
    echo "fuzz: the AddressSanitizer build failed with $name ($(grep -m1 '^error' "$log" || echo 'no error line')); building without a sanitizer (-s none)"
    sanitizer=none
  fi
  if [ $sanitizer = address ] || ! build "${named[@]}"; then
    echo "fuzz: BUILD FAILED"
    tail -30 "$log"
    exit 1
  fi
fi

# --- the runs --------------------------------------------------------------------------
corpus=${STRATA_FUZZ_CORPUS:-/var/tmp/strata-fuzz/corpus}
status=0
for t in "${targets[@]}"; do
  mkdir -p "$corpus/$t"
  if cargo fuzz run -s "$sanitizer" "$t" "$corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 >"$log" 2>&1; then
    runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo 0)
    echo "fuzz $t: $runs executions in ${secs} s, no crash"
  else
    echo "fuzz $t: CRASH (see fuzz/artifacts/$t/)"
    tail -30 "$log"
    status=1
  fi
done
exit $status
