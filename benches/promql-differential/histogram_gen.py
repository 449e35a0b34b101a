#!/usr/bin/env python3
"""A deterministic Prometheus histogram, as Influx line protocol, for histogram_quantile().

The node_exporter data has no `_bucket` metric, so the PromQL harnesses add this one over the
same 15 minutes: `strata_demo_request_duration_seconds_{bucket,sum,count}` with 11 `le`
buckets (0.005 … 10, +Inf) for 4 label sets (instance a/b × handler /api/v1/query,
/api/v1/write), one sample every 15 s (--interval). Counts are cumulative counters; the
series instance="b",handler="/api/v1/write" restarts (counter reset to 0) two thirds of the
way through, so rate()/increase()/resets() see a reset.

Measurement = metric name, field `value`, tags = labels: exactly what lp_to_openmetrics.py
turns into the same metric for Prometheus, and what Strata maps to the same PromQL metric.

Usage: histogram_gen.py --start UNIX_S --end UNIX_S [--interval 15] [--seed 1] OUT.lp
       histogram_gen.py --span-of node_exporter_15m.lp.zst OUT.lp   (start/end of that file)
"""
import argparse
import math
import random
import subprocess

METRIC = "strata_demo_request_duration_seconds"
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]  # + "+Inf"
LABELSETS = [("a", "/api/v1/query"), ("a", "/api/v1/write"), ("b", "/api/v1/query"), ("b", "/api/v1/write")]


def le_str(b):
    return "+Inf" if b == math.inf else f"{b:g}"  # as Go clients print it: 0.005, 1, 10


def generate(start_s, end_s, interval_s=15, seed=1):
    """Lines of line protocol (without newlines), in time order, timestamps in ns.
    start_s/end_s: unix seconds (floats allowed); the first sample is at ceil(start_s)."""
    rng = random.Random(seed)
    t0 = math.ceil(start_s)
    n_steps = int((end_s - t0) // interval_s) + 1
    reset_at = (2 * n_steps) // 3
    state = {ls: {"buckets": [0] * (len(BUCKETS) + 1), "sum": 0.0, "count": 0} for ls in LABELSETS}
    # per label set: request rate and a log-normal latency (median, sigma)
    shape = {("a", "/api/v1/query"): (40, 0.030, 1.0), ("a", "/api/v1/write"): (120, 0.004, 0.6),
             ("b", "/api/v1/query"): (25, 0.080, 1.3), ("b", "/api/v1/write"): (90, 0.006, 0.8)}
    out = []
    for i in range(n_steps):
        ts_ns = (t0 + i * interval_s) * 1_000_000_000
        for ls in LABELSETS:
            st = state[ls]
            if ls == ("b", "/api/v1/write") and i == reset_at:
                st["buckets"] = [0] * (len(BUCKETS) + 1)
                st["sum"], st["count"] = 0.0, 0
            per_s, median, sigma = shape[ls]
            n = max(0, int(rng.gauss(per_s * interval_s, math.sqrt(per_s * interval_s))))
            for _ in range(n):
                x = median * math.exp(rng.gauss(0.0, sigma))
                st["sum"] += x
                st["count"] += 1
                for j, b in enumerate(BUCKETS):
                    if x <= b:
                        st["buckets"][j] += 1
                        break
                else:
                    st["buckets"][-1] += 1
            inst, handler = ls
            tags = f"handler={handler},instance={inst},job=demo"
            cum = 0
            for j, b in enumerate(BUCKETS + [math.inf]):
                cum += st["buckets"][j]
                out.append(f"{METRIC}_bucket,{tags},le={le_str(b)} value={float(cum)!r} {ts_ns}")
            out.append(f"{METRIC}_sum,{tags} value={round(st['sum'], 6)!r} {ts_ns}")
            out.append(f"{METRIC}_count,{tags} value={float(st['count'])!r} {ts_ns}")
    return out


def lp_span(path):
    """(first, last) timestamp of a line-protocol file, in unix seconds (float)."""
    cat = ["zstd", "-dc", path] if path.endswith(".zst") else ["cat", path]
    p = subprocess.Popen(cat, stdout=subprocess.PIPE)
    lo = hi = None
    for line in p.stdout:
        if not line.strip() or line.startswith(b"#"):
            continue
        ts = int(line.rsplit(b" ", 1)[1])
        lo = ts if lo is None or ts < lo else lo
        hi = ts if hi is None or ts > hi else hi
    p.wait()
    return lo / 1e9, hi / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--start", type=float)
    ap.add_argument("--end", type=float)
    ap.add_argument("--span-of", help="take --start/--end from this line-protocol file")
    ap.add_argument("--interval", type=int, default=15)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.span_of:
        a.start, a.end = lp_span(a.span_of)
    if a.start is None or a.end is None:
        ap.error("--start and --end (or --span-of) are required")
    lines = generate(a.start, a.end, a.interval, a.seed)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(lines)} lines -> {a.out}")


if __name__ == "__main__":
    main()
