#!/usr/bin/env bash
# Footprint benchmark (issue 6): 1,000 unchanged watches checked hourly for 30 simulated
# days through the daemon loop, once with a server that answers 304 and once with one that
# sends the same body every time. Reports data-directory growth, bytes per 1,000 checks and
# peak memory (VmHWM); fails if growth reaches 5 MB or peak memory 100 MB.
#
# Usage: bench/footprint.sh [304|same]...   (FOOTPRINT_WATCHES, FOOTPRINT_DAYS scale it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
modes=("$@")
[[ ${#modes[@]} -eq 0 ]] && modes=(304 same)
for mode in "${modes[@]}"; do
    # One process per mode, so each peak memory figure is its own.
    FOOTPRINT_MODE="$mode" cargo test --release --quiet --bench footprint -- --ignored --nocapture
done
