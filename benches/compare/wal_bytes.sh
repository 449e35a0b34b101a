#!/usr/bin/env bash
# WAL bytes per sample: for each Strata binary and each format, a fresh `strata serve
# --fsync always` takes one promgen data set through prom_load.py (2 clients), then every
# wal/*.wal file is summed at once (before the first rotation can checkpoint any away).
#
# Usage: benches/compare/wal_bytes.sh PROMGEN_BIN STRATA_BIN... [-- --hosts N --minutes M]
#   default data: 100 synthetic hosts over 2 minutes of ../shared/data/node_exporter_15m.lp.zst
# Prints one line per (binary, format): WAL bytes, files, samples and bytes per sample.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROMGEN=${1:?PROMGEN_BIN}; shift
BINS=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do BINS+=("$1"); shift; done
[ $# -gt 0 ] && shift
GEN=("$@"); [ ${#GEN[@]} -gt 0 ] || GEN=(--hosts 100 --minutes 2)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-wal-bytes.XXXXXX")
SERVER=""
cleanup() {
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
"$PROMGEN" --input /work/shared/data/node_exporter_15m.lp.zst --out-dir "$WORK/frames" "${GEN[@]}" >&2
declare -A FILE=([lp]=lp.frames [remote-write]=rw.frames [text]=text.frames)
declare -A URLP=([lp]="/write?db=benchmark&precision=ns" [remote-write]="/api/v1/write" [text]="/api/v1/import/prometheus")
for bin in "${BINS[@]}"; do
  for f in lp remote-write text; do
    rm -rf "$WORK/data"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$bin" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --fsync always >"$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/ping" >/dev/null 2>&1 && break; sleep 0.1; done
    RES=$(python3 "$HERE/prom_load.py" --file "$WORK/frames/${FILE[$f]}" --format "$f" --workers 2 \
          --url "http://127.0.0.1:$PORT${URLP[$f]}")
    BYTES=$(cat "$WORK"/data/wal/*.wal | wc -c); FILES=$(ls "$WORK/data/wal" | wc -l)
    kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    SAMPLES=$(echo "$RES" | python3 -c 'import json,sys; print(json.load(sys.stdin)["points"])')
    echo "$bin $f: WAL $BYTES bytes in $FILES files, $SAMPLES samples, $(python3 -c "print(round($BYTES / $SAMPLES, 1))") B/sample"
  done
done
