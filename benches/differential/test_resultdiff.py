"""python3 -m unittest benches/differential/test_resultdiff.py — the comparator's own checks."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import resultdiff as rd  # noqa: E402


def body(series=None, error=None):
    r = {"statement_id": 0}
    if error:
        r["error"] = error
    if series is not None:
        r["series"] = series
    return {"results": [r]}


S = [{"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "max", "mean"],
      "values": [[1, 5, 2.5], [2, None, 1.0000000000001]]},
     {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "max", "mean"], "values": [[1, 7, 3.0]]}]


def copy(x):
    import json
    return json.loads(json.dumps(x))


class T(unittest.TestCase):
    def d(self, a, b):
        return rd.first_difference(rd.statement_result(a), rd.statement_result(b))

    def test_equal(self):
        self.assertIsNone(self.d(body(S), body(copy(S))))

    def test_float_tolerance_and_int_float(self):
        g = copy(S)
        g[0]["values"][1][2] = 1.0000000000001 * (1 + 1e-12)
        g[0]["values"][0][1] = 5.0  # InfluxDB prints whole floats as ints
        self.assertIsNone(self.d(body(S), body(g)))
        g[0]["values"][0][2] = 2.5 * (1 + 1e-8)
        self.assertEqual(self.d(body(S), body(g))["kind"], "value")

    def test_time_exact(self):
        g = copy(S)
        g[1]["values"][0][0] = 1.0000000001
        self.assertEqual(self.d(body(S), body(g))["column"], "time")

    def test_null_bool(self):
        g = copy(S)
        g[0]["values"][1][1] = 0
        self.assertIsNotNone(self.d(body(S), body(g)))
        self.assertFalse(rd.value_equal(True, 1))

    def test_shapes(self):
        g = copy(S)
        g[0]["columns"][1] = "max_1"
        self.assertEqual(self.d(body(S), body(g))["kind"], "columns")
        self.assertEqual(self.d(body(S), body(copy(S)[:1]))["kind"], "series-count")
        self.assertEqual(self.d(body(S), body(copy(S)[::-1]))["kind"], "series")
        g = copy(S)
        g[0]["values"].pop()
        self.assertEqual(self.d(body(S), body(g))["kind"], "row-count")
        self.assertEqual(self.d(body(S), body(error="x"))["kind"], "error")
        self.assertIsNone(self.d(body(error="a"), {"error": "parse"}))
        self.assertIsNone(self.d(body(), body([])))

    def test_allowlist(self):
        allow = [{"id": "abs", "query": r"\babs\(", "rule": "negated-int"}]
        ref = rd.statement_result(body([{"name": "cpu", "columns": ["time", "abs"], "values": [[1, -5], [2, 3]]}]))
        ok = rd.statement_result(body([{"name": "cpu", "columns": ["time", "abs"], "values": [[1, 5], [2, 3]]}]))
        bad = rd.statement_result(body([{"name": "cpu", "columns": ["time", "abs"], "values": [[1, 5], [2, 4]]}]))
        self.assertEqual(rd.match_allowlist(allow, "SELECT abs(n) FROM cpu", ref, ok), "abs")
        self.assertIsNone(rd.match_allowlist(allow, "SELECT abs(n) FROM cpu", ref, bad))
        self.assertIsNone(rd.match_allowlist(allow, "SELECT n FROM cpu", ref, ok))
        self.assertIsNone(rd.match_allowlist(allow, "SELECT n, abs(n) FROM cpu", ref, ok))

    def test_unsorted_series(self):
        ref = rd.statement_result(body(copy(S)[::-1]))
        got = rd.statement_result(body(copy(S)))
        self.assertEqual(rd.match_allowlist([], "SELECT max(x) FROM cpu GROUP BY host", ref, got),
                         "influxdb-unsorted-series")
        self.assertIsNone(rd.match_allowlist([], "SELECT max(x) FROM cpu GROUP BY host", got, ref))
        self.assertEqual(rd.match_allowlist([], "SELECT max(x) FROM cpu GROUP BY host ORDER BY time DESC", got, ref),
                         "influxdb-unsorted-series")


class Merge(unittest.TestCase):
    def test_integral_split(self):
        allow = [{"id": "split", "query": r"\bintegral\(", "rule": "merge-duplicate-series"}]
        ref = rd.statement_result(body([
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "max", "integral"], "values": [[1, 9, None]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "max", "integral"], "values": [[1, 6, None]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "max", "integral"], "values": [[1, None, 172.5]]},
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "max", "integral"], "values": [[1, None, 720]]}]))
        good = rd.statement_result(body([
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "max", "integral"], "values": [[1, 9, 720]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "max", "integral"], "values": [[1, 6, 172.5]]}]))
        bad = rd.statement_result(body([
            {"name": "cpu", "tags": {"host": "a"}, "columns": ["time", "max", "integral"], "values": [[1, 9, 720]]},
            {"name": "cpu", "tags": {"host": "b"}, "columns": ["time", "max", "integral"], "values": [[1, 6, 170]]}]))
        q = "SELECT max(n), integral(n) FROM cpu GROUP BY host"
        self.assertEqual(rd.match_allowlist(allow, q, ref, good), "split")
        self.assertIsNone(rd.match_allowlist(allow, q, ref, bad))


if __name__ == "__main__":
    unittest.main()
