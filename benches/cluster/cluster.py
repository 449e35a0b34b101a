#!/usr/bin/env python3
"""Cluster overhead on loopback (issue 17): one real etcd, three `strata serve` members
holding one third of a TSBS cpu-only file each (hosts split by number mod 3), and one
single `strata serve` holding the whole file with the `node` tag stored. The same
questions go to member a with `cluster=true` and to the single node, alternately, after a
warm-up; the medians are compared, and the bytes member a received per cluster query are
read from its `strata_cluster_received_bytes_total` counter.

Run through run.sh, which builds the binary and cleans up.
"""

import argparse
import datetime
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse



def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, name, port, proc):
        self.name, self.port, self.proc = name, port, proc
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def request(self, method, path, body=None):
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
                if attempt:
                    raise
        raise RuntimeError("unreachable")

    def get_json(self, path):
        status, data = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"{self.name} GET {path}: {status} {data[:300]!r}")
        return json.loads(data)

    def counter(self, name):
        status, data = self.request("GET", "/metrics")
        m = re.search(rf"^{name} (\S+)$", data.decode(), re.M)
        return float(m.group(1)) if m else 0.0


def wait_until(what, fn, limit=120):
    start = time.time()
    while time.time() - start < limit:
        try:
            if fn():
                return
        except (OSError, http.client.HTTPException, RuntimeError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gave up waiting for {what}")


def start_etcd(work, pids):
    c, p = free_port(), free_port()
    curl, purl = f"http://127.0.0.1:{c}", f"http://127.0.0.1:{p}"
    proc = subprocess.Popen(
        ["etcd", "--name", "bench", "--data-dir", os.path.join(work, "etcd"),
         "--listen-client-urls", curl, "--advertise-client-urls", curl,
         "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
         "--initial-cluster", f"bench={purl}"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "etcd.log"), "w"))
    pids.write(f"{proc.pid}\n"); pids.flush()
    s = Server("etcd", c, proc)
    wait_until("etcd", lambda: s.request("GET", "/health")[0] == 200)
    return curl


def start_strata(binary, work, pids, name, cluster_flags):
    port = free_port()
    args = [binary, "serve", "--data-dir", os.path.join(work, name), "--listen",
            f"127.0.0.1:{port}"] + cluster_flags(name, port)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, f"{name}.log"), "w"))
    pids.write(f"{proc.pid}\n"); pids.flush()
    s = Server(name, port, proc)
    wait_until(f"{name} ready", lambda: s.request("GET", "/ready")[0] == 200)
    return s


def lines_of(path):
    if path.endswith(".zst"):
        p = subprocess.Popen(["zstd", "-dc", path], stdout=subprocess.PIPE)
        yield from p.stdout
        p.wait()
    else:
        with open(path, "rb") as f:
            yield from f


HOST = re.compile(rb"hostname=host_(\d+)")


def load(path, members, single):
    """Members get their third as is; the single node gets every line with node=<name>."""
    batch = 20000
    bufs = {m.name: [] for m in members}
    one = []
    points = 0

    def flush(server, buf):
        if buf:
            status, data = server.request("POST", "/write", b"".join(buf))
            if status != 204:
                raise RuntimeError(f"write to {server.name}: {status} {data[:300]!r}")
            buf.clear()

    for line in lines_of(path):
        if not line.strip() or line.startswith(b"#"):
            continue
        m = HOST.search(line)
        k = int(m.group(1)) % len(members) if m else 0
        member = members[k]
        bufs[member.name].append(line)
        head, rest = line.split(b" ", 1)
        one.append(head + b",node=" + member.name.encode() + b" " + rest)
        points += rest.split(b" ", 1)[0].count(b"=")
        if len(bufs[member.name]) >= batch:
            flush(member, bufs[member.name])
        if len(one) >= batch:
            flush(single, one)
    for mem in members:
        flush(mem, bufs[mem.name])
    flush(single, one)
    return points


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--strata", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--commit", default="")
    ap.add_argument("--fanout", default="", help="comma-separated member counts to simulate")
    a = ap.parse_args()
    a.fanout = [int(x) for x in a.fanout.split(",") if x.strip()]
    pids = open(os.path.join(a.work, "pids"), "a")
    etcd = start_etcd(a.work, pids)

    def member_flags(name, port):
        return ["--cluster.etcd", etcd, "--cluster.node", name, "--cluster.advertise",
                f"http://127.0.0.1:{port}", "--cluster.deadline", "60s"]

    members = [start_strata(a.strata, a.work, pids, n, member_flags) for n in "abc"]
    single = start_strata(a.strata, a.work, pids, "single", lambda n, p: [])
    front = members[0]
    wait_until("three members", lambda: len(front.get_json("/api/v1/cluster/members")["members"]) == 3)
    t = time.time()
    points = load(a.data, members, single)
    load_s = time.time() - t
    print(f"loaded {points} points in {load_s:.1f} s", file=sys.stderr)

    first = front.get_json("/query?q=" + urllib.parse.quote(
        "SELECT first(usage_user) FROM cpu") + "&epoch=s")
    t0 = first["results"][0]["series"][0]["values"][0][0]
    last = single.get_json("/query?q=" + urllib.parse.quote(
        "SELECT last(usage_user) FROM cpu") + "&epoch=s")
    t1 = last["results"][0]["series"][0]["values"][0][0] + 10
    span_h = (t1 - t0) / 3600
    rng = f"time >= {t0}s AND time < {t1}s"
    rng6 = f"time >= {t0}s AND time < {t0 + 6 * 3600}s"
    influx = [
        ("mean", f"SELECT mean(usage_user) FROM cpu WHERE {rng}"),
        ("sum by node", f"SELECT sum(usage_user) FROM cpu WHERE {rng} GROUP BY node"),
        ("sum by node, first 6 h", f"SELECT sum(usage_user) FROM cpu WHERE {rng6} GROUP BY node"),
        ("mean by time(1h), node", f"SELECT mean(usage_user) FROM cpu WHERE {rng} GROUP BY time(1h), node"),
        ("mean by hostname", f"SELECT mean(usage_user) FROM cpu WHERE {rng} GROUP BY hostname"),
        ("max by time(1h), hostname", f"SELECT max(usage_user) FROM cpu WHERE {rng} GROUP BY time(1h), hostname"),
        ("p95 by node", f"SELECT percentile(usage_user, 95) FROM cpu WHERE {rng} GROUP BY node"),
    ]
    prom = [
        ("sum by (node), step 5m", "sum by (node) (cpu_usage_user)", 300),
        ("avg, step 5m", "avg(cpu_usage_user)", 300),
        ("sum by (node) (avg_over_time[1h]), step 1h", "sum by (node) (avg_over_time(cpu_usage_user[1h]))", 3600),
    ]
    rows = []

    def close(x, y, tol):
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) \
                and not isinstance(x, bool):
            return abs(x - y) <= tol * max(abs(x), abs(y), 1e-300) or x == y
        if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
            return len(x) == len(y) and all(close(p, q, tol) for p, q in zip(x, y))
        if isinstance(x, dict) and isinstance(y, dict):
            return x.keys() == y.keys() and all(close(x[k], y[k], tol) for k in x)
        return x == y

    def measure(label, lang, cpath, spath, norm, tol=1e-9):
        # Warm-up, and the answers must agree (percentiles over large groups travel as
        # sketches: within their stated 1%).
        _, cd = front.request("GET", cpath)
        _, sd = single.request("GET", spath)
        agree = close(norm(json.loads(cd)), norm(json.loads(sd)), tol)
        ct, st, cb = [], [], []
        for _ in range(a.reps):
            b0 = front.counter("strata_cluster_received_bytes_total")
            s = time.perf_counter(); status, d = front.request("GET", cpath); ct.append(time.perf_counter() - s)
            assert status == 200, d[:300]
            cb.append(front.counter("strata_cluster_received_bytes_total") - b0)
            s = time.perf_counter(); status, d = single.request("GET", spath); st.append(time.perf_counter() - s)
            assert status == 200, d[:300]
        # The fan-out's own cost: member a alone (no cluster) against the cluster limited
        # to member a (one fan-out, one merge, the same work on the member).
        at, a1 = [], []
        for _ in range(a.reps):
            s = time.perf_counter(); front.request("GET", spath); at.append(time.perf_counter() - s)
            s = time.perf_counter(); front.request("GET", cpath + "&nodes=a"); a1.append(time.perf_counter() - s)
        c, sv = statistics.median(ct), statistics.median(st)
        rows.append((lang, label, c * 1e3, sv * 1e3, c / sv, int(statistics.median(cb)), agree,
                     statistics.median(at) * 1e3, statistics.median(a1) * 1e3))
        print(f"{lang} {label}: cluster {c*1e3:.1f} ms, single {sv*1e3:.1f} ms, ratio {c/sv:.2f}, "
              f"bytes {int(statistics.median(cb))}, agree {agree}", file=sys.stderr)

    def norm_influx(v):
        return v.get("results")

    def norm_prom(v):
        res = v["data"]["result"]
        return sorted((json.dumps(s["metric"], sort_keys=True),
                       [(p[0], float(p[1])) for p in s["values"]]) for s in res)

    for label, q in influx:
        p = "/query?epoch=s&q=" + urllib.parse.quote(q)
        tol = 0.01 if "percentile" in q else 1e-9
        measure(label, "InfluxQL", p + "&cluster=true", p, norm_influx, tol)
    for label, q, step in prom:
        p = f"/api/v1/query_range?query={urllib.parse.quote(q)}&start={t0 + 3600}&end={t1}&step={step}"
        measure(label, "PromQL", p + "&cluster=true", p, norm_prom)

    # Fan-out width: extra member entries in etcd (no lease) pointing at a, b and c in
    # turn, so that member a asks `width` members; each real node answers its share of
    # the requests on this one machine, so the times are an upper bound.
    fan_rows = []
    if a.fanout:
        import base64
        etcd_host = urllib.parse.urlparse(etcd)
        ec = http.client.HTTPConnection(etcd_host.hostname, etcd_host.port, timeout=30)

        def etcd_post(path, body):
            ec.request("POST", path, body=json.dumps(body))
            r = ec.getresponse()
            r.read()
            assert r.status == 200, r.status

        b64 = lambda x: base64.b64encode(x.encode()).decode()
        fan_q = [q for q in influx if q[0] in ("mean", "sum by node", "mean by hostname")]
        widths = [3] + [w for w in a.fanout if w > 3]
        made = 3
        for width in widths:
            while made < width:
                real = members[made % 3]
                name = f"sim{made:03d}"
                etcd_post("/v3/kv/put", {
                    "key": b64(f"/strata/members/{name}"),
                    "value": b64(json.dumps({"node": name, "url": f"http://127.0.0.1:{real.port}"})),
                })
                made += 1
            wait_until(f"{width} members", lambda: len(
                front.get_json("/api/v1/cluster/members")["members"]) == width)
            for label, q in fan_q:
                path = "/query?epoch=s&cluster=true&q=" + urllib.parse.quote(q)
                front.request("GET", path)
                ts, bs = [], []
                for _ in range(a.reps):
                    b0 = front.counter("strata_cluster_received_bytes_total")
                    t = time.perf_counter()
                    status, d = front.request("GET", path)
                    ts.append(time.perf_counter() - t)
                    assert status == 200 and b'"partial":false' in d, d[:300]
                    bs.append(front.counter("strata_cluster_received_bytes_total") - b0)
                fan_rows.append((width, label, statistics.median(ts) * 1e3, int(statistics.median(bs))))
                print(f"fan-out {width}: {label} {fan_rows[-1][2]:.1f} ms, {fan_rows[-1][3]} bytes",
                      file=sys.stderr)
        etcd_post("/v3/kv/deleterange", {"key": b64("/strata/members/sim"),
                                         "range_end": b64("/strata/members/sin")})

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    out = os.path.join(a.out, f"cluster-overhead-{date}.md")
    with open(out, "w") as f:
        f.write(f"# Cluster overhead, {date}\n\n")
        f.write(f"Command: `{a.cmdline}`; commit {a.commit}; binary {a.strata}.\n\n")
        f.write(f"Data: {os.path.basename(a.data)}, {points} points over {span_h:.1f} h; "
                f"members a, b, c hold one third each (hosts by number mod 3), the single node all "
                f"(with the `node` tag stored). One etcd 3.4, four `strata serve`, all on 127.0.0.1 "
                f"on this {os.cpu_count()}-core machine. Medians of {a.reps} runs after a warm-up, "
                f"cluster and single alternating. Bytes: what member a received from the members "
                f"(itself included) per cluster query.\n\n")
        f.write("The last two columns isolate the fan-out's own cost: member a answering alone, "
                "and the cluster path limited to member a (`nodes=a`: one internal request, "
                "one merge, the same work on the member).\n\n")
        f.write("| language | question | cluster ms | single ms | ratio | bytes moved | same answer | a alone ms | cluster nodes=a ms |\n")
        f.write("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |\n")
        for lang, label, c, s, r, b, agree, alone, only_a in rows:
            same = ('within 1% (sketch)' if 'p95' in label else 'yes') if agree else 'NO'
            f.write(f"| {lang} | {label} | {c:.1f} | {s:.1f} | {r:.2f} | {b} | {same} | {alone:.1f} | {only_a:.1f} |\n")
        if fan_rows:
            f.write("\nFan-out width (member a asks this many members; the extra ones are etcd entries "
                    "pointing at a, b and c in turn, so the three processes answer every request on "
                    "this one machine: an upper bound on what separate machines would take):\n\n")
            f.write("| members asked | question | cluster ms | bytes moved |\n| ---: | --- | ---: | ---: |\n")
            for width, label, ms, b in fan_rows:
                f.write(f"| {width} | {label} | {ms:.1f} | {b} |\n")
    print(out)
    if not all(r[6] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
