"""Value-by-value comparison of InfluxDB 1.x JSON results, the allowlist, and the report."""
import datetime as dt
import os
import platform
import re
import subprocess

REL = 1e-9
ABS = 1e-9


def statement_result(body):
    """One statement's outcome from a whole response body: {'error': msg} or {'series': [...]}.
    A top-level error (parse error) counts as the statement's error."""
    if not isinstance(body, dict):
        return {"error": f"not a JSON object: {str(body)[:200]}"}
    if "results" not in body:
        return {"error": str(body.get("error", "no results"))}
    rs = body["results"]
    if not rs:
        return {"error": "empty results"}
    r = rs[0] or {}
    if r.get("error") is not None:
        return {"error": str(r["error"])}
    series = []
    for s in r.get("series") or []:
        cols = list(s.get("columns") or [])
        vals = s.get("values") or []
        if cols and cols[0] == "time":
            vals = same_time_canonical(vals)
        series.append({"name": s.get("name"), "tags": s.get("tags") or {}, "columns": cols, "values": vals})
    return {"series": series}


def _cell_key(v):
    if v is None:
        return (0, 0.0, "")
    if isinstance(v, bool):
        return (1, float(v), "")
    if is_num(v):
        return (2, float(v), "")
    return (3, 0.0, str(v))


def same_time_canonical(rows):
    """Rows that share a time, in a canonical order. When several series are merged into one
    (no GROUP BY tags), InfluxDB 1.6 emits the points of one timestamp in an order that
    depends on its iterator heap (and on which tag columns are selected), not on the data:
    both answers are compared with such runs sorted by content."""
    out, i = [], 0
    while i < len(rows):
        j = i + 1
        while j < len(rows) and rows[j] and rows[i] and rows[j][0] == rows[i][0]:
            j += 1
        run = rows[i:j]
        if len(run) > 1:
            run = sorted(run, key=lambda r: tuple(_cell_key(v) for v in r))
        out.extend(run)
        i = j
    return out


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def value_equal(a, b, exact=False):
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_num(a) and is_num(b):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if exact:
            return a == b
        fa, fb = float(a), float(b)
        if fa == fb:
            return True
        d = abs(fa - fb)
        return d <= ABS or d <= REL * max(abs(fa), abs(fb))
    return type(a) is type(b) and a == b


def fmt(v):
    if isinstance(v, str):
        return repr(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def differences(ref, got, limit=1):
    """Differences between InfluxDB's (ref) and Strata's (got) statement results, the first
    `limit` of them, each a dict {where, influx, strata, kind}. [] when equal."""
    out = []
    if "error" in ref or "error" in got:
        if ("error" in ref) != ("error" in got):
            out.append({"kind": "error", "where": "statement",
                        "influx": "error: " + ref["error"] if "error" in ref else f"{len(ref['series'])} series",
                        "strata": "error: " + got["error"] if "error" in got else f"{len(got['series'])} series"})
        return out
    rs, gs = ref["series"], got["series"]
    for i in range(max(len(rs), len(gs))):
        if i >= len(rs) or i >= len(gs):
            extra = gs[i] if i >= len(rs) else rs[i]
            out.append({"kind": "series-count", "where": f"series #{i}",
                        "influx": f"{len(rs)} series" + ("" if i < len(rs) else ""),
                        "strata": f"{len(gs)} series; first extra/missing: name={extra['name']} tags={extra['tags']}"})
            return out
        r, g = rs[i], gs[i]
        key = f"series #{i} ({r['name']}{',' if r['tags'] else ''}{','.join(f'{k}={v}' for k, v in sorted(r['tags'].items()))})"
        if r["name"] != g["name"] or r["tags"] != g["tags"]:
            out.append({"kind": "series", "where": f"series #{i}",
                        "influx": f"name={r['name']!r} tags={r['tags']}", "strata": f"name={g['name']!r} tags={g['tags']}"})
            return out
        if r["columns"] != g["columns"]:
            out.append({"kind": "columns", "where": key, "influx": r["columns"], "strata": g["columns"]})
            return out
        rv, gv = r["values"], g["values"]
        for j in range(max(len(rv), len(gv))):
            if j >= len(rv) or j >= len(gv):
                out.append({"kind": "row-count", "where": f"{key} row {j}",
                            "influx": f"{len(rv)} rows" + (f"; row {j} = {rv[j]}" if j < len(rv) else ""),
                            "strata": f"{len(gv)} rows" + (f"; row {j} = {gv[j]}" if j < len(gv) else "")})
                return out
            a, b = rv[j], gv[j]
            if len(a) != len(b):
                out.append({"kind": "row-width", "where": f"{key} row {j}", "influx": a, "strata": b})
                return out
            for c in range(len(a)):
                col = r["columns"][c]
                if not value_equal(a[c], b[c], exact=(col == "time")):
                    t = a[0] if r["columns"] and r["columns"][0] == "time" else None
                    out.append({"kind": "value", "where": f"{key} row {j}" + (f" (time {t})" if t is not None else "")
                                + f" column {col!r}", "column": col, "influx": a[c], "strata": b[c]})
                    if len(out) >= limit:
                        return out
    return out


def first_difference(ref, got):
    d = differences(ref, got, 1)
    return d[0] if d else None


def series_key(s):
    return (s["name"] or "", tuple(sorted(s["tags"].items())))


def series_order_only(ref, got, q):
    """True when got equals ref up to the order of series, InfluxDB's order is not sorted by
    series key and Strata's is (ascending; descending with ORDER BY time DESC). InfluxDB 1.6
    sometimes emits series unsorted, differently from run to run (seen with integral() and
    GROUP BY tag): then the sorted order is the right one."""
    if "series" not in ref or "series" not in got or len(ref["series"]) != len(got["series"]):
        return False
    desc = re.search(r"order\s+by\s+time\s+desc", q, re.I) is not None
    keys_r = [series_key(s) for s in ref["series"]]
    keys_g = [series_key(s) for s in got["series"]]
    want = sorted(keys_g, reverse=desc)
    if keys_g != want or keys_r == want:
        return False
    by_key = {series_key(s): s for s in ref["series"]}
    if len(by_key) != len(ref["series"]):
        return False
    reordered = {"series": [by_key.get(k) for k in keys_g]}
    if any(s is None for s in reordered["series"]):
        return False
    return not differences(reordered, got, 1)


def merge_duplicate_series(ref):
    """InfluxDB's answer with series of the same name and tags joined: rows at the same time
    merged cell by cell (a cell may be non-null in one copy only), series in first-seen
    order. None when nothing is duplicated or two copies disagree on a cell."""
    order, by = [], {}
    for s in ref["series"]:
        k = (s["name"], tuple(sorted(s["tags"].items())))
        if k not in by:
            by[k] = {"name": s["name"], "tags": s["tags"], "columns": s["columns"],
                     "values": [list(r) for r in s["values"]]}
            order.append(k)
            continue
        m = by[k]
        if m["columns"] != s["columns"]:
            return None
        rows = {r[0]: r for r in m["values"]}
        for r in s["values"]:
            if r[0] not in rows:
                m["values"].append(list(r))
                rows[r[0]] = m["values"][-1]
                continue
            t = rows[r[0]]
            for i, v in enumerate(r):
                if v is None:
                    continue
                if t[i] is None:
                    t[i] = v
                elif not value_equal(t[i], v):
                    return None
    if len(order) == len(ref["series"]):
        return None
    out = []
    for k in order:
        m = by[k]
        m["values"].sort(key=lambda r: r[0])
        out.append(m)
    return {"series": out}


def match_allowlist(allow, q, ref, got):
    """The id of an allowlist entry that explains every difference, or None.
    Entry: {"id", "reason", "query": regex the query must match,
            "rule": "negated-int" | "any"}; "negated-int": every differing cell is an integer
            whose InfluxDB value is the negation of Strata's (InfluxDB's abs(int) no-op)."""
    if series_order_only(ref, got, q):
        return "influxdb-unsorted-series"
    for e in allow:
        if not re.search(e["query"], q, re.I):
            continue
        rule = e.get("rule", "any")
        if rule == "any":
            return e["id"]
        if rule == "merge-duplicate-series" and "series" in ref and "series" in got:
            merged = merge_duplicate_series(ref)
            if merged is not None and not differences(merged, got, 1) and differences(ref, got, 1):
                return e["id"]
            continue
        if rule == "influxdb-error":
            if "error" in ref and re.search(e["error"], ref["error"]) and "error" not in got:
                return e["id"]
            continue
        if rule == "negated-int" and "series" in ref and "series" in got:
            # negate the negative integers InfluxDB printed in abs() columns, then compare again
            m = re.match(r"SELECT (.*?) FROM ", q, re.I | re.S)
            items = _split_top(m.group(1)) if m else []
            fixed = {"series": []}
            for s in ref["series"]:
                absc = [i for i, c in enumerate(s["columns"]) if i > 0 and i - 1 < len(items)
                        and re.match(r"abs\s*\(", items[i - 1], re.I)]
                vals = [[(-v if (i in absc and isinstance(v, int) and not isinstance(v, bool) and v < 0) else v)
                         for i, v in enumerate(row)] for row in s["values"]]
                fixed["series"].append(dict(s, values=same_time_canonical(vals)))
            if not differences(fixed, got, 1) and differences(ref, got, 1):
                return e["id"]
    return None


# --------------------------------------------------------------------------- report

def git(repo, *argv):
    try:
        return subprocess.run(["git", "-C", repo] + list(argv), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).stdout.strip()
    except OSError:
        return "?"


def short(v, n=200):
    s = fmt(v) if not isinstance(v, (list, dict)) else str(v)
    return s if len(s) <= n else s[:n] + "…"


def md_escape(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def render_report(ctx, queries, ref, phase_results, tiers, schema, unstable, strata_version,
                  influx_version, import_line, influx_load, elapsed):
    args = ctx.args
    phases = list(phase_results)
    types = []
    for t, _q in queries:
        if t not in types:
            types.append(t)
    lines = []
    now = dt.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC")
    repo = args.repo or "."
    lines.append(f"# Differential run: Strata vs InfluxDB, {now}")
    lines.append("")
    lines.append(f"- command: `{args.cmdline or 'diff.py'}`")
    lines.append(f"- data: `{os.path.basename(args.data)}`; seed {args.seed}; {len(queries)} queries "
                 f"({sum(1 for t, _ in queries if not t.startswith('random'))} TSBS, "
                 f"{sum(1 for t, _ in queries if t.startswith('random'))} random)")
    lines.append(f"- Strata: {strata_version}, commit {git(repo, 'rev-parse', '--short', 'HEAD')}"
                 f"{' (dirty)' if git(repo, 'status', '--porcelain', '--untracked-files=no') else ''}; "
                 f"import: {import_line}")
    lines.append(f"- InfluxDB: {influx_version}; load: {influx_load.get('points')} points")
    lines.append(f"- phases: " + "; ".join(f"`{p}` (tier points {tiers.get(p)})" for p in phases))
    lines.append(f"- machine: {os.cpu_count()} CPUs, {platform.platform()}; wall {elapsed:.0f} s")
    lines.append(f"- InfluxDB-unstable queries (two InfluxDB runs differed; not compared): {len(unstable)}")
    lines.append("")
    lines.append("Cells: queries equal to InfluxDB / queries of the type"
                 " (+k known: differences allow-listed in known_differences.md).")
    lines.append("")
    hdr = "| query type | " + " | ".join(phases) + " | InfluxDB error / empty |"
    lines.append(hdr)
    lines.append("| --- |" + " --- |" * len(phases) + " --- |")
    failed = False
    totals = {p: [0, 0, 0] for p in phases}
    for t in types:
        idx = [i for i, (tt, _q) in enumerate(queries) if tt == t]
        cells = []
        for p in phases:
            outs = phase_results[p][1]
            n = sum(1 for i in idx if outs[i][0] != "unstable")
            ok = sum(1 for i in idx if outs[i][0] == "pass")
            kn = sum(1 for i in idx if outs[i][0] == "known")
            totals[p][0] += ok
            totals[p][1] += n
            totals[p][2] += kn
            mark = "" if ok + kn == n else " ✗"
            cells.append(f"{ok}/{n}" + (f" +{kn} known" if kn else "") + mark)
        nerr = sum(1 for i in idx if "error" in ref[i])
        nempty = sum(1 for i in idx if "series" in ref[i] and not ref[i]["series"])
        lines.append(f"| {t} | " + " | ".join(cells) + f" | {nerr} / {nempty} |")
    lines.append("| **total** | " + " | ".join(
        f"**{v[0]}/{v[1]}**" + (f" +{v[2]} known" if v[2] else "") for v in totals.values())
        + f" | {sum(1 for r in ref if 'error' in r)} / {sum(1 for r in ref if 'series' in r and not r['series'])} |")
    lines.append("")

    # Which query features the failures share: a first guess at the causes.
    feats = {}
    for p in phases:
        for i, o in enumerate(phase_results[p][1]):
            if o[0] == "FAIL":
                for f in query_features(queries[i][1]):
                    feats.setdefault(f, set()).add(i)
    if feats:
        lines.append("## Failing queries by feature")
        lines.append("")
        lines.append("A query can have several features; counts are distinct queries failing in any phase.")
        lines.append("")
        lines.append("| feature | failing queries |")
        lines.append("| --- | --- |")
        for f, idx in sorted(feats.items(), key=lambda x: (-len(x[1]), x[0])):
            lines.append(f"| {f} | {len(idx)} |")
        lines.append("")
    lines.append("## Failures")
    lines.append("")
    shown = 0
    for p in phases:
        outs = phase_results[p][1]
        fails = [i for i, o in enumerate(outs) if o[0] == "FAIL"]
        if fails:
            failed = True
        lines.append(f"### phase `{p}`: {len(fails)} failing")
        lines.append("")
        per_type = {}
        for i in fails:
            per_type.setdefault(queries[i][0], []).append(i)
        for t in types:
            if t not in per_type:
                continue
            lst = per_type[t]
            lines.append(f"#### {t}: {len(lst)} failing")
            lines.append("")
            for i in lst[:3]:
                if shown >= args.max_failures_shown:
                    break
                shown += 1
                d = outs[i][1]
                lines.append(f"- `{queries[i][1]}`")
                lines.append(f"  - first difference ({d['kind']}) at {md_escape(d['where'])}: "
                             f"InfluxDB `{md_escape(short(d['influx']))}` vs Strata `{md_escape(short(d['strata']))}`")
            if len(lst) > 3:
                lines.append(f"- … and {len(lst) - 3} more of this type")
            lines.append("")
    known = [(p, i, o[2]) for p in phases for i, o in enumerate(phase_results[p][1]) if o[0] == "known"]
    if known:
        lines.append("## Allow-listed differences")
        lines.append("")
        for p, i, k in known[:40]:
            d = phase_results[p][1][i][1]
            lines.append(f"- [{p}] `{k}`: `{queries[i][1]}` — {md_escape(d['where'])}: InfluxDB `{short(d['influx'])}` vs Strata `{short(d['strata'])}`")
        lines.append("")
    errs = {}
    for i, r in enumerate(ref):
        if "error" in r:
            errs.setdefault(r["error"], []).append(i)
    if errs:
        lines.append("## Queries InfluxDB refuses (compared for error-ness only)")
        lines.append("")
        for e, lst in sorted(errs.items(), key=lambda x: -len(x[1])):
            lines.append(f"- {len(lst)}× `{md_escape(e[:200])}` e.g. `{queries[lst[0]][1]}`")
        lines.append("")
    if unstable:
        lines.append("## InfluxDB-unstable queries (skipped)")
        lines.append("")
        for i in sorted(unstable)[:20]:
            lines.append(f"- `{queries[i][1]}`")
        lines.append("")
    lines.append("## Queries")
    lines.append("")
    lines.append("<details><summary>all queries with outcome per phase</summary>")
    lines.append("")
    for i, (t, q) in enumerate(queries):
        st = "/".join(phase_results[p][1][i][0] for p in phases)
        lines.append(f"- {st} [{t}] `{q}`")
    lines.append("")
    lines.append("</details>")
    lines.append("")
    return "\n".join(lines), failed


# --------------------------------------------------------------------------- mode ties

def _split_top(s, sep=","):
    out, depth, cur, q = [], 0, "", None
    for ch in s:
        if q:
            cur += ch
            if ch == q:
                q = None
            continue
        if ch in "'\"/":
            q = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


_CLAUSE_END = r"(?= GROUP BY | fill\(| ORDER BY | LIMIT | OFFSET | SLIMIT | SOFFSET | tz\(|$)"


def mode_tie_check(q, ref, got, influx_query):
    """True when every difference is a mode() cell where InfluxDB and Strata chose different
    values that occur equally often in that group (InfluxDB breaks ties by the order of Go's
    unstable sort). The counts are asked of InfluxDB: count(f) WHERE <same> AND f = value."""
    m = re.match(r"SELECT (.*?) FROM (\S+) WHERE (.*?)" + _CLAUSE_END, q, re.I | re.S)
    if not m or "error" in ref or "error" in got:
        return False
    items = _split_top(m.group(1))
    meas, where = m.group(2), m.group(3)
    gb = re.search(r" GROUP BY (.*?)(?= fill\(| ORDER BY | LIMIT | OFFSET | SLIMIT | SOFFSET | tz\(|$)", q, re.I)
    gb = gb.group(1) if gb else ""
    ds = differences(ref, got, 10 ** 6)
    if not ds or any(d["kind"] != "value" for d in ds):
        return False
    cache = {}
    for d in ds:
        mm = re.match(r"series #(\d+) .* row (\d+)", d["where"])
        if not mm:
            return False
        si, ri = int(mm.group(1)), int(mm.group(2))
        s = ref["series"][si]
        ci = s["columns"].index(d["column"]) if d["column"] in s["columns"] else -1
        if ci < 1 or ci - 1 >= len(items):
            return False
        fm = re.match(r"mode\(\s*(\"?[A-Za-z_][\w]*\"?)\s*\)(\s+AS\s+\S+)?$", items[ci - 1], re.I)
        if not fm or not is_num(d["influx"]) or not is_num(d["strata"]):
            return False
        f = fm.group(1)
        t = s["values"][ri][0]
        counts = []
        for v in (d["influx"], d["strata"]):
            key = (f, v)
            if key not in cache:
                tz = re.search(r" (tz\('[^']*'\))\s*$", q)
                cq = (f"SELECT count({f}) FROM {meas} WHERE ({where}) AND {f} = {v}" + (f" GROUP BY {gb}" if gb else "")
                      + " fill(none)" + (" " + tz.group(1) if tz else ""))
                cache[key] = statement_result(influx_query(cq))
            r = cache[key]
            if "error" in r:
                return False
            c = 0
            for cs in r["series"]:
                if cs["tags"] == s["tags"]:
                    for row in cs["values"]:
                        if row[0] == t:
                            c = row[1]
            counts.append(c)
        if counts[0] != counts[1] or counts[0] == 0:
            return False
    return True


FEATURES = [
    ("ORDER BY time DESC", r"order by time desc"),
    ("transformation over an aggregate", r"\b(derivative|non_negative_derivative|difference|non_negative_difference|moving_average|cumulative_sum|elapsed)\(\s*\w+\("),
    ("transformation over raw values", r"\b(derivative|non_negative_derivative|difference|non_negative_difference|moving_average|cumulative_sum|elapsed)\(\s*[\"\w]+\s*[,)]"),
    ("top()/bottom() with a tag argument", r"\b(top|bottom)\(\s*[\"\w]+\s*,\s*[\"A-Za-z_][\"\w]*\s*,"),
    ("selector with extra columns", r"^select (top|bottom|max|min|first|last|percentile)\([^)]*\)(\s*,\s*[\"A-Za-z_][\"\w]*)+ from"),
    ("% operator", r"%"),
    ("several measurements", r" from (\S+, |/)"),
    ("repeated identical selector", None),
    ("GROUP BY time with offset", r"group by time\(\w+,\s*-?\d+s\)"),
    ("GROUP BY time", r"group by time\("),
    ("fill()", r"fill\("),
    ("LIMIT/OFFSET", r"\b(limit|offset) \d"),
    ("SLIMIT/SOFFSET", r"\b(slimit|soffset) \d"),
    ("tz()", r"tz\("),
    ("GROUP BY *", r"group by .*\*"),
    ("SHOW", r"^show "),
    ("mode()", r"\bmode\("),
    ("integral()", r"\bintegral\("),
]


def query_features(q):
    ql = q.lower()
    out = []
    for name, rx in FEATURES:
        if rx is None:
            m = re.match(r"select (.*?) from ", ql)
            calls = re.findall(r"\b(\w+)\(([^()]*)\)", m.group(1)) if m else []
            if len(calls) > 1 and len(set(calls)) == 1 and calls[0][0] in ("max", "min", "first", "last", "percentile"):
                out.append(name)
            continue
        if re.search(rx, ql):
            out.append(name)
    return out or ["(none of the listed)"]
