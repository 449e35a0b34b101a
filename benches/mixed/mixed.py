#!/usr/bin/env python3
"""Query latency while ingest runs at half its maximum rate (issue 6). Python 3 stdlib only.

Driven by run.sh (which builds Strata and owns the temp dir); see README.md. Steps:

  1. split the TSBS file at the middle of its time span into a first and a second half;
  2. start `strata serve --fsync always` on a fresh directory and a free loopback port;
  3. load the first half as fast as 2 keep-alive clients can (5,000-line batches): the
     maximum ingest rate R (points/s, one point = one field value);
  4. wait for the server's first background maintenance (age rotation, then compaction of
     the loaded history into a cold day file), so both phases see the same tiers;
  5. phase "idle": one client runs the query set in a loop for D seconds;
  6. phase "under ingest": the same loop for D seconds while a writer process (2 clients)
     sends the second half paced to R/2 points/s; when the second half is used up it is
     sent again shifted by half the file's span (12 h for the 1-day file), so the series
     go on forward in time for as long as the phase lasts;
  7. print the table and write it, with the facts of the run, to OUT/mixed-<UTC date>.md.

Exit status 1 when any query fails (HTTP status other than 200, unparsable JSON, or an
`error` in the answer) or any write is not acknowledged with 204 (a 503 "overloaded" is
retried after its Retry-After, as clients do, and counted; the batch must still end in 204).

`mixed.py writer ...` is the writer process (kept out of the query process so that the
writer's Python work never holds the GIL while a query is being timed).
"""
import argparse
import datetime
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

WRITE_PATH = "/write?db=benchmark&precision=ns"
HOUR = 3600 * 10**9


# ---------------------------------------------------------------------------------------
# small helpers


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(port, path, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def proc_cpu_s(pid):
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def own_cpu_s():
    """CPU seconds of this process (all its threads), not of its children."""
    t = os.times()
    return t.user + t.system


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return float("nan")
    k = max(1, -(-len(sorted_vals) * p // 100))  # ceil(n * p / 100)
    return sorted_vals[int(k) - 1]


def ms(x):
    if x != x:  # NaN
        return "—"
    if x >= 100:
        return f"{x:.0f} ms"
    if x >= 10:
        return f"{x:.1f} ms"
    return f"{x:.2f} ms"


def rfc3339(ns):
    return datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def mpoints(x):
    return f"{x / 1e6:.2f} M points/s"


# ---------------------------------------------------------------------------------------
# the writer process


def split_ts(line):
    i = line.rindex(b" ")
    return line[:i + 1], int(line[i + 1:])


def writer_main(argv):
    ap = argparse.ArgumentParser(prog="mixed.py writer")
    ap.add_argument("--file", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=0.0, help="points/s; 0: as fast as possible")
    ap.add_argument("--duration", type=float, default=0.0,
                    help="seconds; 0: one pass over the file. Otherwise the file is repeated, "
                         "shifted by --shift-ns per pass, until the time is up")
    ap.add_argument("--shift-ns", type=int, default=0)
    a = ap.parse_args(argv)

    with open(a.file, "rb") as f:
        lines = [l for l in f.read().split(b"\n") if l and not l.startswith(b"#")]
    fields = [l.rsplit(b" ", 2)[1].count(b",") + 1 for l in lines]
    templates = []  # per batch: (body of pass 0, points, [(prefix, ts)] for shifted passes)
    for i in range(0, len(lines), a.batch):
        chunk = lines[i:i + a.batch]
        body = b"\n".join(chunk) + b"\n"
        pts = sum(fields[i:i + a.batch])
        tpl = [split_ts(l) for l in chunk] if a.duration > 0 else None
        templates.append((body, pts, tpl))
    del lines, fields
    nb = len(templates)

    # Batches in order, made ahead by a producer thread (shifting timestamps costs Python
    # time; this keeps it out of the pacing loop).
    q = queue.Queue(maxsize=64)
    stop = threading.Event()

    def producer():
        n = 0
        while not stop.is_set():
            if a.duration <= 0 and n >= nb:
                break
            body, pts, tpl = templates[n % nb]
            k = n // nb
            if k:
                off = k * a.shift_ns
                body = b"".join([p + b"%d\n" % (t + off) for p, t in tpl])
            while not stop.is_set():
                try:
                    q.put((n, body, pts), timeout=0.1)
                    break
                except queue.Full:
                    pass
            n += 1
        q.put(None)

    prod = threading.Thread(target=producer, daemon=True)
    prod.start()
    # Let the producer get ahead before the clock starts.
    while q.qsize() < min(q.maxsize, nb) - 1 and prod.is_alive():
        time.sleep(0.01)

    print("READY", flush=True)
    if sys.stdin.readline().strip() != "GO":
        return 2

    lock = threading.Lock()
    st = {"cum_pts": 0, "acked_pts": 0, "acked_batches": 0, "retried_503": 0, "t_last": 0.0,
          "done": False, "max_behind_s": 0.0}
    errors = []
    lat = []
    cpu0 = own_cpu_s()
    t0 = time.perf_counter()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
        while True:
            with lock:
                if st["done"]:
                    break
                if a.duration > 0 and time.perf_counter() - t0 >= a.duration:
                    st["done"] = True
                    break
                item = q.get()
                if item is None:
                    st["done"] = True
                    break
                n, body, pts = item
                due = t0 + st["cum_pts"] / a.rate if a.rate > 0 else 0.0
                st["cum_pts"] += pts
            if a.rate > 0:
                now = time.perf_counter()
                if due > now:
                    time.sleep(due - now)
                else:
                    st["max_behind_s"] = max(st["max_behind_s"], now - due)
            tries = 0
            while True:
                t1 = time.perf_counter()
                try:
                    conn.request("POST", WRITE_PATH, body=body, headers={"Content-Type": "text/plain"})
                    r = conn.getresponse()
                    rb = r.read()
                except (http.client.HTTPException, OSError) as e:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=120)
                    with lock:
                        errors.append(f"batch {n}: {e!r}")
                    break
                t2 = time.perf_counter()
                if r.status == 503 and tries < 30:
                    tries += 1
                    with lock:
                        st["retried_503"] += 1
                    time.sleep(min(1.0, float(r.getheader("Retry-After") or 0.1)))
                    continue
                with lock:
                    if r.status == 204:
                        st["acked_pts"] += pts
                        st["acked_batches"] += 1
                        st["t_last"] = t2
                        lat.append((t2 - t1) * 1e3)
                    else:
                        errors.append(f"batch {n}: HTTP {r.status} {rb[:200].decode('utf-8', 'replace')}")
                break
        conn.close()

    ths = [threading.Thread(target=worker) for _ in range(a.workers)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    stop.set()
    wall = (st["t_last"] or time.perf_counter()) - t0
    lat.sort()
    out = {
        "workers": a.workers, "batch": a.batch, "target_rate": a.rate, "duration": a.duration,
        "batches": st["acked_batches"], "points": st["acked_pts"], "wall_s": round(wall, 3),
        "points_per_s": round(st["acked_pts"] / wall) if wall > 0 else 0,
        "passes": round(st["acked_batches"] / nb, 2),
        "write_p50_ms": round(pct(lat, 50), 2) if lat else None,
        "write_p99_ms": round(pct(lat, 99), 2) if lat else None,
        "max_behind_schedule_s": round(st["max_behind_s"], 3),
        "retried_503": st["retried_503"], "errors": len(errors), "first_errors": errors[:5],
        "writer_cpu_s": round(own_cpu_s() - cpu0, 2),
    }
    print(json.dumps(out), flush=True)
    return 1 if errors else 0


# ---------------------------------------------------------------------------------------
# the driver


class Failed(Exception):
    pass


class Writer:
    """A `mixed.py writer` process: prepared (READY), started (GO), then its JSON result."""

    def __init__(self, ctx, file, rate, duration, shift_ns):
        cmd = [sys.executable, os.path.abspath(__file__), "writer", "--file", file,
               "--port", str(ctx.port), "--workers", "2", "--batch", "5000",
               "--rate", str(rate), "--duration", str(duration), "--shift-ns", str(shift_ns)]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ctx.register(self.p.pid)
        line = self.p.stdout.readline().strip()
        if line != "READY":
            raise Failed(f"writer did not start (said {line!r}, exit {self.p.poll()})")

    def go(self):
        self.p.stdin.write("GO\n")
        self.p.stdin.flush()

    def result(self):
        out = self.p.stdout.read()
        self.p.wait()
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise Failed(f"writer printed no result (exit {self.p.returncode}): {out[-500:]!r}")


class Ctx:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.port = None
        self.server = None
        self.tick1 = None  # perf_counter() of the first background age tick
        self.problems = []  # failures: make the exit status 1
        self.notes = []     # oddities worth reading, not failures

    def register(self, pid):
        with open(os.path.join(self.work, "pids"), "a") as f:
            f.write(f"{pid}\n")


def load_halves(ctx):
    """Decompress, split at the middle of the time span; return facts about the file."""
    path = ctx.args.data
    if path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    lines = [l for l in data.split(b"\n") if l and not l.startswith(b"#")]
    del data
    ts = [int(l[l.rindex(b" ") + 1:]) for l in lines]
    if any(ts[i] > ts[i + 1] for i in range(len(ts) - 1)):
        raise Failed(f"{path}: lines are not in time order; the split needs them sorted")
    t_first, t_last = ts[0], ts[-1]
    step = next((t - t_first for t in ts if t != t_first), 10**10)
    span = t_last - t_first + step
    mid = t_first + span // 2
    cut = next(i for i, t in enumerate(ts) if t >= mid)
    hosts = sorted({m.group(1).decode() for l in lines[:cut]
                    for m in [re.search(rb"[,]hostname=([^,\s]+)", l)] if m},
                   key=lambda h: (len(h), h))
    for name, part in (("first.lp", lines[:cut]), ("second.lp", lines[cut:])):
        with open(os.path.join(ctx.work, name), "wb") as f:
            f.write(b"\n".join(part) + b"\n")
    return {"lines": len(lines), "first_lines": cut, "second_lines": len(lines) - cut,
            "t_first": t_first, "t_mid": mid, "t_end": t_first + span, "half_span": span // 2,
            "hosts": hosts}


def start_server(ctx):
    d = os.path.join(ctx.work, "data")
    os.makedirs(d)
    ctx.port = free_port()
    ctx.server_log = os.path.join(ctx.work, "server.log")
    ctx.server_cmd = [ctx.args.strata, "serve", "--data-dir", d, "--listen", f"127.0.0.1:{ctx.port}",
                      "--fsync", "always"]
    with open(ctx.server_log, "w") as lf:
        p = subprocess.Popen(ctx.server_cmd, stdout=lf, stderr=lf)
    ctx.register(p.pid)
    ctx.server = p
    t0 = time.time()
    while time.time() - t0 < 60:
        try:
            st, _ = http_get(ctx.port, "/ready", timeout=5)
            if st == 200:
                return
        except OSError:
            pass
        if p.poll() is not None:
            break
        time.sleep(0.1)
    raise Failed(f"strata serve did not become ready; log:\n{tail(ctx.server_log)}")


def stop_server(ctx):
    p = ctx.server
    if p is None or p.poll() is not None:
        return None
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
        ctx.problems.append("strata serve did not exit within 120 s of SIGTERM (killed)")
    ctx.server = None
    if rc != 0:
        ctx.problems.append(f"strata serve exited with status {rc} after SIGTERM; log:\n{tail(ctx.server_log)}")
    return time.time() - t0


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


def metrics(ctx):
    """The /metrics values this report uses, keyed `name` or `name{labels}`."""
    st, body = http_get(ctx.port, "/metrics")
    out = {}
    for l in body.decode().splitlines():
        if not l or l.startswith("#"):
            continue
        k, _, v = l.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def status(ctx):
    st, body = http_get(ctx.port, "/api/v1/status")
    if st != 200:
        raise Failed(f"/api/v1/status answered {st}: {body[:200]!r}")
    return json.loads(body)


def tiers_str(s):
    t = s["tiers"]
    return ", ".join(f"{k} {t[k]['points'] / 1e6:.2f} M points / {t[k]['bytes'] / 2**20:.0f} MiB / {t[k]['files']} files"
                     for k in ("hot", "warm", "cold"))


def settle(ctx, timeout):
    """Wait for the first background age rotation and its compaction: afterwards the loaded
    history lies in its steady-state tier and the next age tick is `rotation_interval` away."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        m = metrics(ctx)
        s = status(ctx)
        t = s["tiers"]
        if ctx.tick1 is None and m.get("strata_rotations_total", 0) >= 1:
            ctx.tick1 = time.perf_counter() - 0.5  # the tick began at most one poll earlier
        if (m.get("strata_rotations_total", 0) >= 1 and m.get("strata_compactions_total", 0) >= 1
                and t["hot"]["points"] == 0 and t["warm"]["files"] == 0):
            return time.time() - t0, s
        time.sleep(0.5)
    s = status(ctx)
    ctx.notes.append(f"the first background maintenance did not finish within {timeout:.0f} s "
                     f"(tiers: {tiers_str(s)}); phases may see it run")
    return time.time() - t0, s


# --- queries -----------------------------------------------------------------------------

QUERY_TYPES = ["single-groupby-1-1-1", "single-groupby-5-1-12", "cpu-max-all-8", "double-groupby-1",
               "double-groupby-all", "lastpoint", "groupby-orderby-limit"]
FIELDS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq",
          "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]


def make_queries(facts, per_type=20, seed=456):
    """The TSBS InfluxQL shapes of /work/shared/peers/queries/influxql/*.txt, with hosts and
    start times drawn (seeded) inside the loaded first half."""
    rnd = random.Random(seed)
    lo, hi = facts["t_first"], facts["t_mid"]
    hosts = facts["hosts"]

    def window(length):
        length = min(length, hi - lo)
        start = lo + rnd.randrange(0, (hi - lo - length) // 10**9 + 1) * 10**9
        return f"time >= '{rfc3339(start)}' and time < '{rfc3339(start + length)}'"

    def host_clause(n):
        return "(" + " or ".join(f"hostname = '{h}'" for h in rnd.sample(hosts, n)) + ")"

    qs = {t: [] for t in QUERY_TYPES}
    for _ in range(per_type):
        qs["single-groupby-1-1-1"].append(
            f"SELECT max(usage_user) from cpu where {host_clause(1)} and {window(HOUR)} group by time(1m)")
        qs["single-groupby-5-1-12"].append(
            "SELECT " + ", ".join(f"max({f})" for f in FIELDS[:5]) +
            f" from cpu where {host_clause(1)} and {window(12 * HOUR)} group by time(1m)")
        qs["cpu-max-all-8"].append(
            "SELECT " + ",".join(f"max({f})" for f in FIELDS) +
            f" from cpu where {host_clause(8)} and {window(8 * HOUR)} group by time(1h)")
        qs["double-groupby-1"].append(
            f"SELECT mean(usage_user) from cpu where {window(12 * HOUR)} group by time(1h),hostname")
        qs["double-groupby-all"].append(
            "SELECT " + ", ".join(f"mean({f})" for f in FIELDS) +
            f" from cpu where {window(12 * HOUR)} group by time(1h),hostname")
        qs["lastpoint"].append('SELECT * from cpu group by "hostname" order by time desc limit 1')
        end = lo + HOUR + rnd.randrange(0, max(1, (hi - lo - HOUR) // 10**9)) * 10**9
        qs["groupby-orderby-limit"].append(
            f"SELECT max(usage_user) from cpu WHERE time < '{rfc3339(min(end, hi))}' group by time(1m) limit 5")
    return qs


class QueryClient:
    def __init__(self, port):
        self.port = port
        self.conn = None

    def run(self, q):
        """(seconds, status, body) of one GET /query; body read completely inside the clock."""
        path = "/query?" + urllib.parse.urlencode({"db": "benchmark", "q": q})
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        t0 = time.perf_counter()
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            body = r.read()
        except (http.client.HTTPException, OSError) as e:
            self.conn.close()
            self.conn = None
            return time.perf_counter() - t0, None, repr(e).encode()
        return time.perf_counter() - t0, r.status, body


def check_answer(status, body):
    """None if fine, else what is wrong; and the number of series returned."""
    if status != 200:
        return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}", 0
    try:
        j = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:200]!r}", 0
    if "error" in j:
        return f"error: {j['error']}", 0
    series = 0
    for res in j.get("results", []):
        if "error" in res:
            return f"statement error: {res['error']}", 0
        series += len(res.get("series", []))
    return None, series


def query_loop(ctx, qc, qs, seconds, phase):
    """Round-robin over the types (each cycling through its instances) for `seconds`."""
    lat = {t: [] for t in QUERY_TYPES}
    empty = {t: 0 for t in QUERY_TYPES}
    idx = {t: 0 for t in QUERY_TYPES}
    fails = []
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        for t in QUERY_TYPES:
            q = qs[t][idx[t] % len(qs[t])]
            idx[t] += 1
            dt, st, body = qc.run(q)
            err, series = check_answer(st, body)
            if err:
                fails.append(f"{phase} {t}: {err} — query: {q}")
            else:
                lat[t].append(dt * 1e3)
                if series == 0:
                    empty[t] += 1
    for t in QUERY_TYPES:
        lat[t].sort()
    return lat, empty, fails


def phase_counters(ctx):
    m = metrics(ctx)
    return {"t": time.perf_counter(), "server_cpu": proc_cpu_s(ctx.server.pid), "machine": machine_busy_s(),
            "self": own_cpu_s(),
            "qsum": m.get("strata_query_duration_seconds_sum", 0), "qcount": m.get("strata_query_duration_seconds_count", 0),
            "rot": m.get("strata_rotations_total", 0), "comp": m.get("strata_compactions_total", 0),
            "w503": m.get('strata_http_requests_total{endpoint="/write",status="503"}', 0)}


def phase_delta(a, b, writer_cpu=0.0):
    wall = b["t"] - a["t"]
    srv = b["server_cpu"] - a["server_cpu"]
    mine = b["self"] - a["self"]
    mach = b["machine"] - a["machine"]
    qn = b["qcount"] - a["qcount"]
    return {"wall": wall, "server_cpu": srv, "query_cpu": mine, "writer_cpu": writer_cpu,
            "other_cpu": mach - srv - mine - writer_cpu,
            "server_query_mean_ms": (b["qsum"] - a["qsum"]) / qn * 1e3 if qn else float("nan"),
            "rotations": int(b["rot"] - a["rot"]), "compactions": int(b["comp"] - a["comp"]),
            "w503": int(b["w503"] - a["w503"])}


def machine_facts():
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
    return f"{os.cpu_count()} cores ({cpu}), {mem} RAM, kernel {os.uname().release}"


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], stdout=subprocess.PIPE, text=True).stdout.rstrip()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        return writer_main(sys.argv[2:])
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--phase-seconds", type=float, default=20.0)
    ap.add_argument("--settle-timeout", type=float, default=150.0)
    ap.add_argument("--cmdline", default="")
    args = ap.parse_args()
    ctx = Ctx(args)
    started = datetime.datetime.now(datetime.timezone.utc)
    commit = git(args.repo, "rev-parse", "--short", "HEAD")
    dirty = [l[3:] for l in git(args.repo, "status", "--porcelain", "--untracked-files=no").splitlines()]
    version = subprocess.run([args.strata, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    load_before = open("/proc/loadavg").read().split()[:3]
    D = args.phase_seconds
    try:
        log(f"== splitting {args.data}")
        facts = load_halves(ctx)
        log(f"   first half {facts['first_lines']} lines ({rfc3339(facts['t_first'])} .. {rfc3339(facts['t_mid'])}), "
            f"second half {facts['second_lines']} lines, {len(facts['hosts'])} hosts")
        start_server(ctx)
        log(f"== strata serve on 127.0.0.1:{ctx.port} (pid {ctx.server.pid}): {' '.join(ctx.server_cmd[1:])}")

        # Maximum rate.
        w = Writer(ctx, os.path.join(ctx.work, "first.lp"), 0, 0, 0)
        c0 = phase_counters(ctx)
        w.go()
        load = w.result()
        c1 = phase_counters(ctx)
        ld = phase_delta(c0, c1, load["writer_cpu_s"])
        if load["errors"]:
            ctx.problems.append(f"max-rate load: {load['errors']} writes not acknowledged: {load['first_errors']}")
        R = load["points_per_s"]
        log(f"== max rate R = {mpoints(R)} ({load['points']} points in {load['wall_s']} s, "
            f"{load['retried_503']} retried 503s)")
        if R <= 0:
            raise Failed("max-rate load wrote nothing")

        log("== waiting for the first background rotation + compaction")
        settle_s, st_settled = settle(ctx, args.settle_timeout)
        log(f"   settled after {settle_s:.1f} s: {tiers_str(st_settled)}")

        qs = make_queries(facts)
        qc = QueryClient(ctx.port)
        warm_empty = []
        for t in QUERY_TYPES:  # warm-up pass (not timed), and a first check of every query
            for q in qs[t]:
                _, stc, body = qc.run(q)
                err, series = check_answer(stc, body)
                if err:
                    ctx.problems.append(f"warm-up {t}: {err} — query: {q}")
                elif series == 0:
                    warm_empty.append(t)
        if warm_empty:
            ctx.notes.append(f"queries returning no series in the warm-up: {sorted(set(warm_empty))}")

        log(f"== phase idle ({D:.0f} s)")
        s_idle = status(ctx)
        c0 = phase_counters(ctx)
        idle, idle_empty, fails = query_loop(ctx, qc, qs, D, "idle")
        c1 = phase_counters(ctx)
        idle_d = phase_delta(c0, c1)
        ctx.problems += fails

        target = R / 2
        log(f"== phase under ingest ({D:.0f} s, writer paced to {mpoints(target)})")
        w = Writer(ctx, os.path.join(ctx.work, "second.lp"), target, D, facts["half_span"])
        s_ing0 = status(ctx)
        c0 = phase_counters(ctx)
        w.go()
        ing, ing_empty, fails = query_loop(ctx, qc, qs, D, "under ingest")
        paced = w.result()
        c1 = phase_counters(ctx)
        ing_d = phase_delta(c0, c1, paced["writer_cpu_s"])
        s_ing1 = status(ctx)
        ctx.problems += fails
        # Phase "after ingest": the writer has stopped, the hot tier is as it left it. Tells
        # whether the slowdown comes from the concurrent writes or from what they left in hot.
        # It must end before the next background age tick (rotation_interval, default 60 s,
        # after the first one), which would rotate and compact everything the writer sent.
        room = (ctx.tick1 + 60 - 3 - time.perf_counter()) if ctx.tick1 else D
        after_s = min(D, room)
        after, after_d = None, None
        if after_s >= 3:
            log(f"== phase after ingest ({after_s:.0f} s, no writes)")
            c0 = phase_counters(ctx)
            after, _, fails = query_loop(ctx, qc, qs, after_s, "after ingest")
            c1 = phase_counters(ctx)
            after_d = phase_delta(c0, c1)
            ctx.problems += fails
        else:
            ctx.notes.append(f"no 'after ingest' phase: only {room:.0f} s left before the next background age tick")
        if paced["errors"]:
            ctx.problems.append(f"paced writer: {paced['errors']} writes not acknowledged: {paced['first_errors']}")
        log(f"   paced writer achieved {mpoints(paced['points_per_s'])} ({paced['points']} points, "
            f"{paced['retried_503']} retried 503s, write p50/p99 {paced['write_p50_ms']}/{paced['write_p99_ms']} ms)")
        for name, d in (("idle", idle_d), ("under ingest", ing_d), ("after ingest", after_d)):
            if d is None:
                continue
            if d["compactions"]:
                ctx.notes.append(f"{d['compactions']} background compaction(s) ran during the {name} phase")
            if d["other_cpu"] > 0.1 * d["wall"]:
                ctx.notes.append(f"other processes used {d['other_cpu']:.1f} CPU-s during the {name} phase "
                                 f"({d['wall']:.0f} s): the machine was not quiet")
        for name, lat in (("idle", idle), ("under ingest", ing), ("after ingest", after)):
            n = min((len(v) for v in (lat or {}).values()), default=100)
            if n < 100:
                ctx.notes.append(f"{name}: {n} samples per type; with fewer than 100 the p99 (nearest rank) "
                                 "is the slowest sample")
        for name, e in (("idle", idle_empty), ("under ingest", ing_empty)):
            if any(e.values()):
                ctx.notes.append(f"{name}: answers without series: {({k: v for k, v in e.items() if v})}")
    finally:
        stop_s = None
        try:
            stop_s = stop_server(ctx)
        finally:
            shutil.rmtree(os.path.join(ctx.work, "data"), ignore_errors=True)

    # ----- report
    rows = ["| query type | idle p50 | idle p99 | under ingest p50 | under ingest p99 | ratio of p99s | samples (idle / ingest) |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for t in QUERY_TYPES:
        a, b = idle[t], ing[t]
        r = pct(b, 99) / pct(a, 99) if a and b else float("nan")
        rows.append(f"| {t} | {ms(pct(a, 50))} | {ms(pct(a, 99))} | {ms(pct(b, 50))} | {ms(pct(b, 99))} | "
                    f"{r:.2f} | {len(a)} / {len(b)} |")
    table = "\n".join(rows)
    after_table = ""
    if after:
        rows = ["| query type | idle p50 | idle p99 | after ingest p50 | after ingest p99 | ratio of p99s (after / idle) | samples |",
                "| --- | --- | --- | --- | --- | --- | --- |"]
        for t in QUERY_TYPES:
            a, b = idle[t], after[t]
            r = pct(b, 99) / pct(a, 99) if a and b else float("nan")
            rows.append(f"| {t} | {ms(pct(a, 50))} | {ms(pct(a, 99))} | {ms(pct(b, 50))} | {ms(pct(b, 99))} | "
                        f"{r:.2f} | {len(b)} |")
        after_table = (f"After the writer stopped ({after_d['wall']:.0f} s, no writes, the hot tier as the writer left it, "
                       "before the next background age tick):\n\n" + "\n".join(rows) + "\n")
    date = started.strftime("%Y-%m-%d")
    loaded = f"{rfc3339(facts['t_first'])} .. {rfc3339(facts['t_mid'])}"
    passes = paced["passes"]
    written_to = facts["t_mid"] + int(passes * facts["half_span"])
    summary = [
        f"- max ingest rate R (first half, {facts['first_lines']:,} lines = {load['points']:,} points, 2 clients, "
        f"5,000-line batches): **{mpoints(R)}** ({load['wall_s']} s; server {ld['server_cpu']:.2f} CPU-s; "
        f"{load['retried_503']} retried 503s)",
        f"- paced writer during the second phase: target R/2 = {mpoints(target)}, achieved **{mpoints(paced['points_per_s'])}** "
        f"({paced['points']:,} points in {paced['wall_s']} s, {paced['batches']} batches all answered 204"
        f"{'' if not paced['errors'] else ' — NOT all: ' + str(paced['errors']) + ' failed'}; "
        f"{paced['retried_503']} retried 503s; write latency p50 {paced['write_p50_ms']} ms, p99 {paced['write_p99_ms']} ms; "
        f"most behind schedule {paced['max_behind_schedule_s']} s; data written {rfc3339(facts['t_mid'])} .. "
        f"{rfc3339(written_to)}, {passes} passes over the second half)",
    ]
    phase_lines = []
    for name, d, lat in (("idle", idle_d, idle), ("under ingest", ing_d, ing), ("after ingest", after_d, after)):
        if d is None:
            continue
        n = sum(len(v) for v in lat.values())
        client_mean = sum(sum(v) for v in lat.values()) / n if n else float("nan")
        phase_lines.append(
            f"| {name} | {d['wall']:.1f} s | {n} ({n / d['wall']:.0f}/s) | {ms(client_mean)} / {ms(d['server_query_mean_ms'])} | "
            f"{d['server_cpu']:.1f} | {d['query_cpu']:.1f} / {d['writer_cpu']:.1f} | "
            f"{max(0.0, d['other_cpu']):.1f} | {d['rotations']} / {d['compactions']} |")
    report = f"""# Query latency under ingest — {started.strftime('%Y-%m-%d %H:%M UTC')}

Command: `{args.cmdline.strip()}`
Strata: {version}, commit `{commit}`{' (uncommitted changes in: ' + ', '.join(dirty) + ')' if dirty else ''}
Machine: {machine_facts()}; load average before the run {' '.join(load_before)}
Server: `strata serve --fsync always` (every other setting default) on a fresh directory,
loopback. Data: `{os.path.basename(args.data)}`, first half {loaded} loaded, {len(facts['hosts'])} hosts.
Queries: one keep-alive client, the {len(QUERY_TYPES)} types round-robin, 20 instances each (TSBS
InfluxQL shapes, seeded hosts and windows inside the loaded half), {D:.0f} s per phase, after an untimed
warm-up pass; latency = request sent to answer read, over loopback.

{table}

{chr(10).join(summary)}

{after_table}
| phase | wall | queries answered | mean query latency, client / server | server CPU-s | client CPU-s, queries / writer | other processes CPU-s | background rotations / compactions |
| --- | --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(phase_lines)}

Mean query latency: client = over every timed query of the phase, as the table above measures it;
server = `strata_query_duration_seconds` sum / count over the phase (the server's own time per
`/query`). Client CPU: the query process / the writer process (2 clients), since the phase began.

Tiers after the first background maintenance ({settle_s:.0f} s after the load): {tiers_str(st_settled)}.
At the start of the idle phase: {tiers_str(s_idle)}. Under ingest, start: {tiers_str(s_ing0)};
end: {tiers_str(s_ing1)}. Server stopped with SIGTERM in {stop_s if stop_s is None else f'{stop_s:.1f} s'}.
"""
    if ctx.notes:
        report += "\nNotes:\n" + "\n".join(f"- {n}" for n in ctx.notes) + "\n"
    if ctx.problems:
        report += "\nFAILURES:\n" + "\n".join(f"- {p}" for p in ctx.problems[:20]) + \
                  (f"\n- … {len(ctx.problems) - 20} more" if len(ctx.problems) > 20 else "") + "\n"
    os.makedirs(args.out, exist_ok=True)
    out_path = os.path.join(args.out, f"mixed-{date}.md")
    with open(out_path, "w") as f:
        f.write(report)
    print(report)
    log(f"== wrote {out_path}")
    if ctx.problems:
        log(f"FAILED: {len(ctx.problems)} problem(s), first: {ctx.problems[0]}")
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failed as e:
        log(f"mixed.py: {e}")
        sys.exit(1)
