#!/usr/bin/env bash
# Offline scaling with cores: `strata import` and `strata compact --to-cold` of one data
# file, pinned with taskset to each given core list in turn, with as many threads as cores.
#
# usage: benches/scale/cores_offline.sh [-r RUNS] [-d DATA] [-b BIN] [-w WORKDIR] CORES...
#   CORES     taskset core lists, e.g. `0 0,1` (2-core machine) or `0-1 0-3 0-7`
#   -r RUNS   runs per measure and core list (default 3); the median is reported
#   -d DATA   line-protocol file (default /work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst,
#             or ../shared/data/ beside the repository)
#   -b BIN    strata binary (default target/release/strata; build with
#             `cargo build --release -p strata`)
#   -w DIR    scratch directory (default a new one under /tmp; removed at the end)
#
# Import: `strata import -d D --fsync never --threads N DATA` into an empty directory
# (decompression, parsing, WAL, hot tier, rotation to warm at close).
# Compaction: a copy of one imported directory (warm segments), then
# `strata compact -d D --to-cold --force --compaction-threads N` (merge, encode, zstd).
# Times are wall-clock seconds of the whole command (open, work, close), from bash's clock.
# Prints a Markdown table; the ratio column is against the first core list.
set -euo pipefail

RUNS=3
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DATA=/work/shared/data/tsbs_cpu_only_scale100_1d.lp.zst
[ -f "$DATA" ] || DATA="$REPO/../shared/data/tsbs_cpu_only_scale100_1d.lp.zst"
BIN="$REPO/target/release/strata"
WORK=""
while getopts "r:d:b:w:" opt; do
  case $opt in
    r) RUNS=$OPTARG ;;
    d) DATA=$OPTARG ;;
    b) BIN=$OPTARG ;;
    w) WORK=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,20p' "$0"; exit 2; }
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 2; }
[ -f "$DATA" ] || { echo "no data file at $DATA" >&2; exit 2; }
if [ -z "$WORK" ]; then WORK=$(mktemp -d /tmp/cores_offline.XXXXXX); fi
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

# Number of CPUs in a taskset list such as 0,2-5.
count_cpus() {
  local n=0 part
  IFS=',' read -ra parts <<< "$1"
  for part in "${parts[@]}"; do
    if [[ $part == *-* ]]; then n=$((n + ${part#*-} - ${part%-*} + 1)); else n=$((n + 1)); fi
  done
  echo "$n"
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "binary: $BIN; data: $DATA; runs: $RUNS" >&2

# One imported directory (warm segments) to copy for every compaction run.
"$BIN" import -d "$WORK/base" --fsync never "$DATA" 2>/dev/null || true
[ -d "$WORK/base/segments" ] || { echo "import of $DATA failed" >&2; exit 1; }

# Runs alternate between the core lists (run 1 of each, then run 2 of each, ...), so that a
# change in the machine's load during the measurement hits every list alike.
declare -A IMPORTS COMPACTS
for r in $(seq "$RUNS"); do
  for cores in "$@"; do
    threads=$(count_cpus "$cores")
    rm -rf "$WORK/imp"
    t0=$(now)
    taskset -c "$cores" "$BIN" import -d "$WORK/imp" --fsync never --threads "$threads" "$DATA" 2>"$WORK/import.err" || { echo "import failed:" >&2; tail -3 "$WORK/import.err" >&2; exit 1; }
    t1=$(now)
    ti=$(echo "$t1 - $t0" | bc -l)
    rm -rf "$WORK/imp" "$WORK/cmp"
    cp -a "$WORK/base" "$WORK/cmp"
    t0=$(now)
    taskset -c "$cores" "$BIN" compact -d "$WORK/cmp" --to-cold --force --compaction-threads "$threads" 2>"$WORK/compact.err" || { echo "compact failed:" >&2; tail -3 "$WORK/compact.err" >&2; exit 1; }
    t1=$(now)
    tc=$(echo "$t1 - $t0" | bc -l)
    IMPORTS[$cores]="${IMPORTS[$cores]:-} $ti"
    COMPACTS[$cores]="${COMPACTS[$cores]:-} $tc"
    printf 'run %s, cores %s: import %.2f s, compact %.2f s (%s); load %s\n' "$r" "$cores" "$ti" "$tc" \
      "$(grep -o 'in [0-9.]* s$' "$WORK/compact.err" | head -1)" "$(cut -d' ' -f1 /proc/loadavg)" >&2
  done
done

fmt_runs() { for x in $1; do printf '%.2f ' "$x"; done | sed 's/ $//'; }
declare -a ROWS
first_import="" first_compact=""
for cores in "$@"; do
  threads=$(count_cpus "$cores")
  mi=$(printf '%s\n' ${IMPORTS[$cores]} | median)
  mc=$(printf '%s\n' ${COMPACTS[$cores]} | median)
  [ -n "$first_import" ] || { first_import=$mi; first_compact=$mc; }
  ROWS+=("| $cores | $threads | $(printf '%.2f' "$mi") ($(fmt_runs "${IMPORTS[$cores]}")) | $(printf '%.2f' "$(echo "$first_import / $mi" | bc -l)")× | $(printf '%.2f' "$mc") ($(fmt_runs "${COMPACTS[$cores]}")) | $(printf '%.2f' "$(echo "$first_compact / $mc" | bc -l)")× |")
done

echo "| cores (taskset) | threads | import median s (runs) | import speed-up | compact --to-cold median s (runs) | compact speed-up |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
