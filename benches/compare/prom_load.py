#!/usr/bin/env python3
"""HTTP loader for framed request bodies: Prometheus remote write, the text exposition
format, or line protocol, as written by `promgen` (benches/src/bin/promgen.rs).

The file holds frames `u32 LE body length | u32 LE samples | u32 LE shard | body`. Every
body is read into memory *before* the clock starts; then W workers (one keep-alive HTTP/1.1
connection each) POST them: a body with a shard number goes through worker `shard % W`, in
file order (so a series' samples arrive in time order, as from one Prometheus remote-write
shard), a body with shard 0xFFFFFFFF through whichever worker is free, like ../shared/peers/lp_load.py does for line protocol, and a 503 is
retried after its Retry-After (capped at 1 s). Prints one JSON object with samples/s
(`points_per_s`: one sample is one point), the server's CPU seconds when --server-pid is
given, and HTTP errors.

Formats (--format) and the headers sent:
  remote-write  Content-Encoding: snappy, Content-Type: application/x-protobuf,
                X-Prometheus-Remote-Write-Version: 0.1.0
  text          Content-Type: text/plain; version=0.0.4
  lp            Content-Type: text/plain

Example:
  python3 prom_load.py --file rw.frames --format remote-write --workers 2 \
      --url 'http://127.0.0.1:18429/api/v1/write'
"""
import argparse
import http.client
import json
import os
import queue
import struct
import sys
import threading
import time
import urllib.parse

ANY = 0xFFFFFFFF

HEADERS = {
    "remote-write": {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                     "X-Prometheus-Remote-Write-Version": "0.1.0"},
    "text": {"Content-Type": "text/plain; version=0.0.4"},
    "lp": {"Content-Type": "text/plain"},
}


def read_frames(path):
    with open(path, "rb") as f:
        data = f.read()
    out, at = [], 0
    while at < len(data):
        if at + 12 > len(data):
            raise SystemExit(f"{path}: truncated frame header at {at}")
        n, samples, shard = struct.unpack_from("<III", data, at)
        at += 12
        if at + n > len(data):
            raise SystemExit(f"{path}: truncated frame at {at}")
        out.append((data[at:at + n], samples, shard))
        at += n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--format", required=True, choices=sorted(HEADERS))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--server-pid", type=int, default=0,
                    help="report CPU seconds (utime+stime) the server used during the load")
    args = ap.parse_args()

    frames = read_frames(args.file)
    samples = sum(s for _, s, _ in frames)
    body_bytes = sum(len(b) for b, _, _ in frames)
    headers = HEADERS[args.format]
    u = urllib.parse.urlsplit(args.url)
    path = u.path + ("?" + u.query if u.query else "")
    shared = queue.Queue()
    own = [queue.Queue() for _ in range(args.workers)]
    for b, _, shard in frames:
        (shared if shard == ANY else own[shard % args.workers]).put(b)
    errors = []
    busy = [0]

    def worker(k):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        while True:
            try:
                body = own[k].get_nowait()
            except queue.Empty:
                try:
                    body = shared.get_nowait()
                except queue.Empty:
                    break
            attempt = 0
            while attempt < 5:
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    r = conn.getresponse()
                    rb = r.read()
                    if r.status == 503 and busy[0] < 10000:
                        busy[0] += 1
                        time.sleep(min(1.0, float(r.getheader("Retry-After") or 0.1)))
                        continue
                    if r.status >= 300:
                        errors.append((r.status, rb[:300].decode("utf-8", "replace")))
                    break
                except (http.client.HTTPException, OSError) as e:
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
                    if attempt == 4:
                        errors.append(("exc", repr(e)))
                    attempt += 1
                    time.sleep(0.2)
        conn.close()

    def proc_cpu(pid):
        if not pid:
            return 0.0
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def machine_busy():
        f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")

    m0 = machine_busy()
    s_cpu0 = proc_cpu(args.server_pid)
    c_cpu0 = time.process_time()
    t0 = time.perf_counter()
    ths = [threading.Thread(target=worker, args=(k,)) for k in range(args.workers)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.perf_counter() - t0
    s_cpu = proc_cpu(args.server_pid) - s_cpu0
    c_cpu = time.process_time() - c_cpu0
    m_cpu = machine_busy() - m0
    out = {
        "file": args.file, "url": args.url, "format": args.format, "workers": args.workers,
        "samples": samples, "points": samples, "bodies": len(frames), "body_bytes": body_bytes,
        "wall_s": round(wall, 3), "points_per_s": round(samples / wall),
        "server_cpu_s": round(s_cpu, 2) if args.server_pid else None,
        "server_cpu_s_per_1M_points": round(s_cpu / samples * 1e6, 3) if args.server_pid else None,
        "loader_cpu_s": round(c_cpu, 2),
        "machine_busy_cpu_s": round(m_cpu, 2),
        "other_procs_cpu_s": round(m_cpu - c_cpu - s_cpu, 2) if args.server_pid else None,
        "http_errors": len(errors), "first_errors": errors[:3], "retried_503": busy[0],
    }
    print(json.dumps(out))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
