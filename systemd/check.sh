#!/usr/bin/env bash
# Checks systemd/policywatch.service: `systemd-analyze verify` must be silent and
# `systemd-analyze security --offline=yes` must rate the exposure 2.0 or lower.
# Skips (exit 0) where systemd-analyze is not installed, so CI without systemd passes.
#
# Usage: systemd/check.sh [path/to/policywatch binary]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
unit="$here/policywatch.service"
max_exposure="2.0"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd/check.sh: systemd-analyze not found; skipped (apt-get install systemd to run it)"
    exit 0
fi

# verify insists that ExecStart's binary exists; point a copy of the unit at a built one.
bin="${1:-}"
# systemd wants an absolute ExecStart path.
[[ -n "$bin" ]] && bin="$(realpath "$bin")"
if [[ -z "$bin" ]]; then
    for candidate in "$here/../target/release/policywatch" "$here/../target/debug/policywatch"; do
        if [[ -x "$candidate" ]]; then bin="$(cd "$(dirname "$candidate")" && pwd)/policywatch"; break; fi
    done
fi
if [[ -z "$bin" ]]; then
    echo "systemd/check.sh: no built policywatch; verifying with /bin/true in its place"
    bin="$(command -v true)"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s#^ExecStart=/usr/local/bin/policywatch#ExecStart=$bin#" "$unit" > "$work/policywatch.service"

status=0
if ! verify_out="$(systemd-analyze verify "$work/policywatch.service" 2>&1)" || [[ -n "$verify_out" ]]; then
    echo "systemd-analyze verify reported problems:"
    echo "$verify_out"
    status=1
else
    echo "systemd-analyze verify: no problems"
fi

security_out="$(systemd-analyze security --offline=yes --no-pager "$unit" 2>&1 || true)"
overall="$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$security_out" | awk '{print $NF}')"
if [[ -z "$overall" ]]; then
    echo "systemd-analyze security gave no overall exposure level:"
    echo "$security_out"
    status=1
elif awk -v got="$overall" -v max="$max_exposure" 'BEGIN { exit !(got > max) }'; then
    echo "$security_out" | grep '✗' || true
    echo "systemd-analyze security: exposure $overall is above $max_exposure"
    status=1
else
    echo "systemd-analyze security: exposure $overall (at most $max_exposure)"
fi
exit $status
