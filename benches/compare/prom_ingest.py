#!/usr/bin/env python3
"""Driver of benches/compare/prom_ingest.sh: Prometheus-shaped ingest and disk, Strata beside
VictoriaMetrics (and Prometheus for remote write), in one run, over loopback.

Data sets, made by `promgen` (benches/src/bin/promgen.rs) from the real node_exporter file:
  node     the real 15-minute file as it is: one host, ~507 series, 1 s scrapes
  nodeN    N synthetic hosts (--hosts, default 100) over the first --minutes (default 2)
           minutes: every series gets instance="10.0.X.Y:9100" and job="node"

Each set is loaded three ways with 2 clients (--workers), every body prepared before the
clock starts (prom_load.py): line protocol (5,000 lines a body; VictoriaMetrics
/influx/write, Strata /write), Prometheus remote write (2,000 samples a request, one sample
per TimeSeries as Prometheus sends them; VictoriaMetrics, Strata and Prometheus 2.42 at
/api/v1/write) and the text exposition format (whole pages of ~5,000 samples;
VictoriaMetrics and Strata at /api/v1/import/prometheus). Every load goes into a fresh
instance; Strata is `strata serve --fsync always` (acknowledged after fsync). The systems
alternate within each repetition (--reps, median reported) after a wait for the machine
to go idle.

Disk, per set: Strata `strata import data.lp` + `strata compact --to-cold` (whole
directory, bit-exact), VictoriaMetrics after its remote-write load + force_flush +
force_merge until stable (VictoriaMetrics rounds floats beyond 12 significant digits).

Stdlib only; helpers from compare.py. Every pid started is appended to WORK/pids.
"""
import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (Ctx, Fail, alive, dir_bytes, free_port, http_get, log, machine_busy_s,  # noqa: E402
                     table, tail, wait_idle)

HERE = os.path.dirname(os.path.abspath(__file__))
FORMATS = [("lp", "line protocol"), ("remote-write", "remote write"), ("text", "text format")]
FRAME_FILE = {"lp": "lp.frames", "remote-write": "rw.frames", "text": "text.frames"}


def run_checked(ctx, argv, what):
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx.register(p.pid)
    out, err = p.communicate()
    ctx.done(p.pid)
    if p.returncode != 0:
        raise Fail(f"{what} failed (exit {p.returncode}):\n{out[-2000:]}\n{err[-3000:]}")
    return out, err


def wait_http(port, path, pid, log_path, who, tries=600):
    for _ in range(tries):
        try:
            st, _ = http_get(port, path, timeout=5)
            if st == 200:
                return
        except OSError:
            pass
        if not alive(pid):
            break
        time.sleep(0.1)
    raise Fail(f"{who} did not become ready; tail of {log_path}:\n{tail(log_path)}")


class Server:
    """A fresh server instance per load."""
    name = "?"
    paths = {}

    def __init__(self, ctx):
        self.ctx = ctx
        self.pid = self.port = self.dir = self.proc = None
        self.n = 0

    def supports(self, fmt):
        return fmt in self.paths

    def url(self, fmt):
        return f"http://127.0.0.1:{self.port}{self.paths[fmt]}"

    def spawn(self, argv, log_path):
        lf = open(log_path, "w")
        p = subprocess.Popen(argv, stdout=lf, stderr=lf)
        lf.close()
        self.ctx.register(p.pid)
        self.pid, self.proc, self.log_path = p.pid, p, log_path

    def stop(self, remove=True):
        if self.pid:
            self.ctx.stop(self.pid, grace=60)
            try:
                self.proc.wait(timeout=1)
            except Exception:
                pass
            self.ctx.done(self.pid)
        self.pid = None
        if remove and self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def fresh_dir(self, tag):
        self.n += 1
        self.dir = os.path.join(self.ctx.work, f"{self.short}-{tag}-{self.n}")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()


class Strata(Server):
    name = "Strata"
    short = "strata"
    paths = {"lp": "/write?db=node&precision=ns", "remote-write": "/api/v1/write",
             "text": "/api/v1/import/prometheus"}

    def __init__(self, ctx, binary, fsync="always"):
        super().__init__(ctx)
        self.bin = binary
        self.fsync = fsync

    def start(self, tag):
        self.fresh_dir(tag)
        self.spawn([self.bin, "serve", "--data-dir", os.path.join(self.dir, "data"),
                    "--listen", f"127.0.0.1:{self.port}", "--fsync", self.fsync],
                   os.path.join(self.dir, "serve.log"))
        wait_http(self.port, "/ready", self.pid, self.log_path, "strata serve")

    def version(self):
        return subprocess.run([self.bin, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()


class VictoriaMetrics(Server):
    name = "VictoriaMetrics"
    short = "vm"
    paths = {"lp": "/influx/write?precision=ns", "remote-write": "/api/v1/write",
             "text": "/api/v1/import/prometheus"}

    def start(self, tag):
        self.fresh_dir(tag)
        self.spawn(["victoria-metrics", f"-httpListenAddr=127.0.0.1:{self.port}",
                    f"-storageDataPath={self.dir}/data", "-retentionPeriod=100y"],
                   os.path.join(self.dir, "vm.log"))
        wait_http(self.port, "/health", self.pid, self.log_path, "VictoriaMetrics")

    def version(self):
        v = subprocess.run(["victoria-metrics", "-version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout.strip()
        return v.splitlines()[0] if v else "?"

    def settle_disk(self, prefix):
        for path in ("/internal/force_flush", f"/internal/force_merge?partition_prefix={prefix}"):
            st, b = http_get(self.port, path)
            if st != 200:
                raise Fail(f"VictoriaMetrics {path}: {st} {b[:200]!r}")
        d = os.path.join(self.dir, "data")
        last, since, t0 = None, time.time(), time.time()
        while True:
            size = dir_bytes(d)
            now = time.time()
            if size != last:
                last, since = size, now
            if now - since >= 10.0:
                return size, "force_flush + force_merge, then stable 10 s"
            if now - t0 >= 300:
                return size, "NOT settled after force_merge: capped at 300 s"
            time.sleep(1.0)


class Prometheus(Server):
    name = "Prometheus"
    short = "prom"
    paths = {"remote-write": "/api/v1/write"}

    def start(self, tag):
        self.fresh_dir(tag)
        cfg = os.path.join(self.dir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1h\n")
        self.spawn(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}/data",
                    "--storage.tsdb.retention.time=100y", "--web.enable-remote-write-receiver",
                    f"--web.listen-address=127.0.0.1:{self.port}"],
                   os.path.join(self.dir, "prometheus.log"))
        wait_http(self.port, "/-/ready", self.pid, self.log_path, "Prometheus")

    def version(self):
        out = subprocess.run(["prometheus", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"


def load(ctx, server, fmt, frames, workers):
    cmd = [sys.executable, os.path.join(HERE, "prom_load.py"), "--file", frames, "--url", server.url(fmt),
           "--format", fmt, "--workers", str(workers), "--server-pid", str(server.pid)]
    out, _ = run_checked(ctx, cmd, f"prom_load.py {fmt} to {server.name}")
    r = json.loads(out.strip().splitlines()[-1])
    if r.get("http_errors"):
        raise Fail(f"{server.name} {fmt}: {r['http_errors']} HTTP errors: {r['first_errors']}")
    return r


def fmt_rate(x):
    if x is None:
        return "—"
    return f"{x / 1e6:.2f} M" if x >= 1e6 else f"{x / 1e3:.0f} k"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--minutes", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sets", default="node,nodeN", help="comma-separated: node, nodeN")
    ap.add_argument("--formats", default="lp,remote-write,text")
    ap.add_argument("--no-prometheus", action="store_true")
    ap.add_argument("--no-disk", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--promgen", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--cmdline", required=True)
    ap.add_argument("--peers-dir", default="/work/shared/peers")
    ap.add_argument("--strata-fsync", default="always",
                    help="Strata's WAL fsync policy; the goals are measured with `always` (the "
                         "default); `never` shows what the fsync wait costs")
    args = ap.parse_args()

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    ctx = Ctx(args)
    started = dt.datetime.now(dt.timezone.utc)
    loadavg_start = open("/proc/loadavg").read().split()[:3]
    strata, vm, prom = Strata(ctx, args.strata, args.strata_fsync), VictoriaMetrics(ctx), Prometheus(ctx)
    servers = [vm, strata] + ([] if args.no_prometheus else [prom])
    formats = [f for f in args.formats.split(",") if f]
    sets = []
    for s in args.sets.split(","):
        if s == "node":
            sets.append(("node", f"node (real, 1 host, {os.path.basename(args.node)})", 0, None))
        elif s == "nodeN":
            sets.append((f"node{args.hosts}", f"node{args.hosts} ({args.hosts} synthetic hosts, "
                         f"first {args.minutes} min)", args.hosts, args.minutes))
    results, disk, meta, loadavgs = {}, {}, {}, []
    try:
        for key, title, hosts, minutes in sets:
            d = os.path.join(ctx.work, key)
            argv = [args.promgen, "--input", args.node, "--out-dir", d, "--hosts", str(hosts)]
            if minutes:
                argv += ["--minutes", str(minutes)]
            log(f"generating {key}")
            out, _ = run_checked(ctx, argv, "promgen")
            meta[key] = json.loads(out.strip().splitlines()[-1])
            log(f"{key}: {meta[key]['series']:,} series, {meta[key]['samples']:,} samples")
            for fmt in formats:
                frames = os.path.join(d, FRAME_FILE[fmt])
                for rep in range(args.reps):
                    for srv in servers:
                        if not srv.supports(fmt):
                            continue
                        wait_idle(ctx, f"{srv.name} {key} {fmt}")
                        loadavgs.append(float(open("/proc/loadavg").read().split()[0]))
                        srv.start(f"{key}-{fmt}")
                        r = load(ctx, srv, fmt, frames, args.workers)
                        keep = (not args.no_disk and srv is vm and fmt == "remote-write" and rep == 0)
                        if keep:
                            size, how = vm.settle_disk(
                                dt.datetime.fromtimestamp(meta[key]["first_ts_ns"] / 1e9,
                                                          dt.timezone.utc).strftime("%Y_%m"))
                            disk[(key, "vm")] = (size, how)
                        srv.stop()
                        results.setdefault((key, fmt, srv.name), []).append(r)
                        log(f"{key} {fmt} {srv.name} rep {rep + 1}: {fmt_rate(r['points_per_s'])} samples/s, "
                            f"server {r['server_cpu_s_per_1M_points']} CPU-s/1M, others {r['other_procs_cpu_s']} CPU-s")
            if not args.no_disk:
                sd = os.path.join(ctx.work, f"strata-import-{key}")
                shutil.rmtree(sd, ignore_errors=True)
                run_checked(ctx, [args.strata, "import", "--data-dir", sd, os.path.join(d, "data.lp")],
                            "strata import")
                warm = dir_bytes(sd)
                run_checked(ctx, [args.strata, "compact", "--data-dir", sd, "--to-cold", "--force"],
                            "strata compact --to-cold")
                out, _ = run_checked(ctx, [args.strata, "inspect", "--data-dir", sd, "--json"], "strata inspect")
                points = json.loads(out)["tiers"]["cold"]["points"]
                if points != meta[key]["samples"]:
                    raise Fail(f"strata holds {points} points after compaction, expected {meta[key]['samples']}")
                disk[(key, "strata")] = (warm, dir_bytes(sd), dir_bytes(sd, apparent=True))
                shutil.rmtree(sd, ignore_errors=True)
    finally:
        for s in servers:
            s.stop()
        ctx.stop_all()

    # ---------------- report
    loadavg_end = open("/proc/loadavg").read().split()[:3]
    lines = [f"# Prometheus-shaped ingest and disk: Strata beside VictoriaMetrics and Prometheus",
             "", f"Command: `{args.cmdline}`  ", f"Started {started:%Y-%m-%d %H:%M} UTC, "
             f"{(dt.datetime.now(dt.timezone.utc) - started).total_seconds() / 60:.1f} min; "
             f"load average at start {' '.join(loadavg_start)}, at end {' '.join(loadavg_end)}, "
             f"1-min load before each load: min {min(loadavgs or [0]):.2f}, "
             f"median {statistics.median(loadavgs or [0]):.2f}, max {max(loadavgs or [0]):.2f}.", ""]
    commit = subprocess.run(["git", "-C", args.repo, "rev-parse", "--short=12", "HEAD"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", args.repo, "status", "--porcelain", "--untracked-files=no"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines += [f"Machine: {os.cpu_count()} cores ({cpu}), kernel {os.uname().release}. "
              f"Strata: {strata.version()}, commit {commit}{' + uncommitted changes' if dirty else ''}; "
              f"{vm.version()}; {prom.version() if not args.no_prometheus else 'Prometheus not run'}.", ""]
    lines += ["## Data sets", ""]
    rows = [[k, f"{m['series']:,}", f"{m['samples']:,}", f"{m['lp_bodies']} × ≤5,000 lines",
             f"{m['rw_bodies']} × ≤2,000 samples ({m['rw_bytes'] / m['samples']:.1f} B/sample snappy)",
             f"{m['text_bodies']} pages-bodies ({m['text_bytes'] / m['samples']:.0f} B/sample)"]
            for k, m in meta.items()]
    lines += [table(["set", "series", "samples", "line protocol bodies", "remote-write requests",
                     "text bodies"], rows), ""]
    lines += [f"## Ingest, samples/s (median of the repetitions; 2 clients; Strata fsync {args.strata_fsync})",
              ""]
    rows = []
    for key, _title, _h, _m in sets:
        for fmt in formats:
            med = {}
            cpu = {}
            for srv in servers:
                rs = results.get((key, fmt, srv.name))
                if rs:
                    med[srv.name] = statistics.median(r["points_per_s"] for r in rs)
                    cpu[srv.name] = statistics.median(r["server_cpu_s_per_1M_points"] for r in rs)
            s, v = med.get("Strata"), med.get("VictoriaMetrics")
            reps = " / ".join(fmt_rate(r["points_per_s"]) for r in results.get((key, fmt, "Strata"), []))
            vreps = " / ".join(fmt_rate(r["points_per_s"]) for r in results.get((key, fmt, "VictoriaMetrics"), []))
            rows.append([key, dict(FORMATS)[fmt], f"{fmt_rate(v)} ({vreps})",
                         fmt_rate(med.get("Prometheus")) if "Prometheus" in med else "—",
                         f"**{fmt_rate(s)}** ({reps})",
                         f"**{s / v:.2f}**" if s and v else "n/a",
                         " / ".join(f"{cpu[n]:.2f}" if cpu.get(n) is not None else "—"
                                    for n in ("VictoriaMetrics", "Prometheus", "Strata"))])
    lines += [table(["set", "format", "VictoriaMetrics (each rep)", "Prometheus", "Strata (each rep)",
                     "Strata / VictoriaMetrics", "server CPU-s per 1 M samples (VM / Prom / Strata)"], rows), ""]
    if disk:
        lines += ["## Disk after full compaction, bytes per sample (allocated, as `du`)", ""]
        rows = []
        for key, _t, _h, _m in sets:
            n = meta[key]["samples"]
            v = disk.get((key, "vm"))
            s = disk.get((key, "strata"))
            rows.append([key, f"{v[0] / n:.3f} ({v[1]})" if v else "—",
                         f"{s[0] / n:.2f}" if s else "—",
                         f"**{s[1] / n:.3f}** (apparent {s[2] / n:.3f})" if s else "—",
                         f"{s[1] / v[0]:.2f}" if s and v else "n/a"])
        lines += [table(["set", "VictoriaMetrics (not bit-exact)", "Strata warm (import)",
                         "Strata after compact --to-cold, whole directory, bit-exact", "Strata / VictoriaMetrics"],
                        rows), ""]
    if ctx.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in ctx.notes] + [""]
    text = "\n".join(lines)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"prom-ingest-{started:%Y-%m-%d-%H%M}.md")
    with open(path, "w") as f:
        f.write(text)
    print(text)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
