#!/usr/bin/env bash
# Issue 21's memory figure: N concurrent large `SELECT *` against `strata serve` with its
# default settings; reports each answer's status and size, and the server's peak resident
# set (VmHWM), so that the query memory budget (`--query.max-memory`, default 1 GiB)
# shows as either answers within it or readable 503 refusals.
#
# usage: benches/reliability/concurrent_selects.sh [-n CLIENTS] [-b BIN] [-d DATA] [-q QUERY] [-- SERVE_FLAGS...]
#   -n  concurrent clients (default 8)
#   -b  strata binary (default target/release/strata, else target/debug/strata)
#   -d  line protocol to import (default ../shared/data/tsbs_cpu_only_scale100_1d.lp.zst:
#       864,000 rows of 10 fields in `cpu`)
#   -q  the InfluxQL statement (default SELECT * FROM cpu)
set -euo pipefail
N=8
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN="$REPO/target/release/strata"
[ -x "$BIN" ] || BIN="$REPO/target/debug/strata"
DATA="$REPO/../shared/data/tsbs_cpu_only_scale100_1d.lp.zst"
Q="SELECT * FROM cpu"
while getopts "n:b:d:q:" o; do
  case $o in
    n) N=$OPTARG ;; b) BIN=$OPTARG ;; d) DATA=$OPTARG ;; q) Q=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$BIN" import --data-dir "$WORK/d" --fsync never "$DATA" >/dev/null 2>&1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --data-dir "$WORK/d" --listen "127.0.0.1:$PORT" "$@" 2>"$WORK/serve.log" &
PID=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && break; sleep 0.1; done
base=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
ENC=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$Q")
start=$(date +%s.%N)
for i in $(seq "$N"); do
  curl -s -o "$WORK/out$i" -w "%{http_code} %{size_download}\n" \
    "http://127.0.0.1:$PORT/query?db=x&q=$ENC" >"$WORK/status$i" &
done
wait $(jobs -p | grep -v "^$PID$") 2>/dev/null || true
end=$(date +%s.%N)
peak=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
after=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
# Memory given back once the burst is over: the resident set after 10 s idle and after
# one small query (mimalloc purges freed pages when its threads next allocate).
sleep 10
idle=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
curl -s -o /dev/null "http://127.0.0.1:$PORT/query?db=x&q=SELECT%20count(usage_user)%20FROM%20cpu"
sleep 1
small=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
ok=0; refused=0
for i in $(seq "$N"); do
  read -r code size <"$WORK/status$i"
  case $code in 200) ok=$((ok + 1)) ;; 503) refused=$((refused + 1)) ;; esac
  msg=""
  [ "$code" = 200 ] || msg=$(head -c 200 "$WORK/out$i")
  echo "client $i: HTTP $code, $size bytes $msg"
done
printf '%s clients of "%s": %d answered, %d refused (503), %.1f s; server RSS before %d MiB, peak %d MiB, after %d MiB, 10 s later %d MiB, after a small query %d MiB\n' \
  "$N" "$Q" "$ok" "$refused" "$(echo "$end - $start" | bc)" $((base / 1024)) $((peak / 1024)) $((after / 1024)) $((idle / 1024)) $((small / 1024))
