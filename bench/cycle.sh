#!/usr/bin/env bash
# Check-cycle benchmark: 1,000 generated ~50 KB pages served on 127.0.0.1, three `check`
# cycles (baseline, no change, 10% changed) with the server honouring and ignoring
# conditional GET, against urlwatch 2.29 and a bare `curl --parallel` fetch.
#
#   bench/cycle.sh [--pages N] [--concurrency N] [--modes conditional ignore]
#                  [--jobs select whole] [--baseline-only] [--json-out FILE] [--no-urlwatch]
#                  [--repeats N]
#
# Every cycle (and the bare fetch) runs --repeats times (3) from the same state; the table
# gives medians (peak memory: the highest run).
# --jobs: `select` watches `select = "main"` (urlwatch: css + html2text), `whole` the whole
# page (urlwatch: html2text); both by default. --baseline-only: the first cycle only.
# BENCH_BIN=path times that binary instead of building one; URLWATCH_VENV=dir reuses a
# virtualenv that already has urlwatch 2.29.
#
# Needs cargo, python3 (with venv), curl, and PyPI for urlwatch. Everything it creates
# lives in one temp dir, removed on exit; the whole run is bounded by BENCH_TIMEOUT seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-1800}"
WITH_URLWATCH=1
ARGS=()
for a in "$@"; do
  if [[ "$a" == "--no-urlwatch" ]]; then WITH_URLWATCH=0; else ARGS+=("$a"); fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/policywatch-bench.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Peak memory comes from GNU time when present; bench.py falls back to wait4() otherwise.
if [[ ! -x /usr/bin/time ]] && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  apt-get install -y -qq time >/dev/null 2>&1 || echo "bench: no GNU time, using wait4()" >&2
fi

if [[ -n "${BENCH_BIN:-}" ]]; then
  BIN="$BENCH_BIN"
else
  echo "bench: building policywatch (release)" >&2
  (cd "$ROOT" && CARGO_TERM_PROGRESS_WHEN=never cargo build --release --quiet)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/policywatch"
fi

VENV_ARGS=()
if [[ "$WITH_URLWATCH" == 1 && -n "${URLWATCH_VENV:-}" ]]; then
  VENV_ARGS=(--urlwatch-venv "$URLWATCH_VENV")
elif [[ "$WITH_URLWATCH" == 1 ]]; then
  echo "bench: installing urlwatch 2.29 into a throwaway virtualenv" >&2
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check urlwatch==2.29
  VENV_ARGS=(--urlwatch-venv "$WORK/venv")
fi

# `timeout` ends the driver (which stops its page server and any timed child) if the
# run overruns; the server also exits by itself after the same bound.
status=0
timeout --kill-after=30 "$BENCH_TIMEOUT" \
  python3 "$ROOT/bench/bench.py" --work "$WORK" --policywatch "$BIN" \
  --lifetime "$BENCH_TIMEOUT" "${VENV_ARGS[@]}" "${ARGS[@]}" || status=$?
if [[ "$status" == 124 ]]; then
  echo "bench: stopped after BENCH_TIMEOUT=${BENCH_TIMEOUT}s" >&2
fi
# 1 means a target was missed (the table says which); anything else is a failure to run.
exit "$status"
