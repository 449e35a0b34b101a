#!/usr/bin/env bash
# Query latency p50/p99 while ingest runs at half its maximum rate (issue 6), against
# `strata serve --fsync always` over loopback HTTP.
#
# Usage: benches/mixed/run.sh [--quick] [--data FILE] [--seconds N] [--out DIR]
#   --data FILE   TSBS cpu-only line protocol, plain or .zst, in time order
#                 (default /work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst)
#   --quick       the 6-hour file and 5 s phases, to check that everything works (~1.5 min)
#   --seconds N   length of each of the two query phases (default 20; 5 with --quick)
#   --out DIR     where mixed-<UTC date>.md goes (default benches/mixed/results/)
# Env: KEEP_TMP=1 keeps the temp dir (server log), CARGO_TARGET_DIR as cargo reads it.
# Exit status 1 if any query fails or any write is not acknowledged with 204.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
CMDLINE="benches/mixed/run.sh $*"
DATA_DIR=/work/shared/data

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
DATA="" QUICK="" SECONDS_PER_PHASE="" OUT="$HERE/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?--data needs a file}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --seconds) SECONDS_PER_PHASE=${2:?--seconds needs a number}; shift 2 ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$QUICK" ]; then
  DATA=${DATA:-$DATA_DIR/tsbs_cpu_only_scale100_6h.lp.zst}
  SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-5}
else
  DATA=${DATA:-$DATA_DIR/tsbs_cpu_only_scale100_1d.lp.zst}
  SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-20}
fi
[ -r "$DATA" ] || { echo "run.sh: cannot read $DATA" >&2; exit 2; }
case "$DATA" in *.zst) command -v zstd >/dev/null || { echo "run.sh: needs the zstd CLI" >&2; exit 2; } ;; esac
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Every pid this run starts (server, writer processes, the driver) goes to $WORK/pids; the
# trap stops exactly those (SIGTERM, then SIGKILL after 10 s) and removes the temp dir.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-mixed.XXXXXX")
: >"$WORK/pids"
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  while read -r pid; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
  done < <(tac "$WORK/pids")
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "run.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== building Strata (release) in $REPO" >&2
(cd "$REPO" && cargo build --release -p strata) >&2
TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
STRATA_BIN="$TARGET_DIR/release/strata"
[ -x "$STRATA_BIN" ] || { echo "run.sh: no strata binary at $STRATA_BIN" >&2; exit 1; }

# The driver runs in the background so that Ctrl-C reaches the trap promptly.
python3 "$HERE/mixed.py" --data "$DATA" --strata "$STRATA_BIN" --work "$WORK" --out "$OUT" \
  --repo "$REPO" --phase-seconds "$SECONDS_PER_PHASE" --cmdline "$CMDLINE" &
PY_PID=$!
echo "$PY_PID" >>"$WORK/pids"
wait "$PY_PID"
