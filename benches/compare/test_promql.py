"""python3 -m unittest benches/compare/test_promql.py — the TSBS multi-metric rewrite of promql.py."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql  # noqa: E402


class PerMetric(unittest.TestCase):
    def test_rewrite(self):
        q = ("max(max_over_time({__name__=~'cpu_(usage_user|usage_system)', hostname=~'host_6|host_67'}[1h])) "
             "by (__name__)")
        self.assertEqual(promql.per_metric(q),
                         "label_replace(max(max_over_time(cpu_usage_user{hostname=~'host_6|host_67'}[1h])) by (), "
                         '"__name__", "cpu_usage_user", "", "") or on (__name__) '
                         "label_replace(max(max_over_time(cpu_usage_system{hostname=~'host_6|host_67'}[1h])) by (), "
                         '"__name__", "cpu_usage_system", "", "")')

    def test_grouping_and_no_matchers(self):
        q = "avg(avg_over_time({__name__=~'cpu_(usage_user|usage_idle)'}[1h])) by (__name__, hostname)"
        self.assertEqual(promql.per_metric(q),
                         'label_replace(avg(avg_over_time(cpu_usage_user[1h])) by (hostname), "__name__", '
                         '"cpu_usage_user", "", "") or on (__name__, hostname) label_replace(avg(avg_over_time(cpu_usage_idle[1h])) '
                         'by (hostname), "__name__", "cpu_usage_idle", "", "")')

    def test_single_metric_untouched(self):
        self.assertIsNone(promql.per_metric("max(max_over_time(cpu_usage_user{hostname='host_6'}[1m])) by (__name__)"))
        self.assertIsNone(promql.per_metric("avg(avg_over_time(cpu_usage_user[1h]))"))


if __name__ == "__main__":
    unittest.main()
