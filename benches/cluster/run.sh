#!/usr/bin/env bash
# Cluster overhead on loopback (issue 17): one real etcd, three `strata serve` members with
# one third of a TSBS cpu-only file each, and one single node with all of it; the same
# questions (InfluxQL and PromQL, `sum by node`, `mean`, grouped by host and time) to the
# cluster and to the single node; latency medians, their ratio, bytes moved per query.
#
# Usage: benches/cluster/run.sh [--quick] [--data FILE] [--reps N] [--strata BIN] [--out DIR]
#   --data FILE   TSBS cpu-only line protocol, plain or .zst
#                 (default /work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst)
#   --quick       the 6-hour file and 3 runs, to check that everything works
#   --reps N      timed runs per question and side (default 7)
#   --strata BIN  use this binary instead of building `cargo build --release -p strata`
#   --out DIR     where cluster-overhead-<UTC date>.md goes (default benches/cluster/results/)
#   --fanout LIST also time a few questions with this many members asked (e.g. 10,30,100;
#                 default 10,30,100, none with --quick): extra etcd entries point at a, b, c
# Needs etcd on PATH (../shared/peers/install.sh --all) and the zstd CLI for .zst files.
# Env: KEEP_TMP=1 keeps the temp dir (logs), CARGO_TARGET_DIR as cargo reads it.
# Exit status 1 if a cluster answer differs from the single node's.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
CMDLINE="benches/cluster/run.sh $*"
DATA_DIR=/work/shared/data

usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
DATA="" QUICK="" REPS="" STRATA_BIN="" OUT="$HERE/results" FANOUT=""
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?--data needs a file}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --reps) REPS=${2:?--reps needs a number}; shift 2 ;;
    --strata) STRATA_BIN=${2:?--strata needs a binary}; shift 2 ;;
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --fanout) FANOUT=${2:?--fanout needs a list}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$QUICK" ]; then
  DATA=${DATA:-$DATA_DIR/tsbs_cpu_only_scale100_6h.lp.zst}
  REPS=${REPS:-3}
else
  DATA=${DATA:-$DATA_DIR/tsbs_cpu_only_scale100_1d.lp.zst}
  REPS=${REPS:-7}
  FANOUT=${FANOUT:-10,30,100}
fi
command -v etcd >/dev/null || { echo "run.sh: needs etcd (../shared/peers/install.sh --all)" >&2; exit 2; }
[ -r "$DATA" ] || { echo "run.sh: cannot read $DATA" >&2; exit 2; }
case "$DATA" in *.zst) command -v zstd >/dev/null || { echo "run.sh: needs the zstd CLI" >&2; exit 2; } ;; esac
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# Every pid this run starts goes to $WORK/pids; the trap stops exactly those.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-cluster.XXXXXX")
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

if [ -z "$STRATA_BIN" ]; then
  echo "== building Strata (release) in $REPO" >&2
  (cd "$REPO" && cargo build --release -p strata) >&2
  TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
  STRATA_BIN="$TARGET_DIR/release/strata"
fi
[ -x "$STRATA_BIN" ] || { echo "run.sh: no strata binary at $STRATA_BIN" >&2; exit 1; }
COMMIT=$(cd "$REPO" && git rev-parse --short HEAD)

python3 "$HERE/cluster.py" --data "$DATA" --strata "$STRATA_BIN" --work "$WORK" --out "$OUT" \
  --reps "$REPS" --fanout "$FANOUT" --cmdline "$CMDLINE" --commit "$COMMIT" &
PY_PID=$!
echo "$PY_PID" >>"$WORK/pids"
wait "$PY_PID"
