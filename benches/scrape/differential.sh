#!/usr/bin/env bash
# Prometheus 2.42 and Strata scrape the same node_exporter (and each other's peer: both
# also scrape node_exporter only, same config) for DURATION seconds, then the series sets
# and the up/scrape_* series are compared. Values of fast-changing series differ; label
# sets and counts must not. Not part of `cargo test` (it runs for minutes).
#
#   benches/scrape/differential.sh [DURATION_S=120] [STRATA_BIN=target/release/strata]
set -euo pipefail
DURATION=${1:-120}
STRATA=${2:-target/release/strata}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NODE=$(port); PROM=$(port); ST=$(port)
prometheus-node-exporter --web.listen-address=127.0.0.1:$NODE >/dev/null 2>&1 &
cat > "$WORK/prometheus.yml" <<YML
global: {scrape_interval: 5s, scrape_timeout: 4s}
scrape_configs:
  - job_name: node
    static_configs: [{targets: ['127.0.0.1:$NODE'], labels: {env: diff}}]
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: 'node_scrape_collector_duration_seconds'
        action: drop
YML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address=127.0.0.1:$PROM >"$WORK/prom.log" 2>&1 &
"$STRATA" serve --data-dir "$WORK/strata" --listen 127.0.0.1:$ST --fsync never \
  --config.file "$WORK/prometheus.yml" >"$WORK/strata.log" 2>&1 &
echo "scraping node_exporter :$NODE with Prometheus :$PROM and Strata :$ST for ${DURATION}s"
sleep "$DURATION"
python3 - "$PROM" "$ST" <<'PY'
import json, sys, urllib.parse, urllib.request
prom, strata = sys.argv[1], sys.argv[2]
def q(port, path, **params):
    url = f"http://127.0.0.1:{port}{path}?" + urllib.parse.urlencode(params)
    return json.load(urllib.request.urlopen(url))["data"]
def series(port):
    out = set()
    for s in q(port, "/api/v1/series", **{"match[]": '{job="node"}', "start": "0"}):
        out.add(tuple(sorted(s.items())))
    return out
a, b = series(prom), series(strata)
print(f"series: prometheus {len(a)}, strata {len(b)}, only prometheus {len(a-b)}, only strata {len(b-a)}")
for s in sorted(a - b)[:10]: print("  only prometheus:", dict(s))
for s in sorted(b - a)[:10]: print("  only strata:", dict(s))
ok = a == b
for m in ["up", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added", "scrape_duration_seconds"]:
    pa = {tuple(sorted(r["metric"].items())): r["value"][1] for r in q(prom, "/api/v1/query", query=m)["result"]}
    pb = {tuple(sorted(r["metric"].items())): r["value"][1] for r in q(strata, "/api/v1/query", query=m)["result"]}
    same_labels = set(pa) == set(pb)
    print(f"{m}: labels {'same' if same_labels else 'DIFFER'}; prometheus {list(pa.values())} strata {list(pb.values())}")
    ok &= same_labels
    if m in ("up", "scrape_samples_post_metric_relabeling") and same_labels:
        # Counts of a stable page agree exactly (node_exporter's page size is stable).
        ok &= all(abs(float(pa[k]) - float(pb[k])) <= 2 for k in pa)
print("RESULT:", "same" if ok else "DIFFERENT")
sys.exit(0 if ok else 1)
PY
