#!/usr/bin/env python3
"""Issue 21's soak run: `strata serve` under a mixed load for a given time, sampling its
resident set (VmRSS) and open file descriptors, then the slopes.

The load, all at once and all the time:
- ingest: line protocol for a fixed set of series (HOSTS hosts x 10 fields of `cpu`, at
  the wall clock), WRITERS clients posting a batch every BATCH_EVERY seconds;
- queries: InfluxQL (GROUP BY time, raw, SHOW ...), PromQL instant and range queries,
  /api/v1/series and /labels, one after the other from QUERIERS clients;
- deletes: every 30 s a `DELETE` of one host's oldest minutes;
- the server's own scraping and rules: a prometheus.yml that scrapes its own /metrics
  every 5 s and a rule file with two recording rules evaluated every 5 s;
- rotation every 10 s, hot max age 30 s, retention 15 m: data moves hot -> warm -> cold
  and is dropped, so compaction and retention run throughout and the data on disk and
  in memory reach a steady state after the retention time;
- restarts: SIGTERM and start again on the same directory every RESTART_EVERY seconds.

Sampled every SAMPLE_EVERY s. The report gives, per server lifetime and over the whole
run after the warm-up (the retention time), the least-squares slope of RSS (MiB per hour)
and of open fds (per hour), the first and last values, and the count of failed requests
(anything but the expected 2xx). Series are fixed, so a steady state is the expectation:
a slope near 0 over the hour means no leak.

usage: benches/reliability/soak.py [--duration 3600] [--bin target/release/strata]
       [--restart-every 900] [--out benches/reliability/results/soak-DATE.txt]
"""

import argparse
import datetime
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HOSTS = 100
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
          "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]
WRITERS = 2
BATCH_EVERY = 1.0  # seconds: each writer posts all hosts once a second (2,000 values/s)
QUERIERS = 2
SAMPLE_EVERY = 10.0
RETENTION_S = 15 * 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = {}
        self.failed = {}
        self.last_failure = {}

    def count(self, kind, ok, why=""):
        with self.lock:
            d = self.ok if ok else self.failed
            d[kind] = d.get(kind, 0) + 1
            if not ok:
                self.last_failure[kind] = why


def request(url, data=None, timeout=30):
    req = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


class Server:
    def __init__(self, binary, workdir, port):
        self.binary, self.workdir, self.port = binary, workdir, port
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None
        self.up = threading.Event()

    def start(self):
        args = [self.binary, "serve", "--data-dir", os.path.join(self.workdir, "data"),
                "--listen", f"127.0.0.1:{self.port}", "--rotation-interval", "10s",
                "--hot-max-age", "30s", "--retention", f"{RETENTION_S}s",
                "--config.file", os.path.join(self.workdir, "prometheus.yml")]
        log = open(os.path.join(self.workdir, "serve.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"strata serve exited with {self.proc.returncode}; see {log.name}")
            try:
                if request(self.base + "/ping", timeout=2)[0] == 204:
                    self.up.set()
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        sys.exit("strata serve did not answer /ping within 120 s")

    def stop(self):
        self.up.clear()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            sys.exit("strata serve did not exit within 60 s of SIGTERM")
        if self.proc.returncode != 0:
            sys.exit(f"strata serve exited with {self.proc.returncode} after SIGTERM")


def writer(server, stats, stop, wid):
    rng = random.Random(wid)
    while not stop.is_set():
        t0 = time.time()
        if server.up.wait(timeout=1):
            ts = time.time_ns()
            lines = []
            for h in range(wid, HOSTS, WRITERS):
                vals = ",".join(f"{f}={rng.random() * 100:.3f}" for f in FIELDS)
                lines.append(f"cpu,hostname=host_{h},region=r{h % 4} {vals} {ts}")
            body = ("\n".join(lines) + "\n").encode()
            try:
                status, _ = request(server.base + "/write?db=soak", body)
                stats.count("write", status == 204, str(status))
            except urllib.error.HTTPError as e:
                stats.count("write", e.code == 503, f"{e.code} {e.read()[:200]!r}")
            except (urllib.error.URLError, OSError) as e:
                if server.up.is_set():
                    stats.count("write", False, repr(e))
        stop.wait(max(0.0, BATCH_EVERY - (time.time() - t0)))


INFLUXQL = [
    "SELECT mean(usage_user) FROM cpu WHERE time > now() - 5m GROUP BY time(1m), hostname",
    "SELECT max(usage_system), min(usage_idle) FROM cpu WHERE time > now() - 10m GROUP BY time(30s)",
    "SELECT * FROM cpu WHERE hostname = 'host_7' AND time > now() - 2m",
    "SELECT percentile(usage_user, 95) FROM cpu WHERE time > now() - 15m GROUP BY region",
    "SELECT count(usage_user) FROM cpu",
    "SHOW SERIES FROM cpu LIMIT 10",
    "SHOW TAG VALUES FROM cpu WITH KEY = region",
]
PROMQL = [
    "avg by (region) (cpu_usage_user)",
    "max_over_time(cpu_usage_system[5m])",
    "rate(strata_http_requests_total[1m])",
    "soak:up:sum",
    "topk(3, cpu_usage_idle)",
]


def querier(server, stats, stop, qid):
    rng = random.Random(100 + qid)
    while not stop.is_set():
        if not server.up.wait(timeout=1):
            continue
        kind = rng.choice(["influxql", "promql", "range", "meta"])
        try:
            if kind == "influxql":
                q = urllib.parse.urlencode({"db": "soak", "q": rng.choice(INFLUXQL)})
                status, body = request(server.base + "/query?" + q)
                ok = status == 200 and b'"error"' not in body
            elif kind == "promql":
                q = urllib.parse.urlencode({"query": rng.choice(PROMQL)})
                status, body = request(server.base + "/api/v1/query?" + q)
                ok = status == 200 and b'"success"' in body
            elif kind == "range":
                now = time.time()
                q = urllib.parse.urlencode({"query": rng.choice(PROMQL), "start": now - 600,
                                            "end": now, "step": "15s"})
                status, body = request(server.base + "/api/v1/query_range?" + q)
                ok = status == 200 and b'"success"' in body
            else:
                path = rng.choice(["/api/v1/series?match[]=cpu_usage_user", "/api/v1/labels",
                                   "/api/v1/status", "/metrics"])
                status, body = request(server.base + path)
                ok = status == 200
            stats.count(kind, ok, body[:200])
        except urllib.error.HTTPError as e:
            stats.count(kind, e.code == 503, f"{e.code} {e.read()[:200]!r}")
        except (urllib.error.URLError, OSError) as e:
            if server.up.is_set():
                stats.count(kind, False, repr(e))
        stop.wait(0.05)


def deleter(server, stats, stop):
    h = 0
    while not stop.wait(30):
        if not server.up.is_set():
            continue
        q = urllib.parse.urlencode({
            "db": "soak",
            "q": f"DELETE FROM cpu WHERE hostname = 'host_{h % HOSTS}' AND time < now() - 10m"})
        try:
            status, body = request(server.base + "/query", q.encode())
            stats.count("delete", status == 200 and b'"error"' not in body, body[:200])
        except urllib.error.HTTPError as e:
            stats.count("delete", e.code == 503, f"{e.code} {e.read()[:200]!r}")
        except (urllib.error.URLError, OSError) as e:
            if server.up.is_set():
                stats.count("delete", False, repr(e))
        h += 1


def sample(pid):
    rss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024.0
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 3:
        return float("nan")
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    return sxy / sxx * 3600 if sxx else float("nan")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", ".."))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--restart-every", type=float, default=900)
    default_bin = os.path.join(repo, "target", "release", "strata")
    if not os.path.exists(default_bin):
        default_bin = os.path.join(repo, "target", "debug", "strata")
    ap.add_argument("--bin", default=default_bin)
    ap.add_argument("--out", default=os.path.join(
        here, "results", f"soak-{datetime.date.today().isoformat()}.txt"))
    args = ap.parse_args()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)

    work = tempfile.mkdtemp(prefix="strata-soak-")
    port = free_port()
    with open(os.path.join(work, "rules.yml"), "w") as f:
        f.write("groups:\n- name: soak\n  interval: 5s\n  rules:\n"
                "  - record: soak:up:sum\n    expr: sum(up)\n"
                "  - record: soak:cpu_user:avg\n    expr: avg by (region) (cpu_usage_user)\n")
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 5s\n  evaluation_interval: 5s\n"
                f"rule_files: [{os.path.join(work, 'rules.yml')}]\n"
                "scrape_configs:\n- job_name: strata\n  static_configs:\n"
                f"  - targets: ['127.0.0.1:{port}']\n")

    server = Server(args.bin, work, port)
    server.start()
    stats, stop = Stats(), threading.Event()
    threads = [threading.Thread(target=writer, args=(server, stats, stop, w)) for w in range(WRITERS)]
    threads += [threading.Thread(target=querier, args=(server, stats, stop, q)) for q in range(QUERIERS)]
    threads.append(threading.Thread(target=deleter, args=(server, stats, stop)))
    for t in threads:
        t.start()

    began = time.time()
    samples = []  # (t, lifetime, rss MiB, fds)
    lifetime, life_began = 0, began
    csv = open(args.out.replace(".txt", ".csv"), "w")
    csv.write("seconds,lifetime,rss_mib,fds\n")
    try:
        while time.time() - began < args.duration:
            time.sleep(SAMPLE_EVERY)
            t = time.time() - began
            rss, fds = sample(server.proc.pid)
            samples.append((t, lifetime, rss, fds))
            csv.write(f"{t:.0f},{lifetime},{rss:.1f},{fds}\n")
            csv.flush()
            if time.time() - life_began >= args.restart_every and \
                    time.time() - began < args.duration - 60:
                server.stop()
                server.start()
                lifetime, life_began = lifetime + 1, time.time()
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
        csv.close()

    lines = [f"# soak.py --duration {args.duration:.0f} --restart-every {args.restart_every:.0f}"
             f" — {datetime.datetime.utcnow():%Y-%m-%dT%H:%M:%SZ}, {os.cpu_count()} cores,"
             f" {args.bin}",
             f"load: {WRITERS} writers x {HOSTS // WRITERS} lines of 10 fields per second,"
             f" {QUERIERS} queriers back to back, a DELETE every 30 s, self-scrape and 2"
             " recording rules every 5 s, rotation 10 s, hot max age 30 s, retention 15 m",
             "", "| lifetime | samples | RSS first -> last (MiB) | RSS slope (MiB/h) |"
             " fds first -> last | fd slope (/h) |", "| --- | --- | --- | --- | --- | --- |"]
    for life in range(lifetime + 1):
        pts = [s for s in samples if s[1] == life]
        # The first 2 minutes of a lifetime are the start-up ramp (WAL replay, caches).
        steady = [s for s in pts if s[0] - pts[0][0] >= 120] if pts else []
        if len(steady) < 3:
            continue
        lines.append(
            f"| {life} | {len(steady)} | {steady[0][2]:.0f} -> {steady[-1][2]:.0f} |"
            f" {slope_per_hour([(s[0], s[2]) for s in steady]):+.1f} |"
            f" {steady[0][3]} -> {steady[-1][3]} |"
            f" {slope_per_hour([(s[0], s[3]) for s in steady]):+.1f} |")
    after = [s for s in samples if s[0] >= RETENTION_S]
    if len(after) >= 3:
        lines.append(
            f"| all after {RETENTION_S // 60} min | {len(after)} | {after[0][2]:.0f} ->"
            f" {after[-1][2]:.0f} (max {max(s[2] for s in after):.0f}) |"
            f" {slope_per_hour([(s[0], s[2]) for s in after]):+.1f} |"
            f" {after[0][3]} -> {after[-1][3]} (max {max(s[3] for s in after)}) |"
            f" {slope_per_hour([(s[0], s[3]) for s in after]):+.1f} |")
    lines.append("")
    lines.append("requests ok: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.ok.items())))
    lines.append("requests failed: " + (", ".join(
        f"{k} {v} (last: {stats.last_failure[k]!r})" for k, v in sorted(stats.failed.items()))
        or "0"))
    report = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(report + "\n")
    print(report)
    return 1 if stats.failed else 0


if __name__ == "__main__":
    sys.exit(main())
