#!/usr/bin/env bash
# Differential test: Strata's InfluxQL answers against InfluxDB 1.x, value by value.
#
# Usage: benches/differential/run.sh --data FILE [--random N] [--seed S] [--quick] [options]
#   --data FILE      line protocol (.lp, .lp.zst), e.g. /work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst
#   --random N       random queries besides the TSBS types (default 300; --quick: 120)
#   --seed S         seed of every generated query (default 1)
#   --quick          the 6 h file by default, 2 TSBS instances per type, 120 random queries
#   --per-type N     TSBS instances per query type (default 5)
#   --phases LIST    hot,warm,cold (default all three): query Strata after import with the data
#                    kept hot, after `strata compact --force`, after `compact --to-cold --force`
#   --fake-strata    self-test of the harness: InfluxDB answers in Strata's place
#   --out DIR        where diff-<UTC date>.md goes (default benches/differential/results/)
# Exit status: 0 equal (or only allow-listed differences), 1 a difference, 2 setup failure.
# Env: PEERS_DIR (default /work/shared/peers), CARGO_TARGET_DIR, KEEP_TMP=1 (keep the temp dir),
#      STRATA_BIN (use this binary instead of building).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
CMDLINE="benches/differential/run.sh $*"

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
DATA="" RANDOM_N="" SEED=1 QUICK="" PER_TYPE="" PHASES="hot,warm,cold" FAKE="" OUT="$HERE/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA=${2:?--data needs a file}; shift 2 ;;
    --random) RANDOM_N=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --per-type) PER_TYPE=${2:?}; shift 2 ;;
    --phases) PHASES=${2:?}; shift 2 ;;
    --fake-strata) FAKE=--fake-strata; shift ;;
    --out) OUT=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$QUICK" ]; then
  DATA=${DATA:-/work/shared/data/tsbs_cpu_only_scale100_6h.lp.zst}
  RANDOM_N=${RANDOM_N:-120}; PER_TYPE=${PER_TYPE:-2}
fi
RANDOM_N=${RANDOM_N:-300}; PER_TYPE=${PER_TYPE:-5}
[ -n "$DATA" ] || { echo "run.sh: --data FILE is required" >&2; usage >&2; exit 2; }
[ -r "$DATA" ] || { echo "run.sh: cannot read $DATA" >&2; exit 2; }
DATA=$(cd "$(dirname "$DATA")" && pwd)/$(basename "$DATA")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-diff.XXXXXX")
: >"$WORK/pids"
PY_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
    kill -TERM "$PY_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PY_PID" 2>/dev/null || break; sleep 0.1; done
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

if ! command -v influxd >/dev/null || ! command -v zstd >/dev/null || ! command -v curl >/dev/null; then
  echo "== installing peers ($PEERS_DIR/install.sh)" >&2
  bash "$PEERS_DIR/install.sh" >&2
fi

STRATA_BIN=${STRATA_BIN:-}
if [ -z "$FAKE" ] && [ -z "$STRATA_BIN" ]; then
  echo "== building Strata (release) in $REPO" >&2
  (cd "$REPO" && cargo build --release -p strata) >&2
  TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
  STRATA_BIN="$TARGET_DIR/release/strata"
  [ -x "$STRATA_BIN" ] || { echo "run.sh: no strata binary at $STRATA_BIN" >&2; exit 2; }
fi

python3 "$HERE/diff.py" --data "$DATA" --random "$RANDOM_N" --seed "$SEED" --per-type "$PER_TYPE" \
  --phases "$PHASES" ${QUICK:+--quick} $FAKE --out "$OUT" --work "$WORK" --peers-dir "$PEERS_DIR" \
  --strata "${STRATA_BIN:-none}" --repo "$REPO" --cmdline "$CMDLINE" &
PY_PID=$!
echo "$PY_PID" >>"$WORK/pids"
wait "$PY_PID"
