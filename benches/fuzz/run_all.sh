#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each, one after the other, and prints
# per target: wall and CPU seconds, executions, corpus size and findings (crash-, leak-,
# timeout- and oom- files libFuzzer wrote this run).
#
#   benches/fuzz/run_all.sh SECONDS [TARGET ...]      # default: every target
#
# Needs a nightly toolchain and cargo-fuzz:
#   rustup toolchain install nightly && cargo install cargo-fuzz
# Without them it says so and exits 2 (the same properties run on seeds and mutations in
# `cargo test`: strata_engine / strata_query / strata_server `fuzzing` stand-ins).
#
# The corpus grows in fuzz/corpus/TARGET (seeded from fuzz/seeds/TARGET when present);
# findings land in fuzz/artifacts/TARGET. Env: FUZZ_RSS_MB (default 2048) for
# libFuzzer's -rss_limit_mb. One libFuzzer process per target, so the CPU
# seconds are one core's. Exit status: 0 no findings, 1 findings, 2 cannot run.
set -euo pipefail

secs="${1:-}"
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -lt 1 ]; then
  echo "usage: $0 SECONDS [TARGET ...]" >&2
  exit 2
fi
shift
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root/fuzz"

fuzz=""
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  fuzz="cargo +nightly fuzz"
elif cargo fuzz --version >/dev/null 2>&1; then
  fuzz="cargo fuzz"
fi
if [ -z "$fuzz" ]; then
  cat >&2 <<'MSG'
run_all.sh: cargo-fuzz is not installed (or no nightly toolchain): nothing fuzzed.
  Install: rustup toolchain install nightly && cargo install cargo-fuzz
  Meanwhile the same properties run on seeds and mutations in cargo test:
    cargo test -p strata-engine fuzzing; cargo test -p strata-query fuzzing;
    cargo test -p strata-server --test fuzz_standin
MSG
  exit 2
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <($fuzz list)
fi
echo "building ${#targets[@]} targets (release, debug assertions, sanitizer: address)" >&2
for t in "${targets[@]}"; do
  $fuzz build -O "$t" >&2
done
triple="$(rustc +nightly -vV 2>/dev/null | sed -n 's/^host: //p')"
[ -n "$triple" ] || triple="$(rustc -vV | sed -n 's/^host: //p')"
bindir="$root/fuzz/target/$triple/release"

rss="${FUZZ_RSS_MB:-2048}"
status=0
printf '%-16s %8s %8s %12s %8s %9s\n' target wall_s cpu_s execs corpus findings
for t in "${targets[@]}"; do
  corpus="$root/fuzz/corpus/$t"
  artifacts="$root/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus")
  [ -d "$root/fuzz/seeds/$t" ] && dirs+=("$root/fuzz/seeds/$t")
  before="$(find "$artifacts" -type f | wc -l)"
  log="$(mktemp)"
  timing="$(mktemp)"
  set +e
  /usr/bin/time -f '%e %U %S' -o "$timing" \
    "$bindir/$t" "${dirs[@]}" -max_total_time="$secs" -rss_limit_mb="$rss" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  read -r wall user sys <"$timing" || true
  cpu="$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.1f", u + s }')"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  after="$(find "$artifacts" -type f | wc -l)"
  found=$((after - before))
  size="$(find "$corpus" -type f | wc -l)"
  printf '%-16s %8s %8s %12s %8s %9s\n' "$t" "${wall:-?}" "$cpu" "${execs:-?}" "$size" "$found"
  if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    echo "  $t: exit $rc; log: $log; artifacts: $artifacts" >&2
    grep -m5 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | sed 's/^/  /' >&2 || true
  else
    rm -f "$log"
  fi
  rm -f "$timing"
done
exit "$status"
