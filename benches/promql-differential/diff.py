#!/usr/bin/env python3
"""Driver of benches/promql-differential/run.sh: the same PromQL queries to a reference
(Prometheus 2.42) and a candidate (Strata, or VictoriaMetrics to validate the harness), over
loopback HTTP, answer by answer.

Per data set, one after the other (so at most one instance of each system runs at a time):
read its schema and generate its queries (gen.py), load it into the reference and the
candidate (promsystems.py), ask the reference every query, then the candidate in each of its
phases (Strata: hot, warm, cold), compare (promdiff.py), stop both. Then one Markdown report.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402
import histogram_gen  # noqa: E402
import promdiff  # noqa: E402
from promsystems import Dataset, Fail, Procs, Prometheus, Strata, VictoriaMetrics, log  # noqa: E402

TARGETS = ("prometheus", "victoriametrics", "strata")
PHASES = ("hot", "warm", "cold")


def dataset_files(name, args):
    d = args.data_dir
    if name == "cpu":
        return [os.path.join(d, "tsbs_cpu_only_scale100_6h.lp.zst" if args.quick else "tsbs_cpu_only_scale100_1d.lp.zst")]
    if name == "devops":
        return [os.path.join(d, "tsbs_devops_scale100_2h.lp.zst")]
    if name == "node":
        node = os.path.join(d, "node_exporter_15m.lp.zst")
        hist = os.path.join(args.work, "histogram.lp")
        if not os.path.exists(hist):
            lo, hi = histogram_gen.lp_span(node)
            with open(hist, "w") as f:
                f.write("\n".join(histogram_gen.generate(lo, hi, 15, args.seed)) + "\n")
        return [node, hist]
    raise Fail(f"unknown data set {name!r} (cpu, devops, node)")


def make_system(name, ctx, tag, args):
    if name == "prometheus":
        return Prometheus(ctx, tag)
    if name == "victoriametrics":
        return VictoriaMetrics(ctx, tag, args.peers_dir)
    return Strata(ctx, tag, args.strata if args.strata != "none" else None, os.environ.get("STRATA_URL"))


def ask_all(client, queries):
    """Every query; POST (form body) for every 5th, GET otherwise — the same for both systems."""
    out = []
    for i, q in enumerate(queries):
        method = "POST" if i % 5 == 4 else "GET"
        path = "/api/v1/query" if q["kind"] == "instant" else "/api/v1/query_range"
        a = client.request(path, q["params"], method)
        out.append((method, a))
    return out


def machine_facts(args):
    mem = cpu = "?"
    with open("/proc/meminfo") as f:
        for l in f:
            if l.startswith("MemTotal:"):
                mem = f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    git = lambda *a: subprocess.run(["git", "-C", args.repo] + list(a), stdout=subprocess.PIPE, text=True).stdout.strip()  # noqa: E731
    return [("nproc", os.cpu_count()), ("memory", mem), ("CPU", cpu), ("kernel", os.uname().release),
            ("load average at end", " ".join(open("/proc/loadavg").read().split()[:3])),
            ("harness (git)", f"{git('rev-parse', 'HEAD')[:12]} ({git('rev-parse', '--abbrev-ref', 'HEAD')})")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="cpu,devops,node")
    ap.add_argument("--targets", default="prometheus,strata", help="reference,candidate")
    ap.add_argument("--phases", default="hot,warm,cold", help="Strata phases")
    ap.add_argument("--count", type=int, default=400, help="queries per data set (at least)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rel", type=float, default=promdiff.REL)
    ap.add_argument("--abs", type=float, default=promdiff.ABS)
    ap.add_argument("--allow", default=os.path.join(HERE, "known_differences.json"))
    ap.add_argument("--data-dir", default="/work/shared/data")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--peers-dir", default="/work/shared/peers")
    ap.add_argument("--strata", default="none")
    ap.add_argument("--repo", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("--cmdline", default=" ".join(sys.argv))
    args = ap.parse_args()

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    targets = [t.strip() for t in args.targets.split(",")]
    if len(targets) != 2 or any(t not in TARGETS for t in targets):
        raise Fail(f"--targets wants reference,candidate from {TARGETS}, got {args.targets!r}")
    ref_name, cand_name = targets
    phases = [p for p in args.phases.split(",") if p]
    if cand_name == "strata" and (not phases or any(p not in PHASES for p in phases)
                                  or phases != sorted(phases, key=PHASES.index)):
        raise Fail(f"--phases wants a subset of {','.join(PHASES)} in that order, got {args.phases!r}")
    allow = promdiff.load_allowlist(args.allow)
    ctx = Procs(args.work)
    t_start, started = time.time(), promdiff.utc_now()
    rows, unavailable, ds_meta, notes = [], [], [], []
    versions = {}
    setup_failed = False
    no_api = None
    try:
        for ds_name in [d for d in args.datasets.split(",") if d]:
            files = dataset_files(ds_name, args)
            ds = Dataset(ds_name, files, args.work, args.peers_dir)
            sc = gen.read_schema(files, args.peers_dir)
            ds.series = sum(len(m.series) for m in sc.metrics.values())
            ds.span = (sc.t_min, sc.t_max)
            queries = gen.generate(sc, args.seed, args.count, ds_name)
            with open(os.path.join(args.work, f"queries-{ds_name}.jsonl"), "w") as f:
                f.write("".join(json.dumps(q, sort_keys=True) + "\n" for q in queries))
            span = (f"{promdiff.dt.datetime.fromtimestamp(sc.t_min, promdiff.dt.timezone.utc):%Y-%m-%d %H:%M:%S} – "
                    f"{promdiff.dt.datetime.fromtimestamp(sc.t_max, promdiff.dt.timezone.utc):%Y-%m-%d %H:%M:%S}")
            log(f"{ds_name}: {len(sc.metrics)} metrics, {span}, {len(queries)} queries "
                f"({sum(q['kind'] == 'instant' for q in queries)} instant)")
            meta = {"name": ds_name, "files": [os.path.basename(f) for f in files], "samples": 0, "span": span,
                    "queries": len(queries)}
            ds_meta.append(meta)

            # ---- reference
            ref = make_system(ref_name, ctx, f"{ds_name}-ref", args)
            versions.setdefault("ref", (ref.title, ref.version()))
            log(f"{ds_name}: loading {ref.title}")
            if ref_name == "strata":
                why = ref.missing()
                if why:
                    raise Fail(f"reference Strata unavailable: {why}")
                ref.load(files)
                ref.compact(phases[-1] if phases else "cold")
                ref.start()
            else:
                ref.load(ds)
                ref.start()
            t = time.time()
            ref_ans = ask_all(ref.client(), queries)
            slow = max(ref_ans, key=lambda x: x[1].seconds)
            log(f"{ds_name}: {ref.title} answered {len(queries)} queries in {time.time() - t:.1f} s "
                f"(slowest {slow[1].seconds * 1000:.0f} ms)")
            ref_parsed = [promdiff.parse(a.status, a.body, a.error) for _m, a in ref_ans]
            n_err = sum("error" in p for p in ref_parsed)
            n_empty = sum(1 for p in ref_parsed if p.get("resultType") in ("vector", "matrix") and not p["result"])
            notes.append(f"{ds_name}: {ref.title} answered {len(queries) - n_err} queries ({n_empty} of them with an "
                         f"empty result) and refused {n_err}, in {time.time() - t:.1f} s; slowest "
                         f"{slow[1].seconds * 1000:.0f} ms.")

            # ---- candidate, per phase
            same = cand_name == ref_name
            cand = ref if same else make_system(cand_name, ctx, f"{ds_name}-cand", args)
            versions.setdefault("cand", (cand.title + (" (same server: self-test)" if same else ""), cand.version()))
            cand_phases = phases if cand_name == "strata" else ["-"]
            loaded = same
            for ph in cand_phases:
                why = None
                try:
                    if cand_name == "strata":
                        # once a Strata has shown it has no PromQL API, do not import it again
                        why = cand.missing() or no_api
                        if not why:
                            cand.stop()
                            if not loaded:
                                log(f"{ds_name}: strata import")
                                cand.load(files)
                                loaded = True
                            cand.compact(ph)
                            cand.start()
                    elif not loaded:
                        log(f"{ds_name}: loading {cand.title}")
                        cand.start()
                        cand.load(ds)
                        loaded = True
                    if not why:
                        why = cand.client().probe(queries[0]["params"].get("time") or queries[0]["params"].get("start"))
                except Fail as e:
                    why = str(e)[-1500:]
                if why:
                    if why.startswith("no PromQL API"):
                        no_api = why
                    log(f"{ds_name}/{ph}: {cand.title} unavailable: {why[:300]}")
                    unavailable.append(f"{ds_name}/{ph}: {why}")
                    for q, (m, a) in zip(queries, ref_ans):
                        rows.append({"q": q, "dataset": ds_name, "phase": ph, "method": m, "ref_body": a.body,
                                     "got_body": b"", "verdict": promdiff.Verdict("unavailable", "candidate", "", why)})
                    continue
                t = time.time()
                cand_ans = ask_all(cand.client(), queries)
                log(f"{ds_name}/{ph}: {cand.title} answered in {time.time() - t:.1f} s")
                nf = 0
                for q, (m, ra), rp, (_m2, ca) in zip(queries, ref_ans, ref_parsed, cand_ans):
                    cp = promdiff.parse(ca.status, ca.body, ca.error)
                    v = promdiff.compare(rp, cp, q["expr"], args.rel, args.abs)
                    row = {"q": q, "dataset": ds_name, "phase": ph, "method": m, "ref_body": ra.body,
                           "got_body": ca.body or (ca.error or "").encode(), "verdict": v}
                    if v.kind == "fail":
                        row["known"] = promdiff.allowed(allow, q, cand_name, v)
                        nf += not row["known"]
                    rows.append(row)
                log(f"{ds_name}/{ph}: {nf} different")
            meta["samples"] = ds.samples or sc.lines
            if not same:
                cand.stop()
            ref.stop()
            ds.drop_om()
    except Fail as e:
        log(f"setup failure: {e}")
        notes.append(f"SETUP FAILURE: {e}")
        setup_failed = True
    finally:
        ctx.stop_all()

    elapsed = (time.time() - t_start) / 60
    meta = {"ref_title": versions.get("ref", (ref_name,))[0], "cand_title": versions.get("cand", (cand_name,))[0],
            "ref_version": versions.get("ref", ("", "?"))[1], "cand_version": versions.get("cand", ("", "?"))[1],
            "started": started.strftime("%Y-%m-%d %H:%M UTC"), "command": args.cmdline, "seed": args.seed,
            "rel": args.rel, "abs": args.abs, "allow_path": os.path.relpath(args.allow, args.repo),
            "elapsed_min": elapsed, "machine": machine_facts(args), "datasets": ds_meta,
            "unavailable": unavailable, "notes": notes}
    text = promdiff.report(meta, rows, allow)
    os.makedirs(args.out, exist_ok=True)
    suffix = ("-quick" if args.quick else "") + ("" if cand_name == "strata" else f"-{cand_name}")
    path = os.path.join(args.out, f"diff-{started:%Y-%m-%d}{suffix}.md")
    with open(path, "w") as f:
        f.write(text + "\n")
    c = promdiff.count(rows)
    print(f"{len(rows)} comparisons: {c['pass']} equal, {c['pass-ties']} equal up to ties, {c['both-error']} both error, "
          f"{c['fail']} DIFFERENT, {c['known']} allow-listed, {c['unavailable'] + c['ref-unavailable']} unavailable")
    for u in unavailable:
        print(f"candidate unavailable: {u[:300]}")
    print(f"report: {path}")
    if setup_failed or unavailable or c["ref-unavailable"]:
        sys.exit(2)
    sys.exit(1 if c["fail"] else 0)


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"diff: error: {e}", file=sys.stderr)
        sys.exit(2)
