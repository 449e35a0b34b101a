#!/usr/bin/env bash
# PromQL query latency only: Strata vs VictoriaMetrics vs Prometheus 2.42 (benches/compare/promql.py).
# Usage: benches/compare/promql.sh [--data TSBS_FILE] [--node NODE_FILE] [--quick] [--out DIR]
# Same as `benches/compare/run.sh --promql-only ...` (see run.sh for the environment).
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/run.sh" --promql-only "$@"
