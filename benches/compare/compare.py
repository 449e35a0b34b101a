#!/usr/bin/env python3
"""Driver of benches/compare/run.sh: Strata beside InfluxDB 1.x, VictoriaMetrics and DuckDB.

Stdlib + duckdb only. Everything talks to 127.0.0.1. Every process started here has its pid
appended to WORK/pids (run.sh's trap stops them too) and is stopped here by pid.

Systems are described by small classes with the same hooks (start, load, settle_disk,
disk_bytes, queries); an HTTP Strata row is one more HttpPeer (see StrataHttp).
"""
import argparse
import datetime as dt
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse

QUERY_TYPES_ORDER = [
    "single-groupby-1-1-1", "single-groupby-1-8-1", "single-groupby-5-1-12", "cpu-max-all-8",
    "double-groupby-1", "double-groupby-all", "high-cpu-1", "lastpoint", "groupby-orderby-limit",
    "scan",
]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    pass


# --------------------------------------------------------------------------- helpers

class Ctx:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.pidfile = os.path.join(args.work, "pids")
        self.started = []  # pids started by this script, in order
        self.notes = []    # caveats found during the run, printed under the tables

    def register(self, pid):
        self.started.append(pid)
        with open(self.pidfile, "a") as f:
            f.write(f"{pid}\n")

    def stop(self, pid, grace=10.0):
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        t = time.time()
        while time.time() - t < grace:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            # reap if it is our child
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def done(self, pid):
        """A child we already reaped: forget it so that nobody kills a reused pid later."""
        if pid in self.started:
            self.started.remove(pid)
        with open(self.pidfile, "w") as f:
            f.write("".join(f"{p}\n" for p in self.started))

    def stop_all(self):
        for pid in reversed(self.started):
            self.stop(pid)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_port(also_plus=()):
    """A free loopback TCP port p such that p+k is free too for each k in also_plus."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        ok = True
        for k in also_plus:
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", p + k))
            except OSError:
                ok = False
            finally:
                t.close()
        if ok and p + max(also_plus or (0,)) < 65536:
            return p
    raise Fail("no free loopback port found")


def dir_bytes(*paths, apparent=False):
    """Bytes allocated on disk under the given paths, as `du` counts them (st_blocks * 512):
    sparse preallocated files (InfluxDB's 4 MiB series-file segments) count only what is
    written. apparent=True sums file sizes instead, as `du -b` does."""
    total = 0
    for p in paths:
        if not os.path.exists(p):
            continue
        walk = [(os.path.dirname(p), [], [os.path.basename(p)])] if os.path.isfile(p) else os.walk(p)
        for root, _dirs, files in walk:
            for fn in files:
                try:
                    st = os.lstat(os.path.join(root, fn))
                except FileNotFoundError:
                    continue
                total += st.st_size if apparent else st.st_blocks * 512
    return total


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


def http_get(port, path, timeout=600):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def pids_with_arg(needle):
    """Pids whose command line contains `needle` (an exact path of this run's temp dir)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        out.append(int(d))
            except OSError:
                pass
    return out


def run_lp_load(ctx, url, workers, server_pid=None):
    cmd = [sys.executable, os.path.join(ctx.args.peers_dir, "lp_load.py"), "--file", ctx.lp_path,
           "--url", url, "--workers", str(workers), "--batch", "5000"]
    if server_pid:
        cmd += ["--server-pid", str(server_pid)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctx.register(p.pid)
    out, err = p.communicate()
    ctx.done(p.pid)
    if p.returncode != 0:
        raise Fail(f"lp_load.py to {url} failed (exit {p.returncode}): {out[-2000:]} {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def timed_samples(fn, queries, reps, warm=True):
    """One warm-up pass over all queries, then reps passes; returns latencies in ms."""
    if warm:
        for q in queries:
            fn(q)
    lat = []
    for _ in range(reps):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            lat.append((time.perf_counter() - t) * 1000)
    return lat


def machine_busy_s():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def wait_idle(ctx, before, threshold=0.15, cap=10.0):
    """Wait (at most `cap` s) until the machine uses < threshold of one core over 1 s; if it never
    does (other people's builds share this machine), say so in the report."""
    t0 = time.time()
    busy = 0.0
    while time.time() - t0 < cap:
        b0 = machine_busy_s()
        time.sleep(1.0)
        busy = machine_busy_s() - b0
        if busy < threshold:
            return
    msg = f"the machine was busy ({busy:.2f} cores in use by other processes) before the {before} load"
    log(msg)
    ctx.notes.append(msg + "; its figure may be low.")


def p99(xs):
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.99 * len(s)) - 1)]


# --------------------------------------------------------------------------- systems

def influxql_http_fn(port, who):
    """A function running one InfluxQL query as `GET /query` on one keep-alive loopback
    connection (reconnecting once if the server closed it); a non-200 answer or an error
    in the body fails the run."""
    conn = [http.client.HTTPConnection("127.0.0.1", port, timeout=600)]

    def run(q):
        path = "/query?db=benchmark&q=" + urllib.parse.quote(q)
        for attempt in range(2):
            try:
                conn[0].request("GET", path)
                r = conn[0].getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, OSError):
                conn[0].close()
                conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                if attempt:
                    raise
        if r.status != 200 or b'"error"' in body:
            raise Fail(f"{who} query failed ({r.status}): {q}: {body[:300]!r}")
        return body
    return run


def promql_http_fn(port, who, extra_params=None):
    """A function running one PromQL range query q = (expr, start, end, step) (unix seconds,
    step in seconds, as in the peers' .tsv files) as `GET /api/v1/query_range` on one
    keep-alive loopback connection, for any Prometheus-compatible API (VictoriaMetrics with
    extra_params {"nocache": "1"}, Prometheus, Strata); a non-200 answer or a body with
    status "error" fails."""
    conn = [http.client.HTTPConnection("127.0.0.1", port, timeout=600)]
    extra = dict(extra_params or {})

    def run(q):
        expr, start, end, step = q
        path = "/api/v1/query_range?" + urllib.parse.urlencode(
            {"query": expr, "start": start, "end": end, "step": step, **extra})
        for attempt in range(2):
            try:
                conn[0].request("GET", path)
                r = conn[0].getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, OSError):
                conn[0].close()
                conn[0] = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                if attempt:
                    raise
        if r.status != 200 or b'"status":"error"' in body[:64]:
            raise Fail(f"{who} query failed ({r.status}): {expr}: {body[:300]!r}")
        return body
    return run


class HttpPeer:
    """A server loaded with lp_load.py over HTTP."""
    name = "?"
    kind = "HTTP, lp_load.py"
    write_path = "/write"

    def __init__(self, ctx):
        self.ctx = ctx
        self.pid = None
        self.dir = None
        self.port = None
        self.log_path = None

    def url(self):
        return f"http://127.0.0.1:{self.port}{self.write_path}"

    def start(self, tag):
        raise NotImplementedError

    def stop(self):
        if self.pid:
            self.ctx.stop(self.pid, grace=30)
            self.ctx.done(self.pid)
        self.pid = None

    def load(self, workers):
        r = run_lp_load(self.ctx, self.url(), workers, self.pid)
        if r.get("http_errors"):
            raise Fail(f"{self.name}: {r['http_errors']} HTTP errors: {r['first_errors']}")
        return r

    def check_alive(self, what):
        if not self.pid or not alive(self.pid):
            raise Fail(f"{self.name} is not running ({what}); tail of {self.log_path}:\n"
                       + tail(self.log_path))

    def start_script(self, script, tag, extra_ports=()):
        self.dir = os.path.join(self.ctx.work, f"{self.short}-{tag}")
        self.port = free_port(extra_ports)
        cmd = ["bash", os.path.join(self.ctx.args.peers_dir, script), self.dir, str(self.port)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the script's server keeps running in the background: find it even if the script failed
        pid = None
        if p.returncode == 0 and p.stdout.strip().splitlines():
            pid = int(p.stdout.strip().splitlines()[-1])
        leftovers = [x for x in pids_with_arg(self.dir) if x != os.getpid()]
        for x in ([pid] if pid else []) + leftovers:
            if x not in self.ctx.started:
                self.ctx.register(x)
        if p.returncode != 0 or not pid:
            for x in leftovers:
                self.ctx.stop(x)
            raise Fail(f"{self.name} failed to start ({script} exit {p.returncode}): {p.stderr[-1000:]}\n"
                       f"tail of {self.log_path}:\n{tail(self.log_path)}")
        self.pid = pid
        self.check_alive("right after start")


class InfluxDB(HttpPeer):
    name = "InfluxDB"
    short = "influxdb"
    write_path = "/write?db=benchmark&precision=ns"

    def start(self, tag):
        self.log_path = os.path.join(self.ctx.work, f"{self.short}-{tag}", "influxd.log")
        self.start_script("influxdb.sh", tag, extra_ports=(2,))
        st, body = http_get(self.port, "/query?q=" + urllib.parse.quote("SHOW DATABASES"))
        if st != 200 or b"benchmark" not in body:
            raise Fail(f"InfluxDB: database benchmark missing: {st} {body[:300]!r}\n{tail(self.log_path)}")

    def version(self):
        out = subprocess.run(["influxd", "version"], stdout=subprocess.PIPE, text=True).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"

    def disk_paths(self):
        return [os.path.join(self.dir, "data"), os.path.join(self.dir, "wal")]

    def settle_disk(self, loaded_at, quick):
        """Wait until data+wal size is unchanged for 20 s. The peer config snapshots the cache
        10 s and fully compacts 30 s after the last write (~2 min in practice), so wait at
        least 150 s after the load before taking a stable size as final."""
        stable_for, step = 20.0, 2.0
        min_wait = 150.0                   # do not mistake the pre-compaction lull for the end
        cap = 240.0 if quick else 600.0    # measured from the end of the load
        last, since = None, time.time()
        while True:
            self.check_alive("waiting for compaction")
            size = dir_bytes(*self.disk_paths())
            now = time.time()
            if size != last:
                last, since = size, now
            waited = now - loaded_at
            if now - since >= stable_for and waited >= min_wait:
                return size, dir_bytes(*self.disk_paths(), apparent=True), \
                    f"data+wal stable for {stable_for:.0f} s, {waited:.0f} s after the load"
            if waited >= cap:
                return size, dir_bytes(*self.disk_paths(), apparent=True), (f"NOT settled: wait capped at {cap:.0f} s after the load"
                              + (" (--quick)" if quick else "") + "; may be before full compaction")
            time.sleep(step)

    def query_fn(self):
        return influxql_http_fn(self.port, "InfluxDB")


class VictoriaMetrics(HttpPeer):
    name = "VictoriaMetrics"
    short = "vm"
    write_path = "/influx/write?precision=ns"

    def start(self, tag):
        self.log_path = os.path.join(self.ctx.work, f"{self.short}-{tag}", "vm.log")
        self.start_script("victoriametrics.sh", tag)
        try:
            st, _ = http_get(self.port, "/health", timeout=5)
        except OSError as e:
            st = repr(e)
        if st != 200:
            raise Fail(f"VictoriaMetrics not healthy on port {self.port} ({st}); tail of {self.log_path}:\n"
                       + tail(self.log_path))

    def version(self):
        v = subprocess.run(["victoria-metrics", "-version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True).stdout.strip()
        if not v:
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"],
                               stdout=subprocess.PIPE, text=True).stdout.strip()
        return f"victoria-metrics {v}" if v else "?"

    def disk_paths(self):
        return [os.path.join(self.dir, "data")]

    def settle_disk(self, loaded_at, quick):
        self.check_alive("before force_flush")
        st, b = http_get(self.port, "/internal/force_flush")
        if st != 200:
            raise Fail(f"VictoriaMetrics force_flush: {st} {b[:200]!r}")
        prefix = self.ctx.partition_prefix
        st, b = http_get(self.port, f"/internal/force_merge?partition_prefix={prefix}")
        if st != 200:
            raise Fail(f"VictoriaMetrics force_merge: {st} {b[:200]!r}")
        stable_for, step, cap = 10.0, 1.0, (120.0 if quick else 600.0)
        t0 = time.time()
        last, since = None, t0
        while True:
            size = dir_bytes(*self.disk_paths())
            now = time.time()
            if size != last:
                last, since = size, now
            if now - since >= stable_for:
                return size, dir_bytes(*self.disk_paths(), apparent=True), \
                    f"force_flush + force_merge?partition_prefix={prefix}, then stable {stable_for:.0f} s"
            if now - t0 >= cap:
                return size, dir_bytes(*self.disk_paths(), apparent=True), f"NOT settled after force_merge: capped at {cap:.0f} s"
            time.sleep(step)

    def query_fn(self):
        return promql_http_fn(self.port, "VictoriaMetrics", {"nocache": "1"})


class StrataHttp(HttpPeer):
    """Strata's HTTP server (InfluxDB-compatible /write), loaded like the peers.

    start() runs `strata serve --fsync always` on a free loopback port with its data under
    WORK; the load is lp_load.py with the same workers and batches as the peers. With
    STRATA_URL=http://127.0.0.1:PORT the row points at a server you started yourself
    instead (ingest only: its disk is not ours).
    """
    name = "Strata (HTTP)"
    short = "strata-http"
    kind = "`strata serve`, fsync always, lp_load.py"
    write_path = "/write?db=benchmark&precision=ns"

    def __init__(self, ctx, url=None, strata=None):
        super().__init__(ctx)
        self.base = url
        self.strata = strata

    def available(self):
        return bool(self.base) or bool(self.strata and self.strata.has_serve)

    def start(self, tag):
        if self.base:
            u = urllib.parse.urlsplit(self.base)
            if u.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise Fail(f"STRATA_URL must be a loopback address, got {self.base}")
            self.port = u.port or 80
            return
        self.dir = os.path.join(self.ctx.work, f"{self.short}-{tag}")
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = free_port()
        self.log_path = os.path.join(self.ctx.work, f"{self.short}-{tag}.log")
        log_f = open(self.log_path, "w")
        p = subprocess.Popen([self.strata.bin, "serve", "--data-dir", self.dir,
                              "--listen", f"127.0.0.1:{self.port}", "--fsync", "always"],
                             stdout=log_f, stderr=log_f)
        log_f.close()
        self.ctx.register(p.pid)
        self.pid = p.pid
        self.proc = p
        for _ in range(600):
            try:
                st, _ = http_get(self.port, "/ready", timeout=5)
                if st == 200:
                    return
            except OSError:
                pass
            if p.poll() is not None:
                break
            time.sleep(0.1)
        raise Fail(f"strata serve did not become ready; tail of {self.log_path}:\n{tail(self.log_path)}")

    def stop(self):
        if self.base:
            return  # not ours
        if self.pid:
            self.ctx.stop(self.pid, grace=60)
            try:
                self.proc.wait(timeout=1)
            except Exception:
                pass
            self.ctx.done(self.pid)
        self.pid = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def load(self, workers):
        if self.base:
            return run_lp_load(self.ctx, self.url(), workers)
        r = run_lp_load(self.ctx, self.url(), workers, self.pid)
        if r.get("http_errors"):
            raise Fail(f"{self.name}: {r['http_errors']} HTTP errors: {r['first_errors']}")
        return r


class DuckDB:
    name = "DuckDB"
    kind = "CSV bulk load, in-process"

    def __init__(self, ctx):
        import duckdb
        self.duckdb = duckdb
        self.ctx = ctx
        self.con = None
        self.path = None

    def version(self):
        return f"duckdb {self.duckdb.__version__} (Python)"

    def load(self, threads, tag, keep):
        """Load the CSV into a fresh database file with `threads` threads; only COPY is timed."""
        self.path = os.path.join(self.ctx.work, f"duckdb-{tag}.db")
        con = self.duckdb.connect(self.path)
        con.execute(f"SET threads={threads}")
        cols = ", ".join(["time TIMESTAMP"] + [f'"{t}" VARCHAR' for t in self.ctx.tag_keys]
                         + [f'"{f}" BIGINT' for f in self.ctx.field_keys])
        con.execute(f"CREATE TABLE cpu({cols})")
        t = time.perf_counter()
        con.execute(f"COPY cpu FROM '{self.ctx.csv_path}' (FORMAT csv, HEADER true)")
        wall = time.perf_counter() - t
        n = con.execute("SELECT count(*) FROM cpu").fetchone()[0]
        if n != self.ctx.csv_rows:
            raise Fail(f"DuckDB loaded {n} rows, expected {self.ctx.csv_rows}")
        points = n * len(self.ctx.field_keys)
        if keep:
            self.con = con
        else:
            con.close()
            for p in (self.path, self.path + ".wal"):
                if os.path.exists(p):
                    os.remove(p)
        return {"points": points, "wall_s": round(wall, 3), "points_per_s": round(points / wall)}

    def disk(self):
        self.con.execute("CHECKPOINT")
        files = [self.path, self.path + ".wal"]
        return dir_bytes(*files), dir_bytes(*files, apparent=True), "database file after CHECKPOINT"

    def query_fn(self):
        con = self.con

        def run(q):
            return con.execute(q).fetchall()
        return run

    def close(self):
        if self.con:
            self.con.close()
            self.con = None


class StrataEmbedded:
    name = "Strata"
    kind = "embedded `strata import`, fsync always"

    def __init__(self, ctx):
        self.ctx = ctx
        self.bin = ctx.args.strata
        self.dir = None
        self.commands = self._subcommands(self.bin)
        self.has_query = "query" in self.commands
        self.has_compact = "compact" in self.commands
        self.has_to_cold = self.has_compact and "--to-cold" in self._help(["compact", "--help"])
        self.has_serve = "serve" in self.commands

    def _help(self, argv):
        p = subprocess.run([self.bin] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return p.stdout

    def _subcommands(self, binary):
        """Names listed under "Commands:" in `strata --help` (the about line mentions planned ones)."""
        out, names, inside = self._help(["--help"]), set(), False
        for line in out.splitlines():
            if line.strip() == "Commands:":
                inside = True
                continue
            if inside:
                if not line.startswith("  "):
                    break
                names.add(line.split()[0])
        return names

    def version(self):
        return self._help(["--version"]).strip()

    def _run(self, argv, what):
        p = subprocess.Popen([self.bin] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ctx.register(p.pid)
        out, err = p.communicate()
        self.ctx.done(p.pid)
        if p.returncode != 0:
            raise Fail(f"strata {what} failed (exit {p.returncode}):\n{err[-3000:]}")
        return out, err

    def load(self, writers, tag, keep):
        d = os.path.join(self.ctx.work, f"strata-{tag}")
        shutil.rmtree(d, ignore_errors=True)
        t = time.perf_counter()
        _out, err = self._run(["import", "--data-dir", d, self.ctx.lp_path, "--writers", str(writers)],
                              "import")
        wall = time.perf_counter() - t
        m = re.search(r"imported (\d+) points \((\d+) lines\) in ([0-9.]+) s: ([0-9.]+) points/s", err)
        if not m:
            raise Fail(f"strata import printed no points/s line:\n{err[-2000:]}")
        r = {"points": int(m.group(1)), "lines": int(m.group(2)), "wall_s": float(m.group(3)),
             "points_per_s": round(float(m.group(4))), "process_wall_s": round(wall, 3)}
        if keep:
            self.dir = d
        else:
            shutil.rmtree(d, ignore_errors=True)
        return r

    def disk(self):
        before = (dir_bytes(self.dir), dir_bytes(self.dir, apparent=True))
        after = None
        if self.has_to_cold:
            self._run(["compact", "--data-dir", self.dir, "--to-cold"], "compact --to-cold")
            after = (dir_bytes(self.dir), dir_bytes(self.dir, apparent=True))
        return before, after

    def query_fn(self):
        """Queries as the peers get them: over loopback HTTP to a running `strata serve` on
        the (compacted) directory, one keep-alive connection. Without `serve`, one
        `strata query` process per query (process start and directory open included)."""
        if not self.has_serve:
            def run_cli(q):
                out, _ = self._run(["query", "--data-dir", self.dir, q, "--format", "json"], "query")
                return out
            return run_cli
        port = free_port()
        log_f = open(os.path.join(self.ctx.work, "strata-query-serve.log"), "w")
        p = subprocess.Popen([self.bin, "serve", "--data-dir", self.dir,
                              "--listen", f"127.0.0.1:{port}"], stdout=log_f, stderr=log_f)
        log_f.close()
        self.ctx.register(p.pid)
        self.serve_proc = p
        for _ in range(600):
            try:
                st, _ = http_get(port, "/ready", timeout=2)
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        else:
            raise Fail("strata serve did not become ready for the queries")
        return influxql_http_fn(port, "Strata")

    def stop_queries(self):
        p = getattr(self, "serve_proc", None)
        if p and p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
            self.ctx.done(p.pid)


# --------------------------------------------------------------------------- data

def prepare_data(ctx):
    """Decompress the LP once (shared by lp_load.py and strata import), and write the DuckDB CSV."""
    src = ctx.args.data
    ctx.lp_path = src  # lp_load.py and strata import both read .zst themselves
    raw = (subprocess.run(["zstd", "-dc", src], check=True, stdout=subprocess.PIPE).stdout
           if src.endswith(".zst") else open(src, "rb").read())
    ctx.lp_bytes = len(raw)
    lines = [l for l in raw.split(b"\n") if l and not l.startswith(b"#")]
    del raw
    ctx.lines = len(lines)
    # Schema: tag keys and field keys of measurement cpu, in first-seen order.
    tag_keys, field_keys, seen_t, seen_f = [], [], set(), set()
    other = 0
    for l in lines[:20000]:
        head, fields, _ts = l.rsplit(b" ", 2)
        meas, *tags = head.split(b",")
        if meas != b"cpu":
            continue
        for kv in tags:
            k = kv.split(b"=", 1)[0].decode()
            if k not in seen_t:
                seen_t.add(k)
                tag_keys.append(k)
        for kv in fields.split(b","):
            k = kv.split(b"=", 1)[0].decode()
            if k not in seen_f:
                seen_f.add(k)
                field_keys.append(k)
    if not field_keys:
        raise Fail(f"{src}: no `cpu` measurement: the query sets need the TSBS cpu-only data")
    ctx.tag_keys, ctx.field_keys = tag_keys, field_keys
    tpos = {k.encode(): i for i, k in enumerate(tag_keys)}
    fpos = {k.encode(): i for i, k in enumerate(field_keys)}
    nt, nf = len(tag_keys), len(field_keys)
    ctx.points = 0
    tcache = {}
    min_ts, max_ts = None, None
    ctx.csv_path = os.path.join(ctx.work, "cpu.csv")
    rows = 0
    t0 = time.perf_counter()
    with open(ctx.csv_path, "wb", buffering=1 << 22) as out:
        out.write(b",".join([b"time"] + [k.encode() for k in tag_keys] + [k.encode() for k in field_keys]) + b"\n")
        buf = []
        for l in lines:
            head, fields, ts = l.rsplit(b" ", 2)
            fl = fields.split(b",")
            ctx.points += len(fl)
            meas, *tags = head.split(b",")
            if meas != b"cpu":
                other += 1
                continue
            tsv = tcache.get(ts)
            if tsv is None:
                n = int(ts)
                min_ts = n if min_ts is None or n < min_ts else min_ts
                max_ts = n if max_ts is None or n > max_ts else max_ts
                d = dt.datetime.fromtimestamp(n // 1_000_000_000, dt.timezone.utc)
                frac = n % 1_000_000_000
                s = d.strftime("%Y-%m-%d %H:%M:%S") + (f".{frac // 1000:06d}" if frac else "")
                tsv = tcache[ts] = s.encode()
                if len(tcache) > 100000:
                    tcache.clear()
            row = [b""] * (1 + nt + nf)
            row[0] = tsv
            for kv in tags:
                k, v = kv.split(b"=", 1)
                row[1 + tpos[k]] = v
            for kv in fl:
                k, v = kv.split(b"=", 1)
                if v.endswith(b"i"):
                    v = v[:-1]
                row[1 + nt + fpos[k]] = v
            buf.append(b",".join(row))
            rows += 1
            if len(buf) >= 50000:
                out.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            out.write(b"\n".join(buf) + b"\n")
    ctx.csv_rows = rows
    ctx.other_lines = other
    ctx.min_ts, ctx.max_ts = min_ts, max_ts
    ctx.partition_prefix = dt.datetime.fromtimestamp(min_ts // 10**9, dt.timezone.utc).strftime("%Y_%m")
    log(f"data: {ctx.lines} lines, {ctx.points} points, {rows} cpu rows -> CSV in "
        f"{time.perf_counter() - t0:.1f} s (not timed in the results)")


def load_queries(peers_dir):
    base = os.path.join(peers_dir, "queries")
    qs = {"influxql": {}, "promql": {}, "duckdb": {}}
    for lang, ext in (("influxql", ".txt"), ("promql", ".tsv"), ("duckdb", ".sql")):
        d = os.path.join(base, lang)
        for fn in sorted(os.listdir(d)):
            if not fn.endswith(ext):
                continue
            t = fn[: -len(ext)]
            with open(os.path.join(d, fn)) as f:
                lines = [l.rstrip("\n") for l in f if l.strip()]
            if lang == "promql":
                # expr \t start (unix s) \t end (unix s) \t step (s)
                lines = [tuple(l.split("\t")) for l in lines]
                for x in lines:
                    if len(x) != 4:
                        raise Fail(f"{fn}: expected 4 tab-separated columns, got {x!r}")
            qs[lang][t] = lines
    types = set().union(*[set(v) for v in qs.values()])
    order = [t for t in QUERY_TYPES_ORDER if t in types] + sorted(types - set(QUERY_TYPES_ORDER))
    return qs, order


# --------------------------------------------------------------------------- formatting

def fmt_rate(x):
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M points/s"
    return f"{x / 1e3:.0f} k points/s"


def fmt_ms(x):
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f} ms"
    if x >= 10:
        return f"{x:.1f} ms"
    return f"{x:.2f} ms"


def ratio_cell(strata, peers, higher_better):
    """peers: {name: value}. Ratio Strata / best peer, best = max (throughput) or min (size, latency)."""
    vals = {k: v for k, v in peers.items() if v is not None}
    if strata is None or not vals:
        return "n/a"
    best = max(vals, key=vals.get) if higher_better else min(vals, key=vals.get)
    return f"{strata / vals[best]:.2f} (vs {best})"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join([" --- "] * len(header)) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def machine_facts(ctx, systems):
    mem = "?"
    with open("/proc/meminfo") as f:
        for l in f:
            if l.startswith("MemTotal:"):
                mem = f"{int(l.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                cpu = l.split(":", 1)[1].strip()
                break
    repo = ctx.args.repo
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], stdout=subprocess.PIPE, text=True).stdout.strip()
    branch = subprocess.run(["git", "-C", repo, "rev-parse", "--abbrev-ref", "HEAD"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", repo, "diff", "--name-only", "HEAD"],
                           stdout=subprocess.PIPE, text=True).stdout.split()
    return [
        ("nproc", str(os.cpu_count())),
        ("memory (MemTotal)", mem),
        ("CPU", cpu),
        ("kernel", os.uname().release),
        ("InfluxDB", systems["influx"].version()),
        ("VictoriaMetrics", systems["vm"].version()),
        ("DuckDB", systems["duck"].version()),
        ("Strata", f"{systems['strata'].version()}, commit {commit[:12]} ({branch})"
                   + (f" + uncommitted changes to {', '.join(dirty)}" if dirty else "")),
    ]


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--peers-dir", required=True)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--cmdline", required=True)
    args = ap.parse_args()

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    ctx = Ctx(args)
    t_start = time.time()
    started_utc = dt.datetime.now(dt.timezone.utc)
    reps = 3 if args.quick else 10          # passes over each query file after the warm-up
    target_samples = 20 * reps              # files with fewer queries (scan) get more passes
    influx, vm, duck, strata = InfluxDB(ctx), VictoriaMetrics(ctx), DuckDB(ctx), StrataEmbedded(ctx)
    strata_http = StrataHttp(ctx, os.environ.get("STRATA_URL"), strata)
    systems = {"influx": influx, "vm": vm, "duck": duck, "strata": strata}
    notes = ctx.notes
    loadavg_start = open("/proc/loadavg").read().split()[:3]
    try:
        prepare_data(ctx)
        queries, qtypes = load_queries(args.peers_dir)

        # ---------------- ingest: 4 writers into throwaway instances first, then 2 writers into
        # the instances kept for disk and queries (so nothing compacts in the background meanwhile)
        ingest = {}  # (system, workers) -> result
        for w, keep in ((4, False), (2, True)):
            tag = f"w{w}"
            # embedded systems first (they leave no background work behind), then the servers,
            # with a pause for the machine to go idle before each server load
            wait_idle(ctx, f"Strata ({w} writers)")
            log(f"Strata: import --writers {w}")
            r = strata.load(w, tag, keep)
            ingest[(strata.name, w)] = r
            log(f"Strata: {fmt_rate(r['points_per_s'])}")
            log(f"DuckDB: COPY from CSV with threads={w}")
            r = duck.load(w, tag, keep)
            ingest[(duck.name, w)] = r
            log(f"DuckDB: {fmt_rate(r['points_per_s'])}")
            for peer in (vm, influx):
                log(f"{peer.name}: start ({tag})")
                peer.start(tag)
                wait_idle(ctx, f"{peer.name} ({w} clients)")
                log(f"{peer.name}: load with lp_load.py --workers {w} --batch 5000")
                r = peer.load(w)
                peer.check_alive("after the load")
                r["loaded_at"] = time.time()
                ingest[(peer.name, w)] = r
                log(f"{peer.name}: {fmt_rate(r['points_per_s'])}")
                if not keep:
                    peer.stop()
                    shutil.rmtree(peer.dir, ignore_errors=True)
            if strata_http.available():
                strata_http.start(tag)
                wait_idle(ctx, f"{strata_http.name} ({w} clients)")
                log(f"{strata_http.name}: load with lp_load.py --workers {w} --batch 5000")
                r = strata_http.load(w)
                ingest[(strata_http.name, w)] = r
                log(f"{strata_http.name}: {fmt_rate(r['points_per_s'])}")
                strata_http.stop()
        for (name, w), r in ingest.items():
            if r.get("points") not in (None, ctx.points):
                notes.append(f"{name} ({w}) counted {r['points']} points, the file has {ctx.points}.")

        # ---------------- disk
        disk = {}
        log("VictoriaMetrics: force_flush + force_merge, waiting for the data dir to settle")
        disk[vm.name] = vm.settle_disk(ingest[(vm.name, 2)]["loaded_at"], args.quick)
        log("DuckDB: CHECKPOINT")
        disk[duck.name] = duck.disk()
        log("Strata: du" + (" + compact --to-cold" if strata.has_to_cold else ""))
        s_before, s_after = strata.disk()
        log("InfluxDB: waiting until data+wal size is stable for 20 s")
        disk[influx.name] = influx.settle_disk(ingest[(influx.name, 2)]["loaded_at"], args.quick)
        log("disk: " + ", ".join(f"{k} {v[0]} B" for k, v in disk.items()) + f", Strata {s_before[0]} B")

        # ---------------- queries (warm)
        lat = {}  # (system, type) -> [ms]
        runners = [
            (influx.name, "influxql", influx.query_fn()),
            (vm.name, "promql", vm.query_fn()),
            (duck.name, "duckdb", duck.query_fn()),
        ]
        if strata.has_query:
            runners.append((strata.name, "influxql", strata.query_fn()))
        for name, lang, fn in runners:
            for t in qtypes:
                qs = queries[lang].get(t)
                if not qs:
                    continue
                n = max(reps, math.ceil(target_samples / len(qs)))
                t0 = time.perf_counter()
                lat[(name, t)] = timed_samples(fn, qs, n)
                log(f"{name} {t}: {len(qs)} queries x {n}: median {fmt_ms(statistics.median(lat[(name, t)]))}"
                    f" ({time.perf_counter() - t0:.1f} s)")
    finally:
        duck.close()
        strata.stop_queries()
        ctx.stop_all()

    # ---------------- report
    elapsed = time.time() - t_start
    P = ctx.points
    quick = args.quick
    md = []
    md.append(f"# Strata vs InfluxDB, VictoriaMetrics, DuckDB — {started_utc.strftime('%Y-%m-%d %H:%M UTC')}")
    md.append("")
    md.append(f"Command: `{args.cmdline}`  ")
    md.append(f"Data: `{args.data}` — {ctx.lines:,} lines, {P:,} points "
              f"({ctx.lp_bytes / P:.1f} bytes/point as uncompressed line protocol), "
              f"{dt.datetime.fromtimestamp(ctx.min_ts // 10**9, dt.timezone.utc):%Y-%m-%d %H:%M:%S} to "
              f"{dt.datetime.fromtimestamp(ctx.max_ts // 10**9, dt.timezone.utc):%Y-%m-%d %H:%M:%S} UTC.  ")
    md.append(f"Mode: {'--quick' if quick else 'full'}; the whole run (after build) took {elapsed / 60:.1f} min.")
    md.append("")
    md.append("## Machine")
    md.append("")
    facts = machine_facts(ctx, systems)
    facts.append(("load average (1/5/15 min) at start → end", " ".join(loadavg_start) + " → "
                  + " ".join(open("/proc/loadavg").read().split()[:3])))
    md.append(table(["fact", "value"], facts))
    md.append("")

    # ingest
    md.append("## Ingest (points/s; higher is better; last column: Strata embedded / best peer, > 1 means Strata is better)")
    md.append("")
    md.append("InfluxDB and VictoriaMetrics: HTTP over loopback with `lp_load.py --batch 5000` (batches split "
              "before the clock starts; the server does the parsing). DuckDB: `COPY` of a pre-converted CSV, "
              "in-process, `SET threads=N` (LP→CSV conversion not timed). Strata (embedded): `strata import "
              "--writers N` of the .zst file, WAL fsync always — in-process, includes zstd decompression and "
              "LP parsing but no HTTP. Embedded and HTTP ingest are not the same thing.")
    md.append("")
    hdr = ["clients / writers", "InfluxDB (HTTP)", "VictoriaMetrics (HTTP)", "DuckDB (CSV bulk, in-process)",
           "Strata (embedded import)", "Strata (HTTP)", "Strata / best peer (throughput, > 1 = Strata better)"]
    rows = []
    for w in (2, 4):
        peers = {n: ingest.get((n, w), {}).get("points_per_s") for n in (influx.name, vm.name, duck.name)}
        s = ingest.get((strata.name, w), {}).get("points_per_s")
        sh = ingest.get((strata_http.name, w), {}).get("points_per_s")
        rows.append([str(w)] + [fmt_rate(peers[n]) for n in (influx.name, vm.name, duck.name)]
                    + [fmt_rate(s), fmt_rate(sh) if sh else "n/a (no server)",
                       "embedded " + ratio_cell(s, peers, True)
                       + ("; HTTP " + ratio_cell(sh, {n: peers[n] for n in (influx.name, vm.name)}, True)
                          if sh else "")])
    for w in (2, 4):
        cpu = {n: ingest.get((n, w), {}).get("server_cpu_s_per_1M_points")
               for n in (influx.name, vm.name, strata_http.name)}
        rows.append([f"{w}: server CPU-s per 1 M points"] + [f"{cpu[n]:.2f}" if cpu[n] is not None else "—"
                                                             for n in (influx.name, vm.name)]
                    + ["—", "—", f"{cpu[strata_http.name]:.2f}" if cpu[strata_http.name] is not None else "n/a",
                       ""])
    for w in (2, 4):
        oth = {n: ingest.get((n, w), {}).get("other_procs_cpu_s")
               for n in (influx.name, vm.name, strata_http.name)}
        rows.append([f"{w}: CPU-s used by other processes during the load"]
                    + [f"{oth[n]:.2f}" if oth[n] is not None else "—" for n in (influx.name, vm.name)]
                    + ["—", "—", f"{oth[strata_http.name]:.2f}" if oth[strata_http.name] is not None else "—",
                       ""])
    md.append(table(hdr, rows))
    md.append("")

    # disk
    md.append("## Disk (bytes per point after flush/compaction; lower is better; last column: Strata / best peer, < 1 means Strata is better)")
    md.append("")
    s_final = s_after if s_after is not None else s_before
    peers_bpp = {n: disk[n][0] / P for n in (influx.name, vm.name, duck.name)}
    hdr = ["", "InfluxDB", "VictoriaMetrics", "DuckDB", "Strata", "Strata / best peer (size, < 1 = Strata better)"]
    strata_cell = f"{s_before[0] / P:.2f} (before compaction)"
    if s_after is not None:
        strata_cell += f"; {s_after[0] / P:.2f} after `compact --to-cold`"
    else:
        strata_cell += "; `strata compact --to-cold` not available yet"
    rows = [["bytes/point (allocated, as `du`)"] + [f"{peers_bpp[n]:.2f}" for n in (influx.name, vm.name, duck.name)]
            + [strata_cell, ratio_cell(s_final[0] / P, peers_bpp, False)],
            ["bytes allocated (`du`)"] + [f"{disk[n][0]:,}" for n in (influx.name, vm.name, duck.name)]
            + [f"{s_before[0]:,}" + (f" → {s_after[0]:,}" if s_after is not None else ""), ""],
            ["apparent bytes (`du -b`)"] + [f"{disk[n][1]:,}" for n in (influx.name, vm.name, duck.name)]
            + [f"{s_before[1]:,}" + (f" → {s_after[1]:,}" if s_after is not None else ""), ""],
            ["how measured"] + [disk[n][2] for n in (influx.name, vm.name, duck.name)]
            + ["`du` of the data directory" + (" before and after `strata compact --to-cold`"
                                               if s_after is not None else " (today: WAL only)"), ""]]
    md.append(table(hdr, rows))
    md.append("")

    # queries
    md.append("## Queries (warm latency, median / p99; lower is better; last column: Strata / best peer of medians, < 1 means Strata is better)")
    md.append("")
    md.append(f"One warm-up pass over each file, then passes until each type has ≥ {target_samples} samples "
              f"({reps} passes for 20-query files). InfluxDB: HTTP `/query`; VictoriaMetrics: HTTP "
              "`/api/v1/query_range` with `nocache=1`; DuckDB: in-process. "
              + ("Strata: HTTP `/query` on `strata serve` over the directory after `compact --to-cold` "
                 "(cold tier, decoded-block cache warm after the warm-up pass)." if strata.has_serve else
                 "Strata: `strata query --data-dir D \"<q>\" --format json`, one process per query "
                 "(includes process start and opening the directory)." if strata.has_query else
                 "Strata: no query language yet (`strata query` absent) — n/a.")
              + " — means the peer's query set has no such type.")
    if ctx.max_ts - ctx.min_ts < 86400 * 10**9 - 10 * 10**9:
        md.append("")
        md.append(f"**Note:** the query sets were generated for the 1-day data (2016-01-01 00:00–24:00). "
                  f"This file ends at {dt.datetime.fromtimestamp(ctx.max_ts // 10**9, dt.timezone.utc):%H:%M:%S}, "
                  "so queries whose time range lies beyond it still run and simply return less (or nothing); "
                  "latencies are therefore lower than on the full day and not comparable with full-run figures.")
    md.append("")
    hdr = ["query type", "InfluxDB", "VictoriaMetrics (nocache)", "DuckDB", "Strata",
           "Strata / best peer (latency, < 1 = Strata better)"]
    rows = []

    def cell(name, t):
        x = lat.get((name, t))
        if not x:
            return None, "—"
        m = statistics.median(x)
        return m, f"{fmt_ms(m)} / {fmt_ms(p99(x))}"

    for t in qtypes:
        peer_meds, cells = {}, []
        for n in (influx.name, vm.name, duck.name):
            m, c = cell(n, t)
            peer_meds[n] = m
            cells.append(c)
        sm, sc = cell(strata.name, t)
        if not strata.has_query:
            sc = "n/a"
        rows.append([t] + cells + [sc, ratio_cell(sm, peer_meds, False)])
    md.append(table(hdr, rows))
    md.append("")
    md.append("## Caveats")
    md.append("")
    md.append("- VictoriaMetrics rounds floats beyond 12 significant digits, so its disk figure is not bit-exact storage "
              "(this data is integers, which it keeps exactly).")
    md.append("- InfluxDB buckets `GROUP BY time()` epoch-aligned (61 one-minute buckets for a non-aligned hour); "
              "VictoriaMetrics returns 60. TSBS's InfluxQL groupby-orderby-limit has no lower time bound.")
    md.append("- high-cpu-1, lastpoint and groupby-orderby-limit have no PromQL form (— for VictoriaMetrics).")
    md.append("- Embedded ingest (Strata import, DuckDB COPY) skips HTTP and, for DuckDB, the LP parsing; "
              "the HTTP columns include both. Strata's HTTP row is `strata serve` with fsync always, loaded exactly like the servers.")
    md.append("- Disk is counted as `du` does (allocated blocks), so InfluxDB's sparse, preallocated 4 MiB "
              "series-file segments count only what is written; apparent sizes (`du -b`) are shown too.")
    md.append("- Loader and server share the machine's 2 cores; lp_load.py's CPU competes with the server.")
    for n in notes:
        md.append(f"- {n}")
    if quick:
        md.append("- --quick: fewer repetitions (p99 over ~60 samples is close to the max); "
                  "InfluxDB compaction wait capped at 240 s after its load (see 'how measured').")
    md.append("")
    text = "\n".join(md)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"results-{started_utc.strftime('%Y-%m-%d')}.md")
    with open(path, "w") as f:
        f.write(text)
    log(f"wrote {path}; total {elapsed:.0f} s")


if __name__ == "__main__":
    try:
        main()
    except Fail as e:
        print(f"compare: error: {e}", file=sys.stderr)
        sys.exit(1)
