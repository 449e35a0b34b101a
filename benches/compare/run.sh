#!/usr/bin/env bash
# Side-by-side comparison: Strata vs InfluxDB 1.x, VictoriaMetrics and DuckDB, in one run,
# on this machine, over loopback only.
#
# Usage: benches/compare/run.sh --data FILE [--quick] [--out DIR] [--promql | --promql-only] [--node FILE]
#   --data FILE    Influx line protocol (plain or .zst), e.g. /work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst
#   --quick        fewer repetitions, capped InfluxDB compaction wait (use the 6-hour file; < 10 min)
#   --out DIR      where results-<UTC date>.md (and promql-<UTC date>[-quick].md) go (default benches/compare/results/)
#   --promql       after the main comparison, the PromQL latency section (promql.py): Strata vs
#                  VictoriaMetrics vs Prometheus 2.42 on --data (TSBS cpu-only) + --node
#   --promql-only  only the PromQL section (--data defaults to the 1-day file, the 6-hour one with --quick)
#   --node FILE    node_exporter data for the PromQL dashboards (default /work/shared/data/node_exporter_15m.lp.zst)
# Env: PEERS_DIR (default /work/shared/peers), STRATA_URL (a running Strata HTTP server to load
#      over HTTP as one more peer, once Strata has a server), KEEP_TMP=1 (keep the temp dir),
#      STRATA_BIN (use this strata binary instead of `cargo build --release -p strata`;
#      STRATA_SOURCE=text says in the PromQL report what it was built from),
#      QUERY_CLIENT_BIN (the PromQL section's lean client, benches/src/bin/query_latency.rs;
#      built with `cargo build --release -p strata-benches --bin query_latency` when unset;
#      QUERY_CLIENT_BIN=none leaves its table out).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
CMDLINE="benches/compare/run.sh $*"

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
DATA="" QUICK="" OUT="$HERE/results" PROMQL="" MAIN=1 NODE=/work/shared/data/node_exporter_15m.lp.zst
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?--data needs a file}; shift 2 ;;
    --quick) QUICK=--quick; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --promql) PROMQL=1; shift ;;
    --promql-only) PROMQL=1; MAIN=""; shift ;;
    --node) NODE=${2:?--node needs a file}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -z "$MAIN" ] && [ -z "$DATA" ]; then
  DATA=/work/shared/data/tsbs_cpu_only_scale100_$([ -n "$QUICK" ] && echo 6h || echo 1d).lp.zst
fi
[ -n "$DATA" ] || { echo "run.sh: --data FILE is required" >&2; usage >&2; exit 2; }
[ -r "$DATA" ] || { echo "run.sh: cannot read $DATA" >&2; exit 2; }
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")

# Every pid started by this run (by us or by compare.py; promql.py: $WORK/promql/pids) is appended to $WORK/pids; the trap
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
  done < <(cat "$WORK/pids" "$WORK/promql/pids" 2>/dev/null)
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "run.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== installing peers ($PEERS_DIR/install.sh)" >&2
bash "$PEERS_DIR/install.sh" >&2

if [ -z "${STRATA_BIN:-}" ]; then
  echo "== building Strata (release) in $REPO" >&2
  (cd "$REPO" && cargo build --release -p strata) >&2
  TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
  STRATA_BIN="$TARGET_DIR/release/strata"
fi
if [ ! -x "$STRATA_BIN" ]; then
  # The main comparison needs Strata; the PromQL section reports its Strata column as n/a.
  [ -z "$MAIN" ] || { echo "run.sh: no strata binary at $STRATA_BIN" >&2; exit 1; }
  echo "run.sh: no strata binary at $STRATA_BIN: the PromQL section's Strata column will be n/a" >&2
fi

# Run the drivers in the background and wait, so that Ctrl-C reaches the trap promptly.
if [ -n "$MAIN" ]; then
  python3 "$HERE/compare.py" --data "$DATA" $QUICK --out "$OUT" --work "$WORK" \
    --peers-dir "$PEERS_DIR" --strata "$STRATA_BIN" --repo "$REPO" --cmdline "$CMDLINE" &
  PY_PID=$!
  echo "$PY_PID" >>"$WORK/pids"
  wait "$PY_PID"
fi
if [ -n "$PROMQL" ]; then
  [ -r "$NODE" ] || { echo "run.sh: cannot read $NODE" >&2; exit 2; }
  if [ -z "${QUERY_CLIENT_BIN:-}" ]; then
    echo "== building the lean query client (query_latency) in $REPO" >&2
    (cd "$REPO" && cargo build --release -p strata-benches --bin query_latency) >&2
    TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
    QUERY_CLIENT_BIN="$TARGET_DIR/release/query_latency"
  fi
  mkdir -p "$WORK/promql"
  : >"$WORK/promql/pids"
  python3 "$HERE/promql.py" --tsbs "$DATA" --node "$NODE" $QUICK --out "$OUT" --work "$WORK/promql" \
    --peers-dir "$PEERS_DIR" --strata "$STRATA_BIN" --client "$QUERY_CLIENT_BIN" --repo "$REPO" --cmdline "$CMDLINE" &
  PY_PID=$!
  echo "$PY_PID" >>"$WORK/pids"
  wait "$PY_PID"
fi
