#!/usr/bin/env python3
"""Serialised fraction of Strata's HTTP write path, and the scaling it predicts (Amdahl).

Starts `strata serve` on a fresh data directory, loads a line-protocol file over HTTP with
W client processes (one keep-alive connection each, bodies of B lines built before the
clock), and reads `/metrics` and the server's CPU time (/proc) before and after. From the
differences it prints, per serialised section of the write path (docs/SERVER.md, "Write
path sections"): time inside it, its busy share of the wall time, its share of the server's
CPU time; then the serialised fraction s and the Amdahl plateau 1/(s + (1-s)/N).

usage:
  benches/scale/serial_fraction.py [--data FILE.lp[.zst]] [--workers W] [--batch B]
      [--fsync always|interval|never] [--cores 0-1] [--load-cpus 2-3] [--bin PATH] [--out DIR]

Defaults: --data /work/shared/data/tsbs_cpu_only_scale100_6h.lp.zst, 2 workers, 5000
lines per body, fsync always (the server default), no pinning, --bin from `cargo metadata`
(release). Python 3 stdlib and the `zstd` CLI for .zst input. Writes the Markdown table
and a JSON record to DIR (default benches/scale/results/) as serial-<UTC time>.{md,json}.
"""
import argparse
import datetime
import http.client
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SECTIONS = ["index_create", "wal_submit", "wal_write", "wal_fsync", "turnstile", "hot_insert"]
# Sections whose time is CPU work one write at a time. `hot_insert` runs inside `turnstile`
# (counted there); `wal_fsync` waits on the disk, and one fsync covers a whole commit group,
# so its cost per write falls as concurrency grows: it is reported, not put in s.
SERIAL_CPU = ["index_create", "wal_submit", "wal_write", "turnstile"]
CLK_TCK = os.sysconf("SC_CLK_TCK")


def read_lines(path):
    if path.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    return [l for l in data.split(b"\n") if l and not l.startswith(b"#")]


def count_fields(line):
    parts = line.rsplit(b" ", 2)
    fields = parts[1] if len(parts) == 3 else parts[-1]
    return fields.count(b",") + 1


def worker(port, bodies, barrier, q):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    barrier.wait(timeout=120)
    errors = 0
    for b in bodies:
        c.request("POST", "/write?db=benchmark&precision=ns", body=b,
                  headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        r.read()
        if r.status // 100 != 2:
            errors += 1
    q.put(errors)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    """The /metrics samples: {name_with_labels: value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                pass
    return out


def cpu_seconds(pid):
    """(process utime+stime in seconds, {thread id: (name, CPU ns from schedstat)})."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    # comm may hold spaces: fields after the closing parenthesis.
    rest = s[s.rindex(")") + 2:].split()
    total = (int(rest[11]) + int(rest[12])) / CLK_TCK
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        threads[tid] = (name, ns)
    return total, threads


def thread_cpu(before, after):
    """CPU seconds per thread name (numbered names grouped) between two samples."""
    out = {}
    for tid, (name, ns) in after.items():
        name = re.sub(r"[-_ ]?\d+$", "", name)
        dt = (ns - before.get(tid, (name, 0))[1]) / 1e9
        if dt > 0.0005:
            out[name] = out.get(name, 0.0) + dt
    return out


def find_bin():
    try:
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                              cwd=REPO, check=True, stdout=subprocess.PIPE).stdout
        target = json.loads(meta)["target_directory"]
    except (OSError, subprocess.CalledProcessError):
        target = os.path.join(REPO, "target")
    return os.path.join(target, "release", "strata")


def amdahl(s, n):
    return 1.0 / (s + (1.0 - s) / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/work/shared/data/tsbs_cpu_only_scale100_6h.lp.zst")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--fsync", default="always")
    ap.add_argument("--cores", help="taskset CPU list for the server, e.g. 0-7")
    ap.add_argument("--load-cpus", help="taskset CPU list for the loader, e.g. 8-15")
    ap.add_argument("--bin", default=None)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    binary = args.bin or find_bin()
    if not os.path.exists(binary):
        sys.exit(f"{binary} not found: cargo build --release -p strata, or pass --bin")
    if args.load_cpus:
        os.sched_setaffinity(0, parse_cpus(args.load_cpus))

    lines = read_lines(args.data)
    points = sum(count_fields(l) for l in lines)
    bodies = [b"\n".join(lines[i:i + args.batch]) + b"\n"
              for i in range(0, len(lines), args.batch)]
    n_lines = len(lines)
    del lines

    tmp = tempfile.mkdtemp(prefix="strata-serial-")
    port = free_port()
    cmd = [binary, "serve", "--data-dir", os.path.join(tmp, "data"),
           "--listen", f"127.0.0.1:{port}", "--fsync", args.fsync]
    if args.cores:
        cmd = ["taskset", "-c", args.cores] + cmd
    log = open(os.path.join(tmp, "server.log"), "wb")
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        pid = server.pid  # taskset execs the server in place: the same pid
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except Exception:
                if server.poll() is not None:
                    sys.exit(f"server exited: {open(log.name).read()[-2000:]}")
                time.sleep(0.1)
        else:
            sys.exit("server not ready after 60 s")

        ctx = mp.get_context("fork")
        barrier = ctx.Barrier(args.workers + 1)
        q = ctx.Queue()
        procs = [ctx.Process(target=worker, args=(port, bodies[i::args.workers], barrier, q))
                 for i in range(args.workers)]
        for p in procs:
            p.start()
        m0 = metrics(port)
        c0, t0 = cpu_seconds(pid)
        barrier.wait(timeout=120)
        start = time.perf_counter()
        errors = sum(q.get(timeout=3600) for _ in procs)
        wall = time.perf_counter() - start
        c1, t1 = cpu_seconds(pid)
        m1 = metrics(port)
        for p in procs:
            p.join()
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)

    d = lambda k: m1.get(k, 0.0) - m0.get(k, 0.0)
    cpu = c1 - c0
    threads = thread_cpu(t0, t1)
    sec = {}
    for s in SECTIONS:
        sec[s] = {
            "hold_s": d(f'strata_write_serial_seconds_total{{section="{s}"}}'),
            "wait_s": d(f'strata_write_lock_wait_seconds_total{{section="{s}"}}'),
            "passes": d(f'strata_write_serial_passes_total{{section="{s}"}}'),
        }
    batches = d("strata_write_batches_total")
    serial = sum(sec[s]["hold_s"] for s in SERIAL_CPU)
    s_frac = serial / cpu if cpu > 0 else float("nan")
    # Each serialised resource can be busy at most 100 % of the wall time: the throughput
    # it allows is today's divided by its busy share. The first to saturate is the ceiling.
    # fsync is left out again: its time per write shrinks as commit groups grow.
    resources = {"index write lock": ["index_create"], "WAL submit lock": ["wal_submit"],
                 "WAL thread (writes)": ["wal_write"], "apply turnstile": ["turnstile"]}
    busiest = max(resources, key=lambda r: sum(sec[x]["hold_s"] for x in resources[r]))
    busiest_share = sum(sec[x]["hold_s"] for x in resources[busiest]) / wall
    rate = points / wall
    per_cpu_s = points / cpu if cpu > 0 else float("nan")

    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    w = out.append
    w(f"# Serialised fraction of the HTTP write path, {now:%Y-%m-%d %H:%M} UTC\n")
    w(f"Command: `{' '.join([sys.argv[0]] + sys.argv[1:])}`  ")
    w(f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), {mem_gib():.0f} GiB, "
      f"kernel {platform.release()}, load average before {load_before:.2f}  ")
    w(f"Strata: {version(binary)}; server `{' '.join(cmd[cmd.index(binary):])}`"
      .replace(tmp, "TMP") + "  ")
    w(f"Load: {os.path.basename(args.data)}, {n_lines:,} lines, {points:,} points, "
      f"{len(bodies)} bodies of {args.batch} lines, {args.workers} client processes; "
      f"HTTP errors: {errors}\n")
    w(f"| wall s | points/s | server CPU-s | cores busy | batches | CPU-s per M points |")
    w("| --- | --- | --- | --- | --- | --- |")
    w(f"| {wall:.2f} | {rate / 1e6:.2f} M | {cpu:.2f} | {cpu / wall:.2f} | {batches:.0f} | "
      f"{cpu / points * 1e6:.3f} |\n")
    w("| section | passes | held s | busy (held / wall) | share of server CPU | waited s |")
    w("| --- | --- | --- | --- | --- | --- |")
    for s in SECTIONS:
        x = sec[s]
        note = " (inside turnstile)" if s == "hot_insert" else ""
        w(f"| {s}{note} | {x['passes']:.0f} | {x['hold_s']:.3f} | {x['hold_s'] / wall:.1%} | "
          f"{x['hold_s'] / cpu:.1%} | {x['wait_s']:.3f} |")
    w(f"| batch in engine (wall, summed) | {batches:.0f} | "
      f"{d('strata_write_batch_seconds_total'):.3f} | | | "
      f"durable wait {d('strata_write_durable_wait_seconds_total'):.3f} |\n")
    w("Server CPU-s by thread: " + ", ".join(
        f"{k} {v:.2f}" for k, v in sorted(threads.items(), key=lambda kv: -kv[1])) + "\n")
    w(f"Serialised fraction s = ({' + '.join(SERIAL_CPU)}) / server CPU = "
      f"{serial:.3f} / {cpu:.3f} = **{s_frac:.3f}** (fsync excluded: it waits on the disk "
      f"and one fsync serves a whole commit group).\n")
    w("| cores N | Amdahl speedup 1/(s+(1-s)/N) | predicted points/s (points per CPU-s × speedup) |")
    w("| --- | --- | --- |")
    for n in (1, 2, 4, 8, 16):
        a = amdahl(s_frac, n)
        w(f"| {n} | {a:.2f}× | {per_cpu_s * a / 1e6:.2f} M |")
    w(f"| ∞ | {1 / s_frac:.1f}× (1/s) | {per_cpu_s / s_frac / 1e6:.2f} M |\n")
    busiest_held = busiest_share * wall
    w(f"Amdahl adds the sections as if no two could overlap. They are separate resources, "
      f"though (the WAL thread writes one group while another batch is in the turnstile), so "
      f"the optimistic bound is the busiest one alone: {busiest}, held {busiest_share:.1%} of "
      f"the wall time ({busiest_held / cpu:.1%} of the server CPU). With everything else "
      f"perfectly parallel it saturates at {cpu / busiest_held:.1f} busy cores, about "
      f"{rate / busiest_share / 1e6:.1f} M points/s (today's rate / its busy share), however "
      f"many cores the machine has. The plateau lies between the two bounds.\n")
    w("Held times are wall times: on a loaded machine a holder that is preempted counts while "
      "off the CPU (compare the strata-wal thread's CPU above with wal_write).")
    text = "\n".join(out) + "\n"
    print(text)
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"serial-{now:%Y-%m-%dT%H%M%SZ}")
    with open(stem + ".md", "w") as f:
        f.write(text)
    with open(stem + ".json", "w") as f:
        json.dump({"wall_s": wall, "points": points, "lines": n_lines, "cpu_s": cpu,
                   "batches": batches, "errors": errors, "sections": sec, "threads": threads,
                   "serial_fraction": s_frac, "busiest": busiest,
                   "busiest_share_of_wall": busiest_share, "workers": args.workers, "batch": args.batch,
                   "fsync": args.fsync, "cores": args.cores, "data": args.data,
                   "amdahl": {n: amdahl(s_frac, n) for n in (2, 4, 8, 16)}}, f, indent=1)
    print(f"wrote {stem}.md and .json")


def parse_cpus(spec):
    cpus = set()
    for part in spec.split(","):
        a, _, b = part.partition("-")
        cpus.update(range(int(a), int(b or a) + 1))
    return cpus


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0


def version(binary):
    try:
        v = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, text=True).stdout
    except OSError:
        v = ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                stdout=subprocess.PIPE, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return f"{v.strip()} (git {commit})"


if __name__ == "__main__":
    main()
