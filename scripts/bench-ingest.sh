#!/usr/bin/env bash
# Measures ingestion through POST /v1/batch with the shared load generator (../shared/tools/loadgen):
# builds symbiont, starts it on a fresh data dir (SQLite, or PostgreSQL with --postgres DSN), creates
# a brand, maps "Order Completed" to purchases, grants purchases x personalization to USERS users,
# then runs loadgen (closed loop, C clients, 100-event batches, random messageIds) for DURATION.
#
#   scripts/bench-ingest.sh [--postgres DSN] [-c 32] [-d 30s] [--users 1000] [--json out.json]
set -euo pipefail
cd "$(dirname "$0")/.."
PG="" C=32 D=30s USERS=1000 JSON="" LABEL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) PG="$2"; shift 2 ;;
    -c) C="$2"; shift 2 ;;
    -d) D="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --json) JSON="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
LOADGEN=${LOADGEN:-../shared/tools/loadgen}
[ -d "$LOADGEN" ] || { echo "loadgen not found at $LOADGEN (set LOADGEN=)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'kill $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/symbiont" ./cmd/symbiont
(cd "$LOADGEN" && go build -o "$tmp/loadgen" .)
PORT=$((20000 + RANDOM % 20000))
ADMIN=bench-admin-token-0123456789
export SYMBIONT_ADMIN_TOKEN=$ADMIN
args=(serve --addr 127.0.0.1:$PORT --data "$tmp/data" --log-level warn --rate-ingest 0 --rate-api 0 ${DEBUG_ADDR:+--debug-addr $DEBUG_ADDR})
if [ -n "$PG" ]; then
  schema="bench_$RANDOM$RANDOM"
  export PGOPTIONS=--client-min-messages=warning
  psql "$PG" -qc "CREATE SCHEMA $schema" >/dev/null
  trap 'kill $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true; psql "$PG" -qc "DROP SCHEMA $schema CASCADE" >/dev/null; rm -rf "$tmp"' EXIT
  sep='?'; case "$PG" in *\?*) sep='&';; esac
  args+=(--postgres "${PG}${sep}search_path=$schema")
fi
"$tmp/symbiont" "${args[@]}" 2>"$tmp/server.log" &
SPID=$!
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
brand=$(curl -sf -H "Authorization: Bearer $ADMIN" "$URL/v1/brands" -d '{"name":"Bench"}')
SK=$(echo "$brand" | sed -E 's/.*"secret_key":"([^"]+)".*/\1/')
WK=$(echo "$brand" | sed -E 's/.*"write_key":"([^"]+)".*/\1/')
curl -sf -X PUT -H "Authorization: Bearer $SK" "$URL/v1/tracking-plan" -d '{"events":{"Order Completed":"purchases"}}' >/dev/null
for i in $(seq 0 $((USERS - 1))); do
  printf 'user-%07d\n' "$i"
done | xargs -P 8 -I{} curl -sf -o /dev/null -H "Authorization: Bearer $SK" "$URL/v1/consumers/{}/consents" \
  -d '{"category":"purchases","purpose":"personalization","duration_days":365}'
extra=()
[ -n "$JSON" ] && extra+=(-json "$JSON")
[ -n "$LABEL" ] && extra+=(-label "$LABEL")
"$tmp/loadgen" -url "$URL/v1/batch" -writekey "$WK" -c "$C" -d "$D" -random-ids -users "$USERS" -server-pid "$SPID" "${extra[@]}"
