#!/usr/bin/env bash
# Where a Strata server's time goes on Prometheus-shaped ingest: `perf record` on
# `strata serve --fsync always` while prom_load.py (2 clients) posts one data set in each
# format, then the top frames (self time) of each profile.
#
# Usage: benches/compare/prom_profile.sh STRATA_BIN PROMGEN_BIN [--hosts N] [--minutes M]
#                                        [--node FILE] [--formats lp,remote-write,text] [--top K]
#   --hosts 0 profiles the real 15-minute file (one host); default 100 synthetic hosts, 2 min.
# PERF_G="--call-graph dwarf" gives callers (slower). Needs perf (kernel.perf_event_paranoid <= 1, or root). Prints Markdown on stdout.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STRATA=${1:?STRATA_BIN}; PROMGEN=${2:?PROMGEN_BIN}; shift 2
HOSTS=100 MINUTES=2 NODE=/work/shared/data/node_exporter_15m.lp.zst FORMATS=lp,remote-write,text TOP=12
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) HOSTS=$2; shift 2 ;; --minutes) MINUTES=$2; shift 2 ;;
    --node) NODE=$2; shift 2 ;; --formats) FORMATS=$2; shift 2 ;; --top) TOP=$2; shift 2 ;;
    *) echo "prom_profile.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-prom-profile.XXXXXX")
SERVER=""
cleanup() {
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
    kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true
  fi
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [ "$HOSTS" = 0 ]; then
  "$PROMGEN" --input "$NODE" --out-dir "$WORK/frames" >&2
else
  "$PROMGEN" --input "$NODE" --out-dir "$WORK/frames" --hosts "$HOSTS" --minutes "$MINUTES" >&2
fi
declare -A FILE=([lp]=lp.frames [remote-write]=rw.frames [text]=text.frames)
declare -A URLP=([lp]="/write?db=benchmark&precision=ns" [remote-write]="/api/v1/write" [text]="/api/v1/import/prometheus")
echo "strata: \`$STRATA\` ($("$STRATA" --version 2>/dev/null || echo '?')), data: hosts=$HOSTS minutes=$MINUTES"
for f in ${FORMATS//,/ }; do
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  rm -rf "$WORK/data"
  "$STRATA" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --fsync always >"$WORK/serve.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null 2>&1 && break; sleep 0.1; done
  perf record -F 999 ${PERF_G:--g} -p "$SERVER" -o "$WORK/$f.perf" >/dev/null 2>&1 &
  PERF=$!
  sleep 0.5
  RES=$(python3 "$HERE/prom_load.py" --file "$WORK/frames/${FILE[$f]}" --format "$f" --workers 2 \
        --url "http://127.0.0.1:$PORT${URLP[$f]}" --server-pid "$SERVER" || true)
  kill -INT "$PERF"; wait "$PERF" 2>/dev/null || true
  kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
  echo
  SUMMARY=$(echo "$RES" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("%s samples/s, server %s CPU-s per 1 M samples, HTTP errors %s" % (format(r["points_per_s"], ","), r["server_cpu_s_per_1M_points"], r["http_errors"]))' || echo "load failed: $RES")
  echo "### $f: $SUMMARY"
  echo
  echo '```'
  perf report -i "$WORK/$f.perf" --no-children --sort symbol --percent-limit 0.5 --stdio 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | awk -v k="$TOP" 'NR <= k' | sed -E 's/[ -]+$//'
  echo '```'
done
