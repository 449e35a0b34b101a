#!/usr/bin/env python3
"""Scrape-capacity page generator: serves N synthetic targets x M series on loopback.

One HTTP server on PORT answers /metrics/<i> for target i with M series
(`bench_series{target="i",series="j"} value`, values changing every request like
counters) in text format 0.0.4. Writes a prometheus.yml scraping all N targets every
INTERVAL, usable by both Prometheus and Strata (`--config.file`).

    benches/scrape/pages.py --targets 1000 --series 1000 --interval 15s --port 19100 --config out.yml
"""
import argparse, http.server, socketserver, threading

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--interval", default="15s")
    ap.add_argument("--port", type=int, default=19100)
    ap.add_argument("--config", required=True)
    a = ap.parse_args()
    with open(a.config, "w") as f:
        secs = int(a.interval.rstrip("s")) if a.interval.endswith("s") and a.interval[:-1].isdigit() else 60
        timeout = "10s" if secs >= 10 else a.interval
        f.write(f"global: {{scrape_interval: {a.interval}, scrape_timeout: {timeout}}}\nscrape_configs:\n")
        f.write("  - job_name: bench\n    static_configs:\n")
        for i in range(a.targets):
            f.write(f"      - targets: ['127.0.0.1:{a.port}']\n        labels: {{shard: '{i}', __metrics_path__: '/metrics/{i}'}}\n")
    head = "# HELP bench_series A synthetic counter.\n# TYPE bench_series counter\n"
    rows = [[f'bench_series{{target="{t}",series="{j}"}} ' for j in range(a.series)] for t in range(a.targets)]
    counter = [0]
    lock = threading.Lock()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            try:
                t = int(self.path.rsplit("/", 1)[1])
                r = rows[t]
            except (ValueError, IndexError):
                self.send_error(404); return
            with lock:
                counter[0] += 1
                c = counter[0]
            body = (head + "".join(f"{p}{c + j}\n" for j, p in enumerate(r))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        request_queue_size = 1024
    print(f"serving {a.targets} targets x {a.series} series on 127.0.0.1:{a.port}", flush=True)
    S(("127.0.0.1", a.port), H).serve_forever()

if __name__ == "__main__":
    main()
