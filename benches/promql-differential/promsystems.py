"""PromQL-speaking systems on loopback, shared by the PromQL harnesses
(benches/promql-differential/diff.py and benches/compare/promql.py).

- Prometheus 2.42 on TSDB blocks built by `promtool tsdb create-blocks-from openmetrics` from
  the OpenMetrics text that ../shared/peers/lp_to_openmetrics.py makes of the line protocol;
- VictoriaMetrics (../shared/peers/victoriametrics.sh), loaded with the same OpenMetrics
  samples through `/api/v1/import/prometheus` (timestamps in ms), so it holds exactly the
  samples Prometheus holds;
- Strata: `strata import` of the same line-protocol files, `strata compact`, `strata serve`;
- PromClient: one keep-alive HTTP connection asking `/api/v1/query` or `/api/v1/query_range`,
  returning the raw status and body (never raising on an HTTP or PromQL error).

Stdlib only. Every process started here is registered with `ctx` (an object with `work`,
`register(pid)`, `done(pid)`, `stop(pid, grace)`, e.g. `Procs` below or compare.py's Ctx),
so the caller's trap can stop it by pid; nothing is stopped by name.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


class Fail(Exception):
    """A setup failure (a peer that does not start, a load that fails)."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes

class Procs:
    """The pids this run started, mirrored into WORK/pids for run.sh's trap."""

    def __init__(self, work):
        self.work = work
        self.pidfile = os.path.join(work, "pids")
        self.started = []

    def _write(self):
        with open(self.pidfile, "w") as f:
            f.write("".join(f"{p}\n" for p in self.started))

    def register(self, pid):
        self.started.append(pid)
        with open(self.pidfile, "a") as f:
            f.write(f"{pid}\n")

    def done(self, pid):
        if pid in self.started:
            self.started.remove(pid)
            self._write()

    def stop(self, pid, grace=10.0):
        stop_pid(pid, grace)

    def stop_all(self):
        for pid in reversed(list(self.started)):
            stop_pid(pid, 10.0)
            self.done(pid)


def stop_pid(pid, grace=10.0):
    """SIGTERM, wait up to `grace` s (reaping our own child), then SIGKILL."""
    if not pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    t = time.time()
    while time.time() - t < grace:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if not alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


def http_get(port, path, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def run_checked(ctx, argv, what, nice=True, **kw):
    """Run a command to completion (registered while it runs); Fail with its stderr tail."""
    cmd = (["nice", "-n", "5"] if nice else []) + list(argv)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    ctx.register(p.pid)
    try:
        out, err = p.communicate()
    finally:
        ctx.done(p.pid)
    if p.returncode != 0:
        raise Fail(f"{what} failed (exit {p.returncode}):\n{err.decode(errors='replace')[-3000:]}"
                   f"{out.decode(errors='replace')[-1000:]}")
    return out.decode(errors="replace"), err.decode(errors="replace")


def wait_ready(port, path, proc_pid, log_path, who, timeout=180.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            st, _ = http_get(port, path, timeout=5)
            if st == 200:
                return time.time() - t0
        except OSError:
            pass
        if not alive(proc_pid):
            break
        time.sleep(0.1)
    raise Fail(f"{who} did not become ready on 127.0.0.1:{port}{path}; tail of {log_path}:\n{tail(log_path)}")


# --------------------------------------------------------------------------- data

class Dataset:
    """A named set of line-protocol files loaded together into one instance of each system.

    `om()` converts them (once) with the peers' lp_to_openmetrics.py and, for several files,
    concatenates the parts into one OpenMetrics file with a single `# EOF`: one promtool run,
    one block, no overlapping blocks. (Data sets of very different time spans must not share
    a promtool run: it makes one pass over its whole input per block window between the first
    and the last sample; load them as separate Datasets into the same TSDB directory.)"""

    def __init__(self, name, files, work, peers_dir):
        self.name, self.files, self.work, self.peers_dir = name, list(files), work, peers_dir
        self._om = None
        self.samples = None
        self.series = None   # distinct series, when known (VictoriaMetrics waits until it finds them all)
        self.span = None     # (first, last) sample time in unix seconds, when known

    def om(self, ctx):
        """[path of the OpenMetrics file]."""
        if self._om is None:
            parts, self.samples = [], 0
            for i, f in enumerate(self.files):
                dst = os.path.join(self.work, f"{self.name}-{i}.om")
                t = time.time()
                _o, err = run_checked(ctx, [sys.executable, os.path.join(self.peers_dir, "lp_to_openmetrics.py"),
                                            f, dst], "lp_to_openmetrics.py " + f)
                m = re.search(r"(\d+) samples", err)
                n = int(m.group(1)) if m else 0
                self.samples += n
                log(f"{self.name}: {os.path.basename(f)} -> {n:,} OpenMetrics samples ({time.time() - t:.0f} s)")
                parts.append(dst)
            if len(parts) == 1:
                self._om = parts
            else:
                dst = os.path.join(self.work, f"{self.name}.om")
                with open(dst, "wb") as out:
                    for p in parts:
                        with open(p, "rb") as f:
                            for line in f:
                                if line != b"# EOF\n":
                                    out.write(line)
                        os.remove(p)
                    out.write(b"# EOF\n")
                self._om = [dst]
        return self._om

    def drop_om(self):
        for p in self._om or []:
            try:
                os.remove(p)
            except OSError:
                pass
        self._om = None


# --------------------------------------------------------------------------- Prometheus

# Blocks as large as promtool allows below the data's alignment: the backfill rounds
# --max-block-duration down to a compaction range (2h·3^k: 2h, 6h, 18h, 54h, …) and makes
# a pass over the input per block window. The default (2h) means 12 passes and 12 blocks
# for the 1-day file; 54h puts each of the data sets here in a single block.
PROMTOOL_BLOCK = "54h"

PROM_CONFIG = """# Written by the Strata PromQL harness: no scrape targets, no rules.
global:
  scrape_interval: 1h
  evaluation_interval: 1m   # also the default resolution of subqueries written [r:]
scrape_configs: []
"""


class Prometheus:
    name = "prometheus"
    title = "Prometheus"

    def __init__(self, ctx, tag):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, f"prometheus-{tag}")
        self.pid = self.port = None
        self.log_path = os.path.join(ctx.work, f"prometheus-{tag}.log")
        self.extra_params = {}
        self.blocks = []

    def version(self):
        out = subprocess.run(["prometheus", "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True).stdout
        return out.strip().splitlines()[0] if out.strip() else "?"

    def load(self, dataset):
        """promtool blocks from each of the dataset's OpenMetrics files into one TSDB dir."""
        os.makedirs(self.dir, exist_ok=True)
        for om in dataset.om(self.ctx):
            t = time.time()
            out, _ = run_checked(self.ctx, ["promtool", "tsdb", "create-blocks-from", "openmetrics",
                                            f"--max-block-duration={PROMTOOL_BLOCK}", om, self.dir],
                                 "promtool tsdb create-blocks-from openmetrics")
            rows = [l.split() for l in out.splitlines() if re.match(r"^[0-9A-Z]{26}\s", l)]
            self.blocks += rows
            log(f"prometheus: {len(rows)} block(s) from {os.path.basename(om)} "
                f"({sum(int(r[4]) for r in rows if len(r) > 4 and r[4].isdigit()):,} samples, "
                f"{time.time() - t:.0f} s)")

    def start(self):
        cfg = os.path.join(self.ctx.work, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(PROM_CONFIG)
        self.port = free_port()
        lf = open(self.log_path, "w")
        p = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={self.dir}",
                              "--storage.tsdb.retention.time=100y",
                              f"--web.listen-address=127.0.0.1:{self.port}"],
                             stdout=lf, stderr=lf)
        lf.close()
        self.ctx.register(p.pid)
        self.pid, self.proc = p.pid, p
        wait_ready(self.port, "/-/ready", p.pid, self.log_path, "Prometheus")

    def stop(self):
        if self.pid:
            self.ctx.stop(self.pid, 30)
            self.ctx.done(self.pid)
            self.pid = None

    def client(self):
        return PromClient(self.port, self.title, self.extra_params)


# --------------------------------------------------------------------------- VictoriaMetrics

class VictoriaMetrics:
    name = "victoriametrics"
    title = "VictoriaMetrics"

    def __init__(self, ctx, tag, peers_dir):
        self.ctx, self.peers_dir = ctx, peers_dir
        self.dir = os.path.join(ctx.work, f"vm-{tag}")
        self.log_path = os.path.join(self.dir, "vm.log")
        self.pid = self.port = None
        self.extra_params = {"nocache": "1"}  # skip the rollup result cache

    def version(self):
        v = subprocess.run(["victoria-metrics", "-version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True).stdout.strip()
        if not v:  # the Debian build prints nothing
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True).stdout.strip()
        return f"victoria-metrics {v.splitlines()[0]}" if v else "?"

    def start(self):
        self.port = free_port()
        p = subprocess.run(["bash", os.path.join(self.peers_dir, "victoriametrics.sh"), self.dir, str(self.port)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pid = int(p.stdout.split()[-1]) if p.returncode == 0 and p.stdout.split() else None
        if pid:
            self.ctx.register(pid)
            self.pid = pid
        try:
            st, _ = http_get(self.port, "/health", timeout=5)
        except OSError as e:
            st = repr(e)
        if st != 200:
            raise Fail(f"VictoriaMetrics not healthy on port {self.port} ({st}): {p.stderr[-500:]}\n"
                       f"tail of {self.log_path}:\n{tail(self.log_path)}")

    def load(self, dataset):
        """The dataset's OpenMetrics samples through /api/v1/import/prometheus (ms timestamps),
        then /internal/force_flush so that all of it is searchable at once."""
        n = 0
        for om in dataset.om(self.ctx):
            t = time.time()
            n += self.import_om(om)
            log(f"victoriametrics: imported {os.path.basename(om)} ({time.time() - t:.0f} s)")
        st, b = http_get(self.port, "/internal/force_flush", timeout=600)
        if st != 200:
            raise Fail(f"VictoriaMetrics force_flush: {st} {b[:200]!r}")
        if dataset.series and dataset.span:
            self.wait_searchable(dataset.series, *dataset.span)
        return n

    def wait_searchable(self, expected, t_min, t_max, cap=120.0):
        """Until every series is found over the data's span. Right after an import and
        force_flush, VictoriaMetrics 1.79 can still answer some selectors with nothing for a
        few seconds (its per-day index is filled asynchronously); asking too early made ~half
        of one run's answers empty."""
        c = PromClient(self.port, self.title, self.extra_params)
        q = {"query": f'count(last_over_time({{__name__=~".+"}}[{int(t_max - t_min) + 2}s]))',
             "time": f"{t_max + 1:.3f}"}
        t0, got = time.time(), None
        while time.time() - t0 < cap:
            a = c.request("/api/v1/query", q)
            try:
                got = int(float(json.loads(a.body)["data"]["result"][0]["value"][1]))
            except (ValueError, KeyError, IndexError, TypeError):
                got = None
            if got == expected:
                time.sleep(1.0)
                log(f"victoriametrics: all {expected:,} series searchable after {time.time() - t0:.1f} s")
                c.close()
                return
            time.sleep(0.5)
        c.close()
        raise Fail(f"VictoriaMetrics: {got} of {expected} series searchable {cap:.0f} s after the import")

    def import_om(self, path, batch=50000):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

        def post(lines):
            c.request("POST", "/api/v1/import/prometheus", body=b"".join(lines))
            r = c.getresponse()
            body = r.read()
            if r.status not in (200, 204):
                raise Fail(f"VictoriaMetrics import: HTTP {r.status}: {body[:300]!r}")

        n, buf = 0, []
        with open(path, "rb") as f:
            for line in f:
                if line.startswith(b"#") or not line.strip():
                    continue
                head, ts = line.rsplit(b" ", 1)
                sec, _, frac = ts.strip().partition(b".")
                ms = int(sec) * 1000 + (int((frac + b"000")[:3]) if frac else 0)
                buf.append(b"%s %d\n" % (head, ms))
                n += 1
                if len(buf) >= batch:
                    post(buf)
                    buf = []
        if buf:
            post(buf)
        c.close()
        return n

    def stop(self):
        if self.pid:
            self.ctx.stop(self.pid, 30)
            self.ctx.done(self.pid)
            self.pid = None

    def client(self):
        return PromClient(self.port, self.title, self.extra_params)


# --------------------------------------------------------------------------- Strata

class Strata:
    """`strata import` of the dataset's LP files into one directory, `strata compact` per
    phase, `strata serve` on loopback. Phases: hot (data kept in WAL + memory: a max age far
    beyond the data's, no background rotation), warm (`compact --force`), cold
    (`compact --to-cold --force`); a phase list must be in that order."""

    name = "strata"
    title = "Strata"
    HOT = ["--hot-max-age", "1000000h", "--rotation-interval", "0s"]

    def __init__(self, ctx, tag, binary, url=None):
        self.ctx, self.bin, self.url = ctx, binary, url
        self.dir = os.path.join(ctx.work, f"strata-{tag}")
        self.log_path = os.path.join(ctx.work, f"strata-{tag}-serve.log")
        self.pid = self.port = None
        self.extra_params = {}
        self.commands = self._commands() if binary and os.path.exists(binary) else set()

    def _help(self, argv):
        if not self.bin:
            return ""
        try:
            return subprocess.run([self.bin] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True).stdout
        except OSError as e:
            return str(e)

    def _commands(self):
        names, inside = set(), False
        for line in self._help(["--help"]).splitlines():
            if line.strip() == "Commands:":
                inside = True
                continue
            if inside:
                if not line.startswith("  "):
                    break
                names.add(line.split()[0])
        return names

    def missing(self):
        """None if this Strata can be loaded and served, else why not."""
        if self.url:
            return None
        if not self.bin or not os.path.exists(self.bin):
            return f"no strata binary ({self.bin})"
        for c in ("import", "serve", "compact"):
            if c not in self.commands:
                return f"`strata {c}` does not exist in {self.bin}"
        return None

    def version(self):
        if self.url:
            return f"(external server at {self.url})"
        if not self.bin or not os.path.exists(self.bin):
            return f"(no binary: {self.bin})"
        v = self._help(["--version"]).strip() or "?"
        # STRATA_SOURCE says what the binary was built from when it is not this checkout
        src = os.environ.get("STRATA_SOURCE")
        return f"{v} ({self.bin}" + (f", built from {src})" if src else ")")

    def load(self, files, hot=True):
        if self.url:
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        t = time.time()
        _o, err = run_checked(self.ctx, [self.bin, "import", "--data-dir", self.dir]
                              + (self.HOT if hot else []) + list(files), "strata import", nice=False)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        log(f"strata: import ({time.time() - t:.0f} s): {last[:200]}")

    def compact(self, phase, hot=True):
        if self.url or phase == "hot":
            return
        extra = {"warm": ["--force"], "cold": ["--to-cold", "--force"]}[phase]
        t = time.time()
        _o, err = run_checked(self.ctx, [self.bin, "compact", "--data-dir", self.dir] + (self.HOT if hot else [])
                              + extra, "strata compact " + " ".join(extra), nice=False)
        last = err.strip().splitlines()[-1] if err.strip() else ""
        log(f"strata: compact {' '.join(extra)} ({time.time() - t:.0f} s): {last[:200]}")

    def start(self, hot=True):
        if self.url:
            u = urllib.parse.urlsplit(self.url)
            if u.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise Fail(f"STRATA_URL must be a loopback address, got {self.url}")
            self.port = u.port or 80
            return
        self.port = free_port()
        lf = open(self.log_path, "a")
        p = subprocess.Popen([self.bin, "serve", "--data-dir", self.dir, "--listen", f"127.0.0.1:{self.port}"]
                             + (self.HOT if hot else []), stdout=lf, stderr=lf)
        lf.close()
        self.ctx.register(p.pid)
        self.pid = p.pid
        wait_ready(self.port, "/ready", p.pid, self.log_path, "strata serve")

    def stop(self):
        if self.pid:
            self.ctx.stop(self.pid, 60)
            self.ctx.done(self.pid)
            self.pid = None

    def client(self):
        return PromClient(self.port, self.title, self.extra_params)


# --------------------------------------------------------------------------- client

class Answer:
    __slots__ = ("status", "body", "error", "seconds")

    def __init__(self, status, body, error, seconds):
        self.status, self.body, self.error, self.seconds = status, body, error, seconds


class PromClient:
    """One keep-alive loopback connection to a Prometheus-compatible query API.

    request(path, params, method) sends `params` (+ the system's extra params, e.g.
    VictoriaMetrics' nocache=1) as a query string (GET) or a form-encoded body (POST) and
    returns an Answer: the HTTP status and body, or status None and the connection error."""

    def __init__(self, port, who, extra_params=None, timeout=120.0):
        self.port, self.who, self.extra = port, who, dict(extra_params or {})
        self.timeout = timeout
        self.conn = None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, path, params, method="GET"):
        q = urllib.parse.urlencode({**params, **self.extra})
        t0 = time.perf_counter()
        last = None
        for attempt in range(2):  # one reconnect if the server closed the idle connection
            try:
                c = self._conn()
                if method == "POST":
                    c.request("POST", path, body=q, headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    c.request("GET", f"{path}?{q}")
                r = c.getresponse()
                body = r.read()
                return Answer(r.status, body, None, time.perf_counter() - t0)
            except (http.client.HTTPException, OSError) as e:
                last = e
                self.close()
                if isinstance(e, socket.timeout):
                    break
        return Answer(None, b"", f"{type(last).__name__}: {last}", time.perf_counter() - t0)

    def probe(self, t):
        """None if /api/v1/query answers `1` as Prometheus does, else why not (for the report)."""
        a = self.request("/api/v1/query", {"query": "1", "time": str(t)})
        if a.status is None:
            return f"no answer from 127.0.0.1:{self.port} ({a.error})"
        if a.status == 404:
            return f"no PromQL API: HTTP 404 on /api/v1/query ({a.body[:120]!r})"
        try:
            j = json.loads(a.body)
        except ValueError:
            return f"/api/v1/query answered HTTP {a.status} with a body that is not JSON: {a.body[:200]!r}"
        if a.status != 200 or j.get("status") != "success":
            return f"/api/v1/query?query=1 answered HTTP {a.status}: {a.body[:200]!r}"
        return None
