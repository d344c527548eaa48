#!/usr/bin/env bash
# The Engine API soak at bench scale: 100 clients mixing create, start, exec, ps, wait and
# rm for 60 s against one service and root (the suite runs 20 for 30 s), then `system
# check`. The same test as crates/cli/tests/engine_api_soak.rs, at a larger load.
#
#   bash bench/api-soak.sh             # CLIENTS=100 SECONDS_=60
set -euo pipefail
cd "$(dirname "$0")/.."
STRATA_SOAK_CLIENTS=${CLIENTS:-100} STRATA_SOAK_SECONDS=${SECONDS_:-60} \
  cargo test --release -q -p strata --test engine_api_soak -- --nocapture 2>&1 | grep -E "rounds by|test result|panicked"
