#!/usr/bin/env python3
"""PromQL query latency: Strata beside VictoriaMetrics and Prometheus 2.42, in one run, over
loopback HTTP (`GET /api/v1/query_range` on one keep-alive connection per system, the same
`promql_http_fn` of compare.py for all three).

Run by `benches/compare/run.sh --promql` (after the main comparison) or `--promql-only` /
`benches/compare/promql.sh`. Stdlib only.

Data, loaded into all three systems (the loading code is shared with the PromQL differential
harness: ../promql-differential/promsystems.py):
- the TSBS cpu-only file (--tsbs; the 1-day file, or the 6-hour one with --quick);
- node_exporter_15m.lp.zst (--node) plus a generated Prometheus histogram over the same 15
  minutes (../promql-differential/histogram_gen.py: 11 `le` buckets x 4 label sets, 15 s).
Prometheus: lp_to_openmetrics.py -> promtool blocks, one TSDB directory. VictoriaMetrics: the
same OpenMetrics samples through /api/v1/import/prometheus, queried with nocache=1 (its
rollup result cache off). Strata: `strata import` of the same line-protocol files,
`strata compact --to-cold`, `strata serve`.

Query types:
- the TSBS PromQL files ../shared/peers/queries/promql/*.tsv (expr, start, end, step) as
  range queries, exactly as compare.py runs them for VictoriaMetrics;
- for the TSBS types that select several metrics with {__name__=~"cpu_(a|b|…)"} under a
  `*_over_time` and group `by (__name__)` (single-groupby-5-1-12, cpu-max-all-8,
  double-groupby-all), Prometheus refuses the TSBS text ("vector cannot contain metrics with
  the same labelset": *_over_time drops the metric name; VictoriaMetrics keeps it), so each
  also runs as "<type>/per-metric": one selector per metric, named back with
  label_replace(…, "__name__", "<metric>", "", "") and joined with `or on (__name__, <by>)`
  (a plain `or` ignores the metric name and would keep the first metric only) — the same
  question in PromQL that Prometheus answers;
- four dashboard queries over the node_exporter data, range queries over its 15 minutes at
  a 15 s step (see NODE_QUERIES).

Per type: the first query's answer from each system is compared with Prometheus's
(../promql-differential/promdiff.py) and its size shown, then one warm-up pass and passes
until the type has >= 20 x reps samples per system; the systems take turns type by type.
A system that answers a type with an error gets the error in its cell, not a latency.
"""
import argparse
import datetime as dt
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "promql-differential"))
import compare  # noqa: E402
import gen  # noqa: E402
import histogram_gen  # noqa: E402
import promdiff  # noqa: E402
import promsystems as ps  # noqa: E402

NODE_QUERIES = [
    ("node-cpu-rate", "sum by (mode) (rate(node_cpu_seconds_total[1m]))"),
    ("node-quantile-over-time", "quantile_over_time(0.99, node_scrape_collector_duration_seconds[5m])"),
    ("node-topk", "topk(5, rate(node_cpu_seconds_total[1m]))"),
    ("node-histogram-quantile",
     f"histogram_quantile(0.9, sum by (le) (rate({histogram_gen.METRIC}_bucket[1m])))"),
]

MULTI = re.compile(r"^(?P<agg>\w+)\((?P<fn>\w+)\(\{__name__=~'(?P<prefix>\w+?)\((?P<alts>[^)]*)\)'"
                   r"(?P<rest>(?:, [^}]*)?)\}\[(?P<range>\w+)\]\)\) by \((?P<by>[^)]*)\)$")


def per_metric(expr):
    """The TSBS multi-metric form rewritten with one selector per metric (None if not that form)."""
    m = MULTI.match(expr)
    if not m:
        return None
    by = ", ".join(x.strip() for x in m["by"].split(",") if x.strip() != "__name__")
    rest = m["rest"][2:] if m["rest"] else ""
    parts = []
    for alt in m["alts"].split("|"):
        name = m["prefix"] + alt
        sel = f"{name}{{{rest}}}" if rest else name
        parts.append(f'label_replace({m["agg"]}({m["fn"]}({sel}[{m["range"]}])) by ({by}), '
                     f'"__name__", "{name}", "", "")')
    # `or` matches on every label but the metric name unless told: keep each metric's series
    return f" or on ({', '.join(['__name__'] + ([by] if by else []))}) ".join(parts)


def log(msg):
    compare.log(msg)


def base(t):
    """The TSBS type a /per-metric type rewrites."""
    return t[: -len("/per-metric")] if t.endswith("/per-metric") else t


def answer_summary(mine, prom, qs, is_prom):
    """(result size over all queries of a type, agreement with Prometheus) for the report."""
    series = points = 0
    for p in mine:
        if p.get("resultType") == "matrix":
            series += len(p["result"])
            points += sum(len(x[2]) for x in p["result"])
    size = f"{series:,} series, {points:,} points"
    errors = sum(1 for p in mine if "error" in p or "unavailable" in p)
    if errors:
        size = f"{errors} error(s); " + size
    if is_prom:
        return size, ""
    same = sum(promdiff.compare(r, m, q[0]).kind in ("pass", "pass-ties", "both-error") for r, m, q in zip(prom, mine, qs))
    return size, f"{same}/{len(qs)} = Prometheus"


def proc_cpu_s(pid):
    """CPU seconds of process `pid`'s threads so far, to the nanosecond: the sum of each
    thread's time on a CPU (`/proc/PID/task/*/schedstat`; /proc/PID/stat counts 10 ms ticks,
    too coarse for queries of 100 µs). A thread that ended meanwhile is not counted."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tsbs", required=True, help="TSBS cpu-only line protocol")
    ap.add_argument("--node", default="/work/shared/data/node_exporter_15m.lp.zst")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--peers-dir", required=True)
    ap.add_argument("--strata", default="none")
    ap.add_argument("--client", default="none",
                    help="the lean HTTP client (benches/src/bin/query_latency.rs) for a second latency table")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--cmdline", required=True)
    args = ap.parse_args()

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    ctx = compare.Ctx(args)
    t_start, started = time.time(), dt.datetime.now(dt.timezone.utc)
    loadavg_start = open("/proc/loadavg").read().split()[:3]
    reps = 3 if args.quick else 10
    target = 20 * reps
    notes = []

    # ---------------- data
    hist = os.path.join(args.work, "histogram.lp")
    lo, hi = histogram_gen.lp_span(args.node)
    with open(hist, "w") as f:
        f.write("\n".join(histogram_gen.generate(lo, hi, 15, 1)) + "\n")
    datasets = [ps.Dataset("tsbs", [args.tsbs], args.work, args.peers_dir),
                ps.Dataset("node", [args.node, hist], args.work, args.peers_dir)]
    for ds in datasets:
        sc = gen.read_schema(ds.files, args.peers_dir)
        ds.series = sum(len(m.series) for m in sc.metrics.values())
        ds.span = (sc.t_min, sc.t_max)
    node_lo, node_hi = datasets[1].span

    # ---------------- queries
    tsv, order = compare.load_queries(args.peers_dir)
    types = []  # (name, [(expr, start, end, step)], note)
    for t in order:
        qs = tsv["promql"].get(t)
        if not qs:
            continue
        types.append((t, qs, ""))
        pm = [per_metric(q[0]) for q in qs]
        if all(pm):
            types.append((f"{t}/per-metric", [(p,) + tuple(q[1:]) for p, q in zip(pm, qs)], "rewritten"))
    start, end = math.ceil(node_lo / 15) * 15, math.floor(node_hi / 15) * 15
    for name, expr in NODE_QUERIES:
        types.append((name, [(expr, str(start), str(end), "15")], "node"))

    # ---------------- systems
    prom = ps.Prometheus(ctx, "promql")
    vm = ps.VictoriaMetrics(ctx, "promql", args.peers_dir)
    strata = ps.Strata(ctx, "promql", args.strata if args.strata != "none" else None)
    lat, errs, checks, all_answers, cross = {}, {}, {}, {}, {}
    lean, lean_cpu = {}, {}  # (system, type) -> latencies in ms / server CPU-s per query
    use_client = args.client != "none" and os.access(args.client, os.X_OK)
    if args.client != "none" and not use_client:
        notes.append(f"the lean client {args.client} is not an executable: its table is left out")
    strata_why = strata.missing()
    try:
        for ds in datasets:
            log(f"Prometheus: promtool blocks for {ds.name}")
            prom.load(ds)
        prom.start()
        log("VictoriaMetrics: start + import")
        vm.start()
        for ds in datasets:
            vm.load(ds)
            ds.drop_om()
        if not strata_why:
            try:
                log("Strata: import + compact --to-cold + serve")
                strata.load([f for ds in datasets for f in ds.files], hot=False)
                strata.compact("cold", hot=False)
                strata.start(hot=False)
                strata_why = strata.client().probe(int(node_lo) + 60)
            except ps.Fail as e:
                strata_why = str(e)[-800:]
        if strata_why:
            log(f"Strata: n/a — {strata_why[:300]}")
        systems = [("Prometheus", prom), ("VictoriaMetrics", vm)] + ([("Strata", strata)] if not strata_why else [])
        fns = {n: compare.promql_http_fn(s.port, n, s.extra_params) for n, s in systems}
        compare.wait_idle(ctx, "PromQL query", cap=60.0)

        for t, qs, _note in types:
            # every query of the type once from each system (this also warms it up): errors,
            # result sizes, and how many answers equal Prometheus's
            answers = {}
            for n, s in systems:
                c = s.client()
                answers[n] = []
                for q in qs:
                    a = c.request("/api/v1/query_range", {"query": q[0], "start": q[1], "end": q[2], "step": q[3]})
                    answers[n].append(promdiff.parse(a.status, a.body, a.error))
                c.close()
            for n, _s in systems:
                all_answers[(n, t)] = answers[n]
                checks[(n, t)] = answer_summary(answers[n], answers["Prometheus"], qs, n == "Prometheus")
                bad = [p for p in answers[n] if "error" in p or "unavailable" in p]
                if bad:
                    errs[(n, t)] = (f"{len(bad)} of {len(qs)} queries: " if len(qs) > 1 else "") + \
                        bad[0].get("error", bad[0].get("unavailable", "?"))
            if t.endswith("/per-metric") and ("VictoriaMetrics", base(t)) in all_answers:
                # VictoriaMetrics' answers to the TSBS text against Prometheus's to the rewrite
                vm_text = all_answers[("VictoriaMetrics", base(t))]
                same = sum(promdiff.compare(p, v, q[0]).kind in ("pass", "pass-ties")
                           for p, v, q in zip(answers["Prometheus"], vm_text, qs))
                cross[t] = f"{same}/{len(qs)}"
            # latency
            n_pass = max(reps, math.ceil(target / len(qs)))
            for n, _s in systems:
                if (n, t) in errs:
                    continue
                t0 = time.perf_counter()
                try:
                    lat[(n, t)] = compare.timed_samples(fns[n], qs, n_pass)
                except compare.Fail as e:
                    errs[(n, t)] = str(e)[:300]
                    continue
                log(f"{n} {t}: {len(qs)} x {n_pass}: median {compare.fmt_ms(statistics.median(lat[(n, t)]))} "
                    f"({time.perf_counter() - t0:.1f} s)")
            # the same passes from the lean client, with the server's CPU time around them
            for n, s in systems:
                if not use_client or (n, t) in errs:
                    continue
                targets = os.path.join(args.work, "targets.txt")
                with open(targets, "w") as f:
                    for q in qs:
                        f.write("/api/v1/query_range?" + urllib.parse.urlencode(
                            {"query": q[0], "start": q[1], "end": q[2], "step": q[3], **s.extra_params}) + "\n")
                c0 = proc_cpu_s(s.pid)
                r = subprocess.run([args.client, f"127.0.0.1:{s.port}", targets, str(n_pass)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                c1 = proc_cpu_s(s.pid)
                if r.returncode != 0:
                    errs[(n, t)] = "lean client: " + r.stderr.strip()[:300]
                    continue
                lean[(n, t)] = [float(x) / 1000 for x in r.stdout.split()]
                lean_cpu[(n, t)] = (c1 - c0) / ((n_pass + 1) * len(qs))
                log(f"{n} {t}: lean client median {compare.fmt_ms(statistics.median(lean[(n, t)]))}, "
                    f"server {lean_cpu[(n, t)] * 1e6:.0f} µs CPU a query")
    finally:
        for s in (strata, vm, prom):
            try:
                s.stop()
            except Exception:  # noqa: BLE001 — stop the rest anyway
                pass
        ctx.stop_all()

    # ---------------- report
    def cell(n, t):
        if (n, t) in errs:
            return "error: " + promdiff.md_cell(errs[(n, t)], 110)
        x = lat.get((n, t))
        if not x:
            return "n/a" if n == "Strata" else "—"
        return f"{compare.fmt_ms(statistics.median(x))} / {compare.fmt_ms(compare.p99(x))}"

    def ratio(t, peer):
        # for a /per-metric type, VictoriaMetrics' figure is its time for the TSBS text, whose
        # answer is the one Prometheus gives to the rewrite (VictoriaMetrics answers the rewrite
        # with the first metric only); Prometheus's is its time for the rewrite
        s, p = lat.get(("Strata", t)), lat.get((peer, base(t) if peer == "VictoriaMetrics" else t))
        if not s or not p:
            return "n/a"
        r = statistics.median(s) / statistics.median(p)
        return f"{r:.2f}" + (" ✓" if peer == "VictoriaMetrics" and r <= 0.5 else "")

    elapsed = time.time() - t_start
    md = [f"# PromQL query latency: Strata vs VictoriaMetrics and Prometheus — {started:%Y-%m-%d %H:%M UTC}", "",
          f"Command: `{args.cmdline}`  ",
          f"Data: `{args.tsbs}` ({datasets[0].series:,} series, {datasets[0].samples or 0:,} samples) and "
          f"`{args.node}` + the generated histogram ({datasets[1].series:,} series, {datasets[1].samples or 0:,} samples), "
          f"loaded into all three systems.  ",
          f"Mode: {'--quick' if args.quick else 'full'}; {elapsed / 60:.1f} min.", ""]
    mem = cpu = "?"
    for l in open("/proc/meminfo"):
        if l.startswith("MemTotal:"):
            mem = f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    for l in open("/proc/cpuinfo"):
        if l.startswith("model name"):
            cpu = l.split(":", 1)[1].strip()
            break
    git = lambda *a: subprocess.run(["git", "-C", args.repo] + list(a), stdout=subprocess.PIPE, text=True).stdout.strip()  # noqa: E731
    dirty = git("diff", "--name-only", "HEAD").split()
    facts = [("nproc", str(os.cpu_count())), ("memory (MemTotal)", mem), ("CPU", cpu), ("kernel", os.uname().release),
             ("Prometheus", prom.version()), ("VictoriaMetrics", vm.version()),
             ("Strata", strata.version()),
             ("harness (git)", f"{git('rev-parse', 'HEAD')[:12]} ({git('rev-parse', '--abbrev-ref', 'HEAD')})"
              + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")),
             ("load average (1/5/15 min) at start → end",
              " ".join(loadavg_start) + " → " + " ".join(open("/proc/loadavg").read().split()[:3]))]
    md += ["## Machine", "", compare.table(["fact", "value"], facts), ""]
    md += ["## Range queries (warm latency, median / p99; lower is better)", "",
           f"HTTP `GET /api/v1/query_range` over loopback, one keep-alive connection per system; one warm-up pass "
           f"per type, then passes until each type has ≥ {target} samples; the systems take turns type by type. "
           "VictoriaMetrics with `nocache=1`. Strata: `strata serve` on the directory after `compact --to-cold`. "
           "Last columns: Strata's median divided by the peer's (< 1 = Strata faster; the issue's goal is "
           "≤ 0.5 against VictoriaMetrics, marked ✓).", ""]
    if strata_why:
        md += [f"**Strata: n/a** — {promdiff.md_cell(strata_why, 400)}", ""]
    rows = []
    for t, qs, note in types:
        rows.append([t + (" †" if note == "rewritten" else ""), str(len(qs)), cell("Prometheus", t),
                     cell("VictoriaMetrics", t), cell("Strata", t), ratio(t, "VictoriaMetrics"), ratio(t, "Prometheus")])
    md.append(compare.table(["query type", "queries", "Prometheus", "VictoriaMetrics (nocache)", "Strata",
                             "Strata / VictoriaMetrics", "Strata / Prometheus"], rows))
    md += ["", "† the TSBS query rewritten with one selector per metric, valid in Prometheus (see the caveats). "
           "VictoriaMetrics answers the rewrite with the first metric's series only (its `or` ignores "
           "`on (__name__)`), so its cell for a † row is not the same work; the † rows' \"Strata / VictoriaMetrics\" "
           "divides by VictoriaMetrics' time for the TSBS text above, whose answer is Prometheus's answer to the "
           "rewrite (" + ", ".join(f"{t}: {c} equal" for t, c in cross.items()) + ").", ""]
    if lean:
        def lcell(n, t):
            x = lean.get((n, t))
            if not x:
                return "error: " + promdiff.md_cell(errs[(n, t)], 110) if (n, t) in errs else "—"
            return (f"{compare.fmt_ms(statistics.median(x))} / {compare.fmt_ms(compare.p99(x))}, "
                    f"{lean_cpu[(n, t)] * 1e6:.0f} µs")

        def lratio(t, peer, d):
            sv, pv = d.get(("Strata", t)), d.get((peer, base(t) if peer == "VictoriaMetrics" else t))
            if not sv or not pv:
                return "n/a"
            r = (statistics.median(sv) / statistics.median(pv)) if isinstance(sv, list) else sv / pv
            return f"{r:.2f}" + (" ✓" if r <= 0.5 else "")
        md += ["## Range queries from a lean client (latency median / p99, server CPU per query)", "",
               "The same queries and passes (after one warm-up pass) from `query_latency` "
               "(benches/src/bin/query_latency.rs: one keep-alive connection, a few µs of client CPU a request), "
               "so that the figure is the server's and not Python's: `http.client` spends about 95 µs of CPU on "
               "each request, as much as a small query costs a server. Server CPU: the time its threads spent "
               "on a CPU over the passes (`/proc/PID/task/*/schedstat`, in ns), divided by the requests. "
               "Ratios: Strata's median latency, and Strata's CPU per query, divided by VictoriaMetrics' "
               "(✓: ≤ 0.5).", ""]
        rows = []
        for t, qs, note in types:
            rows.append([t + (" †" if note == "rewritten" else ""), str(len(qs)), lcell("Prometheus", t),
                         lcell("VictoriaMetrics", t), lcell("Strata", t), lratio(t, "VictoriaMetrics", lean),
                         lratio(t, "VictoriaMetrics", lean_cpu)])
        md.append(compare.table(["query type", "queries", "Prometheus", "VictoriaMetrics (nocache)", "Strata",
                                 "Strata / VM, latency", "Strata / VM, CPU"], rows))
        md.append("")
    md += ["## Answers", "",
           "Every query of each type asked once of each system before timing: the total result size, and how "
           "many answers equal Prometheus's (the PromQL differential harness's rules: label sets exactly, "
           "timestamps exactly, values to 1e-9; both errors count as equal).", ""]
    rows = []
    for t, qs, _note in types:
        r = [t]
        for n in ("Prometheus", "VictoriaMetrics", "Strata"):
            size, same = checks.get((n, t), ("n/a", ""))
            r.append(promdiff.md_cell(size, 100) + (f" ({same})" if same else ""))
        rows.append(r)
    md.append(compare.table(["query type", "Prometheus", "VictoriaMetrics", "Strata"], rows))
    md += ["", "## Queries", ""]
    for t, qs, note in types:
        md.append(f"- **{t}**: `{promdiff.md_cell(qs[0][0], 400)}` start {qs[0][1]} end {qs[0][2]} step {qs[0][3]}"
                  + (f" (+{len(qs) - 1} more windows)" if len(qs) > 1 else ""))
    md += ["", "## Caveats", "",
           "- single-groupby-5-1-12, cpu-max-all-8 and double-groupby-all, as TSBS writes them, are errors in "
           "Prometheus (`max_over_time` drops `__name__`, so the selected metrics collide); VictoriaMetrics keeps "
           "the name and answers. A Strata that follows Prometheus will refuse them too; the /per-metric rows ask "
           "the same question in PromQL that Prometheus accepts.",
           "- For the single-metric TSBS types VictoriaMetrics keeps `__name__` in `by (__name__)` after "
           "`max_over_time`/`avg_over_time` and Prometheus does not, so their answers differ in labels (see Answers).",
           "- The TSBS query files were generated for the 1-day data; with the 6-hour file (--quick) queries beyond "
           "06:00 return less or nothing, so latencies are lower than on the full day.",
           "- All three servers run at once on the 2 cores; only the one being asked works. The machine may be shared "
           "with other builds (load average above).",
           "- Prometheus's TSDB blocks come from promtool (one block per data set, --max-block-duration=54h); "
           "VictoriaMetrics holds the same samples; Strata the same line protocol, compacted to cold."]
    for n in ctx.notes + notes:
        md.append(f"- {n}")
    if args.quick:
        md.append("- --quick: p99 over ~60 samples is close to the max.")
    md.append("")
    text = "\n".join(md)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"promql-{started:%Y-%m-%d}{'-quick' if args.quick else ''}.md")
    if os.path.exists(path):  # never overwrite an earlier report (docs link to them)
        path = path[:-3] + f"-{started:%H%M}.md"
    with open(path, "w") as f:
        f.write(text)
    log(f"wrote {path}; total {elapsed:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except (compare.Fail, ps.Fail) as e:
        print(f"promql: error: {e}", file=sys.stderr)
        sys.exit(1)
