#!/usr/bin/env python3
"""Scrape capacity: Prometheus 2.42 and Strata scrape the same N synthetic targets x M series
(pages.py) in turn, each for the same measurement window after a warm-up; reports samples
scraped and stored per second, server CPU-seconds per million samples (from /proc), and
missed scrapes (expected scrapes per target minus `count_over_time(up[window])`).

    benches/scrape/capacity.py --targets 1000 --series 1000 --interval 15s --seconds 120 \
        [--strata target/release/strata] [--out benches/scrape/results]

Needs `prometheus` (../shared/peers/install.sh). Loopback only; every process it starts is
stopped on exit.
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time, urllib.parse, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def query(base, expr, t):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{t:.3f}"})
    with urllib.request.urlopen(url, timeout=60) as r:
        d = json.load(r)
    res = d["data"]["result"]
    return float(res[0]["value"][1]) if res else 0.0


def wait_http(url, secs=60):
    deadline = time.time() + secs
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"{url} never answered")


def run(name, cmd, base, ready, interval, warm, seconds, log):
    p = subprocess.Popen(cmd, stdout=log, stderr=log, preexec_fn=os.setsid)
    try:
        wait_http(base + ready)
        time.sleep(warm)
        c0, t0 = cpu_seconds(p.pid), time.time()
        time.sleep(seconds)
        c1, t1 = cpu_seconds(p.pid), time.time()
        # Let the last scrapes land, then ask about exactly the window.
        time.sleep(2)
        w = int(t1 - t0)
        samples = query(base, f"sum(sum_over_time(scrape_samples_scraped[{w}s]))", t1)
        stored = query(base, f"sum(sum_over_time(scrape_samples_post_metric_relabeling[{w}s]))", t1)
        scrapes = query(base, f"sum(count_over_time(up[{w}s]))", t1)
        up = query(base, "sum(up)", t1)
        return {"system": name, "window_s": w, "cpu_s": c1 - c0, "samples": samples, "stored": stored,
                "scrapes": scrapes, "targets_up": up}
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--interval", default="15s")
    ap.add_argument("--seconds", type=int, default=120)
    ap.add_argument("--strata", default=os.path.join(HERE, "../../target/release/strata"))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--strata-args", default="", help="extra flags for strata serve, e.g. '--fsync interval:1s'")
    ap.add_argument("--systems", default="prometheus,strata",
                    help="comma-separated: prometheus, strata (both for the ratio)")
    a = ap.parse_args()
    interval_s = int(a.interval.rstrip("s"))
    work = tempfile.mkdtemp(prefix="strata-scrape-cap-")
    pages_port = free_port()
    cfg = os.path.join(work, "prometheus.yml")
    pages = subprocess.Popen([sys.executable, os.path.join(HERE, "pages.py"), "--targets", str(a.targets),
                              "--series", str(a.series), "--interval", a.interval, "--port", str(pages_port),
                              "--config", cfg], stdout=subprocess.PIPE, text=True)
    results = []
    try:
        pages.stdout.readline()
        log = open(os.path.join(work, "servers.log"), "w")
        pport, sport = free_port(), free_port()
        warm = interval_s * 2
        systems = a.systems.split(",")
        if "prometheus" in systems:
            results.append(run("Prometheus 2.42", ["prometheus", f"--config.file={cfg}",
                               f"--storage.tsdb.path={work}/prom", f"--web.listen-address=127.0.0.1:{pport}"],
                               f"http://127.0.0.1:{pport}", "/-/ready", interval_s, warm, a.seconds, log))
        if "strata" in systems:
            results.append(run("Strata", [a.strata, "serve", "--data-dir", f"{work}/strata", "--listen",
                               f"127.0.0.1:{sport}", "--config.file", cfg] + a.strata_args.split(),
                               f"http://127.0.0.1:{sport}", "/-/ready", interval_s, warm, a.seconds, log))
    finally:
        pages.terminate()
        pages.wait()
    expected = a.targets * (a.seconds // interval_s)
    lines = [f"# Scrape capacity, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             f"Command: `benches/scrape/capacity.py --targets {a.targets} --series {a.series} --interval {a.interval} --seconds {a.seconds}"
             + (f" --strata-args='{a.strata_args}'" if a.strata_args else "") + "`  ",
             f"Machine: {os.cpu_count()} cores; load average at end {open('/proc/loadavg').read().split()[:3]}; the page generator (Python) shares the cores.", "",
             "| system | samples scraped/s | stored/s | server CPU-s per 1 M samples | scrapes (expected ≈ %d) | targets up |" % expected,
             "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        per_m = r["cpu_s"] / (r["samples"] / 1e6) if r["samples"] else float("nan")
        lines.append(f"| {r['system']} | {r['samples'] / r['window_s']:,.0f} | {r['stored'] / r['window_s']:,.0f} | "
                     f"{per_m:.3f} | {r['scrapes']:,.0f} | {r['targets_up']:.0f} |")
    if len(results) == 2 and results[0]["samples"] and results[1]["samples"]:
        p, s = results
        ratio = (p["cpu_s"] / p["samples"]) / (s["cpu_s"] / s["samples"])
        lines += ["", f"Strata's samples per CPU-second: {ratio:.2f}x Prometheus'."]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"capacity-{time.strftime('%Y-%m-%d', time.gmtime())}-{a.targets}x{a.series}.md"), "w") as f:
        f.write(text)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
