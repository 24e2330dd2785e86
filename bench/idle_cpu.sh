#!/usr/bin/env bash
# Idle CPU benchmark (issue 16, acceptance 7): the daemon with 20 page watches on an hourly
# schedule runs its first cycle against a local server, then is measured while idle between
# cycles: CPU time (utime + stime from /proc/PID/stat) over IDLE_SECS (default 60) seconds.
# Fails if it reaches 0.1% of one core.
#
# Usage: bench/idle_cpu.sh [path/to/policywatch]   (default: target/release, built if absent)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs="${IDLE_SECS:-60}"
bin="${1:-target/release/policywatch}"
if [[ ! -x "$bin" ]]; then
    cargo build --release --quiet
    bin=target/release/policywatch
fi
bin="$(realpath "$bin")"
work="$(mktemp -d)"
cleanup() {
    [[ -n "${daemon:-}" ]] && kill "$daemon" 2>/dev/null || true
    [[ -n "${server:-}" ]] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/site" "$work/watchlists"
for i in $(seq 1 20); do
    echo "<html><head><title>Page $i</title></head><body><main><p>Text $i</p></main></body></html>" > "$work/site/p$i.html"
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work/site" >/dev/null 2>&1 &
server=$!
printf '[fetch]\nallow_private = true\nper_host_interval_secs = 0\n' > "$work/policywatch.toml"
{
    printf 'name = "idle"\nschedule = "0 * * * *"\n'
    for i in $(seq 1 20); do
        printf '\n[[watch]]\nid = "p%s"\nkind = "page"\nurl = "http://127.0.0.1:%s/p%s.html"\n' "$i" "$port" "$i"
    done
} > "$work/watchlists/idle.toml"
sleep 0.5

cd "$work"
POLICYWATCH_LOG=warn "$bin" --config policywatch.toml --watchlists watchlists --data data run 2> daemon.log &
daemon=$!
# The first cycle (baselines) ends when the daemon leaves its status report.
for _ in $(seq 1 100); do [[ -s data/status.json ]] && break; sleep 0.2; done
[[ -s data/status.json ]] || { echo "idle_cpu: the first cycle did not finish"; cat daemon.log; exit 1; }
sleep 2

ticks() { awk '{print $14 + $15}' "/proc/$daemon/stat"; }
hz=$(getconf CLK_TCK)
before=$(ticks)
sleep "$secs"
after=$(ticks)
used=$((after - before))
python3 - "$used" "$hz" "$secs" <<'PY'
import sys
used, hz, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
cpu = used / hz
pct = 100 * cpu / secs
print(f"idle CPU: {cpu:.3f} s over {secs:.0f} s = {pct:.4f}% of one core (limit 0.1%)")
sys.exit(0 if pct < 0.1 else 1)
PY
