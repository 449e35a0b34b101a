#!/usr/bin/env python3
"""Where a cold segment's bytes go, metric by metric, beside an estimate of what the values
need: the floor under the disk goal of issue 15 (≤ 0.24 B/sample on node_exporter data).

    benches/compare/disk_breakdown.py --lp FILE[.zst] --data-dir DIR [--top 15]

DIR is a Strata directory holding FILE's data after `strata compact --to-cold` (one or more
cold segments). Per metric name the script prints the series, the samples, the bytes of its
blocks in the segments (block payloads; shared-timestamp blocks counted where they are
stored) and the estimated entropy of its values, and then the whole directory's parts.

The estimate, per series: the values read as decimal integers at the precision they were
written with (`0.000155650` → 155650 at 10^-9; exact, from the text), then the smaller of
the order-0 entropy of those integers and of their first differences, each quantised to
buckets of 2^k and charged k bits inside a bucket, k the smallest with at least 8 samples
per occupied bucket (so the histogram is not over-fitted to 900 samples). It is what a
per-series entropy coder of values or deltas would need, not a proof: it ignores
correlation between series and between neighbouring deltas, which a cleverer model could
use. Timestamps are left out (series scraped together share one timestamp block).

Stdlib only; zstd frames (the segment directory and block index) go through the `zstd`
command.
"""
import argparse
import collections
import decimal
import math
import os
import struct
import subprocess
import sys


def lp_lines(path):
    if path.endswith(".zst"):
        out = subprocess.run(["zstd", "-dc", path], stdout=subprocess.PIPE, check=True).stdout
    else:
        out = open(path, "rb").read()
    for line in out.decode().splitlines():
        if line and not line.startswith("#"):
            yield line


def series_values(path):
    """{(metric, series text): [value text]} for lines with one float field."""
    out = collections.defaultdict(list)
    for line in lp_lines(path):
        key, fields, _ts = line.rsplit(" ", 2)
        name, _, value = fields.partition("=")
        metric = key.split(",", 1)[0]
        if name != "value":
            metric = f"{metric}_{name}"
        out[(metric, key)].append(value.rstrip("i"))
    return out


def bits_order0(xs):
    """Estimated bits for xs: quantised order-0 entropy plus the bits inside a bucket."""
    n = len(xs)
    for k in range(0, 64):
        buckets = collections.Counter(x >> k for x in xs)
        if n >= 8 * len(buckets):
            h = -sum(c / n * math.log2(c / n) for c in buckets.values())
            return (h + k) * n
    return 64.0 * n


def value_bits(texts):
    ds = [decimal.Decimal(t) for t in texts]
    if not all(d.is_finite() for d in ds):
        return 64.0 * len(ds)  # NaN/Inf present: not estimated, charged raw
    e = max(max(0, -d.as_tuple().exponent) for d in ds)
    ints = [int(d.scaleb(e)) for d in ds]
    deltas = [b - a for a, b in zip(ints, ints[1:])]
    return min(bits_order0(ints), bits_order0(deltas) + 64 if deltas else 64.0)


def unzstd(b):
    return subprocess.run(["zstd", "-dc"], input=b, stdout=subprocess.PIPE, check=True).stdout


def uvarint(b, p):
    r = s = 0
    while True:
        c = b[p]
        p += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, p


def segment_bytes(path):
    """(file bytes, {metric: block payload bytes}, directory bytes, block index bytes)."""
    f = open(path, "rb").read()
    dir_off, dir_len, idx_off, nf = struct.unpack_from("<QQQQ", f, len(f) - 72)
    n, flags = nf & 0xFFFFFFFF, nf >> 32
    d = f[dir_off:dir_off + dir_len]
    d = unzstd(d) if flags & 1 else d
    ix = f[idx_off:len(f) - 72]
    ix = unzstd(ix) if flags & 2 else ix
    columns = []  # metric of each column, in directory order
    p = 0
    n_series, p = uvarint(d, p)
    for _ in range(n_series):
        klen, p = uvarint(d, p)
        key = d[p:p + klen]
        p += klen
        mlen, q = uvarint(key, 0)
        metric = key[q:q + mlen].decode()
        n_cols, p = uvarint(d, p)
        for _ in range(n_cols):
            flen, p = uvarint(d, p)
            field = d[p:p + flen].decode()
            p += flen + 1
            _first, p = uvarint(d, p)
            _nb, p = uvarint(d, p)
            columns.append(metric if field == "value" else f"{metric}_{field}")
    per = collections.Counter()
    for i in range(n):
        (col,) = struct.unpack_from("<I", ix, i * 80 + 68)
        (payload,) = struct.unpack_from("<I", ix, i * 80 + 76)
        per[columns[col]] += payload
    return len(f), per, dir_len, len(f) - 72 - idx_off


def du(path):
    total = 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total + os.lstat(path).st_blocks * 512


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lp", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()

    est = collections.Counter()
    samples = collections.Counter()
    n_series = collections.Counter()
    for (metric, _key), texts in series_values(a.lp).items():
        est[metric] += value_bits(texts) / 8
        samples[metric] += len(texts)
        n_series[metric] += 1
    total_samples = sum(samples.values())

    seg_dir = os.path.join(a.data_dir, "segments")
    stored = collections.Counter()
    seg_total = dir_total = idx_total = 0
    for name in sorted(os.listdir(seg_dir)):
        size, per, dlen, ilen = segment_bytes(os.path.join(seg_dir, name))
        stored.update(per)
        seg_total += size
        dir_total += dlen
        idx_total += ilen

    def bps(x):
        return f"{x / total_samples:.3f}"

    print(f"{len(n_series)} metrics, {sum(n_series.values())} series, {total_samples:,} samples\n")
    print("| metric | series | samples | Strata block bytes | B/sample | estimated entropy bytes | stored / estimate |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rest = [0, 0, 0, 0.0]
    for i, (metric, b) in enumerate(stored.most_common()):
        row = [n_series[metric], samples[metric], b, est[metric]]
        if i < a.top:
            ratio = f"{b / row[3]:.2f}" if row[3] else "—"
            print(f"| `{metric}` | {row[0]} | {row[1]:,} | {b:,} | {b / max(row[1], 1):.3f} | "
                  f"{row[3]:,.0f} | {ratio} |")
        else:
            rest = [x + y for x, y in zip(rest, row)]
    if rest[1]:
        print(f"| {len(stored) - a.top} others | {rest[0]} | {rest[1]:,} | {rest[2]:,} | "
              f"{rest[2] / rest[1]:.3f} | {rest[3]:,.0f} | {rest[2] / rest[3]:.2f} |")
    blocks = sum(stored.values())
    entropy = sum(est.values())
    print(f"| **all** | {sum(n_series.values())} | {total_samples:,} | {blocks:,} | {blocks / total_samples:.3f} | "
          f"{entropy:,.0f} | {blocks / entropy:.2f} |\n")
    whole = du(a.data_dir)
    print("| part | bytes | B/sample |")
    print("| --- | --- | --- |")
    print(f"| estimated entropy of the values (above) | {entropy:,.0f} | {bps(entropy)} |")
    print(f"| block payloads (timestamps and values) | {blocks:,} | {bps(blocks)} |")
    print(f"| segment directories + block indexes (as stored) | {dir_total + idx_total:,} | "
          f"{bps(dir_total + idx_total)} |")
    print(f"| segment files | {seg_total:,} | {bps(seg_total)} |")
    print(f"| whole directory, allocated (`du`) | {whole:,} | {bps(whole)} |")


if __name__ == "__main__":
    sys.exit(main())
