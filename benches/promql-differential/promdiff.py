"""Comparison of two Prometheus HTTP API answers (/api/v1/query, /api/v1/query_range), the
known-differences allow list, and the Markdown report of benches/promql-differential.

An answer is parsed into one of
  {"unavailable": why}                       no HTTP answer at all (connection refused, timeout)
  {"error": msg, "errorType": t, "http": n}  status "error" (or an answer that is not Prometheus JSON)
  {"resultType": t, "result": R, "http": n, "format": [notes]}
where R is, per resultType:
  vector  [(labelkey, labels, t, v)]         labelkey = sorted tuple of the label pairs
  matrix  [(labelkey, labels, [(t, v), ...])]
  scalar  (t, v);  string (t, s)
t is the JSON number as Python parsed it (compared exactly), v the value string.

Rules (compare()):
- both errors: equal ("both-error"; both messages kept); one error: a difference;
- resultType must be equal;
- label sets exactly, as sets (Prometheus orders only the result of a top-level sort() or
  sort_desc(), whose order is compared, equal values being a tie whose members may come in any
  order); a label set twice in one answer is a difference;
- timestamps exactly; values to a relative REL (1e-9) or an absolute ABS (1e-12, for
  results that should be 0 and come out 1e-17 from a different summation order); NaN equals
  NaN; +Inf/-Inf exactly;
- topk/bottomk at the top of the query: if the label sets differ but, at every timestamp,
  the sorted values are equal, the two systems chose different members of a tie; that counts
  as equal ("pass-ties"), as Prometheus does not define which tied series topk keeps.
Format notes (not failures): value strings that differ in spelling but not in number
("1.0" vs "1"), timestamps that are equal numbers but different JSON ("1" vs "1.0" is not
visible after parsing, so only value strings are checked), a missing "status".
"""
import datetime as dt
import json
import math
import re

REL = 1e-9
ABS = 1e-12


# --------------------------------------------------------------------------- parsing

def _labels(m, notes):
    if not isinstance(m, dict):
        notes.append(f"metric is not an object: {str(m)[:80]}")
        return (), {}
    for k, v in m.items():
        if not isinstance(v, str):
            notes.append(f"label {k} is not a string: {v!r}")
    lab = {str(k): str(v) for k, v in m.items()}
    return tuple(sorted(lab.items())), lab


def _sample(p, notes):
    """[t, "v"] -> (t, v)."""
    if not isinstance(p, list) or len(p) != 2:
        notes.append(f"sample is not [t, v]: {str(p)[:80]}")
        return (None, None)
    t, v = p
    if not isinstance(t, (int, float)) or isinstance(t, bool):
        notes.append(f"timestamp is not a JSON number: {t!r}")
    if not isinstance(v, str):
        notes.append(f"value is not a JSON string: {v!r}")
        v = json.dumps(v)
    return (float(t) if isinstance(t, (int, float)) else t, v)


def parse(status, body, error=None):
    if status is None:
        return {"unavailable": error or "no answer"}
    try:
        j = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {"error": f"HTTP {status}, not JSON: {body[:200]!r}", "errorType": "not-json", "http": status}
    if not isinstance(j, dict):
        return {"error": f"HTTP {status}, JSON is not an object", "errorType": "not-json", "http": status}
    if j.get("status") != "success":
        return {"error": str(j.get("error", f"HTTP {status}, status {j.get('status')!r}")),
                "errorType": str(j.get("errorType", "")), "http": status}
    notes = []
    if status != 200:
        notes.append(f"HTTP {status} with status success")
    d = j.get("data")
    if not isinstance(d, dict) or "resultType" not in d:
        return {"error": f"HTTP {status}, success without data.resultType", "errorType": "malformed", "http": status}
    rt, res = d["resultType"], d.get("result")
    if rt == "vector":
        out = []
        for e in res or []:
            key, lab = _labels(e.get("metric", {}), notes)
            t, v = _sample(e.get("value"), notes)
            out.append((key, lab, t, v))
    elif rt == "matrix":
        out = []
        for e in res or []:
            key, lab = _labels(e.get("metric", {}), notes)
            out.append((key, lab, [_sample(p, notes) for p in e.get("values") or []]))
    elif rt in ("scalar", "string"):
        out = _sample(res, notes)
    else:
        return {"error": f"unknown resultType {rt!r}", "errorType": "malformed", "http": status}
    if res is None:
        notes.append("result is null, not []")
    return {"resultType": rt, "result": out, "http": status, "format": notes}


# --------------------------------------------------------------------------- values

def num_equal(a, b, rel=REL, abs_=ABS):
    """Two Prometheus value strings as numbers: NaN == NaN, ±Inf exact, else tolerant."""
    if a == b:
        return True
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return False
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb
    d = abs(fa - fb)
    return d <= abs_ or d <= rel * max(abs(fa), abs(fb))


def _spelled_differently(a, b):
    return a != b and num_equal(a, b, 0.0, 0.0)


def _t(t):
    """A timestamp as the JSON had it (1795329420, 1795329480.5)."""
    return str(int(t)) if isinstance(t, float) and t.is_integer() else str(t)


def _fmt_labels(lab):
    name = lab.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in sorted(lab.items()) if k != "__name__")
    return f"{name}{{{rest}}}"


# --------------------------------------------------------------------------- query shape

def _strip_parens(expr):
    e = expr.strip()
    while e.startswith("(") and _closing(e, 0) == len(e) - 1:
        e = e[1:-1].strip()
    return e


def _closing(s, i):
    """Index of the parenthesis closing s[i] == '(' (string literals skipped), or -1."""
    depth, q = 0, None
    j = i
    while j < len(s):
        c = s[j]
        if q:
            if c == "\\" and q != "`":
                j += 2
                continue
            if c == q:
                q = None
        elif c in "\"'`":
            q = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


def top_call(expr):
    """The function or aggregation applied last (`sort` in `sort(x)`, `topk` in
    `topk by (a) (3, x)` or `(topk(3, x)) by (a)`), or None if the top is anything else."""
    e = _strip_parens(expr)
    m = re.match(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(", e)
    if not m:
        return None
    end = _closing(e, m.end() - 1)
    rest = e[end + 1:].strip() if end >= 0 else "?"
    if rest == "" or re.fullmatch(r"(by|without)\s*\([^)]*\)", rest):
        return m.group(1)
    return None


def ordered(expr):
    return top_call(expr) in ("sort", "sort_desc")


def tie_tolerant(expr):
    return top_call(expr) in ("topk", "bottomk")


# --------------------------------------------------------------------------- compare

class Verdict:
    """kind: pass | pass-ties | both-error | fail | unavailable | ref-unavailable;
    where/ref/got: the first difference, for the report; notes: format notes."""

    def __init__(self, kind, where="", ref="", got="", notes=()):
        self.kind, self.where, self.ref, self.got, self.notes = kind, where, ref, got, list(notes)

    def __repr__(self):
        return f"Verdict({self.kind}, {self.where!r})"


def compare(ref, got, expr, rel=REL, abs_=ABS):
    if "unavailable" in ref:
        return Verdict("ref-unavailable", "reference", ref["unavailable"], "")
    if "unavailable" in got:
        return Verdict("unavailable", "candidate", "", got["unavailable"])
    if "error" in ref or "error" in got:
        if "error" in ref and "error" in got:
            # equal; how far the two errors agree is kept for the report (Strata aims at
            # Prometheus's exact JSON: errorType, HTTP status and message)
            same = [what for what, a, b in (("errorType", ref.get("errorType"), got.get("errorType")),
                                            ("HTTP status", ref.get("http"), got.get("http")),
                                            ("message", ref["error"], got["error"])) if a == b]
            return Verdict("both-error", "same " + ", ".join(same) if same else "nothing in common",
                           f"{ref.get('http')} {ref.get('errorType')}: {ref['error']}",
                           f"{got.get('http')} {got.get('errorType')}: {got['error']}")
        return Verdict("fail", "error vs result",
                       f"error: {ref['error']}" if "error" in ref else f"{ref['resultType']} with {_size(ref)}",
                       f"error: {got['error']}" if "error" in got else f"{got['resultType']} with {_size(got)}")
    notes = [f"candidate: {n}" for n in got.get("format", [])[:3]]
    if ref["resultType"] != got["resultType"]:
        return Verdict("fail", "resultType", ref["resultType"], got["resultType"], notes)
    rt = ref["resultType"]
    if rt in ("scalar", "string"):
        (rt_, rv), (gt, gv) = ref["result"], got["result"]
        if rt_ != gt:
            return Verdict("fail", "timestamp", _t(rt_), _t(gt), notes)
        ok = num_equal(rv, gv, rel, abs_) if rt == "scalar" else rv == gv
        if not ok:
            return Verdict("fail", "value", rv, gv, notes)
        if rt == "scalar" and _spelled_differently(rv, gv):
            notes.append(f"value spelled {gv!r}, Prometheus {rv!r}")
        return Verdict("pass", notes=notes)
    v = (_compare_vector if rt == "vector" else _compare_matrix)(ref["result"], got["result"], expr, rel, abs_, notes)
    if v.kind == "fail" and tie_tolerant(expr) and _values_by_time(ref, rt) is not None:
        a, b = _values_by_time(ref, rt), _values_by_time(got, rt)
        if b is not None and a.keys() == b.keys() and all(
                len(a[t]) == len(b[t]) and all(num_equal(x, y, rel, abs_) for x, y in zip(a[t], b[t])) for t in a):
            return Verdict("pass-ties", v.where, v.ref, v.got, notes)
    return v


def _size(a):
    r = a["result"]
    if a["resultType"] == "vector":
        return f"{len(r)} series"
    if a["resultType"] == "matrix":
        return f"{len(r)} series, {sum(len(x[2]) for x in r)} points"
    return str(r)


def _sort_key(v):
    try:
        f = float(v)
        return (0, -math.inf) if math.isnan(f) else (1, f)
    except (TypeError, ValueError):
        return (2, 0.0)


def _values_by_time(a, rt):
    out = {}
    if rt == "vector":
        for _k, _l, t, v in a["result"]:
            out.setdefault(t, []).append(v)
    elif rt == "matrix":
        for _k, _l, pts in a["result"]:
            for t, v in pts:
                out.setdefault(t, []).append(v)
    else:
        return None
    return {t: sorted(vs, key=_sort_key) for t, vs in out.items()}


def _dupes(rows):
    seen, d = set(), []
    for r in rows:
        if r[0] in seen:
            d.append(r[1])
        seen.add(r[0])
    return d


def _set_diff(ref, got, notes):
    rk, gk = {r[0]: r for r in ref}, {r[0]: r for r in got}
    for side, rows in (("reference", ref), ("candidate", got)):
        d = _dupes(rows)
        if d:
            return Verdict("fail", f"{side} has a label set twice", _fmt_labels(d[0]), "", notes)
    missing = [rk[k][1] for k in rk if k not in gk]
    extra = [gk[k][1] for k in gk if k not in rk]
    if missing or extra:
        return Verdict("fail", f"label sets: {len(missing)} missing, {len(extra)} extra (of {len(ref)} / {len(got)})",
                       "; ".join(_fmt_labels(x) for x in missing[:3]) or "-",
                       "; ".join(_fmt_labels(x) for x in extra[:3]) or "-", notes)
    return None


def _compare_vector(ref, got, expr, rel, abs_, notes):
    v = _set_diff(ref, got, notes)
    if v:
        return v
    gk = {r[0]: r for r in got}
    for key, lab, t, val in ref:
        _, _, gt, gv = gk[key]
        if t != gt:
            return Verdict("fail", f"timestamp of {_fmt_labels(lab)}", _t(t), _t(gt), notes)
        if not num_equal(val, gv, rel, abs_):
            return Verdict("fail", f"value of {_fmt_labels(lab)} at {_t(t)}", val, gv, notes)
        if _spelled_differently(val, gv) and len(notes) < 5:
            notes.append(f"value spelled {gv!r}, Prometheus {val!r}")
    if ordered(expr):
        # same order, where runs of equal values (ties) may come in any order within the run
        i = 0
        while i < len(ref):
            j = i + 1
            while j < len(ref) and num_equal(ref[j][3], ref[i][3], 0.0, 0.0):
                j += 1
            if {r[0] for r in ref[i:j]} != {r[0] for r in got[i:j]}:
                return Verdict("fail", f"order (position {i})", _fmt_labels(ref[i][1]), _fmt_labels(got[i][1]), notes)
            i = j
    return Verdict("pass", notes=notes)


def _compare_matrix(ref, got, expr, rel, abs_, notes):
    v = _set_diff(ref, got, notes)
    if v:
        return v
    gk = {r[0]: r for r in got}
    for key, lab, pts in ref:
        gpts = gk[key][2]
        rt_, gt_ = [p[0] for p in pts], [p[0] for p in gpts]
        if rt_ != gt_:
            only_r = [_t(x) for x in sorted(set(rt_) - set(gt_))[:3]]
            only_g = [_t(x) for x in sorted(set(gt_) - set(rt_))[:3]]
            return Verdict("fail", f"timestamps of {_fmt_labels(lab)} ({len(pts)} vs {len(gpts)} points)",
                           f"only here: {', '.join(only_r)}" if only_r else f"first: {', '.join(map(_t, rt_[:3]))}",
                           f"only here: {', '.join(only_g)}" if only_g else f"first: {', '.join(map(_t, gt_[:3]))}",
                           notes)
        for (t, a), (_, b) in zip(pts, gpts):
            if not num_equal(a, b, rel, abs_):
                return Verdict("fail", f"value of {_fmt_labels(lab)} at {_t(t)}", a, b, notes)
            if _spelled_differently(a, b) and len(notes) < 5:
                notes.append(f"value spelled {b!r}, Prometheus {a!r}")
    return Verdict("pass", notes=notes)


# --------------------------------------------------------------------------- allow list

def load_allowlist(path):
    """A JSON list of {"id", "reason", "query" (regex searched in the expression), and
    optionally "feature", "target" (candidate name), "difference" (regex searched in the
    difference text)}. Every entry needs a reason."""
    with open(path) as f:
        entries = json.load(f)
    for e in entries:
        if not e.get("id") or not e.get("reason") or "query" not in e:
            raise ValueError(f"{path}: every entry needs id, query and reason: {e}")
        re.compile(e["query"])
    return entries


def allowed(entries, q, target, verdict):
    text = f"{verdict.where} | {verdict.ref} | {verdict.got}"
    for e in entries:
        if e.get("target") and e["target"] != target:
            continue
        if e.get("feature") and not re.search(e["feature"], q["feature"]):
            continue
        if not re.search(e["query"], q["expr"]):
            continue
        if e.get("difference") and not re.search(e["difference"], text):
            continue
        return e
    return None


# --------------------------------------------------------------------------- report

def trunc(s, n=600):
    s = s if isinstance(s, str) else s.decode("utf-8", "replace")
    return s if len(s) <= n else s[:n] + f"… ({len(s):,} chars)"


def md_cell(s, n=160):
    s = trunc(str(s), n).replace("|", "\\|").replace("\n", " ")
    return s


def params_text(q):
    p = q["params"]
    if q["kind"] == "range":
        return f"query_range start={p.get('start')} end={p.get('end')} step={p.get('step')}"
    return f"query time={p.get('time')}"


def report(meta, rows, allow_entries):
    """Markdown. meta: dict (title, command, targets, versions, datasets, machine, notes,
    unavailable); rows: dicts {q, dataset, phase, verdict, known, ref_body, got_body, method}."""
    ref_name, cand_name = meta["ref_title"], meta["cand_title"]
    md = [f"# PromQL differential: {cand_name} vs {ref_name} — {meta['started']}", "",
          f"Command: `{meta['command']}`  ",
          f"Reference: {meta['ref_version']}; candidate: {meta['cand_version']}  ",
          f"Seed {meta['seed']}, tolerance: relative {meta['rel']:g}, absolute {meta['abs']:g}; "
          f"allow list: {meta['allow_path']} ({len(allow_entries)} entries).  ",
          f"Run time {meta['elapsed_min']:.1f} min.", ""]
    md += ["## Machine", ""] + [f"- {k}: {v}" for k, v in meta["machine"]] + [""]
    md += ["## Data sets", "", "| data set | files | samples | time span (UTC) | queries |", "| --- | --- | --- | --- | --- |"]
    for d in meta["datasets"]:
        md.append(f"| {d['name']} | {', '.join(d['files'])} | {d['samples']:,} | {d['span']} | {d['queries']} |")
    md.append("")
    # summary
    md += ["## Summary", "",
           "| data set | phase | queries | equal | equal up to topk ties | both error | **different** | allow-listed | candidate unavailable |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["phase"]), []).append(r)
    tot = {}
    for (ds, ph), rs in groups.items():
        c = count(rs)
        for k, v in c.items():
            tot[k] = tot.get(k, 0) + v
        md.append(f"| {ds} | {ph} | {len(rs)} | {c['pass']} | {c['pass-ties']} | {c['both-error']} | **{c['fail']}** | "
                  f"{c['known']} | {c['unavailable'] + c['ref-unavailable']} |")
    md.append(f"| **all** | | {len(rows)} | {tot.get('pass', 0)} | {tot.get('pass-ties', 0)} | {tot.get('both-error', 0)} | "
              f"**{tot.get('fail', 0)}** | {tot.get('known', 0)} | {tot.get('unavailable', 0) + tot.get('ref-unavailable', 0)} |")
    md.append("")
    kinds = {}
    for r in rows:
        kinds.setdefault(r["q"]["kind"], []).append(r)
    md.append("By kind: " + "; ".join(f"{k}: {len(v)} queries, {count(v)['fail']} different" for k, v in sorted(kinds.items())) + ".")
    md.append("")
    if meta.get("unavailable"):
        md += ["## Candidate unavailable", ""] + [f"- {u}" for u in meta["unavailable"]] + [""]
    for n in meta.get("notes", []):
        md.append(f"- {n}")
    if meta.get("notes"):
        md.append("")
    # by feature
    feats = {}
    for r in rows:
        feats.setdefault(r["q"]["feature"], []).append(r)
    failing = {f: rs for f, rs in feats.items() if count(rs)["fail"]}
    md += ["## By feature", "",
           f"{len(feats)} features; {len(failing)} with a difference" + (":" if failing else "."), ""]
    if failing:
        md += ["| feature | queries | different | equal | both error |", "| --- | --- | --- | --- | --- |"]
        for f in sorted(failing, key=lambda f: (-count(failing[f])["fail"], f)):
            c = count(failing[f])
            md.append(f"| {f} | {len(failing[f])} | {c['fail']} | {c['pass'] + c['pass-ties']} | {c['both-error']} |")
        md.append("")
    # differences
    fails = [r for r in rows if r["verdict"].kind == "fail" and not r.get("known")]
    md += [f"## Differences ({len(fails)})", ""]
    for r in fails:
        q, v = r["q"], r["verdict"]
        md += [f"### {q['id']} — {r['dataset']}/{r['phase']}, {q['feature']}", "",
               f"{params_text(q)} ({r.get('method', 'GET')})", "", "```promql", q["expr"], "```", "",
               f"- difference: **{v.where}** — {ref_name}: `{trunc(str(v.ref), 300)}`; {cand_name}: `{trunc(str(v.got), 300)}`",
               f"- {ref_name} answer: `{trunc(r['ref_body'], 600)}`",
               f"- {cand_name} answer: `{trunc(r['got_body'], 600)}`", ""]
    known = [r for r in rows if r.get("known")]
    if known:
        md += [f"## Allow-listed differences ({len(known)})", "", "| query | entry | difference |", "| --- | --- | --- |"]
        for r in known:
            md.append(f"| {r['q']['id']} `{md_cell(r['q']['expr'], 100)}` | {r['known']['id']} | {md_cell(r['verdict'].where)} |")
        md.append("")
    ties = [r for r in rows if r["verdict"].kind == "pass-ties"]
    if ties:
        md += [f"## Equal up to topk/bottomk ties ({len(ties)})", "",
               "| query | expression | label sets |", "| --- | --- | --- |"]
        for r in ties:
            md.append(f"| {r['q']['id']} | `{md_cell(r['q']['expr'], 120)}` | {md_cell(r['verdict'].where)} |")
        md.append("")
    both = [r for r in rows if r["verdict"].kind == "both-error"]
    exact = sum(1 for r in both if r["verdict"].where == "same errorType, HTTP status, message")
    md += [f"## Both errored ({len(both)})", "",
           f"Equal by definition. For reading: HTTP status, `errorType` and message of each; {exact} of "
           f"{len(both)} agree in all three.", ""]
    if both:
        md += [f"| query | request | {ref_name} | {cand_name} | agreeing |", "| --- | --- | --- | --- | --- |"]
        for r in both:
            md.append(f"| {r['q']['id']} | `{md_cell(r['q']['expr'], 100)}` {params_text(r['q'])} | "
                      f"{md_cell(r['verdict'].ref, 140)} | {md_cell(r['verdict'].got, 140)} | {r['verdict'].where} |")
        md.append("")
    fmt_rows = [r for r in rows if r["verdict"].notes and r["verdict"].kind in ("pass", "pass-ties")]
    if fmt_rows:
        md += [f"## JSON format notes ({len(fmt_rows)} equal answers)", "",
               "Equal numbers or shapes, spelled differently from Prometheus (not counted as differences):", ""]
        for r in fmt_rows[:15]:
            md.append(f"- {r['q']['id']}: {md_cell('; '.join(r['verdict'].notes), 300)}")
        md.append("")
    return "\n".join(md)


def count(rows):
    c = {k: 0 for k in ("pass", "pass-ties", "both-error", "fail", "unavailable", "ref-unavailable", "known")}
    for r in rows:
        if r.get("known"):
            c["known"] += 1
        else:
            c[r["verdict"].kind] += 1
    return c


def utc_now():
    return dt.datetime.now(dt.timezone.utc)
