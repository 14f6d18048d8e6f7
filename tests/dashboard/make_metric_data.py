"""Writes metric_data.json, the GetMetricData answer scripts/test-dashboard.sh renders with
dashboard_body.json (the dashboard_body of terraform/examples/complete's aws_cloudwatch_dashboard,
from `terraform show -json` of a plan with scripts/demo.sh's variables).

The traffic is the demo's: 40 requests/s of checkout; from BURST_FROM to BURST_TO 30% of them
answer 5xx, before it none do (and one stray 5xx in the first minutes). One result per query
of the dashboard, Id w<widget>m<row> as scripts/dashboard/dashboard.js and demo_report.py name them.

  python3 tests/dashboard/make_metric_data.py > tests/dashboard/metric_data.json
"""

import datetime
import json
import math
import random

START = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
MINUTES = 30
BURST_FROM = START + datetime.timedelta(minutes=15)
BURST_TO = START + datetime.timedelta(minutes=25)
RPS = 40
rng = random.Random(24)


def value(metric, stat, t, period):
    requests = RPS * period
    burst = BURST_FROM <= t < BURST_TO
    errors = round(requests * 0.3 * rng.uniform(0.9, 1.1)) if burst else (1 if t == START + datetime.timedelta(minutes=3) else 0)
    base = {
        "RequestCount": {"Sum": requests, "SampleCount": requests, "Average": 1},
        "Http5xx": {"Sum": errors, "Average": errors / requests},
        "JobFailed": {"Sum": rng.randint(0, 2), "Average": rng.uniform(0, 0.05)},
        "QueueDepth": {"Maximum": 10 + 5 * math.sin(t.minute / 3), "Average": 8 + 4 * math.sin(t.minute / 3)},
        "Latency": {"p50": 40 + rng.uniform(-5, 5), "p90": 90 + rng.uniform(-10, 10), "p99": (400 if burst else 180) + rng.uniform(-20, 20)},
    }.get(metric)
    if base is None:  # the sidecar's own metrics (CWSidecar namespace)
        return float(rng.randint(0, 3) if "Dropped" in metric or "Fail" in metric or "Throttled" in metric or "Rejected" in metric else requests)
    return float(base.get(stat, base[next(iter(base))]))


def main():
    body = json.load(open(__file__.rsplit("/", 1)[0] + "/dashboard_body.json"))
    results = []
    for wi, w in enumerate(body["widgets"]):
        if w["type"] != "metric":
            continue
        period = w["properties"].get("period", 60)
        for mi, row in enumerate(w["properties"]["metrics"]):
            opts = row[-1] if isinstance(row[-1], dict) else {}
            stamps = [START + datetime.timedelta(seconds=s) for s in range(0, MINUTES * 60, period)]
            results.append({
                "Id": f"w{wi}m{mi}",
                "Label": opts.get("label", row[1]),
                "Timestamps": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in stamps],
                "Values": [value(row[1], opts.get("stat", "Average"), t, period) for t in stamps],
                "StatusCode": "Complete",
            })
    print(json.dumps({"MetricDataResults": results, "Messages": [],
                      "Burst": {"metric": "Http5xx", "from": BURST_FROM.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": BURST_TO.strftime("%Y-%m-%dT%H:%M:%SZ")}}, indent=1))


if __name__ == "__main__":
    main()
