#!/usr/bin/env bash
# History browser speed (issue 12): a timeline page over 100,000 stored changes and a phrase
# history over 1,000 versions of a 200 KB document, served by the real web service on
# loopback from a sled store on disk. Prints the first (cold) and median time of each
# request; fails if a median reaches 200 ms.
#
# Usage: bench/web.sh   (WEB_CHANGES, WEB_VERSIONS, WEB_DOC_KB scale it)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test --release --quiet --bench web_speed -- --ignored --nocapture
