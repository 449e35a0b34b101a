"""Query generators for the differential harness: TSBS devops types in TSBS's own InfluxQL form,
and random queries over the InfluxQL grammar Strata implements. Deterministic for a seed.

Every generated query has an upper *and* lower time bound when it aggregates with GROUP BY
time (InfluxDB fills buckets up to now() otherwise), and keeps result sizes modest (LIMIT,
SLIMIT, few buckets)."""
import datetime as dt
import os
import re

NS = 1_000_000_000

TSBS_TYPES = [
    "single-groupby-1-1-1", "single-groupby-1-1-12", "single-groupby-1-8-1",
    "single-groupby-5-1-1", "single-groupby-5-1-12", "single-groupby-5-8-1",
    "cpu-max-all-1", "cpu-max-all-8",
    "double-groupby-1", "double-groupby-5", "double-groupby-all",
    "high-cpu-1", "high-cpu-all", "lastpoint", "groupby-orderby-limit",
]

CPU_METRICS = ["usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
               "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"]


def rfc(ns):
    """RFC 3339 UTC, fraction only when needed (like TSBS for whole seconds)."""
    s, frac = divmod(ns, NS)
    t = dt.datetime.fromtimestamp(s, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        t += ("." + f"{frac:09d}").rstrip("0")
    return t + "Z"


# --------------------------------------------------------------------------- TSBS

def _natural(h):
    m = re.search(r"(\d+)$", h)
    return (int(m.group(1)) if m else -1, h)


def tsbs_queries(schema, rng, per_type, peers_dir):
    cpu = schema["cpu"]
    hosts = sorted(cpu["tags"]["hostname"], key=_natural)
    start_s = cpu["min_time"] // NS
    end_s = -(-(cpu["max_time"] + 10 * NS) // NS)  # the data's end: last point + the 10 s interval
    span = end_s - start_s

    def window(dur_s):
        """TSBS MustRandWindow: a random whole-second window inside the data; when the data is
        shorter than the window (the 6 h file vs 8/12 h windows), a window that covers it all."""
        if dur_s <= span:
            s = rng.randint(start_s, end_s - dur_s)
        else:
            s = rng.randint(end_s - dur_s, start_s)
        return rfc(s * NS), rfc((s + dur_s) * NS)

    def host_where(n):
        hs = rng.sample(hosts, n)
        return "(" + " or ".join(f"hostname = '{h}'" for h in hs) + ")"

    out = []

    def single_groupby(m, h, hours):
        for _ in range(per_type):
            sel = ", ".join(f"max({f})" for f in CPU_METRICS[:m])
            a, b = window(hours * 3600)
            out.append((f"single-groupby-{m}-{h}-{hours}",
                        f"SELECT {sel} from cpu where {host_where(h)} and time >= '{a}' and time < '{b}' group by time(1m)"))

    for m, h, hours in [(1, 1, 1), (1, 1, 12), (1, 8, 1), (5, 1, 1), (5, 1, 12), (5, 8, 1)]:
        single_groupby(m, h, hours)
    for h in (1, 8):
        for _ in range(per_type):
            sel = ",".join(f"max({f})" for f in CPU_METRICS)
            a, b = window(8 * 3600)
            out.append((f"cpu-max-all-{h}",
                        f"SELECT {sel} from cpu where {host_where(h)} and time >= '{a}' and time < '{b}' group by time(1h)"))
    for name, m in (("double-groupby-1", 1), ("double-groupby-5", 5), ("double-groupby-all", 10)):
        for _ in range(per_type):
            sel = ", ".join(f"mean({f})" for f in CPU_METRICS[:m])
            a, b = window(12 * 3600)
            out.append((name, f"SELECT {sel} from cpu where time >= '{a}' and time < '{b}' group by time(1h),hostname"))
    for name, h in (("high-cpu-1", 1), ("high-cpu-all", 0)):
        for _ in range(per_type):
            a, b = window(12 * 3600)
            hw = f"and {host_where(h)}" if h else ""
            out.append((name, f"SELECT * from cpu where usage_user > 90.0 {hw} and time >= '{a}' and time < '{b}'"))
    out.append(("lastpoint", 'SELECT * from cpu group by "hostname" order by time desc limit 1'))
    for _ in range(per_type):
        _a, b = window(3600)
        out.append(("groupby-orderby-limit",
                    f"SELECT max(usage_user) from cpu WHERE time < '{b}' group by time(1m) limit 5"))

    # The peers' ready-made TSBS queries (seed 456, 1-day data), those that fall inside this data.
    qdir = os.path.join(peers_dir, "queries", "influxql")
    lo, hi = rfc(start_s * NS), rfc(end_s * NS)
    for typ in TSBS_TYPES:
        p = os.path.join(qdir, typ + ".txt")
        if not os.path.exists(p) or typ == "lastpoint":
            continue
        taken = 0
        with open(p) as f:
            for line in f:
                q = line.strip()
                times = re.findall(r"'(\d{4}-\d\d-\d\dT[0-9:]+Z)'", q)
                if q and times and all(lo <= t <= hi for t in times) and taken < 3:
                    out.append((typ, q))
                    taken += 1
    return out


# --------------------------------------------------------------------------- random

AGGS = ["count", "sum", "mean", "median", "mode", "spread", "stddev", "min", "max", "first",
        "last", "percentile", "integral"]
SELECTORS = ["min", "max", "first", "last", "percentile"]
TRANSFORMS = ["derivative", "non_negative_derivative", "difference", "non_negative_difference",
              "moving_average", "cumulative_sum", "elapsed"]
MATH1 = ["abs", "ceil", "floor", "round", "sqrt", "ln"]
INTERVALS = [("10s", 10), ("30s", 30), ("1m", 60), ("2m", 120), ("5m", 300), ("7m", 420),
             ("10m", 600), ("15m", 900), ("30m", 1800), ("1h", 3600), ("90m", 5400)]
UNITS = [("1s", None), ("1m", None), ("10s", None), ("1h", None), ("500ms", None)]


def q_ident(name):
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.lower() not in (
            "time", "select", "from", "where", "group", "by", "order", "limit", "offset", "fill",
            "and", "or", "as", "desc", "asc", "key", "field", "tag", "name"):
        return name
    return '"' + name.replace('"', '\\"') + '"'


def q_str(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


class R:
    """Random query builder over one schema."""

    def __init__(self, schema, rng):
        self.schema = schema
        self.rng = rng
        self.ms = sorted(schema)

    # ---- picks
    def measurement(self):
        if "cpu" in self.schema and self.rng.random() < 0.7:
            return "cpu"
        return self.rng.choice(self.ms)

    def numeric_fields(self, m):
        return sorted(f for f, t in self.schema[m]["fields"].items() if t in ("integer", "float"))

    def field(self, m):
        return self.rng.choice(self.numeric_fields(m))

    def tags(self, m):
        return sorted(self.schema[m]["tags"])

    def series_tag(self, m):
        """The tag that identifies a series best (most values)."""
        t = self.schema[m]["tags"]
        return max(t, key=lambda k: (len(t[k]), k)) if t else None

    def small_tag(self, m, maxvals=12):
        t = self.schema[m]["tags"]
        c = [k for k in t if 1 < len(t[k]) <= maxvals]
        return self.rng.choice(sorted(c)) if c else None

    # ---- time
    def lit(self, ns):
        r = self.rng.random()
        if r < 0.6:
            return q_str(rfc(ns))
        if r < 0.7 and ns % NS == 0:
            return f"{ns // NS}s"
        if r < 0.8 and ns % 1_000_000 == 0:
            return f"{ns // 1_000_000}ms"
        if r < 0.85 and ns % 1000 == 0:
            return f"{ns // 1000}u"
        return str(ns)

    def span(self, m, max_s, min_s=1):
        """(lo, hi) ns inside (or slightly around) the data, hi - lo <= max_s."""
        s = self.schema[m]
        lo_d, hi_d = s["min_time"], s["max_time"] + 10 * NS
        dur = self.rng.randint(min_s, max(min_s, max_s)) * NS
        if self.rng.random() < 0.3:  # sub-second edges
            dur += self.rng.choice([0, 500_000_000, 1_000_000, 123_456_789])
        lo = self.rng.randint(lo_d - dur // 4, max(lo_d, hi_d - dur))
        if self.rng.random() < 0.4:
            lo -= lo % (60 * NS)  # aligned start
        elif self.rng.random() < 0.3:
            lo += self.rng.choice([1, 1000, 1_000_000, 250_000_000])
        return lo, lo + dur

    def time_cond(self, lo, hi):
        a = ">=" if self.rng.random() < 0.8 else ">"
        b = "<" if self.rng.random() < 0.8 else "<="
        parts = [f"time {a} {self.lit(lo)}", f"time {b} {self.lit(hi)}"]
        if self.rng.random() < 0.2:
            parts.reverse()
        return " AND ".join(parts)

    # ---- conditions
    def tag_atom(self, m):
        tags = self.schema[m]["tags"]
        if not tags:
            return None
        k = self.rng.choice(sorted(tags))
        v = self.rng.choice(tags[k])
        r = self.rng.random()
        if r < 0.45:
            return f"{q_ident(k)} = {q_str(v)}"
        if r < 0.6:
            return f"{q_ident(k)} != {q_str(v)}"
        if r < 0.85:
            return f"{q_ident(k)} =~ /{self.regex_for(v)}/"
        return f"{q_ident(k)} !~ /{self.regex_for(v)}/"

    def regex_for(self, v):
        r = self.rng.random()
        esc = re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", v)
        if r < 0.3:
            return "^" + esc + "$"
        if r < 0.6:
            return "^" + re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", v[:max(1, len(v) - 1)])
        if r < 0.8:
            m = re.search(r"(\d+)$", v)
            if m:
                return esc[: len(esc) - len(m.group(1))] + "(" + m.group(1) + "|" + str(int(m.group(1)) + 1) + ")$"
            return esc
        return re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", v[-2:]) + "$"

    def tag_cond(self, m, depth=0):
        n = self.rng.choice([1, 1, 1, 2, 2, 3])
        atoms = [a for a in (self.tag_atom(m) for _ in range(n)) if a]
        if not atoms:
            return None
        out = atoms[0]
        for a in atoms[1:]:
            op = "AND" if self.rng.random() < 0.5 else "OR"
            out = f"{out} {op} {a}"
        if len(atoms) > 1 or self.rng.random() < 0.2:
            out = f"({out})"
        return out

    def field_cond(self, m):
        f = self.field(m)
        op = self.rng.choice([">", ">=", "<", "<=", "=", "!="])
        v = self.rng.choice([0, 10, 25, 50, 75, 90, 99, 50.5, -1])
        c = f"{q_ident(f)} {op} {v}"
        if self.rng.random() < 0.25:
            f2 = self.field(m)
            c = f"({c} OR {q_ident(f2)} {self.rng.choice(['>', '<'])} {self.rng.choice([20, 80])})"
        return c

    def host_filter(self, m, n=1):
        """Restrict to n series-tag values (OR list)."""
        k = self.series_tag(m)
        if not k:
            return None
        vs = self.rng.sample(self.schema[m]["tags"][k], min(n, len(self.schema[m]["tags"][k])))
        return "(" + " OR ".join(f"{q_ident(k)} = {q_str(v)}" for v in vs) + ")"

    def where(self, m, lo, hi, tagp=0.5, fieldp=0.0, narrow=None):
        parts = []
        if narrow:
            parts.append(narrow)
        if self.rng.random() < tagp:
            c = self.tag_cond(m)
            if c:
                parts.append(c)
        if self.rng.random() < fieldp:
            parts.append(self.field_cond(m))
        parts.append(self.time_cond(lo, hi))
        self.rng.shuffle(parts)
        return " AND ".join(parts)

    # ---- expressions
    def agg(self, m, f=None, allowed=AGGS):
        f = f or self.field(m)
        a = self.rng.choice(allowed)
        if a == "percentile":
            return f"percentile({q_ident(f)}, {self.rng.choice([0, 1, 5, 25, 33.3, 50, 75, 90, 95, 99, 99.9, 100])})"
        if a == "integral" and self.rng.random() < 0.5:
            return f"integral({q_ident(f)}, {self.rng.choice(['1s', '1m', '10s', '1h'])})"
        return f"{a}({q_ident(f)})"

    def interval(self, span_s, max_buckets=90):
        ok = [(s, v) for s, v in INTERVALS if span_s / v <= max_buckets]
        s, v = self.rng.choice(ok or INTERVALS[-1:])
        if self.rng.random() < 0.25:
            off = self.rng.randint(-v + 1, v - 1)
            return f"time({s}, {off}s)", v
        return f"time({s})", v

    def fill(self):
        r = self.rng.random()
        if r < 0.5:
            return ""
        return " fill(" + self.rng.choice(["null", "none", "previous", "linear", "0", "-1", "42", "2.5", "-0.5"]) + ")"

    # ---- statements
    def q_agg(self):
        """Aggregates without GROUP BY time (optionally by tags)."""
        m = self.measurement()
        lo, hi = self.span(m, 3 * 3600)
        n = self.rng.choice([1, 1, 2, 3, 4])
        exprs = [self.agg(m) for _ in range(n)]
        if self.rng.random() < 0.3:
            exprs = [self.rng.choice(exprs)] * 2 + exprs  # repeated functions: max, max_1, …
        if all(e.startswith("percentile(") for e in exprs):
            exprs.append(f"count({q_ident(self.field(m))})")  # percentile alone: time of an arbitrary tie
        exprs = self.aliases(exprs)
        gb = self.group_tags(m)
        if any(self.TIE.search(e) for e in exprs):
            gb = " GROUP BY " + ", ".join(self.single(m, [gb.replace(" GROUP BY ", "")] if gb else []))
        if len(self.ms) > 1 and self.rng.random() < 0.15:
            # several measurements: one series each, union of columns
            m2 = self.rng.choice([x for x in self.ms if x != m])
            exprs = self.aliases([self.agg(m, allowed=["max", "min", "count", "sum", "mean", "spread"]),
                                  self.agg(m2, allowed=["max", "min", "count", "sum", "mean", "median"])])
            frm = self.rng.choice([f"{q_ident(m)}, {q_ident(m2)}", f"/^({m}|{m2})$/"])
            return f"SELECT {', '.join(exprs)} FROM {frm} WHERE {self.time_cond(lo, hi)}"
        return f"SELECT {', '.join(exprs)} FROM {q_ident(m)} WHERE {self.where(m, lo, hi, fieldp=0.15)}{gb}{self.slimit(gb)}"

    def q_selector(self):
        """A selector alone (its time is the point's); top/bottom with and without tag args."""
        m = self.measurement()
        lo, hi = self.span(m, 2 * 3600)
        f = self.field(m)
        r = self.rng.random()
        if r < 0.5:
            fn = self.rng.choice(["top", "bottom"])
            n = self.rng.choice([1, 2, 3, 5])
            tagarg = ""
            if self.rng.random() < 0.4 and self.schema[m]["tags"]:
                tagarg = f"{q_ident(self.rng.choice(self.tags(m)))}, "
            e = f"{fn}({q_ident(f)}, {tagarg}{n})"
        else:
            e = self.agg(m, f, SELECTORS)
        extra = False
        if self.rng.random() < 0.2 and self.schema[m]["tags"]:
            e += f", {q_ident(self.rng.choice(self.tags(m)))}"
            extra = True
        gb, gbt = "", ""
        if self.rng.random() < 0.4:
            iv, v = self.interval((hi - lo) / NS, 20)
            gbt = iv
        elif e.startswith("percentile("):
            # alone, percentile reports the time of one of the points with the chosen value:
            # which one depends on Go's unstable sort
            iv, v = self.interval((hi - lo) / NS, 20)
            gbt = iv
        tg = self.group_tags(m, p=0.4)
        parts = [p for p in (gbt, tg.replace(" GROUP BY ", "")) if p]
        if self.TIE.search(e) or (extra and not e.startswith(("top(", "bottom("))):
            parts = self.single(m, parts)
        gb = (" GROUP BY " + ", ".join(parts)) if parts else ""
        where = self.where(m, lo, hi, narrow=self.host_filter(m, 3) if (tg or r < 0.5) else None)
        # InfluxDB 1.6 applies LIMIT to the points *before* top()/bottom() (known_differences.md)
        ol = self.order_limit(True) if r >= 0.5 else (" ORDER BY time DESC" if self.rng.random() < 0.2 else "")
        return f"SELECT {e} FROM {q_ident(m)} WHERE {where}{gb}{ol}"

    def q_agg_time(self):
        m = self.measurement()
        lo, hi = self.span(m, 6 * 3600, 60)
        n = self.rng.choice([1, 1, 2, 3])
        exprs = self.aliases([self.agg(m, allowed=[a for a in AGGS if a != "integral"] if self.rng.random() < 0.7 else AGGS) for _ in range(n)])
        iv, _v = self.interval((hi - lo) / NS, 60)
        tg = self.group_tags(m, p=0.5, small=True)
        parts = [iv] + ([tg.replace(" GROUP BY ", "")] if tg else [])
        if any(self.TIE.search(e) for e in exprs):
            parts = self.single(m, parts)
        gb = " GROUP BY " + ", ".join(parts)
        where = self.where(m, lo, hi, tagp=0.6, fieldp=0.1)
        tz = ""
        if self.rng.random() < 0.1:
            tz = f" tz('{self.rng.choice(['America/Chicago', 'Asia/Kolkata', 'Europe/Berlin', 'UTC'])}')"
        return (f"SELECT {', '.join(exprs)} FROM {q_ident(m)} WHERE {where}{gb}{self.fill()}"
                f"{self.order_limit(True)}{self.slimit(tg)}{tz}")

    def q_transform_agg(self):
        m = self.measurement()
        lo, hi = self.span(m, 4 * 3600, 120)
        t = self.rng.choice(TRANSFORMS)
        inner = self.agg(m, allowed=["mean", "max", "min", "sum", "count", "first", "last", "median", "spread"])
        arg = ""
        if t == "moving_average":
            arg = f", {self.rng.choice([2, 3, 5])}"
        elif t in ("derivative", "non_negative_derivative", "elapsed") and self.rng.random() < 0.5:
            arg = f", {self.rng.choice(['1s', '1m', '10s', '1h'])}"
        e = f"{t}({inner}{arg})"
        exprs = [e]
        if self.rng.random() < 0.3:
            exprs.append(f"{self.rng.choice(TRANSFORMS[:4])}({self.agg(m, allowed=['mean', 'max'])})")
        iv, _v = self.interval((hi - lo) / NS, 60)
        tg = self.group_tags(m, p=0.4, small=True)
        parts = [iv] + ([tg.replace(" GROUP BY ", "")] if tg else [])
        if any(self.TIE.search(e) for e in exprs):
            parts = self.single(m, parts)
        gb = " GROUP BY " + ", ".join(parts)
        narrow = self.host_filter(m, self.rng.choice([1, 2])) if self.rng.random() < 0.5 else None
        ol = self.order_limit(True) if len(exprs) == 1 else (" ORDER BY time DESC" if self.rng.random() < 0.25 else "")
        return (f"SELECT {', '.join(self.aliases(exprs))} FROM {q_ident(m)} WHERE {self.where(m, lo, hi, narrow=narrow)}{gb}"
                f"{ol}")

    def q_transform_raw(self):
        m = self.measurement()
        lo, hi = self.span(m, 600, 30)
        f = self.field(m)
        t = self.rng.choice(TRANSFORMS)
        arg = ""
        if t == "moving_average":
            arg = f", {self.rng.choice([2, 3, 4])}"
        elif t in ("derivative", "non_negative_derivative", "elapsed") and self.rng.random() < 0.5:
            arg = f", {self.rng.choice(['1s', '1m', '10s', '1ms'])}"
        exprs = [f"{t}({q_ident(f)}{arg})"]
        if self.rng.random() < 0.3:
            t2 = self.rng.choice(TRANSFORMS)
            a2 = ", 2" if t2 == "moving_average" else ""
            exprs.append(f"{t2}({q_ident(self.field(m))}{a2})")
        # one series per group: merged series share timestamps, and InfluxDB keeps an arbitrary
        # one of the points at a repeated time (derivative, difference) or sums in arbitrary order
        r = self.rng.random()
        k = self.series_tag(m)
        if r < 0.55:
            narrow, gb = self.host_filter(m, 1), " GROUP BY *"
        else:
            narrow, gb = self.host_filter(m, 3), (f" GROUP BY {q_ident(k)}" if k and m == "cpu" else " GROUP BY *")
        if r < 0.55 and m == "cpu" and self.rng.random() < 0.7:
            gb = ""  # cpu: one hostname is one series
        # several transformations with LIMIT: InfluxDB limits each one separately (quirk)
        ol = self.order_limit(False) if len(exprs) == 1 else (" ORDER BY time DESC" if self.rng.random() < 0.25 else "")
        return f"SELECT {', '.join(self.aliases(exprs))} FROM {q_ident(m)} WHERE {self.where(m, lo, hi, tagp=0.1, narrow=narrow)}{gb}{ol}"

    def q_math(self):
        m = self.measurement()
        f, g = self.field(m), self.field(m)
        if self.rng.random() < 0.5:  # over raw values, one or a few series
            lo, hi = self.span(m, 300, 20)
            cands = [f"{fn}({q_ident(f)})" for fn in MATH1] + [
                f"log({q_ident(f)}, {self.rng.choice([2, 10])})", f"{q_ident(f)} * 2", f"{q_ident(f)} / 3",
                f"{q_ident(f)} + {q_ident(g)}", f"{q_ident(f)} - {q_ident(g)}", f"{q_ident(f)} % 7",
                f"{q_ident(f)} * {q_ident(g)} / 100", f"({q_ident(f)} + 1) * -2", f"{q_ident(f)} / 0",
                f"-1 * {q_ident(f)}", f"abs({q_ident(f)} - 50)", f"{q_ident(f)} / {q_ident(g)}"]
            exprs = self.aliases(self.rng.sample(cands, self.rng.choice([1, 2, 3])))
            k = self.series_tag(m)
            gb = " GROUP BY *" if k and self.rng.random() < 0.3 else ""
            nh = self.rng.choice([1, 2])
            narrow = self.host_filter(m, nh)
            single = gb or (nh == 1 and m == "cpu")
            ol = self.order_limit(False) if single else (" ORDER BY time DESC" if self.rng.random() < 0.2 else "")
            return f"SELECT {', '.join(exprs)} FROM {q_ident(m)} WHERE {self.where(m, lo, hi, tagp=0.1, fieldp=0.2, narrow=narrow)}{gb}{ol}"
        lo, hi = self.span(m, 3 * 3600, 60)
        a1, a2 = self.agg(m, f, ["mean", "max", "min", "sum", "count", "median", "spread", "first", "last"]), \
            self.agg(m, g, ["mean", "max", "min", "sum", "count", "stddev"])
        cands = [f"{fn}({a1})" for fn in MATH1] + [f"{a1} + {a2}", f"{a1} - {a2}", f"{a1} * {a2}", f"{a1} / {a2}",
                                                   f"{a1} * 2", f"{a1} / 4", f"{a1} % 3", f"{a1} - 100",
                                                   f"log({a1}, 2)", f"round({a1} / {a2} * 100)"]
        exprs = self.aliases(self.rng.sample(cands, self.rng.choice([1, 2, 3])))
        gbt = ""
        if self.rng.random() < 0.5:
            gbt, _ = self.interval((hi - lo) / NS, 40)
        tg = self.group_tags(m, p=0.4, small=True)
        parts = [p for p in (gbt, tg.replace(" GROUP BY ", "")) if p]
        if self.TIE.search(a1):
            parts = self.single(m, parts)
        gb = (" GROUP BY " + ", ".join(parts)) if parts else ""
        return f"SELECT {', '.join(exprs)} FROM {q_ident(m)} WHERE {self.where(m, lo, hi)}{gb}{self.fill() if gbt else ''}{self.order_limit(bool(gbt))}"

    def q_raw(self):
        m = self.measurement()
        lo, hi = self.span(m, 900, 10)
        r = self.rng.random()
        fields = self.numeric_fields(m)
        if r < 0.3:
            sel = "*"
        elif r < 0.45:
            pref = self.rng.choice(fields)
            sel = "/" + re.sub(r"([.^$*+?()\[\]{}|\\/])", r"\\\1", pref[: max(2, len(pref) // 2)]) + "/"
        else:
            cols = self.rng.sample(fields, min(len(fields), self.rng.choice([1, 2, 3])))
            if self.schema[m]["tags"] and self.rng.random() < 0.3:
                cols.append(self.rng.choice(self.tags(m)))
            sel = ", ".join(self.aliases([q_ident(c) for c in cols], p=0.2))
        k = self.series_tag(m)
        rr = self.rng.random()
        gb = ""
        narrow = None
        nh = self.rng.choice([1, 2, 3])
        if rr < 0.35:
            narrow = self.host_filter(m, nh)
        elif rr < 0.6 and k:
            gb = f" GROUP BY {q_ident(k)}" if self.rng.random() < 0.8 and m == "cpu" else " GROUP BY *"
            narrow = self.host_filter(m, self.rng.choice([2, 3, 5]))
        else:
            lo, hi = self.span(m, 40, 5)  # every series merged: a few timestamps only
        where = self.where(m, lo, hi, tagp=0.4, fieldp=0.4, narrow=narrow)
        if gb or (narrow and nh == 1 and m == "cpu"):
            lim = self.order_limit(False)
        else:
            # merged series: rows at one time come in InfluxDB's arbitrary order, so a LIMIT
            # could cut between them; no LIMIT (the comparison orders same-time rows itself)
            lim = " ORDER BY time DESC" if self.rng.random() < 0.2 else ""
        return f"SELECT {sel} FROM {q_ident(m)} WHERE {where}{gb}{lim}{self.slimit(gb)}"

    def q_where(self):
        """Series selection: count() per series under a random tag condition."""
        m = self.measurement()
        lo, hi = self.span(m, 1800, 60)
        f = self.field(m)
        k = self.series_tag(m)
        c = self.tag_cond(m) or "true"
        gb = f" GROUP BY {q_ident(k)}" if k and self.rng.random() < 0.7 else ""
        return f"SELECT count({q_ident(f)}) FROM {q_ident(m)} WHERE {c} AND {self.time_cond(lo, hi)}{gb}"

    def q_show(self):
        m = self.measurement()
        tags = self.tags(m)
        k = self.rng.choice(tags) if tags else "x"
        small = self.small_tag(m) or k
        v = self.rng.choice(self.schema[m]["tags"][k]) if tags else "x"
        opts = [
            "SHOW MEASUREMENTS",
            f"SHOW MEASUREMENTS WITH MEASUREMENT =~ /{m[:2]}/",
            "SHOW TAG KEYS",
            f"SHOW TAG KEYS FROM {q_ident(m)}",
            f"SHOW TAG VALUES FROM {q_ident(m)} WITH KEY = {q_ident(small)}",
            f"SHOW TAG VALUES WITH KEY = {q_ident(small)}",
            f"SHOW TAG VALUES FROM {q_ident(m)} WITH KEY IN ({', '.join(q_ident(t) for t in self.rng.sample(tags, min(2, len(tags))))})" if tags else "SHOW TAG KEYS",
            f"SHOW TAG VALUES FROM {q_ident(m)} WITH KEY = {q_ident(small)} WHERE {q_ident(k)} = {q_str(v)}",
            "SHOW FIELD KEYS",
            f"SHOW FIELD KEYS FROM {q_ident(m)}",
            f"SHOW SERIES FROM {q_ident(m)} WHERE {q_ident(k)} = {q_str(v)}",
            f"SHOW SERIES FROM {q_ident(m)} LIMIT {self.rng.choice([1, 5, 10])}",
            f"SHOW SERIES FROM {q_ident(m)} LIMIT 3 OFFSET {self.rng.choice([0, 2, 10])}",
        ]
        return self.rng.choice(opts)

    def q_error(self):
        """Statements InfluxDB refuses: both sides must refuse them too."""
        m = self.measurement()
        lo, hi = self.span(m, 600, 60)
        f, g = self.field(m), self.field(m)
        w = self.time_cond(lo, hi)
        return self.rng.choice([
            f"SELECT mean({f}), {g} FROM {m} WHERE {w}",
            f"SELECT {f} FROM {m} WHERE {w} GROUP BY time(1m)",
            f"SELECT top({f}, 2), max({g}) FROM {m} WHERE {w}",
            f"SELECT derivative({f}) FROM {m} WHERE {w} GROUP BY time(1m)",
            f"SELECT percentile({f}) FROM {m} WHERE {w}",
            f"SELECT top({f}) FROM {m} WHERE {w}",
            f"SELECT moving_average({f}) FROM {m} WHERE {w}",
            f"SELECT mean({f}) FROM {m} WHERE {w} GROUP BY time(1m) fill(foo)",
            f"SELECT FROM {m}",
            f"SELECT * FROM {m} WHERE {w} GROUP BY time(5m)",
            f"SELECT top({f}, 3) FROM {m} WHERE {w} LIMIT 1",
            f"SELECT 1 + 1 FROM {m} WHERE {w}",
            f"SELECT log(0, 2), max({f}) FROM {m} WHERE {w}",
        ])

    # ---- ties between series (see README: "InfluxDB-defined only up to ties")
    TIE = re.compile(r"\b(first|last|integral)\(")

    def single(self, m, parts):
        """GROUP BY parts (time(..) and tags) such that each group is one series: a series that
        shares its timestamps with others makes first/last/integral and merged raw rows depend
        on InfluxDB's arbitrary order among equal times."""
        tags = [p for p in parts if not p.startswith("time(")]
        if "*" in tags or (m == "cpu" and "hostname" in tags):
            return parts
        return [p for p in parts if p.startswith("time(")] + ["*"]

    # ---- clauses
    def aliases(self, exprs, p=0.15):
        out = []
        for i, e in enumerate(exprs):
            if self.rng.random() < p:
                out.append(f"{e} AS {self.rng.choice(['a', 'b', 'v', 'x_' + str(i), 'value'])}")
            else:
                out.append(e)
        return out

    def group_tags(self, m, p=0.5, small=False):
        tags = self.tags(m)
        if not tags or self.rng.random() >= p:
            return ""
        r = self.rng.random()
        if r < 0.15 and not small:
            return " GROUP BY *"
        t = self.small_tag(m) if (small or r < 0.6) else self.rng.choice(tags)
        t = t or self.rng.choice(tags)
        if self.rng.random() < 0.2:
            t2 = self.small_tag(m, 4)
            if t2 and t2 != t:
                return f" GROUP BY {q_ident(t)}, {q_ident(t2)}"
        return f" GROUP BY {q_ident(t)}"

    def order_limit(self, grouped_time, force_limit=False):
        s = ""
        if self.rng.random() < 0.25:
            s += " ORDER BY time DESC"
        if force_limit or self.rng.random() < (0.3 if grouped_time else 0.4):
            s += f" LIMIT {self.rng.choice([1, 2, 3, 5, 10, 20])}"
            if self.rng.random() < 0.4:
                s += f" OFFSET {self.rng.choice([1, 2, 5])}"
        return s

    def slimit(self, gb):
        if gb and self.rng.random() < 0.3:
            s = f" SLIMIT {self.rng.choice([1, 2, 3, 5])}"
            if self.rng.random() < 0.5:
                s += f" SOFFSET {self.rng.choice([1, 2, 4])}"
            return s
        return ""


KINDS = [("error", 3), ("agg", 14), ("agg-time", 20), ("selector", 10), ("transform-agg", 10),
         ("transform-raw", 9), ("math", 12), ("raw", 12), ("where", 6), ("show", 7)]


def random_queries(schema, rng, n):
    if not schema or n <= 0:
        return []
    r = R(schema, rng)
    total = sum(w for _k, w in KINDS)
    out = []
    for _ in range(n):
        x = rng.uniform(0, total)
        for k, w in KINDS:
            x -= w
            if x <= 0:
                break
        fn = getattr(r, "q_" + k.replace("-", "_"))
        out.append(("random:" + k, fn()))
    return out
