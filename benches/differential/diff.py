#!/usr/bin/env python3
"""Driver of benches/differential/run.sh: Strata's InfluxQL answers against InfluxDB 1.x.

Python 3 stdlib only. Loads the same line protocol into InfluxDB (../shared/peers) and into
Strata (`strata import`), runs the TSBS devops query types and random queries over the
InfluxQL grammar in both, and compares the answers value by value. Everything talks to
127.0.0.1. Every process started here has its pid appended to WORK/pids (run.sh's trap stops
them too) and is stopped here by pid.

Exit status: 0 all equal (or only allow-listed differences), 1 any unexpected difference,
2 setup failure.
"""
import argparse
import datetime as dt
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen  # noqa: E402  (query generators)
import resultdiff as cmp  # noqa: E402  (result comparison)

TSBS_TYPES = gen.TSBS_TYPES


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Fail(Exception):
    pass


# --------------------------------------------------------------------------- processes

class Ctx:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.pidfile = os.path.join(args.work, "pids")
        self.started = []

    def register(self, pid):
        self.started.append(pid)
        with open(self.pidfile, "a") as f:
            f.write(f"{pid}\n")

    def done(self, pid):
        if pid in self.started:
            self.started.remove(pid)
        with open(self.pidfile, "w") as f:
            f.write("".join(f"{p}\n" for p in self.started))

    def stop(self, pid, grace=20.0):
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        t = time.time()
        while time.time() - t < grace:
            if not alive(pid):
                break
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.done(pid)

    def run(self, argv, timeout=None, env=None, stdin=None):
        """Run a child, registered by pid while it lives; returns (rc, stdout, stderr)."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        self.register(p.pid)
        try:
            out, err = p.communicate(input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.done(p.pid)
            return None, out, err + b"\n(timed out)"
        self.done(p.pid)
        return p.returncode, out, err


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def free_port(also_plus=(2,)):
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
        if ok and p + max(also_plus) < 65536:
            return p
    raise Fail("no free loopback port")


def tail(path, n=30):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


# --------------------------------------------------------------------------- InfluxDB

class Influx:
    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "influxdb")
        self.port = None
        self.pid = None

    def start(self):
        self.port = free_port()
        p = subprocess.run(["bash", os.path.join(self.ctx.args.peers_dir, "influxdb.sh"), self.dir,
                            str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = p.stdout.strip().splitlines()
        if p.returncode != 0 or not lines:
            raise Fail(f"influxdb.sh failed ({p.returncode}): {p.stderr[-1000:]}\n"
                       f"{tail(os.path.join(self.dir, 'influxd.log'))}")
        self.pid = int(lines[-1])
        self.ctx.register(self.pid)
        if not alive(self.pid):
            raise Fail("InfluxDB died at start:\n" + tail(os.path.join(self.dir, "influxd.log")))

    def version(self):
        st, body = self.request("/ping", method="GET", raw=True)
        return body

    def request(self, path, method="POST", body=None, raw=False, timeout=600):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            if raw:
                return r.status, r.getheader("X-Influxdb-Version", "?")
            return r.status, data
        finally:
            c.close()

    def load(self, path):
        url = f"http://127.0.0.1:{self.port}/write?db=benchmark&precision=ns"
        rc, out, err = self.ctx.run([sys.executable, os.path.join(self.ctx.args.peers_dir, "lp_load.py"),
                                     "--file", path, "--url", url, "--workers", "2", "--batch", "5000"])
        if rc != 0:
            raise Fail(f"lp_load.py failed ({rc}): {out[-1000:]!r} {err[-1000:]!r}")
        r = json.loads(out.decode().strip().splitlines()[-1])
        if r.get("http_errors"):
            raise Fail(f"InfluxDB load: HTTP errors {r}")
        return r

    def query(self, q, epoch="ns"):
        """One statement (or several); returns the parsed JSON body (dict)."""
        qs = {"db": "benchmark", "q": q}
        if epoch:
            qs["epoch"] = epoch
        st, data = self.request("/query", body=urllib.parse.urlencode(qs))
        try:
            return json.loads(data)
        except ValueError:
            return {"error": f"HTTP {st}: {data[:300]!r}"}


# --------------------------------------------------------------------------- Strata

class Strata:
    """`strata import`, `strata compact`, `strata query --format json --epoch ns "q1; q2; …"`."""

    # Keep imported data in the hot tier (WAL + memory) until `compact --force` moves it: a
    # wall-clock max age far beyond the data's age, and no background rotation.
    HOT = ["--hot-max-age", "1000000h", "--rotation-interval", "0s"]

    def __init__(self, ctx):
        self.ctx = ctx
        self.bin = ctx.args.strata
        self.dir = os.path.join(ctx.work, "strata")
        self.help = self._out(["--help"])
        self.query_help = self._out(["query", "--help"]) if re.search(r"^\s+query\b", self.help, re.M) else ""

    def _out(self, argv):
        p = subprocess.run([self.bin] + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return p.stdout

    def has_query(self):
        return bool(self.query_help)

    def version(self):
        return self._out(["--version"]).strip()

    def _run(self, argv, what, timeout=None):
        rc, out, err = self.ctx.run([self.bin] + argv, timeout=timeout)
        if rc != 0:
            raise Fail(f"strata {what} failed (exit {rc}):\n{err.decode(errors='replace')[-3000:]}")
        return out.decode(errors="replace"), err.decode(errors="replace")

    def load(self, path):
        shutil.rmtree(self.dir, ignore_errors=True)
        t = time.time()
        _out, err = self._run(["import", "--data-dir", self.dir] + self.HOT + [path], "import")
        return time.time() - t, err.strip().splitlines()[-1] if err.strip() else ""

    def compact(self, extra):
        _out, err = self._run(["compact", "--data-dir", self.dir] + extra, "compact " + " ".join(extra))
        return err.strip().splitlines()[-1] if err.strip() else _out.strip()[-300:]

    def tiers(self):
        try:
            out, _ = self._run(["inspect", "--data-dir", self.dir, "--json"] + self.HOT, "inspect")
            j = json.loads(out)
            return {k: v.get("points") for k, v in j.get("tiers", {}).items()}
        except (Fail, ValueError) as e:
            return {"error": str(e)[:200]}

    def query_batch(self, stmts, epoch="ns"):
        """Run statements in one process; returns a list of per-statement results (dicts with
        'series' or 'error'), or None if the batch as a whole failed (then run one by one)."""
        q = ";\n".join(stmts)
        argv = (["query", "--data-dir", self.dir, "--format", "json"] + self.HOT
                + (["--epoch", epoch] if epoch else []) + ["-"])
        rc, out, err = self.ctx.run([self.bin] + argv, timeout=self.ctx.args.query_timeout, stdin=q.encode())
        text = out.decode(errors="replace").strip()
        try:
            j = json.loads(text) if text else None
        except ValueError:
            j = None
        if j is None:
            msg = (err.decode(errors="replace").strip() or f"exit {rc}, no JSON output")[-600:]
            if rc is None:
                msg = "timed out: " + msg
            return None, msg
        if isinstance(j, dict) and "results" in j and len(j["results"]) == len(stmts):
            return j["results"], None
        if isinstance(j, dict) and "error" in j and "results" not in j:
            return None, str(j["error"])
        return None, f"unexpected JSON shape: {text[:300]}"

    def query_all(self, stmts, epoch="ns"):
        """Every statement's result, batched; a batch that fails as a whole (a parse error in
        one statement fails them all, as in InfluxDB) is split in halves until it runs."""
        res = []
        bs = max(1, self.ctx.args.batch)
        for i in range(0, len(stmts), bs):
            res.extend(self._query_split(stmts[i:i + bs], epoch))
        return res

    def _query_split(self, chunk, epoch):
        r, msg = self.query_batch(chunk, epoch)
        if r is not None:
            return r
        if len(chunk) == 1:
            return [{"error": msg, "_whole": True}]
        h = len(chunk) // 2
        return self._query_split(chunk[:h], epoch) + self._query_split(chunk[h:], epoch)


class FakeStrata:
    """Self-test: InfluxDB plays Strata (multi-statement requests), to check the harness."""

    def __init__(self, ctx, influx):
        self.ctx, self.influx = ctx, influx

    def has_query(self):
        return True

    def version(self):
        return "fake (InfluxDB answering as Strata)"

    def load(self, path):
        return 0.0, "(fake: no import)"

    def compact(self, extra):
        return "(fake: no compact)"

    def tiers(self):
        return {}

    def query_all(self, stmts, epoch="ns"):
        res = []
        bs = max(1, self.ctx.args.batch)
        for i in range(0, len(stmts), bs):
            chunk = stmts[i:i + bs]
            j = self.influx.query(";\n".join(chunk), epoch)
            if "results" in j and len(j["results"]) == len(chunk):
                res.extend(j["results"])
            else:
                for s in chunk:
                    j1 = self.influx.query(s, epoch)
                    res.append(j1["results"][0] if "results" in j1 else {"error": j1.get("error")})
        return res


# --------------------------------------------------------------------------- schema

def discover_schema(influx):
    """Measurements, tags and their values, field types and time range, from InfluxDB."""
    def rows(q):
        j = influx.query(q)
        out = []
        for r in j.get("results", []):
            for s in r.get("series", []) or []:
                out.append(s)
        return out

    schema = {}
    for s in rows("SHOW FIELD KEYS"):
        schema.setdefault(s["name"], {"fields": {}, "tags": {}})["fields"] = {v[0]: v[1] for v in s["values"]}
    for s in rows("SHOW TAG VALUES WITH KEY =~ /.*/"):
        m = schema.setdefault(s["name"], {"fields": {}, "tags": {}})
        for k, v in s["values"]:
            m["tags"].setdefault(k, []).append(v)
    for name, m in schema.items():
        f = sorted(m["fields"])[0]
        lo = rows(f'SELECT first("{f}") FROM "{name}"')
        hi = rows(f'SELECT last("{f}") FROM "{name}"')
        m["min_time"] = lo[0]["values"][0][0] if lo else 0
        m["max_time"] = hi[0]["values"][0][0] if hi else 0
        for k in m["tags"]:
            m["tags"][k].sort()
    return schema


# --------------------------------------------------------------------------- allowlist

def load_allowlist():
    p = os.path.join(HERE, "known_differences.json")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return json.load(f)


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--random", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-type", type=int, default=5, help="TSBS instances per query type")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--phases", default="hot,warm,cold",
                    help="comma list of hot,warm,cold: query after import (data kept in the hot tier), "
                         "after `compact --force` (warm), after `compact --to-cold --force` (cold)")
    ap.add_argument("--rfc3339", type=int, default=20, help="queries also compared with RFC 3339 times")
    ap.add_argument("--batch", type=int, default=100, help="statements per `strata query` process")
    ap.add_argument("--query-timeout", type=int, default=600)
    ap.add_argument("--fake-strata", action="store_true", help="self-test: InfluxDB answers for Strata")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--work", required=True)
    ap.add_argument("--peers-dir", default="/work/shared/peers")
    ap.add_argument("--strata", default="")
    ap.add_argument("--repo", default="")
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--max-failures-shown", type=int, default=60)
    args = ap.parse_args()
    ctx = Ctx(args)
    try:
        return run(ctx)
    except Fail as e:
        log(f"FAILED: {e}")
        return 2
    finally:
        for pid in list(reversed(ctx.started)):
            ctx.stop(pid)


def run(ctx):
    args = ctx.args
    t_start = time.time()
    influx = Influx(ctx)
    strata = FakeStrata(ctx, influx) if args.fake_strata else Strata(ctx)
    if not strata.has_query():
        raise Fail(f"{args.strata} has no `query` subcommand yet (merge main once the executor lands), "
                   f"or run with --fake-strata to self-test the harness")
    log("starting InfluxDB")
    influx.start()
    log(f"loading {args.data} into InfluxDB")
    lr = influx.load(args.data)
    log(f"InfluxDB: {lr.get('points')} points in {lr.get('wall_s')} s")

    log("importing into Strata")
    st_wall, st_line = strata.load(args.data)
    log(f"Strata import: {st_line} ({st_wall:.1f} s)")

    schema = discover_schema(influx)
    log("schema: " + ", ".join(f"{m} ({len(s['fields'])} fields, {len(s['tags'])} tags)" for m, s in schema.items()))

    rng = random.Random(args.seed)
    queries = []  # (type, query)
    if "cpu" in schema and "hostname" in schema["cpu"]["tags"]:
        queries += gen.tsbs_queries(schema, rng, args.per_type, args.peers_dir)
    else:
        log("no cpu measurement with hostname: TSBS query types skipped")
    queries += gen.random_queries(schema, random.Random(args.seed * 7919 + 1), args.random)
    # A few queries again without epoch=: RFC 3339 times compared as strings.
    rr = random.Random(args.seed + 17)
    pick = [q for t, q in queries if t in ("random:raw", "random:agg-time", "random:selector", "lastpoint")]
    queries += [("rfc3339", q) for q in rr.sample(pick, min(len(pick), args.rfc3339))]
    log(f"{len(queries)} queries ({sum(1 for t, _ in queries if not t.startswith('random'))} TSBS, "
        f"{sum(1 for t, _ in queries if t.startswith('random'))} random)")

    # InfluxDB answers, twice: a query whose two answers differ is InfluxDB-nondeterministic.
    log("querying InfluxDB (each query twice)")
    t = time.time()
    ref, unstable = [], set()
    for i, (_typ, q) in enumerate(queries):
        ep = None if _typ.startswith("rfc3339") else "ns"
        a = cmp.statement_result(influx.query(q, ep))
        b = cmp.statement_result(influx.query(q, ep))
        if cmp.first_difference(a, b) is not None:
            unstable.add(i)
        ref.append(a)
    log(f"InfluxDB: {len(queries)} queries x2 in {time.time() - t:.1f} s; {len(unstable)} unstable")

    allow = load_allowlist()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if args.fake_strata:
        phases = ["hot"]
    phase_results = {}
    tiers = {}
    for ph in phases:
        if ph == "warm":
            log("strata compact --force: " + strata.compact(["--force"]))
        elif ph == "cold":
            log("strata compact --to-cold --force: " + strata.compact(["--to-cold", "--force"]))
        tiers[ph] = strata.tiers()
        log(f"phase {ph}: tiers {tiers[ph]}; querying Strata")
        t = time.time()
        got = [None] * len(queries)
        for ep in ("ns", None):
            idx = [i for i, (t, _q) in enumerate(queries) if t.startswith("rfc3339") == (ep is None)]
            for i, r in zip(idx, strata.query_all([queries[i][1] for i in idx], ep)):
                got[i] = r
        log(f"phase {ph}: {len(queries)} queries in {time.time() - t:.1f} s")
        outcomes = []
        for i, ((typ, q), r) in enumerate(zip(queries, got)):
            mine = cmp.statement_result({"results": [r]} if r and "_whole" not in r else {"error": (r or {}).get("error", "no result")})
            if i in unstable:
                outcomes.append(("unstable", None, None))
                continue
            d = cmp.first_difference(ref[i], mine)
            if d is None:
                outcomes.append(("pass", None, None))
                continue
            known = cmp.match_allowlist(allow, q, ref[i], mine)
            if not known and "mode(" in q.lower() and cmp.mode_tie_check(
                    q, ref[i], mine, lambda cq: influx.query(cq, None if typ.startswith("rfc3339") else "ns")):
                known = "influxdb-mode-tie"
            outcomes.append(("known" if known else "FAIL", d, known))
        phase_results[ph] = (got, outcomes)

    report, failed = cmp.render_report(ctx, queries, ref, phase_results, tiers, schema, unstable,
                                       strata.version(), influx.version(), st_line, lr,
                                       time.time() - t_start)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"diff-{dt.datetime.utcnow().strftime('%Y-%m-%d')}{'-quick' if args.quick else ''}.md")
    with open(path, "w") as f:
        f.write(report)
    print(report.split("\n## Failures")[0])
    log(f"report written to {os.path.relpath(path)}; {'FAIL' if failed else 'PASS'} "
        f"({time.time() - t_start:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
