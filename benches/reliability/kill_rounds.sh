#!/usr/bin/env bash
# Issue 21's crash figure: the kill -9 harness of cli/tests/kill.rs at scale. `strata
# serve` (fsync always, rotation and hot max age 1 s, so rotations and compactions run
# between the kills) is SIGKILLed at a random moment of every round while 3 clients write
# uniquely numbered 100-line batches and a fourth writes batches and deletes a third of
# them again; it restarts on the same directory ROUNDS times, then every acknowledged
# line is read back over /query, acknowledged deletes must have held, SIGTERM must stop it
# and `strata verify` must pass. Prints the test's figures (rounds, batches and lines
# acknowledged, deletes, lost, deleted-but-present, duplicates, torn).
#
# usage: benches/reliability/kill_rounds.sh [ROUNDS [PAUSE_MS]]
#   ROUNDS    default 1000 (cargo test runs 22)
#   PAUSE_MS  pause between one client's batches, default 5, so that the directory grows
#             in proportion to the rounds (0: as fast as the clients can)
# Output also goes to benches/reliability/results/kill-rounds-DATE.txt.
set -euo pipefail
ROUNDS=${1:-1000}
PAUSE=${2:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
mkdir -p "$HERE/results"
OUT="$HERE/results/kill-rounds-$(date -u +%Y-%m-%d).txt"
cd "$REPO"
{
  echo "# kill_rounds.sh $ROUNDS $PAUSE — $(date -u +%FT%TZ), $(nproc) cores, commit $(git rev-parse --short HEAD)"
  STRATA_KILL_ROUNDS=$ROUNDS STRATA_KILL_PAUSE_MS=$PAUSE \
    cargo test -q -p strata --test kill acknowledged_writes_and_deletes_survive_sigkill -- --nocapture 2>&1
} | tee "$OUT"
