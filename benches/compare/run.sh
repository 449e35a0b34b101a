#!/usr/bin/env bash
# Side-by-side comparison: Strata vs InfluxDB 1.x, VictoriaMetrics and DuckDB, in one run,
# on this machine, over loopback only.
#
# Usage: benches/compare/run.sh --data FILE [--quick] [--out DIR]
#   --data FILE   Influx line protocol (plain or .zst), e.g. /work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst
#   --quick       fewer repetitions, capped InfluxDB compaction wait (use the 6-hour file; < 10 min)
#   --out DIR     where results-<UTC date>.md goes (default benches/compare/results/)
# Env: PEERS_DIR (default /work/shared/peers), STRATA_URL (a running Strata HTTP server to load
#      over HTTP as one more peer, once Strata has a server), KEEP_TMP=1 (keep the temp dir).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
CMDLINE="benches/compare/run.sh $*"

usage() { sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
DATA="" QUICK="" OUT="$HERE/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?--data needs a file}; shift 2 ;;
    --quick) QUICK=--quick; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$DATA" ] || { echo "run.sh: --data FILE is required" >&2; usage >&2; exit 2; }
[ -r "$DATA" ] || { echo "run.sh: cannot read $DATA" >&2; exit 2; }
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")

# Every pid started by this run (by us or by compare.py) is appended to $WORK/pids; the trap
# stops exactly those, then removes the temp dir.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-compare.XXXXXX")
: >"$WORK/pids"
PY_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
    kill -TERM "$PY_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$PY_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  local pid
  while read -r pid; do
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
  done <"$WORK/pids"
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "run.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== installing peers ($PEERS_DIR/install.sh)" >&2
bash "$PEERS_DIR/install.sh" >&2

echo "== building Strata (release) in $REPO" >&2
(cd "$REPO" && cargo build --release -p strata) >&2
TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
STRATA_BIN="$TARGET_DIR/release/strata"
[ -x "$STRATA_BIN" ] || { echo "run.sh: no strata binary at $STRATA_BIN" >&2; exit 1; }

# Run the driver in the background and wait, so that Ctrl-C reaches the trap promptly.
python3 "$HERE/compare.py" --data "$DATA" $QUICK --out "$OUT" --work "$WORK" \
  --peers-dir "$PEERS_DIR" --strata "$STRATA_BIN" --repo "$REPO" --cmdline "$CMDLINE" &
PY_PID=$!
echo "$PY_PID" >>"$WORK/pids"
wait "$PY_PID"
