#!/usr/bin/env python3
"""How long a running background compaction holds up other work in `strata serve`.

A compaction merges for as long as its inputs take (seconds for a day of TSBS on one
core, minutes on a large directory). This measures what a client sees meanwhile: a
`DELETE` (it stores a tombstone in the manifest, so it needs the manifest lock) and a
write (which needs rotation to keep the hot tier under its bound), sent every
PROBE_EVERY seconds while the compaction runs.

Steps: `strata import` of FILE into a fresh directory with background work off (the data
lands in warm segments); then `strata serve` on it with `--warm-max-age 1s`, so the first
maintenance round compacts everything to cold day files, with `--compaction-threads N`.
From the first `/ping` on, one client sends `DELETE FROM stall_probe` (a measurement that
does not exist: the statement does no work but take its turn) and another writes one
line, each every PROBE_EVERY s, until `/metrics` shows the compaction done plus one
second. The report gives per probe kind the count, median, p99 and max latency, and the
compaction's own time from the server log.

usage: benches/reliability/compaction_stall.py [--bin target/release/strata]
       [--file ../shared/data/tsbs_cpu_only_scale100_1d.lp.zst] [--threads 1]
"""

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PROBE_EVERY = 0.02


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url, data=None, timeout=600):
    req = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def compactions(base):
    _, body = request(base + "/metrics", timeout=10)
    m = re.search(rb"^strata_compactions_total (\d+)", body, re.M)
    return int(m.group(1)) if m else 0


def prober(kind, base, stop, out):
    n = 0
    while not stop.is_set():
        if kind == "delete":
            url = base + "/query"
            data = urllib.parse.urlencode({"db": "stall", "q": "DELETE FROM stall_probe"}).encode()
        else:
            url = base + "/write?db=stall"
            data = f"stall_write,p=x v={n} {time.time_ns()}\n".encode()
        t = time.perf_counter()
        try:
            status, _ = request(url, data)
            ok = status in (200, 204)
        except urllib.error.HTTPError as e:
            ok = False
            status = e.code
        out.append((time.perf_counter() - t, ok, status))
        n += 1
        stop.wait(PROBE_EVERY)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(root, "target/release/strata"))
    ap.add_argument("--file", default=os.path.join(
        root, "../shared/data/tsbs_cpu_only_scale100_1d.lp.zst"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="strata-stall-")
    try:
        data = os.path.join(work, "data")
        subprocess.run([args.bin, "import", "--data-dir", data, "--rotation-interval", "0s",
                        "--hot-max-age", "1s", args.file],
                       check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = os.path.join(work, "serve.log")
        log = open(log_path, "wb")
        env = dict(os.environ, STRATA_LOG="info")
        proc = subprocess.Popen(
            [args.bin, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{port}",
             "--warm-max-age", "1s", "--hot-max-age", "1s", "--rotation-interval", "1s",
             "--compaction-threads", str(args.threads)],
            stdout=log, stderr=log, env=env)
        start = time.time()
        while True:
            try:
                if request(base + "/ping", timeout=2)[0] == 204:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if proc.poll() is not None or time.time() - start > 120:
                sys.exit(f"strata serve did not come up; see {log_path}")
            time.sleep(0.01)
        stop = threading.Event()
        results = {"delete": [], "write": []}
        threads = [threading.Thread(target=prober, args=(k, base, stop, results[k]))
                   for k in results]
        for t in threads:
            t.start()
        t0 = time.time()
        already = compactions(base) > 0
        while compactions(base) == 0 and time.time() - t0 < 600:
            time.sleep(0.05)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join()
        proc.terminate()
        proc.wait(timeout=120)
        log.close()
        text = open(log_path, errors="replace").read()
        took = re.findall(r"compacted (\d+) segments .* into (\d+) cold", text)
        print(f"binary {args.bin}, file {os.path.basename(args.file)}, "
              f"compaction threads {args.threads}, load {os.getloadavg()[0]:.2f}")
        print(f"compaction done before the first probe: {already}; compactions logged: {took}")
        print(f"probing window: {time.time() - t0 - 1.0:.2f} s until the compaction was seen done")
        print(f"{'probe':8} {'n':>5} {'failed':>6} {'median ms':>10} {'p99 ms':>10} {'max ms':>10}")
        for k, rs in results.items():
            lat = [r[0] * 1000 for r in rs]
            failed = sum(1 for r in rs if not r[1])
            if lat:
                why = sorted({r[2] for r in rs if not r[1]})
                print(f"{k:8} {len(lat):5d} {failed:6d} {statistics.median(lat):10.1f} "
                      f"{pct(lat, 99):10.1f} {max(lat):10.1f}"
                      + (f"  failed statuses: {why}" if why else ""))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
