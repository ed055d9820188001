"""Alert rules as code: Prometheus rule groups (plain dicts, the `groups:` items of a rule file)
that components put into PrometheusRule objects. tests/test_alert_rules.py runs `promtool` on them."""
