"""python3 -m unittest benches/promql-differential/test_promdiff.py — the comparator's own checks
(and a few of the generator's: determinism, coverage, durations)."""
import json
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import promdiff as pd  # noqa: E402


def ok(result_type, result, status=200):
    return pd.parse(status, json.dumps({"status": "success", "data": {"resultType": result_type, "result": result}}))


def err(msg, kind="bad_data", status=400):
    return pd.parse(status, json.dumps({"status": "error", "errorType": kind, "error": msg}))


def vec(*rows):
    """rows: (labels dict, t, value string)."""
    return ok("vector", [{"metric": m, "value": [t, v]} for m, t, v in rows])


def mat(*rows):
    """rows: (labels dict, [(t, v), ...])."""
    return ok("matrix", [{"metric": m, "values": [[t, v] for t, v in pts]} for m, pts in rows])


A = {"__name__": "cpu_usage_user", "hostname": "host_0"}
B = {"__name__": "cpu_usage_user", "hostname": "host_1"}
C = {"__name__": "cpu_usage_user", "hostname": "host_2"}


class Compare(unittest.TestCase):
    def kind(self, ref, got, expr="x"):
        return pd.compare(ref, got, expr).kind

    def test_equal_vector_is_a_set(self):
        self.assertEqual(self.kind(vec((A, 10, "1"), (B, 10, "2")), vec((B, 10, "2"), (A, 10, "1"))), "pass")

    def test_labels_exact(self):
        b2 = dict(B, extra="x")
        v = pd.compare(vec((A, 10, "1"), (B, 10, "2")), vec((A, 10, "1"), (b2, 10, "2")), "x")
        self.assertEqual(v.kind, "fail")
        self.assertIn("1 missing, 1 extra", v.where)
        no_name = {"hostname": "host_0"}
        self.assertEqual(self.kind(vec((A, 10, "1")), vec((no_name, 10, "1"))), "fail")

    def test_duplicate_label_set(self):
        v = pd.compare(vec((A, 10, "1")), vec((A, 10, "1"), (A, 10, "1")), "x")
        self.assertEqual(v.kind, "fail")
        self.assertIn("twice", v.where)

    def test_value_tolerance(self):
        self.assertEqual(self.kind(vec((A, 10, "1")), vec((A, 10, "1.0000000000001"))), "pass")
        self.assertEqual(self.kind(vec((A, 10, "1")), vec((A, 10, "1.00000001"))), "fail")
        self.assertEqual(self.kind(vec((A, 10, "0")), vec((A, 10, "1e-17"))), "pass")      # absolute near 0
        self.assertEqual(self.kind(vec((A, 10, "0")), vec((A, 10, "1e-9"))), "fail")
        self.assertEqual(self.kind(vec((A, 10, "123456789012")), vec((A, 10, "123456789012.00001"))), "pass")

    def test_nan_inf(self):
        self.assertEqual(self.kind(vec((A, 10, "NaN")), vec((A, 10, "NaN"))), "pass")
        self.assertEqual(self.kind(vec((A, 10, "NaN")), vec((A, 10, "0"))), "fail")
        self.assertEqual(self.kind(vec((A, 10, "+Inf")), vec((A, 10, "+Inf"))), "pass")
        self.assertEqual(self.kind(vec((A, 10, "+Inf")), vec((A, 10, "-Inf"))), "fail")
        self.assertEqual(self.kind(vec((A, 10, "+Inf")), vec((A, 10, "1.7976931348623157e308"))), "fail")

    def test_timestamps_exact(self):
        self.assertEqual(self.kind(vec((A, 10, "1")), vec((A, 10.001, "1"))), "fail")
        self.assertEqual(self.kind(vec((A, 10, "1")), vec((A, 10.0, "1"))), "pass")
        self.assertEqual(self.kind(mat((A, [(10, "1"), (20, "2")])), mat((A, [(10, "1")]))), "fail")
        self.assertEqual(self.kind(mat((A, [(10, "1"), (20, "2")])), mat((A, [(10, "1"), (21, "2")]))), "fail")

    def test_matrix(self):
        r = mat((A, [(10, "1"), (20, "2")]), (B, [(10, "3")]))
        self.assertEqual(self.kind(r, mat((B, [(10, "3")]), (A, [(10, "1"), (20, "2")]))), "pass")
        v = pd.compare(r, mat((A, [(10, "1"), (20, "2.5")]), (B, [(10, "3")])), "x")
        self.assertEqual((v.kind, v.ref, v.got), ("fail", "2", "2.5"))
        self.assertIn("at 20", v.where)

    def test_errors(self):
        self.assertEqual(self.kind(err("parse error"), err("something else", "execution", 422)), "both-error")
        self.assertEqual(pd.compare(err("m"), err("m"), "x").where, "same errorType, HTTP status, message")
        self.assertEqual(pd.compare(err("m"), err("n", "execution", 422), "x").where, "nothing in common")
        v = pd.compare(err("parse error"), vec(), "x")
        self.assertEqual((v.kind, v.where), ("fail", "error vs result"))
        self.assertEqual(self.kind(vec(), err("nope")), "fail")
        self.assertEqual(self.kind(vec(), pd.parse(None, b"", "ConnectionRefusedError")), "unavailable")
        self.assertEqual(self.kind(vec(), pd.parse(404, b"404 page not found")), "fail")  # not JSON -> an error

    def test_result_type_and_scalars(self):
        self.assertEqual(self.kind(ok("scalar", [10, "1"]), vec(({}, 10, "1"))), "fail")
        self.assertEqual(self.kind(ok("scalar", [10, "1"]), ok("scalar", [10, "1"])), "pass")
        self.assertEqual(self.kind(ok("scalar", [10, "NaN"]), ok("scalar", [10, "NaN"])), "pass")
        self.assertEqual(self.kind(ok("scalar", [10, "1"]), ok("scalar", [11, "1"])), "fail")
        self.assertEqual(self.kind(ok("string", [10, "a"]), ok("string", [10, "b"])), "fail")
        self.assertEqual(self.kind(vec(), mat()), "fail")

    def test_order_only_for_sort(self):
        r = vec((A, 10, "1"), (B, 10, "2"), (C, 10, "3"))
        g = vec((B, 10, "2"), (A, 10, "1"), (C, 10, "3"))
        self.assertEqual(self.kind(r, g, "sum(x) by (h)"), "pass")
        self.assertEqual(self.kind(r, g, "sort(x)"), "fail")
        self.assertEqual(self.kind(r, g, " ( sort(x) ) "), "fail")
        self.assertEqual(self.kind(r, g, "sort(x) + 1"), "pass")  # not a top-level sort
        # ties may come in any order
        r2 = vec((A, 10, "1"), (B, 10, "1"), (C, 10, "3"))
        g2 = vec((B, 10, "1"), (A, 10, "1"), (C, 10, "3"))
        self.assertEqual(self.kind(r2, g2, "sort(x)"), "pass")
        self.assertEqual(self.kind(r2, vec((C, 10, "3"), (A, 10, "1"), (B, 10, "1")), "sort_desc(x)"), "fail")

    def test_topk_ties(self):
        r = vec((A, 10, "5"), (B, 10, "3"))
        g = vec((A, 10, "5"), (C, 10, "3"))  # C ties with B at 3
        self.assertEqual(self.kind(r, g, "topk(2, x)"), "pass-ties")
        self.assertEqual(self.kind(r, g, "topk by (a) (2, x)"), "pass-ties")
        self.assertEqual(self.kind(r, g, "sum(topk(2, x))"), "fail")
        self.assertEqual(self.kind(r, vec((A, 10, "5"), (C, 10, "4")), "topk(2, x)"), "fail")
        rm = mat((A, [(10, "5"), (20, "5")]), (B, [(10, "3")]))
        gm = mat((A, [(10, "5"), (20, "5")]), (C, [(10, "3")]))
        self.assertEqual(self.kind(rm, gm, "bottomk(2, x)"), "pass-ties")

    def test_format_notes(self):
        v = pd.compare(vec((A, 10, "1")), vec((A, 10, "1.0")), "x")
        self.assertEqual(v.kind, "pass")
        self.assertTrue(any("spelled" in n for n in v.notes))
        g = pd.parse(200, json.dumps({"status": "success", "data": {"resultType": "vector",
                                                                    "result": [{"metric": A, "value": [10, 1]}]}}))
        v = pd.compare(vec((A, 10, "1")), g, "x")
        self.assertTrue(any("not a JSON string" in n for n in v.notes))

    def test_top_call(self):
        self.assertEqual(pd.top_call('sort(label_replace(x, "a", "(", "b", ")"))'), "sort")
        self.assertEqual(pd.top_call("(topk(3, x)) by (a)"), None)  # invalid anyway; not a bare call
        self.assertEqual(pd.top_call("topk(3, x) by (a)"), "topk")
        self.assertEqual(pd.top_call("sort(x) or sort(y)"), None)
        self.assertEqual(pd.top_call("x"), None)

    def test_allowlist(self):
        entries = [{"id": "e", "query": r"\bholt_winters\(", "difference": "value", "reason": "r"}]
        q = {"expr": "holt_winters(x[5m], 0.5, 0.5)", "feature": "func/holt_winters"}
        self.assertIsNotNone(pd.allowed(entries, q, "strata", pd.Verdict("fail", "value of {} at 1", "1", "2")))
        self.assertIsNone(pd.allowed(entries, q, "strata", pd.Verdict("fail", "label sets", "", "")))
        self.assertIsNone(pd.allowed(entries, {"expr": "rate(x[5m])", "feature": "f"}, "strata",
                                     pd.Verdict("fail", "value", "", "")))

    def test_report_renders(self):
        q = {"id": "d-0001", "feature": "f", "kind": "instant", "expr": "x", "params": {"query": "x", "time": "1"}}
        rows = [{"q": q, "dataset": "d", "phase": "cold", "verdict": pd.compare(vec((A, 1, "1")), vec((A, 1, "2")), "x"),
                 "ref_body": b"{}", "got_body": b"{}"}]
        meta = {"ref_title": "Prometheus", "cand_title": "Strata", "ref_version": "p", "cand_version": "s",
                "started": "now", "command": "c", "seed": 1, "rel": 1e-9, "abs": 1e-12, "allow_path": "a",
                "elapsed_min": 0.1, "machine": [("nproc", 2)], "datasets": [], "notes": []}
        md = pd.report(meta, rows, [])
        self.assertIn("## Differences (1)", md)
        self.assertIn("d-0001", md)


class Generator(unittest.TestCase):
    def schema(self):
        sc = gen.Schema()
        for f in ("usage_user", "usage_system"):
            m = sc.metrics.setdefault(f"cpu_{f}", gen.Metric(f"cpu_{f}"))
            for h in range(6):
                m.series.append({"hostname": f"host_{h}", "region": f"r{h % 2}"})
        hb = sc.metrics.setdefault("lat_bucket", gen.Metric("lat_bucket"))
        for le in ("0.1", "1", "+Inf"):
            hb.series.append({"le": le, "job": "j"})
        sc.t_min, sc.t_max, sc.interval = 1451606400.0, 1451606400.0 + 7200, 10.0
        return sc

    def test_deterministic_and_covering(self):
        a = gen.generate(self.schema(), 7, 200, "t")
        b = gen.generate(self.schema(), 7, 200, "t")
        self.assertEqual(json.dumps(a), json.dumps(b))
        self.assertNotEqual(json.dumps(a), json.dumps(gen.generate(self.schema(), 8, 200, "t")))
        self.assertGreaterEqual(len(a), 200)
        kinds = {q["kind"] for q in a}
        self.assertEqual(kinds, {"instant", "range"})
        text = "\n".join(q["expr"] for q in a)
        for word in gen.RANGE_FUNCS + gen.MATH_FUNCS + gen.DATE_FUNCS + gen.AGGS + gen.PARAM_AGGS + [
                "histogram_quantile", "label_replace", "label_join", "holt_winters", "predict_linear",
                "quantile_over_time", "absent_over_time", "absent(", "sort_desc", "clamp_min", "clamp_max",
                "scalar(", "vector(", "time()", "pi()", "timestamp(", "group_left", "group_right", "ignoring",
                " on ", " and ", " or ", " unless ", " offset -", "@ start()", "@ end()", " bool ", "atan2"]:
            self.assertIn(word, text, word)
        for q in a:
            p = q["params"]
            if q["kind"] == "range" and q["feature"] != "error/api-params":
                n = (float(p["end"]) - float(p["start"])) / float(p["step"])
                self.assertLessEqual(n, 200, q)

    def test_dur_and_strings(self):
        self.assertEqual(gen.dur(90), "1m30s")
        self.assertEqual(gen.dur(3600), "1h")
        self.assertEqual(gen.dur(-300), "-5m")
        self.assertEqual(gen.qstr('a"b\\c'), '"a\\"b\\\\c"')
        self.assertEqual(gen.re_escape("1.5"), "1\\.5")

    def test_matchers_hit_real_series(self):
        g = gen.Gen(self.schema(), random.Random(3))
        for _ in range(50):
            s = g.sel("cpu_usage_user", nmatch=2)
            self.assertTrue(s.startswith(("cpu_usage_user", "{__name__=")), s)


if __name__ == "__main__":
    unittest.main()
