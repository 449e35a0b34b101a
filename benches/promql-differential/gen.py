#!/usr/bin/env python3
"""Deterministic PromQL queries over a data set's real metric names and label values.

    gen.py --data FILE.lp[.zst] [--data FILE2.lp ...] [--seed 1] [--count 400] [--name cpu] > queries.jsonl

Reads the line protocol once (schema: metric names as lp_to_openmetrics.py names them,
label keys and values per metric, every series' label set, first/last timestamp, sample
interval) and writes one JSON object per line:

    {"id": "cpu-0001", "feature": "agg/topk", "kind": "instant" | "range",
     "expr": "...", "params": {"query": ..., "time": ...} or {..., "start", "end", "step"}}

`params` is exactly what is sent to /api/v1/query or /api/v1/query_range. The same files,
seed and count give the same queries, byte for byte.

First every feature (see FEATURES) is generated at least once as an instant and, where valid,
once as a range query: selectors (= != =~ !~, __name__, empty values), offset (also
negative), @ (numbers, start(), end()), subqueries, literals, every binary operator with
precedence and associativity, bool, vector matching (on/ignoring, group_left/group_right with
label lists), and/or/unless, every aggregation (by/without before or after), every function
of Prometheus 2.42, and error cases (parse, type and execution errors, bad API
parameters). The rest, up to --count, are random compositions of the same pieces. Eval
times lie inside the data's time span (a few deliberately outside); range queries have 5 to
~120 steps.
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys

PEERS_DIR = os.environ.get("PEERS_DIR", "/work/shared/peers")

# --------------------------------------------------------------------------- schema


class Metric:
    def __init__(self, name):
        self.name = name
        self.series = []      # label dicts (without __name__)
        self._vals = None

    @property
    def keys(self):
        return sorted({k for s in self.series for k in s})

    def values(self, k):
        if self._vals is None:
            self._vals = {}
            for s in self.series:
                for kk, v in s.items():
                    self._vals.setdefault(kk, set()).add(v)
            self._vals = {kk: sorted(v) for kk, v in self._vals.items()}
        return self._vals.get(k, [])

    def varying_keys(self):
        return [k for k in self.keys if len(self.values(k)) > 1]

    def determines(self, k):
        """Keys whose value is a function of k's value over this metric's series."""
        out = []
        for k2 in self.keys:
            if k2 == k:
                continue
            m = {}
            ok = True
            for s in self.series:
                if k not in s:
                    ok = False
                    break
                if m.setdefault(s[k], s.get(k2)) != s.get(k2):
                    ok = False
                    break
            if ok:
                out.append(k2)
        return out

    def is_counter(self):
        return self.name.endswith(("_total", "_count", "_sum", "_bucket"))


class Schema:
    def __init__(self):
        self.metrics = {}
        self.t_min = self.t_max = None
        self.interval = 10.0
        self.lines = 0


def read_schema(paths, peers_dir=PEERS_DIR):
    """The schema of line-protocol files, with the naming of ../shared/peers/lp_to_openmetrics.py."""
    sys.path.insert(0, peers_dir)
    import lp_to_openmetrics as lpom  # noqa: E402  (the peers' converter: same names, same parsing)
    sc = Schema()
    keys_seen = {}
    first_key, first_ts = None, []
    for path in paths:
        cat = ["zstd", "-dc", path] if path.endswith(".zst") else ["cat", path]
        p = subprocess.Popen(cat, stdout=subprocess.PIPE, text=True, errors="replace")
        tmin = tmax = None
        for line in p.stdout:
            if not line or line[0] == "#" or line == "\n":
                continue
            sc.lines += 1
            i = lpom.series_end(line) if "\\" in line else line.find(" ")
            key = line[:i]
            ts = int(line[line.rindex(" ") + 1:])
            if tmin is None or ts < tmin:
                tmin = ts
            if tmax is None or ts > tmax:
                tmax = ts
            if first_key is None:
                first_key = key
            if key == first_key and len(first_ts) < 64:
                first_ts.append(ts)
            if key in keys_seen:
                continue
            rest = line[i + 1:].rstrip("\n")
            fields = rest.rsplit(" ", 1)[0]
            parts = lpom.split_unescaped(key, ",")
            meas = lpom.BAD.sub("_", lpom.unescape(parts[0]))
            labels = {}
            for t in parts[1:]:
                kv = lpom.split_unescaped(t, "=")[:2]
                labels[lpom.BAD.sub("_", lpom.unescape(kv[0]))] = lpom.unescape(kv[1])
            names = []
            for f in lpom.split_unescaped(fields, ","):
                fname, val = f.split("=", 1)
                if val.startswith('"') or val in ("t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE"):
                    continue
                fname = lpom.unescape(fname)
                names.append(meas if fname == "value" else f"{meas}_{lpom.BAD.sub('_', fname)}")
            keys_seen[key] = True
            for n in names:
                sc.metrics.setdefault(n, Metric(n)).series.append(labels)
        p.wait()
        if tmin is not None:
            sc.t_min = tmin if sc.t_min is None else min(sc.t_min, tmin)
            sc.t_max = tmax if sc.t_max is None else max(sc.t_max, tmax)
    if sc.t_min is None:
        raise SystemExit(f"gen.py: no data in {paths}")
    sc.t_min /= 1e9
    sc.t_max /= 1e9
    d = sorted(b - a for a, b in zip(first_ts, first_ts[1:]) if b > a)
    if d:
        sc.interval = max(1.0, round(d[len(d) // 2] / 1e9))
    return sc


# --------------------------------------------------------------------------- helpers

def dur(s):
    """Seconds -> PromQL duration (90 -> 1m30s)."""
    s = int(round(s))
    neg = s < 0
    s = abs(s)
    out = ""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= n:
            out += f"{s // n}{unit}"
            s %= n
    return ("-" if neg else "") + (out or "0s")


def qstr(v):
    """A PromQL double-quoted string literal."""
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


RE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def re_escape(v):
    return RE_META.sub(r"\\\1", v)


def fmt_time(t):
    """Unix seconds as the API parameter: whole seconds as integers, else 3 decimals."""
    return str(int(t)) if float(t).is_integer() else f"{t:.3f}"


RANGE_FUNCS = ["rate", "irate", "increase", "delta", "idelta", "deriv", "resets", "changes",
               "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
               "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time"]
MATH_FUNCS = ["abs", "ceil", "floor", "exp", "ln", "log2", "log10", "sqrt", "sgn",
              "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
              "asinh", "acosh", "atanh", "deg", "rad"]
DATE_FUNCS = ["minute", "hour", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "month", "year"]
AGGS = ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"]
PARAM_AGGS = ["topk", "bottomk", "quantile", "count_values"]
ARITH = ["+", "-", "*", "/", "%", "^", "atan2"]
CMP = ["==", "!=", ">", "<", ">=", "<="]
SETOPS = ["and", "or", "unless"]


class Q:
    def __init__(self, expr, only=None, params=None):
        self.expr, self.only, self.params = expr, only, params


# --------------------------------------------------------------------------- generator

class Gen:
    def __init__(self, schema, rng):
        self.s, self.r = schema, rng
        ms = schema.metrics
        self.names = sorted(ms)
        self.multi = [n for n in self.names if len(ms[n].series) >= 2] or self.names
        self.counters = [n for n in self.names if ms[n].is_counter()] or self.names
        self.varied = [n for n in self.multi if ms[n].varying_keys()] or self.multi
        self.hist = sorted(n[:-len("_bucket")] for n in self.names
                           if n.endswith("_bucket") and "le" in ms[n].keys)
        # metrics sharing one label-key set: operands of vector/vector operations that match
        groups = {}
        for n in self.multi:
            groups.setdefault(tuple(ms[n].keys), []).append(n)
        self.groups = [g for g in groups.values() if len(g) >= 2]
        iv = schema.interval
        self.iv = iv
        span = schema.t_max - schema.t_min
        self.margin = min(3600.0, span / 4)
        # windows: a few samples up to ~60 (plus 5 min and 1 h where the data is long enough)
        self.ranges = sorted({int(iv * k) for k in (4, 12, 30, 60)} | {x for x in (120, 300, 3600) if x <= span / 3})
        self.steps = sorted({int(iv), int(iv * 3), 15, 30, 60} | ({300} if span > 7200 else set()))

    # ----- basic choices
    def pick(self, xs):
        return xs[self.r.randrange(len(xs))]

    def chance(self, p):
        return self.r.random() < p

    def metric(self, pool=None):
        pool = pool or self.varied
        return self.pick(pool)

    def data_time(self):
        """A whole second inside the data (for @ and eval times)."""
        lo, hi = self.s.t_min + self.margin, self.s.t_max
        return float(int(self.r.uniform(lo, hi)))

    def rng_d(self, short=False):
        rs = self.ranges[:3] if short else self.ranges
        return dur(self.pick(rs))

    def offset_d(self):
        return dur(self.pick([self.iv * 3, 60, 300, 600, -60, -300]))

    def matcher(self, m, k=None, op=None, series=None):
        """One label matcher for metric m, anchored on a real series (so that a selector of
        several matchers still matches something): = its value, != another value, =~ an
        alternation holding its value (or a prefix of it), !~ an alternation of other values;
        now and then k="" / k!="" or a match-everything regex."""
        mm = self.s.metrics[m]
        series = series or self.pick(mm.series)
        keys = [x for x in (mm.varying_keys() or mm.keys) if x in series] or list(series)
        if not keys:
            return None
        k = k if k in series else self.pick(keys)
        vals = mm.values(k)
        v = series[k]
        others = [x for x in vals if x != v]
        op = op or self.pick(["=", "=", "=", "!=", "=~", "=~", "!~"])
        if op in ("=", "!="):
            if self.chance(0.04):
                return f'{k}{op}""'  # k="" matches series without k; k!="" those with it
            return f"{k}{op}{qstr(v if op == '=' or not others else self.pick(others))}"
        if self.chance(0.08):
            return f"{k}{op}{qstr(self.pick(['.+', '.*', '']))}"
        if op == "=~" and self.chance(0.3) and len(v) > 2:
            return f"{k}{op}{qstr(re_escape(v[: len(v) - 1]) + '.*')}"
        alts = [v] if op == "=~" else []
        pool = others or [v]
        alts += self.r.sample(pool, min(len(pool), self.r.randint(1 if op == "!~" else 0, 2)))
        return f"{k}{op}{qstr('|'.join(re_escape(x) for x in alts))}"

    def sel(self, m=None, nmatch=None):
        m = m or self.metric()
        mm = self.s.metrics[m]
        series = self.pick(mm.series)
        keys = [x for x in (mm.varying_keys() or mm.keys) if x in series]
        n = min(len(keys), nmatch if nmatch is not None else self.pick([0, 0, 1, 1, 1, 2]))
        ms = [x for x in (self.matcher(m, k=k, series=series) for k in self.r.sample(keys, n)) if x]
        if self.chance(0.08):
            return "{" + ", ".join([f"__name__={qstr(m)}"] + ms) + "}"
        return m + ("{" + ", ".join(ms) + "}" if ms else "")

    def msel(self, m=None, short=False):
        return f"{self.sel(m)}[{self.rng_d(short)}]"

    def num(self):
        return self.pick(["1", "2", "0.5", "10", "100", "-1", "3.5", "1e3", "0", "42", "1.5e-3", "0x10"])

    # ----- typed expressions
    def rangefn(self, m=None, fn=None):
        fn = fn or self.pick(RANGE_FUNCS)
        pool = self.counters if fn in ("rate", "irate", "increase", "resets") and self.chance(0.7) else None
        return f"{fn}({self.msel(m or self.metric(pool))})"

    def vec(self, d=1, m=None):
        """A random instant-vector expression of depth <= d."""
        if d <= 0:
            return self.pick([lambda: self.sel(m), lambda: self.rangefn(m)])()
        k = self.pick(["sel", "rangefn", "rangefn", "agg", "agg", "math", "arith", "cmp", "vv", "sub", "lbl", "paren"])
        if k == "sel":
            return self.sel(m)
        if k == "rangefn":
            return self.rangefn(m)
        if k == "agg":
            return self.agg(self.vec(d - 1, m), m)
        if k == "math":
            return f"{self.pick(MATH_FUNCS + ['round', 'timestamp'])}({self.vec(d - 1, m)})"
        if k == "arith":
            a, b = self.vec(d - 1, m), self.num()
            op = self.pick(ARITH)
            return f"{a} {op} {b}" if self.chance(0.6) else f"{b} {op} {a}"
        if k == "cmp":
            return f"{self.vec(d - 1, m)} {self.pick(CMP)}{' bool' if self.chance(0.4) else ''} {self.pick(['0', '10', '50', '90', '1'])}"
        if k == "vv":
            return self.vv_same(m)
        if k == "sub":
            return f"{self.pick(['max_over_time', 'avg_over_time', 'min_over_time', 'rate', 'deriv', 'count_over_time'])}(" \
                   f"({self.vec(d - 1, m)})[{self.rng_d()}:{self.pick(['', dur(self.iv), '1m', dur(self.iv * 3)])}])"
        if k == "lbl":
            return self.label_fn(self.vec(d - 1, m), m)
        return f"({self.vec(d - 1, m)})"

    def grouping(self, m, allow_name=False):
        mm = self.s.metrics.get(m) if m else None
        keys = (mm.varying_keys() or mm.keys) if mm else []
        if not keys:
            return ""
        ks = self.r.sample(keys, min(len(keys), self.pick([1, 1, 2])))
        if allow_name and self.chance(0.1):
            ks = ["__name__"] + ks
        if self.chance(0.08):
            ks = []
        mod = self.pick(["by", "by", "without"])
        return f"{mod} ({', '.join(ks)})"

    def agg(self, inner, m=None, op=None):
        op = op or self.pick(AGGS + PARAM_AGGS)
        m = m or self.first_metric(inner)
        g = self.grouping(m) if self.chance(0.7) else ""
        param = {"topk": lambda: self.pick(["1", "3", "5"]), "bottomk": lambda: self.pick(["1", "2", "5"]),
                 "quantile": lambda: self.pick(["0.5", "0.9", "0.99", "0", "1"]),
                 "count_values": lambda: qstr(self.pick(["value", "v", "le"]))}.get(op)
        args = f"{param()}, {inner}" if param else inner
        if not g:
            return f"{op}({args})"
        return f"{op} {g} ({args})" if self.chance(0.5) else f"{op}({args}) {g}"

    def first_metric(self, expr):
        for n in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
            if n in self.s.metrics:
                return n
        return None

    def label_fn(self, inner, m=None):
        m = m or self.first_metric(inner)
        keys = self.s.metrics[m].keys if m in self.s.metrics else ["job"]
        k = self.pick(keys or ["job"])
        if self.chance(0.5):
            return self.pick([
                f'label_replace({inner}, "dst", "$1-x", {qstr(k)}, "(.*)")',
                f'label_replace({inner}, {qstr(k)}, "", {qstr(k)}, ".*")',
                f'label_replace({inner}, "short", "${{1}}", {qstr(k)}, "(.)(.*)")',
                f'label_replace({inner}, "dst", "none", {qstr(k)}, "no-such-value")'])
        k2 = self.pick(keys or ["job"])
        return self.pick([f'label_join({inner}, "joined", "-", {qstr(k)}, {qstr(k2)})',
                          f'label_join({inner}, {qstr(k)}, ",", {qstr(k2)})',
                          f'label_join({inner}, "empty", "-")'])

    def vv_same(self, m=None, op=None):
        """Two vectors whose label sets match (same selector, name dropped on both sides)."""
        m = m or self.metric()
        s = self.sel(m)
        r = self.rng_d()
        f1, f2 = self.r.sample(["rate", "avg_over_time", "max_over_time", "min_over_time", "delta", "sum_over_time"], 2)
        op = op or self.pick(ARITH + CMP)
        return f"{f1}({s}[{r}]) {op} {f2}({s}[{r}])"

    def vv_op(self, op):
        """`a op b` for two different metrics that match one-to-one on all labels."""
        a, b = self.vv_pair()
        return f"{a} {op} {b}"

    def vv_pair(self):
        """Two different metrics with the same label keys (they match one-to-one on all labels)."""
        if not self.groups:
            m = self.metric()
            return self.sel(m), self.sel(m)
        g = self.pick(self.groups)
        a, b = self.r.sample(g, 2)
        n = self.pick([0, 1])
        ms = [x for x in (self.matcher(a) for _ in range(n)) if x]
        lab = "{" + ", ".join(ms) + "}" if ms else ""
        return a + lab, b + lab

    def key_with_dep(self, m):
        """(k, dependent key or None) for group_left/group_right label lists."""
        mm = self.s.metrics[m]
        ks = mm.varying_keys()
        if not ks:
            return None, None
        self.r.shuffle(ks)
        for k in ks:
            dep = [x for x in mm.determines(k) if x != k and len(mm.values(k)) < len(mm.series)]
            if dep:
                return k, self.pick(dep)
        return ks[0], None


# --------------------------------------------------------------------------- features

def features(g):
    """name -> function returning a Q. Every name is generated at least once per kind."""
    F = {}
    s, v, r, m = g.sel, g.vec, g.rng_d, g.metric

    def add(name, fn):
        F[name] = fn

    # selectors
    for op in ("=", "!=", "=~", "!~"):
        add(f"selector/{op}", lambda op=op: Q(f"{(mm := m())}{{{g.matcher(mm, op=op)}}}"))
    add("selector/plain", lambda: Q(m()))
    add("selector/__name__", lambda: Q("{" + f"__name__={qstr(m())}" + "}"))
    add("selector/__name__-regex", lambda: Q(f'count by (__name__) ({{__name__=~{qstr("|".join(re_escape(x) for x in g.r.sample(g.names, min(3, len(g.names)))))}}})'))
    add("selector/empty-value", lambda: Q(f"{(mm := m())}{{{g.pick(g.s.metrics[mm].keys or ['job'])}=\"\"}}"))
    add("selector/nonexistent", lambda: Q(g.pick(["no_such_metric", f'{m()}{{no_such_label="x"}}',
                                                     f'{m()}{{{g.pick(g.s.metrics[m()].keys or ["job"])}="no-such-value"}}'])))
    add("selector/range-vector", lambda: Q(g.msel(short=True), only="instant"))
    # offset / @
    add("offset/positive", lambda: Q(f"{s()} offset {dur(g.pick([60, 300, 600]))}"))
    add("offset/negative", lambda: Q(f"{s()} offset -{dur(g.pick([60, 300]))}"))
    add("offset/in-range-fn", lambda: Q(f"{g.pick(RANGE_FUNCS)}({s()}[{r()}] offset {g.offset_d()})"))
    add("at/number", lambda: Q(f"{s()} @ {fmt_time(g.data_time())}"))
    add("at/start", lambda: Q(f"{g.pick(['sum', 'max', 'count'])}({s()} @ start())"))
    add("at/end", lambda: Q(f"{g.pick(RANGE_FUNCS)}({s()}[{r()}] @ end())"))
    add("at/with-offset", lambda: Q(g.pick([f"{s()} @ {fmt_time(g.data_time())} offset {dur(60)}",
                                             f"{s()} offset {dur(300)} @ end()",
                                             f"rate({s()}[{r()}] @ start() offset -{dur(60)})"])))
    add("at/subquery", lambda: Q(f"max_over_time(({v(0)})[{r()}:{dur(g.iv * 3)}] @ {g.pick(['end()', 'start()', fmt_time(g.data_time())])})"))
    # subqueries
    add("subquery/step", lambda: Q(f"{g.pick(['max_over_time', 'avg_over_time', 'min_over_time', 'stddev_over_time'])}(rate({s()}[{r(True)}])[{r()}:{dur(g.iv * g.pick([1, 3, 6]))}])"))
    add("subquery/default-step", lambda: Q(f"{g.pick(['max_over_time', 'count_over_time', 'last_over_time'])}({s()}[{dur(600)}:])"))
    add("subquery/offset", lambda: Q(f"min_over_time(sum({s()})[{r()}:{dur(g.iv * 3)}] offset {dur(120)})"))
    add("subquery/nested", lambda: Q(f"max_over_time(deriv(avg_over_time({s()}[{r(True)}])[{r()}:{dur(g.iv * 3)}])[{dur(600)}:{dur(60)}])"))
    add("subquery/top-level", lambda: Q(f"{s()}[{dur(120)}:{dur(g.iv * 3)}]", only="instant"))
    # literals
    add("literal/number", lambda: Q(g.pick(["1", "-2.5", "1e3", "0x1f", ".5", "Inf", "-Inf", "NaN", "+5", "1.7976931348623157e308"])))
    add("literal/string", lambda: Q(g.pick(['"hello"', "'single'", '"esc\\\\aped \\"q\\""', "`raw\\n`"]), only="instant"))
    add("literal/expression", lambda: Q(g.pick(["1 + 2 * 3", "(1 + 2) * 3", "2 ^ 3 ^ 2", "-2 ^ 2", "(-2) ^ 2", "10 - 4 - 3",
                                                 "100 / 10 / 5", "7 % 3 * 2", "2 * 3 % 4", "- - 2", "1 / 0", "-1 / 0", "0 / 0",
                                                 "5 % 0", "1 atan2 2", "2 ^ 0.5 ^ 2", "-(3 - 5)"])))
    # arithmetic
    for op in ARITH:
        add(f"binop/{op}", lambda op=op: Q(g.pick([f"{s()} {op} {g.num()}", f"{g.num()} {op} {s()}",
                                                    g.vv_op(op), g.vv_same(op=op),
                                                    f"{g.rangefn()} {op} {g.num()}"])))
    add("binop/unary-minus", lambda: Q(g.pick([f"-{s()}", f"-({g.rangefn()})", f"-{s()} ^ 2", f"- - {s()}"])))
    def precedence():
        a = s()  # one selector for every operand, so that the operands match
        return Q(g.pick([
            f"{a} + {a} * 2", f"({a} + {a}) * 2", f"{a} - 1 - 2", f"{a} - {a} - {a}", f"{a} / 2 / 4",
            f"2 ^ {a} ^ 0.5", f"{a} ^ 2 ^ 0.5", f"{a} * 2 % 7", f"{a} % 7 * 2", f"1 + {a} > bool 20 * 2",
            f"{a} > 10 and {a} < 90", f"{a} > 50 or {a} < 10 and {a} > 5", f"-{a} ^ 2 + {a}",
            f"{a} unless {a} > 80 or {a} < 5", f"-{a} + 100", f"{a} == bool {a} * 1 + 0"]))
    add("binop/precedence", precedence)
    for op in CMP:
        add(f"compare/{op}", lambda op=op: Q(g.pick([f"{s()} {op} {g.pick(['10', '50', '90'])}",
                                                      f"{g.pick(['10', '50'])} {op} {s()}",
                                                      g.vv_same(op=op)])))
        add(f"compare/{op}-bool", lambda op=op: Q(g.pick([f"{s()} {op} bool {g.pick(['10', '50'])}",
                                                           f"{g.num()} {op} bool {g.num()}",
                                                           g.vv_op(f"{op} bool")])))
    add("compare/vv", lambda: Q(g.vv_op(g.pick(CMP))))
    # vector matching

    def match_on():
        mm = m(g.multi)
        k = g.pick(g.s.metrics[mm].varying_keys() or g.s.metrics[mm].keys or ["job"])
        return Q(f"sum by ({k}) ({g.rangefn(mm)}) {g.pick(ARITH)} on ({k}) max by ({k}) ({s(mm)})")

    def match_ignoring():
        mm = m(g.multi)
        k = g.pick(g.s.metrics[mm].keys or ["job"])
        return Q(f"{s(mm)} / ignoring ({k}) group_left sum without ({k}) ({s(mm)})")

    def group_left_labels():
        mm = m(g.multi)
        k, dep = g.key_with_dep(mm)
        if not k:
            return match_ignoring()
        others = [x for x in g.s.metrics[mm].keys if x not in (k, dep)]
        by = ", ".join([k] + ([g.pick(others)] if others else []))
        lab = f"({dep})" if dep else "()"
        return Q(f"sum by ({by}) ({s(mm)}) * on ({k}) group_left{lab} max by ({k}{', ' + dep if dep else ''}) ({s(mm)})")

    def group_right_labels():
        mm = m(g.multi)
        k, dep = g.key_with_dep(mm)
        if not k:
            return match_ignoring()
        others = [x for x in g.s.metrics[mm].keys if x not in (k, dep)]
        by = ", ".join([k] + ([g.pick(others)] if others else []))
        lab = f"({dep})" if dep else ""
        return Q(f"max by ({k}{', ' + dep if dep else ''}) ({g.rangefn(mm)}) + on ({k}) group_right{lab} sum by ({by}) ({s(mm)})")

    add("matching/on", match_on)
    add("matching/ignoring", match_ignoring)
    add("matching/group_left", group_left_labels)
    add("matching/group_right", group_right_labels)
    add("matching/on-empty", lambda: Q(f"{s()} / on () group_left {g.pick(['sum', 'max', 'count'])}({s()})"))
    add("matching/one-to-one-names", lambda: Q(g.vv_op(g.pick(["+", "-", "/"]))))
    # set operators
    for op in SETOPS:
        add(f"set/{op}", lambda op=op: Q(g.pick([
            g.vv_op(op),
            f"{(a := s())} > 50 {op} {a} < 80",
            f"{g.rangefn()} {op} on () vector(1)",
            f"{(mm := m(g.multi))}{{{g.matcher(mm, op='=~')}}} {op} ignoring ({g.pick(g.s.metrics[mm].keys or ['job'])}) {s(mm)}"])))
    # aggregations
    for op in AGGS + PARAM_AGGS:
        add(f"agg/{op}", lambda op=op: Q(g.agg(g.pick([s(), g.rangefn()]), op=op)))
    add("agg/by-after", lambda: Q(f"{g.pick(AGGS)}({(mm := s())}) by ({g.pick(g.s.metrics[g.first_metric(mm)].keys or ['job'])})"))
    add("agg/without-before", lambda: Q(f"{g.pick(AGGS)} without ({g.pick(g.s.metrics[g.first_metric(mm := s())].keys or ['job'])}) ({mm})"))
    add("agg/by-empty", lambda: Q(f"{g.pick(AGGS)} by () ({s()})"))
    add("agg/topk-range", lambda: Q(f"{g.pick(['topk', 'bottomk'])}({g.pick(['2', '3'])}, {g.rangefn(fn=g.pick(['rate', 'avg_over_time', 'stddev_over_time', 'deriv']))})"))
    add("agg/quantile-edge", lambda: Q(f"quantile({g.pick(['-0.5', '1.5', 'NaN', '0.25'])}, {s()})"))
    add("agg/count_values-existing-label", lambda: Q(f"count_values({qstr(g.pick(g.s.metrics[(mm := m())].keys or ['job']))}, {s(mm)})"))
    add("agg/nested", lambda: Q(f"{g.pick(AGGS)}({g.agg(g.rangefn())})"))
    # range-vector functions
    for fn in RANGE_FUNCS:
        add(f"func/{fn}", lambda fn=fn: Q(g.rangefn(fn=fn)))
    add("func/quantile_over_time", lambda: Q(f"quantile_over_time({g.pick(['0', '0.5', '0.9', '0.99', '1', '1.5', '-1'])}, {g.msel()})"))
    add("func/predict_linear", lambda: Q(f"predict_linear({g.msel()}, {g.pick(['0', '60', '600', '3600', '-300'])})"))
    add("func/holt_winters", lambda: Q(f"holt_winters({g.msel()}, {g.pick(['0.1', '0.5', '0.9'])}, {g.pick(['0.1', '0.5', '0.9'])})"))
    add("func/absent_over_time", lambda: Q(g.pick([f"absent_over_time({g.msel()})",
                                                     f'absent_over_time(nonexistent_metric{{job="x", instance=~"y"}}[{r()}])',
                                                     f'absent_over_time({m()}{{no_such_label="v"}}[{r()}])'])))
    # instant-vector functions
    for fn in MATH_FUNCS:
        add(f"func/{fn}", lambda fn=fn: Q(f"{fn}({g.pick([s(), f'{s()} / 100', f'{s()} - 50', g.rangefn()])})"))
    add("func/round", lambda: Q(g.pick([f"round({s()} / 7)", f"round({s()}, {g.pick(['5', '0.5', '10', '0.1'])})",
                                        f"round(-{s()} / 3, 2)"])))
    add("func/clamp", lambda: Q(f"clamp({s()}, {g.pick(['10', '0', '-Inf'])}, {g.pick(['50', '90', '5'])})"))
    add("func/clamp_min", lambda: Q(f"clamp_min({s()}, {g.pick(['10', '50'])})"))
    add("func/clamp_max", lambda: Q(f"clamp_max({s()}, {g.pick(['10', '50'])})"))
    add("func/timestamp", lambda: Q(g.pick([f"timestamp({s()})", f"timestamp({s()} offset 1m)",
                                            f"time() - timestamp({s()})", f"timestamp(sum({s()}))"])))
    add("func/sort", lambda: Q(f"sort({g.pick([s(), g.rangefn()])})"))
    add("func/sort_desc", lambda: Q(f"sort_desc({g.pick([s(), g.rangefn()])})"))
    add("func/absent", lambda: Q(g.pick([f"absent({s()})", f'absent(nonexistent_metric{{job="x", a=~"b", c!="d"}})',
                                         f'absent({m()}{{no_such_label="v"}})', "absent(nonexistent_metric)",
                                         f'absent(sum(nonexistent_metric{{job="x"}}))'])))
    def label_replace():
        mm = m()
        k = g.pick(g.s.metrics[mm].keys or ["job"])
        return Q(g.pick([f'label_replace({s(mm)}, "dst", "$1-x", {qstr(k)}, "(.*)")',
                         f'label_replace({s(mm)}, {qstr(k)}, "", {qstr(k)}, ".*")',
                         f'label_replace({s(mm)}, "__name__", "renamed_metric", "", "")',
                         f'label_replace(rate({s(mm)}[{r()}]), "new", "${{1}}", "__name__", "(.+)")',
                         f'label_replace({s(mm)}, "dst", "no", "src", "nomatch")']))

    def label_join():
        mm = m()
        ks = g.s.metrics[mm].keys or ["job"]
        return Q(g.pick([f'label_join({s(mm)}, "joined", "-", {", ".join(qstr(k) for k in ks[:3])})',
                         f'label_join({s(mm)}, "empty", ",")',
                         f'label_join({s(mm)}, "__name__", "_", "__name__", {qstr(g.pick(ks))})']))

    add("func/label_replace", label_replace)
    add("func/label_join", label_join)
    add("func/vector", lambda: Q(g.pick(["vector(1)", "vector(time())", f"vector(scalar(sum({s()})))", "vector(-Inf)"])))
    add("func/scalar", lambda: Q(g.pick([f"scalar(sum({s()}))", f"scalar({s()})", f"{s()} * scalar(count({s()}))",
                                         "scalar(vector(5))"])))
    add("func/time", lambda: Q(g.pick(["time()", "time() / 3600", f"{s()} + time() - time()"])))
    add("func/pi", lambda: Q(g.pick(["pi()", "2 * pi()", f"{s()} * pi() / 180"])))
    for fn in DATE_FUNCS:
        add(f"func/{fn}", lambda fn=fn: Q(g.pick([f"{fn}()", f"{fn}(timestamp({s()}))", f"{fn}({s()} * 86400 * 40)",
                                                  f"{fn}(vector({fmt_time(g.data_time() + g.pick([0, 86400 * 45, 86400 * 200]))}))"])))
    # histograms

    def hq():
        phi = g.pick(["0.5", "0.9", "0.99", "0", "1", "-0.1", "1.5", "NaN"])
        if g.hist:
            h = g.pick(g.hist)
            return Q(g.pick([f"histogram_quantile({phi}, rate({h}_bucket[{dur(max(60, g.iv * 4))}]))",
                             f"histogram_quantile({phi}, sum by (le) (rate({h}_bucket[{dur(max(120, g.iv * 8))}])))",
                             f"histogram_quantile({phi}, sum without (handler) (increase({h}_bucket[{dur(300)}])))",
                             f"histogram_quantile({phi}, {h}_bucket)"]))
        mm = m()
        return Q(g.pick([f'histogram_quantile({phi}, count_values("le", {s(mm)}) or label_replace(count({s(mm)}), "le", "+Inf", "", ""))',
                         f"histogram_quantile({phi}, {s(mm)})"]))
    add("func/histogram_quantile", hq)
    # errors (both must error)
    add("error/parse", lambda: Q(g.pick([f"sum({s()}", f"{s()} +", f"rate({s()}[5m)", "{", f"{m()}{{a=}}",
                                         f"{m()} offset 5m offset 5m", f"{m()} @ 1 @ 2", f"sum by (a) by (b) ({m()})",
                                         "1 > 2", f"{m()}[0s]", f"{m()}[5m:0s]", "foo_fn(1)", f"{m()}[5x]"])))
    add("error/type", lambda: Q(g.pick([f"rate({s()})", f"{g.msel()} + 1", f"abs({g.msel()})", "sgn(-3)",
                                        f'topk("a", {s()})', f"count_values(1, {s()})", f"quantile_over_time({g.msel()})",
                                        f"histogram_quantile(0.9)", "absent(1)", f"sum({g.msel()})",
                                        f'label_replace({s()}, "1bad", "x", "a", ".*")',
                                        f'label_replace({s()}, "a", "x", "b", "(")', "{__name__=~\".*\"}", "{}"])))
    add("error/execution", lambda: Q(g.pick(
        [f"{g.rangefn(m(g.multi))} + on () {g.rangefn(m(g.multi))}",
         f"{s(mm := m(g.multi))} * on ({g.pick(g.s.metrics[mm].keys or ['job'])}) group_left {s(mm)}"]
        + ([f"rate({{__name__=~{qstr('|'.join(re_escape(x) for x in g.groups[0][:2]))}}}[{r()}])"] if g.groups else []))))
    add("error/range-query-type", lambda: Q(g.pick([g.msel(), '"a string"', f"{s()}[5m:1m]"]), only="range"))
    add("error/api-params", lambda: None)  # filled in by generate(): bad start/end/step/time
    return F


# --------------------------------------------------------------------------- queries

def instant_params(g, expr, outside=False):
    if outside:
        t = g.pick([g.s.t_min - 3600, g.s.t_max + 3600])
    else:
        t = g.data_time()
        if g.chance(0.1):
            t += g.pick([0.5, 0.25, 0.001])
    return {"query": expr, "time": fmt_time(t)}


def range_params(g, expr):
    avail = g.s.t_max - g.s.t_min - g.margin
    step = g.pick([x for x in g.steps if x * 5 <= avail] or g.steps[:1])
    n = g.pick([x for x in (5, 10, 20, 30, 60, 120) if step * x <= avail] or [5])
    span = step * n
    lo, hi = g.s.t_min + g.margin, max(g.s.t_min + g.margin, g.s.t_max - span)
    start = float(int(g.r.uniform(lo, hi)))
    if g.chance(0.75):
        start -= start % step  # aligned, as dashboards ask
    end = start + span
    if g.chance(0.2):
        end += g.pick([1, step / 2.0, 7])
    if g.chance(0.05):
        step = step + 0.5
    return {"query": expr, "start": fmt_time(start), "end": fmt_time(end), "step": fmt_time(step)}


def api_error_queries(g):
    e = g.sel()
    t = g.data_time()
    return [("range", {"query": e, "start": fmt_time(t), "end": fmt_time(t + 600), "step": "0"}),
            ("range", {"query": e, "start": fmt_time(t), "end": fmt_time(t - 600), "step": "60"}),
            ("range", {"query": e, "start": fmt_time(t - 11001), "end": fmt_time(t), "step": "1"}),
            ("range", {"query": e, "start": fmt_time(t), "end": fmt_time(t + 60), "step": "-10"}),
            ("instant", {"query": e, "time": "not-a-time"}),
            ("instant", {"query": "", "time": fmt_time(t)})]


def generate(schema, seed, count, name):
    g = Gen(schema, random.Random(f"{seed}:{name}"))
    F = features(g)
    out = []

    def emit(feature, kind, params):
        out.append({"id": f"{name}-{len(out) + 1:04d}", "feature": feature, "kind": kind,
                    "expr": params.get("query", ""), "params": params})

    def one(feature, kind):
        q = F[feature]()
        if q.only and q.only != kind:
            return False
        emit(feature, kind, instant_params(g, q.expr) if kind == "instant" else range_params(g, q.expr))
        return True

    # coverage: every feature as instant and as range (where valid)
    for f in F:
        if f == "error/api-params":
            for kind, p in api_error_queries(g):
                emit(f, kind, p)
            continue
        for kind in ("instant", "range"):
            for _ in range(5):  # a feature whose pick is instant-only may need another draw
                if one(f, kind):
                    break
    # a few instant queries outside the data
    for _ in range(3):
        q = g.vec(1)
        emit("time/outside-data", "instant", instant_params(g, q, outside=True))
    # the rest: random compositions, alternating kinds, plus more of the features
    names = [f for f in F if f != "error/api-params"]
    i = 0
    while len(out) < count:
        kind = "instant" if i % 2 == 0 else "range"
        i += 1
        if g.chance(0.5):
            expr = g.vec(g.pick([1, 2, 2, 3]))
            emit("random", kind, instant_params(g, expr) if kind == "instant" else range_params(g, expr))
        else:
            one(g.pick(names), kind)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", required=True, help="line protocol file (repeatable)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=400, help="at least this many queries (the coverage set may exceed it)")
    ap.add_argument("--name", default="q", help="query id prefix (the data set's name)")
    ap.add_argument("--peers-dir", default=PEERS_DIR)
    ap.add_argument("--schema", action="store_true", help="print the schema summary instead of queries")
    a = ap.parse_args()
    sc = read_schema(a.data, a.peers_dir)
    if a.schema:
        print(json.dumps({"t_min": sc.t_min, "t_max": sc.t_max, "interval": sc.interval, "lines": sc.lines,
                          "metrics": {n: {"series": len(m.series), "keys": m.keys} for n, m in sorted(sc.metrics.items())}},
                         indent=1))
        return
    for q in generate(sc, a.seed, a.count, a.name):
        print(json.dumps(q, sort_keys=True))


if __name__ == "__main__":
    main()
