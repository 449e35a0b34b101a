#!/usr/bin/env bash
# Prometheus-shaped ingest (line protocol, remote write, text format) and disk: Strata beside
# VictoriaMetrics and Prometheus 2.42, in one run, over loopback (benches/compare/prom_ingest.py).
#
# Usage: benches/compare/prom_ingest.sh [--quick] [--hosts N] [--minutes M] [--reps R] [--out DIR]
#                                       [--sets node,nodeN] [--formats lp,remote-write,text]
#                                       [--no-prometheus] [--no-disk] [--node FILE]
#                                       [--strata-fsync always|never|interval:D]
#   --quick      one repetition, no Prometheus (about 3 minutes)
#   --hosts N    synthetic hosts of the larger set (default 100); --minutes M its length (default 2)
#   --reps R     repetitions per load, median reported (default 3)
#   --out DIR    where prom-ingest-<UTC date-time>.md goes (default benches/compare/results/)
#   --node FILE  the real node_exporter data (default /work/shared/data/node_exporter_15m.lp.zst)
#   --strata-fsync P  Strata's WAL fsync policy (default always, as the goals ask; never
#                shows what waiting for the fsync costs)
# Env: PEERS_DIR (default /work/shared/peers), KEEP_TMP=1 (keep the temp dir),
#      STRATA_BIN / PROMGEN_BIN (use these binaries instead of `cargo build --release`).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
CMDLINE="benches/compare/prom_ingest.sh $*"
OUT="$HERE/results" NODE=/work/shared/data/node_exporter_15m.lp.zst
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) EXTRA+=(--reps 1 --no-prometheus); shift ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --node) NODE=${2:?--node needs a file}; shift 2 ;;
    --hosts|--minutes|--reps|--sets|--formats|--strata-fsync) EXTRA+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    --no-prometheus|--no-disk) EXTRA+=("$1"); shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "prom_ingest.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -r "$NODE" ] || { echo "prom_ingest.sh: cannot read $NODE" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-prom-ingest.XXXXXX")
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
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "prom_ingest.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== installing peers ($PEERS_DIR/install.sh)" >&2
bash "$PEERS_DIR/install.sh" >&2
if [ -z "${STRATA_BIN:-}" ] || [ -z "${PROMGEN_BIN:-}" ]; then
  echo "== building Strata and promgen (release) in $REPO" >&2
  (cd "$REPO" && cargo build --release -p strata -p strata-benches --bin strata --bin promgen) >&2
  TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
  STRATA_BIN=${STRATA_BIN:-$TARGET_DIR/release/strata}
  PROMGEN_BIN=${PROMGEN_BIN:-$TARGET_DIR/release/promgen}
fi
python3 "$HERE/prom_ingest.py" --node "$NODE" --out "$OUT" --work "$WORK" --strata "$STRATA_BIN" \
  --promgen "$PROMGEN_BIN" --repo "$REPO" --cmdline "$CMDLINE" --peers-dir "$PEERS_DIR" "${EXTRA[@]}" &
PY_PID=$!
echo "$PY_PID" >>"$WORK/pids"
wait "$PY_PID"
