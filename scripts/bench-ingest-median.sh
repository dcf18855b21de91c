#!/usr/bin/env bash
# Runs scripts/bench-ingest.sh N times (default 5) with the given flags and prints each run and
# the median of accepted events/s, p50 and p99 batch latency and server CPU. Machines are
# noisy: report medians.
#
#   scripts/bench-ingest-median.sh [-n 5] [bench-ingest.sh flags…]
set -euo pipefail
cd "$(dirname "$0")/.."
N=5
if [ "${1:-}" = "-n" ]; then N=$2; shift 2; fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for i in $(seq "$N"); do
  scripts/bench-ingest.sh "$@" --json "$out" >/dev/null 2>&1 || scripts/bench-ingest.sh "$@" --json "$out" >/dev/null 2>&1 || { echo "run $i failed twice" >&2; exit 1; }
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = [("accepted_events_per_s", "events/s"), ("lat_ms_p50", "p50 ms"), ("lat_ms_p99", "p99 ms"), ("cpu_pct_server", "server CPU %"), ("cpu_pct_postgres", "postgres CPU %")]
for r in runs:
    print("run:", "  ".join(f"{n}={r[k]:.1f}" for k, n in keys))
print("median:", "  ".join(f"{n}={statistics.median(r[k] for r in runs):.1f}" for k, n in keys))
PY
