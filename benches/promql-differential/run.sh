#!/usr/bin/env bash
# Differential test: Strata's PromQL answers against Prometheus 2.42, answer by answer, over
# loopback HTTP (/api/v1/query and /api/v1/query_range).
#
# Usage: benches/promql-differential/run.sh [--quick] [options]
#   --targets REF,CAND  reference and candidate (default prometheus,strata); e.g.
#                       prometheus,victoriametrics validates the harness against a second PromQL
#                       engine, prometheus,prometheus is a self-test (every answer must be equal)
#   --datasets LIST     cpu,devops,node (default all three; each gets its own instances)
#   --count N           queries per data set, at least (default 400; --quick: 150)
#   --seed S            seed of every generated query and of the histogram (default 1)
#   --phases LIST       Strata phases, hot,warm,cold (default all; --quick: cold)
#   --quick             the 6 h cpu file instead of the 1-day one, fewer queries, cold phase only
#   --out DIR           where diff-<UTC date>[-quick][-CAND].md goes (default benches/promql-differential/results/)
# Exit status: 0 all equal (or only allow-listed differences), 1 a difference, 2 setup failure
# or candidate unavailable (e.g. Strata without the PromQL API yet).
# Env: PEERS_DIR (default /work/shared/peers), DATA_DIR (default /work/shared/data),
#      STRATA_BIN (use this binary instead of building; STRATA_SOURCE=text says in the report what
#      it was built from), STRATA_URL (a running Strata server to ask instead of importing: use
#      with one --datasets), KEEP_TMP=1 (keep the temp dir).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE" && git rev-parse --show-toplevel)
PEERS_DIR=${PEERS_DIR:-/work/shared/peers}
DATA_DIR=${DATA_DIR:-/work/shared/data}
CMDLINE="benches/promql-differential/run.sh $*"

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
TARGETS=prometheus,strata DATASETS=cpu,devops,node COUNT="" SEED=1 PHASES="" QUICK="" OUT="$HERE/results"
while [ $# -gt 0 ]; do
  case "$1" in
    --targets) TARGETS=${2:?}; shift 2 ;;
    --datasets) DATASETS=${2:?}; shift 2 ;;
    --count) COUNT=${2:?}; shift 2 ;;
    --seed) SEED=${2:?}; shift 2 ;;
    --phases) PHASES=${2:?}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    --out) OUT=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [ -n "$QUICK" ]; then COUNT=${COUNT:-150}; PHASES=${PHASES:-cold}; fi
COUNT=${COUNT:-400}; PHASES=${PHASES:-hot,warm,cold}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/strata-promql-diff.XXXXXX")
: >"$WORK/pids"
PY_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$PY_PID" ] && kill -0 "$PY_PID" 2>/dev/null; then
    kill -TERM "$PY_PID" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$PY_PID" 2>/dev/null || break; sleep 0.1; done
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

for bin in prometheus promtool victoria-metrics zstd; do
  if ! command -v "$bin" >/dev/null; then
    echo "== installing peers ($PEERS_DIR/install.sh)" >&2
    bash "$PEERS_DIR/install.sh" >&2
    break
  fi
done

STRATA_BIN=${STRATA_BIN:-}
case ",$TARGETS," in
  *,strata,*)
    if [ -z "$STRATA_BIN" ] && [ -z "${STRATA_URL:-}" ]; then
      echo "== building Strata (release) in $REPO" >&2
      (cd "$REPO" && cargo build --release -p strata) >&2
      TARGET_DIR=${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}
      STRATA_BIN="$TARGET_DIR/release/strata"
    fi ;;
esac

python3 "$HERE/diff.py" --targets "$TARGETS" --datasets "$DATASETS" --count "$COUNT" --seed "$SEED" \
  --phases "$PHASES" ${QUICK:+--quick} --out "$OUT" --work "$WORK" --peers-dir "$PEERS_DIR" \
  --data-dir "$DATA_DIR" --strata "${STRATA_BIN:-none}" --repo "$REPO" --cmdline "$CMDLINE" &
PY_PID=$!
echo "$PY_PID" >>"$WORK/pids"
wait "$PY_PID"
